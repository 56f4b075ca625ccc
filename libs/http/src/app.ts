import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import adminAuth from './plugins/admin-auth.js';
import answerCache from './plugins/answer-cache.js';
import catalogPlugin from './plugins/catalog.js';
import jobsPlugin from './plugins/jobs.js';
import metricsPlugin, { metricsRoutes } from './plugins/metrics.js';
import queueBoard from './plugins/queue-board.js';
import openapi from './plugins/openapi.js';
import problems from './plugins/problems.js';
import archiveRoutes from './routes/archive.js';
import catalogRoutes from './routes/catalog.js';
import diffRoutes from './routes/diff.js';
import kindRoutes from './routes/kinds.js';
import healthRoutes from './routes/health.js';
import { explorer } from '@btf-atlas/explorer';
import ingestRoutes from './routes/ingest.js';
import syncRoutes from './routes/sync.js';
import lookupRoutes from './routes/lookup.js';
import vmlinuxHRoutes from './routes/vmlinux-h.js';
import { ApiError, problemOf, type ApiErrorCode } from './errors.js';
import { defaultLimits, type ServerLimits } from './config.js';
import workPlugin from './plugins/work.js';
import { SHARED_SCHEMAS } from './schemas.js';

/**
 * The query string parser of every route: `%XX` is decoded, but a literal `+` stays a `+` (form decoding would
 * make it a space). Kernel references hold `+` (Debian's `6.12.117+deb13-amd64`) and never a space, so
 * `?kernel=debian/13/x86_64/6.12.117+deb13-amd64` and `…%2Bdeb13…` mean the same kernel. Otherwise as
 * fastify's default parser: `&`-separated pairs, a key without `=` has the value `''`, repeated keys make an
 * array, malformed percent-encoding is kept as written (and refused by the route's schema).
 */
export function parseQuerystring(input: string): Record<string, string | string[]> {
  const out = Object.create(null) as Record<string, string | string[]>;
  for (const pair of input.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decodeKeepingPlus(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decodeKeepingPlus(pair.slice(eq + 1));
    const prev = out[key];
    if (prev === undefined) out[key] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[key] = [prev, value];
  }
  return out;
}

function decodeKeepingPlus(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** What {@link buildApp} needs: the catalog file, the admin token, and fastify's logger options. */
export interface AppOptions {
  dbPath: string;
  adminToken: string | undefined;
  /** fastify's `logger` option (pino options, or false; default false, as tests want). */
  logger?: FastifyServerOptions['logger'];
  version?: string;
  /** REDIS_URL of the queue write routes enqueue on; unset: jobs run in this process. */
  redisUrl?: string;
  queuePrefix?: string;
  /** Largest upload of `POST /v1/ingest` (default 512 MiB). */
  maxUploadBytes?: number;
  /** Folder whose archive trees `POST /v1/ingest {"path"}` may name; unset: uploads only. */
  ingestRoot?: string;
  /** Public base URL of download links (BTF_ATLAS_PUBLIC_URL); unset: each request's protocol and Host. */
  publicUrl?: string;
  /** Timeouts and limits (defaults: {@link defaultLimits}); tests shorten them. */
  limits?: Partial<ServerLimits>;
}

/** The body length a request declares (Content-Length), or undefined when it declares none. */
function declaredLength(request: FastifyRequest): number | undefined {
  const text = request.headers['content-length'];
  if (text === undefined || !/^[0-9]+$/.test(text)) return undefined;
  return Number(text);
}

/** Whether a request has body bytes the server has not read (all of them, or the rest of them). */
function bodyUnread(request: FastifyRequest): boolean {
  if (request.raw.complete) return false;
  return (declaredLength(request) ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined;
}

/**
 * Errors Node's HTTP parser raises on a connection before any route runs (the request timeout of a body that
 * trickles, oversized or malformed headers): a problem+json answer when nothing was answered on it yet, then the
 * connection is destroyed (not read further).
 */
function refuseConnection(err: Error & { code?: string }, socket: Socket): void {
  if (socket.destroyed) return;
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent && err.code !== 'ECONNRESET') {
    const code: ApiErrorCode = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'REQUEST_TIMEOUT'
      : err.code === 'HPE_HEADER_OVERFLOW' ? 'HEADERS_TOO_LARGE' : 'BAD_PARAMETER';
    const detail = code === 'REQUEST_TIMEOUT' ? 'the request did not arrive in time (headers and body have a deadline): the connection is closed'
      : code === 'HEADERS_TOO_LARGE' ? 'the request headers are too large' : 'the request is not valid HTTP';
    const problem = problemOf(code, detail);
    const body = JSON.stringify(problem);
    socket.write(
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? 'Error'}\r\nContent-Type: application/problem+json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * Builds the API: registers the plugins (problem+json errors, the catalog, the admin-token check, OpenAPI) and
 * the routes. It does not listen: `server.ts` does, and tests call `app.inject()`.
 */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const limits: ServerLimits = { ...defaultLimits(), ...opts.limits };
  const app = Fastify({
    logger: opts.logger ?? false,
    // Slow or silent clients: headers and the whole request have deadlines (checked every timeoutCheckMs), idle
    // keep-alive connections and connections where nothing moves are closed.
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: limits.timeoutCheckMs,
    },
    clientErrorHandler: refuseConnection,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // Refuse unknown query parameters (a typo such as ?arc= must not silently widen the answer).
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
    // A literal `+` in a query string stays a `+` (KREFs hold it); see parseQuerystring.
    routerOptions: { maxParamLength: 512, querystringParser: parseQuerystring },
    // Errors the router raises before any route or hook runs: problem+json like every other error.
    frameworkErrors: (err, request, reply: FastifyReply) => {
      const code = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'URI_TOO_LONG' : 'BAD_PARAMETER';
      const detail = code === 'URI_TOO_LONG' ? 'a path segment is longer than 512 characters' : 'the URL is not valid (bad percent-encoding)';
      const problem = problemOf(code, detail, { instance: request.url.split('?')[0], requestId: String(request.id) });
      void reply.code(problem.status).type('application/problem+json').send(problem);
    },
  });
  // A body larger than the route takes is refused on its Content-Length, before any byte of it is read.
  app.addHook('onRequest', async (request) => {
    const declared = declaredLength(request);
    const limit = request.routeOptions.bodyLimit;
    if (declared !== undefined && limit !== undefined && declared > limit) {
      throw new ApiError('UPLOAD_TOO_LARGE', `the body (Content-Length ${declared}) is larger than this route takes (${limit} bytes)`);
    }
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // A refused request whose body was not read: say the connection ends, and end it once the answer is out, rather
    // than read (and discard) a body that may be large or trickle for ever.
    if (reply.statusCode >= 400 && bodyUnread(request)) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (request, reply) => {
    if (reply.getHeader('connection') === 'close') request.raw.socket?.destroySoon();
  });
  for (const s of SHARED_SCHEMAS) app.addSchema(s);
  await app.register(problems);
  // First of the hooks: requests answered from the cache in onRequest are timed and counted too.
  await app.register(metricsPlugin);
  await app.register(catalogPlugin, { dbPath: opts.dbPath });
  await app.register(answerCache, { maxBytes: limits.cacheBytes });
  await app.register(workPlugin, {
    dbPath: opts.dbPath,
    threads: limits.workThreads,
    maxWaitMs: limits.workWaitMs,
    resourceLimits: { maxOldGenerationSizeMb: limits.workHeapMb },
  });
  await app.register(adminAuth, { adminToken: opts.adminToken });
  await app.register(jobsPlugin, {
    dbPath: opts.dbPath,
    redisUrl: opts.redisUrl,
    queuePrefix: opts.queuePrefix,
    connectTimeoutMs: limits.redisConnectTimeoutMs,
    commandTimeoutMs: limits.redisCommandTimeoutMs,
    jobHeapMb: limits.workHeapMb,
  });
  await app.register(openapi, { version: opts.version ?? '0.1.0' });
  await app.register(queueBoard, {
    adminToken: opts.adminToken,
    redisUrl: opts.redisUrl,
    queuePrefix: opts.queuePrefix,
    connectTimeoutMs: limits.redisConnectTimeoutMs,
    commandTimeoutMs: limits.redisCommandTimeoutMs,
  });
  await app.register(healthRoutes);
  await app.register(metricsRoutes);
  await app.register(explorer);
  await app.register(catalogRoutes);
  await app.register(kindRoutes);
  await app.register(diffRoutes);
  await app.register(archiveRoutes);
  await app.register(vmlinuxHRoutes, { dbPath: opts.dbPath });
  await app.register((await import('./routes/kernel-summary.js')).default);
  await app.register((await import('./routes/core.js')).default, { dbPath: opts.dbPath, jobMinKernels: limits.coreJobMinKernels });
  await app.register(lookupRoutes, { publicUrl: opts.publicUrl });
  await app.register(syncRoutes);
  await app.register(ingestRoutes, { dbPath: opts.dbPath, maxUploadBytes: opts.maxUploadBytes ?? 512 * 1024 * 1024, ingestRoot: opts.ingestRoot });
  return app;
}
