import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createIngestQueue } from '@btf-atlas/queue';
import { ApiError, problemOf } from '../errors.js';
import { sameSecret } from './admin-auth.js';

/** Where the board lives. */
export const QUEUE_BOARD_PATH = '/admin/queues';

export interface QueueBoardOptions {
  /** BTF_ATLAS_ADMIN_TOKEN; unset or empty: the board is off (403), as write routes are. */
  adminToken: string | undefined;
  /** REDIS_URL; unset: there is no queue to show, and the board answers 404 QUEUE_BOARD_DISABLED. */
  redisUrl?: string;
  queuePrefix?: string;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
}

/**
 * The board's write actions that would put job data of the caller's making on the queue: workers trust job data
 * (the paths they read), which the API's write routes check (an ingest path stays under BTF_ATLAS_INGEST_ROOT)
 * and the board would not. Retries, promotions, pausing and cleaning act on jobs the API made, and stay on. Keyed
 * by the board's route patterns (below its prefix), which the router matched: how the URL spells them is moot.
 */
const REFUSED_ACTIONS: ReadonlyMap<string, string> = new Map([
  ['POST /api/queues/:queueName/add', 'adding a job'],
  ['PATCH /api/queues/:queueName/:jobId/update-data', "editing a job's data"],
  ['PATCH /api/queues/:queueName/job-schedulers/:schedulerId', "editing a job scheduler's job"],
]);

const BASIC = /^Basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i;

/** The password of an `Authorization: Basic` header (the user name is not looked at); undefined for other schemes. */
export function basicPassword(header: string | undefined): string | undefined {
  const m = header === undefined ? null : BASIC.exec(header);
  if (!m) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon === -1 ? undefined : text.slice(colon + 1);
}

/** Whether the request's `Origin` is this server (its scheme-less host equals the Host header). */
function sameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  const host = request.headers.host;
  if (origin === undefined || host === undefined) return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** Answers an ApiError as problem+json (with Retry-After when it has one). */
function sendProblem(request: FastifyRequest, reply: FastifyReply, err: ApiError): FastifyReply {
  const problem = problemOf(err.code, err.message, { instance: request.url.split('?')[0], requestId: String(request.id) });
  request.log.info({ code: err.code }, 'queue board request refused');
  if (err.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.retryAfterSeconds));
  return reply.code(problem.status).type('application/problem+json').send(problem);
}

/** Seconds a client is told to wait when Redis is away. */
const REDIS_RETRY_AFTER_S = 5;

/** The challenges of a 401: Basic first (so a browser asks for the token as a password), then Bearer. */
const CHALLENGES = ['Basic realm="btf-atlas queues", charset="UTF-8"', 'Bearer realm="btf-atlas"'];

/**
 * Bull Board (`@bull-board/fastify`) at {@link QUEUE_BOARD_PATH}: the ingest queue's jobs, workers and Redis, for
 * operators. Behind the admin token, accepted as `Authorization: Bearer TOKEN` (the write routes' check,
 * `app.requireAdmin`) or as the password of HTTP Basic, which a browser asks for itself: no login form, no
 * session to keep, nothing stored beyond the browser's own credential cache. Browsers send Basic credentials
 * along with cross-site requests too, so a Basic-authenticated request that changes something (any method but
 * GET and HEAD) must come from this origin (`Origin` equal to `Host`: browsers send it on such requests, and a
 * page elsewhere cannot forge it). Without REDIS_URL there is no queue: 404 QUEUE_BOARD_DISABLED, after the
 * token check (so it tells nothing to whoever has no token).
 */
async function queueBoardPlugin(app: FastifyInstance, opts: QueueBoardOptions): Promise<void> {
  const expected = opts.adminToken === '' ? undefined : opts.adminToken;

  const authorize = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (expected === undefined) {
      throw new ApiError('WRITE_ROUTES_DISABLED', 'the queue board is off until BTF_ATLAS_ADMIN_TOKEN is set (start the server with it)');
    }
    const password = basicPassword(request.headers.authorization);
    if (password !== undefined) {
      if (!sameSecret(password, expected)) {
        reply.header('www-authenticate', CHALLENGES);
        throw new ApiError('ADMIN_TOKEN_INVALID', 'the password is not the admin token this server expects');
      }
      if (request.method !== 'GET' && request.method !== 'HEAD' && !sameOrigin(request)) {
        throw new ApiError('QUEUE_BOARD_ACTION_REFUSED', 'a change through the queue board with Basic credentials must come from the board itself (Origin of this server)');
      }
      return;
    }
    try {
      await app.requireAdmin(request, reply);
    } catch (err) {
      // A browser without credentials: offer Basic too, which it can prompt for.
      if (err instanceof ApiError && err.statusCode === 401) reply.header('www-authenticate', CHALLENGES);
      throw err;
    }
  };

  // The board's own error handler answers its routes' errors in its format; ours are problem+json, sent here.
  const guard = async (request: FastifyRequest, reply: FastifyReply, more: () => void): Promise<FastifyReply | undefined> => {
    try {
      await authorize(request, reply);
      more();
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return sendProblem(request, reply, err);
    }
    return undefined;
  };

  if (!opts.redisUrl) {
    await app.register(async (scope) => {
      const disabled = async (request: FastifyRequest, reply: FastifyReply) =>
        guard(request, reply, () => {
          throw new ApiError('QUEUE_BOARD_DISABLED', 'the queue board needs a queue: start the server with REDIS_URL (without it jobs run in this process; see GET /metrics)');
        });
      scope.all(QUEUE_BOARD_PATH, { schema: { hide: true } }, disabled);
      scope.all(`${QUEUE_BOARD_PATH}/*`, { schema: { hide: true } }, disabled);
    });
    return;
  }

  // Bull Board and its dependencies load only here (a second of start-up that servers without Redis never pay).
  const [{ createBullBoard }, { BullMQAdapter }, { FastifyAdapter }] = await Promise.all([
    import('@bull-board/api'),
    import('@bull-board/api/bullMQAdapter'),
    import('@bull-board/fastify'),
  ]);
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  const board = createBullBoard({ queues: [], serverAdapter, options: { uiConfig: { boardTitle: 'btf-atlas queues' } } });
  // The queue's connection opens with the board's first use: a server nobody opens the board of holds none.
  const redisUrl = opts.redisUrl;
  let queue: ReturnType<typeof createIngestQueue> | undefined;
  const openQueue = (): void => {
    if (queue) return;
    queue = createIngestQueue({
      redisUrl,
      prefix: opts.queuePrefix,
      role: 'request',
      connectTimeoutMs: opts.connectTimeoutMs,
      commandTimeoutMs: opts.commandTimeoutMs,
    });
    // Connection errors are answered by the board's calls that fail (a request queue keeps them); the API keeps running.
    board.addQueue(new BullMQAdapter(queue, { description: 'ingest, scan and sync jobs (btf-atlas worker takes them)' }));
  };
  // BullMQ waits for a connection without end: a board call while Redis is away is answered 503 at once, and one
  // that Redis stops answering midway is answered 503 at this deadline (its handler is left to finish or fail).
  const deadlineMs = (opts.connectTimeoutMs ?? 2_000) + (opts.commandTimeoutMs ?? 5_000) + 1_000;
  const unavailable = (why: string) => new ApiError('REDIS_UNAVAILABLE', `${why}; the queue board cannot read the queue, try again later`, [], REDIS_RETRY_AFTER_S);
  const timers = new WeakMap<FastifyRequest, NodeJS.Timeout>();
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => {
      const route = (request.routeOptions.url ?? '').slice(QUEUE_BOARD_PATH.length);
      return guard(request, reply, () => {
        const refused = REFUSED_ACTIONS.get(`${request.method} ${route}`);
        if (refused) throw new ApiError('QUEUE_BOARD_ACTION_REFUSED', `${refused} is not offered here: jobs come from the API's write routes (POST /v1/ingest, POST /v1/sync), which check what they are given`);
        openQueue();
        if (!route.startsWith('/api/')) return;
        if (app.redisProbe && !app.redisProbe.connected) throw unavailable(app.redisProbe.unavailable().message);
        timers.set(request, setTimeout(() => {
          if (!reply.sent) sendProblem(request, reply, unavailable(`Redis did not answer within ${deadlineMs} ms`));
        }, deadlineMs));
      });
    });
    scope.addHook('onResponse', async (request) => {
      clearTimeout(timers.get(request));
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: QUEUE_BOARD_PATH });
  });
  app.addHook('onClose', async () => {
    // A request queue closes after its first connection attempt ends (createIngestQueue, RequestQueue.close).
    await queue?.close();
  });
}

export default fp(queueBoardPlugin, { name: 'btf-atlas-queue-board', fastify: '5.x', dependencies: ['btf-atlas-admin-auth'] });
