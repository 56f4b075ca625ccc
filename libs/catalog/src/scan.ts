import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { detectImage, isAr, isRpm } from '@btf-atlas/pkg';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { CatalogError } from './errors.js';
import { ARCH_ALIASES, formatKref, parseKref, type KernelRef } from './kernel-ref.js';
import { unameFromDebPackage } from './package-kref.js';

/** The arch folders of an archive tree, as btfhub-archive spells them. */
const ARCHIVE_ARCHES = new Set(Object.values(ARCH_ALIASES));

/** One kernel found in an archive tree or among packages: its file and the module BTF beside it. */
export interface ScanItem {
  /** The kernel; undefined for packages that name it in their own metadata (read when the job runs). */
  kref?: KernelRef;
  /** Absolute path of the kernel's file (the first package of a kernel). */
  path: string;
  /** Path relative to the scanned root (stored as the kernel's source). */
  source: string;
  modules: { name: string; path: string; source: string }[];
  /**
   * Distro packages (`.deb`, `.rpm`) or kernel images (bzImage, arm64 Image, ELF vmlinux…) of this one kernel,
   * `path` first: their BTF is extracted when the job runs (the vmlinux from one, modules from any).
   */
  packages?: { path: string; source: string }[];
}

/** How many leading bytes tell a package or kernel image (an s390x image's marker is at 64 KiB). */
const SNIFF_BYTES = 0x10100;

/** Image kinds read from fixed header fields (compressed streams are images only when named so). */
const IMAGE_KINDS = new Set(['elf', 'bzImage', 'zboot', 'arm64-image', 'riscv-image', 's390-image', 'arm-zimage']);

/** File names of kernel images (`vmlinuz-6.1.0-50-amd64`, `Image.gz`), whose compressed bytes are an image. */
const IMAGE_NAME = /^(?:vmlinu[xz]|bzImage|Image|zImage)(?:[-.].*)?$/;

/**
 * True when the file is a .deb, an .rpm or a kernel image (bzImage, arm64/riscv Image, EFI zboot, s390x image, an
 * ELF vmlinux), not raw BTF nor a btfhub tarball. A gzip/xz/zstd stream counts as an image only when the file is
 * named like one (`Image.gz`); otherwise it is compressed BTF.
 */
export function isPackageFile(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(SNIFF_BYTES);
    const n = readSync(fd, head, 0, SNIFF_BYTES, 0);
    const b = head.subarray(0, n);
    if (isAr(b) || isRpm(b)) return true;
    const kind = detectImage(b);
    if (kind === undefined || kind === 'btf') return false;
    return IMAGE_KINDS.has(kind) || IMAGE_NAME.test(basename(path));
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** A .deb file name: `PACKAGE_VERSION_ARCH.deb`. */
const DEB_FILE = /^([^_]+)_[^_]+_([^_]+)\.deb$/;
/** An rpm file name's VERSION-RELEASE.ARCH tail (`kernel-core-6.8.5-301.fc40.x86_64.rpm`). */
const RPM_FILE = /-(\d[^-]*-[^-]+\.[A-Za-z0-9_]+)\.rpm$/;

/**
 * Which packages go together into one kernel, by file name only (the KREF itself comes from their metadata):
 * sid's `linux-binary-X` (vmlinuz) and `linux-image-X` (modules), Fedora's `kernel-core` and `kernel-modules`.
 */
function packageGroup(path: string): string {
  const name = basename(path);
  const deb = DEB_FILE.exec(name);
  const uname = deb ? unameFromDebPackage(deb[1]) : undefined;
  if (deb && uname) return `deb:${uname}:${deb[2]}`;
  const rpm = RPM_FILE.exec(name);
  if (rpm) return `rpm:${rpm[1]}`;
  return `file:${path}`;
}

/** Merges package items of one kernel (by {@link packageGroup}) into one item; other items pass unchanged. */
export function groupPackages(items: ScanItem[]): ScanItem[] {
  const out: ScanItem[] = [];
  const groups = new Map<string, ScanItem>();
  for (const it of items) {
    if (!it.packages || it.kref) {
      out.push(it);
      continue;
    }
    const key = packageGroup(it.path);
    const g = groups.get(key);
    if (g) g.packages!.push(...it.packages);
    else {
      const copy = { ...it, packages: [...it.packages] };
      groups.set(key, copy);
      out.push(copy);
    }
  }
  return out;
}

/** File names btfhub-archive uses for a kernel's BTF: `UNAME_R.btf.tar.xz`, or raw `UNAME_R.btf`. */
const KERNEL_FILE = /^(.+?)\.btf(\.tar\.xz|\.xz|\.gz)?$/;
const MODULE_FILE = /^(.+?)\.(btf|ko)(\.xz|\.gz)?$/;

/** The uname -r a kernel file name stands for, or undefined when it is not a kernel file. */
export function unameFromFileName(name: string): string | undefined {
  return KERNEL_FILE.exec(name)?.[1];
}

/**
 * The KREF of a file laid out as btfhub-archive does (`…/DISTRO/RELEASE/ARCH/UNAME_R.btf.tar.xz`), from its last
 * three folder names and its file name; undefined when the path does not fit.
 */
export function krefFromPath(path: string): KernelRef | undefined {
  const uname = unameFromFileName(basename(path));
  const parts = resolve(path).split(sep);
  if (!uname || parts.length < 4) return undefined;
  const [distro, release, arch] = parts.slice(-4, -1);
  // The folder above the file must be an archive arch (x86_64, arm64, s390x…): `/home/me/k/x.btf` names no kernel.
  if (!ARCHIVE_ARCHES.has(arch)) return undefined;
  try {
    return parseKref(`${distro}/${release}/${arch}/${uname}`);
  } catch {
    return undefined;
  }
}

/** Module BTF files of a kernel: `ARCH/UNAME_R/modules/NAME.btf` (or `.ko`) beside `ARCH/UNAME_R.btf.tar.xz`. */
export function modulesBeside(kernelPath: string, root: string): ScanItem['modules'] {
  const uname = unameFromFileName(basename(kernelPath));
  if (!uname) return [];
  const dir = join(dirname(kernelPath), uname, 'modules');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => MODULE_FILE.test(n) && statSync(join(dir, n)).isFile())
    .sort()
    .map((n) => ({ name: MODULE_FILE.exec(n)![1], path: join(dir, n), source: relative(root, join(dir, n)) }));
}

/**
 * Walks an archive tree (or takes a single file) and lists the kernels in it, in path order. A single file
 * outside the btfhub layout needs `kref`. Folders named `modules` are module BTF, not kernels. Symbolic links
 * are not followed (an archive tree never needs them, and they could loop).
 */
export function scanPath(path: string, kref?: KernelRef): ScanItem[] {
  const abs = resolve(path);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw new CatalogError('ARCHIVE_BAD_LAYOUT', `${path}: no such file or folder`);
  }
  if (st.isFile()) {
    if (!unameFromFileName(basename(abs)) && isPackageFile(abs)) {
      return [{ kref, path: abs, source: basename(abs), modules: [], packages: [{ path: abs, source: basename(abs) }] }];
    }
    const k = kref ?? krefFromPath(abs);
    if (!k) {
      throw new CatalogError('ARCHIVE_BAD_LAYOUT', `${path}: cannot tell the kernel from the path (want DISTRO/RELEASE/ARCH/UNAME_R.btf[.tar.xz] with ARCH one of ${[...ARCHIVE_ARCHES].join(', ')}); pass --kernel KREF`);
    }
    const root = dirname(dirname(dirname(dirname(abs))));
    return [{ kref: k, path: abs, source: kref ? basename(abs) : relative(root, abs), modules: modulesBeside(abs, root) }];
  }
  if (kref) throw new CatalogError('ARCHIVE_BAD_LAYOUT', `${path}: --kernel names one kernel; give it a file, not a folder`);
  const items: ScanItem[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 16) return;
    for (const ent of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = join(dir, ent.name);
      if (ent.isDirectory()) {
        if (ent.name !== 'modules') walk(full, depth + 1);
      } else if (ent.isFile()) {
        const k = krefFromPath(full);
        const source = relative(abs, full) || basename(full);
        if (k) items.push({ kref: k, path: full, source, modules: modulesBeside(full, abs) });
        else if (PACKAGE_NAME.test(ent.name) && isPackageFile(full)) items.push({ path: full, source, modules: [], packages: [{ path: full, source }] });
      }
    }
  };
  walk(abs, 0);
  const seen = new Map<string, string>();
  for (const it of items) {
    if (!it.kref) continue;
    const key = formatKref(it.kref);
    const other = seen.get(key);
    if (other) throw new CatalogError('ARCHIVE_BAD_LAYOUT', `${key} appears twice in ${path}: ${other} and ${it.source}`);
    seen.set(key, it.source);
  }
  return groupPackages(items);
}

/** Files of a tree that may be packages or kernel images (sniffed before use). */
const PACKAGE_NAME = /\.(?:deb|ddeb|udeb|rpm)$|^(?:vmlinu[xz]|bzImage|Image|zImage)(?:[-.].*)?$/;
