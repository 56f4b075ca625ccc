import { ARCH_ALIASES, compareUnameR, formatKref, own, parseKref } from '@btf-atlas/catalog';
import { compareDebVersions } from './deb-version.js';
import { SyncError, SyncErrorCode, type SyncErrorContext } from './errors.js';
import { getBytes, type FetchLike, type RequestOptions } from './http.js';
import { indexCacheKey, type IndexCache } from './index-cache.js';
import { selectKernels, type PackageRecord } from './kernels.js';
import { checkSuiteName, formatMirror, mirrorBase, poolUrl } from './mirror-url.js';
import {
  DEFAULT_INDEX_COMPRESSIONS,
  DEFAULT_INDEX_LIMITS,
  fetchVerified,
  indexUrls,
  pickPackagesIndex,
  scanPackagesIndex,
  type IndexCompression,
  type IndexLimits,
} from './packages-index.js';
import { needsNewestStable, releaseFolder, type DebDistro } from './release-folder.js';
import { isClearsigned, parseRelease, stripClearsign, type ReleaseInfo } from './release.js';

/** Options of {@link planSync}. */
export interface PlanOptions {
  /** Archive root, e.g. the URL of `defaultDebianMirror()`; `dists/` and `pool/` are below it. */
  mirror: string;
  /** Suite names as in `dists/` (`bookworm`, `bookworm-backports`, `sid`, `jammy-updates`). */
  suites: readonly string[];
  /** Debian architecture names (`amd64`, `arm64`, `s390x`, `ppc64el`); btfhub's (`x86_64`, `ppc64le`) are accepted too. */
  archs: readonly string[];
  distro: DebDistro;
  /** True when the catalog already holds this KREF; such kernels are listed in `known`, not planned. */
  isKnown: (kref: string) => boolean | Promise<boolean>;
  /** Archive components to read. Default `['main']`. */
  components?: readonly string[];
  fetch?: FetchLike;
  signal?: AbortSignal;
  /** Remembers kernel records by index hash; an unchanged suite then costs one Release download. */
  cache?: IndexCache;
  /** Index compressions to try, in order. Default xz, then gz. */
  compressions?: readonly IndexCompression[];
  limits?: Partial<IndexLimits>;
  /** Milliseconds without progress before a request fails with SYNC_TIMEOUT. Default 30 000. */
  timeoutMs?: number;
  /** Index downloads and decompressions at once. Default 4. */
  concurrency?: number;
  /**
   * Checks a Release before it is parsed (for example with `gpgv` against the archive keyring); throw to refuse.
   * `kind` is `InRelease` (clearsigned) or `Release` (whose detached signature is `url + '.gpg'`). Without it the
   * Release is trusted as the mirror serves it: sync then relies on the transport (use an https mirror).
   */
  verifyRelease?: (bytes: Uint8Array, info: { url: string; kind: 'InRelease' | 'Release'; suite: string }) => void | Promise<void>;
}

/** A package to download for a kernel. */
export interface PlannedPackage {
  name: string;
  version: string;
  /** Path below the mirror root, as the index spells it. */
  filename: string;
  url: string;
  size: number;
  sha256: string;
  /**
   * `image`: holds the kernel — vmlinuz, and before Debian's split (up to trixie) the modules too;
   * `modules`: `linux-modules-UNAME_R`, the `*.ko` (Debian sid: `*.ko.xz`) files.
   */
  role: 'image' | 'modules' | 'debug';
}

/** A kernel the catalog does not hold yet. */
export interface PlannedKernel {
  /** `DISTRO/RELEASE/ARCH/UNAME_R` as btfhub-archive spells it. */
  kref: string;
  distro: DebDistro;
  /** btfhub-archive release folder: `12`, `14` (sid), `22.04`. */
  release: string;
  /** btfhub-archive arch folder: `x86_64`, `arm64`, `s390x`, `ppc64le`, `i386`, `arm`, `riscv64`. */
  arch: string;
  /** The architecture as the archive spells it (`amd64`). */
  debianArch: string;
  unameR: string;
  /** The suite it was found in (the first of the requested ones that has its newest version). */
  suite: string;
  packages: PlannedPackage[];
}

/** A suite, or one architecture of it, that could not be read. */
export interface PlanError {
  suite: string;
  arch?: string;
  code: SyncErrorCode;
  message: string;
  url?: string;
}

/** A kernel-looking package left out, and why (a repackaged kernel, a missing checksum, a foreign arch…). */
export interface PlanIgnored {
  suite: string;
  arch: string;
  package: string;
  version: string;
  reason: string;
}

/** What was read of one Packages index. */
export interface PlanIndex {
  arch: string;
  /** The index's path on the mirror (it was fetched by its `by-hash` name when the archive has those). */
  url: string;
  sha256: string;
  /** Kernels found in it, known or not. */
  kernels: number;
  /** Records came from the cache: the index was not downloaded. */
  cached: boolean;
}

/** What was read of one suite. */
export interface PlanSuite {
  suite: string;
  codename?: string;
  version?: string;
  date?: string;
  /** The btfhub-archive release folder its kernels go to. */
  release?: string;
  releaseUrl: string;
  indexes: PlanIndex[];
}

/** The result of {@link planSync}: the same inputs and archive state give the same plan. */
export interface SyncPlan {
  mirror: string;
  distro: DebDistro;
  /** Kernels to ingest, in KREF order. */
  kernels: PlannedKernel[];
  /** KREFs found and already known, in KREF order. */
  known: string[];
  errors: PlanError[];
  ignored: PlanIgnored[];
  suites: PlanSuite[];
}

/** Debian architecture names btfhub users may type in its own spelling instead. */
const FROM_BTFHUB: Readonly<Record<string, string>> = { x86_64: 'amd64', aarch64: 'arm64', ppc64le: 'ppc64el', arm: 'armhf' };

/** Debian's architecture name for a user's spelling (`x86_64` → `amd64`; `amd64` stays). */
export function debianArchName(arch: string): string {
  return own(FROM_BTFHUB, arch) ?? arch;
}

/** btfhub-archive's arch folder for a Debian architecture, by the catalog's alias table; undefined when it has none. */
export function btfhubArch(debianArch: string): string | undefined {
  return own(ARCH_ALIASES, debianArch);
}

interface Found {
  kernel: PlannedKernel;
  suiteIndex: number;
}

/**
 * Reads each suite's Release and each architecture's Packages index and lists the kernels the catalog lacks.
 * A suite or architecture that cannot be read is reported in `errors` and the rest is still planned; only bad
 * options throw (SYNC_BAD_CONFIG). A KREF found in several suites is planned once, from the suite with its
 * newest package version (the first requested suite on a tie).
 */
export async function planSync(opts: PlanOptions): Promise<SyncPlan> {
  const base = mirrorBase(opts.mirror);
  const mirror = formatMirror(base);
  if (opts.distro !== 'debian' && opts.distro !== 'ubuntu') {
    throw new SyncError(SyncErrorCode.BadConfig, `distro ${JSON.stringify(opts.distro)} is not debian or ubuntu`);
  }
  const suites = [...new Set(opts.suites.map(checkSuiteName))];
  const archs = [...new Set(opts.archs.map(debianArchName))];
  if (suites.length === 0 || archs.length === 0) throw new SyncError(SyncErrorCode.BadConfig, 'plan needs at least one suite and one architecture');
  for (const a of archs) {
    if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(a)) throw new SyncError(SyncErrorCode.BadConfig, `architecture ${JSON.stringify(a)} is not a plain name`);
  }
  const components = opts.components ?? ['main'];
  for (const c of components) {
    if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(c)) throw new SyncError(SyncErrorCode.BadConfig, `component ${JSON.stringify(c)} is not a plain name`);
  }
  const limits: IndexLimits = { ...DEFAULT_INDEX_LIMITS, ...opts.limits };
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const req = (where: SyncErrorContext): RequestOptions => ({ fetch: opts.fetch, signal: opts.signal, timeoutMs, where });
  const pool = limiter(Math.max(1, opts.concurrency ?? 4));

  const errors: PlanError[] = [];
  const ignored: PlanIgnored[] = [];
  const report = (suite: string, arch: string | undefined, err: unknown): void => {
    if (!(err instanceof SyncError)) throw err;
    // The caller's abort ends the whole plan.
    if (err.code === SyncErrorCode.Aborted) throw err;
    errors.push({ suite, ...(arch !== undefined ? { arch } : {}), code: err.code, message: err.message, ...(err.url !== undefined ? { url: err.url } : {}) });
  };

  // 1. Releases.
  const releases = await Promise.all(
    suites.map((suite) =>
      pool(() => loadRelease(base, suite, limits, req({ suite }), opts.verifyRelease)).catch((err: unknown) => {
        report(suite, undefined, err);
        return undefined;
      }),
    ),
  );

  // 2. Release folders (sid needs the newest stable's number, asked of the mirror once).
  let newestStable: number | undefined;
  if (releases.some((r, i) => r !== undefined && needsNewestStable(opts.distro, r.info, { requestedSuite: suites[i] }))) {
    newestStable = await loadRelease(base, 'stable', limits, req({ suite: 'stable' }))
      .then((r) => (r.info.version !== undefined && /^\d+/.test(r.info.version) ? parseInt(r.info.version, 10) : undefined))
      .catch((err: unknown) => {
        if (err instanceof SyncError && err.code === SyncErrorCode.Aborted) throw err;
        return undefined;
      });
  }

  // 3. Indexes.
  const summaries: PlanSuite[] = [];
  const found: Found[] = [];
  const tasks: Promise<void>[] = [];
  releases.forEach((loaded, suiteIndex) => {
    const suite = suites[suiteIndex];
    if (loaded === undefined) return;
    const { info, url: releaseUrl } = loaded;
    const release = releaseFolder(opts.distro, info, { requestedSuite: suite, newestStable });
    const summary: PlanSuite = {
      suite,
      ...(info.codename !== undefined ? { codename: info.codename } : {}),
      ...(info.version !== undefined ? { version: info.version } : {}),
      ...(info.date !== undefined ? { date: info.date } : {}),
      ...(release !== undefined ? { release } : {}),
      releaseUrl,
      indexes: [],
    };
    summaries.push(summary);
    if (release === undefined) {
      report(suite, undefined, new SyncError(SyncErrorCode.UnknownSuite, `no release number for ${opts.distro} suite ${suite} (its Release has no Version and the codename is not known)`, { suite, url: releaseUrl }));
      return;
    }
    for (const debianArch of archs) {
      const arch = btfhubArch(debianArch);
      if (arch === undefined) {
        report(suite, debianArch, new SyncError(SyncErrorCode.UnknownArch, `architecture ${debianArch} has no btfhub-archive folder`, { suite, arch: debianArch }));
        continue;
      }
      if (info.architectures.length > 0 && !info.architectures.includes(debianArch)) {
        report(suite, debianArch, new SyncError(SyncErrorCode.UnknownArch, `not carried (the suite has ${info.architectures.join(' ')})`, { suite, arch: debianArch, url: releaseUrl }));
        continue;
      }
      // Every component of the suite is read before selection: an image and its modules may sit in different ones.
      tasks.push(
        (async () => {
          const where: SyncErrorContext = { suite, arch: debianArch };
          const reads = await Promise.all(components.map((component) => pool(() => readKernels(base, suite, info, component, debianArch, opts, limits, req(where)))));
          const indexes: PlanIndex[] = reads.map((r) => ({ arch: debianArch, url: r.url, sha256: r.sha256, kernels: 0, cached: r.cached }));
          const fromIndex = new Map<PackageRecord, number>();
          reads.forEach((r, i) => r.records.forEach((rec) => fromIndex.set(rec, i)));
          const picked = selectKernels(fromIndex.keys(), debianArch);
          for (const i of picked.ignored) ignored.push({ suite, arch: debianArch, ...i });
          for (const cand of picked.kernels) {
            const built = buildKernel(base, opts.distro, release, arch, debianArch, suite, cand.unameR, cand.packages);
            if ('reason' in built) {
              ignored.push({ suite, arch: debianArch, package: cand.packages[0].record.package, version: cand.packages[0].record.version, reason: built.reason });
              continue;
            }
            indexes[fromIndex.get(cand.packages[0].record) ?? 0].kernels++;
            found.push({ kernel: built, suiteIndex });
          }
          summary.indexes.push(...indexes);
        })().catch((err: unknown) => report(suite, debianArch, err)),
      );
    }
  });
  await Promise.all(tasks);

  // 4. One kernel per KREF; known ones set aside.
  const byKref = new Map<string, Found>();
  for (const f of found) {
    const prev = byKref.get(f.kernel.kref);
    if (prev === undefined) {
      byKref.set(f.kernel.kref, f);
      continue;
    }
    const order = compareDebVersions(f.kernel.packages[0].version, prev.kernel.packages[0].version);
    if (order > 0 || (order === 0 && f.suiteIndex < prev.suiteIndex)) byKref.set(f.kernel.kref, f);
  }
  const kernels: PlannedKernel[] = [];
  const known: string[] = [];
  for (const [kref, f] of byKref) {
    if (await opts.isKnown(kref)) known.push(kref);
    else kernels.push(f.kernel);
  }
  kernels.sort((a, b) => compareKernels(a, b));
  known.sort(compareKrefs);
  for (const s of summaries) s.indexes.sort((a, b) => (a.arch < b.arch ? -1 : a.arch > b.arch ? 1 : a.url < b.url ? -1 : 1));
  errors.sort((a, b) => suites.indexOf(a.suite) - suites.indexOf(b.suite) || (a.arch ?? '').localeCompare(b.arch ?? ''));
  ignored.sort((a, b) => suites.indexOf(a.suite) - suites.indexOf(b.suite) || a.arch.localeCompare(b.arch) || a.package.localeCompare(b.package));
  summaries.sort((a, b) => suites.indexOf(a.suite) - suites.indexOf(b.suite));
  return { mirror, distro: opts.distro, kernels, known, errors, ignored, suites: summaries };
}

function compareKernels(a: PlannedKernel, b: PlannedKernel): number {
  return compareKrefs(a.kref, b.kref);
}

/** Distro, release, arch as text; UNAME_R in kernel order. */
function compareKrefs(a: string, b: string): number {
  const ka = parseKref(a);
  const kb = parseKref(b);
  for (const k of ['distro', 'release', 'arch'] as const) {
    if (ka[k] !== kb[k]) return ka[k] < kb[k] ? -1 : 1;
  }
  return compareUnameR(ka.unameR, kb.unameR);
}

/** The loaded Release of a suite. */
export interface LoadedRelease {
  info: ReleaseInfo;
  url: string;
  kind: 'InRelease' | 'Release';
}

/**
 * Reads `dists/SUITE/InRelease` (clearsigned), or `dists/SUITE/Release` when there is none.
 * SYNC_UNKNOWN_SUITE when the mirror has neither.
 */
export async function loadRelease(
  base: URL,
  suite: string,
  limits: Pick<IndexLimits, 'maxReleaseBytes'>,
  req: RequestOptions,
  verify?: PlanOptions['verifyRelease'],
): Promise<LoadedRelease> {
  const dists = new URL(`dists/${checkSuiteName(suite)}/`, base).href;
  for (const kind of ['InRelease', 'Release'] as const) {
    const url = dists + kind;
    const bytes = await getBytes(url, limits.maxReleaseBytes, { ...req, where: { ...req.where, url } });
    if (bytes === undefined) continue;
    if (verify !== undefined) {
      try {
        await verify(bytes, { url, kind, suite });
      } catch (err) {
        if (err instanceof SyncError && (err.code === SyncErrorCode.Aborted || err.code === SyncErrorCode.BadSignature)) throw err;
        const why = err instanceof Error ? err.message : String(err);
        throw new SyncError(SyncErrorCode.BadSignature, `${url} failed verification: ${why.split('\n')[0].toLowerCase()}`, { ...req.where, url }, { cause: err });
      }
    }
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
    try {
      const body = kind === 'InRelease' ? stripClearsign(text, url) : isClearsigned(text) ? stripClearsign(text, url) : text;
      return { info: parseRelease(body, url), url, kind };
    } catch (err) {
      if (err instanceof SyncError) throw new SyncError(err.code, err.reason, { ...req.where, url }, { cause: err });
      throw err;
    }
  }
  throw new SyncError(SyncErrorCode.UnknownSuite, `the mirror has no ${dists}InRelease nor Release`, { ...req.where, url: `${dists}InRelease`, status: 404 });
}

/** The kernel records of one COMPONENT/binary-ARCH index, from the cache or the mirror. */
async function readKernels(
  base: URL,
  suite: string,
  info: ReleaseInfo,
  component: string,
  arch: string,
  opts: PlanOptions,
  limits: IndexLimits,
  req: RequestOptions,
): Promise<{ records: PackageRecord[]; url: string; sha256: string; cached: boolean }> {
  const distsUrl = new URL(`dists/${suite}`, base).href;
  const choices = pickPackagesIndex(info, component, arch, opts.compressions ?? DEFAULT_INDEX_COMPRESSIONS);
  if (choices.length === 0) {
    throw new SyncError(SyncErrorCode.BadIndex, `its Release lists no ${component}/binary-${arch}/Packages index`, { ...req.where, url: `${distsUrl}/Release` });
  }
  for (const { file, compression } of choices) {
    const key = indexCacheKey(file.sha256);
    const plainUrl = `${distsUrl}/${file.path}`;
    // A cache that fails is a miss: it only saves time.
    const hit = await Promise.resolve()
      .then(() => opts.cache?.get(key))
      .catch(() => undefined);
    if (hit !== undefined) return { records: hit, url: plainUrl, sha256: file.sha256, cached: true };
    // A compression the Release lists but the mirror lacks (404): try the next one.
    const got = await fetchVerified(indexUrls(distsUrl, info, file), file, limits, req);
    if (got === undefined) continue;
    const records = await scanPackagesIndex(got.bytes, compression, got.url, limits, { ...req.where, url: got.url });
    await Promise.resolve()
      .then(() => opts.cache?.set(key, records))
      .catch(() => undefined);
    return { records, url: plainUrl, sha256: file.sha256, cached: false };
  }
  const tried = choices.map((c) => c.file.path.slice(c.file.path.lastIndexOf('/') + 1)).join(', ');
  throw new SyncError(SyncErrorCode.BadIndex, `its Release lists ${tried} under ${distsUrl}/${component}/binary-${arch}/ but the mirror has none of them (http 404)`, {
    ...req.where,
    url: `${distsUrl}/${choices[0].file.path}`,
    status: 404,
  });
}

/** A candidate with URLs and a KREF, or why it cannot be planned. */
function buildKernel(
  base: URL,
  distro: DebDistro,
  release: string,
  arch: string,
  debianArch: string,
  suite: string,
  unameR: string,
  chosen: { record: PackageRecord; role: 'image' | 'modules' | 'debug' }[],
): PlannedKernel | { reason: string } {
  let kref: string;
  try {
    kref = formatKref(parseKref(formatKref({ distro, release, arch, unameR })));
  } catch {
    return { reason: `${unameR} does not fit a kernel reference` };
  }
  const packages: PlannedPackage[] = [];
  for (const { record: r, role } of chosen) {
    if (r.filename === undefined || r.size === undefined || r.sha256 === undefined) {
      return { reason: `${r.package} has no ${r.filename === undefined ? 'Filename' : r.size === undefined ? 'valid Size' : 'valid SHA256'}` };
    }
    let url: string;
    try {
      url = poolUrl(base, r.filename, { suite, arch: debianArch });
    } catch (err) {
      return { reason: err instanceof SyncError ? err.reason : String(err) };
    }
    packages.push({ name: r.package, version: r.version, filename: r.filename, url, size: r.size, sha256: r.sha256, role });
  }
  return { kref, distro, release, arch, debianArch, unameR, suite, packages };
}

/** Runs at most `n` of the given jobs at once. */
function limiter(n: number): <T>(job: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(job: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await job();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
