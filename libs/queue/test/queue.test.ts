import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Queue, QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBtfTarXz, jobDataOf, listArchiveKernels, listKernels, openCatalog, parseKref, scanPath, sha256Hex } from '@btf-atlas/catalog';
import { sampleBtf } from '../../btf/test/support/builder.js';
import { createIngestQueue, createQueueEvents } from '@btf-atlas/queue';
import { CORPUS_DIR } from '../../btf/test/support/corpus.js';
import { REDIS_URL, cleanup, spawnWorker, testPrefix, type WorkerProcess } from './support.js';

// A small archive tree of its own per test file, a catalog in a temp dir, and a unique queue prefix in Redis.
let dir: string;
let archive: string;
let dbPath: string;
let prefix: string;
let queue: Queue | undefined;
let events: QueueEvents | undefined;
const workers: WorkerProcess[] = [];

const X86 = 'debian/12/x86_64';
const corpusFile = (name: string): string => join(CORPUS_DIR, 'archive', X86, name);

function place(rel: string, from: string): string {
  const to = join(archive, rel);
  mkdirSync(join(to, '..'), { recursive: true });
  copyFileSync(from, to);
  return to;
}

async function ingest(rel: string, replace = false): Promise<{ status: string }> {
  const [item] = scanPath(join(archive, rel));
  const job = await queue!.add('ingest', jobDataOf(item, replace));
  return (await job.waitUntilFinished(events!, 120_000)) as { status: string };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-queue-'));
  archive = join(dir, 'archive');
  dbPath = join(dir, 'atlas.db');
  prefix = testPrefix();
  place(`${X86}/6.1.0-47-amd64.btf.tar.xz`, corpusFile('6.1.0-47-amd64.btf.tar.xz'));
  workers.push(spawnWorker({ BTF_ATLAS_DB: dbPath, BTF_ATLAS_QUEUE_PREFIX: prefix }));
  await workers[0].ready;
  queue = createIngestQueue({ redisUrl: REDIS_URL, prefix });
  events = createQueueEvents({ redisUrl: REDIS_URL, prefix });
  await events.waitUntilReady();
}, 60_000);

afterAll(async () => {
  await events?.close();
  await cleanup(queue, workers);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('ingest through BullMQ', () => {
  it('ingests a kernel, and re-ingesting the same bytes is a no-op reported as skipped', async () => {
    expect((await ingest(`${X86}/6.1.0-47-amd64.btf.tar.xz`)).status).toBe('ingested');
    expect((await ingest(`${X86}/6.1.0-47-amd64.btf.tar.xz`)).status).toBe('skipped');
    const c = openCatalog(dbPath);
    try {
      expect(listKernels(c).map((k) => k.kernel)).toEqual([`${X86}/6.1.0-47-amd64`]);
    } finally {
      c.close();
    }
  });

  it('refuses the same kernel with other bytes unless replace is asked, failing once with the reason stored', async () => {
    // Another kernel's BTF under this kernel's name.
    const rel = `${X86}/6.1.0-47-amd64.btf.tar.xz`;
    place(rel, corpusFile('6.1.0-50-amd64.btf.tar.xz'));
    const [item] = scanPath(join(archive, rel));
    const job = await queue!.add('ingest', jobDataOf(item));
    await expect(job.waitUntilFinished(events!, 120_000)).rejects.toThrow(/KERNEL_CONFLICT/);
    const failed = await queue!.getJob(job.id!);
    expect(failed?.attemptsMade).toBe(1); // bad input is not retried
    const c = openCatalog(dbPath);
    try {
      const row = c.sqlite.prepare('SELECT code, message FROM ingest_failures WHERE job_id = ?').get(job.id) as { code: string; message: string };
      expect(row.code).toBe('KERNEL_CONFLICT');
      expect(row.message).toMatch(/--replace/);
    } finally {
      c.close();
    }
    expect((await ingest(rel, true)).status).toBe('replaced');
    place(rel, corpusFile('6.1.0-47-amd64.btf.tar.xz'));
    expect((await ingest(rel, true)).status).toBe('replaced');
  });

  it('fails a corrupt blob with its reason while the other jobs of the batch succeed', async () => {
    const bad = `${X86}/6.1.0-99-amd64.btf.tar.xz`;
    const good = `${X86}/6.1.0-50-amd64.btf.tar.xz`;
    const full = corpusFile('6.1.0-50-amd64.btf.tar.xz');
    place(good, full);
    const truncated = join(archive, bad);
    writeFileSync(truncated, (await import('node:fs')).readFileSync(full).subarray(0, 50_000));
    const jobs = await queue!.addBulk([bad, good].map((rel) => ({ name: 'ingest' as const, data: jobDataOf(scanPath(join(archive, rel))[0]) })));
    const [badResult, goodResult] = await Promise.allSettled(jobs.map((j) => j.waitUntilFinished(events!, 120_000)));
    expect(badResult.status).toBe('rejected');
    expect(String((badResult as PromiseRejectedResult).reason)).toMatch(/BTF_BAD_CONTAINER|BTF_TRUNCATED|xz/i);
    expect(goodResult.status).toBe('fulfilled');
    const c = openCatalog(dbPath);
    try {
      const row = c.sqlite.prepare('SELECT code, message, kref FROM ingest_failures WHERE job_id = ?').get(jobs[0].id) as { code: string; message: string; kref: string };
      expect(row.kref).toBe(`${X86}/6.1.0-99-amd64`);
      expect(row.message.length).toBeGreaterThan(10);
      expect(listKernels(c).map((k) => k.uname_r)).toEqual(['6.1.0-47-amd64', '6.1.0-50-amd64']);
    } finally {
      c.close();
    }
    rmSync(truncated);
  });

  it('a scan job enqueues only the kernels the catalog lacks', async () => {
    place('debian/13/x86_64/6.12.117+deb13-amd64.btf.tar.xz', join(CORPUS_DIR, 'archive/debian/13/x86_64/6.12.117+deb13-amd64.btf.tar.xz'));
    const job = await queue!.add('scan', { path: archive });
    const result = (await job.waitUntilFinished(events!, 60_000)) as { found: number; enqueued: string[]; present: number };
    expect(result).toEqual({ found: 3, enqueued: ['debian/13/x86_64/6.12.117+deb13-amd64'], present: 2 });
  });

  it('retries a job whose worker is killed mid-ingest, leaving no half kernel', async () => {
    const rel = 'debian/12/arm64/6.1.0-50-arm64.btf.tar.xz';
    place(rel, join(CORPUS_DIR, 'archive', rel));
    // Only a worker we are about to kill listens: stop the first one.
    workers[0].child.kill('SIGTERM');
    await workers[0].exited;
    const victim = spawnWorker({ BTF_ATLAS_DB: dbPath, BTF_ATLAS_QUEUE_PREFIX: prefix });
    workers.push(victim);
    await victim.ready;
    const job = await queue!.add('ingest', jobDataOf(scanPath(join(archive, rel))[0]));
    // Kill it (and its sandboxed child) when the job reaches its write phase (80%: the transaction starts).
    await new Promise<void>((resolve) => {
      const onProgress = ({ jobId, data }: { jobId: string; data: unknown }): void => {
        if (jobId === job.id && typeof data === 'number' && data >= 80) {
          events!.off('progress', onProgress);
          resolve();
        }
      };
      events!.on('progress', onProgress);
    });
    process.kill(-victim.child.pid!, 'SIGKILL');
    await victim.exited;
    const rescuer = spawnWorker({ BTF_ATLAS_DB: dbPath, BTF_ATLAS_QUEUE_PREFIX: prefix });
    workers.push(rescuer);
    await rescuer.ready;
    const result = (await job.waitUntilFinished(events!, 120_000)) as { status: string };
    expect(result.status).toBe('ingested');
    const c = openCatalog(dbPath);
    try {
      expect(c.sqlite.pragma('integrity_check', { simple: true })).toBe('ok');
      const perKernel = c.sqlite.prepare('SELECT kernel_id, COUNT(*) AS n FROM kernel_sets GROUP BY kernel_id').all() as { n: number }[];
      expect(perKernel.every((r) => r.n === 1024)).toBe(true);
      expect(listKernels(c).some((k) => k.kernel === 'debian/12/arm64/6.1.0-50-arm64')).toBe(true);
    } finally {
      c.close();
    }
  }, 120_000);
});

describe('derive jobs', () => {
  it('an ingest that leaves the kernel without its tarball enqueues a derive job, which builds and records it', async () => {
    // Raw BTF, not a btfhub tarball: its mirror file is built after the commit.
    const raw = join(dir, 'raw', '1.0.0-9-amd64.btf');
    mkdirSync(join(raw, '..'), { recursive: true });
    writeFileSync(raw, sampleBtf());
    const kernel = `${X86}/1.0.0-9-amd64`;
    const [item] = scanPath(raw, parseKref(kernel));
    const ingestJob = await queue!.add('ingest', jobDataOf(item));
    expect(await ingestJob.waitUntilFinished(events!, 120_000)).toMatchObject({ kernel, status: 'ingested' });
    // The ingest has committed (and enqueued the derive job) before its own job completes.
    const derive = (await queue!.getJobs(['waiting', 'active', 'completed', 'prioritized', 'delayed'])).find((j) => j.name === 'derive');
    expect(derive?.data).toEqual({ kernel });
    const expected = await buildBtfTarXz('1.0.0-9-amd64', sampleBtf());
    expect(await derive!.waitUntilFinished(events!, 60_000)).toMatchObject({ kernel, built: true, archive: { sha256: sha256Hex(expected), size: expected.length } });
    const c = openCatalog(dbPath);
    try {
      expect(listArchiveKernels(c).find((k) => k.kernel === kernel)).toMatchObject({ archiveSha256: sha256Hex(expected), archiveSize: expected.length });
    } finally {
      c.close();
    }
  }, 120_000);
});
