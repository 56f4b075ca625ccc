/**
 * Two layouts of one name in one kernel (shape-key.ts): as a lookup's candidates they key as the pair, whichever
 * comes first; reached through a member, which one the member means is a type id the catalog does not keep, so
 * each kernel keeps its own BTF's key. Two small kernels whose `struct holder` and pair of `struct controller`
 * are the same shapes, but whose `holder.c` means the 4-byte controller in one and the 8-byte one in the other.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BtfBuilder } from '../../btf/test/support/builder.js';
import { BlobStore, jobDataOf, openCatalog, parseKref, processIngest, scanPath, type Catalog } from '@btf-atlas/catalog';
import type { TargetLookup } from '@btf-atlas/core';
import { lookupKeys, selectKernels, type SelectedKernel } from '../src/index.js';

/** A kernel with both controllers; holder.c is the one of size `held`. */
function kernel(held: 4 | 8): Uint8Array {
  const b = new BtfBuilder();
  const int = b.int('int', 4, 32, 1);
  const small = b.struct('controller', 4, [{ name: 'a', type: int, bitsOffset: 0 }]);
  const big = b.struct('controller', 8, [{ name: 'x', type: int, bitsOffset: 0 }, { name: 'a', type: int, bitsOffset: 32 }]);
  b.struct('holder', 8, [{ name: 'c', type: held === 4 ? small : big, bitsOffset: 0 }]);
  return b.build();
}

let dir: string;
let catalog: Catalog;
let kernels: SelectedKernel[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-shape-dup-'));
  const db = join(dir, 'atlas.db');
  const writer = openCatalog(db);
  const blobs = BlobStore.forCatalog(db);
  for (const [kref, held] of [['synthetic/1/x86_64/1.0.0-1-amd64', 4], ['synthetic/1/x86_64/1.0.0-2-amd64', 8]] as const) {
    const file = join(dir, `${held}.btf`);
    writeFileSync(file, kernel(held));
    await processIngest(jobDataOf(scanPath(file, parseKref(kref))[0]), { catalog: writer, blobs });
  }
  writer.close();
  catalog = openCatalog(db, { readonly: true });
  kernels = selectKernels(catalog, {});
});

afterAll(() => {
  catalog?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const keysOf = (lookups: TargetLookup[]) => lookupKeys(catalog, { lookups, typeIdTargets: [], modules: [] }, kernels, undefined);

describe('two layouts of one name in a kernel', () => {
  it("as a lookup's candidates: the pair is the key, and kernels with the same pair share it", () => {
    const { keys } = keysOf([{ kind: 'STRUCT', name: 'controller', flavors: true, depth: 'field', path: ['a'] }]);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^shapes /);
    expect(keys[1]).toBe(keys[0]);
  });

  it('reached through a member: each kernel keeps its own btf key (holder.c.a is at 0 in one and 32 in the other)', () => {
    const { keys } = keysOf([{ kind: 'STRUCT', name: 'holder', flavors: false, depth: 'field', path: ['c', 'a'] }]);
    expect(keys.every((k) => k.startsWith('btf '))).toBe(true);
    expect(keys[1]).not.toBe(keys[0]);
  });
});
