/**
 * `POST /v1/core/check` with REDIS_URL: a selection of more kernels than BTF_ATLAS_CORE_JOB_MIN_KERNELS is a
 * `core-check` job on the queue, run by a real worker process (`btf-atlas worker`), whose progress and answer
 * `GET /v1/jobs/{id}` shows without the admin token (the id holds the object's sha256); the answer equals the one
 * the same request gets in process. Real Redis, a queue prefix of this run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIngestQueue, type JobView } from '@btf-atlas/queue';
import { corpusCatalog, K47, K50, objectBytes } from '../../dryrun/test/support.js';
import { cleanup, REDIS_URL, spawnWorker, testPrefix, type WorkerProcess } from '../../queue/test/support.js';
import { buildApp } from '../src/app.js';
import { problem } from './support.js';

const TOKEN = 'core-job-test-token-0123';
const prefix = testPrefix();
let dir: string;
let queued: FastifyInstance;
let local: FastifyInstance;
const workers: WorkerProcess[] = [];

const check = (app: FastifyInstance, query: string, bytes: Buffer) =>
  app.inject({ method: 'POST', url: `/v1/core/check${query}`, payload: bytes, headers: { 'content-type': 'application/octet-stream' } });

async function finished(id: string, ms: number): Promise<JobView> {
  const until = Date.now() + ms;
  for (;;) {
    const res = await queued.inject({ url: `/v1/jobs/${id}` });
    expect(res.statusCode).toBe(200);
    const view = res.json<JobView>();
    if (view.state === 'completed' || view.state === 'failed') return view;
    if (Date.now() > until) throw new Error(`job ${id} still ${view.state} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-core-job-'));
  const db = await corpusCatalog(dir, [K47, K50]);
  // One kernel is "many" here: every selection of two kernels is a job, a selection of one is answered at once.
  queued = await buildApp({ dbPath: db, adminToken: TOKEN, redisUrl: REDIS_URL, queuePrefix: prefix, limits: { coreJobMinKernels: 1 } });
  local = await buildApp({ dbPath: db, adminToken: TOKEN });
  await Promise.all([queued.ready(), local.ready()]);
  workers.push(spawnWorker({ BTF_ATLAS_DB: db, BTF_ATLAS_QUEUE_PREFIX: prefix, REDIS_URL }));
  await workers[0].ready;
}, 180_000);

afterAll(async () => {
  await queued?.close();
  await local?.close();
  await cleanup(createIngestQueue({ redisUrl: REDIS_URL, prefix }), workers);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('POST /v1/core/check with a queue', () => {
  it('a large selection is a job: 202 with its URL, progress to 100, the in-process answer as its result; the same request is the same job', async () => {
    const bytes = objectBytes('core_flavors');
    const res = await check(queued, '?arch=x86_64', bytes);
    expect(res.statusCode).toBe(202);
    const view = res.json<JobView & { url: string }>();
    expect(view.id).toMatch(/^core-[0-9a-f]{64}-[0-9a-f]{16}$/);
    expect(view.id.slice(5, 69)).toBe(view.object?.sha256);
    expect(res.headers.location).toBe(view.url);
    expect(view).toMatchObject({ name: 'core-check', object: { size: bytes.length } });

    const done = await finished(view.id, 120_000);
    expect(done).toMatchObject({ name: 'core-check', state: 'completed', progress: 100 });
    const inProcess = await check(local, '?arch=x86_64', bytes);
    expect(inProcess.statusCode).toBe(200);
    expect(done.result).toEqual(inProcess.json());
    expect((done.result as { kernels: { kernel: string }[] }).kernels.map((k) => k.kernel)).toEqual([K47, K50]);

    // Asked again: the same job (already completed), not a second one.
    const again = await check(queued, '?arch=x86_64', bytes);
    expect(again.statusCode, again.body.slice(0, 300)).toBe(202);
    expect(again.json<JobView>()).toMatchObject({ id: view.id, state: 'completed' });
  }, 180_000);

  it('a selection within the limit is answered at once; bad objects and unknown kernels are refused before any job', async () => {
    const one = await check(queued, `?kernel=${K50}`, objectBytes('core_flavors'));
    expect(one.statusCode).toBe(200);
    expect(one.json<{ kernels: unknown[] }>().kernels).toHaveLength(1);
    problem(await check(queued, '?arch=x86_64', Buffer.from('not an object at all')), 400, 'CORE_NOT_ELF');
    problem(await check(queued, '?arch=s390x', objectBytes('core_flavors')), 404, 'NO_MATCHING_KERNELS');
  });

  it('GET /v1/jobs/{id}: a core-check id needs no token, any other job still does', async () => {
    problem(await queued.inject({ url: '/v1/jobs/1' }), 401, 'ADMIN_TOKEN_MISSING');
    problem(await queued.inject({ url: `/v1/jobs/core-${'0'.repeat(64)}-${'0'.repeat(16)}` }), 404, 'JOB_NOT_FOUND');
  });
});
