import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.js';
import { healthSchema, problems } from '../schemas.js';

/** `GET /healthz`: 200 while the catalog answers a query, 503 problem+json otherwise. */
export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/healthz', {
    logLevel: 'warn',
    schema: {
      summary: 'liveness and readiness: the catalog is readable',
      tags: ['health'],
      response: { 200: healthSchema, ...problems(503) },
    },
  }, async () => {
    let kernels: number;
    try {
      kernels = app.catalog.sqlite.prepare('SELECT count(*) FROM kernels').pluck().get() as number;
    } catch (err) {
      app.log.error({ err }, 'catalog unreadable');
      throw new ApiError('CATALOG_UNAVAILABLE', 'the catalog cannot be read');
    }
    return { status: 'ok', kernels };
  });
}
