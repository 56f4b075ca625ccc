import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadKernel, downloadPackage, isRetryable, SyncError } from '@btf-atlas/sync';
import { sha256 } from './support/repo.js';
import { startServer, type FixtureServer } from './support/server.js';

const SIZE = 300_000;
const PATH = '/debian/pool/main/l/linux/linux-image-6.1.0-50-amd64_6.1.176-1_amd64.deb';

let srv: FixtureServer;
let body: Buffer;
let dir: string;

beforeAll(async () => {
  srv = await startServer();
  body = randomBytes(SIZE);
  srv.files.set(PATH, body);
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sync-dl-'));
});

afterEach(() => {
  srv.behaviours.clear();
  srv.requests.length = 0;
  rmSync(dir, { recursive: true, force: true });
});

afterAll(async () => {
  await srv.close();
});

const url = (): string => `${srv.url}${PATH}`;
const dest = (): string => join(dir, 'linux-image.deb');

describe('downloadPackage', () => {
  it('downloads, checks and renames into place; a second call finds it there', async () => {
    const seen: number[] = [];
    const r = await downloadPackage(url(), { sha256: sha256(body), size: SIZE, dest: dest(), onProgress: (n) => seen.push(n) });
    expect(r).toEqual({ path: dest(), size: SIZE, sha256: sha256(body), resumedFrom: 0, alreadyPresent: false, requests: 1 });
    expect(readFileSync(dest()).equals(body)).toBe(true);
    expect(existsSync(`${dest()}.part`)).toBe(false);
    expect(seen[seen.length - 1]).toBe(SIZE);
    const again = await downloadPackage(url(), { sha256: sha256(body), size: SIZE, dest: dest() });
    expect(again).toMatchObject({ alreadyPresent: true, requests: 0 });
  });

  it('a checksum mismatch deletes the part file and throws SYNC_CHECKSUM naming the url', async () => {
    const wrong = sha256(Buffer.from('something else'));
    const err = await downloadPackage(url(), { sha256: wrong, size: SIZE, dest: dest() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SyncError);
    expect(err).toMatchObject({ code: 'SYNC_CHECKSUM', url: url() });
    expect((err as Error).message).toBe(`${url()} has sha256 ${sha256(body)}, the index lists ${wrong}`);
    expect(isRetryable(err)).toBe(false);
    expect(existsSync(`${dest()}.part`)).toBe(false);
    expect(existsSync(dest())).toBe(false);
  });

  it('a size that differs from the index is SYNC_CHECKSUM before any byte is written', async () => {
    await expect(downloadPackage(url(), { sha256: sha256(body), size: SIZE + 1, dest: dest() })).rejects.toMatchObject({ code: 'SYNC_CHECKSUM' });
    expect(existsSync(`${dest()}.part`)).toBe(false);
  });

  it('an interrupted download keeps its part; the next call resumes it with a Range request', async () => {
    srv.behaviours.set(PATH, { cutAfter: 100_000 });
    const first = await downloadPackage(url(), { sha256: sha256(body), size: SIZE, dest: dest(), attempts: 1 }).catch((e: unknown) => e);
    expect(first).toMatchObject({ code: 'SYNC_HTTP', url: url() });
    expect(isRetryable(first)).toBe(true);
    const kept = statSync(`${dest()}.part`).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(100_000);
    const r = await downloadPackage(url(), { sha256: sha256(body), size: SIZE, dest: dest() });
    expect(r.resumedFrom).toBe(kept);
    expect(srv.requests.map((q) => q.range)).toEqual([undefined, `bytes=${kept}-`]);
    expect(readFileSync(dest()).equals(body)).toBe(true);
  });

  it('retries within one call: cut twice, resumed twice, done', async () => {
    srv.behaviours.set(PATH, { cutAfter: 50_000, cutTimes: 2 });
    const r = await downloadPackage(url(), { sha256: sha256(body), size: SIZE, dest: dest(), attempts: 3 });
    expect(r.requests).toBe(3);
    expect(r.resumedFrom).toBeGreaterThan(50_000);
    expect(srv.requests[1].range).toMatch(/^bytes=\d+-$/);
    expect(srv.requests[2].range).toMatch(/^bytes=\d+-$/);
    expect(readFileSync(dest()).equals(body)).toBe(true);
  });

  it('a server without Range support: the resumed request gets 200 and the download restarts cleanly', async () => {
    writeFileSync(`${dest()}.part`, body.subarray(0, 1234));
    srv.behaviours.set(PATH, { noRange: true });
    const r = await downloadPackage(url(), { sha256: sha256(body), size: SIZE, dest: dest() });
    expect(r.resumedFrom).toBe(0);
    expect(r.requests).toBe(1);
    expect(srv.requests[0].range).toBe('bytes=1234-');
    expect(readFileSync(dest()).equals(body)).toBe(true);
  });

  it('a range answer that does not fit (wrong Content-Range) is dropped and the download restarts', async () => {
    writeFileSync(`${dest()}.part`, body.subarray(0, 1000));
    srv.behaviours.set(PATH, { wrongContentRange: `bytes 0-${SIZE - 1}/${SIZE}` });
    const r = await downloadPackage(url(), { sha256: sha256(body), size: SIZE, dest: dest() });
    expect(r).toMatchObject({ resumedFrom: 0, requests: 2 });
    expect(srv.requests.map((q) => q.range)).toEqual(['bytes=1000-', undefined]);
    expect(readFileSync(dest()).equals(body)).toBe(true);
  });

  it('a part whose bytes are stale: the resumed download fails its checksum, is restarted once from nothing', async () => {
    writeFileSync(`${dest()}.part`, randomBytes(5000));
    const r = await downloadPackage(url(), { sha256: sha256(body), size: SIZE, dest: dest() });
    expect(r).toMatchObject({ resumedFrom: 0, requests: 2 });
    expect(srv.requests.map((q) => q.range)).toEqual(['bytes=5000-', undefined]);
    expect(readFileSync(dest()).equals(body)).toBe(true);
  });

  it('a 416 answer to the range drops the part and starts over', async () => {
    writeFileSync(`${dest()}.part`, body.subarray(0, 1000));
    srv.behaviours.set(PATH, { refuseRange: true });
    const r = await downloadPackage(url(), { sha256: sha256(body), size: SIZE, dest: dest() });
    expect(r).toMatchObject({ resumedFrom: 0, requests: 2 });
    expect(srv.requests.map((q) => q.range)).toEqual(['bytes=1000-', undefined]);
    expect(readFileSync(dest()).equals(body)).toBe(true);
  });

  it('a 5xx answer to a resumed request keeps the part (the next try resumes)', async () => {
    writeFileSync(`${dest()}.part`, body.subarray(0, 1000));
    srv.behaviours.set(PATH, { status: 503 });
    const err = await downloadPackage(url(), { sha256: sha256(body), size: SIZE, dest: dest(), attempts: 2 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SYNC_HTTP', status: 503 });
    expect(srv.requests.map((q) => q.range)).toEqual(['bytes=1000-', 'bytes=1000-']);
    expect(statSync(`${dest()}.part`).size).toBe(1000);
    srv.behaviours.clear();
    const r = await downloadPackage(url(), { sha256: sha256(body), size: SIZE, dest: dest() });
    expect(r.resumedFrom).toBe(1000);
  });

  it('a complete part left before the rename is checked and used without a request', async () => {
    writeFileSync(`${dest()}.part`, body);
    const r = await downloadPackage(url(), { sha256: sha256(body), size: SIZE, dest: dest() });
    expect(r).toMatchObject({ resumedFrom: SIZE, requests: 0 });
    expect(readFileSync(dest()).equals(body)).toBe(true);
  });

  it('a part longer than the file is discarded', async () => {
    writeFileSync(`${dest()}.part`, Buffer.concat([body, Buffer.from('extra')]));
    const r = await downloadPackage(url(), { sha256: sha256(body), size: SIZE, dest: dest() });
    expect(r).toMatchObject({ resumedFrom: 0, requests: 1 });
    expect(srv.requests[0].range).toBeUndefined();
  });

  it('404 is SYNC_HTTP with the status, not retried', async () => {
    const err = await downloadPackage(`${srv.url}/debian/pool/none.deb`, { sha256: sha256(body), size: SIZE, dest: dest() }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SYNC_HTTP', status: 404, message: `${srv.url}/debian/pool/none.deb answered http 404` });
    expect(srv.requests).toHaveLength(1);
  });

  it('a size above maxBytes is SYNC_TOO_LARGE before any request', async () => {
    await expect(downloadPackage(url(), { sha256: sha256(body), size: SIZE, dest: dest(), maxBytes: 1000 })).rejects.toMatchObject({ code: 'SYNC_TOO_LARGE' });
    expect(srv.requests).toHaveLength(0);
  });

  it('a stalled body is SYNC_TIMEOUT and keeps its part', async () => {
    srv.behaviours.set(PATH, { stallAfter: 10_000 });
    const err = await downloadPackage(url(), { sha256: sha256(body), size: SIZE, dest: dest(), timeoutMs: 300, attempts: 1 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SYNC_TIMEOUT' });
    expect(isRetryable(err)).toBe(true);
    expect(statSync(`${dest()}.part`).size).toBe(10_000);
  });

  it("the caller's abort is SYNC_ABORTED", async () => {
    srv.behaviours.set(PATH, { stallAfter: 10_000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    await expect(downloadPackage(url(), { sha256: sha256(body), size: SIZE, dest: dest(), signal: ac.signal, timeoutMs: 10_000 })).rejects.toMatchObject({ code: 'SYNC_ABORTED' });
  });

  it('downloadKernel stores each package under its pool file name', async () => {
    const kernel = {
      kref: 'debian/12/x86_64/6.1.0-50-amd64',
      packages: [{ name: 'linux-image-6.1.0-50-amd64', version: '6.1.176-1', filename: PATH.slice('/debian/'.length), url: url(), size: SIZE, sha256: sha256(body), role: 'image' as const }],
    };
    const [got] = await downloadKernel(kernel, dir);
    expect(got.result.path).toBe(join(dir, 'linux-image-6.1.0-50-amd64_6.1.176-1_amd64.deb'));
    await expect(downloadKernel({ ...kernel, packages: [{ ...kernel.packages[0], filename: 'pool/..' }] }, dir)).rejects.toMatchObject({ code: 'SYNC_UNSAFE_PATH' });
  });
});
