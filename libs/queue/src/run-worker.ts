import { pino } from 'pino';
import { checkIngestTools } from '@btf-atlas/catalog';
import { startWorker } from './worker.js';

/** Worker configuration from the environment, checked at start-up. */
export interface WorkerConfig {
  redisUrl: string;
  dbPath: string;
  prefix: string;
  concurrency: number;
  /** Job lock duration: how soon a dead worker's job is taken over (BTF_ATLAS_WORKER_LOCK_MS, default 30 s). */
  lockDurationMs: number;
}

/** Reads REDIS_URL, BTF_ATLAS_DB, BTF_ATLAS_QUEUE_PREFIX, BTF_ATLAS_WORKER_CONCURRENCY; throws one readable line. */
export function workerConfigFromEnv(env: NodeJS.ProcessEnv, overrides: Partial<WorkerConfig> = {}): WorkerConfig {
  const redisUrl = overrides.redisUrl ?? env.REDIS_URL;
  if (!redisUrl) throw new Error('REDIS_URL is not set: the worker takes its jobs from Redis (e.g. REDIS_URL=redis://127.0.0.1:6379)');
  const concurrency = overrides.concurrency ?? Number(env.BTF_ATLAS_WORKER_CONCURRENCY ?? 1);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`BTF_ATLAS_WORKER_CONCURRENCY must be a whole number >= 1, not ${env.BTF_ATLAS_WORKER_CONCURRENCY}`);
  return {
    redisUrl,
    dbPath: overrides.dbPath ?? env.BTF_ATLAS_DB ?? './data/atlas.db',
    prefix: overrides.prefix ?? env.BTF_ATLAS_QUEUE_PREFIX ?? 'btf-atlas',
    concurrency,
    lockDurationMs: overrides.lockDurationMs ?? Number(env.BTF_ATLAS_WORKER_LOCK_MS ?? 30_000),
  };
}

/** Runs a worker until SIGINT/SIGTERM, then finishes the current job and closes (graceful shutdown). */
export async function runWorker(cfg: WorkerConfig): Promise<void> {
  const logger = pino({ name: 'btf-atlas-worker' });
  const tools = await checkIngestTools();
  if (tools.warning) logger.warn(tools.warning);
  else logger.info({ pahole: tools.pahole }, 'pahole found');
  const w = startWorker({ redisUrl: cfg.redisUrl, prefix: cfg.prefix }, {
    dbPath: cfg.dbPath,
    concurrency: cfg.concurrency,
    lockDurationMs: cfg.lockDurationMs,
    stalledIntervalMs: Math.max(500, Math.floor(cfg.lockDurationMs / 2)),
  });
  w.worker.on('error', (err) => logger.error({ err: err.message }, 'worker error'));
  await w.worker.waitUntilReady();
  logger.info({ db: cfg.dbPath, prefix: cfg.prefix, concurrency: cfg.concurrency }, 'worker ready');
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'shutting down');
      void w.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
