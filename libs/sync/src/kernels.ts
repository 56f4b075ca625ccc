import { compareDebVersions } from './deb-version.js';
import type { Stanza } from './deb822.js';

/**
 * The fields of a Packages stanza that sync reads (Debian Policy §5.3 and the repository format's Packages
 * index). `size` and `sha256` are undefined when absent or malformed; selection reports such packages.
 */
export interface PackageRecord {
  package: string;
  version: string;
  architecture: string;
  source: string | undefined;
  filename: string | undefined;
  size: number | undefined;
  sha256: string | undefined;
  depends: string | undefined;
  provides: string | undefined;
  /** The synopsis (first line) only. */
  description: string | undefined;
}

/** A stanza as a {@link PackageRecord}; undefined when it has no Package or Version. */
export function toPackageRecord(s: Stanza): PackageRecord | undefined {
  const pkg = s.get('package');
  const version = s.get('version');
  if (pkg === undefined || version === undefined || pkg === '' || version === '') return undefined;
  const size = s.get('size');
  const sha = s.get('sha256');
  return {
    package: pkg,
    version,
    architecture: s.get('architecture') ?? '',
    source: s.get('source'),
    filename: s.get('filename'),
    size: size !== undefined && /^\d{1,15}$/.test(size) ? Number(size) : undefined,
    sha256: sha !== undefined && /^[0-9a-fA-F]{64}$/.test(sha) ? sha.toLowerCase() : undefined,
    depends: s.get('depends'),
    provides: s.get('provides'),
    description: s.get('description')?.split('\n')[0],
  };
}

/**
 * What a kernel package is, by name. Layouts seen in the archives:
 * - Debian up to trixie: `linux-image-UNAME` (signed vmlinuz + modules, config, System.map), `linux-image-UNAME-unsigned`
 *   (the same unsigned), `linux-image-UNAME-dbg` (debug vmlinux, skipped).
 * - Debian sid (2026): `linux-binary-UNAME` (only `/usr/lib/modules/UNAME/vmlinuz`), `linux-binary-unsigned-UNAME`,
 *   `linux-modules-UNAME` (`*.ko.xz`), `linux-base-UNAME` (config, System.map, modules.builtin), and
 *   `linux-image-UNAME`, a 2 KB package that only depends on the others.
 * - Ubuntu: `linux-image-UNAME` (signed vmlinuz only), `linux-image-unsigned-UNAME`, `linux-modules-UNAME` (modules,
 *   config, System.map), `linux-modules-extra-UNAME` and other `linux-modules-NAME-UNAME` add-ons (not taken).
 * Meta packages (`linux-image-amd64`, `linux-image-generic`, `linux-image-arm64-16k`) have a name whose UNAME part
 * does not start with a digit and are not kernel packages; nor are headers, `-dbg`/`-dbgsym` or signing templates.
 */
export type KernelPackageKind = 'image' | 'image-unsigned' | 'binary' | 'binary-unsigned' | 'modules' | 'debug';

/** Longest UNAME_R taken from a package name (kernel's own limit for `uname -r` is 64). */
const MAX_UNAME = 64;
const UNAME = /^[0-9][A-Za-z0-9.+~-]*$/;

/** Classifies a package name; undefined for everything that is not a kernel image, binary or modules package. */
export function classifyKernelPackage(name: string): { kind: KernelPackageKind; unameR: string } | undefined {
  let kind: KernelPackageKind;
  let rest: string;
  if (name.startsWith('linux-image-unsigned-')) {
    kind = 'image-unsigned';
    rest = name.slice('linux-image-unsigned-'.length);
  } else if (name.startsWith('linux-image-')) {
    kind = 'image';
    rest = name.slice('linux-image-'.length);
  } else if (name.startsWith('linux-binary-unsigned-')) {
    kind = 'binary-unsigned';
    rest = name.slice('linux-binary-unsigned-'.length);
  } else if (name.startsWith('linux-binary-')) {
    kind = 'binary';
    rest = name.slice('linux-binary-'.length);
  } else if (name.startsWith('linux-modules-')) {
    kind = 'modules';
    rest = name.slice('linux-modules-'.length);
  } else {
    return undefined;
  }
  // Debian's `linux-image-UNAME-dbg`: the kernel's DWARF (usr/lib/debug/boot/vmlinux-UNAME), from which pahole makes
  // BTF for builds without CONFIG_DEBUG_INFO_BTF (i386, armhf, older ppc64el and s390x kernels).
  if (kind === 'image' && rest.endsWith('-dbg')) {
    kind = 'debug';
    rest = rest.slice(0, -'-dbg'.length);
  } else if (/-(?:dbg|dbgsym|signed-template)$/.test(rest)) return undefined;
  if (kind === 'image' && rest.endsWith('-unsigned')) {
    kind = 'image-unsigned';
    rest = rest.slice(0, -'-unsigned'.length);
  }
  if (!UNAME.test(rest) || rest.length > MAX_UNAME || rest.endsWith('-')) return undefined;
  return { kind, unameR: rest };
}

/** A package chosen for a kernel, and what it holds for libs/pkg. */
export interface ChosenPackage {
  record: PackageRecord;
  /**
   * `image`: holds the kernel (vmlinuz; before sid's split also the modules); `modules`: holds `*.ko` files; `debug`:
   * the kernel's DWARF (`-dbg`), fetched only when the image holds no BTF.
   */
  role: 'image' | 'modules' | 'debug';
}

/** A kernel found in one Packages index, before URLs and KREFs are made. */
export interface KernelCandidate {
  unameR: string;
  packages: ChosenPackage[];
}

/** A kernel-looking package that was left out, and why. */
export interface IgnoredPackage {
  package: string;
  version: string;
  reason: string;
}

/** The kernel image holder, best first: a split `linux-binary-*` holds vmlinuz and `linux-image-*` then is glue. */
const IMAGE_PREFERENCE: readonly KernelPackageKind[] = ['binary', 'binary-unsigned', 'image', 'image-unsigned'];

/**
 * Picks the kernels of one Packages index of architecture `arch`: per UNAME_R the package that holds the kernel
 * (signed before unsigned, `linux-binary-*` before `linux-image-*`) and `linux-modules-UNAME` when there is one.
 * When a name occurs more than once the highest version wins. An image whose Depends names the modules of another
 * UNAME_R repackages that kernel (Ubuntu's `-azure-fde`) and is ignored; so is a modules package without an image.
 */
export function selectKernels(records: Iterable<PackageRecord>, arch: string): { kernels: KernelCandidate[]; ignored: IgnoredPackage[] } {
  const ignored: IgnoredPackage[] = [];
  const byUname = new Map<string, Map<KernelPackageKind, PackageRecord>>();
  for (const r of records) {
    const c = classifyKernelPackage(r.package);
    if (c === undefined) continue;
    if (r.architecture !== arch) {
      ignored.push({ package: r.package, version: r.version, reason: `architecture ${r.architecture || '(none)'} is not ${arch}` });
      continue;
    }
    let kinds = byUname.get(c.unameR);
    if (kinds === undefined) byUname.set(c.unameR, (kinds = new Map()));
    const prev = kinds.get(c.kind);
    if (prev === undefined || compareDebVersions(r.version, prev.version) > 0) kinds.set(c.kind, r);
  }
  const kernels: KernelCandidate[] = [];
  for (const [unameR, kinds] of byUname) {
    const holderKind = IMAGE_PREFERENCE.find((k) => kinds.has(k));
    const modules = kinds.get('modules');
    const debug = kinds.get('debug');
    if (holderKind === undefined) {
      if (modules !== undefined) ignored.push({ package: modules.package, version: modules.version, reason: `no image package for ${unameR}` });
      continue;
    }
    const holder = kinds.get(holderKind)!;
    const other = modulesDependency(holder.depends);
    if (other !== undefined && other !== unameR) {
      ignored.push({ package: holder.package, version: holder.version, reason: `repackages kernel ${other} (depends on linux-modules-${other})` });
      continue;
    }
    const packages: ChosenPackage[] = [{ record: holder, role: 'image' }];
    if (modules !== undefined) packages.push({ record: modules, role: 'modules' });
    if (debug !== undefined) packages.push({ record: debug, role: 'debug' });
    kernels.push({ unameR, packages });
  }
  return { kernels, ignored };
}

/** The UNAME_R of the first `linux-modules-UNAME` in a Depends field, if any. */
function modulesDependency(depends: string | undefined): string | undefined {
  if (depends === undefined) return undefined;
  for (const alt of depends.split(/[,|]/)) {
    const name = alt.trim().split(/[\s(:]/)[0];
    const c = name.startsWith('linux-modules-') ? classifyKernelPackage(name) : undefined;
    if (c !== undefined && c.kind === 'modules') return c.unameR;
  }
  return undefined;
}
