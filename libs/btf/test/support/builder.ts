/**
 * A small raw-BTF writer for tests: add type records and strings, get bytes in either byte order, so every
 * broken case is spelled out field by field. Ids are returned as types are added; for split BTF pass the
 * base's next id and string-section length.
 */

export interface Member {
  name?: string;
  type: number;
  bitsOffset: number;
  bitfieldSize?: number;
}

export interface Param {
  name?: string;
  type: number;
}

export interface BuilderOptions {
  /** First type id (base's nextId for split BTF). Default 1. */
  startId?: number;
  /** String offsets start here (base's string length for split BTF). Default 0. */
  strBase?: number;
  /** Start the string section with the empty string (default true; split BTF usually does not). */
  leadingNul?: boolean;
}

export interface LayoutOptions {
  littleEndian?: boolean;
  /** Header overrides (raw values written as is). */
  magic?: number;
  version?: number;
  flags?: number;
  hdrLen?: number;
  typeOff?: number;
  typeLen?: number;
  strOff?: number;
  strLen?: number;
  /** Bytes inserted between the type and string sections (a gap). */
  gap?: number;
  /** Bytes appended after the string section. */
  trailing?: number;
}

const KIND = {
  INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9, CONST: 10, RESTRICT: 11,
  FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19,
} as const;

export function info(kind: number, vlen = 0, kflag = false): number {
  return ((kflag ? 0x80000000 : 0) | ((kind & 0x1f) << 24) | (vlen & 0xffff)) >>> 0;
}

export class BtfBuilder {
  private readonly words: number[] = [];
  private readonly strParts: Buffer[] = [];
  private strLen = 0;
  private readonly strIndex = new Map<string, number>();
  private readonly strBase: number;
  private nextId: number;

  constructor(opts: BuilderOptions = {}) {
    this.nextId = opts.startId ?? 1;
    this.strBase = opts.strBase ?? 0;
    if (opts.leadingNul ?? true) {
      this.strParts.push(Buffer.from([0]));
      this.strLen = 1;
      this.strIndex.set('', this.strBase);
    }
  }

  /** The string offset of `s` (added on first use); "" and undefined are offset 0 when there is a leading NUL. */
  str(s: string | undefined): number {
    if (s === undefined) return 0;
    const known = this.strIndex.get(s);
    if (known !== undefined) return known;
    const off = this.strBase + this.strLen;
    const b = Buffer.from(`${s}\0`, 'latin1');
    this.strParts.push(b);
    this.strLen += b.length;
    this.strIndex.set(s, off);
    return off;
  }

  /** Appends raw bytes to the string section (no NUL added). */
  rawStrings(bytes: Uint8Array): void {
    this.strParts.push(Buffer.from(bytes));
    this.strLen += bytes.length;
  }

  /** Any record, fully explicit: name offset, info word, size/type word, then kind-specific u32 words. */
  raw(nameOff: number, infoWord: number, sizeOrType: number, extra: number[] = []): number {
    this.words.push(nameOff >>> 0, infoWord >>> 0, sizeOrType >>> 0);
    // One push per word: a spread of a 65,535-member record would overflow the call stack.
    for (const w of extra) this.words.push(w >>> 0);
    return this.nextId++;
  }

  int(name: string, size: number, bits = size * 8, encoding = 0, bitsOffset = 0): number {
    return this.raw(this.str(name), info(KIND.INT), size, [((encoding & 0xf) << 24) | ((bitsOffset & 0xff) << 16) | (bits & 0xff)]);
  }
  ptr(type: number): number {
    return this.raw(0, info(KIND.PTR), type);
  }
  typedef(name: string, type: number): number {
    return this.raw(this.str(name), info(KIND.TYPEDEF), type);
  }
  volatile(type: number): number {
    return this.raw(0, info(KIND.VOLATILE), type);
  }
  const(type: number): number {
    return this.raw(0, info(KIND.CONST), type);
  }
  restrict(type: number): number {
    return this.raw(0, info(KIND.RESTRICT), type);
  }
  typeTag(value: string, type: number): number {
    return this.raw(this.str(value), info(KIND.TYPE_TAG), type);
  }
  array(elem: number, index: number, nelems: number): number {
    return this.raw(0, info(KIND.ARRAY), 0, [elem, index, nelems]);
  }
  struct(name: string | undefined, size: number, members: Member[], kflag = false): number {
    return this.composite(KIND.STRUCT, name, size, members, kflag);
  }
  union(name: string | undefined, size: number, members: Member[], kflag = false): number {
    return this.composite(KIND.UNION, name, size, members, kflag);
  }
  enum(name: string | undefined, size: number, values: [string, number][], signed = false): number {
    return this.raw(this.str(name), info(KIND.ENUM, values.length, signed), size, values.flatMap(([n, v]) => [this.str(n), v]));
  }
  enum64(name: string | undefined, size: number, values: [string, bigint][], signed = false): number {
    return this.raw(this.str(name), info(KIND.ENUM64, values.length, signed), size,
      values.flatMap(([n, v]) => [this.str(n), Number(BigInt.asUintN(64, v) & 0xffffffffn), Number(BigInt.asUintN(64, v) >> 32n)]));
  }
  fwd(name: string, union = false): number {
    return this.raw(this.str(name), info(KIND.FWD, 0, union), 0);
  }
  funcProto(ret: number, params: Param[]): number {
    return this.raw(0, info(KIND.FUNC_PROTO, params.length), ret, params.flatMap((p) => [this.str(p.name), p.type]));
  }
  func(name: string, proto: number, linkage = 1): number {
    return this.raw(this.str(name), info(KIND.FUNC, linkage), proto);
  }
  var(name: string, type: number, linkage = 1): number {
    return this.raw(this.str(name), info(KIND.VAR), type, [linkage]);
  }
  datasec(name: string, size: number, vars: { type: number; offset: number; size: number }[]): number {
    return this.raw(this.str(name), info(KIND.DATASEC, vars.length), size, vars.flatMap((v) => [v.type, v.offset, v.size]));
  }
  float(name: string, size: number): number {
    return this.raw(this.str(name), info(KIND.FLOAT), size);
  }
  declTag(value: string, type: number, componentIdx = -1): number {
    return this.raw(this.str(value), info(KIND.DECL_TAG), type, [componentIdx]);
  }

  private composite(kind: number, name: string | undefined, size: number, members: Member[], kflag: boolean): number {
    return this.raw(this.str(name), info(kind, members.length, kflag), size, members.flatMap((m) => [
      this.str(m.name),
      m.type,
      kflag ? (((m.bitfieldSize ?? 0) << 24) | (m.bitsOffset & 0xffffff)) >>> 0 : m.bitsOffset,
    ]));
  }

  /** The raw type section. */
  typeSection(littleEndian = true): Uint8Array {
    const out = Buffer.alloc(this.words.length * 4);
    this.words.forEach((w, i) => (littleEndian ? out.writeUInt32LE(w, i * 4) : out.writeUInt32BE(w, i * 4)));
    return out;
  }

  /** The raw string section. */
  stringSection(): Uint8Array {
    return Buffer.concat(this.strParts);
  }

  /** The whole blob: 24-byte header (or `hdrLen`), type section, optional gap, string section, optional trailer. */
  build(opts: LayoutOptions = {}): Uint8Array {
    const le = opts.littleEndian ?? true;
    const types = this.typeSection(le);
    const strs = this.stringSection();
    const hdrLen = opts.hdrLen ?? 24;
    const gap = opts.gap ?? 0;
    const out = Buffer.alloc(Math.max(hdrLen, 24) + types.length + gap + strs.length + (opts.trailing ?? 0));
    const u16 = (v: number, at: number): void => void (le ? out.writeUInt16LE(v, at) : out.writeUInt16BE(v, at));
    const u32 = (v: number, at: number): void => void (le ? out.writeUInt32LE(v >>> 0, at) : out.writeUInt32BE(v >>> 0, at));
    u16(opts.magic ?? 0xeb9f, 0);
    out[2] = opts.version ?? 1;
    out[3] = opts.flags ?? 0;
    u32(hdrLen, 4);
    u32(opts.typeOff ?? 0, 8);
    u32(opts.typeLen ?? types.length, 12);
    u32(opts.strOff ?? types.length + gap, 16);
    u32(opts.strLen ?? strs.length, 20);
    const body = Math.max(hdrLen, 24);
    out.set(types, body);
    out.set(strs, body + types.length + gap);
    return out;
  }
}

/**
 * A small but complete BTF using every kind: ints, a struct with a bitfield and a pointer to itself, a union,
 * enums, typedefs, qualifiers, a type tag, arrays, a function with a vararg prototype, a float, a variable in a
 * data section, and decl tags.
 */
export function sampleBtf(littleEndian = true): Uint8Array {
  const b = new BtfBuilder();
  const int = b.int('int', 4, 32, 1);
  const uint = b.int('unsigned int', 4, 32);
  const char = b.int('char', 1, 8, 2);
  const long = b.int('long int', 8, 64, 1);
  const node = b.struct('node', 24, [
    { name: 'next', type: 6, bitsOffset: 0 },
    { name: 'flags', type: uint, bitsOffset: 64, bitfieldSize: 3 },
    { name: 'mode', type: uint, bitsOffset: 67, bitfieldSize: 5 },
    { name: 'name', type: 9, bitsOffset: 96 },
    { name: 'value', type: long, bitsOffset: 128 },
  ], true);
  b.ptr(7); // 6: struct node __tag *
  b.typeTag('rcu', node); // 7
  void b.const(char); // 8
  b.array(char, int, 4); // 9: char[4]
  const u = b.union('val', 8, [{ name: 'i', type: int, bitsOffset: 0 }, { name: 'l', type: long, bitsOffset: 0 }]);
  const e = b.enum('color', 4, [['RED', 0], ['GREEN', 1], ['BLUE', -1 >>> 0]], true);
  b.enum64('big', 8, [['HUGE', 1n << 40n]]);
  const td = b.typedef('node_t', node);
  b.volatile(td);
  const cptr = b.ptr(8);
  const proto = b.funcProto(int, [{ name: 'fmt', type: cptr }, { type: 0 }]);
  const fn = b.func('printk_like', proto, 1);
  b.fwd('opaque');
  const dbl = b.float('double', 8);
  const v = b.var('counter', int, 1);
  b.datasec('.data', 16, [{ type: v, offset: 0, size: 4 }]);
  b.declTag('kfunc', fn, -1);
  b.declTag('arg', fn, 0);
  b.declTag('field', node, 2);
  b.struct('mixed', 40, [
    { name: 'u', type: u, bitsOffset: 0 },
    { name: 'c', type: e, bitsOffset: 64 },
    { name: 'd', type: dbl, bitsOffset: 128 },
    { name: 'arr', type: b.array(long, int, 2), bitsOffset: 192 },
    { name: 'flex', type: b.array(char, int, 0), bitsOffset: 320 },
  ]);
  return b.build({ littleEndian });
}
