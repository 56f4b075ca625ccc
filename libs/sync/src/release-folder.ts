import { own } from '@btf-atlas/catalog';
import type { ReleaseInfo } from './release.js';

/** Distributions whose repositories use Debian's format and whose kernels sync knows how to pick. */
export type DebDistro = 'debian' | 'ubuntu';

/**
 * Debian codenames → major version, the folder btfhub-archive files their kernels under (`debian/12/…`). Used
 * only when a Release has no `Version` (backports, testing); forky and duke were named before their release.
 */
export const DEBIAN_CODENAMES: Readonly<Record<string, number>> = {
  jessie: 8,
  stretch: 9,
  buster: 10,
  bullseye: 11,
  bookworm: 12,
  trixie: 13,
  forky: 14,
  duke: 15,
};

/**
 * The newest Debian stable when the mirror cannot say (trixie, released 2025-08-09). {@link planSync} asks the
 * mirror's `dists/stable/Release` first; this is the fallback only.
 */
export const DEBIAN_NEWEST_STABLE_FALLBACK = 13;

/** Ubuntu codenames → version, used only when a Release has no `Version` (every Ubuntu pocket has one). */
export const UBUNTU_CODENAMES: Readonly<Record<string, string>> = {
  trusty: '14.04',
  xenial: '16.04',
  bionic: '18.04',
  focal: '20.04',
  jammy: '22.04',
  kinetic: '22.10',
  lunar: '23.04',
  mantic: '23.10',
  noble: '24.04',
  oracular: '24.10',
  plucky: '25.04',
  questing: '25.10',
};

/** Suites that run ahead of the newest stable and share its successor's number (sid's kernels say `+deb14`). */
const DEBIAN_DEVELOPMENT = new Set(['sid', 'unstable', 'testing', 'experimental', 'rc-buggy']);

/** Suffixes of the suites that go with a release (`bookworm-backports` is filed under 12 like `bookworm`). */
const SUITE_SUFFIX = /-(?:backports-sloppy|backports|proposed-updates|updates|security|proposed)$/;

/** Knowledge the Release file may lack. */
export interface ReleaseFolderContext {
  /** The suite name as requested (`sid`, `bookworm-backports`), used when Codename is missing. */
  requestedSuite: string;
  /** Major version of the newest Debian stable; only needed for sid, testing and experimental. */
  newestStable?: number;
}

/**
 * The btfhub-archive release folder of a suite: Debian's major version (`12` from `Version: 12.11` or `12-updates`,
 * `12` for `bookworm-backports` from {@link DEBIAN_CODENAMES}, newest stable + 1 for sid/unstable/testing), Ubuntu's
 * `YY.MM` (`22.04` from `Version: 22.04`). Undefined when neither the file nor the tables tell.
 */
export function releaseFolder(distro: DebDistro, info: ReleaseInfo, ctx: ReleaseFolderContext): string | undefined {
  return distro === 'debian' ? debianFolder(info, ctx) : ubuntuFolder(info, ctx);
}

/** True when a Debian suite's folder is "newest stable + 1" and so needs `newestStable` (no Version, no table entry). */
export function needsNewestStable(distro: DebDistro, info: ReleaseInfo, ctx: ReleaseFolderContext): boolean {
  if (distro !== 'debian' || majorOf(info.version) !== undefined) return false;
  return codenameNumber(info, ctx) === undefined && isDevelopment(info, ctx);
}

function debianFolder(info: ReleaseInfo, ctx: ReleaseFolderContext): string | undefined {
  const fromVersion = majorOf(info.version);
  if (fromVersion !== undefined) return String(fromVersion);
  const fromTable = codenameNumber(info, ctx);
  if (fromTable !== undefined) return String(fromTable);
  if (isDevelopment(info, ctx)) return String((ctx.newestStable ?? DEBIAN_NEWEST_STABLE_FALLBACK) + 1);
  return undefined;
}

/** Leading number of a Debian Version: `12.11` → 12, `12-updates` → 12, `13` → 13. */
function majorOf(version: string | undefined): number | undefined {
  const m = version === undefined ? null : /^(\d{1,3})(?:[.-]|$)/.exec(version);
  return m === null ? undefined : Number(m[1]);
}

function baseName(name: string | undefined): string | undefined {
  return name?.toLowerCase().replace(SUITE_SUFFIX, '');
}

function codenameNumber(info: ReleaseInfo, ctx: ReleaseFolderContext): number | undefined {
  for (const name of [info.codename, ctx.requestedSuite]) {
    const base = baseName(name);
    const n = base === undefined ? undefined : own(DEBIAN_CODENAMES, base);
    if (n !== undefined) return n;
  }
  return undefined;
}

function isDevelopment(info: ReleaseInfo, ctx: ReleaseFolderContext): boolean {
  return [info.codename, info.suite, ctx.requestedSuite].some((n) => {
    const base = baseName(n);
    return base !== undefined && DEBIAN_DEVELOPMENT.has(base);
  });
}

function ubuntuFolder(info: ReleaseInfo, ctx: ReleaseFolderContext): string | undefined {
  const m = info.version === undefined ? null : /^(\d{2}\.\d{2})(?:\.\d+)?\b/.exec(info.version);
  if (m !== null) return m[1];
  for (const name of [info.codename, ctx.requestedSuite]) {
    const base = baseName(name);
    const v = base === undefined ? undefined : own(UBUNTU_CODENAMES, base);
    if (v !== undefined) return v;
  }
  return undefined;
}
