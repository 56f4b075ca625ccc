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
/** The only kernel of its release and arch, and its ingest failed. */
const BAD = 'debian/13/arm64/1.0.0-2-arm64';

function kernelBtf(): Uint8Array {
  const b = new BtfBuilder();
  const long = b.int('long int', 8, 64, 1);
  b.struct('pt_regs', 120, [{ name: 'di', type: long, bitsOffset: 896 }]);
  return b.build();
}

describe('kernel filters count the kernels whose ingest failed as kernels of the catalog', () => {
  let dir: string;
  let app: FastifyInstance;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'btf-atlas-http-filter-failed-'));
    for (const [kref, bytes] of [[OK, kernelBtf()], [BAD, Buffer.from('not btf at all, just text')]] as const) {
      mkdirSync(join(dir, 'archive', kref, '..'), { recursive: true });
      writeFileSync(join(dir, 'archive', `${kref}.btf`), bytes);
    }
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

  it('a release or arch whose only kernel failed still selects it (listed failed, named in histories)', async () => {
    const list = await app.inject({ url: '/v1/kernels?arch=arm64' });
    expect(list.statusCode).toBe(200);
    expect((list.json() as { kernels: { kernel: string; state: string }[] }).kernels.map((k) => [k.kernel, k.state])).toEqual([[BAD, 'failed']]);
    const field = await app.inject({ url: '/v1/fields/pt_regs.di?release=13' });
    expect(field.statusCode).toBe(200);
    expect(field.json()).toMatchObject({ kernels: [], failed_kernels: [{ kernel: BAD }] });
  });

  it('values no kernel has: 404 naming those of ingested and failed kernels', async () => {
    const p = problem(await app.inject({ url: '/v1/kernels?arch=s390x' }), 404, 'NO_MATCHING_KERNELS');
    expect(p.detail).toBe('no kernels with arch s390x; arches: x86_64, arm64');
    const r = problem(await app.inject({ url: '/v1/fields/pt_regs.di?release=14' }), 404, 'NO_MATCHING_KERNELS');
    expect(r.detail).toBe('no kernels with release 14; releases: 12, 13');
    expect(r.suggestions).toEqual(['12', '13']);
  });
});
