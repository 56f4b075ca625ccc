/**
 * `POST /v1/core/check` and `POST /v1/core/min-btf` through `inject()` on a catalog of two corpus kernels (6.1.0-50
 * with modules, 6.12.117+deb13): the answer equals the library's (and so `core-check --json`'s), it is cached by
 * object sha256 and selection, selections over several BTFs run in a worker thread with the same answer, and bad
 * objects, unknown kernels and oversized bodies get problem+json (400 with the reader's code, 404, 413).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unxz } from '@btf-atlas/btf';
import { openCatalog } from '@btf-atlas/catalog/read';
import { coreCheck } from '@btf-atlas/dryrun';
import { buildApp } from '../src/app.js';
import catalogPlugin from '../src/plugins/catalog.js';
import problemsPlugin from '../src/plugins/problems.js';
import coreRoutes from '../src/routes/core.js';
import { SHARED_SCHEMAS } from '../src/schemas.js';
import { corpusCatalog, K50, K612, objectBytes, oracleDir, readTar } from '../../dryrun/test/support.js';
import { problem } from './support.js';

let dir: string;
let db: string;
let app: FastifyInstance;
/** The same catalog, with every selection off the event loop (threshold 0). */
let offApp: FastifyInstance;

const post = (url: string, body: Buffer | string, contentType = 'application/octet-stream', on = app) =>
  on.inject({ method: 'POST', url, payload: body, headers: { 'content-type': contentType } });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-core-http-'));
  db = await corpusCatalog(dir, [K50, K612]);
  app = await buildApp({ dbPath: db, adminToken: undefined });
  await app.ready();
  // The routes alone, with every selection sent to a worker thread.
  offApp = Fastify();
  for (const schema of SHARED_SCHEMAS) offApp.addSchema(schema);
  await offApp.register(problemsPlugin);
  await offApp.register(catalogPlugin, { dbPath: db });
  await offApp.register(coreRoutes, { dbPath: db, offThreadMinTargets: 0 });
  await offApp.ready();
}, 180_000);

afterAll(async () => {
  await app?.close();
  await offApp?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('POST /v1/core/check', () => {
  it('200: the library\'s answer for the uploaded object; the second request from the answer cache', async () => {
    const bytes = objectBytes('core_flavors');
    const res = await post('/v1/core/check', bytes);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['x-cache']).toBe('miss');
    const body = JSON.parse(res.body) as { object: { sha256: string }; kernels: { kernel: string; verdict: string; programs: { name: string; verdict: string }[] }[]; not_checked: string[] };
    const catalog = openCatalog(db, { readonly: true });
    try {
      const [want] = await coreCheck(catalog, [{ name: `upload:${body.object.sha256}`, bytes }], {});
      expect(body).toEqual(JSON.parse(JSON.stringify(want)));
    } finally {
      catalog.close();
    }
    expect(body.kernels.map((k) => [k.kernel, k.programs.map((p) => p.verdict)])).toEqual([[K50, ['guarded', 'breaks']], [K612, ['guarded', 'ok']]]);
    expect(body.not_checked).toContain('verifier');

    const again = await post('/v1/core/check', bytes);
    expect(again.headers['x-cache']).toBe('hit');
    expect(again.body).toBe(res.body);
    const notModified = await app.inject({ method: 'POST', url: '/v1/core/check', payload: bytes, headers: { 'content-type': 'application/octet-stream', 'if-none-match': String(res.headers.etag) } });
    expect(notModified.statusCode).toBe(304);
    // Another selection is another answer; `+` in a KREF stays a `+`.
    const one = await post(`/v1/core/check?kernel=${K612}`, bytes);
    expect(one.statusCode).toBe(200);
    expect(one.headers['x-cache']).toBe('miss');
    expect((JSON.parse(one.body) as { kernels: { kernel: string }[] }).kernels.map((k) => k.kernel)).toEqual([K612]);
  });

  it('a selection run in a worker thread gives the same answer and the same errors', async () => {
    const bytes = objectBytes('core_types_enums');
    const here = await post('/v1/core/check', bytes);
    const off = await post('/v1/core/check', bytes, 'application/octet-stream', offApp);
    expect(here.statusCode).toBe(200);
    expect(off.statusCode).toBe(200);
    expect(off.body).toBe(here.body);
    problem(await post('/v1/core/check', Buffer.from('nope'), 'application/octet-stream', offApp), 400, 'CORE_NOT_ELF');
    problem(await post('/v1/core/check?kernel=debian/13/x86_64/6.12.11%2Bdeb13-amd64', bytes, 'application/octet-stream', offApp), 404, 'KERNEL_NOT_FOUND');
  });

  it('400 problem+json with the reader\'s code for a bad object; 400 for bad parameters or a JSON body', async () => {
    let p = problem(await post('/v1/core/check', Buffer.from('this is not an object')), 400, 'CORE_NOT_ELF');
    expect(p.title).toBe('Bad BPF object');
    expect(p.type).toBe('urn:btf-atlas:problem:core-not-elf');
    expect(p.detail).toMatch(/not an elf object/);
    p = problem(await post('/v1/core/check', objectBytes('core_chain').subarray(0, 100)), 400, 'CORE_TRUNCATED');
    problem(await post('/v1/core/check', Buffer.alloc(0)), 400, 'BAD_BODY');
    problem(await post('/v1/core/check', '{"object":"x"}', 'application/json'), 400, 'BAD_BODY');
    problem(await post(`/v1/core/check?kernel=${K50}&arch=x86_64`, objectBytes('core_chain')), 400, 'DRYRUN_BAD_SELECTION');
    problem(await post('/v1/core/check?arc=x86_64', objectBytes('core_chain')), 400, 'BAD_PARAMETER');
    problem(await post('/v1/core/check?kernel=nonsense', objectBytes('core_chain')), 400, 'CATALOG_BAD_KREF');
  });

  it('404 for an unknown kernel (closest suggested) or a filter that matches nothing', async () => {
    const p = problem(await post('/v1/core/check?kernel=debian/12/x86_64/6.1.0-5-amd64', objectBytes('core_chain')), 404, 'KERNEL_NOT_FOUND');
    expect(p.suggestions).toContain(K50);
    problem(await post('/v1/core/check?arch=arm64', objectBytes('core_chain')), 404, 'NO_MATCHING_KERNELS');
  });

  it('413 for an object over 16 MiB', async () => {
    // Refused on its Content-Length, or as it arrives when it declares none (a stream).
    problem(await post('/v1/core/check', Buffer.alloc(16 * 1024 * 1024 + 1, 1)), 413, 'UPLOAD_TOO_LARGE');
    const chunk = Buffer.alloc(1024 * 1024, 1);
    const streamed = await app.inject({
      method: 'POST', url: '/v1/core/check', headers: { 'content-type': 'application/octet-stream' },
      payload: Readable.from(Array.from({ length: 17 }, () => chunk)),
    });
    expect(problem(streamed, 413, 'UPLOAD_TOO_LARGE').detail).toMatch(/larger than 16777216 bytes/);
  });
});

describe('POST /v1/core/min-btf', () => {
  it('a reproducible .tar.xz laid out as btfhub-archive, each file equal to bpftool gen min_core_btf\'s', async () => {
    const bytes = objectBytes('core_flavors');
    const res = await post('/v1/core/min-btf', bytes);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-xz');
    expect(res.headers['x-kernels']).toBe('2');
    const members = readTar(await unxz(res.rawPayload));
    expect(members.map((m) => m.name)).toEqual([`${K50}.btf`, `${K612}.btf`]);
    for (const m of members) {
      expect(Buffer.from(m.bytes).equals(readFileSync(join(oracleDir(m.name.slice(0, -4)), 'core_flavors.min.btf'))), m.name).toBe(true);
    }
    // Off the event loop, the same bytes.
    const off = await post('/v1/core/min-btf', bytes, 'application/octet-stream', offApp);
    expect(off.rawPayload.equals(res.rawPayload)).toBe(true);
  });

  it('422 when libbpf cannot relocate the object on a kernel; skip_failed leaves it out', async () => {
    const bytes = objectBytes('core_ambiguous');
    const p = problem(await post(`/v1/core/min-btf?kernel=${K50}`, bytes), 422, 'DRYRUN_MIN_BTF');
    expect(p.detail).toContain('CORE_MIN_BTF_RELO');
    const res = await post('/v1/core/min-btf?skip_failed=true', bytes);
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-kernels']).toBe('0');
    expect(res.headers['x-skipped']).toBe(`${K50}, ${K612}`);
  });

  it('both routes are in the OpenAPI description', async () => {
    const paths = (JSON.parse((await app.inject({ method: 'GET', url: '/openapi.json' })).body) as { paths: Record<string, unknown> }).paths;
    expect(Object.keys(paths)).toEqual(expect.arrayContaining(['/v1/core/check', '/v1/core/min-btf']));
  });
});
