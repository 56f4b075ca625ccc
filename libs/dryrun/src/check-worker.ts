/**
 * The worker thread of an off-thread dry run (off-thread.ts): opens the catalog read-only, runs the task, sends
 * progress after each group of kernels and then the answer (or the error) to the thread that started it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openCatalog } from '@btf-atlas/catalog/read';
import { coreCheck, type DryRunProgress } from './check.js';
import { coreMinBtf } from './min-btf.js';
import { sendError, type WorkerMessage, type WorkerTask } from './worker-protocol.js';

async function main(task: WorkerTask): Promise<unknown> {
  const catalog = openCatalog(task.dbPath, { readonly: true });
  try {
    const onProgress = (progress: DryRunProgress): void => post({ kind: 'progress', progress });
    if (task.task === 'check') return await coreCheck(catalog, task.inputs, task.selection, { modules: task.modules, onProgress });
    return await coreMinBtf(catalog, task.inputs, task.selection, { modules: task.modules, skipFailed: task.skipFailed, onProgress });
  } finally {
    catalog.close();
  }
}

function post(message: WorkerMessage): void {
  parentPort?.postMessage(message);
}

main(workerData as WorkerTask).then(
  (result) => post({ kind: 'done', result }),
  (err: unknown) => post({ kind: 'error', error: sendError(err) }),
);
