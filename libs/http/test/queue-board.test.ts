import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIngestQueue } from '@btf-atlas/queue';
import { buildApp } from '../src/app.js';
import { basicPassword } from '../src/plugins/queue-board.js';
import { problem, tinyKernelBtf } from './support.js';

/** Issue 14: Bull Board at /admin/queues, behind the admin token (Bearer, or the password of HTTP Basic). */

const TOKEN = 'board-admin-token-0123456789';
const BEARER = { authorization: `Bearer ${TOKEN}` };
const basic = (password: string, user = 'admin') => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const KREF = 'debian/12/x86_64/6.1.0-98-amd64';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-queue-board-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('reads the password of a Basic header, whatever the user name', () => {
  expect(basicPassword(basic('s3cret:with:colons').authorization)).toBe('s3cret:with:colons');
  expect(basicPassword(basic('pw', '').authorization)).toBe('pw');
  expect(basicPassword(`Bearer ${TOKEN}`)).toBeUndefined();
  expect(basicPassword(`Basic ${Buffer.from('no-colon').toString('base64')}`)).toBeUndefined();
  expect(basicPassword(undefined)).toBeUndefined();
});

describe('with REDIS_URL (a queue of its own prefix)', () => {
  let app: FastifyInstance;
  const prefix = `test-${randomUUID()}`;

  beforeAll(async () => {
    app = await buildApp({ dbPath: join(dir, 'atlas.db'), adminToken: TOKEN, redisUrl: REDIS_URL, queuePrefix: prefix });
    await app.ready();
    // A job waiting (no worker runs here), for the board and the metrics to count.
    let res;
    for (let i = 0; i < 50; i++) {
      res = await app.inject({ method: 'POST', url: `/v1/ingest?kernel=${KREF}`, payload: Buffer.from(tinyKernelBtf()), headers: { ...BEARER, 'content-type': 'application/octet-stream' } });
      if (res.statusCode !== 503) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(res?.statusCode).toBe(202);
  });

  afterAll(async () => {
    await app?.close();
    const queue = createIngestQueue({ redisUrl: REDIS_URL, prefix });
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  });

  it('answers 401 problem+json without the token, offering Basic (browsers prompt for it) and Bearer', async () => {
    for (const url of ['/admin/queues', '/admin/queues/', '/admin/queues/api/queues', '/admin/queues/static/favicon-32x32.png', '/admin/queues/queue/btf-ingest']) {
      const res = await app.inject({ method: 'GET', url });
      problem(res, 401, 'ADMIN_TOKEN_MISSING');
      const challenges = ([] as string[]).concat(res.headers['www-authenticate'] as string | string[]);
      expect(challenges.some((c) => /^Basic realm=/.test(c)), url).toBe(true);
      expect(challenges.some((c) => /^Bearer realm=/.test(c)), url).toBe(true);
    }
  });

  it('answers 401 for another token, as Bearer or as Basic password', async () => {
    problem(await app.inject({ method: 'GET', url: '/admin/queues', headers: { authorization: 'Bearer not-the-token-at-all' } }), 401, 'ADMIN_TOKEN_INVALID');
    problem(await app.inject({ method: 'GET', url: '/admin/queues', headers: basic('not-the-token-at-all') }), 401, 'ADMIN_TOKEN_INVALID');
    // The token as the user name is not the token as the password.
    problem(await app.inject({ method: 'GET', url: '/admin/queues', headers: basic('x', TOKEN) }), 401, 'ADMIN_TOKEN_INVALID');
  });

  it('serves the board (HTML) and its static files with the token, as Bearer or as Basic password', async () => {
    for (const headers of [BEARER, basic(TOKEN)]) {
      const res = await app.inject({ method: 'GET', url: '/admin/queues', headers });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toContain('<title>btf-atlas queues</title>');
      expect(res.body).toContain('<base href="/admin/queues/" />');
    }
    // Its scripts, as the browser resolves them against <base href>.
    const html = (await app.inject({ method: 'GET', url: '/admin/queues', headers: BEARER })).body;
    const script = /<script defer src="(static\/js\/main[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = new URL(script!, 'http://atlas.example/admin/queues/').pathname;
    problem(await app.inject({ method: 'GET', url: asset }), 401, 'ADMIN_TOKEN_MISSING');
    const js = await app.inject({ method: 'GET', url: asset, headers: basic(TOKEN) });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
  });

  it("the board's API lists the ingest queue with its waiting job", async () => {
    const res = await app.inject({ method: 'GET', url: '/admin/queues/api/queues?activeQueue=btf-ingest&status=waiting&page=1', headers: BEARER });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ queues: { name: string; counts: Record<string, number>; jobs: { name: string; data: { kernel?: string } }[] }[] }>();
    expect(body.queues.map((q) => q.name)).toEqual(['btf-ingest']);
    expect(body.queues[0].counts.waiting).toBe(1);
    expect(body.queues[0].jobs.map((j) => [j.name, j.data.kernel])).toEqual([['ingest', KREF]]);
  });

  it('refuses a change made with Basic credentials from another origin (or none), and job data of the caller\'s making', async () => {
    const pause = '/admin/queues/api/queues/btf-ingest/pause';
    const resume = '/admin/queues/api/queues/btf-ingest/resume';
    problem(await app.inject({ method: 'PUT', url: pause, headers: basic(TOKEN) }), 403, 'QUEUE_BOARD_ACTION_REFUSED');
    problem(await app.inject({ method: 'PUT', url: pause, headers: { ...basic(TOKEN), host: 'atlas.example', origin: 'https://evil.example' } }), 403, 'QUEUE_BOARD_ACTION_REFUSED');
    // From the board itself (its Origin is the server's), and with Bearer (no browser sends it on its own): allowed.
    expect((await app.inject({ method: 'PUT', url: pause, headers: { ...basic(TOKEN), host: 'atlas.example', origin: 'https://atlas.example' } })).statusCode).toBe(200);
    expect((await app.inject({ method: 'PUT', url: resume, headers: BEARER })).statusCode).toBe(200);
    // Job data the workers would trust is never taken from the board, whoever asks.
    const add = await app.inject({ method: 'POST', url: '/admin/queues/api/queues/btf-ingest/add', headers: BEARER, payload: { name: 'scan', data: { path: '/' } } });
    problem(add, 403, 'QUEUE_BOARD_ACTION_REFUSED');
    // However the URL spells it.
    const encoded = await app.inject({ method: 'POST', url: '/admin/queues/api/queues/btf-ingest/%61dd', headers: BEARER, payload: { name: 'scan', data: { path: '/' } } });
    expect(encoded.statusCode).not.toBe(200);
    const edit = await app.inject({ method: 'PATCH', url: '/admin/queues/api/queues/btf-ingest/1/update-data', headers: BEARER, payload: { jobData: { path: '/' } } });
    problem(edit, 403, 'QUEUE_BOARD_ACTION_REFUSED');
    const jobs = await app.inject({ method: 'GET', url: '/admin/queues/api/queues?activeQueue=btf-ingest&status=waiting&page=1', headers: BEARER });
    expect(jobs.json<{ queues: { counts: Record<string, number> }[] }>().queues[0].counts.waiting).toBe(1);
  });

  it('stays out of the OpenAPI description', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, unknown> }>();
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/admin'))).toEqual([]);
  });

  it('/metrics counts the queue with BullMQ (mode queue)', async () => {
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/^btf_atlas_queue_up\{mode="queue"\} 1$/m);
    expect(text).toMatch(/^btf_atlas_queue_jobs\{state="waiting"\} 1$/m);
    expect(text).toMatch(/^btf_atlas_queue_jobs\{state="failed"\} 0$/m);
  });
});

describe('with Redis unreachable', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    const limits = { redisConnectTimeoutMs: 500, redisCommandTimeoutMs: 500 };
    app = await buildApp({ dbPath: join(dir, 'dead.db'), adminToken: TOKEN, redisUrl: 'redis://127.0.0.1:1', queuePrefix: `test-${randomUUID()}`, limits });
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('serves the page, and answers its API 503 REDIS_UNAVAILABLE with Retry-After at once instead of waiting for Redis', async () => {
    expect((await app.inject({ method: 'GET', url: '/admin/queues', headers: BEARER })).statusCode).toBe(200);
    const started = Date.now();
    const res = await app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: BEARER });
    expect(Date.now() - started).toBeLessThan(5_000);
    const p = problem(res, 503, 'REDIS_UNAVAILABLE');
    expect(p.detail).toContain('127.0.0.1:1');
    expect(res.headers['retry-after']).toBe('5');
    // The token is still checked first.
    problem(await app.inject({ method: 'GET', url: '/admin/queues/api/queues' }), 401, 'ADMIN_TOKEN_MISSING');
  });
});

describe('without REDIS_URL', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = await buildApp({ dbPath: join(dir, 'local.db'), adminToken: TOKEN });
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('checks the token first, then says the board needs REDIS_URL (404 problem+json)', async () => {
    problem(await app.inject({ method: 'GET', url: '/admin/queues' }), 401, 'ADMIN_TOKEN_MISSING');
    for (const url of ['/admin/queues', '/admin/queues/api/queues']) {
      const p = problem(await app.inject({ method: 'GET', url, headers: basic(TOKEN) }), 404, 'QUEUE_BOARD_DISABLED');
      expect(p.detail).toContain('REDIS_URL');
    }
  });

  it('is off (403) while the server has no admin token', async () => {
    const open = await buildApp({ dbPath: join(dir, 'open.db'), adminToken: undefined });
    try {
      problem(await open.inject({ method: 'GET', url: '/admin/queues', headers: BEARER }), 403, 'WRITE_ROUTES_DISABLED');
    } finally {
      await open.close();
    }
  });
});
