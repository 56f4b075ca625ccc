import { CatalogError } from './errors.js';
import { closestNames } from './suggest.js';

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
 * The rows a filter selects (none when nothing matches: see {@link checkKernelFilter} for the error). An arch as
 * `uname -m` spells it (aarch64, amd64, i686) means the archive's folder (arm64, x86_64, i386) unless the rows have
 * a folder of that very name.
 */
export function filterKernels<T extends { distro: string; release: string; arch: string }>(rows: T[], f: KernelFilter): T[] {
  if (f.distro === undefined && f.release === undefined && f.arch === undefined) return rows;
  const arch = archOf(rows, f.arch);
  return rows.filter((r) => (f.distro === undefined || r.distro === f.distro) && (f.release === undefined || r.release === f.release) && (arch === undefined || r.arch === arch));
}

/**
 * Throws NO_MATCHING_KERNELS when a filter selects none of `known`, the kernels the catalog knows of (ingested
 * ones and those whose ingest failed, which histories and listings name too), naming the value that matches
 * nothing and the values that exist, closest first (`no kernels with arch x86-64; arches: x86_64, arm64`), with
 * the closest as suggestions. The values are checked in the order distro, release, arch, each among the kernels
 * the previous ones selected (`no kernels with release 22.04 (distro debian); releases: 12, 13`). Nothing to
 * check in an empty catalog: its filters select no kernels without error.
 *
 * Not part of {@link filterKernels}, which sees only the rows it is given: a release whose only kernel failed to
 * ingest selects no ingested kernel, and is still a selection whose histories name that failure.
 */
export function checkKernelFilter<T extends { distro: string; release: string; arch: string }>(known: T[], f: KernelFilter): void {
  if (known.length === 0 || (f.distro === undefined && f.release === undefined && f.arch === undefined)) return;
  if (filterKernels(known, f).length > 0) return;
  throw noMatchingKernels(known, f);
}

function archOf(rows: readonly { arch: string }[], arch: string | undefined): string | undefined {
  if (arch === undefined || rows.some((r) => r.arch === arch)) return arch;
  return own(ARCH_ALIASES, arch.toLowerCase()) ?? arch;
}

const PLURAL = { distro: 'distros', release: 'releases', arch: 'arches' } as const;

/** At most this many existing values are named in the message. */
const MAX_NAMED = 20;

/** NO_MATCHING_KERNELS for a filter that selects none of `rows` (which are not empty). */
function noMatchingKernels(rows: readonly { distro: string; release: string; arch: string }[], f: KernelFilter): CatalogError {
  let current = rows;
  const applied: string[] = [];
  for (const key of ['distro', 'release', 'arch'] as const) {
    const given = f[key];
    if (given === undefined) continue;
    const wanted = key === 'arch' ? archOf(rows, given) : given;
    const next = current.filter((r) => r[key] === wanted);
    if (next.length === 0) {
      const values = [...new Set(current.map((r) => r[key]))];
      const suggestions = closestNames(given, values, 3);
      const ordered = [...suggestions, ...values.filter((v) => !suggestions.includes(v))];
      const named = ordered.length > MAX_NAMED ? `${ordered.slice(0, MAX_NAMED).join(', ')}, … (${ordered.length - MAX_NAMED} more)` : ordered.join(', ');
      const among = applied.length > 0 ? ` (${applied.join(', ')})` : '';
      return new CatalogError('NO_MATCHING_KERNELS', `no kernels with ${key} ${given}${among}; ${PLURAL[key]}: ${named}`, suggestions);
    }
    current = next;
    applied.push(`${key} ${given}`);
  }
  // Not reached: a filter that selects nothing fails at one of its values.
  return new CatalogError('NO_MATCHING_KERNELS', 'no kernels match the filter');
}
