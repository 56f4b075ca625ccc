import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBtfTarXz, listArchiveKernels, openCatalog, sha256Hex } from '@btf-atlas/catalog';
import { createIngestQueue } from '@btf-atlas/queue';
import { sampleBtf } from '../../btf/test/support/builder.js';
import { spawnWorker, cleanup, type WorkerProcess } from '../../queue/test/support.js';
import { buildApp } from '../src/app.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const ARCHIVE = join(REPO, 'fixtures/corpus/archive');
const TOKEN = 'test-admin-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const K47 = 'debian/12/x86_64/6.1.0-47-amd64';
const ARM = 'debian/12/arm64/6.1.0-50-arm64';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const tarball = (kref: string) => readFileSync(join(ARCHIVE, `${kref}.btf.tar.xz`));

interface JobView {
  id: string; name: string; state: string; progress: number; kernel?: string; path?: string;
  attempts_made: number; result?: { kernel: string; status: string; types: number; enqueued?: string[] }; failed_reason?: string; url?: string;
}

let dir: string;

/** Polls `GET /v1/jobs/{id}` until the job is finished. */
async function finished(app: FastifyInstance, id: string, timeoutMs = 90_000): Promise<JobView> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers: AUTH });
    expect(res.statusCode).toBe(200);
    const view = res.json<JobView>();
    if (view.state === 'completed' || view.state === 'failed') return view;
    if (Date.now() > until) throw new Error(`job ${id} still ${view.state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function upload(app: FastifyInstance, url: string, body: Buffer, headers: Record<string, string> = AUTH) {
  return app.inject({ method: 'POST', url, payload: body, headers: { 'content-type': 'application/octet-stream', ...headers } });
}

function problemCode(res: { statusCode: number; headers: Record<string, unknown>; body: string }): string {
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  return (JSON.parse(res.body) as { code: string }).code;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-ingest-route-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('POST /v1/ingest and GET /v1/jobs/{id}, jobs in process (no REDIS_URL)', () => {
  let app: FastifyInstance;
  let db: string;
  let root: string;

  beforeAll(async () => {
    db = join(dir, 'inproc.db');
    // An ingest root with one kernel, and a symlink that points out of it.
    root = join(dir, 'root');
    mkdirSync(join(root, 'debian/12/arm64'), { recursive: true });
    writeFileSync(join(root, `${ARM}.btf.tar.xz`), tarball(ARM));
    mkdirSync(join(dir, 'outside'));
    symlinkSync(join(dir, 'outside'), join(root, 'escape'));
    app = await buildApp({ dbPath: db, adminToken: TOKEN, ingestRoot: root, maxUploadBytes: 8 * 1024 * 1024 });
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('refuses without the token before reading the body (401), and with another token (401)', async () => {
    expect(problemCode(await upload(app, `/v1/ingest?kernel=${K47}`, tarball(K47), {}))).toBe('ADMIN_TOKEN_MISSING');
    const res = await upload(app, `/v1/ingest?kernel=${K47}`, tarball(K47), { authorization: 'Bearer not-the-token-at-all' });
    expect(res.statusCode).toBe(401);
    expect(problemCode(res)).toBe('ADMIN_TOKEN_INVALID');
    expect((await app.inject({ method: 'GET', url: '/v1/jobs/1' })).statusCode).toBe(401);
    // Nothing reached the blob store's incoming folder or the catalog.
    expect(existsSync(`${db}.blobs`)).toBe(false);
  });

  it('takes an upload (202, Location), runs it, and the kernel is then in the catalog', async () => {
    const res = await upload(app, `/v1/ingest?kernel=${K47}`, tarball(K47));
    expect(res.statusCode).toBe(202);
    const queued = res.json<JobView>();
    expect(queued).toMatchObject({ name: 'ingest', kernel: K47, state: 'waiting' });
    expect(res.headers.location).toBe(`/v1/jobs/${queued.id}`);
    expect(queued.url).toBe(res.headers.location);
    const done = await finished(app, queued.id);
    expect(done).toMatchObject({ state: 'completed', progress: 100, attempts_made: 1 });
    expect(done.result).toMatchObject({ kernel: K47, status: 'ingested', types: 100628 });
    const kernels = (await app.inject({ url: '/v1/kernels' })).json<{ kernels: { kernel: string }[] }>().kernels;
    expect(kernels.map((k) => k.kernel)).toContain(K47);
    // The same bytes again: skipped.
    const again = await finished(app, (await upload(app, `/v1/ingest?kernel=${K47}`, tarball(K47))).json<JobView>().id);
    expect(again.result?.status).toBe('skipped');
  });

  it("a raw BTF upload: the ingest enqueues the kernel's derive job, which records its tarball", async () => {
    const kref = 'debian/12/x86_64/1.0.0-9-amd64';
    const res = await upload(app, `/v1/ingest?kernel=${kref}`, Buffer.from(sampleBtf()));
    expect((await finished(app, res.json<JobView>().id)).result).toMatchObject({ kernel: kref, status: 'ingested' });
    const expected = await buildBtfTarXz('1.0.0-9-amd64', sampleBtf());
    // Recorded by the job (on the API's job thread), not by a request to the mirror.
    const recorded = (): unknown => {
      const c = openCatalog(db, { readonly: true });
      try {
        return listArchiveKernels(c).find((k) => k.kernel === kref)?.archiveSha256;
      } finally {
        c.close();
      }
    };
    const until = Date.now() + 60_000;
    while (recorded() !== sha256Hex(expected) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(recorded()).toBe(sha256Hex(expected));
    const file = await app.inject({ url: `/archive/${kref}.btf.tar.xz` });
    expect(file.statusCode).toBe(200);
    expect(file.headers.etag).toBe(`"${sha256Hex(expected)}"`);
  });

  it('a bad upload fails its job with the reason stored; the catalog is unchanged', async () => {
    const bad = Buffer.from('this is not BTF at all, just text\n'.repeat(4));
    const res = await upload(app, '/v1/ingest?kernel=debian/12/x86_64/6.1.0-99-amd64', bad);
    expect(res.statusCode).toBe(202);
    const done = await finished(app, res.json<JobView>().id);
    expect(done.state).toBe('failed');
    expect(done.failed_reason).toMatch(/^BTF_[A-Z_]+: /);
    // Not ingested: listed only as failed, with its reason.
    const kernels = (await app.inject({ url: '/v1/kernels' })).json<{ kernels: { kernel: string; state: string; failure?: { code: string } }[] }>().kernels;
    const listed = kernels.filter((k) => k.kernel === 'debian/12/x86_64/6.1.0-99-amd64');
    expect(listed).toEqual([expect.objectContaining({ state: 'failed', failure: expect.objectContaining({ code: expect.stringMatching(/^BTF_/) }) })]);
  });

  it('refuses bad uploads with 4xx problems naming what', async () => {
    expect(problemCode(await upload(app, '/v1/ingest', tarball(K47)))).toBe('BAD_PARAMETER');
    expect(problemCode(await upload(app, '/v1/ingest?kernel=debian/12/x86_64', tarball(K47)))).toBe('CATALOG_BAD_KREF');
    expect(problemCode(await upload(app, '/v1/ingest?kernel=../../etc/passwd', tarball(K47)))).toBe('CATALOG_BAD_KREF');
    expect(problemCode(await upload(app, `/v1/ingest?kernel=${K47}`, Buffer.alloc(0)))).toBe('BAD_BODY');
    const big = await upload(app, `/v1/ingest?kernel=${K47}`, Buffer.alloc(9 * 1024 * 1024, 1));
    expect(big.statusCode).toBe(413);
    expect(problemCode(big)).toBe('UPLOAD_TOO_LARGE');
    // No Content-Type, or curl --data-binary's default: the body is the upload all the same.
    for (const headers of [AUTH, { ...AUTH, 'content-type': 'application/x-www-form-urlencoded' }, { ...AUTH, 'content-type': 'text/plain' }]) {
      const res = await app.inject({ method: 'POST', url: `/v1/ingest?kernel=${K47}`, payload: tarball(K47), headers });
      expect(res.statusCode, JSON.stringify(headers)).toBe(202);
      expect((await finished(app, res.json<JobView>().id)).result?.status).toBe('skipped');
    }
    // No partial upload is left behind.
    expect(readdirSync(join(`${db}.blobs`, 'incoming'))).toEqual([]);
  });

  it('scans a path below the ingest root; refuses paths that leave it', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/ingest', headers: AUTH, payload: { path: 'debian/12/arm64' } });
    expect(res.statusCode).toBe(202);
    const scan = await finished(app, res.json<JobView>().id);
    expect(scan).toMatchObject({ name: 'scan', state: 'completed', path: 'debian/12/arm64' });
    expect(scan.result?.enqueued).toEqual([ARM]);
    // The scan's ingest job runs after it, in the same runner.
    const until = Date.now() + 90_000;
    // (Jobs run on a worker thread: until the kernel is in, the filter matches nothing and answers 404.)
    while ((await app.inject({ url: '/v1/kernels?arch=arm64' })).json<{ kernels?: unknown[] }>().kernels?.length !== 1) {
      if (Date.now() > until) throw new Error('the scanned kernel never arrived');
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const path of ['../outside', '/etc', 'escape', 'debian/../../outside']) {
      const r = await app.inject({ method: 'POST', url: '/v1/ingest', headers: AUTH, payload: { path } });
      expect(r.statusCode, path).toBe(400);
      expect(problemCode(r)).toBe('INGEST_PATH_REFUSED');
    }
    expect(problemCode(await app.inject({ method: 'POST', url: '/v1/ingest', headers: AUTH, payload: { path: 'nope/1' } }))).toBe('INGEST_PATH_NOT_FOUND');
    expect(problemCode(await app.inject({ method: 'POST', url: '/v1/ingest', headers: AUTH, payload: { nothing: 1 } }))).toBe('BAD_BODY');
  });

  it('an unknown job is a 404; a malformed id a 400', async () => {
    expect(problemCode(await app.inject({ url: `/v1/jobs/${randomUUID()}`, headers: AUTH }))).toBe('JOB_NOT_FOUND');
    expect(problemCode(await app.inject({ url: '/v1/jobs/a%2F..%2Fb', headers: AUTH }))).toBe('BAD_PARAMETER');
  });

  it('path ingest is off without an ingest root', async () => {
    const other = await buildApp({ dbPath: join(dir, 'noroot.db'), adminToken: TOKEN });
    try {
      const r = await other.inject({ method: 'POST', url: '/v1/ingest', headers: AUTH, payload: { path: 'debian' } });
      expect(problemCode(r)).toBe('INGEST_PATH_REFUSED');
      expect(r.json<{ detail: string }>().detail).toMatch(/BTF_ATLAS_INGEST_ROOT/);
    } finally {
      await other.close();
    }
  });
});

describe('POST /v1/ingest with REDIS_URL: through BullMQ to a worker', () => {
  const prefix = `test-${randomUUID()}`;
  let app: FastifyInstance;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    const db = join(dir, 'queue.db');
    app = await buildApp({ dbPath: db, adminToken: TOKEN, redisUrl: REDIS_URL, queuePrefix: prefix });
    await app.ready();
    // A worker process, as `btf-atlas worker` runs beside the API.
    workers.push(spawnWorker({ BTF_ATLAS_DB: db, BTF_ATLAS_QUEUE_PREFIX: prefix, REDIS_URL }));
    await workers[0].ready;
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(createIngestQueue({ redisUrl: REDIS_URL, prefix }), workers);
  });

  it('the job is a BullMQ job: its state, progress and result come from Redis; bad input fails once with its reason', async () => {
    const res = await upload(app, `/v1/ingest?kernel=${ARM}`, tarball(ARM));
    expect(res.statusCode).toBe(202);
    const done = await finished(app, res.json<JobView>().id, 120_000);
    expect(done).toMatchObject({ name: 'ingest', kernel: ARM, state: 'completed', progress: 100, attempts_made: 1 });
    expect(done.result).toMatchObject({ kernel: ARM, status: 'ingested', types: 109496 });
    expect((await app.inject({ url: '/v1/kernels' })).json<{ kernels: { kernel: string }[] }>().kernels.map((k) => k.kernel)).toEqual([ARM]);

    const bad = await upload(app, '/v1/ingest?kernel=debian/12/arm64/6.1.0-99-arm64', Buffer.from('\x9f\xeb\x01\x00truncated'));
    const failed = await finished(app, bad.json<JobView>().id, 60_000);
    // Failed, not retried (bad input is an UnrecoverableError): the state is final at once. (BullMQ may report
    // attemptsMade 0 or 1 for an unrecoverable failure, depending on when it reads the counter.)
    expect(failed.state).toBe('failed');
    expect(failed.attempts_made).toBeLessThanOrEqual(1);
    expect(failed.failed_reason).toMatch(/^BTF_[A-Z_]+: /);
  });
});
