/**
 * Type compatibility as libbpf's relo_core.c judges it, in its three flavours:
 * - {@link fieldsAreCompat} (`bpf_core_fields_are_compat`): may a local member's type be relocated onto a target
 *   member's type (field relocations);
 * - {@link typesAreCompat} (`bpf_core_types_are_compat`): the loose structural check of TYPE_EXISTS, TYPE_SIZE
 *   and TYPE_ID_TARGET;
 * - {@link typesMatch} (`bpf_core_types_match`): the strict check of TYPE_MATCHES.
 * Each returns 1 (compatible), 0 (not) or a negative errno (broken BTF or too deep), as libbpf does.
 */
import type { Btf } from '@btf-atlas/btf/core';
import {
  type AnyType, Errno, essentialNameLen, isAnyEnum, isComposite, kindCoreCompat, kindStr, rawName, skipModsAndTypedefs,
  typeById, typeRawName,
} from './relo-btf.js';

/** Where the compatibility checks report libbpf's warnings ("unexpected kind … relocated"). */
export type WarnSink = (text: string) => void;

/** `btf_int_offset`: the deprecated bit offset inside an INT (0 in every compiler's output). */
function intOffset(t: AnyType): number {
  return t.kind === 'INT' ? t.bitsOffset : 0;
}

/** Two names equal once their `___flavor` suffixes are dropped; an anonymous side matches anything. */
function essentialNamesCompat(a: string, b: string): boolean {
  const la = essentialNameLen(a);
  const lb = essentialNameLen(b);
  return la === 0 || lb === 0 || (la === lb && a.slice(0, la) === b.slice(0, lb));
}

/**
 * `bpf_core_fields_are_compat`, after modifiers and typedefs: any two structs/unions match; otherwise the kinds must
 * be compatible and then pointers and floats always match, enums and forward declarations match by flavor-less
 * name (or when one is anonymous), integers match unless one uses the deprecated INT bit offset, and arrays match
 * when their element types do (dimensions are ignored). Everything else is not a relocatable field.
 */
export function fieldsAreCompat(localBtf: Btf, localId: number, targBtf: Btf, targId: number): number {
  for (;;) {
    const l = skipModsAndTypedefs(localBtf, localId);
    const r = skipModsAndTypedefs(targBtf, targId);
    if (!l || !r) return -Errno.EINVAL;
    if (isComposite(l.t) && isComposite(r.t)) return 1;
    if (!kindCoreCompat(l.t, r.t)) return 0;
    switch (l.t.kind) {
      case 'PTR':
      case 'FLOAT':
        return 1;
      case 'FWD':
      case 'ENUM':
      case 'ENUM64':
        return essentialNamesCompat(typeRawName(localBtf, l.t), typeRawName(targBtf, r.t)) ? 1 : 0;
      case 'INT':
        return intOffset(l.t) === 0 && intOffset(r.t) === 0 ? 1 : 0;
      case 'ARRAY':
        if (r.t.kind !== 'ARRAY') return 0;
        localId = l.t.type;
        targId = r.t.type;
        continue;
      default:
        return 0;
    }
  }
}

/** The id reached from `id` by skipping modifiers and typedefs; `id` itself when the chain is broken. */
function skippedId(btf: Btf, id: number): number {
  return skipModsAndTypedefs(btf, id)?.id ?? id;
}

/**
 * `__bpf_core_types_are_compat`: the root kinds must be compatible before and after skipping modifiers and typedefs;
 * then structs, unions, enums and forward declarations are compatible whatever their members, integers unless one
 * uses the INT bit offset, pointers and arrays when what they reference is, and function prototypes when they
 * have as many parameters and every parameter and the return type are compatible. At most 32 steps and `level`
 * nested prototypes.
 */
export function typesAreCompat(localBtf: Btf, localId: number, targBtf: Btf, targId: number, warn: WarnSink, level = 32): number {
  const lRoot = typeById(localBtf, localId);
  const rRoot = typeById(targBtf, targId);
  if (!lRoot || !rRoot) return -Errno.EINVAL;
  if (!kindCoreCompat(lRoot, rRoot)) return 0;
  for (let depth = 32; ; ) {
    if (--depth < 0) return -Errno.EINVAL;
    const l = skipModsAndTypedefs(localBtf, localId);
    const r = skipModsAndTypedefs(targBtf, targId);
    if (!l || !r) return -Errno.EINVAL;
    localId = l.id;
    targId = r.id;
    if (!kindCoreCompat(l.t, r.t)) return 0;
    const lt = l.t;
    const rt = r.t;
    switch (lt.kind) {
      case 'VOID': case 'STRUCT': case 'UNION': case 'ENUM': case 'FWD': case 'ENUM64':
        return 1;
      case 'INT':
        return intOffset(lt) === 0 && intOffset(rt) === 0 ? 1 : 0;
      case 'PTR':
        if (rt.kind !== 'PTR') return 0;
        localId = lt.type;
        targId = rt.type;
        continue;
      case 'ARRAY':
        if (rt.kind !== 'ARRAY') return 0;
        localId = lt.type;
        targId = rt.type;
        continue;
      case 'FUNC_PROTO': {
        if (rt.kind !== 'FUNC_PROTO') return 0;
        if (lt.params.length !== rt.params.length) return 0;
        for (let i = 0; i < lt.params.length; i++) {
          if (level <= 0) return -Errno.EINVAL;
          const err = typesAreCompat(
            localBtf, skippedId(localBtf, lt.params[i].type), targBtf, skippedId(targBtf, rt.params[i].type), warn, level - 1,
          );
          if (err <= 0) return err;
        }
        localId = skippedId(localBtf, lt.returnType);
        targId = skippedId(targBtf, rt.returnType);
        continue;
      }
      default:
        warn(`unexpected kind ${kindStr(lt)} relocated, local [${localId}], target [${targId}]`);
        return 0;
    }
  }
}

/** `bpf_core_names_match`: an anonymous target matches only an anonymous local; else equal flavor-less names. */
function namesMatch(localBtf: Btf, localNameOff: number, targBtf: Btf, targNameOff: number): boolean {
  const l = rawName(localBtf, localNameOff);
  const r = rawName(targBtf, targNameOff);
  if (r === '') return l === '';
  const lr = essentialNameLen(r);
  const ll = essentialNameLen(l);
  return lr === ll && l.slice(0, ll) === r.slice(0, lr);
}

function nameOffOf(t: AnyType): number {
  return t.kind === 'VOID' ? 0 : t.nameOff;
}

/** `bpf_core_enums_match`: same size, and every local enumerator has a namesake (flavor-less) in the target. */
function enumsMatch(localBtf: Btf, lt: AnyType, targBtf: Btf, rt: AnyType): number {
  if ((lt.kind !== 'ENUM' && lt.kind !== 'ENUM64') || (rt.kind !== 'ENUM' && rt.kind !== 'ENUM64')) return 0;
  if (lt.size !== rt.size) return 0;
  if (lt.values.length > rt.values.length) return 0;
  for (const lv of lt.values) {
    if (!rt.values.some((rv) => namesMatch(localBtf, lv.nameOff, targBtf, rv.nameOff))) return 0;
  }
  return 1;
}

/** `bpf_core_composites_match`: every local member has a namesake in the target whose type matches. */
function compositesMatch(localBtf: Btf, lt: AnyType, targBtf: Btf, rt: AnyType, behindPtr: boolean, level: number, warn: WarnSink): number {
  if ((lt.kind !== 'STRUCT' && lt.kind !== 'UNION') || (rt.kind !== 'STRUCT' && rt.kind !== 'UNION')) return 0;
  if (lt.members.length > rt.members.length) return 0;
  for (const lm of lt.members) {
    let matched = false;
    for (const rm of rt.members) {
      if (!namesMatch(localBtf, lm.nameOff, targBtf, rm.nameOff)) continue;
      const err = typesMatchAt(localBtf, lm.type, targBtf, rm.type, behindPtr, level - 1, warn);
      if (err < 0) return err;
      if (err > 0) {
        matched = true;
        break;
      }
    }
    if (!matched) return 0;
  }
  return 1;
}

/**
 * `bpf_core_types_match` (TYPE_MATCHES): after modifiers and typedefs the names must match (flavor-less), and then
 * by kind: integers by size and signedness; pointers and arrays (same length) by what they reference; structs and
 * unions by every local member having a matching namesake (behind a pointer the kind alone decides, and a
 * forward declaration of the same struct/union kind matches); enums by size and enumerator names (ENUM and ENUM64
 * mix); forward declarations by struct/union flag; function prototypes parameter by parameter and by return type.
 */
export function typesMatch(localBtf: Btf, localId: number, targBtf: Btf, targId: number, warn: WarnSink): number {
  return typesMatchAt(localBtf, localId, targBtf, targId, false, 32, warn);
}

function typesMatchAt(localBtf: Btf, localId: number, targBtf: Btf, targId: number, behindPtr: boolean, level: number, warn: WarnSink): number {
  if (level <= 0) return -Errno.EINVAL;
  for (let depth = 32; ; ) {
    if (--depth < 0) return -Errno.EINVAL;
    const l = skipModsAndTypedefs(localBtf, localId);
    const r = skipModsAndTypedefs(targBtf, targId);
    if (!l || !r) return -Errno.EINVAL;
    localId = l.id;
    targId = r.id;
    const lt = l.t;
    const rt = r.t;
    if (!namesMatch(localBtf, nameOffOf(lt), targBtf, nameOffOf(rt))) return 0;
    switch (lt.kind) {
      case 'VOID':
        return rt.kind === 'VOID' ? 1 : 0;
      case 'FWD': {
        const localUnion = lt.kindFlag;
        if (rt.kind === 'FWD') return localUnion === rt.kindFlag ? 1 : 0;
        if (!behindPtr) return 0;
        return (rt.kind === 'STRUCT' && !localUnion) || (rt.kind === 'UNION' && localUnion) ? 1 : 0;
      }
      case 'ENUM':
      case 'ENUM64':
        return isAnyEnum(rt) ? enumsMatch(localBtf, lt, targBtf, rt) : 0;
      case 'STRUCT':
      case 'UNION':
        if (behindPtr) {
          if (lt.kind === rt.kind) return 1;
          if (rt.kind !== 'FWD') return 0;
          return (lt.kind === 'UNION') === rt.kindFlag ? 1 : 0;
        }
        if (lt.kind !== rt.kind) return 0;
        return compositesMatch(localBtf, lt, targBtf, rt, behindPtr, level, warn);
      case 'INT':
        if (rt.kind !== 'INT') return 0;
        return lt.size === rt.size && (lt.encoding & 1) === (rt.encoding & 1) ? 1 : 0;
      case 'PTR':
        if (rt.kind !== 'PTR') return 0;
        behindPtr = true;
        localId = lt.type;
        targId = rt.type;
        continue;
      case 'ARRAY':
        if (rt.kind !== 'ARRAY') return 0;
        if (lt.nelems !== rt.nelems) return 0;
        localId = lt.type;
        targId = rt.type;
        continue;
      case 'FUNC_PROTO': {
        if (rt.kind !== 'FUNC_PROTO') return 0;
        if (lt.params.length !== rt.params.length) return 0;
        for (let i = 0; i < lt.params.length; i++) {
          const err = typesMatchAt(localBtf, lt.params[i].type, targBtf, rt.params[i].type, behindPtr, level - 1, warn);
          if (err <= 0) return err;
        }
        localId = lt.returnType;
        targId = rt.returnType;
        continue;
      }
      default:
        warn(`unexpected kind ${kindStr(lt)} relocated, local [${localId}], target [${targId}]`);
        return 0;
    }
  }
}
