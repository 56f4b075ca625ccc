import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '@btf-atlas/catalog';
import { fieldHistory, enumHistory, typeHistory } from '@btf-atlas/diff';
import { buildApp } from '../src/app.js';
import { BtfBuilder } from '../../btf/test/support/builder.js';
import { syntheticCatalog } from '../../catalog/test/support/synthetic-catalog.js';

// Two kernels of one series: enum shade's DARK_OLD becomes DARK, and struct task's `state` (volatile long) becomes
// `__state` (unsigned int, Linux 5.14), as the one rename rule of libs/diff pairs them.
const KERNELS = ['debian/12/x86_64/6.1.0-1-amd64', 'debian/12/x86_64/6.1.0-2-amd64'];

function kernelBtf(v: number): Uint8Array {
  const b = new BtfBuilder();
  const long = b.int('long int', 8, 64, 1);
  const uint = b.int('unsigned int', 4, 32);
  b.enum('shade', 4, [['LIGHT', 0], [v === 2 ? 'DARK' : 'DARK_OLD', 1]]);
  b.struct('task', 16, [
    v === 2 ? { name: '__state', type: uint, bitsOffset: 0 } : { name: 'state', type: b.volatile(long), bitsOffset: 0 },
    { name: 'pid', type: long, bitsOffset: 64 },
  ]);
  return b.build();
}

let app: FastifyInstance;
let catalog: Catalog;
let close: (() => void) | undefined;

beforeAll(async () => {
  const made = await syntheticCatalog('btf-atlas-renames-', KERNELS.map((kref, i) => ({ kref, vmlinux: kernelBtf(i + 1) })));
  ({ catalog, close } = made);
  // The app opens its own handle on the same file; the library's answers are read through the builder's.
  app = await buildApp({ dbPath: made.db, adminToken: undefined });
});

afterAll(async () => {
  await app?.close();
  close?.();
});

describe('probable renames through the API', () => {
  it('an enum history names a constant renamed with its value, as the library does', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/enums/shade/history' });
    expect(res.statusCode).toBe(200);
    const h = res.json<{ changes: { what: string; member: string; probable_rename?: string }[] }>();
    expect(h.changes.map((c) => [c.what, c.member, c.probable_rename])).toEqual([['removed', 'DARK_OLD', 'DARK'], ['added', 'DARK', 'DARK_OLD']]);
    expect(res.body).toBe(JSON.stringify(enumHistory(catalog, 'shade')));
  });

  it('a field and a type history name state -> __state', async () => {
    const field = (await app.inject({ method: 'GET', url: '/v1/fields/task.state' })).json<{ changes: { probable_rename?: string }[]; summary: string }>();
    expect(field.changes).toEqual([expect.objectContaining({ what: 'removed', probable_rename: '__state' })]);
    expect(field.summary).toContain('probably renamed to __state');
    const type = (await app.inject({ method: 'GET', url: '/v1/types/task/history' })).json<{ changes: { member?: string; probable_rename?: string }[] }>();
    expect(type.changes.map((c) => [c.member, c.probable_rename])).toEqual([['state', '__state'], ['__state', 'state']]);
    expect(JSON.stringify(field)).toBe(JSON.stringify(fieldHistory(catalog, 'task.state')));
    expect(JSON.stringify(type)).toBe(JSON.stringify(typeHistory(catalog, 'task')));
  });
});
