import { BtfError, BtfErrorCode } from './errors.js';
import { parseHeader, type BtfHeader } from './header.js';
import { BTF_TYPE_SIZE, KIND_NAMES } from './kinds.js';
import { StringTable } from './strings.js';
import type { BtfType, Member, Param, EnumValue, Enum64Value, VarSecInfo } from './types.js';

/** Limits that bound the work a hostile blob can cause. All are options with these defaults. */
export interface BtfLimits {
  /** Largest blob accepted, in bytes (default 512 MiB). */
  maxBlobSize: number;
  /** Most types accepted in one blob, base and split counted together (default 1,048,575: BTF_MAX_TYPE). */
  maxTypes: number;
  /** Deepest chain of references followed when resolving a type (default 32: the kernel's MAX_RESOLVE_DEPTH). */
  maxResolveDepth: number;
}

export const DEFAULT_LIMITS: Readonly<BtfLimits> = {
  maxBlobSize: 512 * 1024 * 1024,
  maxTypes: 0xfffff,
  maxResolveDepth: 32,
};

export interface ParseOptions {
  /** Base BTF for split BTF (module BTF is read on top of vmlinux). */
  base?: Btf;
  limits?: Partial<BtfLimits>;
}

/** A kind-layout entry from the optional layout section: how to skip records of kinds this decoder lacks. */
export interface KindLayout {
  infoSize: number;
  elemSize: number;
  flags: number;
}

/**
 * Parsed BTF: header, string table, and an index of every type record. Types are decoded lazily (the first
 * pass only records where each record starts, like cilium/ebpf's decoder); {@link type} decodes and caches.
 */
export class Btf {
  readonly bytes: Uint8Array;
  readonly header: BtfHeader;
  readonly littleEndian: boolean;
  readonly base: Btf | undefined;
  readonly strings: StringTable;
  readonly limits: Readonly<BtfLimits>;
  /** First type id defined by this blob: 1 for base BTF, base's next id for split BTF. */
  readonly startId: number;
  /** Number of types this blob defines (not counting its base). */
  readonly ownTypeCount: number;
  /** Byte offset of each own type record, indexed by id - startId. */
  readonly offsets: Uint32Array;
  /** Kind layouts from the optional layout section, indexed by kind number. */
  readonly kindLayouts: readonly KindLayout[];
  readonly dv: DataView;
  /**
   * The type section as 32-bit words in the host's byte order: a view of `bytes` when the section is 4-byte
   * aligned in memory and already in host order (the common case), else a converted copy. Word
   * `(offsets[i] - header.typeStart) / 4` starts the record of own type i (records of known kinds are whole words).
   */
  readonly typeWords: Uint32Array;
  /** Decoded types by id - startId, made on the first decode (validation and raw dumps never need it). */
  private cache: (BtfType | undefined)[] | undefined = undefined;

  private constructor(bytes: Uint8Array, opts: ParseOptions) {
    const limits: BtfLimits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.limits = limits;
    if (bytes.length > limits.maxBlobSize) {
      throw new BtfError(BtfErrorCode.LimitExceeded, `blob of ${bytes.length} bytes exceeds the ${limits.maxBlobSize}-byte limit`);
    }
    this.bytes = bytes;
    this.header = parseHeader(bytes);
    this.littleEndian = this.header.littleEndian;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.base = opts.base;
    if (this.base && this.base.littleEndian !== this.littleEndian) {
      throw new BtfError(BtfErrorCode.BadBase, 'split btf and its base have different byte orders');
    }
    const h = this.header;
    this.strings = new StringTable(bytes, h.strStart, h.strEnd, this.base?.strings);
    checkStringSection(bytes, h, this.base !== undefined);
    this.kindLayouts = readKindLayouts(this.dv, h);
    this.startId = this.base ? this.base.nextId : 1;
    this.typeWords = typeSectionWords(bytes, h);
    const { offsets, count } = indexTypes(this.dv, this.typeWords, h, this.kindLayouts, this.startId, limits);
    this.offsets = offsets;
    this.ownTypeCount = count;
  }

  /** Parses raw BTF bytes (either byte order). Throws {@link BtfError}; never anything else. */
  static parse(bytes: Uint8Array, opts: ParseOptions = {}): Btf {
    try {
      return new Btf(bytes, opts);
    } catch (err) {
      if (err instanceof BtfError) throw err;
      throw new BtfError(BtfErrorCode.OutOfBounds, `unexpected read failure: ${(err as Error).message}`);
    }
  }

  /** One past the largest type id (base included): the first id a split BTF on this one would use. */
  get nextId(): number {
    return this.startId + this.ownTypeCount;
  }

  /** True when this blob holds the record for `id` (not its base). */
  ownsId(id: number): boolean {
    return id >= this.startId && id < this.nextId;
  }

  /** Byte offset of the record of an own type id. */
  recordOffset(id: number): number {
    return this.offsets[id - this.startId];
  }

  /** The kind number of any type id (base included); 0 for void. */
  kindOf(id: number): number {
    if (id === 0) return 0;
    if (id < this.startId) return this.base ? this.base.kindOf(id) : -1;
    if (id >= this.nextId) return -1;
    return (this.dv.getUint32(this.offsets[id - this.startId] + 4, this.littleEndian) >>> 24) & 0x1f;
  }

  /** The kind name of any type id ("VOID" for 0, "UNKN" for out-of-range ids). */
  kindNameOf(id: number): string {
    if (id === 0) return 'VOID';
    const k = this.kindOf(id);
    return k < 0 ? 'UNKN' : (KIND_NAMES[k] ?? `KIND_${k}`);
  }

  /** True when `id` names void or a type of this blob or its base. */
  hasType(id: number): boolean {
    return id >= 0 && id < this.nextId;
  }

  /**
   * The decoded type of `id` (from this blob or its base). Throws BTF_BAD_TYPE_REF for 0 (void) or ids out of
   * range, and BTF_BAD_STRING when a name offset is invalid.
   */
  type(id: number): BtfType {
    if (id < this.startId) {
      if (this.base && id > 0) return this.base.type(id);
      throw new BtfError(BtfErrorCode.BadTypeRef, id === 0 ? 'type id 0 is void, not a type record' : `type id ${id} is out of range`, { typeId: id });
    }
    const idx = id - this.startId;
    if (idx >= this.ownTypeCount) {
      throw new BtfError(BtfErrorCode.BadTypeRef, `type id ${id} is out of range (last is ${this.nextId - 1})`, { typeId: id });
    }
    const cache = (this.cache ??= new Array<BtfType | undefined>(this.ownTypeCount));
    let t = cache[idx];
    if (t === undefined) {
      t = this.decode(id, this.offsets[idx]);
      cache[idx] = t;
    }
    return t;
  }

  /** Decodes every own type, in id order. */
  ownTypes(): BtfType[] {
    const out = new Array<BtfType>(this.ownTypeCount);
    for (let i = 0; i < this.ownTypeCount; i++) out[i] = this.type(this.startId + i);
    return out;
  }

  /** Name of a type id ("" for void and anonymous types). */
  nameOf(id: number): string {
    return id === 0 ? '' : this.type(id).name;
  }

  /** The string at `off`; on failure a BTF_BAD_STRING error naming the type and the `what` (index >= 0: its entry). */
  private str(off: number, id: number, what: string, index: number): string {
    const s = this.strings.tryGet(off);
    if (s !== undefined) return s;
    return this.strings.get(off, index < 0 ? what : `${what} ${index} name`, id);
  }

  private decode(id: number, off: number): BtfType {
    const dv = this.dv;
    const le = this.littleEndian;
    const nameOff = dv.getUint32(off, le);
    const info = dv.getUint32(off + 4, le);
    const sizeOrType = dv.getUint32(off + 8, le);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kindFlag = (info & 0x80000000) !== 0;
    const name = this.str(nameOff, id, 'name', -1);
    const p = off + BTF_TYPE_SIZE;
    switch (kind) {
      case 1: {
        const v = dv.getUint32(p, le);
        return { kind: 'INT', id, name, nameOff, kindFlag, size: sizeOrType, encoding: (v >>> 24) & 0x0f, bitsOffset: (v >>> 16) & 0xff, nrBits: v & 0xff };
      }
      case 2: return { kind: 'PTR', id, name, nameOff, kindFlag, type: sizeOrType };
      case 8: return { kind: 'TYPEDEF', id, name, nameOff, kindFlag, type: sizeOrType };
      case 9: return { kind: 'VOLATILE', id, name, nameOff, kindFlag, type: sizeOrType };
      case 10: return { kind: 'CONST', id, name, nameOff, kindFlag, type: sizeOrType };
      case 11: return { kind: 'RESTRICT', id, name, nameOff, kindFlag, type: sizeOrType };
      case 18: return { kind: 'TYPE_TAG', id, name, nameOff, kindFlag, type: sizeOrType };
      case 3:
        return { kind: 'ARRAY', id, name, nameOff, kindFlag, type: dv.getUint32(p, le), indexType: dv.getUint32(p + 4, le), nelems: dv.getUint32(p + 8, le) };
      case 4:
      case 5: {
        const members = new Array<Member>(vlen);
        for (let i = 0, q = p; i < vlen; i++, q += 12) {
          const mNameOff = dv.getUint32(q, le);
          const raw = dv.getUint32(q + 8, le);
          members[i] = {
            name: this.str(mNameOff, id, 'member', i),
            nameOff: mNameOff,
            type: dv.getUint32(q + 4, le),
            bitsOffset: kindFlag ? raw & 0xffffff : raw,
            bitfieldSize: kindFlag ? raw >>> 24 : 0,
          };
        }
        return { kind: kind === 4 ? 'STRUCT' : 'UNION', id, name, nameOff, kindFlag, size: sizeOrType, members };
      }
      case 6: {
        const values = new Array<EnumValue>(vlen);
        for (let i = 0, q = p; i < vlen; i++, q += 8) {
          const vNameOff = dv.getUint32(q, le);
          values[i] = {
            name: this.str(vNameOff, id, 'enumerator', i),
            nameOff: vNameOff,
            value: kindFlag ? dv.getInt32(q + 4, le) : dv.getUint32(q + 4, le),
          };
        }
        return { kind: 'ENUM', id, name, nameOff, kindFlag, size: sizeOrType, signed: kindFlag, values };
      }
      case 19: {
        const values = new Array<Enum64Value>(vlen);
        for (let i = 0, q = p; i < vlen; i++, q += 12) {
          const vNameOff = dv.getUint32(q, le);
          const lo = BigInt(dv.getUint32(q + 4, le));
          const hi = BigInt(dv.getUint32(q + 8, le));
          const u = (hi << 32n) | lo;
          values[i] = {
            name: this.str(vNameOff, id, 'enumerator', i),
            nameOff: vNameOff,
            value: kindFlag ? BigInt.asIntN(64, u) : u,
          };
        }
        return { kind: 'ENUM64', id, name, nameOff, kindFlag, size: sizeOrType, signed: kindFlag, values };
      }
      case 7: return { kind: 'FWD', id, name, nameOff, kindFlag, fwdKind: kindFlag ? 'union' : 'struct' };
      case 12: return { kind: 'FUNC', id, name, nameOff, kindFlag, type: sizeOrType, linkage: vlen };
      case 13: {
        const params = new Array<Param>(vlen);
        for (let i = 0, q = p; i < vlen; i++, q += 8) {
          const pNameOff = dv.getUint32(q, le);
          params[i] = { name: this.str(pNameOff, id, 'parameter', i), nameOff: pNameOff, type: dv.getUint32(q + 4, le) };
        }
        return { kind: 'FUNC_PROTO', id, name, nameOff, kindFlag, returnType: sizeOrType, params };
      }
      case 14: return { kind: 'VAR', id, name, nameOff, kindFlag, type: sizeOrType, linkage: dv.getUint32(p, le) };
      case 15: {
        const vars = new Array<VarSecInfo>(vlen);
        for (let i = 0, q = p; i < vlen; i++, q += 12) {
          vars[i] = { type: dv.getUint32(q, le), offset: dv.getUint32(q + 4, le), size: dv.getUint32(q + 8, le) };
        }
        return { kind: 'DATASEC', id, name, nameOff, kindFlag, size: sizeOrType, vars };
      }
      case 16: return { kind: 'FLOAT', id, name, nameOff, kindFlag, size: sizeOrType };
      case 17: return { kind: 'DECL_TAG', id, name, nameOff, kindFlag, type: sizeOrType, componentIdx: dv.getInt32(p, le) };
      default:
        throw new BtfError(BtfErrorCode.BadKind, `unknown btf kind ${kind}`, { typeId: id, offset: off });
    }
  }
}

/** libbpf btf_parse_str_sec: a base string section starts with NUL, and every section ends with one. */
function checkStringSection(bytes: Uint8Array, h: BtfHeader, isSplit: boolean): void {
  if (h.strLen === 0) {
    if (isSplit) return;
    throw new BtfError(BtfErrorCode.BadStringSection, 'string section is empty (it must hold at least the empty string)', { offset: h.strStart });
  }
  if (bytes[h.strEnd - 1] !== 0) {
    throw new BtfError(BtfErrorCode.BadStringSection, 'string section does not end with a nul byte', { offset: h.strEnd - 1 });
  }
  if (!isSplit && bytes[h.strStart] !== 0) {
    throw new BtfError(
      BtfErrorCode.BadStringSection,
      'string section does not start with a nul byte (split btf read without its base?)',
      { offset: h.strStart },
    );
  }
}

/** The optional layout section: one {info_sz u8, elem_sz u8, flags u16} entry per kind, from kind 0 on. */
function readKindLayouts(dv: DataView, h: BtfHeader): KindLayout[] {
  const out: KindLayout[] = [];
  if (h.layoutLen === 0) return out;
  if (h.layoutLen % 4 !== 0) {
    throw new BtfError(BtfErrorCode.BadSection, `layout section length ${h.layoutLen} is not a multiple of 4`, { offset: 28 });
  }
  for (let off = h.layoutStart; off < h.layoutEnd; off += 4) {
    out.push({ infoSize: dv.getUint8(off), elemSize: dv.getUint8(off + 1), flags: dv.getUint16(off + 2, h.littleEndian) });
  }
  return out;
}

/** True when this machine stores numbers little-endian (every platform node runs on today, but not assumed). */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The type section as host-order u32 words: a zero-copy view when possible (see {@link Btf.typeWords}). */
function typeSectionWords(bytes: Uint8Array, h: BtfHeader): Uint32Array {
  const n = h.typeLen >>> 2;
  const at = bytes.byteOffset + h.typeStart;
  if (h.littleEndian === HOST_LITTLE_ENDIAN && at % 4 === 0) return new Uint32Array(bytes.buffer, at, n);
  const w = new Uint32Array(n);
  new Uint8Array(w.buffer).set(bytes.subarray(h.typeStart, h.typeStart + 4 * n));
  if (h.littleEndian !== HOST_LITTLE_ENDIAN) {
    for (let i = 0; i < n; i++) {
      const v = w[i];
      w[i] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
    }
  }
  return w;
}

/**
 * First pass: record each type's offset, checking every record fits in the type section. Reads the info word
 * from the host-order words (records of known kinds are whole words); a record sized by the layout section may
 * leave later records unaligned, which are then read through the DataView.
 */
function indexTypes(
  dv: DataView,
  words: Uint32Array,
  h: BtfHeader,
  layouts: readonly KindLayout[],
  startId: number,
  limits: BtfLimits,
): { offsets: Uint32Array; count: number } {
  const le = h.littleEndian;
  const start = h.typeStart;
  const end = h.typeEnd;
  let offsets = new Uint32Array(Math.min(Math.floor(h.typeLen / BTF_TYPE_SIZE) + 1, limits.maxTypes + 1));
  let count = 0;
  let off = start;
  while (off < end) {
    const id = startId + count;
    if (off + BTF_TYPE_SIZE > end) {
      throw new BtfError(BtfErrorCode.OutOfBounds, `type record at ${off} is truncated: ${end - off} bytes left, 12 needed`, { typeId: id, offset: off });
    }
    if (id - 1 >= limits.maxTypes) {
      throw new BtfError(BtfErrorCode.LimitExceeded, `more than ${limits.maxTypes} types`, { typeId: id, offset: off });
    }
    const rel = off - start;
    const info = (rel & 3) === 0 ? words[(rel >>> 2) + 1] : dv.getUint32(off + 4, le);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    let extra: number;
    switch (kind) {
      case 2: case 7: case 8: case 9: case 10: case 11: case 12: case 16: case 18: extra = 0; break;
      case 1: case 14: case 17: extra = 4; break;
      case 3: extra = 12; break;
      case 4: case 5: case 15: case 19: extra = 12 * vlen; break;
      case 6: case 13: extra = 8 * vlen; break;
      default: {
        const layout = layouts[kind];
        if (kind === 0 || !layout) {
          throw new BtfError(BtfErrorCode.BadKind, `unknown btf kind ${kind}`, { typeId: id, offset: off });
        }
        extra = layout.infoSize + vlen * layout.elemSize;
      }
    }
    const next = off + BTF_TYPE_SIZE + extra;
    if (next > end) {
      throw new BtfError(
        BtfErrorCode.OutOfBounds,
        `${KIND_NAMES[kind] ?? `kind ${kind}`} with vlen ${vlen} needs ${BTF_TYPE_SIZE + extra} bytes but the type section has ${end - off} left`,
        { typeId: id, offset: off },
      );
    }
    if (count === offsets.length) {
      const grown = new Uint32Array(offsets.length * 2);
      grown.set(offsets);
      offsets = grown;
    }
    offsets[count++] = off;
    off = next;
  }
  return { offsets, count };
}
