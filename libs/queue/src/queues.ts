import { Queue, QueueEvents, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { IngestJobData } from '@btf-atlas/catalog';
import type { SyncJobData } from './sync-jobs.js';
import type { CoreCheckJobData } from './core-jobs.js';

/** The queue every ingest and scan job goes through. */
export const INGEST_QUEUE = 'btf-ingest';

/**
 * Who uses a connection, which decides how it behaves while Redis is away:
 * - `request`: a producer that answers someone now (the API's write routes, the CLI): no offline queue, a command
 *   timeout, and a bounded wait for the first connection, so a call fails in seconds ({@link RedisUnavailableError})
 *   instead of hanging until Redis comes back;
 * - `worker`: workers, their queue events and the producers inside jobs: commands wait for the reconnection
 *   (`maxRetriesPerRequest: null`, as BullMQ requires of blocking connections) and the work resumes after it.
 */
export type ConnectionRole = 'request' | 'worker';

/** Where the queue lives: a Redis URL and a key prefix (tests use a unique prefix per run), and how to reach it. */
export interface QueueConfig {
  redisUrl: string;
  /** Key prefix in Redis (default `btf-atlas`). */
  prefix?: string;
  /** Default `worker`: see {@link ConnectionRole}. */
  role?: ConnectionRole;
  /** TCP connect timeout of each (re)connection attempt (default {@link REDIS_CONNECT_TIMEOUT_MS}). */
  connectTimeoutMs?: number;
  /** `request` role: how long one command may take before it fails (default {@link REDIS_COMMAND_TIMEOUT_MS}). */
  commandTimeoutMs?: number;
}

/** Default TCP connect timeout of a Redis connection attempt (ms). */
export const REDIS_CONNECT_TIMEOUT_MS = 2_000;
/** Default timeout of one command on a `request` connection (ms). */
export const REDIS_COMMAND_TIMEOUT_MS = 5_000;

/** Redis could not be reached (or did not answer in time) for a call that cannot wait for it. */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
  readonly code = 'REDIS_UNAVAILABLE';

  constructor(
    /** `host:port` of the server tried. */
    readonly where: string,
    /** Why, in a few words (`connect ECONNREFUSED 127.0.0.1:1`, `no answer within 2000 ms`). */
    readonly reason: string,
  ) {
    super(`Redis at ${where} is unreachable: ${reason}`);
  }
}

/** ioredis/BullMQ failures that mean "Redis is not there" rather than "this command is wrong". */
const UNREACHABLE_MESSAGE = /Stream isn't writeable|Command timed out|Connection is closed|Reached the max retries per request|connect ETIMEDOUT|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN/;
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/** Whether an error from a queue call means Redis is unreachable (so the caller answers "try later", not "bug"). */
export function isRedisUnavailable(err: unknown): boolean {
  if (err instanceof RedisUnavailableError) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
  return err.name === 'MaxRetriesPerRequestError' || UNREACHABLE_MESSAGE.test(err.message);
}

/** `host:port` of a Redis URL, as messages name it (never the password). */
export function redisWhere(redisUrl: string): string {
  try {
    const u = new URL(redisUrl);
    return `${u.hostname || '127.0.0.1'}:${u.port || '6379'}`;
  } catch {
    return 'REDIS_URL';
  }
}

/** A scan job: walk an archive tree and enqueue what the catalog lacks. */
export interface ScanJobData {
  path: string;
  replace?: boolean;
}

export type JobName = 'ingest' | 'scan' | 'sync' | 'core-check' | 'derive';

/**
 * A derive job: build and record the files derived from one kernel's BTF (its btfhub-archive tarball), enqueued
 * by the ingest job that committed the kernel without them.
 */
export interface DeriveJobData {
  /** The KREF. */
  kernel: string;
}

/** Data of any job on the queue. */
export type AnyJobData = IngestJobData | ScanJobData | SyncJobData | CoreCheckJobData | DeriveJobData;

/**
 * Reconnection delay after the n-th failed attempt: quick at first (a restarted Redis is back in a second or
 * two), then every 5 s; never gives up (a worker resumes whenever Redis returns).
 */
export function reconnectDelay(attempt: number): number {
  return Math.min(250 * 2 ** Math.min(attempt, 5), 5_000);
}

/**
 * Connection options (ioredis, as BullMQ takes them) for a Redis URL and a {@link ConnectionRole}: both have a
 * connect timeout and reconnect for ever; `request` ones also fail commands fast (no offline queue, a command
 * timeout, one retry), `worker` ones wait for the reconnection (`maxRetriesPerRequest: null`).
 */
export function connectionOf(redisUrl: string, role: ConnectionRole = 'worker', timeouts: { connectTimeoutMs?: number; commandTimeoutMs?: number } = {}): ConnectionOptions & RedisOptions {
  const u = new URL(redisUrl);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`REDIS_URL must be redis:// or rediss://, not ${u.protocol}`);
  const base: RedisOptions = {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    connectTimeout: timeouts.connectTimeoutMs ?? REDIS_CONNECT_TIMEOUT_MS,
    retryStrategy: reconnectDelay,
  };
  if (role === 'worker') return { ...base, maxRetriesPerRequest: null };
  return { ...base, enableOfflineQueue: false, commandTimeout: timeouts.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS, maxRetriesPerRequest: 1 };
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

/**
 * A producer that answers someone now (`request` role): every call waits at most the connect timeout for the
 * first connection, then fails with {@link RedisUnavailableError}; once connected, commands fail as soon as the
 * connection drops (no offline queue) or after the command timeout. A call that gave up never runs later: the
 * wait is for the connection, before the command is sent.
 */
type Base = Queue<AnyJobData, unknown, JobName>;

export class RequestQueue extends Queue<AnyJobData, unknown, JobName> {
  private lastError: Error | undefined;
  private readonly where: string;
  private readonly waitMs: number;

  constructor(cfg: QueueConfig) {
    super(INGEST_QUEUE, {
      connection: connectionOf(cfg.redisUrl, 'request', cfg),
      prefix: cfg.prefix ?? 'btf-atlas',
      defaultJobOptions: DEFAULT_JOB_OPTIONS,
    });
    this.where = redisWhere(cfg.redisUrl);
    this.waitMs = cfg.connectTimeoutMs ?? REDIS_CONNECT_TIMEOUT_MS;
    // Connection errors are reported by the calls that fail; keep the last one to say why.
    this.on('error', (err: Error) => {
      this.lastError = err;
    });
    // Its first connection's promise too: while Redis is away it rejects, and the calls that need it say so.
    this.waitUntilReady().catch(() => undefined);
  }

  /**
   * Closes the queue. Closed while its first connection is still being attempted, BullMQ reports the abandoned
   * attempt as an error nobody listens to any more (an unhandled rejection in the process): that attempt is given
   * the connect timeout to finish first.
   */
  override async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.waitUntilReady().catch(() => undefined),
      new Promise((resolve) => {
        timer = setTimeout(resolve, this.waitMs);
      }),
    ]);
    clearTimeout(timer);
    await super.close();
  }

  /** Resolves once connected; a bounded wait for the first connection instead of BullMQ's endless one. */
  private connected(): Promise<void> {
    const pending = this.waitUntilReady();
    if (this.connection.status === 'ready') return pending.then(() => undefined);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new RedisUnavailableError(this.where, this.lastError?.message || `no connection within ${this.waitMs} ms`));
      }, this.waitMs);
      pending.then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  override async add(...args: Parameters<Base['add']>): ReturnType<Base['add']> {
    await this.connected();
    return super.add(...args);
  }

  override async addBulk(...args: Parameters<Base['addBulk']>): ReturnType<Base['addBulk']> {
    await this.connected();
    return super.addBulk(...args);
  }

  override async upsertJobScheduler(...args: Parameters<Base['upsertJobScheduler']>): ReturnType<Base['upsertJobScheduler']> {
    await this.connected();
    return super.upsertJobScheduler(...args);
  }

  override async getJob(...args: Parameters<Base['getJob']>): ReturnType<Base['getJob']> {
    await this.connected();
    return super.getJob(...args);
  }

  override async getJobState(...args: Parameters<Base['getJobState']>): ReturnType<Base['getJobState']> {
    await this.connected();
    return super.getJobState(...args);
  }

  override async getWorkersCount(): Promise<number> {
    await this.connected();
    return super.getWorkersCount();
  }
}

/** The ingest queue: a {@link RequestQueue} for the `request` role, a plain BullMQ queue otherwise. */
export function createIngestQueue(cfg: QueueConfig): Queue<AnyJobData, unknown, JobName> {
  if (cfg.role === 'request') return new RequestQueue(cfg);
  return new Queue(INGEST_QUEUE, { connection: connectionOf(cfg.redisUrl, 'worker', cfg), prefix: cfg.prefix ?? 'btf-atlas', defaultJobOptions: DEFAULT_JOB_OPTIONS });
}

/** Events of the ingest queue (a blocking connection: always the `worker` role). */
export function createQueueEvents(cfg: QueueConfig): QueueEvents {
  return new QueueEvents(INGEST_QUEUE, { connection: connectionOf(cfg.redisUrl, 'worker', cfg), prefix: cfg.prefix ?? 'btf-atlas' });
}

/**
 * Checks that Redis answers: one connection attempt (no retries) bounded by `timeoutMs`, then PING. Resolves
 * when it does; rejects with {@link RedisUnavailableError} naming the server and why otherwise. For start-up
 * checks (the CLI's `ingest`, before it enqueues anything).
 */
export async function pingRedis(redisUrl: string, timeoutMs = REDIS_CONNECT_TIMEOUT_MS): Promise<void> {
  const where = redisWhere(redisUrl);
  const redis = new Redis({
    ...connectionOf(redisUrl, 'request', { connectTimeoutMs: timeoutMs, commandTimeoutMs: timeoutMs }),
    lazyConnect: true,
    retryStrategy: () => null,
  });
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => {
    lastError = err;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        await redis.connect();
        await redis.ping();
      })(),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new RedisUnavailableError(where, `no answer within ${timeoutMs} ms`)), timeoutMs + 250);
      }),
    ]);
  } catch (err) {
    if (err instanceof RedisUnavailableError) throw err;
    const e = lastError ?? (err as Error);
    throw new RedisUnavailableError(where, e.message || String(e));
  } finally {
    clearTimeout(timer);
    // A connection that ended already is left alone: disconnecting it again arms a 2 s timer that holds the process.
    if (redis.status !== 'end') redis.disconnect();
  }
}

/**
 * A long-lived connection that tells whether Redis is reachable now, for readiness probes and for refusing a
 * write before its body is read: {@link RedisProbe.connected} without a round trip, {@link RedisProbe.check} with
 * one (PING, bounded by the command timeout).
 */
export class RedisProbe {
  private readonly redis: Redis;
  private lastError: Error | undefined;
  /** `host:port` of the server. */
  readonly where: string;

  constructor(cfg: QueueConfig) {
    this.where = redisWhere(cfg.redisUrl);
    this.redis = new Redis({ ...connectionOf(cfg.redisUrl, 'request', cfg) });
    this.redis.on('error', (err: Error) => {
      this.lastError = err;
    });
  }

  /** Whether the connection is up right now (no round trip). */
  get connected(): boolean {
    return this.redis.status === 'ready';
  }

  /** Why Redis is not reachable, as a {@link RedisUnavailableError} (for answers and logs). */
  unavailable(): RedisUnavailableError {
    return new RedisUnavailableError(this.where, this.lastError?.message || `not connected (${this.redis.status})`);
  }

  /** Resolves when Redis answers PING; rejects with {@link RedisUnavailableError} otherwise (within the command timeout). */
  async check(): Promise<void> {
    if (!this.connected) throw this.unavailable();
    try {
      await this.redis.ping();
    } catch (err) {
      throw new RedisUnavailableError(this.where, (err as Error).message);
    }
  }

  /** Closes the connection. */
  close(): void {
    this.redis.disconnect();
  }
}
