/**
 * CO-RE access specs (libbpf relo_core.c `struct bpf_core_spec`): parsing a relocation's access string against the
 * object's BTF ({@link parseSpec}, `bpf_core_parse_spec`), matching it onto one candidate target type
 * ({@link specMatch}, `bpf_core_spec_match`), and printing it as libbpf's debug log does ({@link formatSpec}).
 *
 * A spec has two levels: the raw one is the access string itself (`0:1:2:3`, one number per step, anonymous
 * struct/union members included); the high-level one keeps only the steps a C programmer wrote: the first
 * pointer index, named members and array indexes. Field relocations also accumulate the bit offset of the access.
 */
import type { Btf } from '@btf-atlas/btf/core';
import { CoreReloKind } from './types.js';
import {
  type AnyType, Errno, essentialNameLen, isAnyEnum, kindStr, rawName, resolveSize, skipModsAndTypedefs, typeById,
  typeLabelOf, vlen,
} from './relo-btf.js';
import { fieldsAreCompat, typesAreCompat, typesMatch, type WarnSink } from './relo-compat.js';

/** libbpf's BPF_CORE_SPEC_MAX_LEN: the most steps an access string may have. */
export const SPEC_MAX_LEN = 64;

/** One high-level step: a named member of `typeId` (a struct/union), or an array index into `typeId` (an element type). */
export interface Accessor {
  /** The struct/union holding the member, or the element type for an index. */
  typeId: number;
  /** Member index, array index, or enumerator index. */
  idx: number;
  /** Member or enumerator name; undefined for an index. */
  name: string | undefined;
}

/** A parsed or matched access spec (`struct bpf_core_spec`). */
export interface Spec {
  btf: Btf;
  /** The relocation's type id, before skipping modifiers and typedefs. */
  rootTypeId: number;
  /** The relocation kind (a {@link CoreReloKind} value; unknown numbers are kept). */
  kind: number;
  /** High-level steps. */
  accessors: Accessor[];
  /** Low-level steps, one per access-string number (for a target: its own numbering). */
  raw: number[];
  /** Bit offset of the accessed field from the start of the root type (u32, as libbpf keeps it). */
  bitOffset: number;
}

/** The short name libbpf logs for a kind (`byte_off`, `field_exists`, …; `unknown` outside the enum). */
export function reloKindStr(kind: number): string {
  switch (kind) {
    case CoreReloKind.FIELD_BYTE_OFFSET: return 'byte_off';
    case CoreReloKind.FIELD_BYTE_SIZE: return 'byte_sz';
    case CoreReloKind.FIELD_EXISTS: return 'field_exists';
    case CoreReloKind.FIELD_SIGNED: return 'signed';
    case CoreReloKind.FIELD_LSHIFT_U64: return 'lshift_u64';
    case CoreReloKind.FIELD_RSHIFT_U64: return 'rshift_u64';
    case CoreReloKind.TYPE_ID_LOCAL: return 'local_type_id';
    case CoreReloKind.TYPE_ID_TARGET: return 'target_type_id';
    case CoreReloKind.TYPE_EXISTS: return 'type_exists';
    case CoreReloKind.TYPE_MATCHES: return 'type_matches';
    case CoreReloKind.TYPE_SIZE: return 'type_size';
    case CoreReloKind.ENUMVAL_EXISTS: return 'enumval_exists';
    case CoreReloKind.ENUMVAL_VALUE: return 'enumval_value';
    default: return 'unknown';
  }
}

/** FIELD_* kinds: relocations of a member access. */
export function isFieldBased(kind: number): boolean {
  return kind >= CoreReloKind.FIELD_BYTE_OFFSET && kind <= CoreReloKind.FIELD_RSHIFT_U64;
}

/** TYPE_* kinds: relocations about a whole type; their access string is always `0`. */
export function isTypeBased(kind: number): boolean {
  return (kind >= CoreReloKind.TYPE_ID_LOCAL && kind <= CoreReloKind.TYPE_SIZE) || kind === CoreReloKind.TYPE_MATCHES;
}

/** ENUMVAL_* kinds: relocations of one enumerator; the access string is its index. */
export function isEnumvalBased(kind: number): boolean {
  return kind === CoreReloKind.ENUMVAL_EXISTS || kind === CoreReloKind.ENUMVAL_VALUE;
}

function emptySpec(btf: Btf, rootTypeId: number, kind: number): Spec {
  return { btf, rootTypeId, kind, accessors: [], raw: [], bitOffset: 0 };
}

/** `idx * size * 8` added to a u32 bit offset, wrapping as libbpf's u32 field does. */
function addBits(bitOffset: number, idx: number, size: number): number {
  return Number(BigInt.asUintN(32, BigInt(bitOffset) + BigInt(idx) * BigInt(size) * 8n));
}

/**
 * `is_flex_arr`: an array of zero elements that is the last member of the struct the previous accessor named
 * (`char data[];`) may be indexed past its end.
 */
function isFlexArr(btf: Btf, prev: Accessor | undefined, nelems: number): boolean {
  if (!prev || prev.name === undefined || nelems > 0) return false;
  const t = typeById(btf, prev.typeId);
  return t !== undefined && prev.idx === vlen(t) - 1;
}

/** C's `sscanf("%d")` on the access string: optional blanks and sign, then digits. Undefined when none. */
const ACCESS_NUMBER = /^[ \t\n\v\f\r]*([+-]?\d+)/;

/** The relocation fields a spec is parsed from. */
export interface SpecInput {
  typeId: number;
  access: string;
  kind: number;
}

/**
 * `bpf_core_parse_spec`: turns an access string into a spec over the local BTF, checking every step: member
 * indexes within their struct/union, array indexes within bounds (flexible arrays excepted), nothing but
 * structs, unions and arrays on the way, and for enum relocations an enumerator index of an enum. Type-based
 * relocations must have the access string `0` and get no steps. Returns 0 or a negative errno; the spec holds
 * whatever was parsed.
 *
 * Deviation: a negative or non-int32 index is rejected (-EINVAL); libbpf reads out of bounds there.
 */
export function parseSpec(progName: string, btf: Btf, relo: SpecInput, warn: WarnSink): { err: number; spec: Spec } {
  const spec = emptySpec(btf, relo.typeId, relo.kind);
  const fail = (err: number): { err: number; spec: Spec } => ({ err, spec });
  let str = relo.access;
  if (str === '' || str[0] === ':') return fail(-Errno.EINVAL);

  if (isTypeBased(relo.kind)) return fail(str === '0' ? 0 : -Errno.EINVAL);

  while (str.length > 0) {
    if (str[0] === ':') str = str.slice(1);
    const m = ACCESS_NUMBER.exec(str);
    if (!m) return fail(-Errno.EINVAL);
    const n = Number(m[1]);
    if (!Number.isSafeInteger(n) || n < 0 || n > 0x7fffffff) return fail(-Errno.EINVAL);
    if (spec.raw.length === SPEC_MAX_LEN) return fail(-Errno.E2BIG);
    str = str.slice(m[0].length);
    spec.raw.push(n);
  }
  if (spec.raw.length === 0) return fail(-Errno.EINVAL);

  const root = skipModsAndTypedefs(btf, relo.typeId);
  if (!root) return fail(-Errno.EINVAL);
  let id = root.id;
  let t: AnyType = root.t;
  const first = spec.raw[0];
  spec.accessors.push({ typeId: id, idx: first, name: undefined });

  if (isEnumvalBased(relo.kind)) {
    if ((t.kind !== 'ENUM' && t.kind !== 'ENUM64') || spec.raw.length > 1 || first >= t.values.length) return fail(-Errno.EINVAL);
    spec.accessors[0].name = rawName(btf, t.values[first].nameOff);
    return fail(0);
  }
  if (!isFieldBased(relo.kind)) return fail(-Errno.EINVAL);

  let sz = resolveSize(btf, id);
  if (sz < 0) return fail(sz);
  spec.bitOffset = addBits(0, first, sz);

  for (let i = 1; i < spec.raw.length; i++) {
    const r = skipModsAndTypedefs(btf, id);
    if (!r) return fail(-Errno.EINVAL);
    id = r.id;
    t = r.t;
    const idx = spec.raw[i];
    if (t.kind === 'STRUCT' || t.kind === 'UNION') {
      if (idx >= t.members.length) return fail(-Errno.EINVAL);
      const m = t.members[idx];
      spec.bitOffset = (spec.bitOffset + m.bitsOffset) >>> 0;
      if (m.nameOff !== 0) {
        const name = rawName(btf, m.nameOff);
        if (name === '') return fail(-Errno.EINVAL);
        spec.accessors.push({ typeId: id, idx, name });
      }
      id = m.type;
    } else if (t.kind === 'ARRAY') {
      const elem = skipModsAndTypedefs(btf, t.type);
      if (!elem) return fail(-Errno.EINVAL);
      id = elem.id;
      const flex = isFlexArr(btf, spec.accessors[spec.accessors.length - 1], t.nelems);
      if (!flex && idx >= t.nelems) return fail(-Errno.EINVAL);
      spec.accessors.push({ typeId: id, idx, name: undefined });
      sz = resolveSize(btf, id);
      if (sz < 0) return fail(sz);
      spec.bitOffset = addBits(spec.bitOffset, idx, sz);
    } else {
      warn(`prog '${progName}': relo for [${relo.typeId}] ${relo.access} (at idx ${i}) captures type [${id}] of unexpected kind ${kindStr(t)}`);
      return fail(-Errno.EINVAL);
    }
  }
  return fail(0);
}

/**
 * `bpf_core_match_member`: finds the target member named like the local accessor's member in struct/union
 * `targId`, searching anonymous members recursively, and checks the two member types with
 * {@link fieldsAreCompat}. Extends `spec` (raw steps and bit offset) along the way. Returns 1 with the member's
 * type id, 0 when there is none or it is not compatible, or a negative errno.
 */
function matchMember(localBtf: Btf, localAcc: Accessor, targBtf: Btf, targId: number, spec: Spec): { found: number; nextId: number } {
  const r = skipModsAndTypedefs(targBtf, targId);
  if (!r) return { found: -Errno.EINVAL, nextId: 0 };
  if (r.t.kind !== 'STRUCT' && r.t.kind !== 'UNION') return { found: 0, nextId: 0 };
  targId = r.id;
  const lt = typeById(localBtf, localAcc.typeId);
  if (!lt || (lt.kind !== 'STRUCT' && lt.kind !== 'UNION')) return { found: -Errno.EINVAL, nextId: 0 };
  const localMember = lt.members[localAcc.idx];
  const localName = rawName(localBtf, localMember.nameOff);

  const members = r.t.members;
  for (let i = 0; i < members.length; i++) {
    const m = members[i];
    if (spec.raw.length === SPEC_MAX_LEN) return { found: -Errno.E2BIG, nextId: 0 };
    // Speculate that this member is the one.
    spec.bitOffset = (spec.bitOffset + m.bitsOffset) >>> 0;
    spec.raw.push(i);
    const targName = rawName(targBtf, m.nameOff);
    if (targName === '') {
      // An embedded anonymous struct/union: look inside.
      const inner = matchMember(localBtf, localAcc, targBtf, m.type, spec);
      if (inner.found !== 0) return inner;
    } else if (targName === localName) {
      spec.accessors.push({ typeId: targId, idx: i, name: targName });
      const found = fieldsAreCompat(localBtf, localMember.type, targBtf, m.type);
      if (found === 0) spec.accessors.pop();
      return { found, nextId: m.type };
    }
    spec.bitOffset = (spec.bitOffset - m.bitsOffset) >>> 0;
    spec.raw.pop();
  }
  return { found: 0, nextId: 0 };
}

/**
 * `bpf_core_spec_match`: tries to match a local spec onto candidate `targId` of `targBtf`, building the target spec.
 * Type-based kinds compare whole types ({@link typesMatch} for TYPE_MATCHES, {@link typesAreCompat} otherwise);
 * enum kinds look for an enumerator with the same flavor-less name; field kinds walk the local accessors,
 * finding each named member (through anonymous members) and checking each array index against the target's
 * bounds. Returns 1 (match), 0 (no match) or a negative errno, with the target spec as far as it got.
 */
export function specMatch(local: Spec, targBtf: Btf, targId: number, warn: WarnSink): { res: number; spec: Spec } {
  const targ = emptySpec(targBtf, targId, local.kind);
  const done = (res: number): { res: number; spec: Spec } => ({ res, spec: targ });

  if (isTypeBased(local.kind)) {
    if (local.kind === CoreReloKind.TYPE_MATCHES) return done(typesMatch(local.btf, local.rootTypeId, targBtf, targId, warn));
    return done(typesAreCompat(local.btf, local.rootTypeId, targBtf, targId, warn));
  }

  if (isEnumvalBased(local.kind)) {
    const r = skipModsAndTypedefs(targBtf, targId);
    if (!r || (r.t.kind !== 'ENUM' && r.t.kind !== 'ENUM64')) return done(0);
    const localName = local.accessors[0].name ?? '';
    const localLen = essentialNameLen(localName);
    const values = r.t.values;
    for (let i = 0; i < values.length; i++) {
      const targName = rawName(targBtf, values[i].nameOff);
      if (essentialNameLen(targName) !== localLen) continue;
      if (localName.slice(0, localLen) === targName.slice(0, localLen)) {
        targ.accessors.push({ typeId: r.id, idx: i, name: targName });
        targ.raw.push(i);
        return done(1);
      }
    }
    return done(0);
  }

  if (!isFieldBased(local.kind)) return done(-Errno.EINVAL);

  for (let i = 0; i < local.accessors.length; i++) {
    const localAcc = local.accessors[i];
    const r = skipModsAndTypedefs(targBtf, targId);
    if (!r) return done(-Errno.EINVAL);
    targId = r.id;
    if (localAcc.name !== undefined) {
      const { found, nextId } = matchMember(local.btf, localAcc, targBtf, targId, targ);
      if (found <= 0) return done(found);
      targId = nextId;
    } else {
      // For i = 0 the root itself is the "element"; deeper, the target must be an array holding the index.
      if (i > 0) {
        if (r.t.kind !== 'ARRAY') return done(0);
        const flex = isFlexArr(targBtf, targ.accessors[i - 1], r.t.nelems);
        if (!flex && localAcc.idx >= r.t.nelems) return done(0);
        const elem = skipModsAndTypedefs(targBtf, r.t.type);
        if (!elem) return done(-Errno.EINVAL);
        targId = elem.id;
      }
      if (targ.raw.length === SPEC_MAX_LEN) return done(-Errno.E2BIG);
      targ.accessors.push({ typeId: targId, idx: localAcc.idx, name: undefined });
      targ.raw.push(localAcc.idx);
      const sz = resolveSize(targBtf, targId);
      if (sz < 0) return done(sz);
      targ.bitOffset = addBits(targ.bitOffset, localAcc.idx, sz);
    }
  }
  return done(1);
}

/** The enumerator a spec of an enum kind names, with its value as libbpf prints it (signed when kind_flag). */
export function specEnumerator(spec: Spec): { name: string; value: number | bigint } | undefined {
  const r = skipModsAndTypedefs(spec.btf, spec.rootTypeId);
  if (!r || !isAnyEnum(r.t) || (r.t.kind !== 'ENUM' && r.t.kind !== 'ENUM64')) return undefined;
  const v = r.t.values[spec.raw[0] ?? 0];
  if (!v) return undefined;
  return { name: v.name, value: v.value };
}

/** The high-level steps as C would write them after the root: `.a.b[3]` (a leading index shown when not 0). */
export function specFieldPath(spec: Spec): string {
  let s = '';
  spec.accessors.forEach((a, i) => {
    if (a.name !== undefined) s += `.${a.name}`;
    else if (i > 0 || a.idx > 0) s += `[${a.idx}]`;
  });
  return s;
}

/** The root type of a spec as libbpf names it (`struct task_struct`), or `[id]` alone when the id is dangling. */
export function specRootLabel(spec: Spec): string {
  const id = spec.rootTypeId;
  // Read from the record (nothing decoded): a kernel's root may be a struct of hundreds of members.
  return Number.isInteger(id) && id >= 0 && id < spec.btf.nextId ? typeLabelOf(spec.btf, id) : '<invalid>';
}

/**
 * `bpf_core_format_spec`: `<byte_off> [7] struct task_struct.__state (0:1 @ offset 24)`, `<enumval_value> [9] enum
 * e::V = 3`, `<type_exists> [7] struct s` — the text of libbpf's debug log.
 */
export function formatSpec(spec: Spec): string {
  let s = `<${reloKindStr(spec.kind)}> [${spec.rootTypeId}] ${specRootLabel(spec)}`;
  if (isTypeBased(spec.kind)) return s;
  if (isEnumvalBased(spec.kind)) {
    const e = specEnumerator(spec);
    return e ? `${s}::${e.name} = ${e.value}` : s;
  }
  if (isFieldBased(spec.kind)) {
    s += `${specFieldPath(spec)} (${spec.raw.join(':')}`;
    const byte = Math.floor(spec.bitOffset / 8);
    const bit = spec.bitOffset % 8;
    s += bit !== 0 ? ` @ offset ${byte}.${bit})` : ` @ offset ${byte})`;
  }
  return s;
}
