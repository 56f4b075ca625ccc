import type { Catalog } from './db.js';
import { CatalogError } from './errors.js';
import { ARCH_ALIASES, own, compareUnameR, flavourOf, formatKref, versionKey } from './kernel-ref.js';
import { listKernels, type KernelInfo } from './queries.js';
import { failedKernel, type FailedKernel } from './failed.js';

/*
 * Which archive folder holds the BTF of the machine that asks: its os-release (ID, VERSION_ID, codenames),
 * `uname -r` and `uname -m`, mapped to btfhub-archive's `DISTRO/RELEASE/ARCH` folders.
 *
 * btfhub-archive names most folders after os-release: `ID/VERSION_ID/ARCH` with VERSION_ID cut to its major
 * number for the Enterprise Linux family (aquasecurity/btfhub#43 made that the convention), and a few that are
 * not: Amazon Linux AMI 2018.03 lives in `amzn/2018` (earlier in `amzn/1`), Ubuntu keeps its dotted `20.04`
 * numbers, Debian its numbers (`debian/10`) although btfhub's own generator once named folders by codename
 * (`buster`), and arm64 machines say `aarch64` where the archive says `arm64`. Every rule below names where it
 * comes from; the lookup tries the candidates in order and takes the first folder that has the exact kernel.
 */

/** Largest os-release text accepted (real ones are under 1 KiB). */
export const OS_RELEASE_MAX_BYTES = 16 * 1024;
/** Longest `uname -r`: the kernel's `__NEW_UTS_LEN` (64) bytes. */
export const UNAME_R_MAX_LENGTH = 64;
/** Longest `uname -m` accepted. */
export const ARCH_MAX_LENGTH = 32;

/** The variables of an os-release file (os-release(5)), by name; a later assignment wins, as in a shell. */
export type OsRelease = Readonly<Record<string, string>>;

/** A uname -r as a KREF segment holds it (the same characters `parseKref` accepts). */
const UNAME_R = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/;
const MACHINE = /^[A-Za-z0-9_]+$/;
/** os-release(5): ID, VERSION_ID and the codenames use only 0–9, a–z, ".", "_" and "-". */
const OS_TOKEN = /^[a-z0-9][a-z0-9._-]*$/;
const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

function osReleaseError(line: number, what: string): CatalogError {
  return new CatalogError('OS_RELEASE_INVALID', `os-release line ${line}: ${what}`);
}

/**
 * Parses os-release text (os-release(5)): newline-separated shell-style `KEY=VALUE` assignments, values bare or
 * in '…' or "…" (backslash escapes `$ " \ \`` inside double quotes and any character outside quotes, as a shell
 * does), `#` comments and blank lines ignored, CRLF line ends tolerated. No variable expansion: the format
 * forbids it, so `$` is an ordinary character. Throws OS_RELEASE_INVALID naming the line for anything else (a line that is not an assignment,
 * an unterminated quote, text after a value) and for text over `maxBytes` (default 16 KiB) or with NUL bytes.
 */
export function parseOsRelease(text: string, maxBytes = OS_RELEASE_MAX_BYTES): OsRelease {
  if (typeof text !== 'string') throw new CatalogError('OS_RELEASE_INVALID', 'os-release must be text');
  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxBytes) throw new CatalogError('OS_RELEASE_INVALID', `os-release is ${size} bytes, more than the ${maxBytes} accepted`);
  if (text.includes('\0')) throw new CatalogError('OS_RELEASE_INVALID', 'os-release holds a NUL byte: not a text file');
  const s = text.replace(/\r\n?/g, '\n');
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  let i = 0;
  let line = 1;
  const atBlank = (): boolean => s[i] === ' ' || s[i] === '\t';
  while (i < s.length) {
    while (atBlank()) i++;
    if (i >= s.length) break;
    if (s[i] === '\n') {
      i++;
      line++;
      continue;
    }
    if (s[i] === '#') {
      while (i < s.length && s[i] !== '\n') i++;
      continue;
    }
    const keyLine = line;
    const keyStart = i;
    if (NAME_START.test(s[i])) while (i < s.length && NAME_CHAR.test(s[i])) i++;
    const key = s.slice(keyStart, i);
    if (key === '' || s[i] !== '=') {
      const end = s.indexOf('\n', keyStart);
      const text = s.slice(keyStart, end < 0 ? undefined : end);
      throw osReleaseError(line, `expected NAME=VALUE, found ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}`);
    }
    i++;
    let value = '';
    while (i < s.length && s[i] !== '\n' && !atBlank()) {
      const c = s[i];
      if (c === '"') {
        i++;
        while (true) {
          if (i >= s.length) throw osReleaseError(keyLine, `the double quote of ${key} is never closed`);
          const d = s[i];
          if (d === '"') break;
          if (d === '\\' && i + 1 < s.length && '$`"\\\n'.includes(s[i + 1])) {
            if (s[i + 1] !== '\n') value += s[i + 1];
            else line++;
            i += 2;
            continue;
          }
          if (d === '\n') line++;
          value += d;
          i++;
        }
        i++;
      } else if (c === "'") {
        const end = s.indexOf("'", i + 1);
        if (end < 0) throw osReleaseError(keyLine, `the single quote of ${key} is never closed`);
        const chunk = s.slice(i + 1, end);
        line += chunk.split('\n').length - 1;
        value += chunk;
        i = end + 1;
      } else if (c === '\\') {
        if (i + 1 >= s.length) break;
        if (s[i + 1] === '\n') line++;
        else value += s[i + 1];
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    while (atBlank()) i++;
    if (s[i] === '#') while (i < s.length && s[i] !== '\n') i++;
    if (i < s.length && s[i] !== '\n') {
      throw osReleaseError(line, `unexpected text after the value of ${key} (quote values that hold spaces)`);
    }
    out[key] = value;
  }
  return Object.freeze(out);
}

/** One archive folder to look in, and why it is a candidate. */
export interface ReleaseCandidate {
  distro: string;
  release: string;
  /** Why this folder may hold the machine's kernel (shown when nothing is found). */
  reason: string;
}

/** What a machine knows about itself. */
export interface MachineInput {
  /** os-release text, or its parsed variables. */
  osRelease: string | OsRelease;
  /** `uname -r`. */
  unameR: string;
  /** `uname -m` (or the archive's spelling of it). */
  arch: string;
}

/** Where a machine's BTF may be: its arch as the archive spells it and the folders to try, in order. */
export interface ArchiveCandidates {
  id: string;
  versionId: string | undefined;
  unameR: string;
  arch: string;
  candidates: ReleaseCandidate[];
}


/** Maps `uname -m` to the archive's arch; ARCH_INVALID when it cannot be a machine name. */
export function archiveArch(machine: string): string {
  if (typeof machine !== 'string' || machine.length === 0) throw new CatalogError('ARCH_INVALID', 'arch (uname -m) is empty');
  if (machine.length > ARCH_MAX_LENGTH) throw new CatalogError('ARCH_INVALID', `arch (uname -m) is ${machine.length} characters, more than ${ARCH_MAX_LENGTH}`);
  if (!MACHINE.test(machine)) throw new CatalogError('ARCH_INVALID', `arch (uname -m) ${JSON.stringify(machine)} has characters other than letters, digits and _`);
  const lower = machine.toLowerCase();
  return own(ARCH_ALIASES, lower) ?? lower;
}

/** Checks a `uname -r`; UNAME_R_INVALID naming what is wrong. */
export function checkUnameR(unameR: string): string {
  if (typeof unameR !== 'string' || unameR.length === 0) throw new CatalogError('UNAME_R_INVALID', 'uname_r (uname -r) is empty');
  if (unameR.length > UNAME_R_MAX_LENGTH) {
    throw new CatalogError('UNAME_R_INVALID', `uname_r (uname -r) is ${unameR.length} characters, more than the kernel's ${UNAME_R_MAX_LENGTH}`);
  }
  if (!UNAME_R.test(unameR)) {
    throw new CatalogError('UNAME_R_INVALID', `uname_r (uname -r) ${JSON.stringify(unameR)} must start with a letter or digit and hold only letters, digits and ._+~-`);
  }
  return unameR;
}

/** Ubuntu codenames (VERSION_CODENAME / UBUNTU_CODENAME) and their VERSION_ID, for derivatives and old files. */
const UBUNTU_RELEASES: Readonly<Record<string, string>> = {
  trusty: '14.04', xenial: '16.04', bionic: '18.04', focal: '20.04', groovy: '20.10', hirsute: '21.04', impish: '21.10',
  jammy: '22.04', kinetic: '22.10', lunar: '23.04', mantic: '23.10', noble: '24.04', oracular: '24.10', plucky: '25.04',
  questing: '25.10',
};

/** Debian codenames and their release numbers (testing and sid name the next release but have no VERSION_ID). */
const DEBIAN_RELEASES: Readonly<Record<string, string>> = {
  jessie: '8', stretch: '9', buster: '10', bullseye: '11', bookworm: '12', trixie: '13', forky: '14', duke: '15',
};

/** Enterprise Linux rebuilds of the same sources: one uname -r names the same kernel build configuration. */
const EL_FAMILY = ['rhel', 'centos', 'rocky', 'almalinux', 'ol'];

/** IDs that are other names of an archive distro folder (os-release IDs of variants, DataDog's aliases). */
const ID_ALIASES: Readonly<Record<string, string>> = {
  amazon: 'amzn',
  redhat: 'rhel',
  oracle: 'ol',
  suse: 'sles',
  sles_sap: 'sles',
  opensuse: 'opensuse-leap',
};

function codenameFor(table: Readonly<Record<string, string>>, version: string): string | undefined {
  return Object.keys(table).find((k) => table[k] === version);
}

function major(version: string): string {
  return version.split('.')[0];
}

/**
 * The archive folders that may hold a machine's BTF, most likely first, from its os-release, `uname -r` and
 * `uname -m` (validated: OS_RELEASE_INVALID, UNAME_R_INVALID, ARCH_INVALID). The rules:
 * - ubuntu: VERSION_ID (`20.04`), then the codename folder (`focal`, btfhub's generator's own naming);
 * - debian: VERSION_ID (`12`; from the codename when testing/sid has none), then the codename (`bookworm`);
 * - centos, rhel, rocky, almalinux, ol: the major number (`ol` `7.9` → `7`, aquasecurity/btfhub#43), then the
 *   full VERSION_ID, then the other Enterprise Linux rebuilds of that major (same sources, same uname -r);
 * - amzn: `2`, `2023` as they are; Amazon Linux AMI `2018.03` → `2018`, then `1` (the folder it had before);
 * - fedora and anything else: VERSION_ID, then its major; sles / opensuse-leap keep `15.4`, then `15`;
 * - an unknown ID that is `ID_LIKE` ubuntu or debian also tries those folders by its UBUNTU_CODENAME /
 *   VERSION_CODENAME; one like rhel or centos tries the Enterprise Linux folders of its major.
 */
export function archiveCandidates(input: MachineInput): ArchiveCandidates {
  const os = typeof input.osRelease === 'string' ? parseOsRelease(input.osRelease) : input.osRelease;
  const unameR = checkUnameR(input.unameR);
  const arch = archiveArch(input.arch);
  const rawId = (os.ID ?? '').trim() || 'linux'; // os-release(5): ID defaults to "linux"
  if (!OS_TOKEN.test(rawId)) throw new CatalogError('OS_RELEASE_INVALID', `os-release ID ${JSON.stringify(rawId)} has characters other than a-z, 0-9, ".", "_" and "-"`);
  const id = own(ID_ALIASES, rawId) ?? rawId;
  const versionIdRaw = os.VERSION_ID?.trim() || undefined;
  if (versionIdRaw !== undefined && !OS_TOKEN.test(versionIdRaw.toLowerCase())) {
    throw new CatalogError('OS_RELEASE_INVALID', `os-release VERSION_ID ${JSON.stringify(versionIdRaw)} has characters other than a-z, 0-9, ".", "_" and "-"`);
  }
  const versionId = versionIdRaw?.toLowerCase();
  const codename = [os.VERSION_CODENAME, os.UBUNTU_CODENAME, os.DEBIAN_CODENAME]
    .map((c) => c?.trim().toLowerCase())
    .find((c): c is string => c !== undefined && c !== '' && OS_TOKEN.test(c));
  const idLike = (os.ID_LIKE ?? '').split(/\s+/).filter((x) => OS_TOKEN.test(x));

  const candidates: ReleaseCandidate[] = [];
  const add = (distro: string, release: string | undefined, reason: string): void => {
    if (!release || !OS_TOKEN.test(release)) return;
    if (candidates.some((c) => c.distro === distro && c.release === release)) return;
    candidates.push({ distro, release, reason });
  };
  const ubuntu = (version: string | undefined, name: string | undefined, how: string): void => {
    const v = version ?? (name ? own(UBUNTU_RELEASES, name) : undefined);
    const n = name ?? (v ? codenameFor(UBUNTU_RELEASES, v) : undefined);
    add('ubuntu', v, `${how}: Ubuntu folders are named by VERSION_ID`);
    add('ubuntu', n, `${how}: codename folder, as btfhub's generator names Ubuntu releases`);
  };
  const debian = (version: string | undefined, name: string | undefined, how: string): void => {
    const v = version ? major(version) : name ? own(DEBIAN_RELEASES, name) : undefined;
    const n = name ?? (v ? codenameFor(DEBIAN_RELEASES, v) : undefined);
    add('debian', v, `${how}: Debian folders are named by release number`);
    add('debian', n, `${how}: codename folder, as btfhub's generator names Debian releases`);
  };
  const enterprise = (own: string, version: string, how: string): void => {
    add(own, major(version), `${how}: Enterprise Linux folders are named by major version (btfhub#43)`);
    add(own, version, `${how}: full VERSION_ID`);
    for (const other of EL_FAMILY) {
      if (other !== own) add(other, major(version), `${how}: ${other} ${major(version)} rebuilds the same kernel sources (same uname -r)`);
    }
  };

  if (id === 'ubuntu') ubuntu(versionId, codename, 'ubuntu');
  else if (id === 'debian') debian(versionId, codename, 'debian');
  else if (EL_FAMILY.includes(id)) {
    if (versionId) enterprise(id, versionId, id);
  } else if (id === 'amzn') {
    if (versionId && /^\d{4}\.\d+$/.test(versionId) && Number(major(versionId)) < 2023) {
      // Amazon Linux AMI (2016.09 … 2018.03): one rolling kernel line, archived under amzn/2018 (before: amzn/1).
      add('amzn', major(versionId), 'Amazon Linux AMI: folder named by the year of VERSION_ID');
      add('amzn', '2018', 'Amazon Linux AMI: btfhub-archive keeps its kernels in amzn/2018');
      add('amzn', '1', 'Amazon Linux AMI: amzn/1, the folder btfhub-archive used before amzn/2018');
    } else {
      add('amzn', versionId, 'amzn: folder named by VERSION_ID');
      if (versionId) add('amzn', major(versionId), 'amzn: major of VERSION_ID');
    }
  } else {
    add(id, versionId, `${id}: folder named by VERSION_ID`);
    if (versionId) add(id, major(versionId), `${id}: major of VERSION_ID`);
    if (id !== 'fedora') {
      if (idLike.includes('ubuntu') && (os.UBUNTU_CODENAME || codename)) {
        const name = (os.UBUNTU_CODENAME?.trim().toLowerCase() || codename) as string;
        if (own(UBUNTU_RELEASES, name)) ubuntu(undefined, name, `${id} is like ubuntu ${name}`);
      } else if (idLike.includes('debian') && codename && own(DEBIAN_RELEASES, codename)) {
        debian(undefined, codename, `${id} is like debian ${codename}`);
      } else if (versionId && (idLike.includes('rhel') || idLike.includes('centos'))) {
        for (const el of EL_FAMILY) add(el, major(versionId), `${id} is like ${idLike.join(' ')}: Enterprise Linux ${major(versionId)} kernel`);
      }
    }
  }
  return { id, versionId, unameR, arch, candidates };
}

/** The answer of a lookup: the kernel found and where its BTF is. */
export interface LookupResult extends KernelInfo {
  btf_size: number;
  /** sha256 of the `.btf.tar.xz` the `/archive` mirror serves, when the catalog knows it. */
  archive_sha256?: string;
  /** Why this folder was chosen. */
  reason: string;
}

/** A kernel the catalog has, offered when the asked one is missing. */
export interface NearestKernel {
  kernel: string;
  uname_r: string;
  /**
   * `older` / `newer`: in the same distro/release/arch series, before or after the asked uname -r in kernel
   * order (the first of each is the closest); `other-release`: same arch, another folder.
   */
  relation: 'older' | 'newer' | 'other-release';
}

/** KERNEL_NOT_FOUND of a lookup: carries the folders tried and the nearest kernels the catalog has. */
export class LookupNotFoundError extends CatalogError {
  constructor(
    message: string,
    readonly nearest: NearestKernel[],
    /** `DISTRO/RELEASE/ARCH` folders looked in, in order. */
    readonly tried: string[],
    /** This very kernel, when its ingest failed: the reason it is missing. */
    readonly failed?: FailedKernel,
  ) {
    super('KERNEL_NOT_FOUND', message, nearest.map((n) => n.kernel));
  }
}

/** How many kernels on each side of the asked one a not-found answer offers. */
const NEAREST_EACH_SIDE = 3;

/** The kernels of one series nearest to `unameR` in kernel order, same flavour preferred, closest first. */
function nearestInSeries(series: KernelInfo[], unameR: string): NearestKernel[] {
  const flavour = flavourOf(unameR);
  const same = series.filter((k) => flavourOf(k.uname_r) === flavour);
  const pool = same.length > 0 ? same : series;
  const key = versionKey(unameR);
  const older = pool.filter((k) => versionKey(k.uname_r) < key).reverse().slice(0, NEAREST_EACH_SIDE);
  const newer = pool.filter((k) => versionKey(k.uname_r) > key).slice(0, NEAREST_EACH_SIDE);
  const out: NearestKernel[] = [];
  for (let i = 0; i < NEAREST_EACH_SIDE; i++) {
    if (older[i]) out.push({ kernel: older[i].kernel, uname_r: older[i].uname_r, relation: 'older' });
    if (newer[i]) out.push({ kernel: newer[i].kernel, uname_r: newer[i].uname_r, relation: 'newer' });
  }
  return out;
}

/**
 * Kernels of the same arch and distro (or one the lookup would fall back to) in other release folders, nearest
 * in version first. Another distro's kernels are never offered: their BTF does not describe this kernel.
 */
function nearestElsewhere(all: KernelInfo[], distros: string[], arch: string, unameR: string, limit = 2 * NEAREST_EACH_SIDE): NearestKernel[] {
  const pool = all.filter((k) => k.arch === arch && distros.includes(k.distro));
  const key = versionKey(unameR);
  // Distance in kernel order: rank of each kernel's key among all keys, against the asked key's rank.
  const sorted = [...pool].sort((a, b) => compareUnameR(a.uname_r, b.uname_r) || (a.kernel < b.kernel ? -1 : 1));
  const at = sorted.findIndex((k) => versionKey(k.uname_r) >= key);
  const pivot = at < 0 ? sorted.length : at;
  const picked: KernelInfo[] = [];
  for (let d = 0; picked.length < limit && (pivot - 1 - d >= 0 || pivot + d < sorted.length); d++) {
    if (pivot - 1 - d >= 0) picked.push(sorted[pivot - 1 - d]);
    if (picked.length < limit && pivot + d < sorted.length) picked.push(sorted[pivot + d]);
  }
  return picked.map((k) => ({ kernel: k.kernel, uname_r: k.uname_r, relation: 'other-release' as const }));
}

function describeNearest(nearest: NearestKernel[]): string {
  if (nearest.length === 0) return 'the catalog has no kernel of this distro and arch';
  const closestOlder = nearest.find((n) => n.relation === 'older');
  const closestNewer = nearest.find((n) => n.relation === 'newer');
  const parts: string[] = [];
  if (closestOlder) parts.push(`${closestOlder.kernel} (closest older)`);
  if (closestNewer) parts.push(`${closestNewer.kernel} (closest newer)`);
  if (parts.length === 0) parts.push(...nearest.slice(0, 3).map((n) => `${n.kernel} (other release)`));
  return `nearest: ${parts.join(', ')}`;
}

/**
 * Finds the kernel of a machine (its os-release, `uname -r`, `uname -m`): the first candidate folder of
 * {@link archiveCandidates} that holds exactly this uname -r. When none does, throws
 * {@link LookupNotFoundError} (KERNEL_NOT_FOUND) with the nearest kernels: those of the first candidate
 * folder the catalog has, nearest in kernel order (same flavour preferred; the closest older and newer first),
 * else kernels of the same arch in other folders.
 */
export function lookupKernel(catalog: Catalog, input: MachineInput): LookupResult {
  const c = archiveCandidates(input);
  // One indexed read per candidate folder (kernels_kref); the whole list is read only on a miss.
  const byKref = catalog.sqlite.prepare(
    'SELECT btf_sha256, btf_size, type_count, archive_sha256 FROM kernels WHERE distro = ? AND release = ? AND arch = ? AND uname_r = ?',
  );
  for (const cand of c.candidates) {
    const row = byKref.get(cand.distro, cand.release, c.arch, c.unameR) as
      | { btf_sha256: string; btf_size: number; type_count: number; archive_sha256: string | null }
      | undefined;
    if (row) {
      const result: LookupResult = {
        kernel: formatKref({ distro: cand.distro, release: cand.release, arch: c.arch, unameR: c.unameR }),
        distro: cand.distro,
        release: cand.release,
        arch: c.arch,
        uname_r: c.unameR,
        btf_sha256: row.btf_sha256,
        btf_size: row.btf_size,
        types: row.type_count,
        reason: cand.reason,
      };
      // The mirror's tarball, when the catalog has recorded it (an older catalog fills it on first download).
      if (row.archive_sha256 !== null) result.archive_sha256 = row.archive_sha256;
      return result;
    }
  }
  const all = listKernels(catalog);
  const tried = c.candidates.map((x) => `${x.distro}/${x.release}/${c.arch}`);
  const asked = `${c.id}${c.versionId ? ` ${c.versionId}` : ''} ${c.arch} ${c.unameR}`;
  let nearest: NearestKernel[] = [];
  for (const cand of c.candidates) {
    const series = all.filter((k) => k.distro === cand.distro && k.release === cand.release && k.arch === c.arch);
    if (series.length > 0) {
      nearest = nearestInSeries(series, c.unameR);
      break;
    }
  }
  if (nearest.length === 0) {
    const distros = [...new Set([c.id, ...c.candidates.map((x) => x.distro)])];
    nearest = nearestElsewhere(all, distros, c.arch, c.unameR);
  }
  const where = tried.length > 0 ? `tried ${tried.join(', ')}` : 'os-release names no release folder (no VERSION_ID or codename)';
  // A kernel refused at ingest is not silently absent: say which and why.
  let failed: FailedKernel | undefined;
  for (const cand of c.candidates) {
    failed = failedKernel(catalog, formatKref({ distro: cand.distro, release: cand.release, arch: c.arch, unameR: c.unameR }));
    if (failed) break;
  }
  const why = failed ? `; ${failed.kernel} failed to ingest (${failed.failed_at}): ${failed.code}: ${failed.message}` : '';
  throw new LookupNotFoundError(`no BTF for ${asked} in the catalog (${where})${why}; ${describeNearest(nearest)}`, nearest, tried, failed);
}
