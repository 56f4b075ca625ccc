/**
 * Issue 13: every answer that decodes a whole BTF (the kernel summary, pahole's text of a type) is computed on a
 * worker thread, and a thread that runs out of its heap (BTF_ATLAS_WORK_HEAP_MB) fails its request with a typed
 * 503 while the server keeps answering.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore, openCatalog, sha256Hex, typeText } from '@btf-atlas/catalog';
import { kernelSummary } from '@btf-atlas/catalog/kernel-summary';
import { BtfBuilder } from '../../btf/test/support/builder.js';
import { buildApp } from '../src/app.js';
import { ConfigError, loadLimits } from '../src/config.js';
import { catalogOfFiles, problem } from './support.js';

const KREF = 'synth/1/x86_64/1.0.0-1-amd64';
const SUMMARY = `/v1/kernels/${KREF}/summary`;
const PAHOLE = `/v1/types/s7?kernel=${encodeURIComponent(KREF)}&format=pahole`;

/** A kernel of `count` structs `s<i>` of 8 long members. */
function kernel(count: number): Uint8Array {
  const b = new BtfBuilder();
  const long = b.int('long int', 8, 64, 1);
  for (let i = 0; i < count; i++) b.struct(`s${i}`, 64, Array.from({ length: 8 }, (_, m) => ({ name: `m${m}`, type: long, bitsOffset: m * 64 })));
  return b.build();
}

let dir: string;
let db: string;
/** Milliseconds the summary and the pahole text take together on the test's own thread. */
let inlineMs: number;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-offloop-'));
  db = await catalogOfFiles(dir, [[KREF, kernel(10_000)]]);
  const catalog = openCatalog(db);
  try {
    const blobs = BlobStore.forCatalog(db);
    const t = performance.now();
    await kernelSummary(catalog, KREF, { blobs });
    await typeText(catalog, 's7', KREF, { blobs });
    inlineMs = performance.now() - t;
  } finally {
    catalog.close();
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('heavy answers on worker threads', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp({ dbPath: db, limits: { workThreads: 1 } });
  });
  afterAll(() => app.close());

  it('the summary and pahole text are made off the event loop, which keeps answering meanwhile', async () => {
    const lag = monitorEventLoopDelay({ resolution: 5 });
    lag.enable();
    const [summary, text] = await Promise.all([app.inject({ url: SUMMARY }), app.inject({ url: PAHOLE })]);
    lag.disable();
    expect(summary.statusCode, summary.body).toBe(200);
    expect(JSON.parse(summary.body)).toMatchObject({ kernel: KREF, structs: 10_000 });
    expect(text.statusCode, text.body).toBe(200);
    expect(text.headers['content-type']).toMatch(/^text\/plain/);
    expect(text.body).toMatch(/^struct s7 \{/);
    // On the loop, decoding the kernel twice would stall it that long at once; on a thread it stays well under.
    expect(lag.max / 1e6).toBeLessThan(Math.max(100, inlineMs / 2));
    // A cached summary is served on the loop.
    const again = await app.inject({ url: SUMMARY });
    expect(again.headers['x-cache']).toBe('hit');
  });

  it('coded errors cross the thread: an unknown kernel is 404', async () => {
    problem(await app.inject({ url: '/v1/kernels/synth/1/x86_64/9.9.9/summary' }), 404, 'KERNEL_NOT_FOUND');
    problem(await app.inject({ url: `/v1/types/nope?kernel=${encodeURIComponent(KREF)}&format=pahole` }), 404, 'TYPE_NOT_FOUND');
  });
});

describe('a worker thread out of memory', () => {
  it('answers 503 WORK_OUT_OF_MEMORY with Retry-After; the server stays up and answers the next request', async () => {
    const app = await buildApp({ dbPath: db, limits: { workThreads: 1, workHeapMb: 8 } });
    try {
      for (const url of [SUMMARY, PAHOLE]) {
        const res = await app.inject({ url });
        const p = problem(res, 503, 'WORK_OUT_OF_MEMORY');
        expect(p.detail).toMatch(/ran out of memory on its worker thread \(heap limit 8 MB\)/);
        expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      }
      expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
      expect((await app.inject({ url: '/v1/kernels' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('an in-process ingest job (no REDIS_URL) whose thread runs out of memory fails with that reason; its upload is removed', async () => {
    const token = 'test-admin-token-0123456789';
    const app = await buildApp({ dbPath: db, adminToken: token, limits: { workThreads: 1, workHeapMb: 8 } });
    try {
      const upload = Buffer.from(kernel(2_000));
      const res = await app.inject({
        method: 'POST', url: `/v1/ingest?kernel=synth/1/x86_64/1.0.0-7-amd64`, payload: upload,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      });
      expect(res.statusCode, res.body).toBe(202);
      const id = res.json<{ id: string }>().id;
      let view: { state: string; failed_reason?: string } = { state: '' };
      for (let i = 0; i < 600 && view.state !== 'completed' && view.state !== 'failed'; i++) {
        await new Promise((r) => setTimeout(r, 50));
        view = (await app.inject({ url: `/v1/jobs/${id}`, headers: { authorization: `Bearer ${token}` } })).json();
      }
      expect(view.state).toBe('failed');
      expect(view.failed_reason).toMatch(/ran out of memory on its worker thread \(heap limit 8 MB\)/);
      expect(BlobStore.forCatalog(db).has(sha256Hex(upload))).toBe(false);
      expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('BTF_ATLAS_WORK_HEAP_MB sets the heap of each thread (default 2048); anything but a positive whole number is refused', () => {
    expect(loadLimits({}).workHeapMb).toBe(2048);
    expect(loadLimits({ BTF_ATLAS_WORK_HEAP_MB: '512' }).workHeapMb).toBe(512);
    expect(() => loadLimits({ BTF_ATLAS_WORK_HEAP_MB: 'lots' })).toThrow(ConfigError);
  });
});

describe('tasks of one kernel pair', () => {
  it('run one after another on the thread that ran the last of them, while other tasks take the free threads', async () => {
    const { WorkPool } = await import('../src/work-pool.js');
    const pool = new WorkPool({ dbPath: db, threads: 2, maxWaitMs: Infinity });
    try {
      const diff = (): Promise<unknown> => pool.run('diff', { from: KREF, to: KREF, filter: {}, summary: true, as: 'json' }, {}, `diff\n${KREF}\n${KREF}`);
      const first = diff();
      const second = diff();
      // The second waits for the first's thread, though a second thread may be started.
      expect(pool.load).toMatchObject({ running: 1, waiting: 1 });
      const other = pool.run('kernel-summary', { kref: KREF });
      expect(pool.load).toMatchObject({ running: 2, waiting: 1 });
      const [a, b] = await Promise.all([first, second, other]);
      expect(JSON.parse(b as string)).toEqual(JSON.parse(a as string));
      expect(pool.load).toMatchObject({ running: 0, waiting: 0 });
    } finally {
      await pool.close();
    }
  });
});
