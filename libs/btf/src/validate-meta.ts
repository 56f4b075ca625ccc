import type { Btf } from './btf.js';
import { BtfError, BtfErrorCode } from './errors.js';
import { BTF_KIND_MAX, BtfKind, KIND_NAMES } from './kinds.js';

/**
 * Shared state of one kernel-strict validation (see validate.ts), and the first pass: the per-type "meta"
 * checks the kernel makes while it walks the type section (kernel/bpf/btf.c btf_check_all_metas and each
 * kind's check_meta). Records are read straight from the blob through `btf.dv`/`btf.offsets`; no type
 * objects are built.
 */

/** Largest type id the kernel accepts (include/uapi/linux/btf.h BTF_MAX_TYPE). */
export const BTF_MAX_TYPE = 0xfffff;
/** Largest string offset the kernel accepts (BTF_MAX_NAME_OFFSET). */
export const BTF_MAX_NAME_OFFSET = 0xffffff;
/** Longest identifier the kernel accepts (KSYM_NAME_LEN since Linux 6.1). */
export const KSYM_NAME_LEN = 512;
/** Bits of `info` the kernel defines: kind_flag, kind, vlen (BTF_INFO_MASK). */
const BTF_INFO_MASK = 0x9f00ffff;
/** Bits of an INT's extra word the kernel defines (BTF_INT_MASK). */
const BTF_INT_MASK = 0x0fffffff;

/** Kind numbers, for readability of the switch statements below. */
export const K = BtfKind;

/** Visit states of the resolve pass (kernel enum visit_state). */
export const NOT_VISITED = 0;
export const VISITED = 1;
export const RESOLVED = 2;

const CACHE_UNKNOWN = 0;
const CACHE_VALID = 1;
const CACHE_INVALID = 2;

/** The kind name as the validator's messages print it (`ptr`, `struct`, `func_proto`, `kind 25`). */
export function kindName(kind: number): string {
  return kind > 0 && kind <= BTF_KIND_MAX ? KIND_NAMES[kind].toLowerCase() : kind === 0 ? 'void' : `kind ${kind}`;
}

/**
 * Per-blob validation state: raw accessors for every type id of the blob and its base, and the results of
 * resolution (resolved id and size per type, as the kernel keeps them in btf->resolved_ids/resolved_sizes).
 * The base of a split BTF is validated first and its context is reused (ids below `start` are answered by it).
 */
export class ValidationContext {
  readonly btf: Btf;
  readonly base: ValidationContext | undefined;
  readonly dv: DataView;
  readonly le: boolean;
  /** First own type id. */
  readonly start: number;
  /** One past the last type id (base included). */
  readonly next: number;
  readonly count: number;
  /** `info` and `size`/`type` words of every own type, indexed by id - start. */
  readonly info: Uint32Array;
  readonly sot: Uint32Array;
  readonly resolvedIds: Uint32Array;
  readonly resolvedSizes: Uint32Array;
  readonly visit: Uint8Array;
  /** Pointer size of the target, guessed like libbpf does from the size of `long` (default 8). */
  ptrSize = 8;
  private readonly strBytes: Uint8Array;
  private readonly strStart: number;
  private readonly strEnd: number;
  private readonly strFirstOff: number;
  private readonly identCache: Uint8Array;

  constructor(btf: Btf, base: ValidationContext | undefined) {
    this.btf = btf;
    this.base = base;
    this.dv = btf.dv;
    this.le = btf.littleEndian;
    this.start = btf.startId;
    this.next = btf.nextId;
    this.count = btf.ownTypeCount;
    this.info = new Uint32Array(this.count);
    this.sot = new Uint32Array(this.count);
    for (let i = 0; i < this.count; i++) {
      const off = btf.offsets[i];
      this.info[i] = this.dv.getUint32(off + 4, this.le);
      this.sot[i] = this.dv.getUint32(off + 8, this.le);
    }
    this.resolvedIds = new Uint32Array(this.count);
    this.resolvedSizes = new Uint32Array(this.count);
    this.visit = new Uint8Array(this.count);
    this.strBytes = btf.bytes;
    this.strStart = btf.header.strStart;
    this.strEnd = btf.header.strEnd;
    this.strFirstOff = btf.strings.startOffset;
    this.identCache = new Uint8Array(this.strEnd - this.strStart);
    this.ptrSize = base ? base.ptrSize : 8;
  }

  /** The context that owns `id` (this blob or a base). Callers check the id is in range. */
  ownerOf(id: number): ValidationContext {
    return id < this.start && this.base ? this.base.ownerOf(id) : this;
  }

  /** True when `id` is void or names a type of this blob or its base. */
  exists(id: number): boolean {
    return id < this.next;
  }

  /** Kind of any id: 0 for void, -1 when out of range. */
  kindOf(id: number): number {
    if (id === 0) return 0;
    if (id >= this.next) return -1;
    if (id < this.start) return this.base ? this.base.kindOf(id) : -1;
    return (this.info[id - this.start] >>> 24) & 0x1f;
  }

  infoOf(id: number): number {
    if (id === 0) return 0;
    if (id < this.start) return this.base ? this.base.infoOf(id) : 0;
    return this.info[id - this.start];
  }

  /** The `size`/`type` word of any id (0 for void). */
  sotOf(id: number): number {
    if (id === 0) return 0;
    if (id < this.start) return this.base ? this.base.sotOf(id) : 0;
    return this.sot[id - this.start];
  }

  /** Byte offset of the kind-specific data after the common record of any (non-void) id, in `ownerOf(id).dv`. */
  extraOff(id: number): number {
    const c = this.ownerOf(id);
    return c.btf.offsets[id - c.start] + 12;
  }

  /** u32 at `off` of the owner of `id`. */
  u32(id: number, off: number): number {
    const c = this.ownerOf(id);
    return c.dv.getUint32(off, c.le);
  }

  isResolved(id: number): boolean {
    if (id < this.start) return true;
    return this.visit[id - this.start] === RESOLVED;
  }

  resolvedId(id: number): number {
    if (id < this.start) return this.base ? this.base.resolvedId(id) : 0;
    return this.resolvedIds[id - this.start];
  }

  resolvedSize(id: number): number {
    if (id < this.start) return this.base ? this.base.resolvedSize(id) : 0;
    return this.resolvedSizes[id - this.start];
  }

  /** btf_name_offset_valid: the offset lies in the string section of this blob or its base. */
  nameOffsetValid(off: number): boolean {
    return off <= BTF_MAX_NAME_OFFSET && off < this.btf.strings.endOffset;
  }

  /** The string at a valid offset, for messages (latin1, at most 64 chars). */
  nameAt(off: number): string {
    const s = this.btf.strings.tryGetRaw(off) ?? '';
    return s.length > 64 ? `${s.slice(0, 64)}…` : s;
  }

  /**
   * btf_name_valid_identifier: a C-style identifier (letters, digits, `_`, and `.` which current kernels
   * allow for compiler-made names), not starting with a digit, at most KSYM_NAME_LEN bytes. The offset must
   * be valid. Letters are those of the kernel's ctype table (ASCII and Latin-1).
   */
  validIdentifier(off: number): boolean {
    if (off < this.strFirstOff) return this.base ? this.base.validIdentifier(off) : false;
    const rel = off - this.strFirstOff;
    const cached = this.identCache[rel];
    if (cached !== CACHE_UNKNOWN) return cached === CACHE_VALID;
    const ok = scanIdentifier(this.strBytes, this.strStart + rel, this.strEnd);
    this.identCache[rel] = ok ? CACHE_VALID : CACHE_INVALID;
    return ok;
  }

  /** btf_name_valid_section: a non-empty run of printable characters, at most KSYM_NAME_LEN bytes. */
  validSectionName(off: number): boolean {
    if (off < this.strFirstOff) return this.base ? this.base.validSectionName(off) : false;
    const b = this.strBytes;
    let p = this.strStart + (off - this.strFirstOff);
    if (p >= this.strEnd || b[p] === 0) return false;
    const limit = Math.min(p + KSYM_NAME_LEN, this.strEnd);
    for (; p < limit && b[p] !== 0; p++) if (!isPrint(b[p])) return false;
    return p < this.strEnd && b[p] === 0;
  }

  /** True when the string at a valid offset is non-empty. */
  nonEmptyName(off: number): boolean {
    if (off < this.strFirstOff) return this.base ? this.base.nonEmptyName(off) : false;
    const p = this.strStart + (off - this.strFirstOff);
    return p < this.strEnd && this.strBytes[p] !== 0;
  }

  /** Throws a BtfError about type `id`. */
  fail(code: BtfErrorCode, id: number, reason: string): never {
    throw new BtfError(code, reason, { typeId: id });
  }
}

// Character classes of the kernel's ctype table (ASCII plus Latin-1 letters, 0xc0-0xff without × and ÷):
// 1 may start an identifier (letter, `_`, `.`), 2 may continue one (also digits), 4 printable.
const FIRST = 1;
const REST = 2;
const PRINT = 4;
const CHAR_CLASS = (() => {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) {
    const alpha = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0xc0 && c !== 0xd7 && c !== 0xf7);
    const digit = c >= 0x30 && c <= 0x39;
    if (alpha || c === 0x5f || c === 0x2e) t[c] |= FIRST | REST;
    if (digit) t[c] |= REST;
    if ((c >= 0x20 && c <= 0x7e) || c >= 0xa0) t[c] |= PRINT;
  }
  return t;
})();

function isPrint(c: number): boolean {
  return (CHAR_CLASS[c] & PRINT) !== 0;
}

function scanIdentifier(b: Uint8Array, p: number, end: number): boolean {
  if (p >= end || (CHAR_CLASS[b[p]] & FIRST) === 0) return false;
  const limit = Math.min(p + KSYM_NAME_LEN, end);
  for (p++; p < limit; p++) {
    const c = b[p];
    if (c === 0) return true;
    if ((CHAR_CLASS[c] & REST) === 0) return false;
  }
  return p < end && b[p] === 0;
}

/** Options of the meta pass that soften rules newer kernels relaxed. */
export interface MetaRules {
  /** Accept kind_flag on DECL_TAG and TYPE_TAG (attribute tags, Linux 6.14+). Default true. */
  tagKindFlag: boolean;
}

/**
 * Pass 1 (btf_check_all_metas): every own type record on its own, in id order. Reference targets are only
 * checked for range here (BTF_TYPE_ID_VALID); existence and kinds are the resolve pass's job, as in the kernel.
 */
export function checkAllMetas(ctx: ValidationContext, rules: MetaRules): void {
  const { dv, le, btf } = ctx;
  for (let i = 0; i < ctx.count; i++) {
    const id = ctx.start + i;
    const off = btf.offsets[i];
    const nameOff = dv.getUint32(off, le);
    const info = ctx.info[i];
    const kind = (info >>> 24) & 0x1f;
    if ((info & ~BTF_INFO_MASK) !== 0) {
      ctx.fail(BtfErrorCode.BadType, id, `invalid btf_info 0x${(info >>> 0).toString(16)}: reserved bits are set`);
    }
    if (kind === 0 || kind > BTF_KIND_MAX) ctx.fail(BtfErrorCode.BadKind, id, `unknown btf kind ${kind}`);
    if (!ctx.nameOffsetValid(nameOff)) ctx.fail(BtfErrorCode.BadString, id, `invalid name offset ${nameOff}`);
    checkMeta(ctx, id, kind, nameOff, info, ctx.sot[i], off + 12, rules);
  }
}

function checkMeta(ctx: ValidationContext, id: number, kind: number, nameOff: number, info: number, sot: number, p: number, rules: MetaRules): void {
  const vlen = info & 0xffff;
  const kflag = (info & 0x80000000) !== 0;
  const { dv, le } = ctx;
  switch (kind) {
    case K.INT: {
      noVlen(ctx, id, kind, vlen);
      noKflag(ctx, id, kind, kflag);
      const data = dv.getUint32(p, le);
      if ((data & ~BTF_INT_MASK) !== 0) ctx.fail(BtfErrorCode.BadType, id, `invalid int data 0x${(data >>> 0).toString(16)}: reserved bits are set`);
      const bits = data & 0xff;
      const bitOff = (data >>> 16) & 0xff;
      const enc = (data >>> 24) & 0x0f;
      if (bits + bitOff > 128) ctx.fail(BtfErrorCode.BadType, id, `int nr_bits ${bits} + bits_offset ${bitOff} exceeds 128`);
      if (Math.ceil((bits + bitOff) / 8) > sot) ctx.fail(BtfErrorCode.BadType, id, `int nr_bits ${bits} + bits_offset ${bitOff} exceed its size of ${sot} bytes`);
      if (enc !== 0 && enc !== 1 && enc !== 2 && enc !== 4) ctx.fail(BtfErrorCode.BadType, id, `unsupported int encoding ${enc}`);
      return;
    }
    case K.PTR: case K.TYPEDEF: case K.VOLATILE: case K.CONST: case K.RESTRICT: case K.TYPE_TAG:
      noVlen(ctx, id, kind, vlen);
      if (!(kind === K.TYPE_TAG && rules.tagKindFlag)) noKflag(ctx, id, kind, kflag);
      if (sot > BTF_MAX_TYPE) ctx.fail(BtfErrorCode.BadTypeRef, id, `invalid referenced type id ${sot}`);
      if (kind === K.TYPEDEF) identifier(ctx, id, 'typedef', nameOff, false);
      else if (kind === K.TYPE_TAG) {
        if (!ctx.nonEmptyName(nameOff)) ctx.fail(BtfErrorCode.BadString, id, 'type_tag needs a non-empty value');
      } else anonymous(ctx, id, kind, nameOff);
      return;
    case K.ARRAY: {
      anonymous(ctx, id, kind, nameOff);
      noVlen(ctx, id, kind, vlen);
      noKflag(ctx, id, kind, kflag);
      if (sot !== 0) ctx.fail(BtfErrorCode.BadType, id, `array has size ${sot}, must be 0`);
      const elem = dv.getUint32(p, le);
      const index = dv.getUint32(p + 4, le);
      if (elem === 0 || elem > BTF_MAX_TYPE) ctx.fail(BtfErrorCode.BadTypeRef, id, `invalid array element type id ${elem}`);
      if (index === 0 || index > BTF_MAX_TYPE) ctx.fail(BtfErrorCode.BadTypeRef, id, `invalid array index type id ${index}`);
      return;
    }
    case K.STRUCT: case K.UNION: {
      identifier(ctx, id, kind === K.UNION ? 'union' : 'struct', nameOff, true);
      const isUnion = kind === K.UNION;
      let last = 0;
      for (let j = 0, q = p; j < vlen; j++, q += 12) {
        const mName = dv.getUint32(q, le);
        const mType = dv.getUint32(q + 4, le);
        const raw = dv.getUint32(q + 8, le);
        if (!ctx.nameOffsetValid(mName)) ctx.fail(BtfErrorCode.BadString, id, `member ${j}: invalid name offset ${mName}`);
        if (mName !== 0 && !ctx.validIdentifier(mName)) ctx.fail(BtfErrorCode.BadString, id, `member ${j} name '${ctx.nameAt(mName)}' is not a valid identifier`);
        if (mType === 0 || mType > BTF_MAX_TYPE) ctx.fail(BtfErrorCode.BadTypeRef, id, `${memberWhere(ctx, j, mName)}: invalid type id ${mType}`);
        const bitOff = kflag ? raw & 0xffffff : raw;
        if (isUnion && bitOff !== 0) ctx.fail(BtfErrorCode.BadMember, id, `${memberWhere(ctx, j, mName)}: union member has bits_offset ${bitOff}, must be 0`);
        if (last > bitOff) ctx.fail(BtfErrorCode.BadMember, id, `${memberWhere(ctx, j, mName)}: bits_offset ${bitOff} is below the previous member's ${last}`);
        if (Math.ceil(bitOff / 8) > sot) {
          ctx.fail(BtfErrorCode.BadMember, id, `${memberWhere(ctx, j, mName)}: bits_offset ${bitOff} lies past the ${sot}-byte ${isUnion ? 'union' : 'struct'}`);
        }
        last = bitOff;
      }
      return;
    }
    case K.ENUM: case K.ENUM64: {
      if (sot > 8 || sot === 0 || (sot & (sot - 1)) !== 0) ctx.fail(BtfErrorCode.BadType, id, `${kindName(kind)} has size ${sot}, must be 1, 2, 4 or 8`);
      identifier(ctx, id, 'enum', nameOff, true);
      const step = kind === K.ENUM ? 8 : 12;
      for (let j = 0, q = p; j < vlen; j++, q += step) {
        const vName = dv.getUint32(q, le);
        if (!ctx.nameOffsetValid(vName)) ctx.fail(BtfErrorCode.BadString, id, `enumerator ${j}: invalid name offset ${vName}`);
        if (vName === 0 || !ctx.validIdentifier(vName)) identifier(ctx, id, `enumerator ${j}`, vName, false);
      }
      return;
    }
    case K.FWD:
      noVlen(ctx, id, kind, vlen);
      if (sot !== 0) ctx.fail(BtfErrorCode.BadType, id, `fwd has type ${sot}, must be 0`);
      identifier(ctx, id, 'fwd', nameOff, false);
      return;
    case K.FUNC_PROTO:
      anonymous(ctx, id, kind, nameOff);
      noKflag(ctx, id, kind, kflag);
      return;
    case K.FUNC:
      identifier(ctx, id, 'func', nameOff, false);
      if (vlen > 1) ctx.fail(BtfErrorCode.BadType, id, `invalid func linkage ${vlen} (0 static or 1 global)`);
      noKflag(ctx, id, kind, kflag);
      return;
    case K.VAR: {
      noVlen(ctx, id, kind, vlen);
      noKflag(ctx, id, kind, kflag);
      identifier(ctx, id, 'var', nameOff, false);
      if (sot === 0 || sot > BTF_MAX_TYPE) ctx.fail(BtfErrorCode.BadTypeRef, id, `invalid var type id ${sot}`);
      const linkage = dv.getUint32(p, le);
      if (linkage !== 0 && linkage !== 1) ctx.fail(BtfErrorCode.BadType, id, `var linkage ${linkage} not supported (0 static or 1 global)`);
      return;
    }
    case K.DATASEC: {
      if (sot === 0) ctx.fail(BtfErrorCode.BadType, id, 'datasec has size 0');
      noKflag(ctx, id, kind, kflag);
      if (nameOff === 0 || !ctx.validSectionName(nameOff)) ctx.fail(BtfErrorCode.BadString, id, `datasec name '${ctx.nameAt(nameOff)}' is not a valid section name`);
      let lastEnd = 0;
      let sum = 0;
      for (let j = 0, q = p; j < vlen; j++, q += 12) {
        const vType = dv.getUint32(q, le);
        const vOff = dv.getUint32(q + 4, le);
        const vSize = dv.getUint32(q + 8, le);
        if (vType === 0 || vType > BTF_MAX_TYPE) ctx.fail(BtfErrorCode.BadTypeRef, id, `datasec var ${j}: invalid type id ${vType}`);
        if (vOff < lastEnd || vOff >= sot) ctx.fail(BtfErrorCode.BadType, id, `datasec var ${j}: invalid offset ${vOff}`);
        if (vSize === 0 || vSize > sot) ctx.fail(BtfErrorCode.BadType, id, `datasec var ${j}: invalid size ${vSize}`);
        lastEnd = vOff + vSize;
        if (lastEnd > sot) ctx.fail(BtfErrorCode.BadType, id, `datasec var ${j}: offset ${vOff} + size ${vSize} exceeds the section size ${sot}`);
        sum += vSize;
      }
      if (sum > sot) ctx.fail(BtfErrorCode.BadType, id, `datasec vars add up to ${sum} bytes, more than its size ${sot}`);
      return;
    }
    case K.FLOAT:
      noVlen(ctx, id, kind, vlen);
      noKflag(ctx, id, kind, kflag);
      if (sot !== 2 && sot !== 4 && sot !== 8 && sot !== 12 && sot !== 16) ctx.fail(BtfErrorCode.BadType, id, `float has size ${sot}, must be 2, 4, 8, 12 or 16`);
      return;
    case K.DECL_TAG: {
      if (!ctx.nonEmptyName(nameOff)) ctx.fail(BtfErrorCode.BadString, id, 'decl_tag needs a non-empty value');
      noVlen(ctx, id, kind, vlen);
      if (!rules.tagKindFlag) noKflag(ctx, id, kind, kflag);
      if (sot > BTF_MAX_TYPE) ctx.fail(BtfErrorCode.BadTypeRef, id, `invalid referenced type id ${sot}`);
      const idx = dv.getInt32(p, le);
      if (idx < -1) ctx.fail(BtfErrorCode.BadType, id, `invalid decl_tag component_idx ${idx}`);
      return;
    }
    default:
      ctx.fail(BtfErrorCode.BadKind, id, `unknown btf kind ${kind}`);
  }
}

function noVlen(ctx: ValidationContext, id: number, kind: number, vlen: number): void {
  if (vlen !== 0) ctx.fail(BtfErrorCode.BadType, id, `${kindName(kind)} has vlen ${vlen}, must be 0`);
}

function noKflag(ctx: ValidationContext, id: number, kind: number, kflag: boolean): void {
  if (kflag) ctx.fail(BtfErrorCode.BadType, id, `${kindName(kind)} has kind_flag set, must be 0`);
}

function anonymous(ctx: ValidationContext, id: number, kind: number, nameOff: number): void {
  if (nameOff !== 0) ctx.fail(BtfErrorCode.BadType, id, `${kindName(kind)} must be anonymous, has name '${ctx.nameAt(nameOff)}'`);
}

/** A required (or, when `optional`, possibly absent) name that must be a valid identifier. */
function identifier(ctx: ValidationContext, id: number, what: string, off: number, optional: boolean): void {
  if (off === 0) {
    if (optional) return;
    ctx.fail(BtfErrorCode.BadString, id, `${what} needs a name`);
  }
  if (!ctx.validIdentifier(off)) ctx.fail(BtfErrorCode.BadString, id, `${what} name '${ctx.nameAt(off)}' is not a valid identifier`);
}

function memberWhere(ctx: ValidationContext, j: number, nameOff: number): string {
  return nameOff !== 0 && ctx.nameOffsetValid(nameOff) ? `member ${j} '${ctx.nameAt(nameOff)}'` : `member ${j}`;
}
