import type { SandboxedJob } from 'bullmq';
import { pino } from 'pino';
import { BlobStore, openCatalog } from '@btf-atlas/catalog';
import { createIngestQueue } from './queues.js';
import { runJob, type JobDeps } from './jobs.js';

/**
 * The sandboxed processor: BullMQ runs it in a child process, so decoding a kernel (seconds of CPU) never
 * blocks the worker's lock renewals, and a crash costs one child, not the worker. The child opens the catalog
 * and queue once, from the environment the worker process set (BTF_ATLAS_DB, REDIS_URL, BTF_ATLAS_QUEUE_PREFIX).
 */
let deps: JobDeps | undefined;

function depsFromEnv(): JobDeps {
  const dbPath = process.env.BTF_ATLAS_DB;
  const redisUrl = process.env.REDIS_URL;
  if (!dbPath || !redisUrl) throw new Error('sandboxed processor started without BTF_ATLAS_DB and REDIS_URL');
  const logger = pino({ name: 'btf-atlas-worker' });
  return {
    catalog: openCatalog(dbPath, { busyTimeoutMs: 120_000 }),
    blobs: BlobStore.forCatalog(dbPath),
    queue: createIngestQueue({ redisUrl, prefix: process.env.BTF_ATLAS_QUEUE_PREFIX ?? 'btf-atlas' }),
    log: (obj, msg) => logger.info(obj, msg),
  };
}

export default async function processor(job: SandboxedJob): Promise<unknown> {
  deps ??= depsFromEnv();
  return runJob(job, deps);
}
