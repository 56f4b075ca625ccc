/**
 * The few BTF questions the CO-RE resolver asks, answered the way libbpf answers them (tools/lib/bpf/btf.c,
 * btf.h and libbpf.c): type lookup with void and out-of-range ids, modifier/typedef skipping, size resolution,
 * kind names, raw names and the "essential" (flavor-less) name. Errors are libbpf's: negative errno numbers.
 */
import type { Btf } from '@btf-atlas/btf/core';
import { BtfError } from '@btf-atlas/btf/errors';
import { DEFAULT_POINTER_SIZE, LIBBPF_MAX_RESOLVE_DEPTH, libbpfResolveSize } from '@btf-atlas/btf/layout';
import { longSizeOf } from '@btf-atlas/btf/long-size';
import { recordKind, recordNameOff } from '@btf-atlas/btf/record';
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

/**
 * `btf_ptr_sz`: the size of `long` in this BTF (libs/btf long-size.ts, libbpf's `determine_ptr_size`), or the
 * host's pointer size when it names no long. Memoized: the rule scans records.
 */
export function ptrSize(btf: Btf): number {
  let sz = ptrSizes.get(btf);
  if (sz === undefined) {
    sz = longSizeOf(btf) ?? DEFAULT_POINTER_SIZE;
    ptrSizes.set(btf, sz);
  }
  return sz;
}

/** Kinds that end a size chain with a size of their own (a pointer's is {@link ptrSize}). */
const SIZED_LEAF = new Set(['INT', 'STRUCT', 'UNION', 'ENUM', 'ENUM64', 'DATASEC', 'FLOAT', 'PTR']);

/**
 * `btf__resolve_size` (libs/btf layout.ts `libbpfResolveSize`, pointers of {@link ptrSize}) with libbpf's errno
 * results: -EINVAL for void, forward declarations, functions, dangling ids and chains longer than 32; -E2BIG when
 * the array dimensions multiply past 4 GiB.
 */
export function resolveSize(btf: Btf, id: number): number {
  // typeById's range check, without decoding the type.
  if (!Number.isInteger(id) || id < 0 || id >= btf.nextId) return -Errno.EINVAL;
  let size: number;
  try {
    size = libbpfResolveSize(btf, id, ptrSize(btf));
  } catch (err) {
    if (err instanceof BtfError) return -Errno.EINVAL; // a dangling reference further down the chain
    throw err;
  }
  return size >= 0 ? size : sizeFailure(btf, id);
}

/**
 * Why {@link resolveSize} found no size: when the chain does reach a sized type within the depth limit, only the
 * u32 overflow check can have failed (-E2BIG); otherwise the type has no size (-EINVAL).
 */
function sizeFailure(btf: Btf, id: number): number {
  let t = typeById(btf, id);
  for (let i = 0; i < LIBBPF_MAX_RESOLVE_DEPTH && t !== undefined; i++) {
    if (SIZED_LEAF.has(t.kind)) return -Errno.E2BIG;
    const next = t.kind === 'ARRAY' || t.kind === 'VAR' || t.kind === 'DECL_TAG' ? t.type : refOf(t);
    if (next === undefined || next === 0) return -Errno.EINVAL;
    t = typeById(btf, next);
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
 * {@link typeLabel} of a type id, read from its record's header and name (nothing decoded: a candidate such as
 * `struct task_struct` is labelled for the log without building its hundreds of members).
 */
export function typeLabelOf(btf: Btf, id: number): string {
  if (id === 0) return typeLabel(VOID);
  const name = btf.strings.tryGet(btf.nameOffOf(id)) ?? '';
  return `${btf.kindNameOf(id).toLowerCase()} ${name === '' ? '<anon>' : name}`;
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

/**
 * One BTF's named own records grouped by kind and the first byte of their name: `order` holds record indices
 * (id - startId), ascending within each group, and group `(kind << 8) | byte` spans
 * `order[starts[g]] .. order[starts[g + 1] - 1]`.
 */
interface NameIndex {
  order: Int32Array;
  starts: Int32Array;
  /** Every own record's name offset, by id - startId. */
  nameOffs: Uint32Array;
}

const nameIndexes = new WeakMap<Btf, NameIndex>();

/** Groups: 32 kinds × 256 first bytes. */
const GROUPS = 32 * 256;

/** Each record's group while an index is made (reused: one index is made at a time). */
let groupScratch = new Int32Array(0);

/**
 * The name index of `btf`, made on its first name search: a counting sort of its named records by kind and first
 * name byte, in typed arrays (one pass over the record words, one over the groups; nothing allocated per record).
 * A search then compares the names of one group (a few hundred structs or funcs of a 100k-type vmlinux) instead of every record; a dry
 * run loads a kernel's BTF for one object's few dozen lookups, so this setup is a large part of a load's cost.
 * (One pass for every kind costs less than one per kind searched: attach targets search the funcs, half of all.)
 */
function nameIndexOf(btf: Btf): NameIndex {
  let index = nameIndexes.get(btf);
  if (index) return index;
  const n = btf.nextId - btf.startId;
  const { offsets, startId, typeWords: words } = btf;
  const typeStart = btf.header.typeStart;
  const nameOffs = new Uint32Array(n);
  const strings = btf.strings;
  if (groupScratch.length < n) groupScratch = new Int32Array(n);
  const group = groupScratch;
  const starts = new Int32Array(GROUPS + 1);
  for (let i = 0; i < n; i++) {
    // recordWordIndex inline for the word-aligned records every compiler writes: in a one-shot process this loop
    // runs before the JIT has compiled much, and a call per record is what costs there.
    const rel = offsets[i] - typeStart;
    const w = (rel & 3) === 0 ? rel >>> 2 : btf.recordWordIndex(startId + i);
    const off = recordNameOff(words, w);
    nameOffs[i] = off;
    let g = -1;
    if (off !== 0) {
      const first = strings.firstByte(off);
      if (first >= 0) g = (recordKind(words, w) << 8) | first;
    }
    group[i] = g;
    if (g >= 0) starts[g + 1]++;
  }
  for (let g = 0; g < GROUPS; g++) starts[g + 1] += starts[g];
  const fill = starts.slice(0, GROUPS);
  const order = new Int32Array(starts[GROUPS]);
  for (let i = 0; i < n; i++) {
    const g = group[i];
    if (g >= 0) order[fill[g]++] = i;
  }
  index = { order, starts, nameOffs };
  nameIndexes.set(btf, index);
  return index;
}

/**
 * Own ids of `btf` of kind number `kind` whose raw name starts with the bytes of `prefix` (latin1), in id order;
 * with `exact`, only names equal to it. Name bytes are compared in place in the string section.
 */
export function ownIdsByNamePrefix(btf: Btf, kind: number, prefix: string, exact: boolean): number[] {
  const out: number[] = [];
  const L = prefix.length;
  if (L === 0 || kind < 0 || kind > 31) return out;
  const want = Buffer.from(prefix, 'latin1');
  if (want.toString('latin1') !== prefix) return out; // a char past latin1: no raw name can start with it
  const { order, starts, nameOffs } = nameIndexOf(btf);
  const g = (kind << 8) | want[0];
  const { strings, startId } = btf;
  for (let at = starts[g]; at < starts[g + 1]; at++) {
    const i = order[at];
    const off = nameOffs[i];
    const pos = strings.locate(off);
    const bytes = strings.bytesAt(off);
    if (exact && bytes[pos + L] !== 0) continue;
    let j = 1;
    while (j < L && bytes[pos + j] === want[j]) j++;
    if (j === L) out.push(startId + i);
  }
  return out;
}
