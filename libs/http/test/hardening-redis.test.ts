import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobDataOf, openCatalog, scanPath } from '@btf-atlas/catalog';
import { createIngestQueue, pingRedis, type JobName } from '@btf-atlas/queue';
import { BtfBuilder } from '../../btf/test/support/builder.js';
import { cleanup, spawnWorker, type WorkerProcess } from '../../queue/test/support.js';
import { buildApp } from '../src/app.js';
import { problem, tinyKernelBtf } from './support.js';

/**
 * Issue 13, Redis outages: with Redis unreachable the write routes answer 503 at once (before reading a body),
 * /readyz says so while /healthz stays green, `btf-atlas ingest` says it in one line; a Redis restarted mid-run
 * (AOF on) loses no job and runs none twice, and the API is ready again once it is back.
 */

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = join(REPO, 'apps/cli/bin/btf-atlas.js');
const TOKEN = 'test-admin-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const DEAD = 'redis://127.0.0.1:1';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const KREF = 'debian/12/x86_64/6.1.0-99-amd64';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-hardening-redis-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const fast = { redisConnectTimeoutMs: 500, redisCommandTimeoutMs: 500 };

describe('Redis at a closed port', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = await buildApp({ dbPath: join(dir, 'dead.db'), adminToken: TOKEN, redisUrl: DEAD, queuePrefix: `test-${randomUUID()}`, limits: fast });
    await app.listen({ port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await app?.close();
  });

  it('POST /v1/ingest and GET /v1/jobs/{id} answer 503 problem+json with Retry-After, fast', async () => {
    for (const req of [
      { method: 'POST' as const, url: `/v1/ingest?kernel=${KREF}`, payload: Buffer.from(tinyKernelBtf()), headers: { ...AUTH, 'content-type': 'application/octet-stream' } },
      { method: 'POST' as const, url: '/v1/ingest', payload: { path: 'debian' }, headers: AUTH },
      { method: 'GET' as const, url: '/v1/jobs/12', headers: AUTH },
    ]) {
      const t = performance.now();
      const res = await app.inject(req);
      expect(performance.now() - t, req.url).toBeLessThan(1000);
      const p = problem(res, 503, 'REDIS_UNAVAILABLE');
      expect(p.detail).toMatch(/^Redis at 127\.0\.0\.1:1 is unreachable: /);
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
  });

  it('an upload is refused before its body is read: the connection is closed while the body still trickles', async () => {
    const port = (app.server.address() as AddressInfo).port;
    const started = performance.now();
    const answer = await new Promise<{ text: string; ms: number }>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('error', () => undefined);
      const trickle = setInterval(() => !socket.destroyed && socket.write('x'), 50);
      const giveUp = setTimeout(() => {
        socket.destroy();
        reject(new Error(`still open; answered: ${text.slice(0, 200)}`));
      }, 5000);
      socket.on('close', () => {
        clearInterval(trickle);
        clearTimeout(giveUp);
        resolve({ text, ms: performance.now() - started });
      });
      socket.write(`POST /v1/ingest?kernel=${KREF} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000000\r\n\r\n`);
    });
    expect(answer.text).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer.text).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer.text).toMatch(/\r\nretry-after: \d+\r\n/i);
    expect(answer.ms).toBeLessThan(1000);
  });

  it('/readyz is 503 naming Redis; /healthz stays 200 (the process is alive)', async () => {
    const t = performance.now();
    const ready = await app.inject({ url: '/readyz' });
    expect(performance.now() - t).toBeLessThan(1000);
    const p = problem(ready, 503, 'NOT_READY');
    expect(p.detail).toMatch(/Redis at 127\.0\.0\.1:1 is unreachable/);
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
  });

  it('`btf-atlas ingest` says so in one line and exits 1 within 5 s', async () => {
    const file = join(dir, 'tiny.btf');
    writeFileSync(file, tinyKernelBtf());
    const t = performance.now();
    const child = spawn(process.execPath, [BIN, 'ingest', file, '--kernel', KREF, '--db', join(dir, 'cli.db')], {
      env: { ...process.env, REDIS_URL: DEAD },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const ms = performance.now() - t;
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^btf-atlas: REDIS_UNAVAILABLE: Redis at 127\.0\.0\.1:1 is unreachable: [^\n]+\n$/);
    expect(ms).toBeLessThan(5000);
  });
});

describe('Redis reachable', () => {
  it('/readyz is 200 with every check ok', async () => {
    const app = await buildApp({ dbPath: join(dir, 'live.db'), adminToken: TOKEN, redisUrl: REDIS_URL, queuePrefix: `test-${randomUUID()}` });
    try {
      // The probe connects in the background: ready within the connect timeout.
      const until = Date.now() + 5000;
      let res = await app.inject({ url: '/readyz' });
      while (res.statusCode !== 200 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 50));
        res = await app.inject({ url: '/readyz' });
      }
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ status: 'ok', checks: { catalog: 'ok', migrations: 'ok', redis: 'ok' } });
    } finally {
      await app.close();
    }
  });
});

/** A TCP port nobody listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** A kernel with `count` structs, so an ingest takes a moment. */
function kernelBtf(count: number, salt: number): Uint8Array {
  const b = new BtfBuilder();
  const long = b.int('long int', 8, 64, 1);
  for (let i = 0; i < count; i++) b.struct(`k${salt}_s${i}`, 16, [{ name: 'a', type: long, bitsOffset: 0 }, { name: 'b', type: long, bitsOffset: 64 }]);
  return b.build();
}

describe('Redis restarted mid-run (AOF on)', () => {
  let redis: ChildProcess | undefined;
  let url: string;
  let args: string[];
  const workers: WorkerProcess[] = [];
  const prefix = `test-${randomUUID()}`;

  async function startRedis(): Promise<void> {
    redis = spawn('redis-server', args, { stdio: 'ignore' });
    const until = Date.now() + 10_000;
    for (;;) {
      try {
        await pingRedis(url, 500);
        return;
      } catch (err) {
        if (Date.now() > until) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async function stopRedis(): Promise<void> {
    const r = redis;
    if (!r || r.exitCode !== null) return;
    const exited = new Promise((resolve) => r.once('exit', resolve));
    r.kill('SIGTERM');
    await exited;
  }

  beforeAll(async () => {
    const port = await freePort();
    url = `redis://127.0.0.1:${port}`;
    const data = join(dir, 'redis');
    mkdirSync(data);
    args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', data, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''];
    await startRedis();
  });

  afterAll(async () => {
    await cleanup(createIngestQueue({ redisUrl: url, prefix }) as never, workers).catch(() => undefined);
    await stopRedis();
  });

  it('every job finishes exactly once; the worker and the API reconnect and resume', async () => {
    const db = join(dir, 'restart.db');
    const krefs = Array.from({ length: 6 }, (_, i) => `debian/12/x86_64/6.1.0-${i + 1}-amd64`);
    for (const [i, kref] of krefs.entries()) {
      mkdirSync(join(dir, 'archive', kref, '..'), { recursive: true });
      writeFileSync(join(dir, 'archive', `${kref}.btf`), kernelBtf(4000, i));
    }
    const jobs = scanPath(join(dir, 'archive')).map((item) => jobDataOf(item));
    expect(jobs).toHaveLength(krefs.length);
    const app = await buildApp({ dbPath: db, adminToken: TOKEN, redisUrl: url, queuePrefix: prefix, limits: fast });
    const queue = createIngestQueue({ redisUrl: url, prefix });
    try {
      // The default job lock (30 s): a restart shorter than it leaves the running job's lock in place.
      workers.push(spawnWorker({ BTF_ATLAS_DB: db, BTF_ATLAS_QUEUE_PREFIX: prefix, REDIS_URL: url, BTF_ATLAS_WORKER_LOCK_MS: '30000' }));
      await workers[0].ready;
      const added = await queue.addBulk(jobs.map((data) => ({ name: 'ingest' as JobName, data })));
      // Restart Redis as soon as the first job is done: the others are waiting or running.
      const until = Date.now() + 60_000;
      while ((await queue.getJobCounts('completed')).completed < 1) {
        if (Date.now() > until) throw new Error(`no job finished:\n${workers[0].output()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect((await queue.getJobCounts('completed')).completed).toBeLessThan(jobs.length);
      await stopRedis();
      // While it is down: the API refuses writes at once, and is not ready.
      const down = await app.inject({ method: 'POST', url: '/v1/ingest', headers: AUTH, payload: { path: 'x' } });
      problem(down, 503, 'REDIS_UNAVAILABLE');
      problem(await app.inject({ url: '/readyz' }), 503, 'NOT_READY');
      await new Promise((r) => setTimeout(r, 500));
      await startRedis();
      // This test's own queue client reconnects in the background too (without an offline queue its commands fail
      // until it has): its reads are retried on a connection error until the deadline, and only then.
      const read = async <T>(fn: () => Promise<T>): Promise<T> => {
        for (;;) {
          try {
            return await fn();
          } catch (err) {
            if (!/Stream isn't writeable|Connection is closed|ECONNREFUSED/.test((err as Error).message) || Date.now() > until) throw err;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      };
      // Every job completes, each as a first ingest (a job run twice would end `skipped`).
      for (const job of added) {
        for (;;) {
          const state = await read(() => queue.getJobState(job.id!));
          if (state === 'completed') break;
          if (state === 'failed' || Date.now() > until) throw new Error(`job ${job.id} is ${state}:\n${workers[0].output()}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        const done = await read(() => queue.getJob(job.id!));
        expect((done?.returnvalue as { status: string }).status).toBe('ingested');
      }
      // Exactly once: as many completed ingest jobs as were added (each kernel's derive job, made after its commit,
      // completes beside them).
      const completed = await read(() => queue.getJobs(['completed']));
      expect(completed.filter((j) => j.name === 'ingest')).toHaveLength(jobs.length);
      const catalog = openCatalog(db);
      try {
        const rows = catalog.sqlite.prepare("SELECT distro || '/' || release || '/' || arch || '/' || uname_r AS kref FROM kernels ORDER BY kref").pluck().all() as string[];
        expect(rows).toEqual([...krefs].sort());
      } finally {
        catalog.close();
      }
      // The API is ready again once its connections are back.
      const back = Date.now() + 10_000;
      let ready = await app.inject({ url: '/readyz' });
      while (ready.statusCode !== 200 && Date.now() < back) {
        await new Promise((r) => setTimeout(r, 100));
        ready = await app.inject({ url: '/readyz' });
      }
      expect(ready.statusCode).toBe(200);
    } finally {
      await queue.close();
      await app.close();
    }
  }, 120_000);
});
