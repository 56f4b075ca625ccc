import { UnrecoverableError } from 'bullmq';
import {
  archiveFileReady, deriveKernelFiles, isInputError, jobDataOf, kernelSourceSha256, processIngest, readJobInput, scanPath, sha256Hex,
  type BlobStore, type Catalog, type DerivedFiles, type IngestJobData, type IngestResult,
} from '@btf-atlas/catalog';
import type { CoreCheckAnswer } from '@btf-atlas/dryrun';
import type { AnyJobData, DeriveJobData, JobName, ScanJobData } from './queues.js';
import { CORE_CHECK_JOB } from './core-job-name.js';
import { debugFallback, downloadDirOf, fetchForIngest, finalFailure, runSync, type SyncJobData, type SyncResult } from './sync-jobs.js';

/** What a processor needs of a BullMQ job (a Job in process, a SandboxedJob in a child process). */
export interface JobLike {
  id?: string;
  name: string;
  data: unknown;
  updateProgress(progress: number): Promise<void>;
}

export interface JobDeps {
  catalog: Catalog;
  blobs: BlobStore;
  /** Where a scan or sync enqueues its kernels, and an ingest its derive job (the BullMQ queue, or the in-process runner). */
  queue: { add(name: JobName, data: AnyJobData): Promise<unknown> };
  /** Where sync downloads packages and keeps index caches (default `<catalog>.downloads/`). */
  downloadDir?: string;
  log?: (obj: Record<string, unknown>, msg: string) => void;
}

/** Result of a scan job. */
export interface ScanResult {
  found: number;
  enqueued: string[];
  present: number;
}

/** True for failures that retrying cannot fix: the input itself is bad. */
export function isBadInput(err: unknown): boolean {
  return isInputError(err);
}

/**
 * True when the catalog already holds this kernel from exactly this file. A file that cannot be read as a job
 * input (a FIFO, too large) is not known: its ingest job fails with the reason.
 */
async function catalogHas(catalog: Catalog, data: IngestJobData): Promise<boolean> {
  // A package's kernel is named by its metadata, read by the ingest job itself (which skips a known kernel).
  if (!data.kernel || data.packages) return false;
  const [distro, release, arch, unameR] = data.kernel.split('/');
  const sha = kernelSourceSha256(catalog, { distro, release, arch, unameR });
  if (sha === undefined) return false;
  try {
    return sha === sha256Hex(await readJobInput(data.path));
  } catch (err) {
    if (isInputError(err)) return false;
    throw err;
  }
}

/**
 * Enqueues the derive job of a kernel whose derived files are not all there yet (after an ingest, whatever its
 * status: a kernel skipped as known gets a job that failed before done again).
 */
async function enqueueDerive(deps: JobDeps, kernel: string): Promise<void> {
  if (!archiveFileReady(deps.catalog, deps.blobs, kernel, 'tar.xz')) await deps.queue.add('derive', { kernel } satisfies DeriveJobData);
}

/**
 * Runs one job: `ingest` (decode, normalize and write one kernel, then enqueue its `derive` job), `derive` (build
 * and record one kernel's tarball), `scan` (walk an archive tree and enqueue the kernels the catalog lacks),
 * `sync` or `core-check`. Bad input becomes an UnrecoverableError, so BullMQ fails the job once instead of
 * retrying; anything else is rethrown and retried with backoff.
 */
export async function runJob(job: JobLike, deps: JobDeps): Promise<IngestResult | ScanResult | SyncResult | CoreCheckAnswer | DerivedFiles> {
  const log = deps.log ?? (() => undefined);
  if (job.name === CORE_CHECK_JOB) {
    // Loaded on demand: an ingest child never loads the dry run.
    const { runCoreCheckJob } = await import('./core-jobs.js');
    const answer = await runCoreCheckJob(job, { catalog: deps.catalog, blobs: deps.blobs });
    log({ job: job.id, object: answer.object.sha256, kernels: answer.kernels.length }, 'core-checked');
    return answer;
  }
  const downloadDir = downloadDirOf(deps.catalog, deps.downloadDir);
  try {
    if (job.name === 'derive') {
      const derived = await deriveKernelFiles(deps.catalog, deps.blobs, (job.data as DeriveJobData).kernel);
      await job.updateProgress(100);
      log({ job: job.id, kernel: derived.kernel, built: derived.built, archiveSize: derived.archive.size, ms: Math.round(derived.ms) }, 'derived');
      return derived;
    }
    if (job.name === 'sync') {
      const result = await runSync(job.data as SyncJobData, {
        catalog: deps.catalog,
        downloadDir,
        enqueue: (d) => deps.queue.add('ingest', d),
        progress: (pct) => job.updateProgress(pct),
      });
      await job.updateProgress(100);
      log({ job: job.id, mirror: result.mirror, enqueued: result.enqueued.length, known: result.known, errors: result.errors.length }, 'synced');
      return result;
    }
    if (job.name === 'scan') {
      const data = job.data as ScanJobData;
      const items = scanPath(data.path);
      const enqueued: string[] = [];
      let present = 0;
      for (const item of items) {
        const d = jobDataOf(item, data.replace);
        if (!data.replace && (await catalogHas(deps.catalog, d))) {
          present++;
          continue;
        }
        await deps.queue.add('ingest', d);
        enqueued.push(d.kernel || d.source);
      }
      await job.updateProgress(100);
      return { found: items.length, enqueued, present };
    }
    let data = job.data as IngestJobData;
    let cleanup = (): void => undefined;
    if (data.fetch && data.fetch.length > 0) {
      await job.updateProgress(1);
      ({ data, cleanup } = await fetchForIngest({ ...data, fetch: data.fetch }, downloadDir));
    }
    let last = -1;
    let result: IngestResult;
    try {
      result = await processIngest(data, {
        catalog: deps.catalog,
        blobs: deps.blobs,
        jobId: job.id,
        onProgress: (f) => {
          const pct = Math.round(f * 100);
          if (pct !== last) {
            last = pct;
            void job.updateProgress(pct).catch(() => undefined);
          }
        },
      });
    } catch (err) {
      // Downloads of a package that is bad input are of no use to a retry; keep them for a transient failure.
      if (finalFailure(err)) cleanup();
      const fallback = await debugFallback(data, err, downloadDir);
      if (!fallback) {
        // A synced kernel without BTF and without a debug package in the repository: say so, it is why it stays out.
        if (data.fetch && !data.fetchDebug && err instanceof Error && (err as { code?: unknown }).code === 'PKG_NO_BTF') {
          err.message += '; the repository has no debug package (-dbg) to make its btf from';
        }
        throw err;
      }
      log({ job: job.id, kernel: data.kernel }, 'image holds no btf: reading the debug package with pahole');
      try {
        result = await processIngest(fallback.data, { catalog: deps.catalog, blobs: deps.blobs, jobId: job.id });
      } catch (err2) {
        if (finalFailure(err2)) fallback.cleanup();
        throw err2;
      }
      fallback.cleanup();
    }
    cleanup();
    log({ job: job.id, kernel: result.kernel, status: result.status, newShapes: result.newShapes, ms: Math.round(result.ms) }, 'ingested');
    // The kernel is committed: a derive job that cannot be enqueued (Redis gone meanwhile) does not fail the ingest;
    // the mirror builds the tarball on its first request.
    await enqueueDerive(deps, result.kernel).catch((err: Error) => log({ job: job.id, kernel: result.kernel, err: err.message }, 'derive job not enqueued'));
    return result;
  } catch (err) {
    const e = err as Error & { code?: string };
    log({ job: job.id, name: job.name, code: e.code, err: e.message }, 'job failed');
    if (isBadInput(err)) throw new UnrecoverableError(`${e.code}: ${e.message}`);
    throw err;
  }
}
