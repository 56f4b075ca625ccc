/**
 * The kernel-side lookups of the CO-RE dry run, which scan records by kind and name bytes instead of building
 * whole-BTF name indexes: candidates by essential name (relo-cands.ts), FUNC/VAR/TYPEDEF by exact name
 * (verdict-kernel.ts), and libbpf's size rule with its errno results (relo-btf.ts). Checked on hand-built BTF for
 * the edge cases, and against a decode-everything search on a corpus kernel.
 */
import { Btf } from '@btf-atlas/btf/core';
import { describe, expect, it } from 'vitest';
import { BtfBuilder } from '../../btf/test/support/builder.js';
import { corpusKernels, loadKernel } from '../../btf/test/support/corpus.js';
import { findCands } from '../src/relo-cands.js';
import { Errno, essentialName, ownIdsByNamePrefix, ptrSize, resolveSize } from '../src/relo-btf.js';
import { findKernelType, findOwnType } from '../src/verdict-kernel.js';

/** A target BTF with look-alike names around `foo` and `bar`. */
function target(): { btf: Btf; ids: Record<string, number> } {
  const b = new BtfBuilder();
  const int = b.int('int', 4);
  const ids = {
    fooStruct: b.struct('foo', 4, [{ name: 'a', type: int, bitsOffset: 0 }]),
    foobar: b.struct('foobar', 4, []),
    fooUnion: b.union('foo', 4, []),
    fooFwd: b.fwd('foo'),
    fooV2: b.struct('foo___v2', 8, []),
    fooDouble: b.struct('foo___a___b', 8, []),
    fooEnum: b.enum('fe', 4, [['X', 1]]),
    fooEnum64: b.enum64('fe___new', 8, [['Y', 2n]]),
    fooStruct2: b.struct('foo', 8, []),
    proto: 0,
    barFunc: 0,
    barxFunc: 0,
    barVar: 0,
  };
  ids.proto = b.funcProto(int, []);
  ids.barxFunc = b.func('barx', ids.proto);
  ids.barFunc = b.func('bar', ids.proto);
  ids.barVar = b.var('bar', int);
  b.func('bar', ids.proto);
  return { btf: Btf.parse(b.build()), ids };
}

/** A local BTF holding one type of each kind asked about; returns its ids by name. */
function local(): { btf: Btf; ids: Record<string, number> } {
  const b = new BtfBuilder();
  const ids = {
    fooOld: b.struct('foo___old', 4, []),
    foo: b.struct('foo', 4, []),
    fooUnion: b.union('foo___u', 4, []),
    fe: b.enum64('fe', 8, [['X', 1n]]),
    missing: b.struct('nope', 4, []),
    anon: b.struct(undefined, 4, []),
  };
  return { btf: Btf.parse(b.build()), ids };
}

describe('findCands', () => {
  const t = target();
  const l = local();
  const vmlinux = { name: 'vmlinux', btf: t.btf };
  const ids = (localId: number, modules: { name: string; btf: Btf }[] = []): (number | string)[] | undefined =>
    findCands(l.btf, localId, vmlinux, modules)?.map((c) => (c.btfName === 'vmlinux' ? c.id : `${c.btfName}:${c.id}`));

  it('matches the same kind by essential name, flavors on either side, in id order', () => {
    expect(ids(l.ids.fooOld)).toEqual([t.ids.fooStruct, t.ids.fooV2, t.ids.fooStruct2]);
    expect(ids(l.ids.foo)).toEqual([t.ids.fooStruct, t.ids.fooV2, t.ids.fooStruct2]);
    expect(ids(l.ids.fooUnion)).toEqual([t.ids.fooUnion]);
  });

  it('mixes ENUM and ENUM64', () => {
    expect(ids(l.ids.fe)).toEqual([t.ids.fooEnum, t.ids.fooEnum64]);
  });

  it('gives none for an absent name and undefined for anonymous or missing local types', () => {
    expect(ids(l.ids.missing)).toEqual([]);
    expect(ids(l.ids.anon)).toBeUndefined();
    expect(ids(9999)).toBeUndefined();
  });

  it('searches modules (split BTF, names in base or own strings) only when vmlinux has none', () => {
    const base = t.btf;
    const m = new BtfBuilder({ startId: base.nextId, strBase: base.strings.endOffset, leadingNul: false });
    const nope = m.struct('nope___mod', 4, []);
    const rawFoo = m.raw(base.nameOffOf(t.ids.fooStruct), (4 << 24) >>> 0, 4); // name "foo" from the base strings
    const mod = Btf.parse(m.build(), { base });
    expect(mod.type(rawFoo).name).toBe('foo');
    expect(ids(l.ids.missing, [{ name: 'mod', btf: mod }])).toEqual([`mod:${nope}`]);
    expect(ids(l.ids.foo, [{ name: 'mod', btf: mod }])).toEqual([t.ids.fooStruct, t.ids.fooV2, t.ids.fooStruct2]);
    const noVmlinux = { name: 'vmlinux', btf: Btf.parse(new BtfBuilder().build()) };
    const viaMod = findCands(l.btf, l.ids.foo, noVmlinux, [{ name: 'mod', btf: mod }]);
    expect(viaMod?.map((c) => c.id)).toEqual([rawFoo]);
  });
});

describe('findOwnType / findKernelType', () => {
  const t = target();

  it('finds the first type of that kind with exactly that name', () => {
    expect(findOwnType(t.btf, 'bar', 'FUNC')).toBe(t.ids.barFunc);
    expect(findOwnType(t.btf, 'barx', 'FUNC')).toBe(t.ids.barxFunc);
    expect(findOwnType(t.btf, 'bar', 'VAR')).toBe(t.ids.barVar);
    expect(findOwnType(t.btf, 'ba', 'FUNC')).toBeUndefined();
    expect(findOwnType(t.btf, 'bar', 'TYPEDEF')).toBeUndefined();
    expect(findOwnType(t.btf, 'b\u0101r', 'FUNC')).toBeUndefined();
    // Asked twice (the second answer is remembered): the same.
    expect(findOwnType(t.btf, 'bar', 'FUNC')).toBe(t.ids.barFunc);
    expect(findOwnType(t.btf, 'ba', 'FUNC')).toBeUndefined();
  });

  it('searches vmlinux, then the modules, or only the module named', () => {
    const m = new BtfBuilder({ startId: t.btf.nextId, strBase: t.btf.strings.endOffset, leadingNul: false });
    const modBar = m.func('bar', t.ids.proto);
    const onlyMod = m.func('only_mod', t.ids.proto);
    const mod = Btf.parse(m.build(), { base: t.btf });
    const kernel = { vmlinux: t.btf, modules: [{ name: 'm1', btf: mod }] };
    expect(findKernelType(kernel, 'bar', 'FUNC')).toMatchObject({ btfName: 'vmlinux', id: t.ids.barFunc });
    expect(findKernelType(kernel, 'bar', 'FUNC', 'm1')).toMatchObject({ btfName: 'm1', id: modBar });
    expect(findKernelType(kernel, 'only_mod', 'FUNC')).toMatchObject({ btfName: 'm1', id: onlyMod });
    expect(findKernelType(kernel, 'only_mod', 'FUNC', 'vmlinux')).toBeUndefined();
  });
});

describe('ownIdsByNamePrefix', () => {
  const t = target();
  it('lists names starting with the bytes, or equal to them', () => {
    expect(ownIdsByNamePrefix(t.btf, 4, 'foo', false)).toEqual([t.ids.fooStruct, t.ids.foobar, t.ids.fooV2, t.ids.fooDouble, t.ids.fooStruct2]);
    expect(ownIdsByNamePrefix(t.btf, 4, 'foo', true)).toEqual([t.ids.fooStruct, t.ids.fooStruct2]);
    expect(ownIdsByNamePrefix(t.btf, 7, 'foo', true)).toEqual([t.ids.fooFwd]);
    expect(ownIdsByNamePrefix(t.btf, 4, '', false)).toEqual([]);
    expect(ownIdsByNamePrefix(t.btf, 40, 'foo', false)).toEqual([]);
  });
});

describe('resolveSize and ptrSize', () => {
  it('follows libbpf: sizes through modifiers and arrays, -EINVAL without a size, -E2BIG past 4 GiB', () => {
    const b = new BtfBuilder();
    const long4 = b.int('long int', 4);
    const ptr = b.ptr(long4);
    const arr = b.array(ptr, long4, 10);
    const cv = b.const(b.volatile(arr));
    const big = b.array(b.array(long4, long4, 0x10000), long4, 0x10000);
    const bigPtrs = b.array(ptr, long4, 0x40000000);
    const fwd = b.fwd('s');
    const dangling = b.typedef('dangling', 500);
    const proto = b.funcProto(0, []);
    const btf = Btf.parse(b.build());
    expect(ptrSize(btf)).toBe(4);
    expect(resolveSize(btf, ptr)).toBe(4);
    expect(resolveSize(btf, cv)).toBe(40);
    expect(resolveSize(btf, big)).toBe(-Errno.E2BIG);
    expect(resolveSize(btf, bigPtrs)).toBe(-Errno.E2BIG); // 2^30 pointers of 4 bytes
    expect(resolveSize(btf, fwd)).toBe(-Errno.EINVAL);
    expect(resolveSize(btf, 0)).toBe(-Errno.EINVAL);
    expect(resolveSize(btf, dangling)).toBe(-Errno.EINVAL);
    expect(resolveSize(btf, proto)).toBe(-Errno.EINVAL);
    expect(resolveSize(btf, 9999)).toBe(-Errno.EINVAL);
  });

  it('gives -EINVAL for a modifier chain longer than 32, whatever it ends in', () => {
    const b = new BtfBuilder();
    let id = b.int('int', 4);
    const short = b.const(id);
    for (let i = 0; i < 40; i++) id = b.const(id);
    const btf = Btf.parse(b.build());
    expect(resolveSize(btf, short)).toBe(4);
    expect(resolveSize(btf, id)).toBe(-Errno.EINVAL);
    expect(ptrSize(btf)).toBe(8); // no long: the host's pointer size
  });
});

describe('on a corpus kernel, against decoding every type', () => {
  const k = corpusKernels().find((x) => x.arch === 'x86_64') ?? corpusKernels()[0];

  it('finds the same candidates and FUNC/VAR/TYPEDEF ids as a full search', async () => {
    const kernel = await loadKernel(k);
    const all = kernel.ownTypes();
    // A spread of named structs, unions, enums, typedefs, funcs and vars of the kernel, each asked as a flavor.
    const group = (kind: string): string => (kind === 'ENUM64' ? 'ENUM' : kind);
    const byEssential = new Map<string, number[]>();
    const firstByName = new Map<string, number>();
    for (const x of all) {
      if (x.name === '') continue;
      const key = `${group(x.kind)}:${essentialName(x.name)}`;
      byEssential.set(key, [...(byEssential.get(key) ?? []), x.id]);
      if (!firstByName.has(`${x.kind}:${x.name}`)) firstByName.set(`${x.kind}:${x.name}`, x.id);
    }
    // A spread of named types of the kernel, each asked about as a flavor of a local type of the same kind.
    const kinds = new Set(['STRUCT', 'UNION', 'ENUM', 'ENUM64', 'TYPEDEF', 'FUNC', 'VAR', 'INT']);
    const sample = all.filter((t, i) => t.name !== '' && i % 97 === 0 && kinds.has(t.kind));
    expect(sample.length).toBeGreaterThan(200);
    const b = new BtfBuilder();
    const locals = sample.map((t) => {
      const kind = kernel.kindOf(t.id);
      return b.raw(b.str(`${t.name}___local`), (kind << 24) >>> 0, 0, t.kind === 'INT' || t.kind === 'VAR' ? [0] : []);
    });
    const localBtf = Btf.parse(b.build());
    sample.forEach((t, i) => {
      const want = byEssential.get(`${group(t.kind)}:${essentialName(t.name)}`);
      const got = findCands(localBtf, locals[i], { name: 'vmlinux', btf: kernel }, [])?.map((c) => c.id);
      expect(got, `${t.kind} ${t.name}`).toEqual(want);
      if (t.kind === 'FUNC' || t.kind === 'VAR' || t.kind === 'TYPEDEF') {
        expect(findOwnType(kernel, t.name, t.kind), t.name).toBe(firstByName.get(`${t.kind}:${t.name}`));
      }
    });
  });
});
