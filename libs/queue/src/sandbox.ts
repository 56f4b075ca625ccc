import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { UnrecoverableError, type SandboxedJob } from 'bullmq';
import { pino } from 'pino';
import { BlobStore, openCatalog, type IngestJobData } from '@btf-atlas/catalog';
import { removeFailedJobBlobs } from '@btf-atlas/catalog/gc';
import { createIngestQueue } from './queues.js';
import { runJob, type JobDeps, type JobLike } from './jobs.js';

/**
 * The sandboxed processor. BullMQ runs this module in a child process, so decoding a kernel (seconds of CPU) never
 * blocks the worker's lock renewals, and a crash costs one child, not the worker.
 *
 * That child only relays: each job runs in a job process it forks from this same file (the flag below), which
 * opens the catalog and queue once from the environment the worker set (BTF_ATLAS_DB, REDIS_URL,
 * BTF_ATLAS_QUEUE_PREFIX) and is reused while jobs succeed. After a failed job the job process exits, and the
 * relay waits for that before it reports the failure: whatever the job allocated (a bomb's gigabytes) goes back to
 * the OS, and BullMQ never hands the next job to a process that is on its way out (a child that exited by itself
 * after reporting could be taken for the next job in between, failing it).
 */

/** argv flag of the job process. */
const JOB_PROCESS_FLAG = '--btf-atlas-job-process';
/** How long the relay waits for a failed job process to exit before it kills it. */
const EXIT_WAIT_MS = 10_000;

/** What the relay sends the job process. */
interface RunMessage {
  cmd: 'run';
  job: { id?: string; name: string; data: unknown; attemptsMade: number; attempts: number; startedAt: number };
}

/** What the job process answers. */
type JobMessage =
  | { cmd: 'progress'; value: number }
  | { cmd: 'done'; value: unknown }
  | { cmd: 'failed'; error: { name: string; message: string; code?: string; stack?: string } };

let jobProcess: ChildProcess | undefined;

export default async function processor(job: SandboxedJob): Promise<unknown> {
  const child = (jobProcess ??= startJobProcess());
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  try {
    return await runInJobProcess(child, job, exited);
  } catch (err) {
    // The job process exits after a failure (or died): wait for it, so its memory is back before BullMQ moves on.
    if (jobProcess === child) jobProcess = undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_WAIT_MS);
    await exited;
    clearTimeout(timer);
    throw err;
  }
}

function startJobProcess(): ChildProcess {
  // The same Node flags as this process, but none of BullMQ's own (this file is the job process's main module).
  return fork(fileURLToPath(import.meta.url), [JOB_PROCESS_FLAG], { stdio: 'inherit', serialization: 'advanced' });
}

function runInJobProcess(child: ChildProcess, job: SandboxedJob, exited: Promise<void>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: JobMessage): void => {
      if (msg.cmd === 'progress') {
        void job.updateProgress(msg.value).catch(() => undefined);
        return;
      }
      child.off('message', onMessage);
      if (msg.cmd === 'done') resolve(msg.value);
      else reject(rebuildError(msg.error));
    };
    child.on('message', onMessage);
    void exited.then(() => {
      child.off('message', onMessage);
      reject(new Error(`the job process exited during job ${job.id} (exit ${child.exitCode ?? child.signalCode})`));
    });
    const attempts = typeof job.opts?.attempts === 'number' ? job.opts.attempts : 1;
    const run: RunMessage = { cmd: 'run', job: { id: job.id, name: job.name, data: job.data, attemptsMade: job.attemptsMade, attempts, startedAt: Date.now() } };
    child.send(run, (err) => {
      if (err) reject(err);
    });
  });
}

/** The job process's error as BullMQ needs it: an UnrecoverableError stays one (bad input is not retried). */
function rebuildError(e: { name: string; message: string; code?: string; stack?: string }): Error {
  const err = e.name === 'UnrecoverableError' ? new UnrecoverableError(e.message) : new Error(e.message);
  if (e.code !== undefined) Object.assign(err, { code: e.code });
  if (e.stack !== undefined) err.stack = e.stack;
  return err;
}

// --- the job process ---

let deps: JobDeps | undefined;

function depsFromEnv(): JobDeps {
  const dbPath = process.env.BTF_ATLAS_DB;
  const redisUrl = process.env.REDIS_URL;
  if (!dbPath || !redisUrl) throw new Error('sandboxed processor started without BTF_ATLAS_DB and REDIS_URL');
  const logger = pino({ name: 'btf-atlas-worker' });
  return {
    catalog: openCatalog(dbPath, { busyTimeoutMs: 120_000 }),
    blobs: BlobStore.forCatalog(dbPath),
    queue: createIngestQueue({ redisUrl, prefix: process.env.BTF_ATLAS_QUEUE_PREFIX ?? 'btf-atlas' }),
    log: (obj, msg) => logger.info(obj, msg),
  };
}

/** Runs one job in the job process; after a failure, removes what the failed job left in the blob store and exits. */
async function serveJob(msg: RunMessage): Promise<void> {
  const send = (m: JobMessage): Promise<void> => new Promise((resolve) => process.send!(m, () => resolve()));
  const job: JobLike = {
    id: msg.job.id,
    name: msg.job.name,
    data: msg.job.data,
    updateProgress: (value) => send({ cmd: 'progress', value }),
  };
  try {
    deps ??= depsFromEnv();
    const value = await runJob(job, deps);
    await send({ cmd: 'done', value });
  } catch (err) {
    const e = err as Error & { code?: unknown };
    // Bad input fails once; anything else is retried until the last attempt. Only then is the upload of no use.
    const final = e instanceof UnrecoverableError || msg.job.attemptsMade + 1 >= msg.job.attempts;
    if (final && msg.job.name === 'ingest' && deps) {
      try {
        removeFailedJobBlobs(deps.catalog, deps.blobs, msg.job.data as IngestJobData, msg.job.startedAt);
      } catch {
        // gc removes it later; the job's own failure is what is reported.
      }
    }
    await send({ cmd: 'failed', error: { name: e.name, message: e.message ?? String(err), code: typeof e.code === 'string' ? e.code : undefined, stack: e.stack } });
    process.exit(1);
  }
}

if (process.argv.includes(JOB_PROCESS_FLAG) && process.send !== undefined) {
  process.on('message', (msg: RunMessage) => {
    if (msg?.cmd === 'run') void serveJob(msg);
  });
  // The relay is gone (its worker shut down, or it crashed): nothing will ask for jobs any more.
  process.on('disconnect', () => process.exit(0));
}
