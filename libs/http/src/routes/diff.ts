import type { FastifyInstance } from 'fastify';
import { diffKernels } from '@btf-atlas/diff';
import { kernelDiffSchema, problems } from '../schemas.js';

const kref = { type: 'string', minLength: 1, maxLength: 512, description: 'KREF: DISTRO/RELEASE/ARCH/UNAME_R' } as const;

/** `GET /v1/diff?from=KREF&to=KREF`: every layout change between two kernels, classified (as `diff --json`). */
export default async function diffRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Querystring: { from: string; to: string } }>('/v1/diff', {
    config: { cacheAnswers: true },
    schema: {
      summary: 'every layout change between two kernels, classified (as `btf-atlas diff KREF_A KREF_B --json`)',
      tags: ['catalog'],
      querystring: {
        type: 'object',
        required: ['from', 'to'],
        additionalProperties: false,
        properties: {
          from: { ...kref, examples: ['debian/12/x86_64/6.1.0-47-amd64'] },
          to: { ...kref, examples: ['debian/12/x86_64/6.1.0-50-amd64'] },
        },
      },
      response: { 200: kernelDiffSchema, ...problems(400, 404) },
    },
  }, async (request) => diffKernels(app.catalog, request.query.from, request.query.to));
}
