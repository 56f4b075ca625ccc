import { EventEmitter } from 'node:events';
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { BlobStore, openCatalog } from '@btf-atlas/catalog';
import {
  InProcessJobRunner, QueueJobRunner, RedisProbe, isRedisUnavailable, redisWhere,
  type AnyJobData, type JobCounts, type JobName, type JobRunner, type JobView,
} from '@btf-atlas/queue';
import { ApiError } from '../errors.js';
import { WorkPool } from '../work-pool.js';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Where write routes send their jobs: the BullMQ queue when REDIS_URL is set, worker threads of this process
     * otherwise. In queue mode, a call while Redis is unreachable fails within the Redis timeouts with 503
     * REDIS_UNAVAILABLE (Retry-After).
     */
    jobs: JobRunner;
    /** The Redis connection of readiness checks, when REDIS_URL is set. */
    redisProbe: RedisProbe | undefined;
    /** `finished` (a {@link JobView}) for each job this process ran in-process, for metrics; silent in queue mode. */
    jobEvents: EventEmitter;
  }
}

export interface JobsPluginOptions {
  dbPath: string;
  /** REDIS_URL; unset: jobs run in this process (in a worker thread), one at a time. */
  redisUrl?: string;
  /** Redis key prefix of the queue (BTF_ATLAS_QUEUE_PREFIX, default btf-atlas). */
  queuePrefix?: string;
  /** Connect timeout of each Redis connection attempt (ms). */
  connectTimeoutMs?: number;
  /** Longest one Redis command of a request may take (ms). */
  commandTimeoutMs?: number;
  /** V8 heap of the in-process job thread (MB); a job past it fails with WORK_OUT_OF_MEMORY. */
  jobHeapMb?: number;
}

/** Seconds a client is told to wait when Redis is away. */
const REDIS_RETRY_AFTER_S = 5;

/**
 * A queue runner whose failures for want of Redis become 503 REDIS_UNAVAILABLE, and which gives up after a
 * deadline whatever the client library does (a backstop over the connection's own timeouts).
 */
class GuardedRunner implements JobRunner {
  readonly mode;
  readonly schedule?: JobRunner['schedule'];

  constructor(
    private readonly inner: JobRunner,
    private readonly where: string,
    private readonly deadlineMs: number,
  ) {
    this.mode = inner.mode;
    const schedule = inner.schedule?.bind(inner);
    if (schedule) {
      this.schedule = (id, everyMs, name, data) => this.guard('scheduling the job', () => schedule(id, everyMs, name, data));
    }
  }

  private async guard<T>(what: string, call: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        call(),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new ApiError('REDIS_UNAVAILABLE', `Redis at ${this.where} did not answer within ${this.deadlineMs} ms (${what}); try again later`, [], REDIS_RETRY_AFTER_S)), this.deadlineMs);
        }),
      ]);
    } catch (err) {
      if (isRedisUnavailable(err)) {
        throw new ApiError('REDIS_UNAVAILABLE', `${(err as Error).message} (${what}); try again later`, [], REDIS_RETRY_AFTER_S);
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  enqueue(name: JobName, data: AnyJobData, opts?: { jobId?: string }): Promise<JobView> {
    return this.guard('enqueueing the job', () => this.inner.enqueue(name, data, opts));
  }

  get(id: string): Promise<JobView | undefined> {
    return this.guard('reading the job', () => this.inner.get(id));
  }

  counts(): Promise<JobCounts> {
    return this.guard('counting the jobs', () => this.inner.counts());
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * The job runner of write routes, closed in `onClose` (in-process: after the running job finishes). Without
 * Redis, jobs run one at a time on a worker thread of their own (an ingest is seconds of CPU and hundreds of MB:
 * the event loop keeps answering, and a job that exceeds the thread's heap costs the thread, not the server).
 */
async function jobsPlugin(app: FastifyInstance, opts: JobsPluginOptions): Promise<void> {
  let runner: JobRunner;
  let probe: RedisProbe | undefined;
  const jobEvents = new EventEmitter();
  if (opts.redisUrl) {
    const cfg = { redisUrl: opts.redisUrl, prefix: opts.queuePrefix, role: 'request' as const, connectTimeoutMs: opts.connectTimeoutMs, commandTimeoutMs: opts.commandTimeoutMs };
    probe = new RedisProbe(cfg);
    const deadline = (opts.connectTimeoutMs ?? 2_000) + (opts.commandTimeoutMs ?? 5_000) + 1_000;
    runner = new GuardedRunner(new QueueJobRunner(cfg), redisWhere(opts.redisUrl), deadline);
  } else {
    const pool = new WorkPool({
      dbPath: opts.dbPath,
      threads: 1,
      maxWaitMs: Infinity,
      ...(opts.jobHeapMb === undefined ? {} : { resourceLimits: { maxOldGenerationSizeMb: opts.jobHeapMb } }),
      onThreadError: (err) => app.log.error({ err: err.message }, 'job thread stopped'),
    });
    const inProcess = new InProcessJobRunner({
      // A connection of its own: readers' caches key on PRAGMA data_version, which moves only for commits made
      // by other connections. (The thread that runs the jobs opens another for its writes.)
      catalog: openCatalog(opts.dbPath),
      blobs: BlobStore.forCatalog(opts.dbPath),
      log: (obj, msg) => app.log.info(obj, msg),
      run: (job, deps) => pool.run('job', { id: job.id ?? '', name: job.name, data: job.data }, {
        onProgress: (pct) => void job.updateProgress(pct),
        onEnqueue: (name, data) => deps.queue.add(name as JobName, data as never),
      }),
      onFinished: (view) => jobEvents.emit('finished', view),
    });
    runner = {
      mode: inProcess.mode,
      enqueue: (name, data) => inProcess.enqueue(name, data),
      get: (id) => inProcess.get(id),
      counts: () => inProcess.counts(),
      close: async () => {
        await inProcess.close();
        await pool.close();
      },
    };
  }
  app.decorate('jobs', runner);
  app.decorate('redisProbe', probe);
  app.decorate('jobEvents', jobEvents);
  app.addHook('onClose', async () => {
    await runner.close();
    probe?.close();
  });
  app.log.info({ mode: runner.mode }, 'job runner ready');
}

export default fp(jobsPlugin, { name: 'btf-atlas-jobs', fastify: '5.x' });
