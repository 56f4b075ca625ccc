import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { CatalogError, type CatalogErrorCode } from '@btf-atlas/catalog';
import { ApiError } from './errors.js';
import type { ErrorMessage, FromThread, TaskInputs, TaskKind, TaskOutputs, ToThread } from './work-protocol.js';

export type { TaskInputs, TaskKind, TaskOutputs } from './work-protocol.js';

/** Settings of a {@link WorkPool}. */
export interface WorkPoolOptions {
  /** The catalog file the threads open (each its own connection). */
  dbPath: string;
  /** Threads at most (each runs one task at a time); at least 1. */
  threads: number;
  /**
   * Longest a task waits for a free thread before it is refused with 503 SERVER_BUSY and Retry-After
   * (ms; `Infinity`: waits as long as it takes, for job runners that queue anyway).
   */
  maxWaitMs: number;
  /** Tasks waiting at most; one more is refused at once (default 256). */
  maxQueued?: number;
  /** V8 heap limits of each thread: a task that exceeds them costs its thread, not the server. */
  resourceLimits?: ResourceLimits;
  /** Called when a thread dies (out of memory, a crash); the pool starts another for the next task. */
  onThreadError?: (err: Error) => void;
}

/** What a caller of {@link WorkPool.run} may hear from the task while it runs. */
export interface TaskHooks {
  /** Progress of a job, 0-100. */
  onProgress?: (pct: number) => void;
  /** A job enqueues another (a scan's kernels); the answer is sent back to the thread. */
  onEnqueue?: (name: string, data: unknown) => Promise<unknown>;
}

interface Pending {
  id: number;
  kind: TaskKind;
  input: unknown;
  hooks: TaskHooks;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
  /** Tasks of one key run on the thread that ran the last of them, one after another (see {@link WorkPool.run}). */
  affinity?: string;
}

interface Slot {
  worker: Worker;
  task: Pending | undefined;
  /** The affinity key of the last task it ran. */
  lastAffinity?: string;
}

/**
 * The compiled thread module: beside this one in `dist/`; when this module runs from its TypeScript sources (the
 * tests run the sources, and build `dist/` before they start), the one in the package's `dist/`.
 */
export function threadScript(): string {
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith('.ts')) return fileURLToPath(new URL('./work-thread.js', import.meta.url));
  const built = fileURLToPath(new URL('../dist/work-thread.js', import.meta.url));
  if (!existsSync(built)) throw new Error(`the worker thread module is not built (${built}): run npx tsc -b`);
  return built;
}

/** An error as the thread sent it, rebuilt: a CatalogError stays one (its code and suggestions decide the answer). */
export function errorFromThread(e: ErrorMessage): Error {
  if (e.name === 'CatalogError' && e.code !== undefined) return new CatalogError(e.code as CatalogErrorCode, e.message, e.suggestions ?? []);
  const err = new Error(e.message) as Error & { code?: string };
  err.name = e.name;
  if (e.code !== undefined) err.code = e.code;
  if (e.stack !== undefined) err.stack = e.stack;
  return err;
}

/**
 * Heavy work off the event loop: a few `node:worker_threads` threads, started when first needed, each running one
 * task at a time (a first-time diff, a vmlinux.h, an in-process ingest job) with its own catalog connection. A
 * task waits for a free thread at most `maxWaitMs`, then is refused (503 SERVER_BUSY with Retry-After), so a burst
 * of expensive requests makes some wait or retry instead of stalling every other request of the server. A thread
 * that dies (V8 heap limit, crash) fails its task and is replaced.
 */
export class WorkPool {
  private readonly slots: Slot[] = [];
  private readonly queued: Pending[] = [];
  private nextId = 1;
  private closed = false;
  private readonly script: string;
  private readonly maxQueued: number;
  /** Recent task durations (ms), for the Retry-After estimate. */
  private meanMs = 500;

  constructor(private readonly opts: WorkPoolOptions) {
    if (!Number.isInteger(opts.threads) || opts.threads < 1) throw new RangeError(`a work pool needs at least one thread, not ${opts.threads}`);
    this.script = threadScript();
    this.maxQueued = opts.maxQueued ?? 256;
  }

  /** Tasks running and waiting now. */
  get load(): { running: number; waiting: number; threads: number } {
    return { running: this.slots.filter((s) => s.task !== undefined).length, waiting: this.queued.length, threads: this.slots.length };
  }

  /**
   * Runs a task on a thread; rejects with SERVER_BUSY when it could not start within `maxWaitMs`. Tasks given the
   * same `affinity` key run one after another on the thread that ran the last of them while it is free or busy with
   * one of them, so what that thread keeps of the work (the last diffs of a kernel pair) serves the next: a diff page
   * asks the pair's filtered answer and its counts at once, and each filter clicked asks again.
   */
  run<K extends TaskKind>(kind: K, input: TaskInputs[K], hooks: TaskHooks = {}, affinity?: string): Promise<TaskOutputs[K]> {
    if (this.closed) return Promise.reject(new Error('the work pool is closed'));
    return new Promise<TaskOutputs[K]>((resolve, reject) => {
      const task: Pending = { id: this.nextId++, kind, input, hooks, resolve: resolve as (v: unknown) => void, reject, affinity };
      const slot = this.slotFor(task);
      if (slot) {
        this.start(slot, task);
        return;
      }
      if (this.queued.length >= this.maxQueued) {
        reject(this.busy(`${this.queued.length} heavy requests are waiting already`));
        return;
      }
      if (Number.isFinite(this.opts.maxWaitMs)) {
        task.timer = setTimeout(() => {
          const i = this.queued.indexOf(task);
          if (i === -1) return;
          this.queued.splice(i, 1);
          reject(this.busy(`no worker thread was free within ${this.opts.maxWaitMs} ms`));
        }, this.opts.maxWaitMs);
      }
      this.queued.push(task);
    });
  }

  /** Stops every thread; tasks waiting or running fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.queued.splice(0)) {
      clearTimeout(t.timer);
      t.reject(new Error('the server is shutting down'));
    }
    await Promise.all(this.slots.splice(0).map(async (s) => {
      s.task?.reject(new Error('the server is shutting down'));
      s.task = undefined;
      await s.worker.terminate();
    }));
  }

  private busy(why: string): ApiError {
    // Retry when the tasks ahead have had time to finish, as recent ones took.
    const ahead = this.queued.length + this.slots.length;
    const seconds = Math.min(60, Math.max(1, Math.ceil((ahead * this.meanMs) / Math.max(1, this.opts.threads) / 1000)));
    return new ApiError('SERVER_BUSY', `the server is busy: ${why}; try again in ${seconds} s`, [], seconds);
  }

  /** The thread a task may start on now: for a keyed task, not while another of its key runs, and its last thread first. */
  private slotFor(task: Pending): Slot | undefined {
    const key = task.affinity;
    if (key !== undefined) {
      if (this.slots.some((s) => s.task?.affinity === key)) return undefined;
      const warm = this.slots.find((s) => s.task === undefined && s.lastAffinity === key);
      if (warm) return warm;
    }
    return this.freeSlot();
  }

  private freeSlot(): Slot | undefined {
    const idle = this.slots.find((s) => s.task === undefined);
    if (idle) return idle;
    if (this.slots.length >= this.opts.threads) return undefined;
    const slot = this.spawn();
    return slot;
  }

  private spawn(): Slot {
    const worker = new Worker(this.script, { workerData: { dbPath: this.opts.dbPath }, resourceLimits: this.opts.resourceLimits });
    // An idle thread does not keep the process alive; a running task's promise does.
    worker.unref();
    const slot: Slot = { worker, task: undefined };
    worker.on('message', (msg: FromThread) => this.onMessage(slot, msg));
    const died = (err: Error): void => {
      const i = this.slots.indexOf(slot);
      if (i === -1) return;
      this.slots.splice(i, 1);
      this.opts.onThreadError?.(err);
      const task = slot.task;
      slot.task = undefined;
      if (task && (err as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
        // The task needs more than a thread may have: a typed 503 (a job fails with it as its reason).
        const mb = this.opts.resourceLimits?.maxOldGenerationSizeMb;
        task.reject(new ApiError('WORK_OUT_OF_MEMORY', `the ${task.kind} task ran out of memory on its worker thread${mb === undefined ? '' : ` (heap limit ${mb} MB)`}`, [], 60));
      } else {
        task?.reject(Object.assign(new Error(`the worker thread running this ${task.kind} task stopped: ${err.message}`), { code: 'WORK_FAILED' }));
      }
      this.pump();
    };
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`exit code ${code}`)));
    this.slots.push(slot);
    return slot;
  }

  private start(slot: Slot, task: Pending): void {
    clearTimeout(task.timer);
    slot.task = task;
    slot.lastAffinity = task.affinity;
    slot.worker.ref();
    const started = performance.now();
    const { resolve, reject } = task;
    const settle = (): void => {
      this.meanMs = this.meanMs * 0.8 + (performance.now() - started) * 0.2;
      slot.task = undefined;
      slot.worker.unref();
      this.pump();
    };
    task.resolve = (v) => {
      settle();
      resolve(v);
    };
    task.reject = (e) => {
      if (slot.task === task) settle();
      reject(e);
    };
    const msg: ToThread = { type: 'run', id: task.id, kind: task.kind, input: task.input };
    slot.worker.postMessage(msg);
  }

  /** Starts waiting tasks on free threads, in order; a keyed task waiting for its thread lets the next ones pass. */
  private pump(): void {
    for (let i = 0; i < this.queued.length && !this.closed; ) {
      const slot = this.slotFor(this.queued[i]);
      if (slot) this.start(slot, this.queued.splice(i, 1)[0]);
      else if (!this.slots.some((s) => s.task === undefined) && this.slots.length >= this.opts.threads) return;
      else i++;
    }
  }

  private onMessage(slot: Slot, msg: FromThread): void {
    const task = slot.task;
    if (!task || msg.id !== task.id) return;
    switch (msg.type) {
      case 'done':
        task.resolve(msg.result);
        return;
      case 'failed':
        task.reject(errorFromThread(msg.error));
        return;
      case 'progress':
        task.hooks.onProgress?.(msg.pct);
        return;
      case 'enqueue': {
        const answer = (reply: ToThread): void => slot.worker.postMessage(reply);
        const enqueue = task.hooks.onEnqueue;
        if (!enqueue) {
          answer({ type: 'enqueued', id: msg.id, call: msg.call, error: { name: 'Error', message: 'this task cannot enqueue jobs' } });
          return;
        }
        enqueue(msg.name, msg.data).then(
          (result) => answer({ type: 'enqueued', id: msg.id, call: msg.call, result }),
          (err: Error) => answer({ type: 'enqueued', id: msg.id, call: msg.call, error: { name: err.name, message: err.message } }),
        );
        return;
      }
    }
  }
}
