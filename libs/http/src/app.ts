import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import adminAuth from './plugins/admin-auth.js';
import answerCache from './plugins/answer-cache.js';
import catalogPlugin from './plugins/catalog.js';
import jobsPlugin from './plugins/jobs.js';
import openapi from './plugins/openapi.js';
import problems from './plugins/problems.js';
import archiveRoutes from './routes/archive.js';
import catalogRoutes from './routes/catalog.js';
import diffRoutes from './routes/diff.js';
import healthRoutes from './routes/health.js';
import ingestRoutes from './routes/ingest.js';
import syncRoutes from './routes/sync.js';
import lookupRoutes from './routes/lookup.js';
import vmlinuxHRoutes from './routes/vmlinux-h.js';
import { problemOf } from './errors.js';
import { SHARED_SCHEMAS } from './schemas.js';

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
}

/**
 * Builds the API: registers the plugins (problem+json errors, the catalog, the admin-token check, OpenAPI) and
 * the routes. It does not listen: `server.ts` does, and tests call `app.inject()`.
 */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // Refuse unknown query parameters (a typo such as ?arc= must not silently widen the answer).
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
    routerOptions: { maxParamLength: 512 },
    // Errors the router raises before any route or hook runs: problem+json like every other error.
    frameworkErrors: (err, request, reply: FastifyReply) => {
      const code = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'URI_TOO_LONG' : 'BAD_PARAMETER';
      const detail = code === 'URI_TOO_LONG' ? 'a path segment is longer than 512 characters' : 'the URL is not valid (bad percent-encoding)';
      const problem = problemOf(code, detail, { instance: request.url.split('?')[0], requestId: String(request.id) });
      void reply.code(problem.status).type('application/problem+json').send(problem);
    },
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  for (const s of SHARED_SCHEMAS) app.addSchema(s);
  await app.register(problems);
  await app.register(catalogPlugin, { dbPath: opts.dbPath });
  await app.register(answerCache);
  await app.register(adminAuth, { adminToken: opts.adminToken });
  await app.register(jobsPlugin, { dbPath: opts.dbPath, redisUrl: opts.redisUrl, queuePrefix: opts.queuePrefix });
  await app.register(openapi, { version: opts.version ?? '0.1.0' });
  await app.register(healthRoutes);
  await app.register(catalogRoutes);
  await app.register(diffRoutes);
  await app.register(archiveRoutes);
  await app.register(vmlinuxHRoutes, { dbPath: opts.dbPath });
  await app.register(lookupRoutes, { publicUrl: opts.publicUrl });
  await app.register(syncRoutes);
  await app.register(ingestRoutes, { dbPath: opts.dbPath, maxUploadBytes: opts.maxUploadBytes ?? 512 * 1024 * 1024, ingestRoot: opts.ingestRoot });
  return app;
}
