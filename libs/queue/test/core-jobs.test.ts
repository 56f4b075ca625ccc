/**
 * The CO-RE dry run as a BullMQ job (core-jobs.ts), on real Redis under a unique prefix: the object goes to the
 * blob store by sha256, a worker runs the job with progress, and the job's result is the answer the in-process dry
 * run gives; a bad object fails the job once with its code, and an object gone from the blob store says so.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker, type Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore, openCatalog, type Catalog } from '@btf-atlas/catalog';
import { coreCheck } from '@btf-atlas/dryrun';
import {
  CORE_CHECK_JOB, connectionOf, coreCheckJobData, createIngestQueue, createQueueEvents, INGEST_QUEUE, runCoreCheckJob,
  type AnyJobData, type JobName,
} from '@btf-atlas/queue';
import type { Queue, QueueEvents } from 'bullmq';
import { corpusCatalog, K50, objectBytes } from '../../dryrun/test/support.js';
import { REDIS_URL, testPrefix } from './support.js';

let dir: string;
let catalog: Catalog;
let blobs: BlobStore;
let prefix: string;
let queue: Queue<AnyJobData, unknown, JobName>;
let events: QueueEvents;
let worker: Worker;
const progress = new Map<string, number[]>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-core-jobs-'));
  const db = await corpusCatalog(dir, [K50]);
  catalog = openCatalog(db, { readonly: true });
  blobs = BlobStore.forCatalog(db);
  prefix = testPrefix();
  queue = createIngestQueue({ redisUrl: REDIS_URL, prefix });
  events = createQueueEvents({ redisUrl: REDIS_URL, prefix });
  await events.waitUntilReady();
  worker = new Worker(INGEST_QUEUE, (job: Job) => runCoreCheckJob(job, { catalog, blobs }), { connection: connectionOf(REDIS_URL), prefix });
  events.on('progress', ({ jobId, data }) => {
    const list = progress.get(jobId) ?? [];
    list.push(data as number);
    progress.set(jobId, list);
  });
}, 120_000);

afterAll(async () => {
  await worker?.close();
  await events?.close();
  if (queue) {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
  catalog?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('core-check as a queue job', () => {
  it('runs the dry run with progress; its result is the in-process answer', async () => {
    const bytes = objectBytes('core_flavors');
    const data = coreCheckJobData(blobs, { name: 'upload', bytes }, {}, true);
    expect(blobs.has(data.object.sha256)).toBe(true);
    const job = await queue.add(CORE_CHECK_JOB, data);
    const result = await job.waitUntilFinished(events, 120_000);
    const [want] = await coreCheck(catalog, [{ name: 'upload', bytes }], {});
    expect(result).toEqual(JSON.parse(JSON.stringify(want)));
    expect(progress.get(String(job.id))?.at(-1)).toBe(100);
    const done = await queue.getJob(String(job.id));
    expect(done?.progress).toBe(100);
  });

  it('a bad object fails once with its code', async () => {
    const job = await queue.add(CORE_CHECK_JOB, coreCheckJobData(blobs, { name: 'upload', bytes: Buffer.from('not an elf at all') }, {}), { attempts: 3 });
    await expect(job.waitUntilFinished(events, 60_000)).rejects.toThrow(/^CORE_NOT_ELF: /);
    const failed = await queue.getJob(String(job.id));
    expect(failed?.attemptsMade).toBe(1);
  });

  it('a selection with no kernels fails once with the catalog\'s code; an object gone from the store says so', async () => {
    const none = await queue.add(CORE_CHECK_JOB, coreCheckJobData(blobs, { name: 'upload', bytes: objectBytes('core_chain') }, { distro: 'nosuch' }), { attempts: 3 });
    await expect(none.waitUntilFinished(events, 60_000)).rejects.toThrow(/^NO_MATCHING_KERNELS: /);
    const gone = await queue.add(CORE_CHECK_JOB, { object: { name: 'upload', sha256: 'f'.repeat(64), size: 1 }, selection: {}, modules: true }, { attempts: 3 });
    await expect(gone.waitUntilFinished(events, 60_000)).rejects.toThrow(/^CORE_OBJECT_GONE: /);
  });
});
