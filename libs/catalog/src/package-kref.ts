import { CatalogError } from './errors.js';
import { ARCH_ALIASES, own, parseKref, type KernelRef } from './kernel-ref.js';

/** What a package says about itself (libs/pkg's PackageMeta), as far as naming its kernel goes. */
export interface PackageFacts {
  format: 'deb' | 'rpm' | 'image';
  package?: string;
  version?: string;
  /** RPM release (`301.fc40`). */
  release?: string;
  arch?: string;
  maintainer?: string;
  /** `uname -r` from the package's `modules/UNAME_R/` folder or `boot/vmlinuz-UNAME_R`. */
  unameR?: string;
}

/** What the caller knows that a package may not say: `--distro`, `--release` (sync knows the suite's). */
export interface KrefHints {
  distro?: string;
  release?: string;
}

/** Debian's and Ubuntu's kernel package names, whose tail is the uname -r. */
const DEB_KERNEL_PACKAGE = /^linux-(?:image|binary|modules|modules-extra)-(?:unsigned-)?(.+?)(?:-unsigned)?(?:-dbg|-dbgsym)?$/;

/**
 * The KREF of the kernel a package holds, from the package's own metadata: `uname -r` from its module folder (or
 * its name: `linux-image-UNAME_R`, `linux-binary-UNAME_R`; an rpm's VERSION-RELEASE.ARCH), the arch folder from
 * its Architecture, distro and release from its version (`+deb13`, `~bpo12`, `~22.04`; rpm dist tags `.fc40`,
 * `.amzn2`, `.el9`), never from the path of a file. Where the package does not say (Debian's `6.1.176-1`, an
 * Enterprise Linux rebuild, a bare kernel image), CATALOG_BAD_KREF asks for `--release`, `--distro` or `--kernel`.
 */
export function krefFromPackage(p: PackageFacts, hints: KrefHints = {}): KernelRef {
  const what = p.package ? `package ${p.package}${p.version ? ` ${p.version}` : ''}` : 'the kernel image';
  if (p.format === 'image') {
    throw new CatalogError('CATALOG_BAD_KREF', `${what} carries no distro, release or arch${p.unameR ? ` (uname -r ${p.unameR})` : ''}: pass --kernel KREF`);
  }
  const unameR = p.unameR ?? unameFromPackage(p);
  if (!unameR) throw new CatalogError('CATALOG_BAD_KREF', `${what} does not say its uname -r: pass --kernel KREF`);
  const arch = p.arch ? own(ARCH_ALIASES, p.arch.toLowerCase()) : undefined;
  if (!arch) throw new CatalogError('CATALOG_BAD_KREF', `${what} has no known architecture (${JSON.stringify(p.arch ?? '')}): pass --kernel KREF`);
  const guessed = p.format === 'deb' ? debDistro(p) : rpmDistro(p);
  const distro = hints.distro ?? guessed.distro;
  if (!distro) throw new CatalogError('CATALOG_BAD_KREF', `${what} does not say its distribution${guessed.why ? ` (${guessed.why})` : ''}: pass --distro (or --kernel KREF)`);
  const release = hints.release ?? (guessed.distro === undefined || distro === guessed.distro ? guessed.release : undefined);
  if (!release) {
    throw new CatalogError('CATALOG_BAD_KREF', `${what} does not say which ${distro} release it was built for: pass --release (or --kernel KREF)`);
  }
  // parseKref checks every part is a valid folder name.
  return parseKref(`${distro}/${release}/${arch}/${unameR}`);
}

/** The uname -r a Debian/Ubuntu kernel package's name ends in (`linux-image-6.1.0-50-amd64-dbg` → 6.1.0-50-amd64). */
export function unameFromDebPackage(name: string): string | undefined {
  return DEB_KERNEL_PACKAGE.exec(name)?.[1];
}

function unameFromPackage(p: PackageFacts): string | undefined {
  if (p.format === 'deb') return p.package ? unameFromDebPackage(p.package) : undefined;
  // Fedora, RHEL and Amazon Linux name the kernel VERSION-RELEASE.ARCH (6.8.5-301.fc40.x86_64).
  return p.version && p.release && p.arch ? `${p.version}-${p.release}.${p.arch}` : undefined;
}

/** Debian or Ubuntu, and the release folder its version names (`~bpo12`, `+deb13u1` → 12, 13; `~22.04.1` → 22.04). */
function debDistro(p: PackageFacts): { distro?: string; release?: string; why?: string } {
  const version = p.version ?? '';
  const ubuntu = /ubuntu/i.test(p.maintainer ?? '') || /ubuntu/i.test(version);
  if (ubuntu) return { distro: 'ubuntu', release: /~(\d{2}\.\d{2})(?:\.\d+)?$/.exec(version)?.[1] };
  const revision = version.includes('-') ? version.slice(version.lastIndexOf('-') + 1) : version;
  const hint = /[~+](?:bpo|deb)(\d+)/.exec(revision)?.[1] ?? /\+deb(\d+)-/.exec(p.unameR ?? '')?.[1];
  return { distro: 'debian', release: hint };
}

/** The distro of an rpm from its dist tag: `.fc40` Fedora 40, `.amzn2023` Amazon Linux 2023; `.el9` needs --distro. */
function rpmDistro(p: PackageFacts): { distro?: string; release?: string; why?: string } {
  const rel = p.release ?? '';
  let m = /\.fc(\d+)/.exec(rel);
  if (m) return { distro: 'fedora', release: m[1] };
  m = /\.amzn(\d+)/.exec(rel);
  if (m) return { distro: 'amzn', release: m[1] };
  m = /\.el(\d+)uek/.exec(rel);
  if (m) return { distro: 'ol', release: m[1] };
  m = /\.el(\d+)/.exec(rel);
  if (m) return { release: m[1], why: `.el${m[1]} is built by CentOS, RHEL, Oracle Linux, Rocky and AlmaLinux alike` };
  return { why: `no dist tag in release ${JSON.stringify(rel)}` };
}
