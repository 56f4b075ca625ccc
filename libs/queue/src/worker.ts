import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'bullmq';
import type { IngestResult } from '@btf-atlas/catalog';
import { openCatalog } from '@btf-atlas/catalog';
import { INGEST_QUEUE, connectionOf, type AnyJobData, type JobName, type QueueConfig } from './queues.js';
import type { SyncResult } from './sync-jobs.js';
import type { ScanResult } from './jobs.js';

export interface WorkerOptions {
  /** The catalog file. */
  dbPath: string;
  /** Jobs run at once in this worker, each in its own child process (default 1). */
  concurrency?: number;
  /** How long a job's lock lasts before a dead worker's job is taken over (default 30 s). */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

/** The worker type of the ingest queue. */
export type IngestWorker = Worker<AnyJobData, IngestResult | ScanResult | SyncResult, JobName>;

/** The compiled sandboxed processor beside this file. */
const PROCESSOR = fileURLToPath(new URL('./sandbox.js', import.meta.url));

/**
 * Starts a BullMQ worker for ingest and scan jobs over the catalog at `dbPath`. Jobs run in sandboxed child
 * processes (see sandbox.ts). Several workers may run at once: their write transactions queue on SQLite's lock
 * (WAL, a long busy timeout, BEGIN IMMEDIATE), so none fails on SQLITE_BUSY.
 */
export function startWorker(cfg: QueueConfig, opts: WorkerOptions): { worker: IngestWorker; close: () => Promise<void> } {
  // Apply migrations once here, before any child opens the file, and tell the children where things are.
  openCatalog(opts.dbPath).close();
  process.env.BTF_ATLAS_DB = opts.dbPath;
  process.env.REDIS_URL = cfg.redisUrl;
  process.env.BTF_ATLAS_QUEUE_PREFIX = cfg.prefix ?? 'btf-atlas';
  const worker: IngestWorker = new Worker(INGEST_QUEUE, PROCESSOR, {
    name: `${hostname()}:${process.pid}`,
    connection: connectionOf(cfg.redisUrl),
    prefix: cfg.prefix ?? 'btf-atlas',
    concurrency: opts.concurrency ?? 1,
    lockDuration: opts.lockDurationMs ?? 30_000,
    stalledInterval: opts.stalledIntervalMs ?? 30_000,
    maxStalledCount: 2,
  });
  return { worker, close: () => worker.close() };
}
