import { describe, expect, it } from 'vitest';
import {
  BTF_KIND_MAX, Btf, BtfError, BtfErrorCode, BtfKind, KIND_NAMES, KINDS, NameRule, SizeType, extraSize, infoKind, infoKindFlag,
  infoVlen, recordData, recordInfo, recordKind, recordKindFlag, recordNameOff, recordSizeOrType, recordVlen, recordWords,
  summarizeBtf, swapBtfEndianness, validateBtf, type BtfType, type KindInfo,
} from '@btf-atlas/btf';
import { BtfBuilder, info, sampleBtf } from './support/builder.js';
import { corpusKernels, loadKernel, loadModule } from './support/corpus.js';

/** The rows of the kind table, kinds 1 to BTF_KIND_MAX. */
const rows = KINDS.slice(1) as KindInfo[];

/** What the typed model says size_type holds, for the kinds that have one. */
function modelSizeOrType(t: BtfType): number | undefined {
  switch (t.kind) {
    case 'FUNC_PROTO': return t.returnType;
    case 'ARRAY': case 'FWD': return undefined;
    default: return 'size' in t ? t.size : t.type;
  }
}

/** vlen as the typed model tells it. */
function modelVlen(t: BtfType): number {
  switch (t.kind) {
    case 'STRUCT': case 'UNION': return t.members.length;
    case 'ENUM': case 'ENUM64': return t.values.length;
    case 'FUNC_PROTO': return t.params.length;
    case 'DATASEC': return t.vars.length;
    case 'FUNC': return t.linkage;
    default: return 0;
  }
}

/**
 * Checks every own record of `btf` with the readers against the typed model and against the record lengths the
 * index found (the distance to the next record). Returns the kinds seen and the first mismatches.
 */
function checkReaders(btf: Btf): { seen: Set<number>; bad: string[] } {
  const w = btf.typeWords;
  const seen = new Set<number>();
  const bad: string[] = [];
  const check = (ok: boolean, id: number, what: string): void => {
    if (!ok && bad.length < 10) bad.push(`type [${id}]: ${what}`);
  };
  for (let id = btf.startId; id < btf.nextId; id++) {
    const r = btf.recordWordIndex(id);
    const t = btf.type(id);
    const kind = recordKind(w, r);
    const info = recordInfo(w, r);
    seen.add(kind);
    check(KIND_NAMES[kind] === t.kind && infoKind(info) === kind, id, `kind ${kind} for a ${t.kind}`);
    check(recordNameOff(w, r) === t.nameOff, id, 'name_off');
    check(recordKindFlag(w, r) === t.kindFlag && infoKindFlag(info) === t.kindFlag, id, 'kind_flag');
    check(recordVlen(w, r) === modelVlen(t) && infoVlen(info) === modelVlen(t), id, 'vlen');
    const sot = modelSizeOrType(t);
    check(sot === undefined || recordSizeOrType(w, r) === sot, id, 'size_type');
    // The table's size_type column says what the model calls it.
    const st = (KINDS[kind] as KindInfo).sizeType;
    if (st === SizeType.SIZE) check('size' in t && !('type' in t), id, 'size_type is a size');
    if (st === SizeType.TYPE) check('type' in t || t.kind === 'FUNC_PROTO', id, 'size_type is a type');
    if (st === SizeType.NONE) check(recordSizeOrType(w, r) === 0, id, 'size_type is unused');
    // The table's length is the distance to the next record.
    const end = id + 1 < btf.nextId ? btf.recordOffset(id + 1) : btf.header.typeEnd;
    const len = end - btf.recordOffset(id);
    check(4 * recordWords(kind, recordVlen(w, r)) === len && 12 + extraSize(kind, recordVlen(w, r)) === len, id, `length ${len}`);
    check(recordData(r) === r + 3, id, 'data word');
  }
  return { seen, bad };
}

/** A blob with a record of every kind. */
function everyKind(le: boolean): Uint8Array {
  const b = new BtfBuilder();
  const int = b.int('int', 4, 32, 1);
  const ptr = b.ptr(int);
  b.array(int, int, 4);
  const s = b.struct('s', 8, [{ name: 'a', type: int, bitsOffset: 0 }, { name: 'b', type: int, bitsOffset: 35, bitfieldSize: 3 }], true);
  b.union('u', 4, [{ name: 'x', type: int, bitsOffset: 0 }]);
  b.enum('e', 4, [['A', 1], ['B', -2]], true);
  b.fwd('f', true);
  b.typedef('t', ptr);
  b.volatile(int);
  b.const(int);
  b.restrict(ptr);
  const proto = b.funcProto(int, [{ name: 'p', type: int }, { type: 0 }]);
  const fn = b.func('fn', proto, 1);
  const v = b.var('v', int, 1);
  b.datasec('.data', 4, [{ type: v, offset: 0, size: 4 }]);
  b.float('double', 8);
  b.declTag('tag', fn, -1);
  b.declTag('arg', s, 1);
  b.typeTag('rcu', int);
  b.enum64('e64', 8, [['C', 1n << 40n], ['D', -3n]], true);
  return b.build({ littleEndian: le });
}

describe('the kind table', () => {
  it('has one row per kind, numbered and named as BtfKind and bpftool', () => {
    expect(KINDS.length).toBe(BTF_KIND_MAX + 1);
    expect(KINDS[0]).toBeUndefined();
    for (const k of rows) {
      expect(BtfKind[k.name]).toBe(k.kind);
      expect(KIND_NAMES[k.kind]).toBe(k.name);
      expect(k.fixedSize % 4).toBe(0);
      expect(k.elemSize % 4).toBe(0);
    }
  });

  it('knows no kind 0 and no kind past BTF_KIND_MAX', () => {
    for (const k of [0, BTF_KIND_MAX + 1, 31]) {
      expect(recordWords(k, 0)).toBe(-1);
      expect(extraSize(k, 3)).toBe(-1);
    }
    expect(extraSize(32 + BtfKind.INT, 0)).toBe(-1);
  });

  it('gives the length of every record of every kind, in both byte orders, and the readers agree with the model', () => {
    for (const le of [true, false]) {
      const every = checkReaders(Btf.parse(everyKind(le)));
      expect(every.bad).toEqual([]);
      expect([...every.seen].sort((a, b) => a - b)).toEqual(rows.map((k) => k.kind));
      expect(checkReaders(Btf.parse(sampleBtf(le))).bad).toEqual([]);
    }
  });

  it('agrees with the readers and the model on every record of a corpus kernel and its first module', async () => {
    const k = corpusKernels().find((x) => x.modules.length > 0);
    if (!k) throw new Error('the corpus has no kernel with modules');
    expect(checkReaders(await loadKernel(k)).bad).toEqual([]);
    expect(checkReaders(await loadModule(k, k.modules[0])).bad).toEqual([]);
  });
});

describe('the name column agrees with the validator', () => {
  /** Builds a blob with a few helper types, then one record of `kind`, named `name` or anonymous. */
  function withRecord(kind: number, named: boolean): Uint8Array {
    const b = new BtfBuilder();
    const int = b.int('int', 4, 32, 1);
    const s = b.struct('s', 4, [{ name: 'a', type: int, bitsOffset: 0 }]);
    const proto = b.funcProto(int, [{ name: 'x', type: int }]);
    const v = b.var('v', int);
    const nameOff = named ? b.str('x') : 0;
    switch (kind) {
      case BtfKind.INT: b.raw(nameOff, info(kind), 4, [32]); break;
      case BtfKind.FLOAT: b.raw(nameOff, info(kind), 8); break;
      case BtfKind.PTR: case BtfKind.VOLATILE: case BtfKind.CONST: case BtfKind.RESTRICT: case BtfKind.TYPEDEF: case BtfKind.TYPE_TAG:
        b.raw(nameOff, info(kind), int);
        break;
      case BtfKind.ARRAY: b.raw(nameOff, info(kind), 0, [int, int, 2]); break;
      case BtfKind.STRUCT: case BtfKind.UNION: b.raw(nameOff, info(kind, 1), 4, [b.str('m'), int, 0]); break;
      case BtfKind.ENUM: b.raw(nameOff, info(kind, 1), 4, [b.str('E1'), 1]); break;
      case BtfKind.ENUM64: b.raw(nameOff, info(kind, 1), 8, [b.str('E2'), 1, 0]); break;
      case BtfKind.FWD: b.raw(nameOff, info(kind), 0); break;
      case BtfKind.FUNC: b.raw(nameOff, info(kind, 1), proto); break;
      case BtfKind.FUNC_PROTO: b.raw(nameOff, info(kind, 1), int, [b.str('p'), int]); break;
      case BtfKind.VAR: b.raw(nameOff, info(kind), int, [1]); break;
      case BtfKind.DATASEC: b.raw(nameOff, info(kind, 1), 4, [v, 0, 4]); break;
      case BtfKind.DECL_TAG: b.raw(nameOff, info(kind), s, [-1]); break;
      default: throw new Error(`no record for kind ${kind}`);
    }
    return b.build();
  }

  function judge(bytes: Uint8Array): BtfError | undefined {
    try {
      validateBtf(Btf.parse(bytes));
      return undefined;
    } catch (err) {
      if (err instanceof BtfError) return err;
      throw err;
    }
  }

  for (const k of rows) {
    it(`${k.name}: ${k.nameRule === NameRule.NONE ? 'anonymous only' : k.nameRule === NameRule.REQUIRED ? 'named only' : 'named or anonymous'}`, () => {
      const named = judge(withRecord(k.kind, true));
      const anon = judge(withRecord(k.kind, false));
      if (k.nameRule === NameRule.NONE) {
        expect(named?.reason).toMatch(/must be anonymous/);
        expect(anon).toBeUndefined();
      } else if (k.nameRule === NameRule.REQUIRED) {
        expect(named).toBeUndefined();
        expect(anon?.code).toBe(BtfErrorCode.BadString);
      } else {
        expect(named).toBeUndefined();
        expect(anon).toBeUndefined();
      }
    });
  }
});

describe('records that do not start on a word boundary', () => {
  /**
   * A blob with a 32-byte header and a layout section that sizes kind 20 (unknown here) at 14 bytes (2 bytes of
   * info): kind 20, INT 'int' (at byte 14 of the section), kind 20. The INT's record is not word-aligned.
   */
  function unaligned(le: boolean): Uint8Array {
    const types = 14 + 16 + 14;
    const strs = [0, ...Buffer.from('int'), 0, ...Buffer.from('k'), 0];
    const layoutOff = (types + strs.length + 3) & ~3;
    const layoutLen = 4 * 21;
    const out = new Uint8Array(32 + layoutOff + layoutLen);
    const dv = new DataView(out.buffer);
    dv.setUint16(0, 0xeb9f, le);
    out[2] = 1;
    dv.setUint32(4, 32, le);
    dv.setUint32(8, 0, le);
    dv.setUint32(12, types, le);
    dv.setUint32(16, types, le);
    dv.setUint32(20, layoutOff - types, le); // strings padded with NULs up to the layout section
    dv.setUint32(24, layoutOff, le);
    dv.setUint32(28, layoutLen, le);
    const t = 32;
    dv.setUint32(t, 6, le); // kind 20 named 'k'
    dv.setUint32(t + 4, 20 << 24, le);
    dv.setUint32(t + 14, 1, le); // INT 'int'
    dv.setUint32(t + 18, info(BtfKind.INT), le);
    dv.setUint32(t + 22, 4, le);
    dv.setUint32(t + 26, (1 << 24) | 32, le);
    dv.setUint32(t + 34, (20 << 24) >>> 0, le);
    out.set(strs, t + types);
    out[32 + layoutOff + 20 * 4] = 2; // layout[20].info_sz = 2
    return out;
  }

  for (const le of [true, false]) {
    it(`are read through realigned words (${le ? 'little' : 'big'}-endian)`, () => {
      const btf = Btf.parse(unaligned(le));
      expect(btf.ownTypeCount).toBe(3);
      expect(btf.recordOffset(2) - btf.header.typeStart).toBe(14);
      const r = btf.recordWordIndex(2);
      const w = btf.typeWords;
      expect(recordKind(w, r)).toBe(BtfKind.INT);
      expect(recordNameOff(w, r)).toBe(1);
      expect(recordSizeOrType(w, r)).toBe(4);
      expect(w[recordData(r)]).toBe((1 << 24) | 32);
      expect(btf.kindOf(2)).toBe(BtfKind.INT);
      expect(btf.kindOf(3)).toBe(20);
      expect(btf.nameOffOf(1)).toBe(6);
      expect(btf.type(2)).toMatchObject({ kind: 'INT', name: 'int', size: 4, nrBits: 32, encoding: 1 });
      expect(summarizeBtf(btf).kinds).toMatchObject({ INT: 1, UNKNOWN: 2 });
      expect(() => swapBtfEndianness(btf)).toThrow(BtfError);
    });
  }
});
