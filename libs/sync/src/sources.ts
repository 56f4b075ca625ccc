import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDeb822, words } from './deb822.js';
import { SyncError, SyncErrorCode } from './errors.js';
import { formatMirror, mirrorBase } from './mirror-url.js';
import { DEBIAN_CODENAMES } from './release-folder.js';

/** One source of apt's configuration (sources.list(5)), from either format. */
export interface AptSource {
  /** `deb`, `deb-src`. */
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  /** `Enabled: no` in deb822; one-line entries are always enabled (a disabled one is a comment). */
  enabled: boolean;
  /** Options (`arch`, `signed-by`…), names lowercased. */
  options: Record<string, string>;
  /** The file it came from, relative to the root folder given to {@link loadAptSources}. */
  file: string;
}

/**
 * Parses the one-line format: `deb [ opt=value … ] URI SUITE [COMPONENT…]`, `#` starting a comment. Lines that
 * are not `deb`/`deb-src` entries are skipped (apt would refuse the file; a sync only wants a mirror out of it).
 */
export function parseOneLineSources(text: string, file = 'sources.list'): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const hash = raw.search(/(?:^|\s)#/);
    const line = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (line === '') continue;
    const m = /^(deb|deb-src)\s+(?:\[([^\]]*)\]\s*)?(\S+)\s+(\S+)((?:\s+\S+)*)$/.exec(line);
    if (m === null) continue;
    const options: Record<string, string> = {};
    for (const opt of words(m[2])) {
      const eq = opt.indexOf('=');
      if (eq > 0) options[opt.slice(0, eq).toLowerCase()] = opt.slice(eq + 1);
    }
    out.push({ types: [m[1]], uris: [m[3]], suites: [m[4]], components: words(m[5]), enabled: true, options, file });
  }
  return out;
}

/** Parses the deb822 format of `*.sources` files (`Types:`, `URIs:`, `Suites:`, `Components:`, `Enabled:`). */
export function parseDeb822Sources(text: string, file = 'sources.sources'): AptSource[] {
  const out: AptSource[] = [];
  for (const s of parseDeb822(text, { comments: true, source: file })) {
    const options: Record<string, string> = {};
    for (const [k, v] of s) if (!['types', 'uris', 'suites', 'components', 'enabled'].includes(k)) options[k] = v;
    out.push({
      types: words(s.get('types')),
      uris: words(s.get('uris')),
      suites: words(s.get('suites')),
      components: words(s.get('components')),
      enabled: (s.get('enabled') ?? 'yes').toLowerCase() !== 'no',
      options,
      file,
    });
  }
  return out;
}

/** apt reads only these names in sources.list.d (others it skips with a notice). */
const PART_NAME = /^[A-Za-z0-9_.-]+\.(list|sources)$/;

/**
 * Reads apt's sources below `rootDir` (`/` on a real machine, a temporary folder in tests) in apt's order:
 * `etc/apt/sources.list`, then `etc/apt/sources.list.d/*.list` and `*.sources` by name. Missing files are fine;
 * a file that cannot be read or parsed is SYNC_BAD_CONFIG naming it.
 */
export async function loadAptSources(rootDir: string): Promise<AptSource[]> {
  const out: AptSource[] = [];
  const main = 'etc/apt/sources.list';
  const text = await readOptional(join(rootDir, main), main);
  if (text !== undefined) out.push(...parseOneLineSources(text, main));
  let names: string[] = [];
  try {
    names = await readdir(join(rootDir, 'etc/apt/sources.list.d'));
  } catch {
    names = [];
  }
  for (const name of names.filter((n) => PART_NAME.test(n)).sort()) {
    const rel = `etc/apt/sources.list.d/${name}`;
    const body = await readOptional(join(rootDir, rel), rel);
    if (body === undefined) continue;
    try {
      out.push(...(name.endsWith('.sources') ? parseDeb822Sources(body, rel) : parseOneLineSources(body, rel)));
    } catch (err) {
      if (err instanceof SyncError) throw new SyncError(SyncErrorCode.BadConfig, `apt sources: ${err.reason}`, {}, { cause: err });
      throw err;
    }
  }
  return out;
}

async function readOptional(path: string, rel: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new SyncError(SyncErrorCode.BadConfig, `apt sources: cannot read ${rel} (${code ?? 'error'})`);
  }
}

const DEBIAN_CLASSES = new Set(['stable', 'testing', 'unstable', 'oldstable', 'oldoldstable', 'experimental', 'sid']);
const NON_SECURITY_SUFFIX = /-(?:updates|backports|backports-sloppy|proposed-updates)$/;

/** A suite of Debian's main archive (`bookworm`, `trixie-updates`, `sid`), not of its security archive or a third party. */
function isDebianArchiveSuite(suite: string): boolean {
  const base = suite.toLowerCase().replace(NON_SECURITY_SUFFIX, '');
  return Object.hasOwn(DEBIAN_CODENAMES, base) || DEBIAN_CLASSES.has(base);
}

/**
 * The main Debian archive among apt's sources: the first enabled `deb` entry (in apt's reading order) with an
 * http(s) URI, a component `main` and a Debian suite name — so security archives (`bookworm-security`) and
 * third-party repositories (`nodistro`, `cloud-sdk-bookworm`) are passed over. Undefined when there is none.
 */
export function pickDebianMirror(sources: readonly AptSource[]): string | undefined {
  for (const s of sources) {
    if (!s.enabled || !s.types.includes('deb')) continue;
    if (s.components.length > 0 && !s.components.includes('main')) continue;
    if (!s.suites.some(isDebianArchiveSuite)) continue;
    for (const uri of s.uris) {
      if (!/^https?:\/\//i.test(uri)) continue;
      try {
        return formatMirror(mirrorBase(uri));
      } catch {
        // A URI apt may take but sync cannot (credentials, a query): look further.
      }
    }
  }
  return undefined;
}

/** Sync's settings from the environment (the caller passes `process.env`). */
export interface SyncConfig {
  /** `BTF_ATLAS_DEBIAN_MIRROR`: the Debian archive to use instead of the one in apt's sources. */
  debianMirror: string | undefined;
}

/** Reads and checks sync's environment; SYNC_BAD_CONFIG names a bad variable. */
export function loadSyncConfig(env: Readonly<Record<string, string | undefined>>): SyncConfig {
  const raw = env.BTF_ATLAS_DEBIAN_MIRROR?.trim();
  if (raw === undefined || raw === '') return { debianMirror: undefined };
  try {
    return { debianMirror: formatMirror(mirrorBase(raw)) };
  } catch (err) {
    throw new SyncError(SyncErrorCode.BadConfig, `BTF_ATLAS_DEBIAN_MIRROR: ${err instanceof SyncError ? err.reason : String(err)}`);
  }
}

/**
 * The Debian archive to sync from: `override` (from {@link loadSyncConfig} or a `--mirror` flag) when given,
 * else the main archive in apt's sources below `rootDir` (default `/`). SYNC_BAD_CONFIG when there is none.
 */
export async function defaultDebianMirror(options: { rootDir?: string; override?: string } = {}): Promise<string> {
  if (options.override !== undefined && options.override !== '') return formatMirror(mirrorBase(options.override));
  const root = options.rootDir ?? '/';
  const found = pickDebianMirror(await loadAptSources(root));
  if (found === undefined) {
    throw new SyncError(SyncErrorCode.BadConfig, `no debian archive in the apt sources under ${root} (etc/apt/sources.list, sources.list.d); set BTF_ATLAS_DEBIAN_MIRROR or pass a mirror`);
  }
  return found;
}
