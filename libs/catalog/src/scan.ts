import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { CatalogError } from './errors.js';
import { ARCH_ALIASES, formatKref, parseKref, type KernelRef } from './kernel-ref.js';

/** The arch folders of an archive tree, as btfhub-archive spells them. */
const ARCHIVE_ARCHES = new Set(Object.values(ARCH_ALIASES));

/** One kernel found in an archive tree: its file and the module BTF beside it. */
export interface ScanItem {
  kref: KernelRef;
  /** Absolute path of the kernel's file. */
  path: string;
  /** Path relative to the scanned root (stored as the kernel's source). */
  source: string;
  modules: { name: string; path: string; source: string }[];
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
        if (k) items.push({ kref: k, path: full, source: relative(abs, full) || basename(full), modules: modulesBeside(full, abs) });
      }
    }
  };
  walk(abs, 0);
  const seen = new Map<string, string>();
  for (const it of items) {
    const key = formatKref(it.kref);
    const other = seen.get(key);
    if (other) throw new CatalogError('ARCHIVE_BAD_LAYOUT', `${key} appears twice in ${path}: ${other} and ${it.source}`);
    seen.set(key, it.source);
  }
  return items;
}
