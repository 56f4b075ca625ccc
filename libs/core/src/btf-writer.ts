/**
 * A raw BTF encoder: typed records in, a valid base BTF blob out (include/uapi/linux/btf.h; the kernel's
 * Documentation/bpf/btf.rst, "2. BTF Type and String Encoding"). The layout is the one libbpf's `btf__raw_data`
 * writes for a BTF it built itself: a 24-byte header (magic 0xeb9f, version 1, flags 0, hdr_len 24), the type
 * section at offset 0 after the header, the string section right after it. The string section starts with the
 * empty string and holds every other name once, in the order the records first use them (a type's name, then
 * its members', enumerators' or parameters' names), as libbpf's `btf__add_*` functions add them: the same
 * records always give the same bytes.
 *
 * libs/btf decodes ({@link Btf.parse}); this is the inverse, for the minimized BTF of min-btf.ts. Records are
 * the decoder's model ({@link BtfType}); their `id` must be their position (1, 2, …) and `nameOff` fields are
 * ignored (offsets are assigned here). Bad records throw {@link BtfError} naming the type id.
 */
import { BtfError, BtfErrorCode } from '@btf-atlas/btf/errors';
import { BTF_MAGIC, BTF_VERSION, BTF_HEADER_MIN_LEN } from '@btf-atlas/btf/header';
import { BtfKind } from '@btf-atlas/btf/kinds';
import type { BtfType } from '@btf-atlas/btf/types';

/** How {@link writeBtf} encodes. */
export interface WriteBtfOptions {
  /** Byte order of the blob (default true: little-endian). */
  littleEndian?: boolean;
  /**
   * How names become bytes: `utf8` (default; the decoder's `name` fields are UTF-8 decoded) or `latin1` (one
   * byte per char: names taken byte for byte with `StringTable.tryGetRaw`, so any byte survives a round trip).
   */
  nameEncoding?: 'utf8' | 'latin1';
}

/** BTF_MAX_VLEN: vlen is 16 bits of the info word. */
const MAX_VLEN = 0xffff;
/** BTF_MAX_TYPE: the largest type id. */
const MAX_TYPE_ID = 0xfffff;
/** A member offset of a kind_flag struct keeps 24 bits for the bit offset and 8 for the bitfield size. */
const MAX_KFLAG_BIT_OFFSET = 0xffffff;

/** Growable little buffer of u32 words; the byte order is applied once at the end. */
class Words {
  private buf = new Uint32Array(256);
  length = 0;

  push(...ws: number[]): void {
    if (this.length + ws.length > this.buf.length) {
      const next = new Uint32Array(Math.max(this.buf.length * 2, this.length + ws.length));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    for (const w of ws) this.buf[this.length++] = w >>> 0;
  }

  view(): Uint32Array {
    return this.buf.subarray(0, this.length);
  }
}

/** The string section under construction: deduplicated, in first-use order, starting with "". */
class Strings {
  private readonly offsets = new Map<string, number>([['', 0]]);
  private readonly parts: Buffer[] = [Buffer.from([0])];
  private size = 1;

  constructor(private readonly encoding: 'utf8' | 'latin1') {}

  /** The offset of `s`, added on first use; "" is offset 0. */
  add(s: string, id: number, what: string): number {
    const known = this.offsets.get(s);
    if (known !== undefined) return known;
    if (s.includes('\0')) throw new BtfError(BtfErrorCode.BadString, `${what} contains a nul character`, { typeId: id });
    const bytes = Buffer.from(s, this.encoding);
    const off = this.size;
    this.parts.push(bytes, Buffer.from([0]));
    this.size += bytes.length + 1;
    this.offsets.set(s, off);
    return off;
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}

/** The info word: vlen in bits 0-15, kind in bits 24-28, kind_flag in bit 31 (BTF_INFO_ENC). */
function info(kind: number, vlen: number, kindFlag: boolean, id: number): number {
  if (!Number.isInteger(vlen) || vlen < 0 || vlen > MAX_VLEN) {
    throw new BtfError(BtfErrorCode.BadType, `vlen ${vlen} does not fit in 16 bits`, { typeId: id });
  }
  return ((kindFlag ? 0x80000000 : 0) | (kind << 24) | vlen) >>> 0;
}

/** Checks a value meant for a u32 field. */
function u32(v: number, id: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new BtfError(BtfErrorCode.BadType, `${what} ${v} is not a u32`, { typeId: id });
  }
  return v;
}

/**
 * Encodes `types` (ids 1..n, in that order) as raw base BTF. Every type reference must name void (0) or one of
 * the records; kind-specific fields must fit their bit fields (a struct without kind_flag has no bitfield sizes).
 * Deterministic: the output depends on the records and options only.
 */
export function writeBtf(types: readonly BtfType[], opts: WriteBtfOptions = {}): Uint8Array {
  const le = opts.littleEndian ?? true;
  if (types.length > MAX_TYPE_ID) {
    throw new BtfError(BtfErrorCode.LimitExceeded, `${types.length} types exceed the btf limit of ${MAX_TYPE_ID}`);
  }
  const strings = new Strings(opts.nameEncoding ?? 'utf8');
  const words = new Words();
  const last = types.length;

  types.forEach((t, i) => {
    const id = i + 1;
    if (t.id !== id) {
      throw new BtfError(BtfErrorCode.BadTypeRef, `record at position ${id} carries id ${t.id} (ids must be 1, 2, … in order)`, { typeId: id });
    }
    const ref = (r: number, what: string): number => {
      if (!Number.isInteger(r) || r < 0 || r > last) {
        throw new BtfError(BtfErrorCode.BadTypeRef, `invalid ${what} type id ${r} (last is ${last})`, { typeId: id });
      }
      return r;
    };
    const name = strings.add(t.name, id, 'name');
    switch (t.kind) {
      case 'INT': {
        if (t.encoding > 0xf || t.bitsOffset > 0xff || t.nrBits > 0xff || t.encoding < 0 || t.bitsOffset < 0 || t.nrBits < 0) {
          throw new BtfError(BtfErrorCode.BadType, 'int encoding, offset or bits out of range', { typeId: id });
        }
        words.push(name, info(BtfKind.INT, 0, t.kindFlag, id), u32(t.size, id, 'size'), (t.encoding << 24) | (t.bitsOffset << 16) | t.nrBits);
        break;
      }
      case 'PTR': case 'TYPEDEF': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'TYPE_TAG':
        words.push(name, info(BtfKind[t.kind], 0, t.kindFlag, id), ref(t.type, 'referenced'));
        break;
      case 'ARRAY':
        words.push(name, info(BtfKind.ARRAY, 0, t.kindFlag, id), 0, ref(t.type, 'element'), ref(t.indexType, 'index'), u32(t.nelems, id, 'nelems'));
        break;
      case 'STRUCT': case 'UNION': {
        words.push(name, info(BtfKind[t.kind], t.members.length, t.kindFlag, id), u32(t.size, id, 'size'));
        t.members.forEach((m, j) => {
          const mName = strings.add(m.name, id, `member ${j} name`);
          let off: number;
          if (t.kindFlag) {
            if (m.bitsOffset < 0 || m.bitsOffset > MAX_KFLAG_BIT_OFFSET || m.bitfieldSize < 0 || m.bitfieldSize > 0xff) {
              throw new BtfError(BtfErrorCode.BadMember, `member ${j}: bit offset ${m.bitsOffset} or bitfield size ${m.bitfieldSize} does not fit a kind_flag member`, { typeId: id });
            }
            off = ((m.bitfieldSize << 24) | m.bitsOffset) >>> 0;
          } else {
            if (m.bitfieldSize !== 0) {
              throw new BtfError(BtfErrorCode.BadMember, `member ${j}: bitfield size ${m.bitfieldSize} needs kind_flag`, { typeId: id });
            }
            off = u32(m.bitsOffset, id, `member ${j} bit offset`);
          }
          words.push(mName, ref(m.type, `member ${j}`), off);
        });
        break;
      }
      case 'ENUM':
        words.push(name, info(BtfKind.ENUM, t.values.length, t.kindFlag, id), u32(t.size, id, 'size'));
        t.values.forEach((v, j) => {
          if (!Number.isInteger(v.value) || v.value < -0x80000000 || v.value > 0xffffffff) {
            throw new BtfError(BtfErrorCode.BadType, `enumerator ${j}: value ${v.value} does not fit in 32 bits`, { typeId: id });
          }
          words.push(strings.add(v.name, id, `enumerator ${j} name`), v.value >>> 0);
        });
        break;
      case 'ENUM64':
        words.push(name, info(BtfKind.ENUM64, t.values.length, t.kindFlag, id), u32(t.size, id, 'size'));
        t.values.forEach((v, j) => {
          if (v.value < -(1n << 63n) || v.value >= 1n << 64n) {
            throw new BtfError(BtfErrorCode.BadType, `enumerator ${j}: value ${v.value} does not fit in 64 bits`, { typeId: id });
          }
          const u = BigInt.asUintN(64, v.value);
          words.push(strings.add(v.name, id, `enumerator ${j} name`), Number(u & 0xffffffffn), Number(u >> 32n));
        });
        break;
      case 'FWD':
        words.push(name, info(BtfKind.FWD, 0, t.kindFlag, id), 0);
        break;
      case 'FUNC':
        words.push(name, info(BtfKind.FUNC, t.linkage, t.kindFlag, id), ref(t.type, 'prototype'));
        break;
      case 'FUNC_PROTO':
        words.push(name, info(BtfKind.FUNC_PROTO, t.params.length, t.kindFlag, id), ref(t.returnType, 'return'));
        t.params.forEach((p, j) => words.push(strings.add(p.name, id, `parameter ${j} name`), ref(p.type, `parameter ${j}`)));
        break;
      case 'VAR':
        words.push(name, info(BtfKind.VAR, 0, t.kindFlag, id), ref(t.type, 'variable'), u32(t.linkage, id, 'linkage'));
        break;
      case 'DATASEC':
        words.push(name, info(BtfKind.DATASEC, t.vars.length, t.kindFlag, id), u32(t.size, id, 'size'));
        t.vars.forEach((v, j) => words.push(ref(v.type, `variable ${j}`), u32(v.offset, id, `variable ${j} offset`), u32(v.size, id, `variable ${j} size`)));
        break;
      case 'FLOAT':
        words.push(name, info(BtfKind.FLOAT, 0, t.kindFlag, id), u32(t.size, id, 'size'));
        break;
      case 'DECL_TAG':
        if (!Number.isInteger(t.componentIdx) || t.componentIdx < -1 || t.componentIdx > 0x7fffffff) {
          throw new BtfError(BtfErrorCode.BadType, `component index ${t.componentIdx} is not -1 or a member/parameter index`, { typeId: id });
        }
        words.push(name, info(BtfKind.DECL_TAG, 0, t.kindFlag, id), ref(t.type, 'tagged'), t.componentIdx >>> 0);
        break;
      default: {
        const unknown: { kind?: unknown } = t;
        throw new BtfError(BtfErrorCode.BadKind, `unknown btf kind ${String(unknown.kind)}`, { typeId: id });
      }
    }
  });

  const typeWords = words.view();
  const str = strings.bytes();
  const typeLen = typeWords.length * 4;
  const out = new Uint8Array(BTF_HEADER_MIN_LEN + typeLen + str.length);
  const dv = new DataView(out.buffer);
  // struct btf_header { u16 magic; u8 version; u8 flags; u32 hdr_len; u32 type_off, type_len, str_off, str_len; }
  dv.setUint16(0, BTF_MAGIC, le);
  dv.setUint8(2, BTF_VERSION);
  dv.setUint8(3, 0);
  dv.setUint32(4, BTF_HEADER_MIN_LEN, le);
  dv.setUint32(8, 0, le);
  dv.setUint32(12, typeLen, le);
  dv.setUint32(16, typeLen, le);
  dv.setUint32(20, str.length, le);
  for (let i = 0; i < typeWords.length; i++) dv.setUint32(BTF_HEADER_MIN_LEN + i * 4, typeWords[i], le);
  out.set(str, BTF_HEADER_MIN_LEN + typeLen);
  return out;
}
