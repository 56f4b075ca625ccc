import { describe, expect, it } from 'vitest';
import { Btf, BtfError, dumpRawJson, extractBtf, type BtfType } from '@btf-atlas/btf';
import { sampleBtf, BtfBuilder } from './support/builder.js';
import { corpusFile, corpusKernels } from './support/corpus.js';
import { writeTar, writeXzStored } from './support/fuzz-inputs.js';

/** The type of a given name and kind in a parsed blob. */
function find<K extends BtfType['kind']>(btf: Btf, kind: K, name: string): Extract<BtfType, { kind: K }> {
  const t = btf.ownTypes().find((x) => x.kind === kind && x.name === name);
  if (!t) throw new Error(`no ${kind} ${name}`);
  return t as Extract<BtfType, { kind: K }>;
}

describe('the typed model of every kind, in both byte orders', () => {
  for (const le of [true, false]) {
    it(le ? 'little-endian' : 'big-endian', () => {
      const btf = Btf.parse(sampleBtf(le));
      expect(btf.littleEndian).toBe(le);
      expect(find(btf, 'INT', 'char')).toMatchObject({ size: 1, nrBits: 8, encoding: 2, bitsOffset: 0 });
      expect(find(btf, 'INT', 'int').encoding).toBe(1);
      // kind_flag set: member offsets carry a bitfield size in their top 8 bits.
      const node = find(btf, 'STRUCT', 'node');
      expect(node.kindFlag).toBe(true);
      expect(node.members.map((m) => [m.name, m.bitsOffset, m.bitfieldSize])).toEqual([
        ['next', 0, 0], ['flags', 64, 3], ['mode', 67, 5], ['name', 96, 0], ['value', 128, 0],
      ]);
      const tagged = btf.type(btf.type(node.members[0].type).kind === 'PTR' ? (btf.type(node.members[0].type) as { type: number }).type : 0);
      expect(tagged).toMatchObject({ kind: 'TYPE_TAG', name: 'rcu', type: node.id });
      expect(find(btf, 'UNION', 'val').members.map((m) => m.bitsOffset)).toEqual([0, 0]);
      // ENUM kind_flag: signed values.
      const color = find(btf, 'ENUM', 'color');
      expect(color.signed).toBe(true);
      expect(color.values.map((v) => v.value)).toEqual([0, 1, -1]);
      const big = find(btf, 'ENUM64', 'big');
      expect(big.signed).toBe(false);
      expect(big.values[0].value).toBe(1n << 40n);
      const fn = find(btf, 'FUNC', 'printk_like');
      expect(fn.linkage).toBe(1);
      const proto = btf.type(fn.type);
      expect(proto.kind).toBe('FUNC_PROTO');
      if (proto.kind === 'FUNC_PROTO') expect(proto.params.map((p) => [p.name, p.type === 0])).toEqual([['fmt', false], ['', true]]);
      expect(find(btf, 'FWD', 'opaque').fwdKind).toBe('struct');
      expect(find(btf, 'FLOAT', 'double').size).toBe(8);
      expect(find(btf, 'VAR', 'counter').linkage).toBe(1);
      expect(find(btf, 'DATASEC', '.data').vars).toEqual([{ type: find(btf, 'VAR', 'counter').id, offset: 0, size: 4 }]);
      const tags = btf.ownTypes().filter((t) => t.kind === 'DECL_TAG').map((t) => [t.name, (t as { componentIdx: number }).componentIdx]);
      expect(tags).toEqual([['kfunc', -1], ['arg', 0], ['field', 2]]);
      expect(find(btf, 'ARRAY', '').nelems).toBe(4);
      const q = btf.ownTypes().filter((t) => t.kind === 'CONST' || t.kind === 'VOLATILE' || t.kind === 'PTR').map((t) => t.kind);
      expect(q).toEqual(expect.arrayContaining(['CONST', 'VOLATILE', 'PTR']));
    });
  }

  it('reads FWD union and RESTRICT', () => {
    const b = new BtfBuilder();
    const i = b.int('int', 4, 32, 1);
    b.fwd('u', true);
    b.restrict(b.ptr(i));
    const btf = Btf.parse(b.build());
    expect(find(btf, 'FWD', 'u').fwdKind).toBe('union');
    expect(btf.ownTypes().map((t) => t.kind)).toEqual(['INT', 'FWD', 'PTR', 'RESTRICT']);
  });

  it('continues ids and string offsets of the base in split BTF', () => {
    const base = new BtfBuilder();
    const int = base.int('int', 4, 32, 1);
    const baseBtf = Btf.parse(base.build());
    const strLen = baseBtf.strings.length;
    const split = new BtfBuilder({ startId: baseBtf.nextId, strBase: strLen, leadingNul: false });
    split.struct('pair', 8, [{ name: 'a', type: int, bitsOffset: 0 }, { name: 'b', type: int, bitsOffset: 32 }]);
    const btf = Btf.parse(split.build(), { base: baseBtf });
    expect(btf.startId).toBe(2);
    const pair = btf.type(2);
    expect(pair).toMatchObject({ kind: 'STRUCT', name: 'pair' });
    expect(btf.type(int)).toMatchObject({ kind: 'INT', name: 'int' });
    expect(() => Btf.parse(split.build())).toThrow(BtfError);
  });
});

describe('a btfhub tarball that also holds module BTF next to vmlinux', () => {
  const k = corpusKernels().find((x) => x.modules.length > 0)!;

  it('yields vmlinux first and each module with its name, and dump reads the vmlinux', async () => {
    const [vmlinux] = await extractBtf(corpusFile(k.archive), k.archive);
    const mod = k.modules[0];
    const tar = writeTar([
      { name: `modules/${mod.name}.btf`, data: corpusFile(mod.archive) },
      { name: `${k.kernelRelease}.btf`, data: vmlinux.bytes },
    ]);
    const blobs = await extractBtf(writeXzStored(tar), 'with-modules.btf.tar.xz');
    expect(blobs.map((b) => [b.role, b.module])).toEqual([['vmlinux', undefined], ['module', mod.name]]);
    expect(blobs[0].formats).toEqual(['xz', 'tar', 'btf']);
    const base = Btf.parse(blobs[0].bytes);
    expect(Buffer.from(dumpRawJson(base)).equals(Buffer.from(dumpRawJson(Btf.parse(vmlinux.bytes))))).toBe(true);
    const m = Btf.parse(blobs[1].bytes, { base });
    expect(m.ownTypeCount).toBe(mod.types);
  });

  it('refuses a tarball with two top-level BTF files', async () => {
    const one = sampleBtf();
    const tar = writeTar([{ name: 'a.btf', data: one }, { name: 'b.btf', data: one }]);
    await expect(extractBtf(tar, 'two.tar')).rejects.toMatchObject({ code: 'BTF_BAD_CONTAINER' });
  });
});
