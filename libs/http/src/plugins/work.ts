import fp from 'fastify-plugin';
import type { ResourceLimits } from 'node:worker_threads';
import type { FastifyInstance } from 'fastify';
import { WorkPool } from '../work-pool.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Worker threads of heavy answers (first-time diffs, vmlinux.h): never computed on the event loop. */
    work: WorkPool;
  }
}

export interface WorkPluginOptions {
  dbPath: string;
  /** Threads at most. */
  threads: number;
  /** Longest a task waits for a thread before 503 SERVER_BUSY (ms). */
  maxWaitMs: number;
  /** V8 heap limits of each thread (config's workHeapMb); a task past them answers 503 WORK_OUT_OF_MEMORY. */
  resourceLimits?: ResourceLimits;
}

/** The pool of heavy answers, stopped in `onClose`. */
async function workPlugin(app: FastifyInstance, opts: WorkPluginOptions): Promise<void> {
  const pool = new WorkPool({
    dbPath: opts.dbPath,
    threads: opts.threads,
    maxWaitMs: opts.maxWaitMs,
    ...(opts.resourceLimits ? { resourceLimits: opts.resourceLimits } : {}),
    onThreadError: (err) => app.log.error({ err: err.message }, 'worker thread stopped'),
  });
  app.decorate('work', pool);
  app.addHook('onClose', async () => pool.close());
}

export default fp(workPlugin, { name: 'btf-atlas-work', fastify: '5.x' });
