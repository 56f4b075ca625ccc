/**
 * Issue 13: `btf-atlas gc` keeps the uploads of ingest jobs still in the queue, however old (workers down for
 * longer than the grace period), and does not run when REDIS_URL is set but Redis cannot be reached. Real Redis,
 * a key prefix of this run only; the built CLI for the end-to-end check.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore, openCatalog, sha256Hex, type IngestJobData } from '@btf-atlas/catalog';
import { gcBlobs } from '@btf-atlas/catalog/gc';
import { createIngestQueue, pendingJobBlobs } from '@btf-atlas/queue';
import { REDIS_URL, REPO, cleanup, testPrefix } from './support.js';

const HOUR = 3_600_000;
const CLI = join(REPO, 'apps/cli/bin/btf-atlas.js');

let dir: string;
let db: string;
let blobs: BlobStore;
let queue: Queue | undefined;
const prefix = testPrefix();

/** An upload stored two hours ago, as POST /v1/ingest stores one, and the ingest job data that names it. */
function oldUpload(text: string): { sha: string; data: IngestJobData } {
  const sha = blobs.put(Buffer.from(text));
  const t = new Date(Date.now() - 2 * HOUR);
  utimesSync(blobs.pathOf(sha), t, t);
  return { sha, data: { kernel: 'debian/12/x86_64/6.1.0-50-amd64', path: blobs.pathOf(sha), source: `upload:${sha}`, modules: [] } };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-gc-queued-'));
  db = join(dir, 'atlas.db');
  openCatalog(db).close();
  blobs = BlobStore.forCatalog(db);
  queue = createIngestQueue({ redisUrl: REDIS_URL, prefix });
});
afterAll(async () => {
  await cleanup(queue, []);
  rmSync(dir, { recursive: true, force: true });
});

describe('gc and uploads of queued jobs', () => {
  it('keeps the uploads of waiting and delayed (retrying) jobs, removes the orphan', async () => {
    const waiting = oldUpload('upload of a job waiting for a worker');
    const delayed = oldUpload('upload of a job waiting to retry');
    const orphan = oldUpload('upload of a job that failed long ago');
    // A package upload: the job reads it as one of its packages.
    const pkg = oldUpload('a .deb uploaded for a job');
    await queue!.add('ingest', waiting.data);
    await queue!.add('ingest', delayed.data, { delay: 10 * 60_000 });
    await queue!.add('ingest', { kernel: '', path: '', source: `upload:${pkg.sha}`, modules: [], packages: [{ path: blobs.pathOf(pkg.sha), source: `upload:${pkg.sha}` }] });

    const pending = await pendingJobBlobs({ redisUrl: REDIS_URL, prefix }, blobs);
    expect([...pending].sort()).toEqual([waiting.sha, delayed.sha, pkg.sha].sort());

    const catalog = openCatalog(db);
    try {
      const dry = gcBlobs(catalog, blobs, { dryRun: true, protect: pending });
      expect(dry.removed.map((e) => e.sha256)).toEqual([orphan.sha]);
      expect(dry.protected).toBe(3);
      // Without the queue's answer all four are old orphans: what gc did before.
      expect(gcBlobs(catalog, blobs, { dryRun: true }).removed).toHaveLength(4);
    } finally {
      catalog.close();
    }
  });

  it('the CLI asks the queue when REDIS_URL is set: queued uploads are kept, the orphan removed', () => {
    const r = spawnSync(process.execPath, [CLI, 'gc', '--db', db, '--json'], {
      env: { ...process.env, REDIS_URL, BTF_ATLAS_QUEUE_PREFIX: prefix },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { removed_count: number; queued_uploads: number };
    expect(out).toMatchObject({ removed_count: 1, queued_uploads: 3 });
    expect(blobs.has(sha256Hex(Buffer.from('upload of a job waiting for a worker')))).toBe(true);
    expect(blobs.has(sha256Hex(Buffer.from('upload of a job that failed long ago')))).toBe(false);
  });

  it('with REDIS_URL set and Redis away, gc refuses in one line (exit 1) and removes nothing', async () => {
    const closed = 'redis://127.0.0.1:1';
    const started = performance.now();
    const err = await pendingJobBlobs({ redisUrl: closed, prefix, connectTimeoutMs: 500 }, blobs).then(() => undefined, (e: unknown) => e as Error & { code: string });
    expect(err?.code).toBe('REDIS_UNAVAILABLE');
    expect(performance.now() - started).toBeLessThan(10_000);

    const young = blobs.put(Buffer.from('kept: gc did not run'));
    const t = new Date(Date.now() - 2 * HOUR);
    utimesSync(blobs.pathOf(young), t, t);
    const r = spawnSync(process.execPath, [CLI, 'gc', '--db', db], { env: { ...process.env, REDIS_URL: closed }, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^btf-atlas: REDIS_UNAVAILABLE: .*gc asks the queue/m);
    expect(blobs.has(young)).toBe(true);
  });
});

