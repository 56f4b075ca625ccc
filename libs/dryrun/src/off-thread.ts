/**
 * Dry runs off the caller's event loop: a selection of many kernels is seconds of CPU (a BTF parse and a resolve
 * per group of kernels), which a server must not spend on the thread that answers requests. The task runs in a
 * worker thread (check-worker.ts) that opens the catalog read-only by itself; the answer comes back as the
 * in-process run would give it, errors with their classes and codes (worker-protocol.ts).
 *
 * The worker needs compiled JavaScript: from the sources (a test runner), the package's built `dist/` is used
 * when it is there; without it the task runs on the calling thread.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { openCatalog } from '@btf-atlas/catalog/read';
import type { CoreCheckAnswer } from './answer.js';
import { coreCheck, type DryRunProgress } from './check.js';
import { coreMinBtf, type MinBtfFailure, type MinBtfFile } from './min-btf.js';
import type { BpfObjectInput } from './object-input.js';
import type { KernelSelection } from './selection.js';
import { receiveError, type WorkerMessage, type WorkerTask } from './worker-protocol.js';

/** The compiled worker script, or undefined when there is none to run. */
export function workerScript(): URL | undefined {
  const here = import.meta.url;
  const url = here.endsWith('.js') ? new URL('./check-worker.js', here) : new URL('../dist/check-worker.js', here);
  return existsSync(fileURLToPath(url)) ? url : undefined;
}

export interface OffThreadOptions {
  modules?: boolean;
  skipFailed?: boolean;
  onProgress?: (p: DryRunProgress) => void;
}

/** Runs a task in a worker thread; on this thread when no compiled worker exists. */
async function run<T>(task: WorkerTask, opts: OffThreadOptions): Promise<T> {
  const script = workerScript();
  if (!script) return (await runHere(task, opts)) as T;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const worker = new Worker(script, { workerData: task });
    worker.on('message', (m: WorkerMessage) => {
      if (m.kind === 'progress') opts.onProgress?.(m.progress);
      else if (!settled) {
        settled = true;
        if (m.kind === 'done') resolve(m.result as T);
        else reject(receiveError(m.error));
      }
    });
    worker.once('error', (err) => {
      if (settled) return;
      settled = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (settled) return;
      settled = true;
      reject(new Error(`the dry-run worker thread exited with code ${code} before answering`));
    });
  });
}

async function runHere(task: WorkerTask, opts: OffThreadOptions): Promise<unknown> {
  const catalog = openCatalog(task.dbPath, { readonly: true });
  try {
    if (task.task === 'check') return await coreCheck(catalog, task.inputs, task.selection, { modules: task.modules, onProgress: opts.onProgress });
    return await coreMinBtf(catalog, task.inputs, task.selection, { modules: task.modules, skipFailed: task.skipFailed, onProgress: opts.onProgress });
  } finally {
    catalog.close();
  }
}

/** {@link coreCheck} on the catalog file `dbPath`, in a worker thread. */
export function coreCheckOffThread(dbPath: string, inputs: BpfObjectInput[], selection: KernelSelection, opts: OffThreadOptions = {}): Promise<CoreCheckAnswer[]> {
  return run({ task: 'check', dbPath, inputs, selection, modules: opts.modules }, opts);
}

/** {@link coreMinBtf} on the catalog file `dbPath`, in a worker thread. */
export function coreMinBtfOffThread(dbPath: string, inputs: BpfObjectInput[], selection: KernelSelection, opts: OffThreadOptions = {}): Promise<{ files: MinBtfFile[]; failed: MinBtfFailure[] }> {
  return run({ task: 'min-btf', dbPath, inputs, selection, modules: opts.modules, skipFailed: opts.skipFailed }, opts);
}
