import { CatalogError } from './errors.js';

/** A kernel reference (KREF): `DISTRO/RELEASE/ARCH/UNAME_R`, the btfhub-archive path without its suffix. */
export interface KernelRef {
  distro: string;
  release: string;
  arch: string;
  unameR: string;
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/;

/** Formats a KREF. */
export function formatKref(k: KernelRef): string {
  return `${k.distro}/${k.release}/${k.arch}/${k.unameR}`;
}

/** Parses `DISTRO/RELEASE/ARCH/UNAME_R`; throws CATALOG_BAD_KREF naming what is wrong. */
export function parseKref(kref: string): KernelRef {
  const parts = kref.split('/');
  if (parts.length !== 4) {
    throw new CatalogError('CATALOG_BAD_KREF', `kernel reference ${JSON.stringify(kref)} is not DISTRO/RELEASE/ARCH/UNAME_R`);
  }
  for (const p of parts) {
    if (!SEGMENT.test(p) || p === '.' || p === '..') {
      throw new CatalogError('CATALOG_BAD_KREF', `kernel reference ${JSON.stringify(kref)} has a bad part ${JSON.stringify(p)}`);
    }
  }
  const [distro, release, arch, unameR] = parts;
  return { distro, release, arch, unameR };
}

/**
 * A key that sorts uname -r strings in kernel order: runs of digits compare as numbers, part by part
 * (`6.1.0-9` < `6.1.0-28` < `6.1.0-112`), everything else as text.
 */
export function versionKey(unameR: string): string {
  return unameR.replace(/\d+/g, (digits) => {
    const trimmed = digits.replace(/^0+(?=\d)/, '');
    // Length-prefixed so that any number of digits sorts numerically: "2:28" < "3:112".
    return `${String.fromCharCode(0x40 + Math.min(trimmed.length, 60))}${trimmed}`;
  });
}

/** Compares two uname -r strings in kernel order. */
export function compareUnameR(a: string, b: string): number {
  const ka = versionKey(a);
  const kb = versionKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/**
 * The flavour of a uname -r: the trailing dash-separated words that start with a letter
 * (`6.1.0-28-cloud-amd64` → `cloud-amd64`, `5.15.0-91-generic` → `generic`, `4.18.0-513.el8.x86_64` → '').
 */
export function flavourOf(unameR: string): string {
  const words = unameR.split('-');
  let i = words.length;
  while (i > 1 && /^[A-Za-z]/.test(words[i - 1])) i--;
  return words.slice(i).join('-');
}

/**
 * `uname -m` → the archive's arch folder. btfhub-archive spells 64-bit ARM `arm64` (its generator maps it back
 * to `aarch64` for RPM repos, aquasecurity/btfhub pkg/repo/amazon.go), x86-64 `x86_64`; Go and Debian names
 * (`amd64`, `armhf`, `i386`) and the kernel's own (`arm`) are accepted too.
 */
export const ARCH_ALIASES: Readonly<Record<string, string>> = {
  x86_64: 'x86_64',
  amd64: 'x86_64',
  x64: 'x86_64',
  aarch64: 'arm64',
  aarch64_be: 'arm64',
  arm64: 'arm64',
  i386: 'i386',
  i486: 'i386',
  i586: 'i386',
  i686: 'i386',
  x86: 'i386',
  armv6l: 'arm',
  armv7l: 'arm',
  armv8l: 'arm',
  armhf: 'arm',
  armel: 'arm',
  armv7hl: 'arm',
  arm: 'arm',
  s390x: 's390x',
  ppc64le: 'ppc64le',
  ppc64el: 'ppc64le',
  ppc64: 'ppc64',
  riscv64: 'riscv64',
  loongarch64: 'loongarch64',
  loong64: 'loongarch64',
  mips64: 'mips64',
  mips64el: 'mips64',
};

/** `table[key]` when the table itself has that key (never an inherited `constructor` or `__proto__`). */
export function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** A selection of kernels by distro, release and arch (each optional). */
export interface KernelFilter {
  distro?: string;
  release?: string;
  arch?: string;
}

/**
 * The rows a filter selects. An arch as `uname -m` spells it (aarch64, amd64, i686) means the archive's folder
 * (arm64, x86_64, i386) unless the rows have a folder of that very name.
 */
export function filterKernels<T extends { distro: string; release: string; arch: string }>(rows: T[], f: KernelFilter): T[] {
  if (f.distro === undefined && f.release === undefined && f.arch === undefined) return rows;
  let arch = f.arch;
  if (arch !== undefined && !rows.some((r) => r.arch === arch)) arch = own(ARCH_ALIASES, arch.toLowerCase()) ?? arch;
  return rows.filter((r) => (f.distro === undefined || r.distro === f.distro) && (f.release === undefined || r.release === f.release) && (arch === undefined || r.arch === arch));
}
