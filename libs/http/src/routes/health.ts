import type { FastifyInstance } from 'fastify';
import { catalogVersions, countKernels, currentSchemaVersion } from '@btf-atlas/catalog';
import { ApiError } from '../errors.js';
import { healthSchema, problems } from '../schemas.js';

/** `GET /readyz`: what was checked, each `ok` or why not. */
const readySchema = {
  type: 'object',
  required: ['status', 'checks'],
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: ['ok'] },
    checks: {
      type: 'object',
      required: ['catalog', 'migrations'],
      additionalProperties: false,
      properties: {
        catalog: { type: 'string', description: '`ok`: the catalog answers a query' },
        migrations: { type: 'string', description: "`ok`: the catalog's schema is this server's (every migration applied)" },
        redis: { type: 'string', description: '`ok`: Redis (REDIS_URL) answers PING; absent without REDIS_URL' },
        work: { type: 'string', description: 'worker threads of heavy answers: running and waiting tasks' },
      },
    },
  },
} as const;

/**
 * `GET /healthz` (liveness: 200 while the catalog answers a query, 503 problem+json otherwise) and `GET /readyz`
 * (readiness: the catalog answers, its migrations are applied, and Redis answers when REDIS_URL is set; 503
 * NOT_READY naming what is not, with Retry-After). A load balancer sends traffic on readyz; an orchestrator
 * restarts on healthz, which stays green while only Redis is away.
 */
export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  const kernelCount = (): number => {
    try {
      return countKernels(app.catalog);
    } catch (err) {
      app.log.error({ err }, 'catalog unreadable');
      throw new ApiError('CATALOG_UNAVAILABLE', 'the catalog cannot be read');
    }
  };

  app.get('/healthz', {
    logLevel: 'warn',
    schema: {
      summary: 'liveness: the catalog is readable',
      tags: ['health'],
      response: { 200: healthSchema, ...problems(503) },
    },
  }, async () => ({ status: 'ok', kernels: kernelCount() }));

  app.get('/readyz', {
    logLevel: 'warn',
    schema: {
      summary: 'readiness: the catalog is readable and migrated, and Redis answers when REDIS_URL is set',
      tags: ['health'],
      response: { 200: readySchema, ...problems(503) },
    },
  }, async () => {
    const failures: string[] = [];
    const checks: Record<string, string> = {};
    try {
      kernelCount();
      checks.catalog = 'ok';
    } catch {
      failures.push('the catalog cannot be read');
    }
    if (checks.catalog === 'ok') {
      const { schemaVersion } = catalogVersions(app.catalog);
      const wanted = currentSchemaVersion();
      if (schemaVersion !== null && schemaVersion >= wanted) checks.migrations = 'ok';
      else failures.push(`the catalog's schema is version ${schemaVersion ?? 'unknown'}, this server needs ${wanted}`);
    }
    if (app.redisProbe) {
      try {
        await app.redisProbe.check();
        checks.redis = 'ok';
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
    if (failures.length > 0) throw new ApiError('NOT_READY', `not ready: ${failures.join('; ')}`, [], 5);
    const load = app.work.load;
    checks.work = `${load.running} running, ${load.waiting} waiting, ${load.threads} threads`;
    return { status: 'ok', checks };
  });
}
