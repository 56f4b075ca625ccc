import { describe, expect, it } from 'vitest';
import {
  Btf,
  BtfError,
  detectPointerSize,
  flattenMembers,
  memberPaths,
  pointerSize,
  resolvedSize,
  spellType,
  stripModifiers,
} from '@btf-atlas/btf';
import { corpusKernels, corpusOracle, loadKernel, loadModule, type CorpusKernel } from './support/corpus.js';

// Format (b) of the corpus README: the flattened members of every named struct/union, with C type spellings, as
// `btf_oracle.py fields` wrote them. Our flattenMembers/spellType must give exactly the same for every kernel and
// module of the corpus.

interface OracleMember {
  name: string;
  bits_offset: number;
  byte_offset: number;
  bitfield_size: number;
  type_id: number;
  type: string;
  anon_depth: number;
}

interface OracleStruct {
  id: number;
  kind: 'struct' | 'union';
  name: string;
  size: number;
  vlen: number;
  members: OracleMember[];
}

interface OracleFields {
  format: string;
  first_type_id: number;
  types: number;
  structs: OracleStruct[];
}

async function loadFieldsOracle(prefix: string): Promise<OracleFields> {
  return JSON.parse(Buffer.from(await corpusOracle(`${prefix}.fields.json.xz`)).toString('utf8')) as OracleFields;
}

/** The oracle's view of our output for one struct. */
function ourStruct(btf: Btf, id: number): OracleStruct {
  const t = btf.type(id);
  if (t.kind !== 'STRUCT' && t.kind !== 'UNION') throw new Error(`type ${id} is not a struct`);
  return {
    id,
    kind: t.kind === 'STRUCT' ? 'struct' : 'union',
    name: t.name,
    size: resolvedSize(btf, id),
    vlen: t.members.length,
    members: flattenMembers(btf, id).map((m) => ({
      name: m.name,
      bits_offset: m.bitsOffset,
      byte_offset: m.byteOffset,
      bitfield_size: m.bitfieldSize,
      type_id: m.typeId,
      type: m.type,
      anon_depth: m.anonDepth,
    })),
  };
}

/** Ids of the named structs/unions a blob defines (not its base), in id order. */
function namedComposites(btf: Btf): number[] {
  const ids: number[] = [];
  for (let id = btf.startId; id < btf.nextId; id++) {
    const k = btf.kindOf(id);
    if ((k === 4 || k === 5) && btf.type(id).name !== '') ids.push(id);
  }
  return ids;
}

const MEMBER_FIELDS = ['name', 'bits_offset', 'byte_offset', 'bitfield_size', 'type_id', 'type', 'anon_depth'] as const;
const STRUCT_FIELDS = ['id', 'kind', 'name', 'size', 'vlen'] as const;

/** Compares every struct with the oracle; returns the first difference, described, or undefined. */
function firstFieldsDifference(label: string, btf: Btf, oracle: OracleFields): string | undefined {
  const ids = namedComposites(btf);
  const n = Math.min(ids.length, oracle.structs.length);
  for (let i = 0; i < n; i++) {
    const want = oracle.structs[i];
    let got: OracleStruct;
    try {
      got = ourStruct(btf, ids[i]);
    } catch (err) {
      return `${label}: struct #${i} [${ids[i]}] ${btf.nameOf(ids[i])}: threw ${(err as Error).message}`;
    }
    const where = `${label}: ${want.kind} ${want.name} [${want.id}]`;
    for (const f of STRUCT_FIELDS) {
      if (got[f] !== want[f]) return `${where}: ${f}: got ${JSON.stringify(got[f])}, want ${JSON.stringify(want[f])}`;
    }
    const m = Math.min(got.members.length, want.members.length);
    for (let j = 0; j < m; j++) {
      for (const f of MEMBER_FIELDS) {
        const a = got.members[j][f];
        const b = want.members[j][f];
        if (a !== b) return `${where}: member #${j} ${want.members[j].name}: ${f}: got ${JSON.stringify(a)}, want ${JSON.stringify(b)}`;
      }
    }
    if (got.members.length !== want.members.length) {
      const extra = got.members.length > want.members.length ? `extra ${got.members[m].name}` : `missing ${want.members[m].name}`;
      return `${where}: ${got.members.length} members, want ${want.members.length} (${extra})`;
    }
  }
  if (ids.length !== oracle.structs.length) {
    const extra = ids.length > n ? `extra [${ids[n]}] ${btf.nameOf(ids[n])}` : `missing [${oracle.structs[n].id}] ${oracle.structs[n].name}`;
    return `${label}: ${ids.length} named structs/unions, want ${oracle.structs.length} (${extra})`;
  }
  return undefined;
}

const kernels = corpusKernels();

describe('flattenMembers and spellType equal the fields oracle (format b) on every corpus blob', () => {
  for (const k of kernels) {
    it(k.archive, async () => {
      const btf = await loadKernel(k);
      const oracle = await loadFieldsOracle(k.oraclePrefix);
      expect(oracle.first_type_id).toBe(btf.startId);
      expect(oracle.types).toBe(btf.ownTypeCount);
      expect(oracle.structs.length).toBeGreaterThan(1000);
      const diff = firstFieldsDifference(k.archive, btf, oracle);
      expect(diff, diff).toBeUndefined();
    });
    for (const m of k.modules) {
      it(`${m.archive} on its kernel`, async () => {
        const btf = await loadModule(k, m);
        const oracle = await loadFieldsOracle(m.oraclePrefix);
        expect(oracle.first_type_id).toBe(btf.startId);
        expect(oracle.types).toBe(btf.ownTypeCount);
        const diff = firstFieldsDifference(m.archive, btf, oracle);
        expect(diff, diff).toBeUndefined();
      });
    }
  }
});

/** The first struct/union of a kernel with this name. */
function structByName(btf: Btf, name: string): number {
  for (let id = 1; id < btf.nextId; id++) {
    const k = btf.kindOf(id);
    if ((k === 4 || k === 5) && btf.type(id).name === name) return id;
  }
  throw new Error(`no struct ${name}`);
}

function kernelBy(pred: (k: CorpusKernel) => boolean): CorpusKernel {
  const k = kernels.find(pred);
  if (!k) throw new Error('no such corpus kernel');
  return k;
}

describe('member paths', () => {
  for (const k of kernels) {
    it(`task_struct.se.vruntime and sk_buff.len in ${k.archive}`, async () => {
      const btf = await loadKernel(k);
      const task = structByName(btf, 'task_struct');
      const paths = memberPaths(btf, task);
      const byPath = new Map(paths.map((p) => [p.path, p]));
      const se = byPath.get('se');
      const vr = byPath.get('se.vruntime');
      expect(se?.type).toBe('struct sched_entity');
      expect(vr).toBeDefined();
      expect(vr?.type).toBe('u64');
      expect(vr?.size).toBe(8);
      const sched = structByName(btf, 'sched_entity');
      const inner = flattenMembers(btf, sched).find((m) => m.name === 'vruntime');
      expect(vr?.bitsOffset).toBe((se?.bitsOffset ?? 0) + (inner?.bitsOffset ?? 0));
      expect(vr?.byteOffset).toBe(Math.floor((vr?.bitsOffset ?? 0) / 8));
      // Pointers are not followed; arrays are not expanded.
      expect(paths.some((p) => p.path.startsWith('mm.'))).toBe(false);
      expect(paths.some((p) => p.path.startsWith('comm.') || p.path.startsWith('comm['))).toBe(false);

      const skb = memberPaths(btf, structByName(btf, 'sk_buff'));
      const len = skb.find((p) => p.path === 'len');
      expect(len).toMatchObject({ bitsOffset: 896, byteOffset: 112, bitfieldSize: 0, size: 4, type: 'unsigned int' });
      // `next` lives two unnamed levels down (union { struct { next; prev; ... }; ... }).
      expect(skb.find((p) => p.path === 'next')).toMatchObject({ bitsOffset: 0, type: 'struct sk_buff *', size: 8 });
      const cloned = skb.find((p) => p.path === 'cloned');
      expect(cloned?.bitfieldSize).toBe(1);
      expect(cloned?.size).toBe(1);
    });
  }

  it('pt_regs sizes', async () => {
    const btf = await loadKernel(kernelBy((k) => k.arch === 'x86_64'));
    const regs = flattenMembers(btf, structByName(btf, 'pt_regs'));
    expect(regs.find((m) => m.name === 'di')).toMatchObject({ byteOffset: 112, size: 8, type: 'long unsigned int' });
  });
});

describe('pointer size and resolved sizes', () => {
  for (const k of kernels) {
    it(`${k.arch} ${k.kernelRelease}`, async () => {
      const btf = await loadKernel(k);
      expect(detectPointerSize(btf)).toBe(8);
      expect(pointerSize(btf)).toBe(8);
      const task = structByName(btf, 'task_struct');
      expect(resolvedSize(btf, task)).toBe(btf.type(task).kind === 'STRUCT' ? (btf.type(task) as { size: number }).size : -1);
      const comm = flattenMembers(btf, task).find((m) => m.name === 'comm');
      expect(comm).toMatchObject({ type: 'char[16]', size: 16 });
      for (const m of k.modules) {
        const mod = await loadModule(k, m);
        expect(pointerSize(mod)).toBe(8);
      }
    });
  }
});

// ---- hand-built BTF blobs ----------------------------------------------------------------------------------

/** A minimal little-endian BTF writer: each type is [name, info, sizeOrType, ...extra u32 words]. */
function buildBtf(strings: string[], types: number[][]): Uint8Array {
  const strBytes: number[] = [0];
  const strOff = new Map<string, number>([['', 0]]);
  for (const s of strings) {
    strOff.set(s, strBytes.length);
    for (const ch of Buffer.from(s, 'utf8')) strBytes.push(ch);
    strBytes.push(0);
  }
  const words = types.flat();
  const typeLen = words.length * 4;
  const hdrLen = 24;
  const buf = new Uint8Array(hdrLen + typeLen + strBytes.length);
  const dv = new DataView(buf.buffer);
  dv.setUint16(0, 0xeb9f, true);
  dv.setUint8(2, 1);
  dv.setUint8(3, 0);
  dv.setUint32(4, hdrLen, true);
  dv.setUint32(8, 0, true);
  dv.setUint32(12, typeLen, true);
  dv.setUint32(16, typeLen, true);
  dv.setUint32(20, strBytes.length, true);
  words.forEach((w, i) => dv.setUint32(hdrLen + i * 4, w >>> 0, true));
  buf.set(strBytes, hdrLen + typeLen);
  return buf;
}

const info = (kind: number, vlen = 0, kflag = false): number => ((kflag ? 0x80000000 : 0) | (kind << 24) | vlen) >>> 0;

function expectBtfError(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(BtfError);
  expect((caught as BtfError).code).toBe(code);
}

describe('hand-built BTF', () => {
  // Name offsets of the strings below: "a"=1 "b"=3 "long int"=5 "int"=14 "s"=18 "char"=20 "rcu"=25
  const strings = ['a', 'b', 'long int', 'int', 's', 'char', 'rcu'];
  const off = (s: string): number => {
    let o = 1;
    for (const x of strings) {
      if (x === s) return o;
      o += Buffer.byteLength(x) + 1;
    }
    throw new Error(s);
  };

  it('a typedef cycle raises BTF_TYPE_LOOP, not a stack overflow', () => {
    // [1] typedef a -> [2]; [2] typedef b -> [1]; [3] struct s { a x; }
    const btf = Btf.parse(
      buildBtf(strings, [
        [off('a'), info(8), 2],
        [off('b'), info(8), 1],
        [off('s'), info(4, 1), 4, off('a'), 1, 0],
        [off('int'), info(1), 4, 0x20],
      ]),
    );
    expectBtfError(() => resolvedSize(btf, 1), 'BTF_TYPE_LOOP');
    expectBtfError(() => stripModifiers(btf, 1), 'BTF_TYPE_LOOP');
    expect(spellType(btf, 1)).toBe('a'); // a typedef spells as its name: no walk needed
    expectBtfError(() => flattenMembers(btf, 3), 'BTF_TYPE_LOOP');
  });

  it('a pointer/const cycle raises BTF_TYPE_LOOP when spelled', () => {
    // [1] const -> [2]; [2] ptr -> [1]
    const btf = Btf.parse(buildBtf(strings, [[0, info(10), 2], [0, info(2), 1]]));
    expectBtfError(() => spellType(btf, 1), 'BTF_TYPE_LOOP');
    expectBtfError(() => spellType(btf, 2), 'BTF_TYPE_LOOP');
    expect(resolvedSize(btf, 2)).toBe(8); // a pointer's size needs no walk
  });

  it('a struct containing itself through an unnamed member raises BTF_TYPE_LOOP', () => {
    // [1] struct s { struct s; int a; }  [2] int
    const btf = Btf.parse(buildBtf(strings, [[off('s'), info(4, 2), 8, 0, 1, 0, off('a'), 2, 0], [off('int'), info(1), 4, 0x01000020]]));
    expectBtfError(() => flattenMembers(btf, 1), 'BTF_TYPE_LOOP');
  });

  it('a struct containing itself by value raises BTF_TYPE_LOOP in memberPaths', () => {
    // [1] struct s { struct s a; }
    const btf = Btf.parse(buildBtf(strings, [[off('s'), info(4, 1), 8, off('a'), 1, 0]]));
    expect(flattenMembers(btf, 1).map((m) => m.name)).toEqual(['a']);
    expectBtfError(() => memberPaths(btf, 1), 'BTF_TYPE_LOOP');
  });

  it('spells declarators: pointer qualifiers, arrays of pointers, pointers to arrays, function pointers, type tags', () => {
    const btf = Btf.parse(
      buildBtf(strings, [
        /* 1 */ [off('char'), info(1), 1, 0x02000008],
        /* 2 */ [0, info(10), 1], // const char
        /* 3 */ [0, info(2), 2], // const char *
        /* 4 */ [0, info(10), 3], // const char *const
        /* 5 */ [0, info(3), 0, 4, 7, 4], // const char *const [4]
        /* 6 */ [0, info(10), 5], // const const char *const [4]
        /* 7 */ [off('int'), info(1), 4, 0x01000020],
        /* 8 */ [0, info(3), 0, 1, 7, 16], // char[16]
        /* 9 */ [0, info(2), 8], // char (*)[16]
        /* 10 */ [0, info(13, 2), 7, 0, 3, 0, 0], // int (const char *, ...)
        /* 11 */ [0, info(2), 10], // int (*)(const char *, ...)
        /* 12 */ [0, info(3), 0, 11, 7, 3], // int (*[3])(const char *, ...)
        /* 13 */ [0, info(13, 0), 0], // void (void)
        /* 14 */ [0, info(2), 13], // void (*)(void)
        /* 15 */ [0, info(10), 14], // void (*const)(void)
        /* 16 */ [0, info(3), 0, 8, 7, 2], // char[2][16]
        /* 17 */ [off('s'), info(4, 0), 0], // struct s
        /* 18 */ [off('rcu'), info(18), 17], // struct s __tag
        /* 19 */ [0, info(2), 18], // struct s __tag *
        /* 20 */ [off('s'), info(7, 0, true), 0], // union s (fwd)
        /* 21 */ [0, info(5, 0), 0], // union {...}
        /* 22 */ [off('long int'), info(1), 4, 0x01000020], // 32-bit long
        /* 23 */ [0, info(2), 9], // char (**)[16]
        /* 24 */ [0, info(9), 13], // volatile void (void)
        /* 25 */ [0, info(2), 24], // volatile void *(void): the oracle's spelling (no parentheses)
        /* 26 */ [0, info(10), 3], // const char *const
        /* 27 */ [0, info(2), 26], // const char *const *
      ]),
    );
    const want: Record<number, string> = {
      0: 'void',
      2: 'const char',
      3: 'const char *',
      4: 'const char *const',
      5: 'const char *const [4]',
      6: 'const const char *const [4]',
      8: 'char[16]',
      9: 'char (*)[16]',
      11: 'int (*)(const char *, ...)',
      12: 'int (*[3])(const char *, ...)',
      14: 'void (*)(void)',
      15: 'void (*const)(void)',
      16: 'char[2][16]',
      17: 'struct s',
      19: 'struct s __attribute__((btf_type_tag("rcu"))) *',
      20: 'union s',
      21: 'union {...}',
      23: 'char (**)[16]',
      25: 'volatile void *(void)',
      27: 'const char *const *',
    };
    for (const [id, s] of Object.entries(want)) expect(spellType(btf, Number(id)), `type ${id}`).toBe(s);
    expect(detectPointerSize(btf)).toBe(4);
    expect(resolvedSize(btf, 3)).toBe(4);
    expect(resolvedSize(btf, 12)).toBe(12);
    expect(resolvedSize(btf, 16)).toBe(32);
    expectBtfError(() => resolvedSize(btf, 10), 'BTF_BAD_TYPE_REF');
    expectBtfError(() => resolvedSize(btf, 20), 'BTF_BAD_TYPE_REF');
    expectBtfError(() => resolvedSize(btf, 0), 'BTF_BAD_TYPE_REF');
    expectBtfError(() => spellType(btf, 99), 'BTF_BAD_TYPE_REF');
    expectBtfError(() => flattenMembers(btf, 7), 'BTF_BAD_TYPE_REF');
  });

  it('a BTF without a long-like int falls back to 8-byte pointers', () => {
    const btf = Btf.parse(buildBtf(strings, [[off('int'), info(1), 4, 0x01000020], [0, info(2), 1]]));
    expect(detectPointerSize(btf)).toBeUndefined();
    expect(pointerSize(btf)).toBe(8);
    expect(resolvedSize(btf, 2)).toBe(8);
  });

  it('flattens unnamed members (through const) and skips unnamed padding bitfields', () => {
    // [1] int; [2] struct { int b; }; [3] const [2]; [4] struct s { int a; const struct { int b; }; int :3 (unnamed, bitfield) }
    const btf = Btf.parse(
      buildBtf(strings, [
        [off('int'), info(1), 4, 0x01000020],
        [0, info(4, 1), 4, off('b'), 1, 0],
        [0, info(10), 2],
        [off('s'), info(4, 3, true), 12, off('a'), 1, 0, 0, 3, 32, 0, 1, (3 << 24) | 64],
      ]),
    );
    expect(flattenMembers(btf, 4)).toEqual([
      { name: 'a', bitsOffset: 0, byteOffset: 0, bitfieldSize: 0, typeId: 1, type: 'int', anonDepth: 0, size: 4 },
      { name: 'b', bitsOffset: 32, byteOffset: 4, bitfieldSize: 0, typeId: 1, type: 'int', anonDepth: 1, size: 4 },
    ]);
  });
});
