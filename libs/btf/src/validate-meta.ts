import type { Btf } from './btf.js';
import { BtfError, BtfErrorCode } from './errors.js';
import { BTF_KIND_MAX, BTF_TYPE_WORDS, BtfKind, ENUM64_WORDS, ENUM_WORDS, KIND_NAMES, MEMBER_WORDS, VAR_SECINFO_WORDS } from './kinds.js';
import { infoKind, infoKindFlag, infoVlen, recordData, recordInfo, recordNameOff, recordSizeOrType } from './record.js';

/**
 * Shared state of one kernel-strict validation (see validate.ts), and its first pass: the per-type "meta"
 * checks the kernel makes while it walks the type section (kernel/bpf/btf.c btf_check_all_metas and each
 * kind's check_meta). Everything is kept in flat typed arrays indexed by type id (no per-type objects), and
 * records are read as host-order u32 words ({@link Btf.typeWords}), so one pass over the section does it.
 */

/** Largest type id the kernel accepts (include/uapi/linux/btf.h BTF_MAX_TYPE). */
export const BTF_MAX_TYPE = 0xfffff;
/** Largest string offset the kernel accepts (BTF_MAX_NAME_OFFSET). */
export const BTF_MAX_NAME_OFFSET = 0xffffff;
/** Longest identifier the kernel accepts (KSYM_NAME_LEN since Linux 6.1). */
export const KSYM_NAME_LEN = 512;
/** Bits of `info` the kernel leaves undefined (the complement of BTF_INFO_MASK 0x9f00ffff). */
const INFO_RESERVED = 0x60ff0000;
/** Bits of an INT's extra word the kernel leaves undefined (the complement of BTF_INT_MASK 0x0fffffff). */
const INT_RESERVED = 0xf0000000;

/** Kind numbers, for readability of the switch statements. */
export const K = BtfKind;

/** Visit states of the resolve pass (the kernel's NOT_VISITED, VISITED, RESOLVED). */
export const NOT_VISITED = 0;
export const VISITED = 1;
export const RESOLVED = 2;

/** The kind name as the validator's messages print it (`ptr`, `struct`, `func_proto`, `kind 25`). */
export function kindName(kind: number): string {
  return kind > 0 && kind <= BTF_KIND_MAX ? KIND_NAMES[kind].toLowerCase() : kind === 0 ? 'void' : `kind ${kind}`;
}

/**
 * Per-blob validation state. Every array is indexed by type id over [0, next): for split BTF the base's
 * entries are copied in (the base is validated first), so a lookup never has to ask which blob owns an id.
 * `resolvedIds`/`resolvedSizes` are what the kernel keeps in btf->resolved_ids/resolved_sizes.
 */
/** Type-id-indexed tables of a split blob on a base (see {@link ValidationContext.splitTables}). */
interface SplitTables {
  words: Uint32Array;
  kinds: Uint8Array;
  infos: Uint32Array;
  sots: Uint32Array;
  wordAt: Uint32Array;
  resolvedIds: Uint32Array;
  resolvedSizes: Uint32Array;
  visit: Uint8Array;
}

export class ValidationContext {
  readonly btf: Btf;
  readonly base: ValidationContext | undefined;
  /** First own type id. */
  readonly start: number;
  /** One past the last type id (base included). */
  readonly next: number;
  readonly count: number;
  /** Type-section words of the base chain, then of this blob. */
  readonly words: Uint32Array;
  /** Index in {@link words} of each type's record (its name_off word). */
  readonly wordAt: Uint32Array;
  readonly kinds: Uint8Array;
  readonly infos: Uint32Array;
  /** The `size`/`type` word of each type. */
  readonly sots: Uint32Array;
  readonly resolvedIds: Uint32Array;
  readonly resolvedSizes: Uint32Array;
  readonly visit: Uint8Array;
  /** Pointer size of the target, guessed like libbpf does from the size of `long` (default 8). */
  ptrSize = 8;
  /** Index in {@link words} of this blob's first word. */
  readonly ownWordBase: number;
  /** String offsets below this are the base's. */
  readonly strFirstOff: number;
  /** One past the last valid string offset (base included). */
  readonly strLimit: number;
  private readonly strBytes: Uint8Array;
  private readonly strStart: number;
  private readonly strEnd: number;
  /** Per own string offset: 1 when the string from there cannot be an identifier whatever its first byte (see {@link spoiledOffsets}). */
  private readonly spoiled: Uint8Array;

  constructor(btf: Btf, base: ValidationContext | undefined) {
    this.btf = btf;
    this.base = base;
    this.start = btf.startId;
    this.next = btf.nextId;
    this.count = btf.ownTypeCount;
    const n = this.next;
    const own = btf.typeWords;
    if (base) {
      // Split BTF (a module on its vmlinux): the tables are indexed by type id, base ids first. The base's part is
      // copied once into scratch tables the base keeps; each split blob validated on it rewrites only its own part
      // (a kernel with a thousand modules copied the base's ~7 MB a thousand times). Validation is synchronous, so
      // one split blob at a time uses the scratch; its context is not kept (see {@link sharesBaseTables}).
      const t = base.splitTables(n, own.length);
      const b = base.next;
      const w = base.words.length;
      this.words = t.words.subarray(0, w + own.length);
      this.words.set(own, w);
      this.ownWordBase = w;
      this.kinds = t.kinds.subarray(0, n);
      this.infos = t.infos.subarray(0, n);
      this.sots = t.sots.subarray(0, n);
      this.wordAt = t.wordAt.subarray(0, n);
      this.resolvedIds = t.resolvedIds.subarray(0, n);
      this.resolvedSizes = t.resolvedSizes.subarray(0, n);
      this.visit = t.visit.subarray(0, n);
      for (const a of [this.kinds, this.infos, this.sots, this.wordAt, this.resolvedIds, this.resolvedSizes, this.visit]) a.fill(0, b, n);
      this.ptrSize = base.ptrSize;
      this.sharesBaseTables = true;
    } else {
      this.kinds = new Uint8Array(n);
      this.infos = new Uint32Array(n);
      this.sots = new Uint32Array(n);
      this.wordAt = new Uint32Array(n);
      this.resolvedIds = new Uint32Array(n);
      this.resolvedSizes = new Uint32Array(n);
      this.visit = new Uint8Array(n);
      this.words = own;
      this.ownWordBase = 0;
    }
    this.strBytes = btf.bytes;
    this.strStart = btf.header.strStart;
    this.strEnd = btf.header.strEnd;
    this.strFirstOff = btf.strings.startOffset;
    this.strLimit = Math.min(btf.strings.endOffset, BTF_MAX_NAME_OFFSET + 1);
    this.spoiled = spoiledOffsets(btf.strings.latin1());
  }

  /**
   * True for a split blob's context, whose tables are views of its base's scratch tables: valid until the next
   * split blob is validated on the same base, so it is used once and never kept.
   */
  readonly sharesBaseTables: boolean = false;

  private scratch?: SplitTables;

  /**
   * Tables for a split blob of `n` type ids (base included) and `ownWords` record words, with this context's part
   * (ids below {@link next}, its words) already filled in; grown as needed, reused by every split blob on this base.
   */
  splitTables(n: number, ownWords: number): SplitTables {
    const w = this.words.length;
    let t = this.scratch;
    if (!t || t.kinds.length < n || t.words.length < w + ownWords) {
      const ids = Math.max(n, t ? t.kinds.length : 0, this.next + 65_536);
      const words = Math.max(w + ownWords, t ? t.words.length : 0, w + 1_048_576);
      const b = this.next;
      t = {
        words: new Uint32Array(words),
        kinds: new Uint8Array(ids),
        infos: new Uint32Array(ids),
        sots: new Uint32Array(ids),
        wordAt: new Uint32Array(ids),
        resolvedIds: new Uint32Array(ids),
        resolvedSizes: new Uint32Array(ids),
        visit: new Uint8Array(ids),
      };
      t.words.set(this.words);
      t.kinds.set(this.kinds.subarray(0, b));
      t.infos.set(this.infos.subarray(0, b));
      t.sots.set(this.sots.subarray(0, b));
      t.wordAt.set(this.wordAt.subarray(0, b));
      t.resolvedIds.set(this.resolvedIds.subarray(0, b));
      t.resolvedSizes.set(this.resolvedSizes.subarray(0, b));
      t.visit.fill(RESOLVED, 1, b);
      this.scratch = t;
    }
    return t;
  }

  /** Kind of any id: 0 for void, -1 when out of range. */
  kindOf(id: number): number {
    return id < this.next ? this.kinds[id] : -1;
  }

  /** True when `id` is a base type or an own type the resolve pass finished (env_type_is_resolved). */
  isResolved(id: number): boolean {
    return id < this.start || this.visit[id] === RESOLVED;
  }

  /** btf_name_offset_valid: the offset lies in the string section of this blob or its base. */
  nameOffsetValid(off: number): boolean {
    return off < this.strLimit;
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
    const rel = off - this.strFirstOff;
    if (rel >= 0) return (CHAR_CLASS[this.strBytes[this.strStart + rel]] & FIRST) !== 0 && this.spoiled[rel] === 0;
    return this.base ? this.base.validIdentifier(off) : false;
  }

  /** btf_name_valid_section: a non-empty run of printable characters, at most KSYM_NAME_LEN bytes. */
  validSectionName(off: number): boolean {
    if (off < this.strFirstOff) return this.base ? this.base.validSectionName(off) : false;
    const b = this.strBytes;
    let p = this.strStart + (off - this.strFirstOff);
    if (p >= this.strEnd || b[p] === 0) return false;
    const limit = Math.min(p + KSYM_NAME_LEN, this.strEnd);
    for (; p < limit && b[p] !== 0; p++) if ((CHAR_CLASS[b[p]] & PRINT) === 0) return false;
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
// 1 may start an identifier (letter, `_`, `.`), 2 may continue one (also digits), 4 printable (isprint).
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

/** A character that may not continue an identifier (all but NUL, letters, digits, `_` and `.`; see CHAR_CLASS). */
const NOT_REST_CHAR = /[^\0A-Za-z0-9_.\xc0-\xd6\xd8-\xf6\xf8-\xff]/g;

/**
 * For every offset of the string section at once: 1 when the string starting there cannot be an identifier
 * whatever its first character, because a later character may not continue one (a space, `-`, `*`, a control
 * byte…) or because more than KSYM_NAME_LEN characters come before its NUL. With a first character that may
 * start an identifier, the other offsets name valid identifiers (btf_name_valid_identifier). Offsets may point
 * into the middle of a string, so every offset gets an answer. `text` is the section with one char per byte;
 * the scanning is done by the regular expression engine and `indexOf` (native code even on a cold start), so
 * JS touches only the strings that are spoiled and one step per string.
 */
function spoiledOffsets(text: string): Uint8Array {
  const n = text.length;
  const out = new Uint8Array(n);
  // A bad character spoils the offsets from its string's start up to itself; runs of them in one string are
  // marked once, up to the last.
  let first = 0;
  let end = -1;
  let last = -1;
  NOT_REST_CHAR.lastIndex = 0;
  for (let m = NOT_REST_CHAR.exec(text); m !== null; m = NOT_REST_CHAR.exec(text)) {
    const q = m.index;
    if (q >= end) {
      if (last >= 0) out.fill(1, first, last + 1);
      first = text.lastIndexOf('\0', q) + 1;
      end = text.indexOf('\0', q);
      if (end < 0) end = n;
    }
    last = q;
  }
  if (last >= 0) out.fill(1, first, last + 1);
  // Too long: the offsets with more than KSYM_NAME_LEN characters before the NUL.
  for (let p = 0; p < n;) {
    let nul = text.indexOf('\0', p);
    if (nul < 0) nul = n;
    if (nul - p > KSYM_NAME_LEN) out.fill(1, p, nul - KSYM_NAME_LEN);
    p = nul + 1;
  }
  return out;
}

/** Options of the meta pass that soften rules newer kernels relaxed. */
export interface MetaRules {
  /** Accept kind_flag on DECL_TAG and TYPE_TAG (attribute tags, Linux 6.14+). Default true. */
  tagKindFlag: boolean;
}

/** BITS_ROUNDUP_BYTES without 32-bit overflow. */
function roundUpBytes(bits: number): number {
  return (bits >>> 3) + ((bits & 7) !== 0 ? 1 : 0);
}

/**
 * Pass 1 (btf_check_all_metas): every own type record on its own, in id order, filling the context's per-id
 * arrays. Reference targets are only checked for range here (BTF_TYPE_ID_VALID); existence and kinds are the
 * resolve pass's job, as in the kernel.
 *
 * This loop only asks "is anything wrong with this record?" with a few combined tests per kind (short code
 * that the JIT optimizes early, which is what a one-shot `btf-atlas validate` runs on); a record that fails
 * them, and every record of the rare kinds, goes through {@link checkMeta}, which makes the kernel's checks
 * one by one, in its order, and throws the first error.
 */
export function checkAllMetas(ctx: ValidationContext, rules: MetaRules): void {
  const { words: w, kinds, infos, sots, wordAt, start, next } = ctx;
  const offsets = ctx.btf.offsets;
  const typeStart = ctx.btf.header.typeStart;
  const wordBase = ctx.ownWordBase;
  const strLimit = ctx.strLimit;
  const tagKflag = rules.tagKindFlag;
  for (let id = start; id < next; id++) {
    // The record header read inline (record.ts explains why). Every record up to the first of an unknown kind
    // (which fails below) starts on a word boundary: its word index is its byte offset in the section / 4.
    const p = wordBase + ((offsets[id - start] - typeStart) >>> 2);
    const nameOff = w[p];
    const info = w[p + 1];
    const sot = w[p + 2];
    const kind = (info >>> 24) & 0x1f;
    wordAt[id] = p;
    kinds[id] = kind;
    infos[id] = info;
    sots[id] = sot;
    let ok: boolean;
    if ((info & INFO_RESERVED) !== 0 || nameOff >= strLimit) ok = false;
    else {
      switch (kind) {
        case K.FUNC: // named, linkage 0 or 1, no kind_flag
          ok = (info & 0x8000fffe) === 0 && nameOff !== 0 && ctx.validIdentifier(nameOff);
          break;
        case K.FUNC_PROTO: // anonymous, no kind_flag (parameters are checked by the resolve pass)
          ok = info >>> 31 === 0 && nameOff === 0;
          break;
        case K.PTR: case K.CONST: case K.VOLATILE: case K.RESTRICT: // anonymous, no vlen or kind_flag, a valid id
          ok = (info & 0x8000ffff) === 0 && nameOff === 0 && sot <= BTF_MAX_TYPE;
          break;
        case K.TYPEDEF:
          ok = (info & 0x8000ffff) === 0 && sot <= BTF_MAX_TYPE && nameOff !== 0 && ctx.validIdentifier(nameOff);
          break;
        case K.STRUCT: case K.UNION:
          ok = (nameOff === 0 || ctx.validIdentifier(nameOff)) && membersOk(ctx, p, info, sot);
          break;
        case K.ENUM: case K.ENUM64:
          ok = sot <= 8 && sot !== 0 && (sot & (sot - 1)) === 0 && (nameOff === 0 || ctx.validIdentifier(nameOff)) &&
            enumeratorsOk(ctx, p, info, kind === K.ENUM ? ENUM_WORDS : ENUM64_WORDS);
          break;
        case K.ARRAY: { // anonymous, no vlen, kind_flag or size, valid element and index ids
          const elem = w[p + BTF_TYPE_WORDS];
          const index = w[p + BTF_TYPE_WORDS + 1];
          ok = (info & 0x8000ffff) === 0 && nameOff === 0 && sot === 0 && elem !== 0 && elem <= BTF_MAX_TYPE && index !== 0 && index <= BTF_MAX_TYPE;
          break;
        }
        default:
          ok = false; // the rare kinds (and unknown ones) take the one-by-one path
      }
    }
    if (!ok) checkMeta(ctx, id, p, tagKflag);
    // btf_add_type: a base blob holds at most BTF_MAX_TYPE entries, void included.
    if (id >= BTF_MAX_TYPE && !ctx.base) ctx.fail(BtfErrorCode.LimitExceeded, id, `exceeded the kernel's maximum of ${BTF_MAX_TYPE - 1} types`);
  }
}

/** Quick test of a struct's or union's members (btf_struct_check_meta); false sends the record to {@link checkMeta}. */
function membersOk(ctx: ValidationContext, p: number, info: number, size: number): boolean {
  const w = ctx.words;
  const strLimit = ctx.strLimit;
  const kflag = info >>> 31 !== 0;
  const isUnion = ((info >>> 24) & 0x1f) === K.UNION;
  let last = 0;
  for (let q = p + BTF_TYPE_WORDS, end = q + MEMBER_WORDS * (info & 0xffff); q < end; q += MEMBER_WORDS) {
    const mName = w[q];
    const mType = w[q + 1];
    const bitOff = kflag ? w[q + 2] & 0xffffff : w[q + 2];
    if (mName >= strLimit || (mName !== 0 && !ctx.validIdentifier(mName)) || mType === 0 || mType > BTF_MAX_TYPE ||
      (isUnion && bitOff !== 0) || last > bitOff || roundUpBytes(bitOff) > size) return false;
    last = bitOff;
  }
  return true;
}

/** Quick test of an enum's enumerators (`step` words each): each has a valid identifier for a name. */
function enumeratorsOk(ctx: ValidationContext, p: number, info: number, step: number): boolean {
  const w = ctx.words;
  const strLimit = ctx.strLimit;
  for (let q = p + BTF_TYPE_WORDS, end = q + step * (info & 0xffff); q < end; q += step) {
    const vName = w[q];
    if (vName === 0 || vName >= strLimit || !ctx.validIdentifier(vName)) return false;
  }
  return true;
}

/**
 * The checks of one record in the kernel's order (btf_check_meta, then the kind's check_meta), each with its
 * message: run by {@link checkAllMetas} only for a record its quick tests found wrong (or for the rare kinds),
 * so the error reported is the first one the kernel would report. Returns when the record is fine.
 */
function checkMeta(ctx: ValidationContext, id: number, p: number, tagKflag: boolean): void {
  const w = ctx.words;
  const strLimit = ctx.strLimit;
  {
    const nameOff = recordNameOff(w, p);
    const info = recordInfo(w, p);
    const sot = recordSizeOrType(w, p);
    const kind = infoKind(info);
    const d = recordData(p);
    if ((info & INFO_RESERVED) !== 0) {
      ctx.fail(BtfErrorCode.BadType, id, `invalid btf_info 0x${(info >>> 0).toString(16)}: reserved bits are set`);
    }
    if (kind === 0 || kind > BTF_KIND_MAX) ctx.fail(BtfErrorCode.BadKind, id, `unknown btf kind ${kind}`);
    if (nameOff >= strLimit) ctx.fail(BtfErrorCode.BadString, id, `invalid name offset ${nameOff}`);
    const vlen = infoVlen(info);
    const kflag = infoKindFlag(info);
    switch (kind) {
      case K.INT: {
        if (vlen !== 0) noVlen(ctx, id, kind, vlen);
        if (kflag) noKflag(ctx, id, kind);
        const data = w[d];
        if ((data & INT_RESERVED) !== 0) ctx.fail(BtfErrorCode.BadType, id, `invalid int data 0x${(data >>> 0).toString(16)}: reserved bits are set`);
        const bits = data & 0xff;
        const bitOff = (data >>> 16) & 0xff;
        if (bits + bitOff > 128) ctx.fail(BtfErrorCode.BadType, id, `int nr_bits ${bits} + bits_offset ${bitOff} exceeds 128`);
        if (roundUpBytes(bits + bitOff) > sot) ctx.fail(BtfErrorCode.BadType, id, `int nr_bits ${bits} + bits_offset ${bitOff} exceed its size of ${sot} bytes`);
        const enc = (data >>> 24) & 0x0f;
        if (enc !== 0 && enc !== 1 && enc !== 2 && enc !== 4) ctx.fail(BtfErrorCode.BadType, id, `unsupported int encoding ${enc}`);
        break;
      }
      case K.PTR: case K.TYPEDEF: case K.VOLATILE: case K.CONST: case K.RESTRICT: case K.TYPE_TAG:
        // btf_ref_type_check_meta; kind_flag on a TYPE_TAG marks an attribute tag (6.14+).
        if (vlen !== 0) noVlen(ctx, id, kind, vlen);
        if (kflag && !(kind === K.TYPE_TAG && tagKflag)) noKflag(ctx, id, kind);
        if (sot > BTF_MAX_TYPE) ctx.fail(BtfErrorCode.BadTypeRef, id, `invalid referenced type id ${sot}`);
        if (kind === K.TYPEDEF) identifier(ctx, id, 'typedef', nameOff, false);
        else if (kind === K.TYPE_TAG) {
          if (!ctx.nonEmptyName(nameOff)) ctx.fail(BtfErrorCode.BadString, id, 'type_tag needs a non-empty value');
        } else if (nameOff !== 0) anonymous(ctx, id, kind, nameOff);
        break;
      case K.ARRAY: {
        if (nameOff !== 0) anonymous(ctx, id, kind, nameOff);
        if (vlen !== 0) noVlen(ctx, id, kind, vlen);
        if (kflag) noKflag(ctx, id, kind);
        if (sot !== 0) ctx.fail(BtfErrorCode.BadType, id, `array has size ${sot}, must be 0`);
        const elem = w[d];
        const index = w[d + 1];
        if (elem === 0 || elem > BTF_MAX_TYPE) ctx.fail(BtfErrorCode.BadTypeRef, id, `invalid array element type id ${elem}`);
        if (index === 0 || index > BTF_MAX_TYPE) ctx.fail(BtfErrorCode.BadTypeRef, id, `invalid array index type id ${index}`);
        break;
      }
      case K.STRUCT: case K.UNION: {
        // btf_struct_check_meta: no vlen or kind_flag rule (kind_flag selects the bitfield encoding).
        if (nameOff !== 0 && !ctx.validIdentifier(nameOff)) identifier(ctx, id, kind === K.UNION ? 'union' : 'struct', nameOff, true);
        const isUnion = kind === K.UNION;
        let last = 0;
        for (let j = 0, q = d; j < vlen; j++, q += MEMBER_WORDS) {
          const mName = w[q];
          const mType = w[q + 1];
          const raw = w[q + 2];
          if (mName >= strLimit) ctx.fail(BtfErrorCode.BadString, id, `member ${j}: invalid name offset ${mName}`);
          if (mName !== 0 && !ctx.validIdentifier(mName)) ctx.fail(BtfErrorCode.BadString, id, `member ${j} name '${ctx.nameAt(mName)}' is not a valid identifier`);
          if (mType === 0 || mType > BTF_MAX_TYPE) ctx.fail(BtfErrorCode.BadTypeRef, id, `${memberWhere(ctx, j, mName)}: invalid type id ${mType}`);
          const bitOff = kflag ? raw & 0xffffff : raw;
          if (isUnion && bitOff !== 0) ctx.fail(BtfErrorCode.BadMember, id, `${memberWhere(ctx, j, mName)}: union member has bits_offset ${bitOff}, must be 0`);
          if (last > bitOff) ctx.fail(BtfErrorCode.BadMember, id, `${memberWhere(ctx, j, mName)}: bits_offset ${bitOff} is below the previous member's ${last}`);
          if (roundUpBytes(bitOff) > sot) {
            ctx.fail(BtfErrorCode.BadMember, id, `${memberWhere(ctx, j, mName)}: bits_offset ${bitOff} lies past the ${sot}-byte ${isUnion ? 'union' : 'struct'}`);
          }
          last = bitOff;
        }
        break;
      }
      case K.ENUM: case K.ENUM64: {
        // kind_flag marks signed values; no vlen rule.
        if (sot > 8 || sot === 0 || (sot & (sot - 1)) !== 0) ctx.fail(BtfErrorCode.BadType, id, `${kindName(kind)} has size ${sot}, must be 1, 2, 4 or 8`);
        if (nameOff !== 0 && !ctx.validIdentifier(nameOff)) identifier(ctx, id, 'enum', nameOff, true);
        const step = kind === K.ENUM ? ENUM_WORDS : ENUM64_WORDS;
        for (let j = 0, q = d; j < vlen; j++, q += step) {
          const vName = w[q];
          if (vName >= strLimit) ctx.fail(BtfErrorCode.BadString, id, `enumerator ${j}: invalid name offset ${vName}`);
          if (vName === 0 || !ctx.validIdentifier(vName)) identifier(ctx, id, `enumerator ${j}`, vName, false);
        }
        break;
      }
      case K.FWD:
        // kind_flag tells a union from a struct.
        if (vlen !== 0) noVlen(ctx, id, kind, vlen);
        if (sot !== 0) ctx.fail(BtfErrorCode.BadType, id, `fwd has type ${sot}, must be 0`);
        identifier(ctx, id, 'fwd', nameOff, false);
        break;
      case K.FUNC_PROTO:
        if (nameOff !== 0) anonymous(ctx, id, kind, nameOff);
        if (kflag) noKflag(ctx, id, kind);
        break;
      case K.FUNC:
        identifier(ctx, id, 'func', nameOff, false);
        if (vlen > 1) ctx.fail(BtfErrorCode.BadType, id, `invalid func linkage ${vlen} (0 static or 1 global)`);
        if (kflag) noKflag(ctx, id, kind);
        break;
      case K.VAR: {
        if (vlen !== 0) noVlen(ctx, id, kind, vlen);
        if (kflag) noKflag(ctx, id, kind);
        identifier(ctx, id, 'var', nameOff, false);
        if (sot === 0 || sot > BTF_MAX_TYPE) ctx.fail(BtfErrorCode.BadTypeRef, id, `invalid var type id ${sot}`);
        const linkage = w[d];
        if (linkage !== 0 && linkage !== 1) ctx.fail(BtfErrorCode.BadType, id, `var linkage ${linkage} not supported (0 static or 1 global)`);
        break;
      }
      case K.DATASEC: {
        if (sot === 0) ctx.fail(BtfErrorCode.BadType, id, 'datasec has size 0');
        if (kflag) noKflag(ctx, id, kind);
        if (nameOff === 0 || !ctx.validSectionName(nameOff)) ctx.fail(BtfErrorCode.BadString, id, `datasec name '${ctx.nameAt(nameOff)}' is not a valid section name`);
        let lastEnd = 0;
        let sum = 0;
        for (let j = 0, q = d; j < vlen; j++, q += VAR_SECINFO_WORDS) {
          const vType = w[q];
          const vOff = w[q + 1];
          const vSize = w[q + 2];
          if (vType === 0 || vType > BTF_MAX_TYPE) ctx.fail(BtfErrorCode.BadTypeRef, id, `datasec var ${j}: invalid type id ${vType}`);
          if (vOff < lastEnd || vOff >= sot) ctx.fail(BtfErrorCode.BadType, id, `datasec var ${j}: invalid offset ${vOff}`);
          if (vSize === 0 || vSize > sot) ctx.fail(BtfErrorCode.BadType, id, `datasec var ${j}: invalid size ${vSize}`);
          lastEnd = vOff + vSize;
          if (lastEnd > sot) ctx.fail(BtfErrorCode.BadType, id, `datasec var ${j}: offset ${vOff} + size ${vSize} exceeds the section size ${sot}`);
          sum += vSize;
        }
        if (sum > sot) ctx.fail(BtfErrorCode.BadType, id, `datasec vars add up to ${sum} bytes, more than its size ${sot}`);
        break;
      }
      case K.FLOAT:
        if (vlen !== 0) noVlen(ctx, id, kind, vlen);
        if (kflag) noKflag(ctx, id, kind);
        if (sot !== 2 && sot !== 4 && sot !== 8 && sot !== 12 && sot !== 16) ctx.fail(BtfErrorCode.BadType, id, `float has size ${sot}, must be 2, 4, 8, 12 or 16`);
        break;
      case K.DECL_TAG: {
        // btf_decl_tag_check_meta: the target id is not range-checked here; the resolve pass refuses a missing
        // target. kind_flag marks an attribute tag (6.14+).
        if (!ctx.nonEmptyName(nameOff)) ctx.fail(BtfErrorCode.BadString, id, 'decl_tag needs a non-empty value');
        if (vlen !== 0) noVlen(ctx, id, kind, vlen);
        if (kflag && !tagKflag) noKflag(ctx, id, kind);
        const idx = w[d] | 0;
        if (idx < -1) ctx.fail(BtfErrorCode.BadType, id, `invalid decl_tag component_idx ${idx}`);
        break;
      }
    }
  }
}

function noVlen(ctx: ValidationContext, id: number, kind: number, vlen: number): never {
  return ctx.fail(BtfErrorCode.BadType, id, `${kindName(kind)} has vlen ${vlen}, must be 0`);
}

function noKflag(ctx: ValidationContext, id: number, kind: number): never {
  return ctx.fail(BtfErrorCode.BadType, id, `${kindName(kind)} has kind_flag set, must be 0`);
}

function anonymous(ctx: ValidationContext, id: number, kind: number, nameOff: number): never {
  return ctx.fail(BtfErrorCode.BadType, id, `${kindName(kind)} must be anonymous, has name '${ctx.nameAt(nameOff)}'`);
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
