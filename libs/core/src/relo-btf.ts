/**
 * The few BTF questions the CO-RE resolver asks, answered the way libbpf answers them (tools/lib/bpf/btf.c,
 * btf.h and libbpf.c): type lookup with void and out-of-range ids, modifier/typedef skipping, size resolution,
 * kind names, raw names and the "essential" (flavor-less) name. Errors are libbpf's: negative errno numbers.
 */
import type { Btf } from '@btf-atlas/btf/core';
import { longSizeOf } from '@btf-atlas/btf/long-size';
import type { BtfType, VoidType } from '@btf-atlas/btf/types';

/** The errno values the resolver returns (negated), as on Linux. */
export const Errno = {
  E2BIG: 7,
  EINVAL: 22,
  ERANGE: 34,
  EOPNOTSUPP: 95,
  /** libbpf's private "poison the instruction" signal inside relo_core.c; never returned to callers. */
  EUCLEAN: 117,
} as const;

const ERRNO_NAMES: Readonly<Record<number, string>> = { 7: 'E2BIG', 22: 'EINVAL', 34: 'ERANGE', 95: 'EOPNOTSUPP', 117: 'EUCLEAN' };

/** libbpf's `errstr`: `-EINVAL` for -22, the number itself for an errno it has no name for. */
export function errstr(err: number): string {
  const name = ERRNO_NAMES[Math.abs(err)];
  return name ? `-${name}` : `${-Math.abs(err)}`;
}

/** A type as relo_core.c sees it: a decoded record, or void (id 0, kind UNKN). */
export type AnyType = BtfType | VoidType;

const VOID: VoidType = { kind: 'VOID', id: 0, name: '' };

/** Limit on modifier/typedef chains followed (libbpf has none and would loop; the kernel stops at 32). */
const MAX_CHAIN = 32;

/** `btf__type_by_id`: void for 0, undefined past the last id. */
export function typeById(btf: Btf, id: number): AnyType | undefined {
  if (id === 0) return VOID;
  if (!Number.isInteger(id) || id < 0 || id >= btf.nextId) return undefined;
  return btf.type(id);
}

/** The `type` a modifier, typedef or pointer refers to. */
function refOf(t: AnyType): number | undefined {
  switch (t.kind) {
    case 'PTR': case 'TYPEDEF': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'TYPE_TAG':
      return t.type;
    default:
      return undefined;
  }
}

/** `btf_is_mod`: const, volatile, restrict and type tags. */
export function isMod(t: AnyType): boolean {
  return t.kind === 'VOLATILE' || t.kind === 'CONST' || t.kind === 'RESTRICT' || t.kind === 'TYPE_TAG';
}

/** A type with the id it was reached by (libbpf's `res_id` out-parameter). */
export interface Resolved {
  id: number;
  t: AnyType;
}

/**
 * `skip_mods_and_typedefs`: follows const/volatile/restrict/type tags and typedefs to the first other type.
 * Undefined for a dangling id or a chain longer than 32.
 */
export function skipModsAndTypedefs(btf: Btf, id: number): Resolved | undefined {
  let t = typeById(btf, id);
  for (let depth = 0; t !== undefined && (isMod(t) || t.kind === 'TYPEDEF'); depth++) {
    if (depth >= MAX_CHAIN) return undefined;
    id = refOf(t) as number;
    t = typeById(btf, id);
  }
  return t === undefined ? undefined : { id, t };
}

const ptrSizes = new WeakMap<Btf, number>();

/** `btf_ptr_sz`: the size of `long` in this BTF, or the host's pointer size (8) when it names no long. */
export function ptrSize(btf: Btf): number {
  let sz = ptrSizes.get(btf);
  if (sz === undefined) {
    sz = longSizeOf(btf) ?? 8;
    ptrSizes.set(btf, sz);
  }
  return sz;
}

const U32_MAX = 0xffffffff;

/**
 * `btf__resolve_size`: the size in bytes of a type, through modifiers, typedefs, vars and tags, multiplying array
 * dimensions. -EINVAL for void, forward declarations, functions and dangling ids; -E2BIG past 4 GiB.
 */
export function resolveSize(btf: Btf, id: number): number {
  let nelems = 1;
  let t = typeById(btf, id);
  for (let i = 0; i < 32 && t !== undefined && t.kind !== 'VOID' && t.kind !== 'FWD'; i++) {
    switch (t.kind) {
      case 'INT': case 'STRUCT': case 'UNION': case 'ENUM': case 'ENUM64': case 'DATASEC': case 'FLOAT': {
        const size = t.size;
        if (nelems && size > Math.floor(U32_MAX / nelems)) return -Errno.E2BIG;
        return nelems * size;
      }
      case 'PTR': {
        const size = ptrSize(btf);
        if (nelems && size > Math.floor(U32_MAX / nelems)) return -Errno.E2BIG;
        return nelems * size;
      }
      case 'TYPEDEF': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'TYPE_TAG': case 'VAR': case 'DECL_TAG':
        id = t.type;
        break;
      case 'ARRAY':
        if (nelems && t.nelems > Math.floor(U32_MAX / nelems)) return -Errno.E2BIG;
        nelems *= t.nelems;
        id = t.type;
        break;
      default:
        return -Errno.EINVAL;
    }
    t = typeById(btf, id);
  }
  return -Errno.EINVAL;
}

/** libbpf's `btf_kind_str`: `struct`, `enum64`, `func_proto`…, `void` for id 0. */
export function kindStr(t: AnyType): string {
  return t.kind === 'VOID' ? 'void' : t.kind.toLowerCase();
}

/** `btf_kind_core_compat`: the same kind, or two enums (ENUM and ENUM64 mix). */
export function kindCoreCompat(a: AnyType, b: AnyType): boolean {
  return a.kind === b.kind || (isAnyEnum(a) && isAnyEnum(b));
}

/** `btf_is_any_enum`. */
export function isAnyEnum(t: AnyType): boolean {
  return t.kind === 'ENUM' || t.kind === 'ENUM64';
}

/** `btf_is_composite`. */
export function isComposite(t: AnyType): boolean {
  return t.kind === 'STRUCT' || t.kind === 'UNION';
}

/** The name at a string offset byte for byte (latin1), "" when the offset is invalid (libbpf: NULL, "empty"). */
export function rawName(btf: Btf, nameOff: number): string {
  return btf.strings.tryGetRaw(nameOff) ?? '';
}

/** The raw name of a type ("" for void). */
export function typeRawName(btf: Btf, t: AnyType): string {
  return t.kind === 'VOID' ? '' : rawName(btf, t.nameOff);
}

/** `X___Y` where X and Y are not underscores: a flavor separator starting at `i`. */
function isFlavorSep(s: string, i: number): boolean {
  return s[i] !== '_' && s[i + 1] === '_' && s[i + 2] === '_' && s[i + 3] === '_' && s[i + 4] !== '_';
}

/**
 * `bpf_core_essential_name_len`: the length of a name without its last `___flavor` suffix
 * (`task_struct___old` → 11). A name with no such separator is essential as it is.
 */
export function essentialNameLen(name: string): number {
  for (let i = name.length - 5; i >= 0; i--) {
    if (isFlavorSep(name, i)) return i + 1;
  }
  return name.length;
}

/** The name without its flavor suffix. */
export function essentialName(name: string): string {
  return name.slice(0, essentialNameLen(name));
}

/** `kind name` as libbpf logs a type (`struct task_struct`, `enum <anon>`). */
export function typeLabel(t: AnyType): string {
  const name = t.kind === 'VOID' ? '' : t.name;
  return `${kindStr(t)} ${name === '' ? '<anon>' : name}`;
}

/**
 * The u32 libbpf reads as `t->size` whatever the kind (for a pointer or typedef that word is the referenced id;
 * arrays, forward declarations and void have 0). Only the bitfield rule reads it, as libbpf does.
 */
export function sizeWord(t: AnyType): number {
  switch (t.kind) {
    case 'INT': case 'STRUCT': case 'UNION': case 'ENUM': case 'ENUM64': case 'DATASEC': case 'FLOAT':
      return t.size;
    case 'PTR': case 'TYPEDEF': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'TYPE_TAG': case 'FUNC': case 'VAR': case 'DECL_TAG':
      return t.type;
    case 'FUNC_PROTO':
      return t.returnType;
    default:
      return 0;
  }
}

/** Number of members, enumerators or parameters (`btf_vlen`). */
export function vlen(t: AnyType): number {
  switch (t.kind) {
    case 'STRUCT': case 'UNION': return t.members.length;
    case 'ENUM': case 'ENUM64': return t.values.length;
    case 'FUNC_PROTO': return t.params.length;
    case 'DATASEC': return t.vars.length;
    default: return 0;
  }
}
