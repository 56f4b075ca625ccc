import type { Catalog } from './db.js';
import type { BlobStore } from './blob-store.js';
import { sha256Hex } from './blob-store.js';
import { PkgError, PkgErrorCode, paholeConverter, paholeVersion, readKernelPackage, type KernelPackage, type ModuleFilter } from '@btf-atlas/pkg';

export type { ModuleFilter };
import { CatalogError } from './errors.js';
import { MAX_INPUT_FILE_BYTES, readInputFile } from './input-file.js';
import { formatKref, parseKref } from './kernel-ref.js';
import { krefFromPackage } from './package-kref.js';
import { fillKernelLayouts, prepareKernel, recordFailure, writeKernel, type IngestOptions, type IngestResult } from './ingest.js';
import type { ScanItem } from './scan.js';

/** What an ingest job carries (BullMQ job data, or an in-process call): one kernel found by a scan. */
export interface IngestJobData {
  /** The KREF; empty for packages whose own metadata names the kernel (read when the job runs). */
  kernel: string;
  path: string;
  source: string;
  modules: { name: string; path: string; source: string }[];
  replace?: boolean;
  /** Distro packages or kernel images of this kernel: its BTF is extracted from them (libs/pkg). */
  packages?: { path: string; source: string }[];
  /** For packages: which modules' BTF to ingest (default all), and what their metadata may not say. */
  packageOptions?: PackageJobOptions;
  /**
   * Packages to download first (a kernel planned by sync): the queue's job runner fetches them, checks their
   * size and sha256, and passes their paths as `packages`.
   */
  fetch?: FetchSpec[];
  /**
   * The kernel's debug package (Debian's `linux-image-UNAME-dbg`): fetched and read (its DWARF vmlinux turned into
   * BTF by pahole) only when the image holds no BTF.
   */
  fetchDebug?: FetchSpec;
}

/** A package an ingest job downloads before reading it. */
export interface FetchSpec {
  name: string;
  url: string;
  /** Path below the mirror root. */
  filename: string;
  size: number;
  sha256: string;
}

/** How an ingest job reads packages: `--modules`, `--distro`, `--release`. */
export interface PackageJobOptions {
  modules?: ModuleFilter;
  distro?: string;
  release?: string;
  /**
   * The packages are debug packages (`-dbg`: gigabytes of DWARF): read with a larger stream cap (still streamed,
   * memory bounded by the kept members), and modules only when named (each is a pahole run).
   */
  debug?: boolean;
}

/** Debug package files: Debian's `linux-image-UNAME-dbg_…deb`, Ubuntu's `…-dbgsym_…ddeb`, rpm `kernel-debuginfo-…`. */
const DEBUG_PACKAGE = /-dbg(?:sym)?_[^/]*\.d?deb$|-debuginfo-[^/]*\.rpm$/;

/** `--modules` / `?modules=`: `all` (also when unset), `none`, or comma-separated module names. */
export function parseModuleFilter(value: string | undefined): ModuleFilter {
  if (value === undefined || value === 'all') return 'all';
  if (value === 'none') return 'none';
  return value.split(',').map((m) => m.trim()).filter((m) => m !== '');
}

/** Stream cap of a debug package's data.tar (an i386 -dbg unpacks to 3.4 GB; the default cap is 1 GiB). */
const DEBUG_PACKAGE_MAX_STREAM = 16 * 1024 * 1024 * 1024;

/** The job data for a scanned kernel. */
export function jobDataOf(item: ScanItem, replace = false, packageOptions?: PackageJobOptions): IngestJobData {
  const data: IngestJobData = { kernel: item.kref ? formatKref(item.kref) : '', path: item.path, source: item.source, modules: item.modules, replace };
  if (item.packages) {
    data.packages = item.packages;
    if (packageOptions) data.packageOptions = packageOptions;
  }
  return data;
}

/**
 * The outside tools ingest may need, checked once at a worker's start: pahole (dwarves) turns kernels shipped
 * without BTF (DWARF only: a distro's -dbg vmlinux) into BTF. Missing, such kernels fail with PKG_PAHOLE_MISSING.
 */
export async function checkIngestTools(): Promise<{ pahole?: string; warning?: string }> {
  try {
    return { pahole: await paholeVersion() };
  } catch (err) {
    return { warning: `${(err as Error).message}; kernels without BTF (DWARF only) cannot be ingested until it is` };
  }
}

/** What a job is about, for logs and progress before its KREF is known: the KREF, else the package's file. */
export function jobLabel(data: IngestJobData): string {
  return data.kernel || data.source;
}

export interface ProcessDeps {
  catalog: Catalog;
  blobs: BlobStore;
  onProgress?: (fraction: number, phase: string) => void;
  jobId?: string;
}

/**
 * The ingest processor: a plain function of the job's data and its dependencies, run by the BullMQ worker and
 * in-process alike. Reads the kernel's files, decodes and normalizes them, then writes one transaction. A bad
 * input's reason is recorded in the catalog before the error is rethrown.
 */
export async function processIngest(data: IngestJobData, deps: ProcessDeps): Promise<IngestResult> {
  const clock = phaseClock(deps.onProgress);
  const result = await ingestOnce(data, { ...deps, onProgress: clock.mark });
  const phaseMs = clock.stop();
  return Object.keys(phaseMs).length > 0 ? { ...result, phaseMs } : result;
}

/**
 * Times the phases of one ingest from its progress calls: each call names the phase that starts then, which lasts
 * until the next call; a phase entered twice (a package's `unpack`, then its BTF's) adds up. `done` ends the last.
 */
function phaseClock(forward: ProcessDeps['onProgress']): { mark: (fraction: number, phase: string) => void; stop: () => Record<string, number> } {
  const totals: Record<string, number> = {};
  let current: { phase: string; since: number } | undefined;
  const close = (now: number): void => {
    if (current) totals[current.phase] = (totals[current.phase] ?? 0) + (now - current.since);
    current = undefined;
  };
  return {
    mark: (fraction, phase) => {
      const now = performance.now();
      close(now);
      if (phase !== 'done') current = { phase, since: now };
      forward?.(fraction, phase);
    },
    stop: () => {
      close(performance.now());
      return totals;
    },
  };
}

async function ingestOnce(data: IngestJobData, deps: ProcessDeps): Promise<IngestResult> {
  if (data.fetch && data.fetch.length > 0) {
    throw new CatalogError('ARCHIVE_BAD_LAYOUT', `${data.kernel || data.source}: the packages must be downloaded before ingest (a queue job does it)`);
  }
  // Kernels of a catalog made before pointer sizes and byte orders were recorded get theirs before any write.
  await fillKernelLayouts(deps.catalog, deps.blobs);
  if (data.packages) return processPackages(data, data.packages, deps);
  return recordingFailure(data, () => data.kernel, deps, async () => {
    const kref = parseKref(data.kernel);
    // Job inputs are regular files under the input cap: a FIFO or a device is refused before it is read.
    const bytes = await readJobInput(data.path);
    const moduleBytes: Uint8Array[] = [];
    for (const m of data.modules) moduleBytes.push(await readJobInput(m.path));
    const unchanged = unchangedKernel(deps.catalog, data, bytes, moduleBytes);
    if (unchanged) return unchanged;
    const modules = data.modules.map((m, i) => ({ name: m.name, source: m.source, bytes: moduleBytes[i] }));
    return prepareAndWrite({ kref, file: { source: data.source, bytes }, modules }, data, deps);
  });
}

/** A job's input file, whole: a regular file of at most {@link MAX_INPUT_FILE_BYTES} (PkgError PKG_INPUT_* otherwise). */
export function readJobInput(path: string): Promise<Uint8Array> {
  return readInputFile(path, { max: MAX_INPUT_FILE_BYTES, regularOnly: true });
}

/** Decodes, validates and normalizes one kernel, then writes it in one transaction (the tail of every ingest). */
async function prepareAndWrite(input: Parameters<typeof prepareKernel>[0], data: IngestJobData, deps: ProcessDeps): Promise<IngestResult> {
  const opts: IngestOptions = { replace: data.replace, onProgress: deps.onProgress };
  const prepared = await prepareKernel(input, opts);
  deps.onProgress?.(0.8, 'write');
  const result = writeKernel(deps.catalog, deps.blobs, prepared, opts);
  deps.onProgress?.(1, 'done');
  return result;
}

/** Runs an ingest; a failure's reason is recorded in the catalog (under the KREF when known) and rethrown. */
async function recordingFailure(data: IngestJobData, kernel: () => string | null, deps: ProcessDeps, run: () => Promise<IngestResult>): Promise<IngestResult> {
  try {
    return await run();
  } catch (err) {
    try {
      recordFailure(deps.catalog, data.source, kernel() || null, err, deps.jobId);
    } catch {
      // The failure is still reported to the caller; recording it is best effort.
    }
    throw err;
  }
}

/**
 * The skipped result when the catalog already holds this kernel from exactly these files (the same input and
 * module file bytes): re-ingesting is then a no-op that decodes nothing.
 */
function unchangedKernel(
  catalog: Catalog,
  data: IngestJobData,
  bytes: Uint8Array,
  moduleBytes: Uint8Array[],
  givenModules: { name: string }[] = data.modules,
): IngestResult | undefined {
  const k = parseKref(data.kernel);
  const row = catalog.sqlite
    .prepare('SELECT id, source_sha256 AS sourceSha256, type_count AS typeCount FROM kernels WHERE distro = ? AND release = ? AND arch = ? AND uname_r = ?')
    .get(k.distro, k.release, k.arch, k.unameR) as { id: number; sourceSha256: string; typeCount: number } | undefined;
  if (!row || row.sourceSha256 !== sha256Hex(bytes)) return undefined;
  const stored = catalog.sqlite
    .prepare('SELECT name, source_sha256 AS sha FROM modules WHERE kernel_id = ? AND source_sha256 IS NOT NULL ORDER BY name')
    .all(row.id) as { name: string; sha: string }[];
  const given = givenModules.map((m, i) => ({ name: m.name, sha: sha256Hex(moduleBytes[i]) })).sort((a, b) => (a.name < b.name ? -1 : 1));
  if (stored.length !== given.length || stored.some((s, i) => s.name !== given[i].name || s.sha !== given[i].sha)) return undefined;
  const modules = (catalog.sqlite.prepare('SELECT name FROM modules WHERE kernel_id = ? ORDER BY name').pluck().all(row.id)) as string[];
  return { kernel: data.kernel, status: 'skipped', types: row.typeCount, modules, shapes: 0, newShapes: 0, newSets: 0, ms: 0 };
}

/**
 * A kernel from distro packages or kernel images: the BTF of vmlinux (from whichever package holds the image)
 * and of the modules asked for (from any of them), named by the packages' own metadata unless the job names it.
 * The raw vmlinux BTF is what the catalog keeps as the kernel's source (the mirror builds its tarball from it).
 */
async function processPackages(data: IngestJobData, packages: { path: string; source: string }[], deps: ProcessDeps): Promise<IngestResult> {
  const po = data.packageOptions ?? {};
  let kernel: string | null = data.kernel || null;
  return recordingFailure(data, () => kernel, deps, async () => {
    deps.onProgress?.(0.02, 'unpack');
    const read: { source: string; pkg: KernelPackage }[] = [];
    const isDebug = (p: { source: string }): boolean => po.debug === true || DEBUG_PACKAGE.test(p.source);
    const haveDebug = packages.some(isDebug);
    for (const p of packages) {
      const debug = isDebug(p);
      const modules = debug && !Array.isArray(po.modules) ? 'none' : (po.modules ?? 'all');
      const limits = debug ? { maxDecompressedSize: DEBUG_PACKAGE_MAX_STREAM } : undefined;
      try {
        read.push({ source: p.source, pkg: await readKernelPackage(p.path, { modules, dwarf: paholeConverter(), limits }) });
      } catch (err) {
        // An image built without BTF next to its debug package: the debug package's DWARF gives the BTF.
        if (!debug && haveDebug && err instanceof PkgError && err.code === PkgErrorCode.NoBtf) continue;
        throw err;
      }
    }
    const withImage = read.filter((r) => r.pkg.vmlinux);
    if (withImage.length === 0) {
      throw new CatalogError('ARCHIVE_BAD_LAYOUT', `${packages.map((p) => p.source).join(', ')}: no kernel image among the packages (give the package with vmlinuz, e.g. linux-image-* or linux-binary-*)`);
    }
    if (withImage.length > 1) {
      throw new CatalogError('ARCHIVE_BAD_LAYOUT', `${withImage.map((r) => r.source).join(' and ')} both hold a kernel image; ingest them separately`);
    }
    const main = withImage[0];
    const unames = new Set(read.map((r) => r.pkg.meta.unameR).filter((u): u is string => u !== undefined));
    if (unames.size > 1) throw new CatalogError('ARCHIVE_BAD_LAYOUT', `the packages are of different kernels: ${[...unames].join(', ')}`);
    const kref = data.kernel
      ? parseKref(data.kernel)
      : krefFromPackage({ format: main.pkg.format, ...main.pkg.meta, unameR: main.pkg.meta.unameR ?? [...unames][0] }, { distro: po.distro, release: po.release });
    kernel = formatKref(kref);
    const found = read.flatMap((r) => r.pkg.modules.map((m) => ({ name: m.name, source: `${r.source}:${m.from}`, bytes: m.btf })));
    const vmlinux = main.pkg.vmlinux!;
    const file = { source: `${main.source}:${vmlinux.from}`, bytes: vmlinux.btf };
    const unchanged = unchangedKernel(deps.catalog, { ...data, kernel }, file.bytes, found.map((m) => m.bytes), found);
    if (unchanged) return unchanged;
    deps.onProgress?.(0.3, 'decode');
    return prepareAndWrite({ kref, file, modules: found }, data, deps);
  });
}
