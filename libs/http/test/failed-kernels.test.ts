import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore, jobDataOf, openCatalog, processIngest, scanPath } from '@btf-atlas/catalog';
import { buildApp } from '../src/app.js';
import { problem } from './support.js';
import { BtfBuilder } from '../../btf/test/support/builder.js';

const OK = 'debian/12/x86_64/1.0.0-1-amd64';
const BAD = 'debian/12/x86_64/1.0.0-2-amd64';

function kernelBtf(): Uint8Array {
  const b = new BtfBuilder();
  const long = b.int('long int', 8, 64, 1);
  b.struct('pt_regs', 120, [{ name: 'di', type: long, bitsOffset: 896 }]);
  return b.build();
}

describe('HTTP answers about a kernel whose ingest failed', () => {
  let dir: string;
  let app: FastifyInstance;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'btf-atlas-http-failed-'));
    const tree = join(dir, 'archive/debian/12/x86_64');
    mkdirSync(tree, { recursive: true });
    writeFileSync(join(tree, '1.0.0-1-amd64.btf'), kernelBtf());
    writeFileSync(join(tree, '1.0.0-2-amd64.btf'), Buffer.from('not btf at all, just text'));
    const db = join(dir, 'atlas.db');
    const catalog = openCatalog(db);
    const blobs = BlobStore.forCatalog(db);
    for (const item of scanPath(join(dir, 'archive'))) await processIngest(jobDataOf(item), { catalog, blobs }).catch(() => undefined);
    catalog.close();
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
