import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { catalogOfFiles, problem, tinyKernelBtf } from './support.js';

const OK = 'debian/12/x86_64/1.0.0-1-amd64';
const BAD = 'debian/12/x86_64/1.0.0-2-amd64';
/** The only kernel of its release and arch, and its ingest failed. */
const ONLY_FAILED = 'debian/13/arm64/1.0.0-2-arm64';


describe('HTTP answers about a kernel whose ingest failed', () => {
  let dir: string;
  let app: FastifyInstance;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'btf-atlas-http-failed-'));
    const db = await catalogOfFiles(dir, [[OK, tinyKernelBtf()], [BAD, Buffer.from('not btf at all, just text')]]);
    app = await buildApp({ dbPath: db, adminToken: undefined });
  });

  afterAll(async () => {
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('GET /v1/kernels lists it with state failed and the reason', async () => {
    const res = await app.inject({ url: '/v1/kernels' });
    expect(res.statusCode).toBe(200);
    const { kernels } = res.json() as { kernels: { kernel: string; state: string; types: number | null; failure?: { code: string } }[] };
    expect(kernels.map((k) => [k.kernel, k.state])).toEqual([[OK, 'ingested'], [BAD, 'failed']]);
    expect(kernels[1]).toMatchObject({ types: null, failure: { code: 'BTF_UNKNOWN_FORMAT' } });
  });

  it('a field history carries failed_kernels', async () => {
    const res = await app.inject({ url: '/v1/fields/pt_regs.di' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ failed_kernels: [{ kernel: BAD, code: 'BTF_UNKNOWN_FORMAT' }] });
  });

  it('the mirror and the lookup answer 404 saying it failed to ingest, and why', async () => {
    const file = problem(await app.inject({ url: `/archive/${BAD}.btf.tar.xz` }), 404, 'KERNEL_NOT_FOUND');
    expect(file.detail).toMatch(/failed to ingest .*BTF_UNKNOWN_FORMAT/);
    const res = await app.inject({
      method: 'POST', url: '/v1/btf/lookup',
      payload: { os_release: 'ID=debian\nVERSION_ID="12"\n', uname_r: '1.0.0-2-amd64', arch: 'x86_64' },
    });
    const p = problem(res, 404, 'KERNEL_NOT_FOUND') as ReturnType<typeof problem> & { failed?: { kernel: string; code: string } };
    expect(p.failed).toMatchObject({ kernel: BAD, code: 'BTF_UNKNOWN_FORMAT' });
    expect(p.detail).toContain(`${BAD} failed to ingest`);
    const h = problem(await app.inject({ url: `/v1/kernels/${BAD}/vmlinux.h` }), 404, 'KERNEL_NOT_FOUND');
    expect(h.detail).toMatch(/failed to ingest/);
  });
});

describe('kernel filters count the kernels whose ingest failed as kernels of the catalog', () => {
  let dir: string;
  let app: FastifyInstance;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'btf-atlas-http-filter-failed-'));
    const db = await catalogOfFiles(dir, [[OK, tinyKernelBtf()], [ONLY_FAILED, Buffer.from('not btf at all, just text')]]);
    app = await buildApp({ dbPath: db, adminToken: undefined });
  });

  afterAll(async () => {
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a release or arch whose only kernel failed still selects it (listed failed, named in histories)', async () => {
    const list = await app.inject({ url: '/v1/kernels?arch=arm64' });
    expect(list.statusCode).toBe(200);
    expect((list.json() as { kernels: { kernel: string; state: string }[] }).kernels.map((k) => [k.kernel, k.state])).toEqual([[ONLY_FAILED, 'failed']]);
    const field = await app.inject({ url: '/v1/fields/pt_regs.di?release=13' });
    expect(field.statusCode).toBe(200);
    expect(field.json()).toMatchObject({ kernels: [], failed_kernels: [{ kernel: ONLY_FAILED }] });
  });

  it('values no kernel has: 404 naming those of ingested and failed kernels', async () => {
    const p = problem(await app.inject({ url: '/v1/kernels?arch=s390x' }), 404, 'NO_MATCHING_KERNELS');
    expect(p.detail).toBe('no kernels with arch s390x; arches: x86_64, arm64');
    const r = problem(await app.inject({ url: '/v1/fields/pt_regs.di?release=14' }), 404, 'NO_MATCHING_KERNELS');
    expect(r.detail).toBe('no kernels with release 14; releases: 12, 13');
    expect(r.suggestions).toEqual(['12', '13']);
  });
});
