import { statSync } from 'node:fs';
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { listKernelStates } from '@btf-atlas/catalog';
import type { JobCounts, JobView } from '@btf-atlas/queue';

declare module 'fastify' {
  interface FastifyInstance {
    /** This instance's Prometheus registry (its own: several apps in one process never share a metric). */
    metrics: Registry;
  }
}

export interface MetricsPluginOptions {
  /** Node's process metrics (CPU, memory, event loop lag, GC) too; default true. */
  processMetrics?: boolean;
}

/** Route label of a request no route matched (404s, refused URLs): one series, whatever the URL was. */
export const UNMATCHED_ROUTE = '(unmatched)';

/** Latency buckets (seconds): cached answers take a millisecond, a first-time diff or vmlinux.h seconds. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Ingest phase buckets (seconds): a small kernel decodes in 100 ms, a package with every module in a minute. */
const PHASE_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** `2xx`, `4xx`…: the status label (a class, so series stay few). */
function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

/** File size in bytes, 0 when the file does not exist (a WAL checkpointed away). */
function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * `GET /metrics` in Prometheus' text format (prom-client, on a registry of this instance's own). Per request: a
 * latency histogram labelled by method, route pattern (never the raw URL: one series per route, not per kernel
 * asked for) and status class, and the requests in flight. Read at scrape time (collect callbacks, no timers): the
 * catalog's file size and kernels by state (as `GET /v1/kernels` lists them), jobs per state (BullMQ's counts with
 * REDIS_URL, the in-process runner's otherwise) and whether they could be read, the answer cache and the worker
 * threads. Jobs run in this process (no REDIS_URL) also report their ingest phases' durations; queue workers are
 * other processes, whose work shows in the queue's counts. Unauthenticated, as Prometheus scrapes: it says how
 * busy the server is and what the catalog holds, which `/v1/kernels` says anyway. The route itself is
 * {@link metricsRoutes}.
 */
async function metricsPlugin(app: FastifyInstance, opts: MetricsPluginOptions): Promise<void> {
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const latency = new Histogram({
    name: 'btf_atlas_http_request_duration_seconds',
    help: 'HTTP request latency by method, route pattern and status class',
    labelNames: ['method', 'route', 'status_class'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const inFlight = new Gauge({ name: 'btf_atlas_http_requests_in_flight', help: 'HTTP requests being answered now', registers });
  const cacheAnswers = new Counter({
    name: 'btf_atlas_answer_cache_requests_total',
    help: 'Answers of cached routes, by whether the answer cache had them (hit) or computed and kept them (miss)',
    labelNames: ['result'] as const,
    registers,
  });
  const phases = new Histogram({
    name: 'btf_atlas_ingest_phase_duration_seconds',
    help: 'Duration of each phase of the ingest jobs this process ran (in-process mode: no REDIS_URL)',
    labelNames: ['phase'] as const,
    buckets: PHASE_BUCKETS,
    registers,
  });
  const finished = new Counter({
    name: 'btf_atlas_jobs_finished_total',
    help: 'Jobs this process ran (in-process mode: no REDIS_URL), by job name and final state',
    labelNames: ['name', 'state'] as const,
    registers,
  });

  new Gauge({
    name: 'btf_atlas_catalog_bytes',
    help: "Size of the catalog's SQLite files (the database and its write-ahead log)",
    labelNames: ['file'] as const,
    registers,
    collect() {
      this.set({ file: 'db' }, fileBytes(app.catalog.path));
      this.set({ file: 'wal' }, fileBytes(`${app.catalog.path}-wal`));
    },
  });
  new Gauge({
    name: 'btf_atlas_kernels',
    help: "The catalog's kernels by state: ingested, or failed at ingest (as GET /v1/kernels lists them)",
    labelNames: ['state'] as const,
    registers,
    collect() {
      const counts = { ingested: 0, failed: 0 };
      for (const k of listKernelStates(app.catalog)) counts[k.state]++;
      this.set({ state: 'ingested' }, counts.ingested);
      this.set({ state: 'failed' }, counts.failed);
    },
  });

  // Jobs per state and whether they could be counted: the registry collects every metric at once, so both gauges
  // share the one read in flight (one Redis round trip per scrape).
  let counting: Promise<JobCounts | undefined> | undefined;
  const jobCounts = (): Promise<JobCounts | undefined> => {
    counting ??= app.jobs.counts().then(
      (c) => c,
      (err: unknown) => {
        app.log.warn({ err: (err as Error).message }, 'metrics: job counts unavailable');
        return undefined;
      },
    ).finally(() => {
      counting = undefined;
    });
    return counting;
  };
  new Gauge({
    name: 'btf_atlas_queue_up',
    help: 'Whether the job counts could be read at this scrape (0: Redis unreachable); mode is queue (REDIS_URL) or in-process',
    labelNames: ['mode'] as const,
    registers,
    async collect() {
      this.reset();
      this.set({ mode: app.jobs.mode }, (await jobCounts()) === undefined ? 0 : 1);
    },
  });
  new Gauge({
    name: 'btf_atlas_queue_jobs',
    help: 'Jobs by state (BullMQ counts with REDIS_URL, kept by its retention; the in-process runner otherwise)',
    labelNames: ['state'] as const,
    registers,
    async collect() {
      this.reset();
      const counts = await jobCounts();
      for (const [state, n] of Object.entries(counts ?? {})) this.set({ state }, n);
    },
  });

  new Gauge({
    name: 'btf_atlas_answer_cache_bytes',
    help: 'Bytes the answer cache holds (bodies, keys, per-entry overhead), and its cap',
    labelNames: ['kind'] as const,
    registers,
    collect() {
      const s = app.answerCacheStats();
      this.set({ kind: 'used' }, s.bytes);
      this.set({ kind: 'max' }, s.maxBytes);
    },
  });
  new Gauge({
    name: 'btf_atlas_answer_cache_entries',
    help: 'Answers the answer cache holds',
    registers,
    collect() {
      this.set(app.answerCacheStats().entries);
    },
  });
  new Gauge({
    name: 'btf_atlas_work_tasks',
    help: 'Heavy tasks (first-time diffs, vmlinux.h) on the worker threads: running, or waiting for a thread',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const load = app.work.load;
      this.set({ state: 'running' }, load.running);
      this.set({ state: 'waiting' }, load.waiting);
    },
  });
  new Gauge({
    name: 'btf_atlas_work_threads',
    help: 'Worker threads of heavy answers started (at most BTF_ATLAS_WORK_THREADS)',
    registers,
    collect() {
      this.set(app.work.load.threads);
    },
  });

  app.decorate('metrics', registry);

  // Requests: in flight from arrival to the end of the connection's answer (sent or aborted), latency when sent.
  const tracked = new WeakSet<FastifyRequest>();
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    inFlight.inc();
    tracked.add(request);
    reply.raw.once('close', () => {
      if (tracked.delete(request)) inFlight.dec();
    });
  });
  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    if (tracked.delete(request)) inFlight.dec();
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    latency.observe({ method: request.method, route, status_class: statusClass(reply.statusCode) }, reply.elapsedTime / 1000);
    const cache = reply.getHeader('x-cache');
    if (cache === 'hit' || cache === 'miss') cacheAnswers.inc({ result: cache });
  });

  // Jobs run in this process: their outcome, and an ingest's phase durations (IngestResult.phaseMs).
  app.addHook('onReady', async () => {
    app.jobEvents.on('finished', (view: JobView) => {
      finished.inc({ name: view.name, state: view.state });
      const phaseMs = (view.result as { phaseMs?: Record<string, number> } | undefined)?.phaseMs;
      if (view.state !== 'completed' || phaseMs === undefined) return;
      for (const [phase, ms] of Object.entries(phaseMs)) phases.observe({ phase }, ms / 1000);
    });
  });
}

/** `GET /metrics`, registered after the OpenAPI plugin (which lists the routes registered after it). */
export async function metricsRoutes(app: FastifyInstance): Promise<void> {
  const registry = app.metrics;
  app.get('/metrics', {
    logLevel: 'warn',
    schema: {
      summary: 'Prometheus metrics (text format 0.0.4): request latency per route, jobs, ingest phases, catalog size, kernels, cache, threads',
      tags: ['health'],
      response: { 200: { type: 'string' } },
    },
  }, async (_request, reply) => {
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });
}

export default fp(metricsPlugin, { name: 'btf-atlas-metrics', fastify: '5.x' });
