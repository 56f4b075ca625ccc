import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractBtf, unxz } from '@btf-atlas/btf';
import { BlobStore, buildBtfTarXz, jobDataOf, openCatalog, scanPath } from '@btf-atlas/catalog';
import { buildApp } from '../src/app.js';
import { listingHtml, prefersHtml } from '../src/routes/archive.js';
import { parseRange } from '../src/send-file.js';
import { ingestInto, problem } from './support.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const CORPUS = join(REPO, 'fixtures/corpus');
const ARCHIVE = join(CORPUS, 'archive');

interface CorpusKernel {
  distro: string;
  release: string;
  arch: string;
  kernel_release: string;
  archive: string;
  btf_sha256: string;
  btf_size: number;
}
const MANIFEST = JSON.parse(readFileSync(join(CORPUS, 'manifest.json'), 'utf8')) as { kernels: CorpusKernel[] };
const KERNELS = MANIFEST.kernels;
const K47 = KERNELS.find((k) => k.kernel_release === '6.1.0-47-amd64')!;
const K50 = KERNELS.find((k) => k.kernel_release === '6.1.0-50-amd64')!;
/** A kernel ingested from raw BTF (6.1.0-47's, under another uname): its archive file is built at ingest. */
const RAW_UNAME = '6.1.0-99-amd64';
const RAW_URL = `/archive/debian/12/x86_64/${RAW_UNAME}`;

/** Paths that try to leave the store: encoded or plain dot segments, slashes, backslashes, NUL, absolute paths. */
const TRAVERSALS = [
  '/archive/debian/12/x86_64/..%2f..%2f..%2fetc%2fpasswd',
  '/archive/debian/12/x86_64/..%2F..%2Fatlas.db',
  '/archive/debian/12/x86_64/%2e%2e%2f%2e%2e%2fatlas.db.btf',
  '/archive/%2e%2e/%2e%2e/%2e%2e/passwd.btf',
  '/archive/debian/12/x86_64/%2e%2e',
  '/archive/debian/12/x86_64/..',
  '/archive/debian/12/%2E%2E/',
  '/archive/debian/12/..%2f..%2f/',
  '/archive/..%2f..%2f..%2fetc/',
  '/archive/debian/12/x86_64/a%5c..%5c..%5cb.btf',
  '/archive/debian/12/x86_64/..%5c..%5cetc%5cpasswd',
  '/archive/debian/12/x86_64/6.1.0-50-amd64%00.btf',
  '/archive/debian/12/x86_64/6.1.0-50-amd64.btf%00.tar.xz',
  '/archive/debian/12/x86_64/%2fetc%2fpasswd',
  '/archive//etc/passwd',
  '/archive/debian/12/x86_64//etc/passwd',
  '/archive/debian/12/x86_64/.btf',
  '/archive/debian/12/x86_64/~root.btf',
];

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
const urlOf = (k: CorpusKernel, suffix: string) => `/archive/${k.distro}/${k.release}/${k.arch}/${k.kernel_release}${suffix}`;

let dir: string;
let db: string;
let app: FastifyInstance;
let raw47: Uint8Array;
/** sha256 of each corpus kernel's .btf.tar.xz, by KREF. */
const tarSha = new Map<string, { sha: string; size: number; bytes: Buffer }>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-mirror-'));
  db = join(dir, 'atlas.db');
  for (const k of KERNELS) {
    const bytes = readFileSync(join(CORPUS, k.archive));
    tarSha.set(`${k.distro}/${k.release}/${k.arch}/${k.kernel_release}`, { sha: sha256(bytes), size: bytes.length, bytes });
  }
  raw47 = (await extractBtf(tarSha.get('debian/12/x86_64/6.1.0-47-amd64')!.bytes, 'k47'))[0].bytes;
  const rawTree = join(dir, 'raw/debian/12/x86_64');
  mkdirSync(rawTree, { recursive: true });
  writeFileSync(join(rawTree, `${RAW_UNAME}.btf`), raw47);
  await ingestInto(db, [...scanPath(ARCHIVE), ...scanPath(join(dir, 'raw'))].map((item) => jobDataOf(item)));
  app = await buildApp({ dbPath: db, adminToken: undefined });
  await app.ready();
}, 180_000);

afterAll(async () => {
  await app?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('GET /archive/…/UNAME_R.btf.tar.xz and UNAME_R.btf', () => {
  it('serves each corpus kernel as ingested, byte for byte, with a strong ETag and long-lived caching', async () => {
    for (const k of KERNELS) {
      const expected = tarSha.get(`${k.distro}/${k.release}/${k.arch}/${k.kernel_release}`)!;
      const res = await app.inject({ method: 'GET', url: urlOf(k, '.btf.tar.xz') });
      expect(res.statusCode).toBe(200);
      expect(sha256(res.rawPayload)).toBe(expected.sha);
      expect(res.headers).toMatchObject({
        'content-type': 'application/x-xz',
        'content-length': String(expected.size),
        etag: `"${expected.sha}"`,
        'cache-control': 'public, max-age=31536000, immutable',
        'accept-ranges': 'bytes',
      });
      expect(res.headers['x-cache']).toBeUndefined();
    }
  });

  it('serves the raw BTF, whose sha256 is the manifest btf_sha256', async () => {
    for (const k of KERNELS) {
      const res = await app.inject({ method: 'GET', url: urlOf(k, '.btf') });
      expect(res.statusCode).toBe(200);
      expect(res.headers).toMatchObject({ 'content-type': 'application/octet-stream', 'content-length': String(k.btf_size), etag: `"${k.btf_sha256}"` });
      expect(sha256(res.rawPayload)).toBe(k.btf_sha256);
    }
  });

  it('serves a kernel ingested from raw BTF as a reproducible tarball holding UNAME_R.btf', async () => {
    const res = await app.inject({ method: 'GET', url: `${RAW_URL}.btf.tar.xz` });
    expect(res.statusCode).toBe(200);
    const expected = await buildBtfTarXz(RAW_UNAME, raw47);
    expect(sha256(res.rawPayload)).toBe(sha256(expected));
    expect(res.headers.etag).toBe(`"${sha256(expected)}"`);
    const inside = await extractBtf(res.rawPayload, 'mirror');
    expect(inside.map((b) => [b.name, b.formats.join('/'), sha256(b.bytes)])).toEqual([[`mirror:${RAW_UNAME}.btf`, 'xz/tar/btf', K47.btf_sha256]]);
    const rawRes = await app.inject({ method: 'GET', url: `${RAW_URL}.btf` });
    expect(sha256(rawRes.rawPayload)).toBe(K47.btf_sha256);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const expected = tarSha.get('debian/12/x86_64/6.1.0-50-amd64')!;
    const res = await app.inject({ method: 'HEAD', url: urlOf(K50, '.btf.tar.xz') });
    expect(res.statusCode).toBe(200);
    expect(res.headers).toMatchObject({ 'content-length': String(expected.size), etag: `"${expected.sha}"`, 'content-type': 'application/x-xz' });
    expect(res.rawPayload.length).toBe(0);
    const btf = await app.inject({ method: 'HEAD', url: urlOf(K50, '.btf'), headers: { range: 'bytes=0-9' } });
    expect(btf.statusCode).toBe(200);
    expect(btf.headers['content-length']).toBe(String(K50.btf_size));
    expect(btf.rawPayload.length).toBe(0);
  });

  it('answers If-None-Match with 304 when the ETag is current', async () => {
    const { sha } = tarSha.get('debian/12/x86_64/6.1.0-50-amd64')!;
    for (const inm of [`"${sha}"`, `W/"${sha}"`, `"nope", "${sha}"`, '*']) {
      const res = await app.inject({ method: 'GET', url: urlOf(K50, '.btf.tar.xz'), headers: { 'if-none-match': inm } });
      expect(res.statusCode).toBe(304);
      expect(res.rawPayload.length).toBe(0);
      expect(res.headers.etag).toBe(`"${sha}"`);
    }
    const stale = await app.inject({ method: 'GET', url: urlOf(K50, '.btf.tar.xz'), headers: { 'if-none-match': `"${'0'.repeat(64)}"` } });
    expect(stale.statusCode).toBe(200);
  });

  describe('Range', () => {
    const url = urlOf(K50, '.btf.tar.xz');
    let whole: Buffer;
    let size: number;
    beforeAll(() => {
      whole = tarSha.get('debian/12/x86_64/6.1.0-50-amd64')!.bytes;
      size = whole.length;
    });
    const get = (headers: Record<string, string>) => app.inject({ method: 'GET', url, headers });

    it('serves one range with 206 and Content-Range (a-b, a-, -n, clamped past the end)', async () => {
      const cases: [string, number, number][] = [
        ['bytes=0-99', 0, 99],
        ['bytes=1000-', 1000, size - 1],
        ['bytes=-10', size - 10, size - 1],
        [`bytes=${size - 5}-${size + 1000}`, size - 5, size - 1],
        ['bytes=0-0', 0, 0],
        [`bytes=-${size + 10}`, 0, size - 1],
      ];
      for (const [range, start, end] of cases) {
        const res = await get({ range });
        expect(res.statusCode, range).toBe(206);
        expect(res.headers['content-range']).toBe(`bytes ${start}-${end}/${size}`);
        expect(res.headers['content-length']).toBe(String(end - start + 1));
        expect(res.headers['content-type']).toBe('application/x-xz');
        expect(Buffer.compare(res.rawPayload, whole.subarray(start, end + 1))).toBe(0);
      }
    });

    it('answers an unsatisfiable range with 416, Content-Range: bytes */SIZE, as problem+json', async () => {
      for (const range of [`bytes=${size}-`, `bytes=${size + 10}-${size + 20}`, 'bytes=-0']) {
        const res = await get({ range });
        problem(res, 416, 'RANGE_NOT_SATISFIABLE');
        expect(res.headers['content-range']).toBe(`bytes */${size}`);
        expect(res.headers['cache-control']).toBeUndefined();
      }
    });

    it('answers the whole file to several ranges, other units and malformed ranges', async () => {
      for (const range of ['bytes=0-1,5-6', 'items=0-9', 'bytes=abc', 'bytes=9-1', 'bytes=-', 'bytes=1-2-3']) {
        const res = await get({ range });
        expect(res.statusCode, range).toBe(200);
        expect(res.rawPayload.length).toBe(size);
      }
    });

    it('honours If-Range: the range when the ETag is current, else the whole file', async () => {
      const etag = `"${sha256(whole)}"`;
      expect((await get({ range: 'bytes=0-9', 'if-range': etag })).statusCode).toBe(206);
      const other = await get({ range: 'bytes=0-9', 'if-range': `"${'1'.repeat(64)}"` });
      expect(other.statusCode).toBe(200);
      expect(other.rawPayload.length).toBe(size);
      expect((await get({ range: 'bytes=0-9', 'if-range': 'Wed, 21 Oct 2015 07:28:00 GMT' })).statusCode).toBe(200);
    });

    it('parses ranges as RFC 9110 says', () => {
      expect(parseRange(undefined, 10)).toEqual({ kind: 'full' });
      expect(parseRange('bytes = 2-4', 10)).toEqual({ kind: 'partial', start: 2, end: 4 });
      expect(parseRange('BYTES=2-', 10)).toEqual({ kind: 'partial', start: 2, end: 9 });
      expect(parseRange('bytes=0-1', 0)).toEqual({ kind: 'unsatisfiable' });
      expect(parseRange('bytes=-5', 0)).toEqual({ kind: 'unsatisfiable' });
      expect(parseRange('bytes=99999999999999999999-', 10)).toEqual({ kind: 'unsatisfiable' });
    });
  });

  it('404 for an unknown kernel, suggesting the closest files', async () => {
    const p = problem(await app.inject(urlOf({ ...K50, kernel_release: '6.1.0-51-amd64' }, '.btf.tar.xz')), 404, 'KERNEL_NOT_FOUND');
    expect(p.suggestions).toContain(urlOf(K50, '.btf.tar.xz'));
    const raw = problem(await app.inject(urlOf({ ...K50, kernel_release: '6.1.0-51-amd64' }, '.btf')), 404, 'KERNEL_NOT_FOUND');
    expect(raw.suggestions).toContain(urlOf(K50, '.btf'));
    problem(await app.inject('/archive/fedora/38/x86_64/6.2.9-300.fc38.x86_64.btf.tar.xz'), 404, 'KERNEL_NOT_FOUND');
    const head = await app.inject({ method: 'HEAD', url: urlOf({ ...K50, kernel_release: '6.1.0-51-amd64' }, '.btf') });
    expect(head.statusCode).toBe(404);
    expect(head.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('404 for a file name that is not UNAME_R.btf.tar.xz or UNAME_R.btf', async () => {
    for (const name of ['6.1.0-50-amd64', '6.1.0-50-amd64.tar.gz', '6.1.0-50-amd64.btf.tar', 'index.html']) {
      const p = problem(await app.inject(`/archive/debian/12/x86_64/${name}`), 404, 'ARCHIVE_PATH_NOT_FOUND');
      if (name.startsWith('6.1.0-50')) expect(p.suggestions).toContain(urlOf(K50, '.btf.tar.xz'));
    }
  });

  it('refuses traversal and odd names (400 or 404, problem+json, never a file outside the store)', async () => {
    // Dot segments (`..`, `%2e%2e`) are resolved by inject's URL parser as by browsers: the plain HTTP client
    // test below sends them verbatim.
    const urls = [
      ...TRAVERSALS.filter((u) => !u.split('/').some((seg) => /^(\.|%2e){2}$/i.test(seg))),
      `/archive/debian/12/x86_64/${'a'.repeat(600)}.btf`,
    ];
    for (const url of urls) {
      const res = await app.inject({ method: 'GET', url });
      // 414 URI_TOO_LONG for a name past the router's 512-character parameter limit.
      expect([400, 404, 414], url).toContain(res.statusCode);
      expect(res.headers['content-type'], url).toMatch(/^application\/problem\+json/);
      expect(res.body).not.toMatch(/root:|SQLite format/);
      expect(res.rawPayload.length).toBeLessThan(2000);
    }
    expect((await app.inject('/archive/debian/12/x86_64/..%2f..%2f..%2fetc%2fpasswd')).statusCode).toBe(400);
  });
});

describe('listings', () => {
  type Listing = { path: string; entries: { name: string; type: string; url: string; size?: number; sha256?: string; kernel?: string; btf_url?: string; btf_sha256?: string; btf_size?: number }[] };
  const json = async (url: string, headers: Record<string, string> = {}) => {
    const res = await app.inject({ method: 'GET', url, headers });
    expect(res.statusCode, url).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    return JSON.parse(res.body) as Listing;
  };

  it('lists the root, each distro, release and arch folder', async () => {
    expect(await json('/archive/')).toEqual({ path: '', entries: [{ name: 'debian', type: 'dir', url: '/archive/debian/' }] });
    expect(await json('/archive/debian/')).toEqual({
      path: 'debian/',
      entries: [
        { name: '12', type: 'dir', url: '/archive/debian/12/' },
        { name: '13', type: 'dir', url: '/archive/debian/13/' },
      ],
    });
    expect((await json('/archive/debian/12/')).entries.map((e) => e.url)).toEqual(['/archive/debian/12/arm64/', '/archive/debian/12/x86_64/']);
    expect((await json('/archive/debian/13/x86_64/')).entries.map((e) => e.url)).toEqual(['/archive/debian/13/x86_64/6.12.117+deb13-amd64.btf.tar.xz']);
  });

  it('lists an arch folder\'s kernels in kernel order, each with its size, sha256 and raw BTF', async () => {
    const listing = await json('/archive/debian/12/x86_64/');
    expect(listing.path).toBe('debian/12/x86_64/');
    expect(listing.entries.map((e) => e.name)).toEqual(['6.1.0-47-amd64.btf.tar.xz', '6.1.0-50-amd64.btf.tar.xz', `${RAW_UNAME}.btf.tar.xz`]);
    const k50 = tarSha.get('debian/12/x86_64/6.1.0-50-amd64')!;
    expect(listing.entries[1]).toEqual({
      name: '6.1.0-50-amd64.btf.tar.xz',
      type: 'file',
      size: k50.size,
      sha256: k50.sha,
      url: urlOf(K50, '.btf.tar.xz'),
      kernel: 'debian/12/x86_64/6.1.0-50-amd64',
      btf_size: K50.btf_size,
      btf_sha256: K50.btf_sha256,
      btf_url: urlOf(K50, '.btf'),
    });
    // Every listed url serves what the listing says.
    for (const e of listing.entries) {
      const file = await app.inject(e.url);
      expect(sha256(file.rawPayload)).toBe(e.sha256);
      expect(file.rawPayload.length).toBe(e.size);
      expect(sha256((await app.inject(e.btf_url!)).rawPayload)).toBe(e.btf_sha256);
    }
  });

  it('answers browsers with a plain HTML index, every name escaped', async () => {
    const accept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
    const res = await app.inject({ method: 'GET', url: '/archive/debian/12/x86_64/', headers: { accept } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers.vary).toMatch(/Accept/);
    expect(res.body).toContain('<title>Index of /archive/debian/12/x86_64/</title>');
    expect(res.body).toContain('<a href="../">../</a>');
    expect(res.body).toContain('<a href="6.1.0-50-amd64.btf.tar.xz">6.1.0-50-amd64.btf.tar.xz</a>');
    expect(res.body).toContain('<a href="6.1.0-50-amd64.btf">raw .btf</a>');
    const root = await app.inject({ method: 'GET', url: '/archive/?format=html' });
    expect(root.body).toContain('<a href="debian/">debian/</a>');
    expect(root.body).not.toContain('../');
    expect((await app.inject({ method: 'GET', url: '/archive/debian/?format=json', headers: { accept } })).headers['content-type']).toMatch(/^application\/json/);

    const page = listingHtml({ path: 'a&b/', entries: [{ name: '<script>alert(1)</script>', type: 'dir', url: '/x' }] });
    expect(page).not.toContain('<script>');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;/</a>');
    expect(page).toContain('Index of /archive/a&amp;b/');
  });

  it('negotiates JSON or HTML from Accept', () => {
    expect(prefersHtml(undefined, undefined)).toBe(false);
    expect(prefersHtml('*/*', undefined)).toBe(false);
    expect(prefersHtml('application/json', undefined)).toBe(false);
    expect(prefersHtml('text/html', undefined)).toBe(true);
    expect(prefersHtml('text/*;q=0.5, application/json;q=0.4', undefined)).toBe(true);
    expect(prefersHtml('text/html;q=0.1, */*', undefined)).toBe(false);
    expect(prefersHtml('application/json', 'html')).toBe(true);
  });

  it('redirects a folder without its trailing slash (301), keeping the query', async () => {
    for (const [from, to] of [
      ['/archive', '/archive/'],
      ['/archive/debian', '/archive/debian/'],
      ['/archive/debian/12', '/archive/debian/12/'],
      ['/archive/debian/12/x86_64?format=html', '/archive/debian/12/x86_64/?format=html'],
    ]) {
      const res = await app.inject(from);
      expect(res.statusCode, from).toBe(301);
      expect(res.headers.location).toBe(to);
    }
  });

  it('404 for an unknown folder, suggesting the closest', async () => {
    const p = problem(await app.inject('/archive/debain/'), 404, 'ARCHIVE_PATH_NOT_FOUND');
    expect(p.suggestions).toEqual(['/archive/debian/']);
    problem(await app.inject('/archive/debain'), 404, 'ARCHIVE_PATH_NOT_FOUND');
    expect(problem(await app.inject('/archive/debian/11/x86_64/'), 404, 'ARCHIVE_PATH_NOT_FOUND').suggestions).toContain('/archive/debian/12/x86_64/');
    problem(await app.inject('/archive/debian/12/x86_65'), 404, 'ARCHIVE_PATH_NOT_FOUND');
    problem(await app.inject('/archive/?sort=name'), 400, 'BAD_PARAMETER');
  });
});

describe('GET /archive/manifest.json', () => {
  it('maps arch → distro → release → uname_r → sha256 of the .btf.tar.xz, with an ETag', async () => {
    const res = await app.inject('/archive/manifest.json');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const expected: Record<string, Record<string, Record<string, Record<string, string>>>> = {};
    for (const k of KERNELS) {
      ((expected[k.arch] ??= {})[k.distro] ??= {})[k.release] ??= {};
      expected[k.arch][k.distro][k.release][k.kernel_release] = tarSha.get(`${k.distro}/${k.release}/${k.arch}/${k.kernel_release}`)!.sha;
    }
    expected.x86_64.debian['12'][RAW_UNAME] = sha256(await buildBtfTarXz(RAW_UNAME, raw47));
    const body = JSON.parse(res.body) as typeof expected;
    expect(body).toEqual(expected);
    expect(Object.keys(body.x86_64.debian['12'])).toEqual(['6.1.0-47-amd64', '6.1.0-50-amd64', RAW_UNAME]);
    const again = await app.inject({ url: '/archive/manifest.json', headers: { 'if-none-match': String(res.headers.etag) } });
    expect(again.statusCode).toBe(304);
  });
});

describe('catalogs made before the archive columns', () => {
  it('builds a missing archive file on first request and records it', async () => {
    const catalog = openCatalog(db);
    const blobs = BlobStore.forCatalog(db);
    try {
      const sha = sha256(await buildBtfTarXz(RAW_UNAME, raw47));
      catalog.sqlite.prepare('UPDATE kernels SET archive_sha256 = NULL, archive_size = NULL').run();
      unlinkSync(blobs.pathOf(sha));
      // Built on a worker thread (decoding a source and compressing a 4 MB BTF are seconds of CPU on a slow
      // machine), and only when missing: the tasks the route hands to the pool are recorded here.
      const tasks: string[] = [];
      const run = app.work.run.bind(app.work);
      app.work.run = ((kind: Parameters<typeof run>[0], ...rest: unknown[]) => {
        tasks.push(kind);
        return (run as (...a: unknown[]) => unknown)(kind, ...rest);
      }) as typeof app.work.run;
      const res = await app.inject(`${RAW_URL}.btf.tar.xz`);
      expect(res.statusCode).toBe(200);
      expect(tasks).toEqual(['archive-build']);
      expect((await app.inject(`${RAW_URL}.btf.tar.xz`)).statusCode).toBe(200);
      expect(tasks).toEqual(['archive-build']);
      expect(sha256(res.rawPayload)).toBe(sha);
      const row = catalog.sqlite.prepare('SELECT archive_sha256 AS sha FROM kernels WHERE uname_r = ?').get(RAW_UNAME) as { sha: string };
      expect(row.sha).toBe(sha);
      // A raw BTF whose blob was pruned is unpacked from its source again (xz), off the event loop too.
      const k47 = `/archive/debian/12/x86_64/6.1.0-47-amd64.btf`;
      unlinkSync(blobs.pathOf(sha256(raw47)));
      const raw = await app.inject(k47);
      expect(raw.statusCode).toBe(200);
      expect(sha256(raw.rawPayload)).toBe(sha256(raw47));
      expect(tasks).toEqual(['archive-build', 'archive-build']);
      // The listing fills the others.
      const listing = JSON.parse((await app.inject('/archive/debian/12/x86_64/')).body) as { entries: { sha256: string }[] };
      expect(listing.entries.map((e) => e.sha256)).toEqual([tarSha.get('debian/12/x86_64/6.1.0-47-amd64')!.sha, tarSha.get('debian/12/x86_64/6.1.0-50-amd64')!.sha, sha]);
      expect(tasks).toEqual(['archive-build', 'archive-build', 'archive-build']);
      app.work.run = run;
    } finally {
      catalog.close();
    }
  });
});

describe('OpenAPI', () => {
  it('describes the archive routes, binary answers as binary', async () => {
    const doc = JSON.parse((await app.inject('/openapi.json')).body) as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: { format?: string } }> }> }>> };
    for (const p of ['/archive/', '/archive/manifest.json', '/archive/{distro}/', '/archive/{distro}/{release}/', '/archive/{distro}/{release}/{arch}/', '/archive/{distro}/{release}/{arch}/{file}']) {
      expect(doc.paths[p], p).toBeDefined();
    }
    const file = doc.paths['/archive/{distro}/{release}/{arch}/{file}'];
    expect(Object.keys(file)).toEqual(expect.arrayContaining(['get', 'head']));
    expect(file.get.responses['200'].content!['application/x-xz'].schema.format).toBe('binary');
    expect(Object.keys(file.get.responses)).toEqual(expect.arrayContaining(['200', '206', '304', '404', '416']));
    expect(Object.keys(doc.paths['/archive/{distro}/{release}/{arch}/'].get.responses['200'].content!)).toEqual(['application/json', 'text/html']);
  });
});

describe('a plain HTTP client', () => {
  /** GET with node:http, hashing the body as it streams in; the path is sent as given (no dot-segment removal). */
  function download(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; sha: string; length: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path, headers }, (res) => {
        const hash = createHash('sha256');
        const chunks: Buffer[] = [];
        let length = 0;
        res.on('data', (c: Buffer) => {
          hash.update(c);
          length += c.length;
          if (length < 4096) chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, sha: hash.digest('hex'), length, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
  }

  it('downloads every corpus kernel through the mirror, with sha256 matching the corpus', { timeout: 120_000 }, async () => {
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    expect(address).toContain('127.0.0.1');
    for (const k of KERNELS) {
      const tar = await download(port, urlOf(k, '.btf.tar.xz'));
      expect(tar.status).toBe(200);
      expect(tar.sha).toBe(sha256(readFileSync(join(CORPUS, k.archive))));
      expect(tar.headers.etag).toBe(`"${tar.sha}"`);
      const btf = await download(port, urlOf(k, '.btf'));
      expect(btf.status).toBe(200);
      expect(btf.sha).toBe(k.btf_sha256);
      expect(btf.length).toBe(k.btf_size);
    }
    const part = await download(port, urlOf(K50, '.btf'), { range: 'bytes=0-3' });
    expect(part.status).toBe(206);
    expect([...part.body]).toEqual([0x9f, 0xeb, 0x01, 0x00]);
    // Raw paths, as a hostile client sends them (no normalization on the way).
    for (const path of ['/archive/../../../etc/passwd', '/archive/debian/12/x86_64/../../../../etc/passwd', ...TRAVERSALS]) {
      const res = await download(port, path);
      expect([400, 404], path).toContain(res.status);
      expect(res.headers['content-type'], path).toMatch(/^application\/problem\+json/);
      expect(res.body.toString('utf8')).not.toMatch(/root:|SQLite format/);
    }
  });
});

describe('GET /v1/kernels/{distro}/{release}/{arch}/{uname_r}/vmlinux.h', () => {
  const hUrl = (kref: string) => `/v1/kernels/${kref}/vmlinux.h`;

  it("is bpftool's `format c` header of the kernel, byte for byte (the corpus oracle), plain or gzip", async () => {
    const oracle = Buffer.from(await unxz(readFileSync(join(CORPUS, 'oracle/debian/12/x86_64/6.1.0-50-amd64.vmlinux.h.xz'))));
    const kref = 'debian/12/x86_64/6.1.0-50-amd64';
    const plain = await app.inject({ method: 'GET', url: hUrl(kref) });
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['content-type']).toBe('text/x-c; charset=utf-8');
    expect(plain.headers.vary).toBe('accept-encoding');
    expect(sha256(plain.rawPayload)).toBe(sha256(oracle));
    const etag = plain.headers.etag as string;
    expect(etag).toMatch(new RegExp(`^"${K50.btf_sha256}-vmlinux-h\\d+"$`));
    const gz = await app.inject({ method: 'GET', url: hUrl(kref), headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.rawPayload.length * 4).toBeLessThan(plain.rawPayload.length);
    expect(sha256(gunzipSync(gz.rawPayload))).toBe(sha256(oracle));
    expect(gz.headers.etag).not.toBe(etag);
    expect((await app.inject({ method: 'GET', url: hUrl(kref), headers: { 'if-none-match': etag } })).statusCode).toBe(304);
    const head = await app.inject({ method: 'HEAD', url: hUrl(kref) });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe(String(oracle.length));
    expect(head.rawPayload.length).toBe(0);
    const part = await app.inject({ method: 'GET', url: hUrl(kref), headers: { range: 'bytes=0-20', 'accept-encoding': 'gzip' } });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-encoding']).toBeUndefined();
    expect(part.body).toBe(oracle.subarray(0, 21).toString('utf8'));
  });

  it('answers every kernel, including one ingested from raw BTF (the same header as its twin)', async () => {
    const twin = await app.inject({ method: 'GET', url: hUrl('debian/12/x86_64/6.1.0-47-amd64') });
    const raw = await app.inject({ method: 'GET', url: hUrl(`debian/12/x86_64/${RAW_UNAME}`) });
    expect(raw.statusCode).toBe(200);
    expect(raw.body).toBe(twin.body);
    for (const k of KERNELS) {
      const res = await app.inject({ method: 'HEAD', url: hUrl(`${k.distro}/${k.release}/${k.arch}/${k.kernel_release}`) });
      expect(res.statusCode, k.kernel_release).toBe(200);
    }
  });

  it('an unknown kernel is a 404 with close names; a bad segment a 400', async () => {
    const p = problem(await app.inject({ url: hUrl('debian/12/x86_64/6.1.0-51-amd64') }), 404, 'KERNEL_NOT_FOUND');
    expect(p.suggestions?.[0]).toMatch(/^debian\/12\/x86_64\/6\.1\.0-5[0-9]-amd64$/);
    problem(await app.inject({ url: '/v1/kernels/debian/12/x86_64/.hidden/vmlinux.h' }), 400, 'BAD_PARAMETER');
    problem(await app.inject({ url: '/v1/kernels/debian/12/x86_64/6.1.0-50-amd64%00/vmlinux.h' }), 400, 'BAD_PARAMETER');
  });
});
