import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import { catalogVersion, type Catalog } from '@btf-atlas/catalog';
import type { KernelDiff } from '@btf-atlas/diff';
import type { ErrorMessage, FromThread, TaskInputs, ToThread } from './work-protocol.js';

/**
 * A thread of the {@link import('./work-pool.js').WorkPool}: runs one task at a time on its own catalog
 * connection and posts the answer back. The libraries a kind of task needs are loaded by its first task (a thread
 * that only diffs never loads the queue's).
 */

const port = parentPort;
if (!port) throw new Error('work-thread.js runs as a worker thread of the API, not on its own');
const { dbPath } = workerData as { dbPath: string };

let catalog: Catalog | undefined;
async function catalogOf(): Promise<Catalog> {
  if (!catalog) {
    const { openCatalog } = await import('@btf-atlas/catalog');
    // Writes (in-process ingest) wait for the lock as the queue's workers do.
    catalog = openCatalog(dbPath, { busyTimeoutMs: 120_000 });
  }
  return catalog;
}

function post(msg: FromThread): void {
  port!.postMessage(msg);
}

function errorMessage(err: unknown): ErrorMessage {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const e = err as Error & { code?: unknown; suggestions?: unknown };
  const m: ErrorMessage = { name: e.name, message: e.message };
  if (typeof e.code === 'string') m.code = e.code;
  if (Array.isArray(e.suggestions)) m.suggestions = e.suggestions.map(String);
  if (e.stack !== undefined) m.stack = e.stack;
  return m;
}

/** Writes bytes to `path` atomically (temp file + rename), read-only. */
function writeAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, bytes, { mode: 0o444 });
  renameSync(tmp, path);
}

/**
 * The last whole diff this thread made, by kernel pair and catalog version (PRAGMA data_version moves when another
 * connection commits): the pool sends a pair's diffs to the thread that made the last one, so the filtered answer,
 * the counts and the next filter of a diff page compare the two kernels once. One only: a thread's heap may be small
 * (BTF_ATLAS_WORK_HEAP_MB), and a diff of far-apart kernels holds tens of thousands of changes.
 */
const recentDiffs = new Map<string, KernelDiff>();
const RECENT_DIFFS = 1;

async function diff(input: TaskInputs['diff']): Promise<string | Record<string, unknown>> {
  const { diffKernels, filterDiff } = await import('@btf-atlas/diff');
  const cat = await catalogOf();
  const key = `${catalogVersion(cat)}\n${input.from}\n${input.to}`;
  let whole = recentDiffs.get(key);
  if (whole) recentDiffs.delete(key);
  else whole = diffKernels(cat, input.from, input.to);
  recentDiffs.set(key, whole);
  for (const old of recentDiffs.keys()) if (recentDiffs.size > RECENT_DIFFS) recentDiffs.delete(old);
  const view = filterDiff(whole, input.filter, { summary: input.summary });
  // JSON.stringify keeps the view's key order, which is the answer's (the route's schemas list the same keys).
  return input.as === 'json' ? JSON.stringify(view) : (view as unknown as Record<string, unknown>);
}

async function vmlinuxH(input: TaskInputs['vmlinux-h']): Promise<{ bytes: number }> {
  const [{ Btf, dumpC }, { BlobStore }] = await Promise.all([import('@btf-atlas/btf'), import('@btf-atlas/catalog')]);
  const blobs = BlobStore.forCatalog(dbPath);
  const bytes = Buffer.from(dumpC(Btf.parse(blobs.get(input.sha256))), 'utf8');
  mkdirSync(dirname(input.path), { recursive: true });
  writeAtomic(input.path, bytes);
  // The gzip is written last: its presence means both are there.
  writeAtomic(input.gzPath, gzipSync(bytes, { level: 6 }));
  return { bytes: bytes.length };
}

async function kernelSummaryTask(input: TaskInputs['kernel-summary']): Promise<Record<string, unknown>> {
  const [{ kernelSummary }, { BlobStore }] = await Promise.all([import('@btf-atlas/catalog/kernel-summary'), import('@btf-atlas/catalog')]);
  return kernelSummary(await catalogOf(), input.kref, { blobs: BlobStore.forCatalog(dbPath) }) as unknown as Record<string, unknown>;
}

async function typeTextTask(input: TaskInputs['type-text']): Promise<string> {
  const { typeText, BlobStore } = await import('@btf-atlas/catalog');
  return typeText(await catalogOf(), input.name, input.kernel, { blobs: BlobStore.forCatalog(dbPath), all: input.all });
}

async function archiveBuild(input: TaskInputs['archive-build']): Promise<null> {
  const { archiveFileOf, archiveKernels, rawBtfFileOf, BlobStore } = await import('@btf-atlas/catalog');
  const cat = await catalogOf();
  const blobs = BlobStore.forCatalog(dbPath);
  if ('filter' in input) await archiveKernels(cat, blobs, input.filter);
  else if (input.kind === 'btf') await rawBtfFileOf(cat, blobs, input.kref);
  else await archiveFileOf(cat, blobs, input.kref);
  return null;
}

/** Answers of the main thread to this thread's enqueue calls, by call number. */
const calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
let nextCall = 1;

async function job(id: number, input: TaskInputs['job']): Promise<unknown> {
  const [{ runJob }, { BlobStore }] = await Promise.all([import('@btf-atlas/queue'), import('@btf-atlas/catalog')]);
  const jobLike = {
    id: input.id,
    name: input.name,
    data: input.data,
    updateProgress: async (pct: number) => post({ type: 'progress', id, pct }),
  };
  const queue = {
    add: (name: string, data: unknown) => new Promise<unknown>((resolve, reject) => {
      const call = nextCall++;
      calls.set(call, { resolve, reject });
      post({ type: 'enqueue', id, call, name, data });
    }),
  };
  return runJob(jobLike, { catalog: await catalogOf(), blobs: BlobStore.forCatalog(dbPath), queue });
}

port.on('message', (msg: ToThread) => {
  if (msg.type === 'enqueued') {
    const c = calls.get(msg.call);
    calls.delete(msg.call);
    if (msg.error) c?.reject(Object.assign(new Error(msg.error.message), { name: msg.error.name }));
    else c?.resolve(msg.result);
    return;
  }
  const { id, kind, input } = msg;
  const task = kind === 'diff' ? diff(input as TaskInputs['diff'])
    : kind === 'vmlinux-h' ? vmlinuxH(input as TaskInputs['vmlinux-h'])
      : kind === 'kernel-summary' ? kernelSummaryTask(input as TaskInputs['kernel-summary'])
        : kind === 'type-text' ? typeTextTask(input as TaskInputs['type-text'])
          : kind === 'archive-build' ? archiveBuild(input as TaskInputs['archive-build'])
            : job(id, input as TaskInputs['job']);
  task.then(
    (result) => post({ type: 'done', id, result }),
    (err: unknown) => post({ type: 'failed', id, error: errorMessage(err) }),
  );
});
