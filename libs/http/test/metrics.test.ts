import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const ARCHIVE = join(REPO, 'fixtures/corpus/archive');
const TOKEN = 'metrics-admin-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const K47 = 'debian/12/x86_64/6.1.0-47-amd64';
const BAD = 'debian/12/x86_64/6.1.0-99-amd64';

/** One sample of the text format: `name{label="value",…} number`. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus' text format 0.0.4 (comments skipped; label values unescaped). */
function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2].replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    }
    // NaN is a value of the format (prom-client spells it `Nan`, Prometheus parses it case-blind): an event loop
    // lag not measured yet, never one of ours.
    const nan = /^nan$/i.test(m[3]);
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : nan ? NaN : Number(m[3]);
    expect(Number.isNaN(value) && (!nan || m[1].startsWith('btf_atlas_')), line).toBe(false);
    out.push({ name: m[1], labels, value });
  }
  return out;
}

/** The value of the one sample of this name whose labels include these; undefined when there is none. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  expect(hits.length, `${name} ${JSON.stringify(labels)}`).toBeLessThanOrEqual(1);
  return hits[0]?.value;
}

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-metrics-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function waitFinished(app: FastifyInstance, id: string): Promise<{ state: string; result?: { phaseMs?: Record<string, number> } }> {
  const until = Date.now() + 90_000;
  for (;;) {
    const view = (await app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers: AUTH })).json<{ state: string; result?: { phaseMs?: Record<string, number> } }>();
    if (view.state === 'completed' || view.state === 'failed') return view;
    if (Date.now() > until) throw new Error(`job ${id} still ${view.state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('GET /metrics', () => {
  let app: FastifyInstance;
  let db: string;

  beforeAll(async () => {
    db = join(dir, 'atlas.db');
    app = await buildApp({ dbPath: db, adminToken: TOKEN });
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('answers before any traffic, in the text format, without the admin token', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parseMetrics(res.body);
    expect(valueOf(samples, 'btf_atlas_kernels', { state: 'ingested' })).toBe(0);
    expect(valueOf(samples, 'btf_atlas_kernels', { state: 'failed' })).toBe(0);
    expect(valueOf(samples, 'btf_atlas_queue_up', { mode: 'in-process' })).toBe(1);
    expect(valueOf(samples, 'btf_atlas_work_threads')).toBeGreaterThanOrEqual(0);
    // Node's process metrics are there too.
    expect(valueOf(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('after traffic: latency histograms per route pattern, kernels as /v1/kernels lists them, jobs, ingest phases, cache', async () => {
    // An ingest of a fixture kernel (in-process job), and one of bytes that are no BTF (a failed kernel).
    const up = await app.inject({
      method: 'POST', url: `/v1/ingest?kernel=${K47}`, payload: readFileSync(join(ARCHIVE, `${K47}.btf.tar.xz`)),
      headers: { ...AUTH, 'content-type': 'application/octet-stream' },
    });
    expect(up.statusCode).toBe(202);
    const done = await waitFinished(app, up.json<{ id: string }>().id);
    expect(done.state).toBe('completed');
    expect(Object.keys(done.result?.phaseMs ?? {})).toEqual(expect.arrayContaining(['unpack', 'decode', 'normalize', 'write']));
    const bad = await app.inject({
      method: 'POST', url: `/v1/ingest?kernel=${BAD}`, payload: Buffer.from('not btf at all'),
      headers: { ...AUTH, 'content-type': 'application/octet-stream' },
    });
    expect(bad.statusCode).toBe(202);
    expect((await waitFinished(app, bad.json<{ id: string }>().id)).state).toBe('failed');

    // Reads: the same field twice (a miss, then a hit), two kernels' type, two 404s of unknown routes.
    for (let i = 0; i < 2; i++) expect((await app.inject({ method: 'GET', url: '/v1/fields/pt_regs.di' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: `/v1/types/pt_regs?kernel=${K47}` })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: `/v1/types/task_struct?kernel=${K47}` })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/no-such-route' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/v2/kernels/x' })).statusCode).toBe(404);
    const listed = (await app.inject({ method: 'GET', url: '/v1/kernels' })).json<{ kernels: { state: string }[] }>().kernels;

    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parseMetrics(res.body);
    const count = (route: string, status: string, method = 'GET') =>
      valueOf(samples, 'btf_atlas_http_request_duration_seconds_count', { method, route, status_class: status });

    // One series per route pattern (the path parameters are not in it), counting every request.
    expect(count('/v1/fields/:field_path', '2xx')).toBe(2);
    expect(count('/v1/types/:name', '2xx')).toBe(2);
    expect(count('/v1/kernels', '2xx')).toBe(1);
    expect(count('/v1/ingest', '2xx', 'POST')).toBe(2);
    expect(count('(unmatched)', '4xx')).toBe(2);
    expect(count('/v1/jobs/:id', '2xx')).toBeGreaterThanOrEqual(2);
    expect(res.body).not.toContain('pt_regs.di');
    expect(res.body).not.toContain('no-such-route');
    // The +Inf bucket holds every request of the series.
    expect(valueOf(samples, 'btf_atlas_http_request_duration_seconds_bucket', { route: '/v1/types/:name', status_class: '2xx', le: '+Inf' })).toBe(2);
    expect(valueOf(samples, 'btf_atlas_http_request_duration_seconds_sum', { route: '/v1/types/:name', status_class: '2xx' })).toBeGreaterThan(0);
    // Only the scrape itself is in flight.
    expect(valueOf(samples, 'btf_atlas_http_requests_in_flight')).toBe(1);

    // Kernels by state equal the listing.
    expect(listed.length).toBe(2);
    expect(valueOf(samples, 'btf_atlas_kernels', { state: 'ingested' })).toBe(listed.filter((k) => k.state === 'ingested').length);
    expect(valueOf(samples, 'btf_atlas_kernels', { state: 'failed' })).toBe(listed.filter((k) => k.state === 'failed').length);
    expect(valueOf(samples, 'btf_atlas_kernels', { state: 'failed' })).toBe(1);

    // The catalog's file size.
    expect(valueOf(samples, 'btf_atlas_catalog_bytes', { file: 'db' })).toBe(statSync(db).size);

    // Jobs: counts of the in-process runner, what finished, and the ingest's phases.
    expect(valueOf(samples, 'btf_atlas_queue_jobs', { state: 'completed' })).toBe(1);
    expect(valueOf(samples, 'btf_atlas_queue_jobs', { state: 'failed' })).toBe(1);
    expect(valueOf(samples, 'btf_atlas_queue_jobs', { state: 'waiting' })).toBe(0);
    expect(valueOf(samples, 'btf_atlas_jobs_finished_total', { name: 'ingest', state: 'completed' })).toBe(1);
    expect(valueOf(samples, 'btf_atlas_jobs_finished_total', { name: 'ingest', state: 'failed' })).toBe(1);
    for (const phase of ['unpack', 'decode', 'normalize', 'write']) {
      expect(valueOf(samples, 'btf_atlas_ingest_phase_duration_seconds_count', { phase }), phase).toBe(1);
    }
    const decodeS = valueOf(samples, 'btf_atlas_ingest_phase_duration_seconds_sum', { phase: 'decode' }) ?? 0;
    expect(decodeS * 1000).toBeCloseTo(done.result?.phaseMs?.decode ?? -1, 3);

    // The answer cache: the second field read was a hit; what it holds.
    expect(valueOf(samples, 'btf_atlas_answer_cache_requests_total', { result: 'hit' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'btf_atlas_answer_cache_requests_total', { result: 'miss' })).toBeGreaterThanOrEqual(1);
    const stats = app.answerCacheStats();
    expect(valueOf(samples, 'btf_atlas_answer_cache_entries')).toBe(stats.entries);
    expect(valueOf(samples, 'btf_atlas_answer_cache_bytes', { kind: 'used' })).toBe(stats.bytes);
    expect(valueOf(samples, 'btf_atlas_answer_cache_bytes', { kind: 'max' })).toBe(stats.maxBytes);
    expect(valueOf(samples, 'btf_atlas_work_tasks', { state: 'running' })).toBe(0);
  });

  it('keeps a registry per app: a second app in this process counts only its own requests', async () => {
    const other = await buildApp({ dbPath: join(dir, 'other.db'), adminToken: undefined });
    try {
      await other.ready();
      const samples = parseMetrics((await other.inject({ method: 'GET', url: '/metrics' })).body);
      expect(valueOf(samples, 'btf_atlas_http_request_duration_seconds_count', { route: '/v1/fields/:field_path', status_class: '2xx' })).toBeUndefined();
      expect(valueOf(samples, 'btf_atlas_kernels', { state: 'ingested' })).toBe(0);
      expect(other.metrics).not.toBe(app.metrics);
    } finally {
      await other.close();
    }
  });

  it('is listed in the OpenAPI description', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, { get?: unknown }> }>();
    expect(doc.paths['/metrics']?.get).toBeDefined();
  });
});

describe('GET /metrics with Redis unreachable', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    const limits = { redisConnectTimeoutMs: 500, redisCommandTimeoutMs: 500 };
    app = await buildApp({ dbPath: join(dir, 'dead.db'), adminToken: TOKEN, redisUrl: 'redis://127.0.0.1:1', queuePrefix: 'test-metrics-dead', limits });
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('still answers, fast, saying the queue could not be counted', async () => {
    const started = Date.now();
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(Date.now() - started).toBeLessThan(10_000);
    const samples = parseMetrics(res.body);
    expect(valueOf(samples, 'btf_atlas_queue_up', { mode: 'queue' })).toBe(0);
    expect(samples.filter((x) => x.name === 'btf_atlas_queue_jobs')).toEqual([]);
    expect(valueOf(samples, 'btf_atlas_kernels', { state: 'ingested' })).toBe(0);
  });
});
