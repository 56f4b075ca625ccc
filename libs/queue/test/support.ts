import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Queue, QueueEvents } from 'bullmq';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh key prefix per test run: tests never touch (or flush) keys they did not create. */
export function testPrefix(): string {
  return `test-${randomUUID()}`;
}

export interface WorkerProcess {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<number | null>;
  output: () => string;
}

/** Starts `apps/worker` as its own process (built by the vitest global setup) and resolves once it is ready. */
export function spawnWorker(env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, [join(REPO, 'apps/worker/dist/main.js')], {
    env: { ...process.env, REDIS_URL, BTF_ATLAS_WORKER_LOCK_MS: '2000', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so a test can kill the worker together with its sandboxed children.
    detached: true,
  });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.includes('worker ready')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready:\n${out}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, ready, exited, output: () => out };
}

/** Stops worker processes and removes every key of the test's queue. */
export async function cleanup(queue: Queue | undefined, workers: WorkerProcess[]): Promise<void> {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => Promise.race([w.exited, new Promise((r) => setTimeout(r, 10_000))])));
  for (const w of workers) {
    if (w.child.exitCode === null && w.child.signalCode === null) {
      try {
        process.kill(-w.child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  if (queue) {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
}

/** A test's own queue: a unique prefix, `workers` worker processes on `dbPath`, the queue and its events. */
export interface QueueHarness {
  prefix: string;
  queue: Queue;
  events: QueueEvents;
  workers: WorkerProcess[];
  /** Closes the events, stops the workers and removes every key of the queue. */
  close(): Promise<void>;
}

/** Starts {@link QueueHarness}: the workers are ready and the queue events listening when it resolves. */
export async function startQueue(dbPath: string, workerCount = 1): Promise<QueueHarness> {
  const { createIngestQueue, createQueueEvents } = await import('@btf-atlas/queue');
  const prefix = testPrefix();
  const workers: WorkerProcess[] = [];
  for (let i = 0; i < workerCount; i++) workers.push(spawnWorker({ BTF_ATLAS_DB: dbPath, BTF_ATLAS_QUEUE_PREFIX: prefix }));
  await Promise.all(workers.map((w) => w.ready));
  const queue = createIngestQueue({ redisUrl: REDIS_URL, prefix }) as unknown as Queue;
  const events = createQueueEvents({ redisUrl: REDIS_URL, prefix });
  await events.waitUntilReady();
  return {
    prefix,
    queue,
    events,
    workers,
    close: async () => {
      await events.close();
      await cleanup(queue, workers);
    },
  };
}
