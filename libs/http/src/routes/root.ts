import type { FastifyInstance } from 'fastify';

/**
 * `GET /`: until the web explorer lives here, a 302 to `/docs` (the browsable OpenAPI description). Its own
 * file so that the explorer replaces it by replacing this one registration.
 */
export default async function rootRoutes(app: FastifyInstance): Promise<void> {
  app.get('/', {
    schema: {
      summary: 'the start page: redirects to /docs, the browsable description of every route',
      tags: ['meta'],
      response: { 302: { description: 'to /docs (Location)', type: 'null' } },
    },
  }, async (_request, reply) => reply.redirect('/docs', 302));
}
