/**
 * The uploads jobs still in the queue will read: `btf-atlas gc` keeps them however old they are (an upload is
 * stored when it is enqueued, and workers may be down for longer than gc's grace period).
 */
import type { BlobStore, IngestJobData } from '@btf-atlas/catalog';
import { jobBlobs } from '@btf-atlas/catalog/gc';
import { pingRedis, RequestQueue, REDIS_CONNECT_TIMEOUT_MS, type QueueConfig } from './queues.js';

/**
 * States of jobs that have not finished for good (a failed job with attempts left waits in `delayed`), read in
 * the order jobs move through them (delayed → waiting → active → delayed again for a retry), so a job that moves
 * while the lists are read is met in a later list. An upload enqueued meanwhile is younger than gc's grace.
 */
const PENDING_STATES = ['delayed', 'waiting', 'prioritized', 'paused', 'waiting-children', 'active', 'delayed'] as const;
/** Jobs read per call: the queue may hold many thousands. */
const PAGE = 500;

/**
 * The sha256 of every blob of `blobs` that an ingest job not yet finished refers to (its file, module files or
 * packages). Fails with RedisUnavailableError when Redis cannot be reached within the connect timeout: gc must
 * not guess.
 */
export async function pendingJobBlobs(cfg: QueueConfig, blobs: BlobStore): Promise<Set<string>> {
  // Asked first on a connection of its own that gives up at once: a queue never connected is slow to close.
  await pingRedis(cfg.redisUrl, cfg.connectTimeoutMs ?? REDIS_CONNECT_TIMEOUT_MS);
  const queue = new RequestQueue({ ...cfg, role: 'request' });
  queue.on('error', () => undefined);
  try {
    const out = new Set<string>();
    for (const state of PENDING_STATES) {
      for (let start = 0; ; start += PAGE) {
        const jobs = await queue.getJobs([state], start, start + PAGE - 1, true);
        for (const job of jobs) {
          // A job removed while the list was read is undefined here.
          if (job?.name !== 'ingest' || typeof job.data !== 'object' || job.data === null) continue;
          for (const sha of jobBlobs(blobs, job.data as Partial<IngestJobData>)) out.add(sha);
        }
        if (jobs.length < PAGE) break;
      }
    }
    return out;
  } finally {
    await queue.close().catch(() => undefined);
  }
}
