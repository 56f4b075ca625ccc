import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobStore, openCatalog, parseKref, prepareKernel, writeKernel, type Catalog } from '@btf-atlas/catalog';
import { diffKernels } from '@btf-atlas/diff';
import { BtfBuilder } from '../../btf/test/support/builder.js';

/** A vmlinux BTF whose `long` is `longSize` bytes and whose func `f` returns `ret`. */
function kernelBtf(longSize: 4 | 8, ret: 'long unsigned int' | 'long long unsigned int'): Uint8Array {
  const b = new BtfBuilder();
  const ulong = b.int('long unsigned int', longSize, longSize * 8);
  const ull = b.int('long long unsigned int', 8, 64);
  b.func('f', b.funcProto(ret === 'long unsigned int' ? ulong : ull, []));
  return b.build();
}

describe('diffKernels sizes `long` by the pointer size each kernel recorded from its BTF, not by its arch name', () => {
  let dir: string;
  let catalog: Catalog;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'btf-atlas-ptrsize-'));
    catalog = openCatalog(join(dir, 'atlas.db'));
  });
  afterEach(() => {
    catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function ingest(kref: string, bytes: Uint8Array): Promise<void> {
    const k = parseKref(kref);
    writeKernel(catalog, BlobStore.forCatalog(catalog.path), await prepareKernel({ kref: k, file: { source: `${k.unameR}.btf`, bytes } }));
  }

  it('long → long long is breaking between 32-bit kernels, even filed under x86_64', async () => {
    await ingest('custom/1/x86_64/6.1.0-1', kernelBtf(4, 'long unsigned int'));
    await ingest('custom/1/x86_64/6.1.0-2', kernelBtf(4, 'long long unsigned int'));
    const d = diffKernels(catalog, 'custom/1/x86_64/6.1.0-1', 'custom/1/x86_64/6.1.0-2');
    expect(d.changes.map((c) => [c.name, c.severity])).toEqual([['f', 'breaking']]);
  });

  it('and the same size (layout only) between 64-bit kernels, even filed under i386', async () => {
    await ingest('custom/1/i386/6.1.0-1', kernelBtf(8, 'long unsigned int'));
    await ingest('custom/1/i386/6.1.0-2', kernelBtf(8, 'long long unsigned int'));
    const d = diffKernels(catalog, 'custom/1/i386/6.1.0-1', 'custom/1/i386/6.1.0-2');
    expect(d.changes.map((c) => [c.name, c.severity])).toEqual([['f', 'layout']]);
  });
});
