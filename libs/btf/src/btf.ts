import { BtfError, BtfErrorCode } from './errors.js';
import { parseHeader, type BtfHeader } from './header.js';
import {
  BTF_TYPE_SIZE, ENUM64_WORDS, ENUM_WORDS, KIND_ELEM_WORDS, KIND_FIXED_WORDS, KIND_KNOWN, KIND_NAMES, MEMBER_WORDS, PARAM_WORDS,
  VAR_SECINFO_WORDS,
} from './kinds.js';
import { infoKind, infoKindFlag, infoVlen, recordData, recordInfo, recordNameOff, recordSizeOrType } from './record.js';
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
   * {@link recordWordIndex}(id) starts the record of own type id, read with the functions of record.ts: that is
   * word `(offsets[i] - header.typeStart) / 4`, except for records that do not start on a word boundary (only
   * possible after a record of a kind sized by the layout section), whose words are copied, realigned, after the
   * section's.
   */
  readonly typeWords: Uint32Array;
  /** Byte offset of the type section in {@link bytes} (header.typeStart). */
  private readonly typeStart: number;
  /** For own types whose record is not word-aligned: the index in {@link typeWords} of its realigned copy. */
  private readonly realigned: Uint32Array | undefined;
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
    this.typeStart = h.typeStart;
    const words = typeSectionWords(bytes, h);
    const { offsets, count, firstUnaligned } = indexTypes(this.dv, words, h, this.kindLayouts, this.startId, limits);
    this.offsets = offsets;
    this.ownTypeCount = count;
    if (firstUnaligned < 0) {
      this.typeWords = words;
      this.realigned = undefined;
    } else {
      const r = realignRecords(bytes, words, h, offsets, count, firstUnaligned);
      this.typeWords = r.words;
      this.realigned = r.index;
    }
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

  /**
   * Index in {@link typeWords} of the first word (name_off) of the record of an own type id: where the readers
   * of record.ts (`recordKind(btf.typeWords, w)`, …) start.
   */
  recordWordIndex(id: number): number {
    const i = id - this.startId;
    const rel = this.offsets[i] - this.typeStart;
    return (rel & 3) === 0 ? rel >>> 2 : (this.realigned as Uint32Array)[i];
  }

  /** The kind number of any type id (base included); 0 for void. */
  kindOf(id: number): number {
    if (id === 0) return 0;
    if (id < this.startId) return this.base ? this.base.kindOf(id) : -1;
    if (id >= this.nextId) return -1;
    // recordKind(typeWords, recordWordIndex(id)), inline: whole-blob scans ask this of every id.
    const i = id - this.startId;
    const rel = this.offsets[i] - this.typeStart;
    return (this.typeWords[((rel & 3) === 0 ? rel >>> 2 : (this.realigned as Uint32Array)[i]) + 1] >>> 24) & 0x1f;
  }

  /** The name offset of any type id (base included) read from its record, without decoding it; 0 for void. */
  nameOffOf(id: number): number {
    if (id === 0) return 0;
    if (id < this.startId) {
      if (this.base) return this.base.nameOffOf(id);
    } else if (id < this.nextId) return recordNameOff(this.typeWords, this.recordWordIndex(id));
    throw new BtfError(BtfErrorCode.BadTypeRef, `type id ${id} is out of range`, { typeId: id });
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
    const words = this.typeWords;
    const w = this.recordWordIndex(id);
    const nameOff = recordNameOff(words, w);
    const info = recordInfo(words, w);
    const sizeOrType = recordSizeOrType(words, w);
    const kind = infoKind(info);
    const vlen = infoVlen(info);
    const kindFlag = infoKindFlag(info);
    const name = this.str(nameOff, id, 'name', -1);
    const p = recordData(w);
    switch (kind) {
      case 1: {
        const v = words[p];
        return { kind: 'INT', id, name, nameOff, kindFlag, size: sizeOrType, encoding: (v >>> 24) & 0x0f, bitsOffset: (v >>> 16) & 0xff, nrBits: v & 0xff };
      }
      case 2: return { kind: 'PTR', id, name, nameOff, kindFlag, type: sizeOrType };
      case 8: return { kind: 'TYPEDEF', id, name, nameOff, kindFlag, type: sizeOrType };
      case 9: return { kind: 'VOLATILE', id, name, nameOff, kindFlag, type: sizeOrType };
      case 10: return { kind: 'CONST', id, name, nameOff, kindFlag, type: sizeOrType };
      case 11: return { kind: 'RESTRICT', id, name, nameOff, kindFlag, type: sizeOrType };
      case 18: return { kind: 'TYPE_TAG', id, name, nameOff, kindFlag, type: sizeOrType };
      case 3:
        return { kind: 'ARRAY', id, name, nameOff, kindFlag, type: words[p], indexType: words[p + 1], nelems: words[p + 2] };
      case 4:
      case 5: {
        // struct btf_member { name_off, type, offset }: with kind_flag, offset holds the bitfield size in its top byte.
        const members = new Array<Member>(vlen);
        for (let i = 0, q = p; i < vlen; i++, q += MEMBER_WORDS) {
          const mNameOff = words[q];
          const raw = words[q + 2];
          members[i] = {
            name: this.str(mNameOff, id, 'member', i),
            nameOff: mNameOff,
            type: words[q + 1],
            bitsOffset: kindFlag ? raw & 0xffffff : raw,
            bitfieldSize: kindFlag ? raw >>> 24 : 0,
          };
        }
        return { kind: kind === 4 ? 'STRUCT' : 'UNION', id, name, nameOff, kindFlag, size: sizeOrType, members };
      }
      case 6: {
        // struct btf_enum { name_off; s32 val }.
        const values = new Array<EnumValue>(vlen);
        for (let i = 0, q = p; i < vlen; i++, q += ENUM_WORDS) {
          const vNameOff = words[q];
          values[i] = {
            name: this.str(vNameOff, id, 'enumerator', i),
            nameOff: vNameOff,
            value: kindFlag ? words[q + 1] | 0 : words[q + 1],
          };
        }
        return { kind: 'ENUM', id, name, nameOff, kindFlag, size: sizeOrType, signed: kindFlag, values };
      }
      case 19: {
        // struct btf_enum64 { name_off, val_lo32, val_hi32 }.
        const values = new Array<Enum64Value>(vlen);
        for (let i = 0, q = p; i < vlen; i++, q += ENUM64_WORDS) {
          const vNameOff = words[q];
          const u = (BigInt(words[q + 2]) << 32n) | BigInt(words[q + 1]);
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
        // struct btf_param { name_off, type }.
        const params = new Array<Param>(vlen);
        for (let i = 0, q = p; i < vlen; i++, q += PARAM_WORDS) {
          const pNameOff = words[q];
          params[i] = { name: this.str(pNameOff, id, 'parameter', i), nameOff: pNameOff, type: words[q + 1] };
        }
        return { kind: 'FUNC_PROTO', id, name, nameOff, kindFlag, returnType: sizeOrType, params };
      }
      case 14: return { kind: 'VAR', id, name, nameOff, kindFlag, type: sizeOrType, linkage: words[p] };
      case 15: {
        // struct btf_var_secinfo { type, offset, size }.
        const vars = new Array<VarSecInfo>(vlen);
        for (let i = 0, q = p; i < vlen; i++, q += VAR_SECINFO_WORDS) {
          vars[i] = { type: words[q], offset: words[q + 1], size: words[q + 2] };
        }
        return { kind: 'DATASEC', id, name, nameOff, kindFlag, size: sizeOrType, vars };
      }
      case 16: return { kind: 'FLOAT', id, name, nameOff, kindFlag, size: sizeOrType };
      case 17: return { kind: 'DECL_TAG', id, name, nameOff, kindFlag, type: sizeOrType, componentIdx: words[p] | 0 };
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
 * from the host-order words (records of known kinds are whole words) and the record's length from the kind
 * table; a record sized by the layout section may leave later records unaligned, which are then read through
 * the DataView (and realigned afterwards: {@link realignRecords}). `firstUnaligned` is the index of the first
 * record that does not start on a word boundary, -1 when every record does.
 */
function indexTypes(
  dv: DataView,
  words: Uint32Array,
  h: BtfHeader,
  layouts: readonly KindLayout[],
  startId: number,
  limits: BtfLimits,
): { offsets: Uint32Array; count: number; firstUnaligned: number } {
  const le = h.littleEndian;
  const start = h.typeStart;
  const end = h.typeEnd;
  let offsets = new Uint32Array(Math.min(Math.floor(h.typeLen / BTF_TYPE_SIZE) + 1, limits.maxTypes + 1));
  let count = 0;
  let firstUnaligned = -1;
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
    // The info word, read inline (see record.ts): one call per field is costly before the JIT warms up.
    let info: number;
    if ((rel & 3) === 0) info = words[(rel >>> 2) + 1];
    else {
      info = dv.getUint32(off + 4, le);
      if (firstUnaligned < 0) firstUnaligned = count;
    }
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    let size = KIND_KNOWN[kind] === 1 ? BTF_TYPE_SIZE + 4 * (KIND_FIXED_WORDS[kind] + vlen * KIND_ELEM_WORDS[kind]) : -1;
    if (size < 0) {
      // A kind the table does not know: only the layout section can size it.
      const layout = layouts[kind];
      if (kind === 0 || !layout) {
        throw new BtfError(BtfErrorCode.BadKind, `unknown btf kind ${kind}`, { typeId: id, offset: off });
      }
      size = BTF_TYPE_SIZE + layout.infoSize + vlen * layout.elemSize;
    }
    const next = off + size;
    if (next > end) {
      throw new BtfError(
        BtfErrorCode.OutOfBounds,
        `${KIND_NAMES[kind] ?? `kind ${kind}`} with vlen ${vlen} needs ${size} bytes but the type section has ${end - off} left`,
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
  return { offsets, count, firstUnaligned };
}

/**
 * The type section's words followed by a realigned, host-order copy of every record that does not start on a
 * word boundary (from `first` on), and, per own type index, where each copy starts. A copy runs to the next
 * record (its last word zero-padded), so the record readers work on every record alike.
 */
function realignRecords(
  bytes: Uint8Array,
  words: Uint32Array,
  h: BtfHeader,
  offsets: Uint32Array,
  count: number,
  first: number,
): { words: Uint32Array; index: Uint32Array } {
  const start = h.typeStart;
  const endOf = (i: number): number => (i + 1 < count ? offsets[i + 1] : h.typeEnd);
  let extra = 0;
  for (let i = first; i < count; i++) if (((offsets[i] - start) & 3) !== 0) extra += Math.ceil((endOf(i) - offsets[i]) / 4);
  const out = new Uint32Array(words.length + extra);
  out.set(words);
  const index = new Uint32Array(count);
  let at = words.length;
  for (let i = first; i < count; i++) {
    const off = offsets[i];
    if (((off - start) & 3) === 0) continue;
    index[i] = at;
    const end = endOf(i);
    for (let b = off; b < end; b += 4, at++) {
      let v = 0;
      for (let k = 0; k < 4; k++) {
        const byte = b + k < end ? bytes[b + k] : 0;
        v |= h.littleEndian ? byte << (8 * k) : byte << (8 * (3 - k));
      }
      out[at] = v >>> 0;
    }
  }
  return { words: out, index };
}
