import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Queue, QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore, type IngestJobData } from '@btf-atlas/catalog';
import { createIngestQueue, createQueueEvents } from '@btf-atlas/queue';
import { CORPUS_DIR } from '../../btf/test/support/corpus.js';
import { REDIS_URL, cleanup, spawnWorker, testPrefix, type WorkerProcess } from './support.js';

const X86 = 'debian/12/x86_64';
let dir: string;
let dbPath: string;
let queue: Queue | undefined;
let events: QueueEvents | undefined;
const workers: WorkerProcess[] = [];

/** pid → parent pid and command line, for every process. */
function processTable(): Map<number, { ppid: number; cmd: string; rssKb: number }> {
  const out = new Map<number, { ppid: number; cmd: string; rssKb: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const rss = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${name}/status`, 'utf8'));
      out.set(Number(name), { ppid, cmd, rssKb: rss ? Number(rss[1]) : 0 });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The worker's descendants (its sandbox child and that child's job process). */
function descendants(root: number): { pid: number; cmd: string; rssKb: number }[] {
  const table = processTable();
  const found: { pid: number; cmd: string; rssKb: number }[] = [];
  const walk = (pid: number): void => {
    for (const [p, e] of table) if (e.ppid === pid) {
      found.push({ pid: p, cmd: e.cmd, rssKb: e.rssKb });
      walk(p);
    }
  };
  walk(root);
  return found;
}

const jobProcesses = (): number[] => descendants(workers[0].child.pid!).filter((d) => d.cmd.includes('--btf-atlas-job-process')).map((d) => d.pid);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-sandbox-'));
  dbPath = join(dir, 'atlas.db');
  const prefix = testPrefix();
  workers.push(spawnWorker({ BTF_ATLAS_DB: dbPath, BTF_ATLAS_QUEUE_PREFIX: prefix }));
  await workers[0].ready;
  queue = createIngestQueue({ redisUrl: REDIS_URL, prefix }) as unknown as Queue;
  events = createQueueEvents({ redisUrl: REDIS_URL, prefix });
  await events.waitUntilReady();
}, 60_000);

afterAll(async () => {
  await events?.close();
  await cleanup(queue, workers);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the sandbox after a failed job', () => {
  it('its job process exits (memory back to the OS), the failed upload is removed, and the next job runs in a fresh one', async () => {
    const good = (uname: string): IngestJobData => {
      const path = join(dir, `${uname}.btf.tar.xz`);
      writeFileSync(path, readFileSync(join(CORPUS_DIR, 'archive', X86, `${uname}.btf.tar.xz`)));
      return { kernel: `${X86}/${uname}`, path, source: `${uname}.btf.tar.xz`, modules: [] };
    };
    const first = await queue!.add('ingest', good('6.1.0-47-amd64'));
    expect(await first.waitUntilFinished(events!, 120_000)).toMatchObject({ status: 'ingested' });
    // A successful job leaves its job process for the next one.
    const before = jobProcesses();
    expect(before).toHaveLength(1);

    // An upload that is not BTF, stored in the blob store as POST /v1/ingest stores it, a little before its job.
    const blobs = BlobStore.forCatalog(dbPath);
    const sha = blobs.put(Buffer.from('not btf at all, but uploaded all the same'));
    const t = new Date(Date.now() - 5_000);
    utimesSync(blobs.pathOf(sha), t, t);
    const bad = await queue!.add('ingest', { kernel: `${X86}/6.1.0-99-amd64`, path: blobs.pathOf(sha), source: `upload:${sha}`, modules: [] });
    await expect(bad.waitUntilFinished(events!, 120_000)).rejects.toThrow(/BTF_UNKNOWN_FORMAT/);
    // Reported only once the job process is gone: no job process is left, the relay is small.
    expect(jobProcesses()).toEqual([]);
    for (const pid of before) expect(processTable().has(pid)).toBe(false);
    const left = descendants(workers[0].child.pid!);
    expect(left.reduce((n, d) => n + d.rssKb, 0) / 1024).toBeLessThan(300);
    expect(blobs.has(sha)).toBe(false);
    expect((await queue!.getJob(bad.id!))?.attemptsMade).toBe(1);

    // The next job (queued right behind) gets a new job process and succeeds.
    const next = await queue!.add('ingest', good('6.1.0-50-amd64'));
    expect(await next.waitUntilFinished(events!, 120_000)).toMatchObject({ status: 'ingested' });
    const after = jobProcesses();
    expect(after).toHaveLength(1);
    expect(before).not.toContain(after[0]);
  });

  it('back-to-back failures and successes never hand a job to a dying process', async () => {
    const garbage = join(dir, 'garbage.btf');
    writeFileSync(garbage, 'garbage');
    const jobs = await queue!.addBulk(
      Array.from({ length: 6 }, (_, i) => ({
        name: 'ingest' as const,
        data: i % 2 === 0
          ? { kernel: `${X86}/9.0.${i}-1-amd64`, path: garbage, source: 'garbage.btf', modules: [] }
          : { kernel: `${X86}/6.1.0-47-amd64`, path: join(dir, '6.1.0-47-amd64.btf.tar.xz'), source: '6.1.0-47-amd64.btf.tar.xz', modules: [] },
      })),
    );
    const results = await Promise.allSettled(jobs.map((j) => j.waitUntilFinished(events!, 120_000)));
    results.forEach((r, i) => {
      if (i % 2 === 0) expect(String((r as PromiseRejectedResult).reason)).toMatch(/BTF_UNKNOWN_FORMAT/);
      else expect(r).toMatchObject({ status: 'fulfilled', value: { status: 'skipped' } });
    });
  });
});
