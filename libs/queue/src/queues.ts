import { Queue, QueueEvents, type ConnectionOptions, type JobsOptions } from 'bullmq';
import type { IngestJobData } from '@btf-atlas/catalog';
import type { SyncJobData } from './sync-jobs.js';

/** The queue every ingest and scan job goes through. */
export const INGEST_QUEUE = 'btf-ingest';

/** Where the queue lives: a Redis URL and a key prefix (tests use a unique prefix per run). */
export interface QueueConfig {
  redisUrl: string;
  /** Key prefix in Redis (default `btf-atlas`). */
  prefix?: string;
}

/** A scan job: walk an archive tree and enqueue what the catalog lacks. */
export interface ScanJobData {
  path: string;
  replace?: boolean;
}

export type JobName = 'ingest' | 'scan' | 'sync';

/** Data of any job on the queue. */
export type AnyJobData = IngestJobData | ScanJobData | SyncJobData;

/** BullMQ connection options for a Redis URL (workers need maxRetriesPerRequest null). */
export function connectionOf(redisUrl: string): ConnectionOptions {
  const u = new URL(redisUrl);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`REDIS_URL must be redis:// or rediss://, not ${u.protocol}`);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    maxRetriesPerRequest: null,
  };
}

/**
 * Job options: transient failures (a locked database, a file being copied) retry with exponential backoff; bad
 * input fails once (the processor throws UnrecoverableError). Finished jobs are kept a while for `GET /v1/jobs`.
 */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
  removeOnFail: { age: 30 * 24 * 3600, count: 10_000 },
};

export function createIngestQueue(cfg: QueueConfig): Queue<AnyJobData, unknown, JobName> {
  return new Queue(INGEST_QUEUE, { connection: connectionOf(cfg.redisUrl), prefix: cfg.prefix ?? 'btf-atlas', defaultJobOptions: DEFAULT_JOB_OPTIONS });
}

export function createQueueEvents(cfg: QueueConfig): QueueEvents {
  return new QueueEvents(INGEST_QUEUE, { connection: connectionOf(cfg.redisUrl), prefix: cfg.prefix ?? 'btf-atlas' });
}
