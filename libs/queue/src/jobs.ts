import { readFileSync } from 'node:fs';
import { UnrecoverableError } from 'bullmq';
import { BtfError } from '@btf-atlas/btf';
import {
  CatalogError, jobDataOf, processIngest, scanPath, sha256Hex,
  type BlobStore, type Catalog, type IngestJobData, type IngestResult,
} from '@btf-atlas/catalog';
import type { JobName, ScanJobData } from './queues.js';

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
  /** Where a scan enqueues its kernels (the BullMQ queue, or the in-process runner). */
  queue: { add(name: JobName, data: IngestJobData): Promise<unknown> };
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
  return err instanceof BtfError || (err instanceof CatalogError && err.code !== 'CATALOG_CORRUPT');
}

/** True when the catalog already holds this kernel from exactly this file. */
function catalogHas(catalog: Catalog, data: IngestJobData): boolean {
  const [distro, release, arch, unameR] = data.kernel.split('/');
  const row = catalog.sqlite
    .prepare('SELECT source_sha256 AS sha FROM kernels WHERE distro = ? AND release = ? AND arch = ? AND uname_r = ?')
    .get(distro, release, arch, unameR) as { sha: string } | undefined;
  return row !== undefined && row.sha === sha256Hex(readFileSync(data.path));
}

/**
 * Runs one job: `ingest` (decode, normalize and write one kernel) or `scan` (walk an archive tree and enqueue
 * the kernels the catalog lacks). Bad input becomes an UnrecoverableError, so BullMQ fails the job once instead
 * of retrying; anything else is rethrown and retried with backoff.
 */
export async function runJob(job: JobLike, deps: JobDeps): Promise<IngestResult | ScanResult> {
  const log = deps.log ?? (() => undefined);
  try {
    if (job.name === 'scan') {
      const data = job.data as ScanJobData;
      const items = scanPath(data.path);
      const enqueued: string[] = [];
      let present = 0;
      for (const item of items) {
        const d = jobDataOf(item, data.replace);
        if (!data.replace && catalogHas(deps.catalog, d)) {
          present++;
          continue;
        }
        await deps.queue.add('ingest', d);
        enqueued.push(d.kernel);
      }
      await job.updateProgress(100);
      return { found: items.length, enqueued, present };
    }
    const data = job.data as IngestJobData;
    let last = -1;
    const result = await processIngest(data, {
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
    log({ job: job.id, kernel: result.kernel, status: result.status, newShapes: result.newShapes, ms: Math.round(result.ms) }, 'ingested');
    return result;
  } catch (err) {
    const e = err as Error & { code?: string };
    log({ job: job.id, name: job.name, code: e.code, err: e.message }, 'job failed');
    if (isBadInput(err)) throw new UnrecoverableError(`${e.code}: ${e.message}`);
    throw err;
  }
}
