import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';

/** The API's settings, read once at start-up (flags override the environment). */
export interface ApiConfig {
  /** TCP port (PORT, default 3000). */
  port: number;
  /**
   * Interface to listen on (HOST, default 127.0.0.1: a developer's `btf-atlas serve` is not exposed to the
   * network by accident; the Docker image sets HOST=0.0.0.0).
   */
  host: string;
  /** The catalog file (BTF_ATLAS_DB, default ./data/atlas.db), absolute. */
  dbPath: string;
  /** Bearer token of write routes (BTF_ATLAS_ADMIN_TOKEN); unset: every write route answers 403. */
  adminToken: string | undefined;
  /** pino level (LOG_LEVEL, default info). */
  logLevel: string;
  /** REDIS_URL: write routes enqueue on BullMQ there; unset: jobs run in the API process. */
  redisUrl: string | undefined;
  /** Redis key prefix of the queue (BTF_ATLAS_QUEUE_PREFIX, default btf-atlas). */
  queuePrefix: string;
  /** Largest `POST /v1/ingest` upload (BTF_ATLAS_MAX_UPLOAD_BYTES, default 512 MiB: an ELF vmlinux with DWARF is big). */
  maxUploadBytes: number;
  /** Folder whose archive trees `POST /v1/ingest {"path"}` may name (BTF_ATLAS_INGEST_ROOT); unset: uploads only. */
  ingestRoot: string | undefined;
  /**
   * Public base URL of the download links `POST /v1/btf/lookup` answers (BTF_ATLAS_PUBLIC_URL, http or https,
   * e.g. behind a proxy); unset: built from each request's protocol and Host header.
   */
  publicUrl?: string;
  /** Timeouts and limits of the HTTP server, Redis and heavy work (see {@link ServerLimits}). */
  limits: ServerLimits;
}

/**
 * Timeouts and limits of the server, each from its environment variable (milliseconds unless said otherwise):
 * what a slow, silent or hostile client, or an outage of Redis, may cost it at most.
 */
export interface ServerLimits {
  /** The request line and headers must arrive within this (BTF_ATLAS_HEADERS_TIMEOUT_MS, default 10 s). */
  headersTimeoutMs: number;
  /**
   * The whole request, body included, must arrive within this; a body that trickles is cut with 408 and the
   * connection closed (BTF_ATLAS_REQUEST_TIMEOUT_MS, default 300 s: a 512 MiB upload at 2 MB/s).
   */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this (BTF_ATLAS_KEEP_ALIVE_TIMEOUT_MS, default 10 s). */
  keepAliveTimeoutMs: number;
  /** A connection on which nothing moves either way for this long is closed (BTF_ATLAS_IDLE_TIMEOUT_MS, default 60 s). */
  idleTimeoutMs: number;
  /** How often the headers and request timeouts are checked (BTF_ATLAS_TIMEOUT_CHECK_MS, default 1 s). */
  timeoutCheckMs: number;
  /** Worker threads of heavy answers: first-time diffs, vmlinux.h (BTF_ATLAS_WORK_THREADS, default: cores - 1, 1 to 4). */
  workThreads: number;
  /** Longest a heavy answer waits for a thread before 503 SERVER_BUSY with Retry-After (BTF_ATLAS_WORK_WAIT_MS, default 10 s). */
  workWaitMs: number;
  /**
   * V8 old-generation heap of each worker thread, heavy answers' and in-process jobs' (BTF_ATLAS_WORK_HEAP_MB,
   * default 2048): a task that needs more costs its thread (503 WORK_OUT_OF_MEMORY, or the job fails with that
   * reason), never the server.
   */
  workHeapMb: number;
  /** Connect timeout of each Redis connection attempt (BTF_ATLAS_REDIS_CONNECT_TIMEOUT_MS, default 2 s). */
  redisConnectTimeoutMs: number;
  /** Longest one Redis command of a request may take (BTF_ATLAS_REDIS_COMMAND_TIMEOUT_MS, default 5 s). */
  redisCommandTimeoutMs: number;
  /** Bytes the answer cache keeps at most, keys and per-entry overhead counted (BTF_ATLAS_CACHE_BYTES, default 64 MiB). */
  cacheBytes: number;
  /**
   * With REDIS_URL, a CO-RE dry run (`POST /v1/core/check`) over more kernels than this is a queue job answered 202
   * (BTF_ATLAS_CORE_JOB_MIN_KERNELS, default 50).
   */
  coreJobMinKernels: number;
}

/** The defaults of {@link ServerLimits}. */
export function defaultLimits(cores = availableParallelism()): ServerLimits {
  return {
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 300_000,
    keepAliveTimeoutMs: 10_000,
    idleTimeoutMs: 60_000,
    timeoutCheckMs: 1_000,
    workThreads: Math.min(4, Math.max(1, cores - 1)),
    workWaitMs: 10_000,
    workHeapMb: 2048,
    redisConnectTimeoutMs: 2_000,
    redisCommandTimeoutMs: 5_000,
    cacheBytes: 64 * 1024 * 1024,
    coreJobMinKernels: 50,
  };
}

const LIMIT_VARS: Record<keyof ServerLimits, string> = {
  headersTimeoutMs: 'BTF_ATLAS_HEADERS_TIMEOUT_MS',
  requestTimeoutMs: 'BTF_ATLAS_REQUEST_TIMEOUT_MS',
  keepAliveTimeoutMs: 'BTF_ATLAS_KEEP_ALIVE_TIMEOUT_MS',
  idleTimeoutMs: 'BTF_ATLAS_IDLE_TIMEOUT_MS',
  timeoutCheckMs: 'BTF_ATLAS_TIMEOUT_CHECK_MS',
  workThreads: 'BTF_ATLAS_WORK_THREADS',
  workWaitMs: 'BTF_ATLAS_WORK_WAIT_MS',
  workHeapMb: 'BTF_ATLAS_WORK_HEAP_MB',
  redisConnectTimeoutMs: 'BTF_ATLAS_REDIS_CONNECT_TIMEOUT_MS',
  redisCommandTimeoutMs: 'BTF_ATLAS_REDIS_COMMAND_TIMEOUT_MS',
  cacheBytes: 'BTF_ATLAS_CACHE_BYTES',
  coreJobMinKernels: 'BTF_ATLAS_CORE_JOB_MIN_KERNELS',
};

/** {@link ServerLimits} from the environment: positive whole numbers; the headers timeout within the request timeout. */
export function loadLimits(env: NodeJS.ProcessEnv, overrides: Partial<ServerLimits> = {}): ServerLimits {
  const limits = defaultLimits();
  for (const key of Object.keys(LIMIT_VARS) as (keyof ServerLimits)[]) {
    const name = LIMIT_VARS[key];
    const text = env[name]?.trim();
    const value = overrides[key] ?? (text ? Number(text) : limits[key]);
    if (!Number.isSafeInteger(value) || value < 1) throw new ConfigError(`${name} must be a positive whole number, not ${JSON.stringify(text ?? String(value))}`);
    limits[key] = value;
  }
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new ConfigError(`BTF_ATLAS_HEADERS_TIMEOUT_MS (${limits.headersTimeoutMs}) must not exceed BTF_ATLAS_REQUEST_TIMEOUT_MS (${limits.requestTimeoutMs})`);
  }
  return limits;
}

/** A setting that cannot be used; its message is one readable line naming the variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Validates the environment (and flag overrides) and fails fast with a readable line. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<ApiConfig> = {}): ApiConfig {
  const portText = env.PORT && env.PORT.trim() !== '' ? env.PORT.trim() : '3000';
  const port = overrides.port ?? Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`${overrides.port !== undefined ? '--port' : 'PORT'} must be a whole number from 0 to 65535, not ${JSON.stringify(String(overrides.port ?? env.PORT))}`);
  }
  const host = overrides.host ?? (env.HOST && env.HOST.trim() !== '' ? env.HOST.trim() : '127.0.0.1');
  const token = overrides.adminToken ?? env.BTF_ATLAS_ADMIN_TOKEN;
  if (token !== undefined && token !== '' && token.trim().length < 8) {
    throw new ConfigError('BTF_ATLAS_ADMIN_TOKEN must be at least 8 characters (or unset, which turns write routes off)');
  }
  const logLevel = overrides.logLevel ?? env.LOG_LEVEL ?? 'info';
  if (!LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${LEVELS.join(', ')}, not ${JSON.stringify(logLevel)}`);
  const maxText = env.BTF_ATLAS_MAX_UPLOAD_BYTES?.trim() || String(512 * 1024 * 1024);
  const maxUploadBytes = overrides.maxUploadBytes ?? Number(maxText);
  if (!Number.isSafeInteger(maxUploadBytes) || maxUploadBytes < 1) {
    throw new ConfigError(`BTF_ATLAS_MAX_UPLOAD_BYTES must be a positive whole number of bytes, not ${JSON.stringify(maxText)}`);
  }
  const redisUrl = overrides.redisUrl ?? (env.REDIS_URL?.trim() || undefined);
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) throw new ConfigError(`REDIS_URL must start with redis:// or rediss://, not ${JSON.stringify(redisUrl)}`);
  const ingestRoot = overrides.ingestRoot ?? (env.BTF_ATLAS_INGEST_ROOT?.trim() || undefined);
  if (ingestRoot !== undefined && !isFolder(ingestRoot)) throw new ConfigError(`BTF_ATLAS_INGEST_ROOT must be an existing folder, not ${JSON.stringify(ingestRoot)}`);
  const publicUrl = publicUrlOf(overrides.publicUrl ?? (env.BTF_ATLAS_PUBLIC_URL?.trim() || undefined));
  return {
    port,
    host,
    dbPath: resolve(overrides.dbPath ?? env.BTF_ATLAS_DB ?? './data/atlas.db'),
    adminToken: token && token.trim() !== '' ? token.trim() : undefined,
    logLevel,
    redisUrl,
    queuePrefix: overrides.queuePrefix ?? (env.BTF_ATLAS_QUEUE_PREFIX?.trim() || 'btf-atlas'),
    maxUploadBytes,
    ingestRoot: ingestRoot === undefined ? undefined : resolve(ingestRoot),
    ...(publicUrl ? { publicUrl } : {}),
    limits: loadLimits(env, overrides.limits),
  };
}

/** BTF_ATLAS_PUBLIC_URL: an absolute http(s) URL without query or fragment; returned without a trailing slash. */
function publicUrlOf(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`BTF_ATLAS_PUBLIC_URL must be an absolute http(s) URL, not ${JSON.stringify(text)}`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new ConfigError(`BTF_ATLAS_PUBLIC_URL must be an http(s) URL without credentials, query or fragment, not ${JSON.stringify(text)}`);
  }
  return url.href.replace(/\/+$/, '');
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
