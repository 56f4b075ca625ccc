import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BtfBuilder } from '../../btf/test/support/builder.js';
import { buildApp } from '../src/app.js';
import { catalogOfFiles, tinyKernelBtf } from './support.js';

const LE64 = 'debian/12/x86_64/1.0.0-1-amd64';
const BE32 = 'debian/12/x86_64/1.0.0-2-amd64';
const FAILED = 'debian/12/x86_64/1.0.0-3-amd64';

/** A 32-bit big-endian vmlinux BTF (filed under x86_64: the BTF, not the arch name, decides). */
function be32Btf(): Uint8Array {
  const b = new BtfBuilder();
  const long = b.int('long int', 4, 32, 1);
  b.struct('pt_regs', 4, [{ name: 'di', type: long, bitsOffset: 0 }]);
  return b.build({ littleEndian: false });
}

describe('GET /v1/kernels: each kernel\'s pointer size and byte order, from its own BTF', () => {
  let dir: string;
  let app: FastifyInstance;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'btf-atlas-http-layout-'));
    const db = await catalogOfFiles(dir, [[LE64, tinyKernelBtf()], [BE32, be32Btf()], [FAILED, Buffer.from('not btf')]]);
    app = await buildApp({ dbPath: db, adminToken: undefined });
  });

  afterAll(async () => {
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists pointer_size and byte_order for ingested kernels, null for a failed one', async () => {
    const res = await app.inject({ url: '/v1/kernels' });
    expect(res.statusCode).toBe(200);
    const { kernels } = res.json() as { kernels: Record<string, unknown>[] };
    expect(kernels.map((k) => [k.kernel, k.state, k.pointer_size, k.byte_order])).toEqual([
      [LE64, 'ingested', 8, 'little'],
      [BE32, 'ingested', 4, 'big'],
      [FAILED, 'failed', null, null],
    ]);
  });

  it('the OpenAPI document describes them', async () => {
    const res = await app.inject({ url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const text = res.body;
    expect(text).toContain('"pointer_size"');
    expect(text).toContain('"byte_order"');
  });
});
