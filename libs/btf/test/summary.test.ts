import { describe, expect, it } from 'vitest';
import { Btf, summarizeBtf, swapBtfEndianness, type BtfSummary } from '@btf-atlas/btf';
import { BtfBuilder } from './support/builder.js';
import { corpusKernels, corpusOracle, loadKernel, loadModule } from './support/corpus.js';

// summarizeBtf's counts against the same counts taken independently from bpftool's JSON of every type (the corpus
// oracles, `bpftool -j btf dump file … format raw`), for every corpus kernel and module; and a small built BTF
// whose every count is known by construction.

interface OracleType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  vlen?: number;
  linkage?: string;
  type_id?: number;
  component_idx?: number;
}

const ALL_KINDS = ['INT', 'PTR', 'ARRAY', 'STRUCT', 'UNION', 'ENUM', 'FWD', 'TYPEDEF', 'VOLATILE', 'CONST', 'RESTRICT',
  'FUNC', 'FUNC_PROTO', 'VAR', 'DATASEC', 'FLOAT', 'DECL_TAG', 'TYPE_TAG', 'ENUM64'];

async function oracleTypes(prefix: string): Promise<OracleType[]> {
  const json = JSON.parse(Buffer.from(await corpusOracle(`${prefix}.raw.json.xz`)).toString('utf8')) as { types: OracleType[] };
  return json.types;
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of [...values].sort()) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/** The summary, computed from bpftool's JSON: `types` is one BTF's own types, `base` its base's (modules). */
function expectedSummary(types: OracleType[], base: OracleType[], byteOrder: string): BtfSummary {
  const byId = new Map([...base, ...types].map((t) => [t.id, t]));
  const of = (kind: string): OracleType[] => types.filter((t) => t.kind === kind);
  const kinds: Record<string, number> = {};
  for (const k of ALL_KINDS) kinds[k] = of(k).length;
  const enums = [...of('ENUM'), ...of('ENUM64')];
  const funcs = of('FUNC');
  const tagged = (value: string): number =>
    new Set(of('DECL_TAG').filter((t) => t.name === value && t.component_idx === -1 && byId.get(t.type_id as number)?.kind === 'FUNC').map((t) => t.type_id)).size;
  const withPrefix = (list: OracleType[], prefix: string): Set<string> =>
    new Set(list.filter((t) => t.name.startsWith(prefix)).map((t) => t.name.slice(prefix.length)));
  const byPrefix: Record<string, number> = {};
  const allPrefixed = new Set<string>();
  for (const arch of ['arm64', 'ia32', 'powerpc', 'riscv', 's390', 's390x', 'x64']) {
    const names = withPrefix(funcs, `__${arch}_sys_`);
    if (names.size > 0) byPrefix[arch] = names.size;
    for (const n of names) allPrefixed.add(n);
  }
  const plain = withPrefix(funcs, 'sys_');
  const long = [...base, ...types].find((t) => t.kind === 'INT' && (t.name === 'long int' || t.name === 'long unsigned int'));
  return {
    types: types.length,
    kinds,
    structs: kinds.STRUCT,
    unions: kinds.UNION,
    enums: { total: enums.length, named: enums.filter((t) => t.name !== '(anon)').length, anonymous: enums.filter((t) => t.name === '(anon)').length },
    enumerators: enums.reduce((n, t) => n + (t.vlen as number), 0),
    typedefs: kinds.TYPEDEF,
    funcs: {
      total: funcs.length,
      static: funcs.filter((t) => t.linkage === 'static').length,
      global: funcs.filter((t) => t.linkage === 'global').length,
      extern: funcs.filter((t) => t.linkage === 'extern').length,
    },
    kfuncs: tagged('bpf_kfunc'),
    fastcall: tagged('bpf_fastcall'),
    tracepoints: withPrefix(of('TYPEDEF'), 'btf_trace_').size,
    trace_events: withPrefix(of('STRUCT'), 'trace_event_raw_').size,
    syscalls: { total: allPrefixed.size > 0 ? allPrefixed.size : plain.size, by_prefix: byPrefix, plain: plain.size },
    datasecs: of('DATASEC').map((t) => ({ name: t.name, size: t.size as number, vars: t.vlen as number })),
    decl_tags: { total: kinds.DECL_TAG, values: countBy(of('DECL_TAG').map((t) => t.name)) },
    type_tags: { total: kinds.TYPE_TAG, values: countBy(of('TYPE_TAG').map((t) => t.name)) },
    pointer_size: long?.size as number,
    byte_order: byteOrder as 'little' | 'big',
  };
}

describe('summarizeBtf equals the counts taken from the bpftool oracles', () => {
  for (const k of corpusKernels()) {
    it(`${k.archive}`, async () => {
      const btf = await loadKernel(k);
      const types = await oracleTypes(k.oraclePrefix);
      const want = expectedSummary(types, [], 'little');
      const got = summarizeBtf(btf);
      expect(got).toEqual(want);
      // Keys in the documented order (the JSON answer's).
      expect(Object.keys(got)).toEqual(Object.keys(want));
      expect(Object.keys(got.kinds)).toEqual(ALL_KINDS);
      // What the corpus is known to hold, so the comparison above compares something.
      expect(got.types).toBe(k.types);
      expect(got.funcs.total).toBeGreaterThan(40_000);
      expect(got.tracepoints).toBeGreaterThan(500);
      expect(got.trace_events).toBeGreaterThan(300);
      expect(got.syscalls.total).toBeGreaterThan(300);
      expect(got.enums.anonymous).toBeGreaterThan(100);
      expect(got.pointer_size).toBe(8);
    });
    for (const m of k.modules) {
      it(`${m.archive} on its kernel: only its own types`, async () => {
        const base = await oracleTypes(k.oraclePrefix);
        const own = await oracleTypes(m.oraclePrefix);
        const btf = await loadModule(k, m);
        const got = summarizeBtf(btf);
        expect(got).toEqual(expectedSummary(own, base, 'little'));
        expect(got.types).toBe(m.types);
      });
    }
  }

  it('6.12 (bpf_kfunc tags in vmlinux and in nf_conntrack) and big-endian copies of it', async () => {
    const k = corpusKernels().find((x) => x.kernelRelease.startsWith('6.12.'));
    expect(k).toBeDefined();
    const kernel = k as NonNullable<typeof k>;
    const vmlinux = await loadKernel(kernel);
    const got = summarizeBtf(vmlinux);
    const types = await oracleTypes(kernel.oraclePrefix);
    expect(got.kfuncs).toBe(types.filter((t) => t.kind === 'DECL_TAG' && t.name === 'bpf_kfunc').length);
    expect(got.kfuncs).toBeGreaterThan(100);
    expect(Object.keys(got.syscalls.by_prefix)).toEqual(['ia32', 'x64']);
    const nf = kernel.modules.find((m) => m.name === 'nf_conntrack');
    expect(nf).toBeDefined();
    const module = await loadModule(kernel, nf as NonNullable<typeof nf>);
    expect(summarizeBtf(module).kfuncs).toBeGreaterThan(0);
    // The same BTF in the other byte order: the same counts, byte_order big.
    const be = Btf.parse(swapBtfEndianness(vmlinux));
    expect(summarizeBtf(be)).toEqual({ ...got, byte_order: 'big' });
  });
});

describe('summarizeBtf on a built BTF', () => {
  function build(littleEndian: boolean): { base: Btf; split: Btf } {
    const b = new BtfBuilder();
    const int = b.int('int', 4, 32, 1);
    b.int('long int', 8, 64, 1);
    const voidp = b.ptr(0);
    const proto = b.funcProto(int, [{ name: 'ctx', type: voidp }]);
    const kfunc = b.func('bpf_task_acquire', proto, 1);
    b.declTag('bpf_kfunc', kfunc);
    const fast = b.func('bpf_get_smp_processor_id', proto, 0);
    b.declTag('bpf_fastcall', fast);
    // A tag on a parameter and a kfunc tag on a struct: neither makes a kfunc.
    b.declTag('bpf_kfunc', fast, 0);
    const st = b.struct('trace_event_raw_sched_switch', 8, [{ name: 'x', type: int, bitsOffset: 0 }]);
    b.declTag('bpf_kfunc', st);
    b.struct(undefined, 4, [{ name: 'y', type: int, bitsOffset: 0 }]);
    b.union('u', 4, [{ name: 'z', type: int, bitsOffset: 0 }]);
    const tpProto = b.funcProto(0, [{ type: voidp }, { name: 'prev', type: int }]);
    b.typedef('btf_trace_sched_switch', b.ptr(tpProto));
    b.typedef('btf_trace_sched_switch', b.ptr(tpProto));
    b.typedef('u32', int);
    b.enum(undefined, 4, [['A', 0], ['B', 1], ['C', 2]]);
    b.enum('named', 4, [['X', 1]]);
    b.enum64(undefined, 8, [['BIG', 1n << 40n], ['BIGGER', 1n << 41n]]);
    b.func('__x64_sys_openat', proto, 1);
    b.func('__x64_sys_read', proto, 1);
    b.func('__ia32_sys_read', proto, 1);
    b.func('__do_sys_read', proto, 0);
    b.func('__se_sys_read', proto, 0);
    b.func('__traceiter_sys_enter', proto, 1);
    b.func('__ia32_compat_sys_read', proto, 1);
    b.func('sys_ni_syscall', proto, 1);
    b.func('ext', proto, 2);
    b.typeTag('rcu', int);
    b.typeTag('rcu', int);
    b.typeTag('user', int);
    const v = b.var('cpu_number', int, 1);
    b.datasec('.data..percpu', 4, [{ type: v, offset: 0, size: 4 }]);
    const base = Btf.parse(b.build({ littleEndian }));
    // A module on it: its own func, kfunc and an anonymous enum; none of the base's counts.
    const s = new BtfBuilder({ startId: base.nextId, strBase: base.strings.length, leadingNul: false });
    const modFunc = s.func('bpf_ct_lookup', proto, 1);
    s.declTag('bpf_kfunc', modFunc);
    s.enum(undefined, 4, [['M', 0], ['N', 1]]);
    s.func('sys_foo', proto, 1);
    const split = Btf.parse(s.build({ littleEndian }), { base });
    return { base, split };
  }

  const zeroKinds = Object.fromEntries(ALL_KINDS.map((k) => [k, 0]));

  for (const littleEndian of [true, false]) {
    it(`counts what was built (${littleEndian ? 'little' : 'big'}-endian)`, () => {
      const { base, split } = build(littleEndian);
      expect(summarizeBtf(base)).toEqual({
        types: 36,
        kinds: {
          ...zeroKinds, INT: 2, PTR: 3, STRUCT: 2, UNION: 1, ENUM: 2, TYPEDEF: 3, FUNC: 11, FUNC_PROTO: 2, VAR: 1, DATASEC: 1,
          DECL_TAG: 4, TYPE_TAG: 3, ENUM64: 1,
        },
        structs: 2,
        unions: 1,
        enums: { total: 3, named: 1, anonymous: 2 },
        enumerators: 6,
        typedefs: 3,
        funcs: { total: 11, static: 3, global: 7, extern: 1 },
        kfuncs: 1,
        fastcall: 1,
        tracepoints: 1,
        trace_events: 1,
        syscalls: { total: 2, by_prefix: { ia32: 1, x64: 2 }, plain: 1 },
        datasecs: [{ name: '.data..percpu', size: 4, vars: 1 }],
        decl_tags: { total: 4, values: { bpf_fastcall: 1, bpf_kfunc: 3 } },
        type_tags: { total: 3, values: { rcu: 2, user: 1 } },
        pointer_size: 8,
        byte_order: littleEndian ? 'little' : 'big',
      });
      const mod = summarizeBtf(split);
      expect(mod).toMatchObject({
        types: 4,
        kinds: { ...zeroKinds, FUNC: 2, DECL_TAG: 1, ENUM: 1 },
        enums: { total: 1, named: 0, anonymous: 1 },
        enumerators: 2,
        funcs: { total: 2, static: 0, global: 2, extern: 0 },
        kfuncs: 1,
        tracepoints: 0,
        // No arch-prefixed syscall: the plain sys_ funcs are the syscalls.
        syscalls: { total: 1, by_prefix: {}, plain: 1 },
        datasecs: [],
        pointer_size: 8,
      });
    });
  }
});
