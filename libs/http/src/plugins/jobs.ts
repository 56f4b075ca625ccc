import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { BlobStore, openCatalog } from '@btf-atlas/catalog';
import { InProcessJobRunner, QueueJobRunner, type JobRunner } from '@btf-atlas/queue';

declare module 'fastify' {
  interface FastifyInstance {
    /** Where write routes send their jobs: the BullMQ queue when REDIS_URL is set, this process otherwise. */
    jobs: JobRunner;
  }
}

export interface JobsPluginOptions {
  dbPath: string;
  /** REDIS_URL; unset: jobs run in this process, one at a time. */
  redisUrl?: string;
  /** Redis key prefix of the queue (BTF_ATLAS_QUEUE_PREFIX, default btf-atlas). */
  queuePrefix?: string;
}

/** The job runner of write routes, closed in `onClose` (in-process: after the running job finishes). */
async function jobsPlugin(app: FastifyInstance, opts: JobsPluginOptions): Promise<void> {
  const runner: JobRunner = opts.redisUrl
    ? new QueueJobRunner({ redisUrl: opts.redisUrl, prefix: opts.queuePrefix })
    : new InProcessJobRunner({
      // A connection of its own: readers' caches key on PRAGMA data_version, which moves only for commits made
      // by other connections.
      catalog: openCatalog(opts.dbPath),
      blobs: BlobStore.forCatalog(opts.dbPath),
      log: (obj, msg) => app.log.info(obj, msg),
    });
  app.decorate('jobs', runner);
  app.addHook('onClose', async () => runner.close());
  app.log.info({ mode: runner.mode }, 'job runner ready');
}

export default fp(jobsPlugin, { name: 'btf-atlas-jobs', fastify: '5.x' });
