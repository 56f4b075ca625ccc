import { randomUUID } from 'node:crypto';
import type { Job, Queue } from 'bullmq';
import type { BlobStore, Catalog, IngestJobData } from '@btf-atlas/catalog';
import { removeFailedJobBlobs } from '@btf-atlas/catalog/gc';
import { runJob, type JobDeps, type JobLike } from './jobs.js';
import type { CoreCheckJobData } from './core-jobs.js';
import { createIngestQueue, type AnyJobData, type JobName, type QueueConfig, type ScanJobData } from './queues.js';

/** A job's state as the API reports it (BullMQ's names; `unknown` when Redis has forgotten the state). */
export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed' | 'prioritized' | 'waiting-children' | 'unknown';

/** What `GET /v1/jobs/{id}` answers. */
export interface JobView {
  id: string;
  name: JobName;
  state: JobState;
  /** 0-100. */
  progress: number;
  /** The KREF of an ingest or derive job; the path of a scan job. */
  kernel?: string;
  path?: string;
  /** The object of a core-check job (name, sha256, size). */
  object?: { name: string; sha256: string; size: number };
  attempts_made: number;
  created_at: string;
  finished_at?: string;
  /** The processor's answer (an ingest result or a scan result) once completed. */
  result?: unknown;
  /** Why it failed (`CODE: reason` for bad input). */
  failed_reason?: string;
}

/** Jobs per state now (for metrics): BullMQ's counts of the queue, or the in-process runner's kept jobs. */
export type JobCounts = Record<'waiting' | 'active' | 'delayed' | 'completed' | 'failed', number>;

const COUNTED_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed'] as const;

/** Enqueues jobs and reports on them: through BullMQ when Redis is configured, in this process otherwise. */
export interface JobRunner {
  readonly mode: 'queue' | 'in-process';
  /**
   * Adds a job. `jobId` (queue mode) names it: a second enqueue under the id of a job the queue still holds
   * returns that job (BullMQ adds nothing), so identical requests share one job.
   */
  enqueue(name: JobName, data: AnyJobData, opts?: { jobId?: string }): Promise<JobView>;
  /** Repeats a job every `everyMs` under a scheduler id (replacing one of the same id); queue mode only. */
  schedule?(id: string, everyMs: number, name: JobName, data: AnyJobData): Promise<void>;
  get(id: string): Promise<JobView | undefined>;
  /** How many jobs are in each state (queue mode: one Redis round trip). */
  counts(): Promise<JobCounts>;
  close(): Promise<void>;
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined || ms === 0 ? undefined : new Date(ms).toISOString();
}

function viewOf(job: Job<AnyJobData, unknown, JobName>, state: JobState): JobView {
  const data = job.data as Partial<IngestJobData & ScanJobData>;
  const v: JobView = {
    id: String(job.id),
    name: job.name,
    state,
    progress: typeof job.progress === 'number' ? job.progress : 0,
    attempts_made: job.attemptsMade,
    created_at: new Date(job.timestamp).toISOString(),
  };
  if ((job.name === 'ingest' || job.name === 'derive') && data.kernel !== undefined) v.kernel = data.kernel || data.source;
  if (job.name === 'scan' && data.path !== undefined) v.path = data.path;
  if (job.name === 'core-check') v.object = (job.data as CoreCheckJobData).object;
  const finished = iso(job.finishedOn);
  if (finished !== undefined) v.finished_at = finished;
  if (state === 'completed') v.result = job.returnvalue;
  if (job.failedReason) v.failed_reason = job.failedReason;
  return v;
}

/** BullMQ-backed runner: jobs go to the queue the workers (`btf-atlas worker`) take them from. */
export class QueueJobRunner implements JobRunner {
  readonly mode = 'queue';
  private readonly queue: Queue<AnyJobData, unknown, JobName>;

  constructor(cfg: QueueConfig) {
    this.queue = createIngestQueue(cfg);
  }

  async enqueue(name: JobName, data: AnyJobData, opts: { jobId?: string } = {}): Promise<JobView> {
    const job = await this.queue.add(name, data, opts.jobId === undefined ? undefined : { jobId: opts.jobId });
    return opts.jobId === undefined ? viewOf(job, 'waiting') : viewOf(job, (await job.getState()) as JobState);
  }

  async schedule(id: string, everyMs: number, name: JobName, data: AnyJobData): Promise<void> {
    await this.queue.upsertJobScheduler(id as JobName, { every: everyMs }, { name, data });
  }

  async get(id: string): Promise<JobView | undefined> {
    // The state first, then the job's data: a job that finishes between the two reads is then shown finished
    // with its final data (read the other way round, a completed job could show the attempts of a waiting one).
    const state = await this.queue.getJobState(id);
    if (state === 'unknown') return undefined;
    const job = await this.queue.getJob(id);
    if (!job) return undefined;
    return viewOf(job, state as JobState);
  }

  async counts(): Promise<JobCounts> {
    const c = await this.queue.getJobCounts(...COUNTED_STATES, 'prioritized');
    // Prioritized jobs wait too (BullMQ keeps them in a list of their own).
    return { waiting: (c.waiting ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0, delayed: c.delayed ?? 0, completed: c.completed ?? 0, failed: c.failed ?? 0 };
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

interface LocalJob {
  view: JobView;
  data: AnyJobData;
}

/**
 * Without Redis: jobs run one at a time in this process, with the same processor as the workers (runJob). A scan
 * enqueues its kernels here too. Finished jobs are kept (the newest `keep`) so their state can be asked for.
 * Ingest is CPU work on the caller's event loop (about a second per kernel); this mode is for one machine.
 * The runner owns the catalog connection it is given (closed by close()).
 */
export class InProcessJobRunner implements JobRunner {
  readonly mode = 'in-process';
  private readonly jobs = new Map<string, LocalJob>();
  private readonly pending: LocalJob[] = [];
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly deps: {
      catalog: Catalog;
      blobs: BlobStore;
      log?: (obj: Record<string, unknown>, msg: string) => void;
      /** Runs one job (default runJob here; the API runs it on a worker thread so its event loop stays free). */
      run?: (job: JobLike, deps: JobDeps) => Promise<unknown>;
      /** Told of each job once it has completed or failed (metrics). */
      onFinished?: (view: JobView) => void;
    },
    private readonly keep = 10_000,
  ) {}

  async enqueue(name: JobName, data: AnyJobData): Promise<JobView> {
    if (this.closed) throw new Error('the job runner is closed');
    const view: JobView = { id: randomUUID(), name, state: 'waiting', progress: 0, attempts_made: 0, created_at: new Date().toISOString() };
    if (name === 'ingest' || name === 'derive') view.kernel = (data as IngestJobData).kernel || (data as IngestJobData).source;
    else if (name === 'scan') view.path = (data as ScanJobData).path;
    const job = { view, data };
    this.jobs.set(view.id, job);
    this.pending.push(job);
    this.prune();
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
    return { ...view };
  }

  async get(id: string): Promise<JobView | undefined> {
    const job = this.jobs.get(id);
    return job ? { ...job.view } : undefined;
  }

  async counts(): Promise<JobCounts> {
    const out: JobCounts = { waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0 };
    for (const { view } of this.jobs.values()) {
      if (view.state in out) out[view.state as keyof JobCounts]++;
    }
    return out;
  }

  /** Stops taking jobs, waits for the one running, and closes the catalog connection it was given. */
  async close(): Promise<void> {
    this.closed = true;
    this.pending.length = 0;
    await this.running;
    if (this.deps.catalog.sqlite.open) this.deps.catalog.close();
  }

  private async drain(): Promise<void> {
    for (let job = this.pending.shift(); job !== undefined && !this.closed; job = this.pending.shift()) {
      // Let the request that enqueued the job be answered before the (synchronous, CPU-bound) work starts.
      await new Promise((r) => setImmediate(r));
      const v = job.view;
      v.state = 'active';
      v.attempts_made = 1;
      const jobLike = { id: v.id, name: v.name, data: job.data, updateProgress: async (p: number) => void (v.progress = p) };
      const queue = { add: async (name: JobName, data: AnyJobData) => this.enqueue(name, data) };
      const startedAt = Date.now();
      try {
        v.result = await (this.deps.run ?? runJob)(jobLike, { ...this.deps, queue });
        v.state = 'completed';
        v.progress = 100;
      } catch (err) {
        v.state = 'failed';
        v.failed_reason = (err as Error).message;
        // Jobs run once here: a failed ingest's upload is of no further use (unless a kernel refers to its bytes).
        if (v.name === 'ingest') {
          try {
            removeFailedJobBlobs(this.deps.catalog, this.deps.blobs, job.data as IngestJobData, startedAt);
          } catch (cleanupErr) {
            this.deps.log?.({ job: v.id, err: (cleanupErr as Error).message }, "could not remove the failed job's upload (gc will)");
          }
        }
      }
      v.finished_at = new Date().toISOString();
      try {
        this.deps.onFinished?.({ ...v });
      } catch (err) {
        this.deps.log?.({ job: v.id, err: (err as Error).message }, 'onFinished failed');
      }
    }
  }

  private prune(): void {
    if (this.jobs.size <= this.keep) return;
    for (const [id, job] of this.jobs) {
      if (this.jobs.size <= this.keep) break;
      if (job.view.state === 'completed' || job.view.state === 'failed') this.jobs.delete(id);
    }
  }
}
