import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UnrecoverableError } from 'bullmq';
import { isInputError, kernelSourceSha256, type Catalog, type FetchSpec, type IngestJobData, type ModuleFilter } from '@btf-atlas/catalog';
import {
  compareDebVersions, defaultDebianMirror, directoryIndexCache, downloadKernel, isRetryable, isSyncError, loadSyncConfig, planSync,
  type DebDistro, type PlanError, type PlannedKernel,
} from '@btf-atlas/sync';

/** A sync job: enqueue the kernels of a Debian-format repository's suites and archs that the catalog lacks. */
export interface SyncJobData {
  distro: DebDistro;
  suites: string[];
  archs: string[];
  /** Archive root; default BTF_ATLAS_DEBIAN_MIRROR, else the machine's apt sources (Debian only). */
  mirror?: string;
  /** Module BTF to ingest with each kernel (default all). */
  modules?: ModuleFilter;
  /** At most this many kernels per suite and arch, the newest first (default all). */
  limit?: number;
}

/** What a sync job did. */
export interface SyncResult {
  mirror: string;
  /** KREFs enqueued (downloaded and ingested by the workers). */
  enqueued: string[];
  /** KREFs the repository offers that the catalog already has. */
  known: number;
  /** Suites or archs that could not be read, and why; the others were planned all the same. */
  errors: PlanError[];
}

/** Where downloads and index caches live: `<catalog>.downloads/` unless configured. */
export function downloadDirOf(catalog: Catalog, configured?: string): string {
  return configured ?? `${catalog.path}.downloads`;
}

/** Plans a sync (one pass over the suites' indexes) and enqueues one ingest job per kernel the catalog lacks. */
export async function runSync(
  data: SyncJobData,
  deps: { catalog: Catalog; downloadDir: string; enqueue: (job: IngestJobData) => Promise<unknown>; progress?: (pct: number) => Promise<void> },
): Promise<SyncResult> {
  const mirror = data.mirror ?? (await defaultDebianMirror({ override: loadSyncConfig(process.env).debianMirror }));
  const cacheDir = join(deps.downloadDir, 'indexes');
  mkdirSync(cacheDir, { recursive: true });
  const plan = await planSync({
    mirror,
    suites: data.suites,
    archs: data.archs,
    distro: data.distro,
    cache: directoryIndexCache(cacheDir),
    isKnown: (kref) => {
      const [distro, release, arch, unameR] = kref.split('/');
      return kernelSourceSha256(deps.catalog, { distro, release, arch, unameR }) !== undefined;
    },
  });
  await deps.progress?.(50);
  const enqueued: string[] = [];
  for (const k of newest(plan.kernels, data.limit)) {
    const spec = (p: PlannedKernel['packages'][number]): FetchSpec => ({ name: p.name, url: p.url, filename: p.filename, size: p.size, sha256: p.sha256 });
    const fetch = k.packages.filter((p) => p.role !== 'debug').map(spec);
    const debug = k.packages.find((p) => p.role === 'debug');
    const source = k.packages.filter((p) => p.role !== 'debug').map((p) => p.filename.split('/').pop()).join(' + ');
    await deps.enqueue({
      ...(debug ? { fetchDebug: spec(debug) } : {}),
      kernel: k.kref,
      path: '',
      source,
      modules: [],
      packages: [],
      packageOptions: { modules: data.modules ?? 'all' },
      fetch,
    });
    enqueued.push(k.kref);
  }
  return { mirror: plan.mirror, enqueued, known: plan.known.length, errors: plan.errors };
}

/**
 * Downloads the packages of a planned kernel into `dir/KREF-safe/` (a part file resumes where an interrupted
 * download stopped; sizes and sha256s are checked) and returns the job with their paths as its packages.
 */
export async function fetchForIngest(data: IngestJobData & { fetch: FetchSpec[] }, dir: string): Promise<{ data: IngestJobData; cleanup: () => void }> {
  const where = join(dir, 'packages', data.kernel.replace(/\//g, '_'));
  mkdirSync(where, { recursive: true });
  try {
    const got = await downloadKernel({ kref: data.kernel, packages: data.fetch.map((f) => ({ ...f, version: '', role: 'image' as const })) }, where);
    const packages = got.map((g) => ({ path: g.result.path, source: g.package.filename.split('/').pop() ?? g.package.filename }));
    return { data: { ...data, packages, path: packages[0]?.path ?? '', fetch: undefined }, cleanup: () => rmSync(where, { recursive: true, force: true }) };
  } catch (err) {
    // A transient network failure keeps the part files (the retry resumes them); anything else is final.
    if (isSyncError(err) && !isRetryable(err)) throw new UnrecoverableError(`${err.code}: ${err.message}`);
    throw err;
  }
}

/** True when a failed ingest's downloads are of no further use (bad input: a retry would fail alike). */
export function finalFailure(err: unknown): boolean {
  return isInputError(err) || err instanceof UnrecoverableError;
}

/** The newest `limit` kernels of each suite and arch (by their image package's Debian version), in KREF order. */
function newest(kernels: PlannedKernel[], limit: number | undefined): PlannedKernel[] {
  if (limit === undefined) return kernels;
  const groups = new Map<string, PlannedKernel[]>();
  for (const k of kernels) {
    const key = `${k.suite}/${k.debianArch}`;
    const list = groups.get(key);
    if (list) list.push(k);
    else groups.set(key, [k]);
  }
  const version = (k: PlannedKernel): string => (k.packages.find((p) => p.role === 'image') ?? k.packages[0]).version;
  const kept = new Set<PlannedKernel>();
  for (const list of groups.values()) {
    list.sort((a, b) => compareDebVersions(version(b), version(a)) || (a.kref < b.kref ? -1 : 1));
    for (const k of list.slice(0, Math.max(0, limit))) kept.add(k);
  }
  return kernels.filter((k) => kept.has(k));
}

/**
 * For a kernel whose image holds no BTF (PKG_NO_BTF: built without CONFIG_DEBUG_INFO_BTF) and whose debug package
 * the repository has: the same job over the debug package instead, downloaded now (hundreds of MB; its DWARF
 * vmlinux becomes BTF through pahole). Undefined when there is no such fallback.
 */
export async function debugFallback(data: IngestJobData, err: unknown, dir: string): Promise<{ data: IngestJobData; cleanup: () => void } | undefined> {
  if (!data.fetchDebug || (err as { code?: unknown }).code !== 'PKG_NO_BTF') return undefined;
  const { packageOptions, fetchDebug, ...rest } = data;
  return fetchForIngest({ ...rest, packageOptions: { ...packageOptions, debug: true }, fetch: [fetchDebug], packages: [] }, dir);
}
