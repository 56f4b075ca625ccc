import type { FastifyInstance } from 'fastify';
import type { SyncJobData } from '@btf-atlas/queue';
import { ApiError } from '../errors.js';
import { problems } from '../schemas.js';

interface SyncBody {
  distro: 'debian' | 'ubuntu';
  suites: string[];
  archs: string[];
  mirror?: string;
  modules?: string[] | 'all' | 'none';
  every_hours?: number;
  limit?: number;
}

const name = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' } as const;

/**
 * `POST /v1/sync` (admin): enqueue a sync of a Debian-format repository — the job plans the suites' indexes and
 * enqueues one ingest job per kernel the catalog lacks (downloaded, checked and ingested by the workers). With
 * `every_hours` (queue mode) it becomes a repeating job under one scheduler per distro/suites/archs.
 */
export default async function syncRoutes(app: FastifyInstance): Promise<void> {
  app.post<{ Body: SyncBody }>('/v1/sync', {
    onRequest: app.requireAdmin,
    schema: {
      summary: "enqueue a sync of a distribution's repository: the kernels of these suites and archs that the catalog lacks are downloaded and ingested (as `btf-atlas sync`)",
      tags: ['write'],
      security: [{ adminToken: [] }],
      body: {
        type: 'object',
        required: ['distro', 'suites', 'archs'],
        additionalProperties: false,
        properties: {
          distro: { type: 'string', enum: ['debian', 'ubuntu'] },
          suites: { type: 'array', minItems: 1, maxItems: 32, items: name, examples: [['bookworm', 'bookworm-backports', 'trixie', 'sid']] },
          archs: { type: 'array', minItems: 1, maxItems: 16, items: name, examples: [['amd64', 'arm64']] },
          mirror: { type: 'string', maxLength: 1024, pattern: '^https?://', description: 'archive root; default BTF_ATLAS_DEBIAN_MIRROR, else the apt sources of the worker' },
          modules: {
            anyOf: [{ type: 'string', enum: ['all', 'none'] }, { type: 'array', maxItems: 10_000, items: name }],
            description: 'module BTF to ingest with each kernel (default all)',
          },
          limit: { type: 'integer', minimum: 1, maximum: 100_000, description: 'at most this many kernels per suite and arch, the newest first' },
          every_hours: { type: 'number', exclusiveMinimum: 0, maximum: 24 * 365, description: 'repeat the sync this often (needs REDIS_URL)' },
        },
      },
      response: {
        202: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            name: { type: 'string' },
            state: { type: 'string' },
            url: { type: 'string' },
            scheduler: { type: 'string', description: 'the repeating job scheduler (with every_hours)' },
            every_hours: { type: 'number' },
          },
        },
        ...problems(400, 401, 403),
      },
    },
  }, async (request, reply) => {
    const b = request.body;
    if (b.distro === 'ubuntu' && b.mirror === undefined) throw new ApiError('BAD_BODY', 'a sync of ubuntu needs "mirror" (the apt sources name a Debian archive only)');
    const data: SyncJobData = { distro: b.distro, suites: b.suites, archs: b.archs, modules: b.modules ?? 'all' };
    if (b.mirror !== undefined) data.mirror = b.mirror;
    if (b.limit !== undefined) data.limit = b.limit;
    if (b.every_hours !== undefined) {
      if (!app.jobs.schedule) throw new ApiError('BAD_BODY', '"every_hours" needs the queue (REDIS_URL): without it jobs run once, in this process');
      const scheduler = `sync:${b.distro}:${b.suites.join(',')}:${b.archs.join(',')}`;
      await app.jobs.schedule(scheduler, Math.round(b.every_hours * 3600_000), 'sync', data);
      return reply.code(202).send({ scheduler, every_hours: b.every_hours });
    }
    const view = await app.jobs.enqueue('sync', data);
    const url = `/v1/jobs/${encodeURIComponent(view.id)}`;
    return reply.code(202).header('location', url).send({ id: view.id, name: view.name, state: view.state, url });
  });
}
