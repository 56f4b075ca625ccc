/**
 * Sizes, alignments and pointer sizes of BTF types, in one place: the pointer size of a BTF (libbpf's rule, from
 * long-size.ts, and the DATASEC fallback), the resolved size of any type for the catalog, libbpf's own
 * `btf__resolve_size` / `btf__align_of` / `btf_is_struct_packed` (what the C header dump goes by), the flattened
 * member list of a struct/union (format (b) of the corpus README) and every member *path* of a struct
 * (`task_struct.se.vruntime`). Every walk is bounded and fails with a {@link BtfError}; the catalog's results are
 * memoized per {@link Btf} and type id.
 *
 * Two other size rules live elsewhere on purpose: the kernel's (validate-resolve.ts `idSize`, on the validator's
 * flat tables, in its hot loop) and pahole's (pahole.ts `tagSize`/`natural`: pahole sizes an INT by its bit count
 * and a prototype as a pointer, and infers alignment from gaps), whose outputs must match those tools.
 */
import type { Btf } from './btf.js';
import { spellType } from './c-spelling.js';
import { BtfError, BtfErrorCode } from './errors.js';
import { BtfKind } from './kinds.js';
import { longSizeOf } from './long-size.js';

export { longSizeOf };
import type { CompositeType } from './types.js';

const {
  INT: KIND_INT, PTR: KIND_PTR, ARRAY: KIND_ARRAY, STRUCT: KIND_STRUCT, UNION: KIND_UNION, ENUM: KIND_ENUM, TYPEDEF: KIND_TYPEDEF,
  VOLATILE: KIND_VOLATILE, CONST: KIND_CONST, RESTRICT: KIND_RESTRICT, VAR: KIND_VAR, DATASEC: KIND_DATASEC, FLOAT: KIND_FLOAT,
  TYPE_TAG: KIND_TYPE_TAG, ENUM64: KIND_ENUM64,
} = BtfKind;

/** The pointer size used when a BTF gives no hint (libbpf falls back to the host's `sizeof(void *)`). */
export const DEFAULT_POINTER_SIZE = 8;


interface LayoutCache {
  pointerSize?: number | null;
  sizes: Map<number, number>;
  flat: Map<number, readonly FlatMember[]>;
}

const caches = new WeakMap<Btf, LayoutCache>();

function cacheOf(btf: Btf): LayoutCache {
  let c = caches.get(btf);
  if (!c) {
    c = { sizes: new Map(), flat: new Map() };
    caches.set(btf, c);
  }
  return c;
}

/**
 * The pointer size (4 or 8) the BTF itself reveals, or undefined when it reveals none. As libbpf's
 * `determine_ptr_size` (src/btf.c): a split BTF uses its base's answer; otherwise the size of the first INT of
 * size 4 or 8 named like `long` (`long int`, `long unsigned int`, ...). When there is no such INT, the size of
 * the first DATASEC variable whose type is a pointer (a pointer-sized thing) decides.
 */
export function detectPointerSize(btf: Btf): number | undefined {
  const c = cacheOf(btf);
  if (c.pointerSize !== undefined) return c.pointerSize ?? undefined;
  let found: number | undefined = btf.base ? detectPointerSize(btf.base) : undefined;
  if (found === undefined) found = longSizeOf(btf) ?? findPointerVarSize(btf);
  c.pointerSize = found ?? null;
  return found;
}

/** libbpf `btf__pointer_size` semantics with a fallback: {@link detectPointerSize}, else {@link DEFAULT_POINTER_SIZE}. */
export function pointerSize(btf: Btf): number {
  return detectPointerSize(btf) ?? DEFAULT_POINTER_SIZE;
}

function findPointerVarSize(btf: Btf): number | undefined {
  for (let id = 1; id < btf.nextId; id++) {
    if (btf.kindOf(id) !== KIND_DATASEC) continue;
    const t = btf.type(id);
    if (t.kind !== 'DATASEC') continue;
    for (const v of t.vars) {
      if ((v.size !== 4 && v.size !== 8) || btf.kindOf(v.type) !== KIND_VAR) continue;
      const varType = (btf.type(v.type) as { type: number }).type;
      if (btf.kindOf(stripModifiers(btf, varType)) === KIND_PTR) return v.size;
    }
  }
  return undefined;
}

/** True for the kinds {@link stripModifiers} looks through. */
function isModifierKind(kind: number): boolean {
  return kind === KIND_TYPEDEF || kind === KIND_CONST || kind === KIND_VOLATILE || kind === KIND_RESTRICT || kind === KIND_TYPE_TAG;
}

/**
 * The type behind typedefs, const, volatile, restrict and type tags (libbpf `skip_mods_and_typedefs`); 0 for
 * void. Throws BTF_TYPE_LOOP after `btf.limits.maxResolveDepth` steps, BTF_BAD_TYPE_REF for ids out of range.
 */
export function stripModifiers(btf: Btf, id: number): number {
  const limit = btf.limits.maxResolveDepth;
  for (let steps = 0; id !== 0; steps++) {
    const k = btf.kindOf(id);
    if (k < 0) throw new BtfError(BtfErrorCode.BadTypeRef, `type id ${id} is out of range`, { typeId: id });
    if (!isModifierKind(k)) return id;
    if (steps >= limit) {
      throw new BtfError(BtfErrorCode.TypeLoop, `more than ${limit} typedefs/modifiers in a row (a reference cycle?)`, { typeId: id });
    }
    id = (btf.type(id) as { type: number }).type;
  }
  return 0;
}

/**
 * The size in bytes of type `id` (libbpf `btf__resolve_size`): through typedefs, qualifiers, type tags, VAR and
 * DECL_TAG; arrays multiply their element size; pointers take {@link pointerSize}. Throws {@link BtfError}:
 * BTF_BAD_TYPE_REF for void, FWD, FUNC and FUNC_PROTO (no size) or ids out of range, BTF_TYPE_LOOP for chains
 * longer than `btf.limits.maxResolveDepth`, BTF_BAD_TYPE when the size exceeds 2^32 - 1.
 */
export function resolvedSize(btf: Btf, id: number): number {
  const c = cacheOf(btf);
  const hit = c.sizes.get(id);
  if (hit !== undefined) return hit;
  const limit = btf.limits.maxResolveDepth;
  let mult = 1;
  let cur = id;
  let size: number | undefined;
  for (let steps = 0; size === undefined; steps++) {
    if (steps > limit) {
      throw new BtfError(BtfErrorCode.TypeLoop, `type chain is deeper than ${limit} references (a reference cycle?) while sizing type [${id}]`, { typeId: cur });
    }
    if (cur === 0) throw new BtfError(BtfErrorCode.BadTypeRef, `type [${id}] resolves to void, which has no size`, { typeId: id });
    const t = btf.type(cur);
    switch (t.kind) {
      case 'INT':
      case 'ENUM':
      case 'ENUM64':
      case 'STRUCT':
      case 'UNION':
      case 'DATASEC':
      case 'FLOAT':
        size = t.size;
        break;
      case 'PTR':
        size = pointerSize(btf);
        break;
      case 'TYPEDEF':
      case 'CONST':
      case 'VOLATILE':
      case 'RESTRICT':
      case 'TYPE_TAG':
      case 'VAR':
      case 'DECL_TAG':
        cur = t.type;
        break;
      case 'ARRAY': {
        const c2 = c.sizes.get(t.type);
        mult *= t.nelems;
        if (c2 !== undefined) size = c2;
        cur = t.type;
        break;
      }
      default:
        throw new BtfError(BtfErrorCode.BadTypeRef, `type [${id}] resolves to a ${t.kind}, which has no size`, { typeId: cur });
    }
  }
  const total = size * mult;
  if (total > 0xffffffff) {
    throw new BtfError(BtfErrorCode.BadType, `size of type [${id}] (${total} bytes) exceeds 2^32 - 1`, { typeId: id });
  }
  c.sizes.set(id, total);
  return total;
}

// ---- libbpf's rules (src/btf.c btf__resolve_size, btf__align_of; btf_dump.c btf_is_struct_packed) ----

/** libbpf's MAX_RESOLVE_DEPTH: btf__resolve_size follows at most this many references. */
export const LIBBPF_MAX_RESOLVE_DEPTH = 32;

/**
 * libbpf `btf__resolve_size` with pointers of `ptrSize` bytes: the size of `id` through typedefs, qualifiers,
 * type tags, VAR and DECL_TAG, arrays multiplied out; -1 when it has none (void, FWD, FUNC, FUNC_PROTO), when
 * the chain is longer than {@link LIBBPF_MAX_RESOLVE_DEPTH}, or when the size overflows a u32 (checked at each
 * array, as libbpf does). Unlike {@link resolvedSize}, it never throws and memoizes nothing.
 */
export function libbpfResolveSize(btf: Btf, id: number, ptrSize: number): number {
  let nelems = 1;
  let cur = id;
  for (let i = 0; i < LIBBPF_MAX_RESOLVE_DEPTH && cur !== 0; i++) {
    const t = btf.type(cur);
    switch (t.kind) {
      case 'INT': case 'STRUCT': case 'UNION': case 'ENUM': case 'ENUM64': case 'DATASEC': case 'FLOAT':
        return nelems * t.size > 0xffffffff ? -1 : nelems * t.size;
      case 'PTR':
        return nelems * ptrSize > 0xffffffff ? -1 : nelems * ptrSize;
      case 'TYPEDEF': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'VAR': case 'DECL_TAG': case 'TYPE_TAG':
        cur = t.type;
        break;
      case 'ARRAY':
        if (nelems !== 0 && t.nelems > Math.floor(0xffffffff / nelems)) return -1;
        nelems *= t.nelems;
        cur = t.type;
        break;
      default:
        return -1;
    }
  }
  return -1;
}

/**
 * libbpf `btf__align_of` with pointers of `ptrSize` bytes: an INT, ENUM, ENUM64 or FLOAT is aligned to its size
 * (at most a pointer's), a PTR to a pointer, typedefs, qualifiers, type tags and arrays to what they refer to, a
 * struct or union to its most aligned member, or 1 when a member sits off its natural alignment or the size is
 * not a multiple of it (packed); 0 for what has no alignment (void, FWD, FUNC_PROTO, …). `memo` (one per walk,
 * indexed by type id, zero-filled) holds alignment + 1 per id, -1 while a struct is being looked at: a struct
 * that contains itself (hostile BTF) counts as 0 there. A reference chain longer than `maxDepth` raises
 * BTF_TYPE_LOOP.
 */
export function libbpfAlignOf(btf: Btf, id: number, ptrSize: number, memo: Int32Array, maxDepth: number): number {
  const m = memo[id];
  if (m > 0) return m - 1;
  if (m < 0) return 0; // in progress: a cycle through embedded structs (hostile BTF)
  let cur = id;
  let a = 0;
  for (let i = 0; ; i++) {
    if (cur === 0) break;
    if (i > maxDepth) throw chainTooDeep(id, maxDepth);
    const k = btf.kindOf(cur);
    if (k === KIND_INT || k === KIND_ENUM || k === KIND_ENUM64 || k === KIND_FLOAT) {
      a = Math.min(ptrSize, (btf.type(cur) as { size: number }).size);
      break;
    }
    if (k === KIND_PTR) {
      a = ptrSize;
      break;
    }
    if (k === KIND_TYPEDEF || k === KIND_VOLATILE || k === KIND_CONST || k === KIND_RESTRICT || k === KIND_TYPE_TAG || k === KIND_ARRAY) {
      cur = (btf.type(cur) as { type: number }).type;
      continue;
    }
    if (k === KIND_STRUCT || k === KIND_UNION) {
      if (cur !== id) {
        a = libbpfAlignOf(btf, cur, ptrSize, memo, maxDepth);
        break;
      }
      memo[id] = -1;
      a = compositeAlign(btf, btf.type(cur) as CompositeType, ptrSize, memo, maxDepth);
      break;
    }
    break; // FWD, FUNC_PROTO, …: libbpf answers 0 ("unsupported")
  }
  memo[id] = a + 1;
  return a;
}

function compositeAlign(btf: Btf, t: CompositeType, ptrSize: number, memo: Int32Array, maxDepth: number): number {
  let maxAlign = 1;
  for (const m of t.members) {
    const align = libbpfAlignOf(btf, m.type, ptrSize, memo, maxDepth);
    if (align <= 0) return 0;
    if (align > maxAlign) maxAlign = align;
    // a member off its natural alignment: the struct must be packed
    if (m.bitfieldSize === 0 && m.bitsOffset % (8 * align) !== 0) return 1;
  }
  return t.size % maxAlign !== 0 ? 1 : maxAlign;
}

/**
 * libbpf `btf_is_struct_packed`: a non-bitfield member off its natural alignment, or a size that is not a multiple
 * of the largest member alignment, needs `__attribute__((packed))`. Alignments as {@link libbpfAlignOf}.
 */
export function libbpfIsStructPacked(btf: Btf, t: CompositeType, ptrSize: number, memo: Int32Array, maxDepth: number): boolean {
  let maxAlign = 1;
  for (const m of t.members) {
    const align = libbpfAlignOf(btf, m.type, ptrSize, memo, maxDepth);
    if (align !== 0 && m.bitfieldSize === 0 && m.bitsOffset % (8 * align) !== 0) return true;
    if (align > maxAlign) maxAlign = align;
  }
  return t.size % maxAlign !== 0;
}

function chainTooDeep(id: number, maxDepth: number): BtfError {
  return new BtfError(BtfErrorCode.TypeLoop, `type chain is deeper than ${maxDepth} references at type [${id}] (a reference cycle?)`, { typeId: id });
}

/** One entry of a flattened member list (corpus README format (b), plus the member's size). */
export interface FlatMember {
  /** The member's name (never empty: unnamed members are expanded or skipped). */
  readonly name: string;
  /** Bit offset from the start of the outermost struct/union. */
  readonly bitsOffset: number;
  /** `bitsOffset / 8`, rounded down. */
  readonly byteOffset: number;
  /** Bitfield width in bits; 0 unless a bitfield (of a kind_flag struct, as libbpf `btf_member_bitfield_size`). */
  readonly bitfieldSize: number;
  /** The member's own type id (before typedefs and qualifiers). */
  readonly typeId: number;
  /** The C spelling of `typeId` ({@link spellType}). */
  readonly type: string;
  /** How many unnamed struct/union members were crossed to reach this member. */
  readonly anonDepth: number;
  /** Resolved size of the member's type in bytes (for a bitfield: of its storage type). */
  readonly size: number;
}

function asComposite(btf: Btf, id: number): CompositeType {
  const t = btf.type(id);
  if (t.kind !== 'STRUCT' && t.kind !== 'UNION') {
    throw new BtfError(BtfErrorCode.BadTypeRef, `type [${id}] is a ${t.kind}, not a struct or union`, { typeId: id });
  }
  return t;
}

/**
 * The flattened members of struct/union `id`, exactly as format (b) of the corpus README lists them: named
 * members in declaration order; a member without a name whose type is (after typedefs, qualifiers and type tags)
 * a struct or union is replaced by its own flattened members at absolute offsets, one `anonDepth` deeper; other
 * unnamed members (padding bitfields) are left out; named nested structs stay one member.
 *
 * The returned array is memoized and shared: do not modify it. Throws {@link BtfError}: BTF_BAD_TYPE_REF when
 * `id` is not a struct/union or a member type is out of range or has no size, BTF_TYPE_LOOP when a struct
 * contains itself through unnamed members or nesting exceeds `btf.limits.maxResolveDepth`.
 */
export function flattenMembers(btf: Btf, id: number): readonly FlatMember[] {
  const c = cacheOf(btf);
  const hit = c.flat.get(id);
  if (hit) return hit;
  const out: FlatMember[] = [];
  flattenInto(btf, asComposite(btf, id), 0, 0, [id], out, { visited: 0, root: id });
  c.flat.set(id, out);
  return out;
}

/** Most member records visited while flattening one struct; bounds unnamed members shared exponentially. */
export const MAX_FLATTEN_VISITS = 1 << 20;

function flattenInto(
  btf: Btf,
  t: CompositeType,
  base: number,
  depth: number,
  open: number[],
  out: FlatMember[],
  work: { visited: number; root: number },
): void {
  for (const m of t.members) {
    if (++work.visited > MAX_FLATTEN_VISITS) {
      throw new BtfError(BtfErrorCode.LimitExceeded, `flattening struct/union [${work.root}] visits more than ${MAX_FLATTEN_VISITS} members`, { typeId: work.root });
    }
    const bitsOffset = base + m.bitsOffset;
    if (m.name === '') {
      const inner = stripModifiers(btf, m.type);
      const k = btf.kindOf(inner);
      if (k !== KIND_STRUCT && k !== KIND_UNION) continue;
      if (open.includes(inner)) {
        throw new BtfError(BtfErrorCode.TypeLoop, `struct/union [${inner}] contains itself through unnamed members`, { typeId: t.id });
      }
      if (open.length > btf.limits.maxResolveDepth) {
        throw new BtfError(BtfErrorCode.TypeLoop, `unnamed members nested deeper than ${btf.limits.maxResolveDepth} levels`, { typeId: t.id });
      }
      open.push(inner);
      flattenInto(btf, asComposite(btf, inner), bitsOffset, depth + 1, open, out, work);
      open.pop();
      continue;
    }
    out.push({
      name: m.name,
      bitsOffset,
      byteOffset: Math.floor(bitsOffset / 8),
      bitfieldSize: m.bitfieldSize,
      typeId: m.type,
      type: spellType(btf, m.type),
      anonDepth: depth,
      size: resolvedSize(btf, m.type),
    });
  }
}

/** One member path of a struct/union, as the catalog indexes it for field-path lookups. */
export interface MemberPath {
  /** Dotted path below the struct, C-style: `len`, `se.vruntime` (prefix the struct name for a field path). */
  readonly path: string;
  /** Bit offset from the start of the outermost struct/union. */
  readonly bitsOffset: number;
  /** `bitsOffset / 8`, rounded down. */
  readonly byteOffset: number;
  /** Bitfield width in bits; 0 unless a bitfield. */
  readonly bitfieldSize: number;
  /** Resolved size of the member's type in bytes. */
  readonly size: number;
  /** The member's own type id. */
  readonly typeId: number;
  /** The C spelling of `typeId`. */
  readonly type: string;
}

/** Bounds for {@link memberPaths}. */
export interface MemberPathOptions {
  /** Most paths listed for one struct (default 100,000); more raise BTF_LIMIT_EXCEEDED. */
  maxPaths?: number;
}

/** Default of {@link MemberPathOptions.maxPaths}: far above any kernel struct (task_struct has a few thousand). */
export const DEFAULT_MAX_MEMBER_PATHS = 100_000;

/**
 * Every member path of struct/union `id`: each flattened member ({@link flattenMembers}), then, when its type
 * is (after typedefs and qualifiers) a struct or union held by value, that struct's member paths below it,
 * recursively (`se`, `se.load`, `se.vruntime`, ...). Pointers and arrays are not followed. Paths come in
 * depth-first declaration order.
 *
 * Throws {@link BtfError}: BTF_TYPE_LOOP when a struct contains itself by value or nesting exceeds
 * `btf.limits.maxResolveDepth`, BTF_LIMIT_EXCEEDED past `maxPaths`, and whatever {@link flattenMembers} throws.
 */
export function memberPaths(btf: Btf, id: number, opts: MemberPathOptions = {}): MemberPath[] {
  const maxPaths = opts.maxPaths ?? DEFAULT_MAX_MEMBER_PATHS;
  const out: MemberPath[] = [];
  const walk = (sid: number, prefix: string, base: number, open: number[]): void => {
    for (const m of flattenMembers(btf, sid)) {
      if (out.length >= maxPaths) {
        throw new BtfError(BtfErrorCode.LimitExceeded, `struct/union [${id}] has more than ${maxPaths} member paths`, { typeId: id });
      }
      const path = prefix + m.name;
      const bitsOffset = base + m.bitsOffset;
      out.push({
        path,
        bitsOffset,
        byteOffset: Math.floor(bitsOffset / 8),
        bitfieldSize: m.bitfieldSize,
        size: m.size,
        typeId: m.typeId,
        type: m.type,
      });
      const inner = stripModifiers(btf, m.typeId);
      const k = btf.kindOf(inner);
      if (k !== KIND_STRUCT && k !== KIND_UNION) continue;
      if (open.includes(inner)) {
        throw new BtfError(BtfErrorCode.TypeLoop, `struct/union [${inner}] contains itself by value (member ${path})`, { typeId: sid });
      }
      if (open.length > btf.limits.maxResolveDepth) {
        throw new BtfError(BtfErrorCode.TypeLoop, `structs nested by value deeper than ${btf.limits.maxResolveDepth} levels`, { typeId: sid });
      }
      open.push(inner);
      walk(inner, `${path}.`, bitsOffset, open);
      open.pop();
    }
  };
  walk(id, '', 0, [id]);
  return out;
}
