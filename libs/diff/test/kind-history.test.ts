import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BlobStore, funcInKernel, indexNewShapes, openCatalog, parseKref, prepareKernel, searchNames, typeLayout, writeKernel, type Catalog, type FuncJson,
} from '@btf-atlas/catalog';
import {
  entryDefinitions, enumHistory, enumeratorHistory, funcHistory, syscallHistory, tracepointHistory, typeHistory, type HistoryEntry,
} from '@btf-atlas/diff';
import { BtfBuilder } from '../../btf/test/support/builder.js';
import { thrown } from '../../catalog/test/support/answers.js';
import { syntheticCatalog } from '../../catalog/test/support/synthetic-catalog.js';

// Synthetic kernels whose funcs, enums, tracepoints and syscalls change in known ways from one to the next, and
// the histories that must find each change: a func that loses a parameter, becomes a kfunc, becomes static; an
// enumerator whose value changes, one that moves out of an anonymous enum; a tracepoint that gains an argument;
// syscall wrappers that appear.

const K = {
  v1: 'debian/12/x86_64/6.1.0-1-amd64',
  v2: 'debian/12/x86_64/6.1.0-2-amd64',
  v3: 'debian/12/x86_64/6.1.0-3-amd64',
  arm: 'debian/12/arm64/6.1.0-2-arm64',
} as const;

interface Variant {
  kref: string;
  v: 1 | 2 | 3;
  arch: 'x86' | 'arm64';
  /** Ingest the `modx` module with it. */
  module?: boolean;
}

const KERNELS: Variant[] = [
  { kref: K.v1, v: 1, arch: 'x86', module: true },
  { kref: K.v2, v: 2, arch: 'x86' },
  { kref: K.v3, v: 3, arch: 'x86', module: true },
  { kref: K.arm, v: 2, arch: 'arm64' },
];

const STATIC = 0;
const GLOBAL = 1;

/** A kernel's BTF: every changing thing of the file's header comment, at its version. */
function kernelBtf(k: Variant): { vmlinux: Uint8Array; modx?: Uint8Array } {
  const b = new BtfBuilder();
  const int = b.int('int', 4, 32, 1);
  const long = b.int('long int', 8, 64, 1);
  const uint = b.int('unsigned int', 4, 32);
  const ull = b.int('long long unsigned int', 8, 64);
  const u32 = b.typedef('u32', uint);
  const u64 = b.typedef('u64', ull);
  const task = b.struct('task', 16, [{ name: 'pid', type: int, bitsOffset: 0 }, { name: 'flags', type: u64, bitsOffset: 64 }]);
  const taskPtr = b.ptr(task);
  const voidPtr = b.ptr(0);
  const constChar = b.const(b.int('char', 1, 8, 1));
  const str = b.ptr(constChar);

  // do_work(int a, long b, struct task *t) loses `b` at v2; its `t` is tagged `nonnull`.
  const doWork = b.func('do_work', b.funcProto(int, k.v === 1
    ? [{ name: 'a', type: int }, { name: 'b', type: long }, { name: 't', type: taskPtr }]
    : [{ name: 'a', type: int }, { name: 't', type: taskPtr }]), GLOBAL);
  b.declTag('nonnull', doWork, k.v === 1 ? 2 : 1);
  // helper(int x) becomes static at v3.
  b.func('helper', b.funcProto(int, [{ name: 'x', type: int }]), k.v === 3 ? STATIC : GLOBAL);
  // bpf_new_thing(void *p) becomes a kfunc at v2, and bpf_fastcall too at v3.
  const kf = b.func('bpf_new_thing', b.funcProto(voidPtr, [{ name: 'p', type: voidPtr }]), GLOBAL);
  if (k.v >= 2) b.declTag('bpf_kfunc', kf);
  if (k.v >= 3) b.declTag('bpf_fastcall', kf);
  // rename_me(int old) → (int new); retype(u32 x) → (u64 x); ret_change() returns int, then long.
  b.func('rename_me', b.funcProto(int, [{ name: k.v === 1 ? 'old' : 'new', type: int }]), GLOBAL);
  b.func('retype', b.funcProto(int, [{ name: 'x', type: k.v === 1 ? u32 : u64 }]), GLOBAL);
  b.func('ret_change', b.funcProto(k.v === 1 ? int : long, []), GLOBAL);
  // printk_like(const char *fmt, ...).
  b.func('printk_like', b.funcProto(int, [{ name: 'fmt', type: str }, { type: 0 }]), GLOBAL);

  // enum color: GREEN is 1, then 2 from v2. An anonymous enum holds ANON_A, ANON_B; at v3 ANON_B moves to `moved_to`.
  b.enum('color', 4, [['RED', 0], ['GREEN', k.v === 1 ? 1 : 2]]);
  // enum shade: DARK_OLD is renamed DARK at v3.
  b.enum('shade', 4, [['LIGHT', 0], [k.v === 3 ? 'DARK' : 'DARK_OLD', 1]]);
  b.enum(undefined, 4, k.v === 3 ? [['ANON_A', 1]] : [['ANON_A', 1], ['ANON_B', 2]]);
  if (k.v === 3) b.enum('moved_to', 4, [['ANON_B', 2]]);
  b.enum64('wide', 8, [['WIDE_MAX', (1n << 64n) - 1n], ['WIDE_ONE', 1n]]);

  // Raw tracepoint foo_event: (void *, struct task *), then (void *, struct task *, unsigned int) from v2.
  const tpProto = b.funcProto(0, k.v === 1 ? [{ type: voidPtr }, { type: taskPtr }] : [{ type: voidPtr }, { type: taskPtr }, { type: uint }]);
  b.typedef('btf_trace_foo_event', b.ptr(tpProto));
  b.struct('trace_event_raw_foo_event', 16, [
    { name: 'ent', type: u64, bitsOffset: 0 },
    { name: k.v === 1 ? 'pid' : 'tgid', type: int, bitsOffset: 64 },
  ]);

  // Syscall mysys: __x64_sys_ everywhere on x86, __ia32_sys_ from v2, __x64_compat_sys_ at v3; __arm64_sys_ on arm64.
  const regs = b.ptr(b.const(b.struct('pt_regs', 8, [{ name: 'di', type: ull, bitsOffset: 0 }])));
  const wrapper = b.funcProto(long, [{ name: 'regs', type: regs }]);
  if (k.arch === 'x86') {
    b.func('__x64_sys_mysys', wrapper, GLOBAL);
    if (k.v >= 2) b.func('__ia32_sys_mysys', wrapper, GLOBAL);
    if (k.v === 3) b.func('__x64_compat_sys_mysys', wrapper, GLOBAL);
  } else {
    b.func('__arm64_sys_mysys', wrapper, GLOBAL);
  }
  // fbdev's sys_fillrect is no syscall (it returns void); a plain sys_old returning long is one.
  b.func('sys_fillrect', b.funcProto(0, [{ name: 'p', type: voidPtr }]), GLOBAL);
  const lastId = b.func('sys_old', b.funcProto(long, [{ name: 'x', type: int }]), GLOBAL);
  const vmlinux = b.build();
  if (!k.module) return { vmlinux };
  const m = new BtfBuilder({ startId: lastId + 1, strBase: b.stringSection().length, leadingNul: false });
  m.func('mod_fn', m.funcProto(int, [{ name: 'v', type: k.v === 1 ? int : long }]), GLOBAL);
  return { vmlinux, modx: m.build() };
}

let catalog: Catalog;
let close: (() => void) | undefined;

beforeAll(async () => {
  ({ catalog, close } = await syntheticCatalog('btf-atlas-kinds-', KERNELS.map((k) => {
    const { vmlinux, modx } = kernelBtf(k);
    return { kref: k.kref, vmlinux, modules: modx ? [{ name: 'modx', bytes: modx }] : [] };
  })));
});

afterAll(() => close?.());

const at = <J>(h: { kernels: HistoryEntry<J>[] }, kref: string): J[] => entryDefinitions(h.kernels.find((e) => e.kernel === kref) as HistoryEntry<J>);
const stripStamp = <T extends { from: string; to: string; series: string }>(c: T): Omit<T, 'series'> => {
  const { series: _series, ...rest } = c;
  return rest;
};

describe('func history', () => {
  it('finds a parameter removed from the middle (by name), and keeps the parameter decl tag with its parameter', () => {
    const h = funcHistory(catalog, 'do_work');
    expect(h.func).toBe('do_work');
    expect(h.kernels.map((e) => [e.kernel, e.series, e.status])).toEqual([
      [K.arm, 'debian/12/arm64/arm64', 'present'],
      [K.v1, 'debian/12/x86_64/amd64', 'present'],
      [K.v2, 'debian/12/x86_64/amd64', 'present'],
      [K.v3, 'debian/12/x86_64/amd64', 'present'],
    ]);
    const [v1] = at<FuncJson>(h, K.v1);
    expect(v1).toEqual({
      name: 'do_work', linkage: 'global', kfunc: false, decl_tags: [], return: 'int', return_desc: { kind: 'int', size: 4, signed: true },
      params: [
        { name: 'a', type: 'int', desc: { kind: 'int', size: 4, signed: true } },
        { name: 'b', type: 'long int', desc: { kind: 'int', size: 8, signed: true } },
        { name: 't', type: 'struct task *', desc: { kind: 'ptr', size: 8 }, decl_tags: ['nonnull'] },
      ],
      variadic: false,
    });
    expect(h.changes.map(stripStamp)).toEqual([
      { from: K.v1, to: K.v2, what: 'params', change: 'param_removed', param: 'b', index: 1, before: { name: 'b', type: 'long int', desc: { kind: 'int', size: 8, signed: true } }, after: {} },
    ]);
    expect(h.changes[0].series).toBe('debian/12/x86_64/amd64');
    expect(h.summary).toBe('do_work on x86_64: global int (int, long int, struct task *) at 6.1.0-1-amd64, global int (int, struct task *) from 6.1.0-2-amd64 to 6.1.0-3-amd64; arm64: global int (int, struct task *) at 6.1.0-2-arm64');
    expect(h.timeline.map((l) => [l.arch, l.flavour, l.spans.length])).toEqual([['x86_64', 'amd64', 2], ['arm64', 'arm64', 1]]);
  });

  it('finds a func becoming a kfunc, then gaining another decl tag', () => {
    const h = funcHistory(catalog, 'bpf_new_thing');
    expect(at<FuncJson>(h, K.v1)[0]).toMatchObject({ kfunc: false, decl_tags: [] });
    expect(at<FuncJson>(h, K.v3)[0]).toMatchObject({ kfunc: true, decl_tags: ['bpf_fastcall', 'bpf_kfunc'] });
    expect(h.changes.map((c) => [c.from, c.to, c.what, c.change, c.before, c.after])).toEqual([
      [K.v1, K.v2, 'kfunc', 'kfunc', { kfunc: false }, { kfunc: true }],
      [K.v2, K.v3, 'tags', 'tags', { decl_tags: [] }, { decl_tags: ['bpf_fastcall'] }],
    ]);
    expect(h.summary).toContain('global kfunc void * (void *) from 6.1.0-2-amd64 to 6.1.0-3-amd64');
  });

  it('finds a func becoming static', () => {
    const h = funcHistory(catalog, 'helper');
    expect(h.changes.map((c) => [c.from, c.to, c.what, c.change, c.before, c.after])).toEqual([
      [K.v2, K.v3, 'linkage', 'linkage', { linkage: 'global' }, { linkage: 'static' }],
    ]);
  });

  it('classifies renamed and retyped parameters and a changed return type, with whether the ABI stays', () => {
    expect(funcHistory(catalog, 'rename_me').changes.map((c) => [c.change, c.param, c.index, c.before, c.after])).toEqual([
      ['param_renamed', 'new', 0, { name: 'old' }, { name: 'new' }],
    ]);
    const retype = funcHistory(catalog, 'retype').changes;
    expect(retype).toHaveLength(1);
    expect(retype[0]).toMatchObject({
      what: 'params', change: 'param_type', param: 'x', index: 0, abi: 'changed',
      before: { type: 'u32', desc: { kind: 'typedef', size: 4, signed: false, base: 'int' } },
      after: { type: 'u64', desc: { kind: 'typedef', size: 8, signed: false, base: 'int' } },
    });
    expect(funcHistory(catalog, 'ret_change').changes.map((c) => [c.what, c.change, c.before.type, c.after.type, c.abi])).toEqual([
      ['return', 'return_type', 'int', 'long int', 'changed'],
    ]);
  });

  it('shows varargs and a module func, leaving out kernels without that module', () => {
    expect(funcInKernel(catalog, 'printk_like', K.v2).funcs[0]).toMatchObject({ params: [{ name: 'fmt', type: 'const char *' }], variadic: true });
    const h = funcHistory(catalog, 'mod_fn');
    expect(h.kernels.map((e) => e.kernel)).toEqual([K.v1, K.v3]);
    expect(h.not_ingested).toEqual({ modules: ['modx'], kernels: [K.arm, K.v2] });
    expect(at<FuncJson>(h, K.v1)[0].module).toBe('modx');
    // v1 → v3 are neighbours once v2 is left out.
    expect(h.changes.map((c) => [c.from, c.to, c.change])).toEqual([[K.v1, K.v3, 'param_type']]);
  });

  it('answers one kernel, and names what is unknown with close names', () => {
    expect(funcInKernel(catalog, 'helper', K.v3)).toEqual({
      kernel: K.v3,
      funcs: [{ name: 'helper', linkage: 'static', kfunc: false, decl_tags: [], return: 'int', return_desc: { kind: 'int', size: 4, signed: true }, params: [{ name: 'x', type: 'int', desc: { kind: 'int', size: 4, signed: true } }], variadic: false }],
    });
    const unknown = thrown(() => funcHistory(catalog, 'do_wrk'));
    expect(unknown.code).toBe('FUNC_NOT_FOUND');
    expect(unknown.suggestions[0]).toBe('do_work');
    expect(thrown(() => funcInKernel(catalog, 'mod_fn', K.v2)).code).toBe('FUNC_NOT_FOUND');
    expect(thrown(() => funcInKernel(catalog, 'helper', 'debian/12/x86_64/6.1.0-9-amd64')).code).toBe('KERNEL_NOT_FOUND');
  });
});

describe('enum and enumerator histories', () => {
  it('finds an enumerator whose value changes, with its enum', () => {
    const h = enumeratorHistory(catalog, 'GREEN');
    expect(at(h, K.v1)).toEqual([{ name: 'GREEN', value: 1, enum: 'color', first_enumerator: 'RED', size: 4, signed: false }]);
    expect(h.changes.map(stripStamp)).toEqual([{ from: K.v1, to: K.v2, what: 'value', before: { value: 1 }, after: { value: 2 } }]);
    expect(h.summary).toBe('GREEN on x86_64: 1 (enum color) at 6.1.0-1-amd64, 2 (enum color) from 6.1.0-2-amd64 to 6.1.0-3-amd64; arm64: 2 (enum color) at 6.1.0-2-arm64');
  });

  it('finds enumerators of anonymous enums, and one that moves to a named enum', () => {
    const h = enumeratorHistory(catalog, 'ANON_B');
    expect(at(h, K.v2)).toEqual([{ name: 'ANON_B', value: 2, enum: '(anon)', first_enumerator: 'ANON_A', size: 4, signed: false }]);
    expect(h.changes.map(stripStamp)).toEqual([
      { from: K.v2, to: K.v3, what: 'moved', before: { enum: '(anon)', first_enumerator: 'ANON_A' }, after: { enum: 'moved_to', first_enumerator: 'ANON_B' } },
    ]);
    expect(enumeratorHistory(catalog, 'ANON_A').changes).toEqual([]);
  });

  it('keeps 64-bit values exact (strings beyond 2^53)', () => {
    expect(at(enumeratorHistory(catalog, 'WIDE_MAX'), K.v1)[0].value).toBe('18446744073709551615');
    expect(at(enumHistory(catalog, 'enum wide'), K.v1)[0].values).toEqual([{ name: 'WIDE_MAX', value: '18446744073709551615' }, { name: 'WIDE_ONE', value: 1 }]);
  });

  it('gives the enum history with value changes', () => {
    const h = enumHistory(catalog, 'color');
    expect(h.enum).toBe('color');
    expect(at(h, K.v1)).toEqual([{ name: 'color', size: 4, signed: false, values: [{ name: 'RED', value: 0 }, { name: 'GREEN', value: 1 }] }]);
    expect(h.changes.map(stripStamp)).toEqual([{ from: K.v1, to: K.v2, what: 'value', member: 'GREEN', before: { value: 1 }, after: { value: 2 } }]);
    // A constant removed and one added with its value: a rename, as the kernel diff pairs them.
    expect(enumHistory(catalog, 'shade').changes.map(stripStamp)).toEqual([
      { from: K.v2, to: K.v3, what: 'removed', member: 'DARK_OLD', before: { value: 1 }, after: {}, probable_rename: 'DARK' },
      { from: K.v2, to: K.v3, what: 'added', member: 'DARK', before: {}, after: { value: 1 }, probable_rename: 'DARK_OLD' },
    ]);
    expect(h.summary).toContain('enum color on x86_64: 4 bytes/2 values at 6.1.0-1-amd64, 4 bytes/2 values (other layout) from 6.1.0-2-amd64');
    expect(thrown(() => enumHistory(catalog, 'colour')).suggestions).toContain('color');
    expect(thrown(() => enumeratorHistory(catalog, 'GREN'))).toMatchObject({ code: 'ENUMERATOR_NOT_FOUND', suggestions: expect.arrayContaining(['GREEN']) });
  });

  it('never answers or suggests the empty name of anonymous enums', () => {
    expect(thrown(() => typeHistory(catalog, '')).code).toBe('TYPE_NOT_FOUND');
    expect(thrown(() => typeLayout(catalog, 'enum ', K.v1)).code).toBe('TYPE_NOT_FOUND');
    for (const q of ['ab', 'x', 'co']) {
      expect(thrown(() => typeHistory(catalog, q)).suggestions).not.toContain('');
      expect(thrown(() => enumHistory(catalog, q)).suggestions).not.toContain('');
    }
    expect(catalog.sqlite.prepare("SELECT count(*) FROM names WHERE name = ''").pluck().get()).toBe(0);
    expect(catalog.sqlite.prepare("SELECT count(*) FROM shapes WHERE name = '' AND kind = 'enum'").pluck().get()).toBeGreaterThan(0);
  });
});

describe('tracepoint and syscall histories', () => {
  it('gives the raw prototype (context apart) and the event record, and finds a raw argument and a member added', () => {
    const h = tracepointHistory(catalog, 'btf_trace_foo_event');
    expect(h.tracepoint).toBe('foo_event');
    const [v2] = at(h, K.v2);
    expect(v2.raw).toEqual({
      typedef: 'btf_trace_foo_event',
      context: { name: '', type: 'void *', desc: { kind: 'ptr', size: 8 } },
      params: [{ name: '', type: 'struct task *', desc: { kind: 'ptr', size: 8 } }, { name: '', type: 'unsigned int', desc: { kind: 'int', size: 4, signed: false } }],
      return: 'void',
      return_desc: { kind: 'void', size: 0 },
    });
    expect(v2.event).toEqual({
      struct: 'trace_event_raw_foo_event', size: 16,
      members: [
        { name: 'ent', bits_offset: 0, offset: 0, bitfield_size: 0, size: 8, type: 'u64' },
        { name: 'tgid', bits_offset: 64, offset: 8, bitfield_size: 0, size: 4, type: 'int' },
      ],
    });
    expect(h.changes.map((c) => [c.from, c.to, c.what, c.change, c.param ?? c.member ?? null, c.probable_rename ?? null])).toEqual([
      [K.v1, K.v2, 'raw', 'param_added', '', null],
      [K.v1, K.v2, 'event', 'member_removed', 'pid', 'tgid'],
      [K.v1, K.v2, 'event', 'member_added', 'tgid', 'pid'],
    ]);
    expect(thrown(() => tracepointHistory(catalog, 'foo_evnt'))).toMatchObject({ code: 'TRACEPOINT_NOT_FOUND', suggestions: ['foo_event'] });
  });

  it('lists the wrappers of a syscall per kernel, compat ones apart, and finds those added', () => {
    const h = syscallHistory(catalog, 'mysys');
    expect(h.kernels.map((e) => [e.kernel, entryDefinitions(e).map((d) => [d.funcs, d.compat_funcs, d.prefixes])])).toEqual([
      [K.arm, [[['__arm64_sys_mysys'], [], ['arm64']]]],
      [K.v1, [[['__x64_sys_mysys'], [], ['x64']]]],
      [K.v2, [[['__x64_sys_mysys', '__ia32_sys_mysys'], [], ['x64', 'ia32']]]],
      [K.v3, [[['__x64_sys_mysys', '__ia32_sys_mysys'], ['__x64_compat_sys_mysys'], ['x64', 'ia32']]]],
    ]);
    expect(h.changes.map((c) => [c.from, c.to, c.change, c.func, c.compat])).toEqual([
      [K.v1, K.v2, 'func_added', '__ia32_sys_mysys', false],
      [K.v2, K.v3, 'func_added', '__x64_compat_sys_mysys', true],
    ]);
    expect(syscallHistory(catalog, '__x64_sys_mysys').syscall).toBe('mysys');
    expect(entryDefinitions(syscallHistory(catalog, 'old').kernels[0])[0]).toMatchObject({ funcs: ['sys_old'], prefixes: ['sys'] });
    expect(thrown(() => syscallHistory(catalog, 'fillrect')).code).toBe('SYSCALL_NOT_FOUND');
  });
});

describe('search', () => {
  it('finds names of every kind by prefix, any case, with their kinds and kernel counts', () => {
    const s = searchNames(catalog, 'MYS');
    expect(s.results[0]).toEqual({ name: 'mysys', kinds: ['syscall'], kernels: 4, match: 'prefix' });
    // Then close names (`__x64_sys_mysys` contains the text), never prefix ones after fuzzy ones.
    expect(s.results.slice(1).map((r) => r.match)).toEqual(s.results.slice(1).map(() => 'fuzzy'));
    expect(s.results.find((r) => r.name === '__x64_sys_mysys')).toEqual({ name: '__x64_sys_mysys', kinds: ['func'], kernels: 3, match: 'fuzzy' });
    expect(searchNames(catalog, 'foo_event').results[0]).toEqual({ name: 'foo_event', kinds: ['tracepoint'], kernels: 4, match: 'exact' });
    expect(searchNames(catalog, 'bpf_new', { kinds: ['kfunc'] }).results).toEqual([{ name: 'bpf_new_thing', kinds: ['kfunc'], kernels: 3, match: 'prefix' }]);
    expect(searchNames(catalog, 'bpf_new', { kinds: ['func', 'kfunc'] }).results).toEqual([{ name: 'bpf_new_thing', kinds: ['func', 'kfunc'], kernels: 4, match: 'prefix' }]);
    expect(searchNames(catalog, 'anon_b').results[0]).toEqual({ name: 'ANON_B', kinds: ['enumerator'], kernels: 4, match: 'exact' });
    expect(searchNames(catalog, 'mod_').results[0]).toEqual({ name: 'mod_fn', kinds: ['func'], kernels: 2, match: 'prefix' });
    expect(searchNames(catalog, 'color').results[0]).toEqual({ name: 'color', kinds: ['enum'], kernels: 4, match: 'exact' });
  });

  it('fills up with close names, and honours the limit', () => {
    const s = searchNames(catalog, 'do_wrok', { limit: 3 });
    expect(s.results[0]).toMatchObject({ name: 'do_work', match: 'fuzzy' });
    expect(s.results.length).toBeLessThanOrEqual(3);
    expect(searchNames(catalog, 'r', { limit: 2 }).results.map((r) => r.name)).toEqual(['RED', 'rename_me']);
  });

  it('refuses an empty text, an unknown kind and a bad limit', () => {
    expect(thrown(() => searchNames(catalog, '  ')).code).toBe('BAD_SEARCH');
    expect(thrown(() => searchNames(catalog, 'x', { kinds: ['funcs'] }))).toMatchObject({ code: 'BAD_SEARCH', suggestions: ['func', 'kfunc'] });
    expect(thrown(() => searchNames(catalog, 'x', { limit: 0 })).code).toBe('BAD_SEARCH');
    expect(thrown(() => searchNames(catalog, 'x'.repeat(300))).code).toBe('BAD_SEARCH');
  });
});

describe('the shape index and normalizer version', () => {
  it('indexes each shape once: indexing the shapes again adds nothing', () => {
    const rows = catalog.sqlite.prepare('SELECT id, kind, name, body FROM shapes').all() as Parameters<typeof indexNewShapes>[1] extends Iterable<infer R> ? R[] : never;
    const before = catalog.sqlite.prepare('SELECT (SELECT count(*) FROM names) + (SELECT count(*) FROM enumerators)').pluck().get();
    expect(indexNewShapes(catalog, rows)).toEqual({ names: 0, enumerators: 0 });
    expect(catalog.sqlite.prepare('SELECT (SELECT count(*) FROM names) + (SELECT count(*) FROM enumerators)').pluck().get()).toBe(before);
  });

  it('refuses the new answers on a catalog made by normalizer version 1 (reads of types keep working)', async () => {
    const d = mkdtempSync(join(tmpdir(), 'btf-atlas-kinds-v1-'));
    try {
      const db = join(d, 'atlas.db');
      const c = openCatalog(db);
      const { vmlinux } = kernelBtf(KERNELS[0]);
      writeKernel(c, BlobStore.forCatalog(db), await prepareKernel({ kref: parseKref(K.v1), file: { source: 'v1.btf', bytes: vmlinux } }));
      c.sqlite.prepare("UPDATE catalog_meta SET value = '1' WHERE key = 'normalizer_version'").run();
      for (const fn of [() => funcHistory(c, 'helper'), () => enumeratorHistory(c, 'RED'), () => searchNames(c, 'he'), () => tracepointHistory(c, 'foo_event'), () => syscallHistory(c, 'mysys')]) {
        expect(thrown(fn).code).toBe('CATALOG_NEEDS_REINDEX');
      }
      expect(typeHistory(c, 'task').kernels).toHaveLength(1);
      c.close();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
