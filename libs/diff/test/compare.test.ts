import { describe, expect, it } from 'vitest';
import { spelled, type StoredMember, type TypeRef } from '@btf-atlas/catalog';
import {
  compareEnumValues, compareMembers, coreFieldsCompatible, ctypeOf, diffShapes, pairMembers, probableRename, renameScore, resolveTypedefs, sameCType,
  summarize, type DiffChange, type ShapeDef, type TypeContext,
} from '@btf-atlas/diff';

// Type references as the catalog stores them (libs/btf type-ref.ts), built by hand.
const int = (name: string, size: number, signed: boolean, char = false): TypeRef => ['i', name, size, (signed ? 1 : 0) | (char ? 2 : 0)];
const td = (name: string): TypeRef => ['t', name];
const st = (name: string): TypeRef => ['s', name];
const ptr = (to: TypeRef): TypeRef => ['p', to];
const arr = (n: number, of: TypeRef): TypeRef => ['a', n, of];
const fn = (ret: TypeRef, params: TypeRef[], variadic = false): TypeRef => ['fn', ret, params, variadic ? 1 : 0];
const VOID: TypeRef = ['v'];
const INT = int('int', 4, true);
const CHAR = int('char', 1, true, true);

/** The references of the types these tests use, by the spelling each derives (checked below). */
const TYPES: Record<string, TypeRef> = {
  void: VOID,
  int: INT,
  char: CHAR,
  bool: td('bool'),
  'unsigned int': int('unsigned int', 4, false),
  'unsigned char': int('unsigned char', 1, false, true),
  'short unsigned int': int('short unsigned int', 2, false),
  'long int': int('long int', 8, true),
  'long unsigned int': int('long unsigned int', 8, false),
  'long long int': int('long long int', 8, true),
  'long long unsigned int': int('long long unsigned int', 8, false),
  'volatile long int': ['q', 'volatile', int('long int', 8, true)],
  u8: td('u8'), u16: td('u16'), u32: td('u32'), u64: td('u64'), s64: td('s64'), size_t: td('size_t'), __kernel_long_t: td('__kernel_long_t'),
  'int *': ptr(INT),
  'void *': ptr(VOID),
  'const char *': ptr(['q', 'const', CHAR]),
  'char[16]': arr(16, CHAR),
  'char[8]': arr(8, CHAR),
  'u64[1]': arr(1, td('u64')),
  'u64[2]': arr(2, td('u64')),
  'enum sk_tag': ['e', 'sk_tag', 4, 0],
  'struct task_struct *': ptr(st('task_struct')),
  'struct cred *': ptr(st('cred')),
  'struct sock *': ptr(st('sock')),
  'struct msghdr *': ptr(st('msghdr')),
  'struct padata_instance *': ptr(st('padata_instance')),
  'struct page *': ptr(st('page')),
  'struct folio *': ptr(st('folio')),
  'struct buffer_head *': ptr(st('buffer_head')),
  'void (*)(int)': ptr(fn(VOID, [INT])),
  'int (*)(int)': ptr(fn(INT, [INT])),
};
const ty = (spelling: string): TypeRef => {
  const r = TYPES[spelling];
  if (r === undefined) throw new Error(`no reference for ${spelling} in TYPES`);
  return r;
};

const m = (name: string, bitsOffset: number, size: number, type: string, bitfieldSize = 0): StoredMember => [name, bitsOffset, bitfieldSize, size, ty(type), 0];
const struct = (name: string, size: number, members: StoredMember[], kind: 'struct' | 'union' = 'struct'): ShapeDef => ({ kind, name, size, body: { members } });
const typedef = (name: string, type: string, size: number): ShapeDef => ({ kind: 'typedef', name, size, body: { type: ty(type) } });
const enumDef = (name: string, values: [string, string][], size = 4): ShapeDef => ({ kind: 'enum', name, size, body: { signed: false, values } });
const func = (name: string, ret: string, params: [string, string][], variadic = false): ShapeDef =>
  ({ kind: 'func', name, size: 0, body: { ret: ty(ret), params: params.map(([n, t]) => [n, ty(t)]), variadic } as never });

/** The changes without their reasons, as compact tuples. */
const brief = (changes: DiffChange[]): string[] =>
  changes.map((c) => `${c.kind} ${c.name}${c.member !== undefined ? `.${c.member}` : ''} ${c.change} ${c.severity}${c.probable_rename ? ` ~${c.probable_rename}` : ''}`);

const BASE_TYPEDEFS = [typedef('u8', 'unsigned char', 1), typedef('u16', 'short unsigned int', 2), typedef('u32', 'unsigned int', 4), typedef('u64', 'long long unsigned int', 8), typedef('__kernel_long_t', 'long int', 8)];

describe('type references', () => {
  it('read as libbpf compares types: qualifiers and type tags dropped, ints by size and encoding', () => {
    expect(ctypeOf(ptr(['q', 'const', st('cred')]))).toEqual({ t: 'ptr', to: { t: 'struct', name: 'cred' } });
    expect(ctypeOf(arr(48, arr(2, CHAR)))).toEqual({ t: 'array', n: 48, of: { t: 'array', n: 2, of: { t: 'int', name: 'char', signed: true, bytes: 1, char: true } } });
    expect(ctypeOf(ptr(fn(VOID, [ptr(st('sk_buff'))])))).toEqual({ t: 'ptr', to: { t: 'func', ret: { t: 'void' }, params: [{ t: 'ptr', to: { t: 'struct', name: 'sk_buff' } }], variadic: false } });
    expect(ctypeOf(ptr(['g', 'rcu', st('task_struct')]))).toEqual({ t: 'ptr', to: { t: 'struct', name: 'task_struct' } });
    expect(ctypeOf(['w', 'union', 'u'])).toEqual({ t: 'union', name: 'u' });
    expect(ctypeOf(['e', '', 8, 1])).toEqual({ t: 'enum', name: '', bytes: 8, signed: true });
    expect(ctypeOf(td('u16'))).toEqual({ t: 'named', name: 'u16' });
  });

  it('resolves each typedef once: a graph of prototypes of typedefs is not written out as a tree', () => {
    // t_i is a pointer to `void (t_{i-1}, t_{i-1})`: as a tree, t_24 holds 2^24 prototypes.
    const chain = (p: string, n: number): Map<string, TypeRef> => {
      const m = new Map<string, TypeRef>([[`${p}0`, ptr(fn(VOID, []))]]);
      for (let i = 1; i <= n; i++) m.set(`${p}${i}`, ptr(fn(VOID, [td(`${p}${i - 1}`), td(`${p}${i - 1}`)])));
      return m;
    };
    const targets = new Map([...chain('t', 24), ...chain('u', 24)]);
    let lookups = 0;
    const env = { typedefs: (name: string) => (lookups++, targets.get(name)), module: '' };
    const t = resolveTypedefs(ctypeOf(td('t24')), env, true);
    const u = resolveTypedefs(ctypeOf(td('u24')), env, true);
    expect(lookups).toBe(50);
    expect(sameCType(t, u)).toBe(true);
    expect(sameCType(t, resolveTypedefs(ctypeOf(td('t23')), env, true))).toBe(false);
    // A typedef met again inside its own definition stays a name.
    const loop = new Map<string, TypeRef>([['cb', ptr(fn(VOID, [td('cb')]))]]);
    expect(resolveTypedefs(ctypeOf(td('cb')), { typedefs: (name: string) => loop.get(name), module: '' }, true))
      .toEqual({ t: 'ptr', to: { t: 'func', ret: { t: 'void' }, params: [{ t: 'named', name: 'cb' }], variadic: false } });
  });

  it('refuses C spellings (catalogs made before the type graph) with CATALOG_NEEDS_REINDEX', () => {
    expect(() => ctypeOf('struct cred *')).toThrow(expect.objectContaining({ code: 'CATALOG_NEEDS_REINDEX' }));
  });

  it('follows libbpf bpf_core_fields_are_compat', () => {
    const c = (a: TypeRef, b: TypeRef): boolean => coreFieldsCompatible(ctypeOf(a), ctypeOf(b));
    const e = (name: string): TypeRef => ['e', name, 4, 0];
    expect(c(st('foo'), ['u', 'bar'])).toBe(true);
    expect(c(ptr(st('foo')), ptr(st('bar')))).toBe(true);
    expect(c(INT, ty('long unsigned int'))).toBe(true);
    expect(c(INT, e('foo'))).toBe(false);
    expect(c(e('foo'), e('foo'))).toBe(true);
    expect(c(e('foo'), e(''))).toBe(true);
    expect(c(e('foo'), e('bar'))).toBe(false);
    expect(c(arr(4, CHAR), arr(2, INT))).toBe(true);
    expect(c(INT, ptr(INT))).toBe(false);
    expect(c(arr(2, INT), ptr(INT))).toBe(false);
  });
});

describe('struct and union changes', () => {
  const before = [
    ...BASE_TYPEDEFS,
    struct('pt_regs', 24, [m('di', 0, 8, 'long unsigned int'), m('cs', 64, 8, 'long unsigned int'), m('ss', 128, 8, 'long unsigned int')]),
    struct('gone', 4, [m('x', 0, 4, 'int')]),
    struct('sock', 32, [
      m('old_name', 0, 4, 'u32'),
      m('flags', 32, 1, 'u8'),
      m('bits', 40, 1, 'u8', 3),
      m('wide', 48, 2, 'u16', 4),
      m('plain', 64, 2, 'u16'),
      m('owner', 128, 8, 'struct task_struct *'),
      m('when', 192, 8, 'long int'),
      m('count', 256, 4, 'int'),
      m('tag', 288, 4, 'enum sk_tag'),
      m('buf', 320, 16, 'char[16]'),
      m('pad', 448, 8, 'u64[1]'),
    ]),
    struct('u', 8, [m('a', 0, 8, 'u64'), m('b', 0, 4, 'u32')], 'union'),
  ];
  const after = [
    ...BASE_TYPEDEFS,
    struct('pt_regs', 32, [m('di', 0, 8, 'long unsigned int'), m('cs', 64, 2, 'u16'), m('csx', 64, 8, 'long unsigned int'), m('ss', 192, 8, 'long unsigned int')]),
    struct('fresh', 8, [m('y', 0, 8, 'long int')]),
    struct('sock', 40, [
      m('new_name', 0, 4, 'unsigned int'),
      m('flags', 32, 8, 'long unsigned int'),
      m('bits', 40, 1, 'u8', 5),
      m('wide', 48, 2, 'u16'),
      m('plain', 64, 4, 'u32', 16),
      m('owner', 128, 8, 'struct cred *'),
      m('when', 192, 8, '__kernel_long_t'),
      m('count', 256, 4, 'unsigned int'),
      m('tag', 288, 4, 'int'),
      m('buf', 320, 8, 'char[8]'),
      m('pad', 448, 16, 'u64[2]'),
    ]),
    struct('u', 8, [m('a', 0, 8, 'u64'), m('b', 0, 4, 'u32'), m('c', 0, 2, 'u16')], 'union'),
  ];

  it('classifies each change as the contract and libbpf CO-RE say', () => {
    const { changes, ambiguous } = diffShapes(before, after);
    expect(ambiguous).toEqual([]);
    expect(brief(changes)).toEqual([
      'struct fresh added additive',
      'struct gone removed breaking',
      'struct pt_regs size layout',
      'struct pt_regs.cs type breaking', // long unsigned int → u16: size 8 → 2
      'struct pt_regs.csx added additive',
      'struct pt_regs.ss offset layout',
      'struct sock size layout',
      'struct sock.old_name removed breaking ~new_name', // same place, u32 ≡ unsigned int
      'struct sock.new_name added additive ~old_name',
      'struct sock.flags type breaking', // u8 → long unsigned int
      'struct sock.bits bitfield layout', // 3 → 5 bits: BPF_CORE_READ_BITFIELD copes
      'struct sock.wide bitfield layout', // no longer a bitfield
      'struct sock.plain bitfield breaking', // became a bitfield
      'struct sock.plain type breaking', // u16 → u32
      'struct sock.owner type layout', // any two pointers are compatible
      'struct sock.when type layout', // same type after typedefs
      'struct sock.count type breaking', // signedness
      'struct sock.tag type breaking', // enum → int: kinds differ for CO-RE
      'struct sock.buf type breaking', // array shrank
      'struct sock.pad type layout', // array grew
      'union u.c added additive',
    ]);
    expect(summarize(changes)).toEqual({ breaking: 9, layout: 8, additive: 4 });
  });

  it('gives before/after in the contract shape, with the contract keys first', () => {
    const { changes } = diffShapes(before, after);
    const ss = changes.find((c) => c.name === 'pt_regs' && c.member === 'ss')!;
    expect(ss).toMatchObject({ kind: 'struct', name: 'pt_regs', member: 'ss', change: 'offset', before: { offset: 16, bits_offset: 128 }, after: { offset: 24, bits_offset: 192 }, severity: 'layout' });
    expect(Object.keys(ss).slice(0, 7)).toEqual(['kind', 'name', 'member', 'change', 'before', 'after', 'severity']);
    const added = changes.find((c) => c.member === 'csx')!;
    expect(added.before).toEqual({});
    expect(added.after).toEqual({ offset: 8, bits_offset: 64, bitfield_size: 0, size: 8, type: 'long unsigned int' });
    const rename = changes.find((c) => c.member === 'old_name')!;
    expect(Object.keys(rename).slice(0, 8)).toEqual(['kind', 'name', 'member', 'change', 'before', 'after', 'severity', 'probable_rename']);
    expect(changes.find((c) => c.name === 'gone')).toMatchObject({ change: 'removed', before: { size: 4 }, after: {} });
  });

  it('is empty for identical lists and lists names defined twice in both kernels as ambiguous', () => {
    expect(diffShapes(before, before)).toEqual({ changes: [], ambiguous: [] });
    const twice = [struct('dup', 4, [m('a', 0, 4, 'int')]), struct('dup', 8, [m('a', 0, 8, 'long int')])];
    const r = diffShapes([struct('dup', 4, [m('a', 0, 4, 'int')])], twice);
    expect(r.changes).toEqual([]);
    expect(r.ambiguous).toEqual([{ kind: 'struct', name: 'dup', old_count: 1, new_count: 2 }]);
    const both = diffShapes(twice, [twice[0], struct('dup', 8, [m('b', 0, 8, 'long int')])]);
    expect(both).toEqual({ changes: [], ambiguous: [{ kind: 'struct', name: 'dup', old_count: 2, new_count: 2 }] });
  });

  it('a name with several definitions that appears or vanishes is added or removed, with its count', () => {
    const twice = [struct('dup', 8, [m('a', 0, 8, 'long int')]), struct('dup', 4, [m('a', 0, 4, 'int')])];
    const gone = diffShapes(twice, []);
    expect(gone.ambiguous).toEqual([]);
    expect(brief(gone.changes)).toEqual(['struct dup removed breaking']);
    // The smallest definition first, then each definition's state.
    expect(gone.changes[0]).toMatchObject({ before: { size: 4, count: 2, definitions: [{ size: 4 }, { size: 8 }] }, after: {} });
    expect(summarize(gone.changes)).toEqual({ breaking: 1, layout: 0, additive: 0 });
    // Identical copies count too (BTF may define a name twice, identically).
    const copies = diffShapes([], [{ ...struct('dup', 4, []), copies: 2 }]);
    expect(copies.ambiguous).toEqual([]);
    expect(copies.changes).toEqual([{ kind: 'struct', name: 'dup', change: 'added', before: {}, after: { size: 4, count: 2, definitions: [{ size: 4 }, { size: 4 }] }, severity: 'additive', reason: 'new type' }]);
    // Other kinds alike: a function defined twice (two static functions) that vanishes is breaking.
    const funcs = diffShapes([func('helper', 'int', []), func('helper', 'void', [['x', 'int']])], []);
    expect(brief(funcs.changes)).toEqual(['func helper removed breaking']);
    expect(funcs.changes[0].before).toMatchObject({ count: 2, definitions: [{ ret: 'int' }, { ret: 'void' }] });
  });

  it('keys module types by module', () => {
    const r = diffShapes([{ ...struct('ext4_sb_info', 8, []), module: 'ext4' }], [{ ...struct('ext4_sb_info', 16, []), module: 'ext4' }]);
    expect(r.changes).toHaveLength(1);
    expect(r.changes[0]).toMatchObject({ kind: 'struct', name: 'ext4_sb_info', module: 'ext4', change: 'size' });
  });

  it('does not pair a rename across incompatible types or places', () => {
    const r = diffShapes(
      [struct('s', 8, [m('a', 0, 4, 'int'), m('b', 32, 4, 'int')])],
      [struct('s', 8, [m('c', 0, 4, 'int *'), m('d', 0, 8, 'long int')])],
    );
    expect(r.changes.filter((c) => c.probable_rename)).toEqual([]);
  });
});

describe('enum, typedef and func changes', () => {
  it('enum constants: removed is breaking, new value is layout, new constant additive, same value renamed', () => {
    const r = diffShapes(
      [enumDef('cpuhp_state', [['CPUHP_OFFLINE', '0'], ['CPUHP_PADATA_DEAD', '1'], ['CPUHP_ONLINE', '2'], ['OLD', '7']])],
      [enumDef('cpuhp_state', [['CPUHP_OFFLINE', '0'], ['CPUHP_ONLINE', '1'], ['NEW', '7'], ['CPUHP_EXTRA', '9']], 8)],
    );
    expect(brief(r.changes)).toEqual([
      'enum cpuhp_state size layout',
      'enum cpuhp_state.CPUHP_PADATA_DEAD removed breaking',
      'enum cpuhp_state.OLD removed breaking ~NEW',
      'enum cpuhp_state.CPUHP_ONLINE value layout',
      'enum cpuhp_state.NEW added additive ~OLD',
      'enum cpuhp_state.CPUHP_EXTRA added additive',
    ]);
    expect(r.changes[3]).toMatchObject({ before: { value: '2' }, after: { value: '1' } });
    expect(brief(diffShapes([enumDef('e', [])], []).changes)).toEqual(['enum e removed breaking']);
  });

  it('typedef targets: spelling only is layout, a size or kind change is breaking', () => {
    const r = diffShapes(
      [...BASE_TYPEDEFS, typedef('pid_t', 'int', 4), typedef('flags_t', 'u8', 1), typedef('cb_t', 'void (*)(int)', 8), typedef('ktime_t', 's64', 8), typedef('s64', 'long long int', 8), typedef('gone_t', 'int', 4)],
      [...BASE_TYPEDEFS, typedef('pid_t', 'int', 4), typedef('flags_t', 'long unsigned int', 8), typedef('cb_t', 'int (*)(int)', 8), typedef('ktime_t', 'long long int', 8), typedef('s64', 'long long int', 8), typedef('new_t', 'int', 4)],
    );
    expect(brief(r.changes)).toEqual([
      'typedef cb_t type layout',
      'typedef flags_t type breaking',
      'typedef gone_t removed breaking',
      'typedef ktime_t type layout',
      'typedef new_t added additive',
    ]);
    expect(r.changes[1]).toMatchObject({ before: { type: 'u8', size: 1 }, after: { type: 'long unsigned int', size: 8 } });
  });

  it('func signatures: parameters added or retyped are breaking; names and typedef spellings are layout', () => {
    const r = diffShapes(
      [
        ...BASE_TYPEDEFS,
        func('tcp_sendmsg', 'int', [['sk', 'struct sock *'], ['msg', 'struct msghdr *'], ['size', 'size_t']]),
        func('padata_replace', 'int', [['pinst', 'struct padata_instance *']]),
        func('retyped', 'void', [['page', 'struct page *']]),
        func('renamed_param', 'void', [['buf', 'struct buffer_head *']]),
        func('to_ratio', 'long long unsigned int', [['period', 'u64']]),
        func('ret_changed', 'int', []),
        func('printk', 'int', [['fmt', 'const char *']], true),
        func('gone', 'void', []),
        typedef('size_t', 'long unsigned int', 8),
      ],
      [
        ...BASE_TYPEDEFS,
        func('tcp_sendmsg', 'int', [['sk', 'struct sock *'], ['msg', 'struct msghdr *'], ['size', 'size_t']]),
        func('padata_replace', 'int', [['pinst', 'struct padata_instance *'], ['offlining_cpu', 'int']]),
        func('retyped', 'void', [['folio', 'struct folio *']]),
        func('renamed_param', 'void', [['bh', 'struct buffer_head *']]),
        func('to_ratio', 'u64', [['period', 'long long unsigned int']]),
        func('ret_changed', 'bool', []),
        func('printk', 'int', [['fmt', 'const char *']], false),
        func('fresh', 'void', []),
        typedef('size_t', 'long unsigned int', 8),
      ],
    );
    expect(brief(r.changes)).toEqual([
      'func fresh added additive',
      'func gone removed breaking',
      'func padata_replace signature breaking',
      'func printk signature breaking',
      'func renamed_param signature layout',
      'func ret_changed signature breaking',
      'func retyped signature breaking',
      'func to_ratio signature layout',
    ]);
    expect(r.changes[2]).toMatchObject({
      before: { ret: 'int', params: [{ name: 'pinst', type: 'struct padata_instance *' }], variadic: false },
      after: { params: [{ name: 'pinst' }, { name: 'offlining_cpu', type: 'int' }] },
    });
  });

  it('func linkage, kfunc status and other decl tags change apart from the signature', () => {
    const f = (name: string, linkage: 'static' | 'global' | 'extern', tags: string[], paramTags?: string[][]): ShapeDef => ({
      kind: 'func', name, size: 0,
      body: { ret: INT, params: [['p', ty('void *')]], variadic: false, retDesc: null, paramDescs: [null], linkage, ...(tags.length ? { tags } : {}), ...(paramTags ? { paramTags } : {}) } as never,
    });
    const r = diffShapes(
      [f('became_static', 'global', []), f('kf_new', 'global', []), f('kf_gone', 'global', ['bpf_kfunc']), f('fast', 'global', ['bpf_kfunc']), f('nullable', 'global', ['bpf_kfunc'], [['__nullable']]), f('same', 'static', ['bpf_fastcall'])],
      [f('became_static', 'static', []), f('kf_new', 'global', ['bpf_kfunc']), f('kf_gone', 'global', []), f('fast', 'global', ['bpf_fastcall', 'bpf_kfunc']), f('nullable', 'global', ['bpf_kfunc']), f('same', 'static', ['bpf_fastcall'])],
    );
    expect(brief(r.changes)).toEqual([
      'func became_static linkage layout',
      'func fast tags additive',
      'func kf_gone kfunc breaking',
      'func kf_new kfunc additive',
      'func nullable tags layout',
    ]);
    expect(r.changes[0]).toMatchObject({ before: { linkage: 'global' }, after: { linkage: 'static' } });
    expect(r.changes[1]).toMatchObject({ before: { decl_tags: [] }, after: { decl_tags: ['bpf_fastcall'] }, reason: expect.stringMatching(/gained bpf_fastcall/) });
    expect(r.changes[4]).toMatchObject({ before: { decl_tags: [], param_tags: [['__nullable']] }, after: { decl_tags: [] } });
    // A prototype change and a linkage change of one func are two changes.
    const both = diffShapes([f('g', 'global', [])], [{ ...f('g', 'static', []), body: { ...(f('g', 'static', []).body as object), ret: ty('long int') } } as ShapeDef]);
    expect(brief(both.changes)).toEqual(['func g signature breaking', 'func g linkage layout']);
  });

  it('matches long and long long by size and signedness: the same on 64-bit kernels, not on 32-bit ones', () => {
    const before = [func('f', 'long unsigned int', [])];
    const after = [func('f', 'long long unsigned int', [])];
    expect(diffShapes(before, after).changes[0].severity).toBe('layout');
    const long32: ShapeDef = { kind: 'func', name: 'f', size: 0, body: { ret: int('long unsigned int', 4, false), params: [], variadic: false } as never };
    expect(diffShapes([long32], after).changes[0]).toMatchObject({ severity: 'breaking', reason: 'return type changed: long unsigned int → long long unsigned int' });
  });

  it('each reference here spells as its key', () => {
    for (const [spelling, ref] of Object.entries(TYPES)) expect(spelled(ref)).toBe(spelling);
  });
});

describe('one rename rule, for the kernel diff and every history', () => {
  /** Both kernels' typedefs: BASE_TYPEDEFS. */
  const targets = new Map(BASE_TYPEDEFS.map((d) => [d.name, (d.body as { type: TypeRef }).type]));
  const ctx: TypeContext = { lookups: { before: (name) => targets.get(name), after: (name) => targets.get(name) }, module: '' };

  it('scores the same place by type: same type 3, CO-RE-compatible 2, related integer names of another size 1', () => {
    expect(renameScore(m('a', 64, 8, 'struct sock *'), m('b', 64, 8, 'struct sock *'), ctx)).toBe(3);
    // Typedefs resolved in each kernel: u32 is unsigned int.
    expect(renameScore(m('s_flags', 64, 4, 'unsigned int'), m('s_mount_flags', 64, 4, 'u32'), ctx)).toBe(3);
    expect(renameScore(m('flags', 64, 4, 'unsigned int'), m('__flags', 64, 4, 'u32'), ctx)).toBe(3.5);
    // Any two pointers are compatible for CO-RE (struct page * -> struct folio *).
    expect(renameScore(m('page', 64, 8, 'struct page *'), m('folio', 64, 8, 'struct folio *'), ctx)).toBe(2);
    // Linux 5.14: volatile long int state -> unsigned int __state.
    expect(renameScore(m('state', 128, 8, 'volatile long int'), m('__state', 128, 4, 'unsigned int'), ctx)).toBe(1);
    expect(renameScore(m('state', 128, 8, 'long int'), m('flags', 128, 4, 'unsigned int'), ctx)).toBe(0);
    expect(renameScore(m('a', 64, 8, 'long int'), m('b', 72, 8, 'long int'), ctx)).toBe(0);
    // Signedness changed: CO-RE reads it wrong, and the names are unrelated.
    expect(renameScore(m('a', 64, 4, 'int'), m('b', 64, 4, 'unsigned int'), ctx)).toBe(0);
    expect(renameScore(m('a', 64, 4, 'int'), m('b', 64, 8, 'int *'), ctx)).toBe(0);
    // Spellings (a catalog made before the type graph): only the same spelling counts.
    expect(renameScore(['a', 0, 0, 4, 'u32', 0], ['b', 0, 0, 4, 'u32', 0], ctx)).toBe(3);
    expect(renameScore(['a', 0, 0, 4, 'unsigned int', 0], ['b', 0, 0, 4, 'u32', 0], ctx)).toBe(0);
  });

  it('takes the best candidate', () => {
    const state = m('state', 128, 8, 'long int');
    expect(probableRename(state, [m('x', 128, 8, 'struct sock *'), m('__state', 128, 4, 'unsigned int')], ctx)?.[0]).toBe('__state');
    expect(probableRename(state, [m('x', 192, 8, 'long int')], ctx)).toBeUndefined();
    expect(probableRename(m('flags', 0, 4, 'u32'), [m('other', 0, 4, 'int'), m('__flags', 0, 4, 'unsigned int')], ctx)?.[0]).toBe('__flags');
  });

  it('pairs members by name (a repeated name by occurrence) and renames once each', () => {
    const p = pairMembers(
      [m('', 0, 4, 'int', 3), m('a', 32, 4, 'u32'), m('', 64, 4, 'int', 3), m('b', 96, 4, 'u32')],
      [m('', 0, 4, 'int', 3), m('c', 32, 4, 'u32'), m('d', 96, 4, 'u32'), m('e', 96, 4, 'u32')],
      () => ctx,
    );
    expect(p.removed).toEqual(['a', '#2', 'b']);
    expect([...p.before.keys()].filter((k) => p.after.has(k))).toEqual(['']);
    expect(p.added).toEqual(['c', 'd', 'e']);
    expect([...p.renames]).toEqual([['a', 'c'], ['c', 'a'], ['b', 'd'], ['d', 'b']]);
  });

  it('gives the histories what the diff finds: the same renames, with spelled types', () => {
    const x = [m('state', 128, 8, 'volatile long int'), m('old_name', 192, 4, 'u32')];
    const y = [m('__state', 128, 4, 'unsigned int'), m('new_name', 192, 4, 'unsigned int')];
    const history = compareMembers(x, y, () => ctx);
    expect(history.map((c) => [c.what, c.member, c.probable_rename])).toEqual([
      ['removed', 'state', '__state'], ['removed', 'old_name', 'new_name'], ['added', '__state', 'state'], ['added', 'new_name', 'old_name'],
    ]);
    expect(history[0].before).toEqual({ offset: 16, bits_offset: 128, bitfield_size: 0, size: 8, type: 'volatile long int' });
    const diff = diffShapes([...BASE_TYPEDEFS, struct('t', 32, x)], [...BASE_TYPEDEFS, struct('t', 32, y)]);
    expect(brief(diff.changes)).toEqual([
      'struct t.state removed breaking ~__state', 'struct t.old_name removed breaking ~new_name',
      'struct t.__state added additive ~state', 'struct t.new_name added additive ~old_name',
    ]);
  });

  it('pairs enum constants by name, and a removed constant with an added one of its value', () => {
    const changes = compareEnumValues([{ name: 'A', value: '0' }, { name: 'B', value: '1' }], [{ name: 'A', value: '2' }, { name: 'B2', value: '1' }]);
    expect(changes).toEqual([
      { what: 'value', member: 'A', before: { value: '0' }, after: { value: '2' } },
      { what: 'removed', member: 'B', before: { value: '1' }, after: {}, probable_rename: 'B2' },
      { what: 'added', member: 'B2', before: {}, after: { value: '1' }, probable_rename: 'B' },
    ]);
  });
});
