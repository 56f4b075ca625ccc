import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Btf, dumpC } from '@btf-atlas/btf';
import type { Catalog } from '@btf-atlas/catalog';
import { typeText } from '@btf-atlas/catalog/type-text';
import { diffKernels, fieldHistory, typeHistory } from '@btf-atlas/diff';
import { BtfBuilder } from '../../btf/test/support/builder.js';
import { syntheticCatalog } from '../../catalog/test/support/synthetic-catalog.js';

// Valid BTF whose typedefs form a deep graph: t_i is a pointer to `void (t_{i-1}, t_{i-1})`, 40 levels (2^40
// prototypes written out as a tree). Between the two kernels, s.a of type t40 becomes s.b of type u40, a copy of
// the chain under other names: the rename check and the diff compare the two graphs.
const KERNELS = ['synthetic/1/x86_64/6.1.0-1-amd64', 'synthetic/1/x86_64/6.1.0-2-amd64'];
const DEPTH = 40;

function kernelBtf(v: number): Uint8Array {
  const b = new BtfBuilder();
  const chain = (p: string): number => {
    let t = b.typedef(`${p}0`, b.ptr(b.funcProto(0, [])));
    for (let i = 1; i <= DEPTH; i++) t = b.typedef(`${p}${i}`, b.ptr(b.funcProto(0, [{ type: t }, { type: t }])));
    return t;
  };
  const t = chain('t');
  const u = chain('u');
  b.struct('s', 8, [{ name: v === 1 ? 'a' : 'b', type: v === 1 ? t : u, bitsOffset: 0 }]);
  return b.build();
}

let catalog: Catalog;
let close: (() => void) | undefined;

beforeAll(async () => {
  ({ catalog, close } = await syntheticCatalog('btf-atlas-typedef-graph-', KERNELS.map((kref, i) => ({ kref, vmlinux: kernelBtf(i + 1) }))));
});

afterAll(() => close?.());

describe('a deep graph of typedefs of prototypes', () => {
  it('is ingested, diffed and followed by the histories, the rename found', () => {
    const d = diffKernels(catalog, KERNELS[0], KERNELS[1]);
    expect(d.changes.filter((c) => c.name === 's').map((c) => [c.member, c.change, c.probable_rename])).toEqual([['a', 'removed', 'b'], ['b', 'added', 'a']]);
    expect(fieldHistory(catalog, 's.a').changes).toEqual([expect.objectContaining({ what: 'removed', probable_rename: 'b' })]);
    expect(typeHistory(catalog, 's').changes.map((c) => [c.member, c.probable_rename])).toEqual([['a', 'b'], ['b', 'a']]);
  });

  it('is printed as pahole and bpftool print it: each typedef once, by name', async () => {
    expect(await typeText(catalog, 's', KERNELS[1])).toContain('u40                        b;');
    const c = dumpC(Btf.parse(kernelBtf(2)));
    expect(c.match(/^typedef void \(\*u40\)\(u39, u39\);$/gm)).toHaveLength(1);
  });
});
