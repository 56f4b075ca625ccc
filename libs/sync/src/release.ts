import { parseDeb822, words } from './deb822.js';
import { SyncError, SyncErrorCode } from './errors.js';

/** One file of a Release's `SHA256:` list. */
export interface IndexFile {
  /** Path below `dists/SUITE/`, e.g. `main/binary-amd64/Packages.xz`. */
  path: string;
  size: number;
  /** Lowercase hex. */
  sha256: string;
}

/**
 * The fields of a suite's Release file that sync uses (Debian wiki "DebianRepository/Format", section Release).
 * Optional fields are undefined when the file lacks them: sid has no Version, bookworm-backports neither.
 */
export interface ReleaseInfo {
  origin: string | undefined;
  label: string | undefined;
  /** The class name (`stable`, `oldstable-security`, `unstable`) on Debian, the pocket (`jammy-updates`) on Ubuntu. */
  suite: string | undefined;
  codename: string | undefined;
  version: string | undefined;
  /** As written (RFC 2822 in UTC). */
  date: string | undefined;
  /** `date` in milliseconds since the epoch, when it parses. */
  dateMs: number | undefined;
  architectures: string[];
  components: string[];
  /** The archive serves every index also below `…/by-hash/SHA256/HASH` (safe against a mirror mid-update). */
  acquireByHash: boolean;
  /** The `SHA256:` list by path. */
  files: Map<string, IndexFile>;
}

const BEGIN_SIGNED = '-----BEGIN PGP SIGNED MESSAGE-----';
const BEGIN_SIGNATURE = '-----BEGIN PGP SIGNATURE-----';
const END_SIGNATURE = '-----END PGP SIGNATURE-----';

/**
 * The signed text of an OpenPGP cleartext-signed message (RFC 4880 §7, the form of `InRelease`): the armour
 * headers and the signature block are dropped and dash-escaped lines (`- text`) are restored. Nothing but
 * whitespace may stand before the message or after its signature (apt refuses such files too: text outside the
 * signature would be unsigned). The signature itself is not checked here: see `PlanOptions.verifyRelease`.
 */
export function stripClearsign(text: string, source = 'InRelease'): string {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  let i = 0;
  while (i < lines.length && lines[i].trim() === '') i++;
  if (lines[i] !== BEGIN_SIGNED) throw bad(source, 'is not a clearsigned message (no "BEGIN PGP SIGNED MESSAGE" line)');
  i++;
  // Armour headers ("Hash: SHA256") end at the first empty line.
  while (i < lines.length && lines[i] !== '') {
    if (!/^[A-Za-z][A-Za-z0-9-]*: /.test(lines[i])) throw bad(source, `has a bad armour header on line ${i + 1}`);
    i++;
  }
  if (i >= lines.length) throw bad(source, 'ends inside its armour headers');
  i++;
  const body: string[] = [];
  for (; i < lines.length && lines[i] !== BEGIN_SIGNATURE; i++) {
    const line = lines[i];
    if (line.startsWith('- ')) body.push(line.slice(2));
    else if (line.startsWith('-')) throw bad(source, `has a line starting with "-" that is not dash-escaped (line ${i + 1})`);
    else body.push(line);
  }
  if (i >= lines.length) throw bad(source, 'has no signature block');
  for (i++; i < lines.length && lines[i] !== END_SIGNATURE; i++);
  if (i >= lines.length) throw bad(source, 'has an unterminated signature block');
  for (i++; i < lines.length; i++) {
    if (lines[i].trim() !== '') throw bad(source, `has text after its signature (line ${i + 1})`);
  }
  // The line break before the signature block belongs to the armour, not to the signed text (RFC 4880 §7.1).
  return body.join('\n');
}

/** True when `text` (after leading whitespace) starts like a cleartext-signed message. */
export function isClearsigned(text: string): boolean {
  return text.trimStart().startsWith(BEGIN_SIGNED);
}

/**
 * Parses a Release file (an `InRelease` after {@link stripClearsign}). Throws SYNC_BAD_INDEX naming `source` when
 * it is not one paragraph, lacks a `SHA256:` list, or a line of the list is not `HASH SIZE PATH`.
 */
export function parseRelease(text: string, source = 'Release'): ReleaseInfo {
  const stanzas = parseDeb822(text, { source });
  if (stanzas.length !== 1) throw bad(source, `has ${stanzas.length} paragraphs, expected 1`);
  const f = stanzas[0];
  const list = f.get('sha256');
  if (list === undefined) throw bad(source, 'has no SHA256 file list');
  const files = new Map<string, IndexFile>();
  let n = 0;
  for (const line of list.split('\n')) {
    n++;
    if (line.trim() === '') continue;
    const m = /^([0-9a-fA-F]{64})\s+(\d{1,15})\s+(\S+)$/.exec(line.trim());
    if (m === null) throw bad(source, `has a bad SHA256 entry ${JSON.stringify(line.slice(0, 120))} (entry ${n})`);
    files.set(m[3], { path: m[3], size: Number(m[2]), sha256: m[1].toLowerCase() });
  }
  const date = f.get('date');
  const dateMs = date === undefined ? undefined : Date.parse(date);
  return {
    origin: f.get('origin'),
    label: f.get('label'),
    suite: f.get('suite'),
    codename: f.get('codename'),
    version: f.get('version'),
    date,
    dateMs: dateMs === undefined || Number.isNaN(dateMs) ? undefined : dateMs,
    architectures: words(f.get('architectures')),
    components: words(f.get('components')),
    acquireByHash: (f.get('acquire-by-hash') ?? '').toLowerCase() === 'yes',
    files,
  };
}

function bad(source: string, why: string): SyncError {
  return new SyncError(SyncErrorCode.BadIndex, `${source} ${why}`);
}
