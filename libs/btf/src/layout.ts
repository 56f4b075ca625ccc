/**
 * Layout helpers the catalog needs: the pointer size of a BTF, the resolved size of any type, the flattened
 * member list of a struct/union (format (b) of the corpus README) and every member *path* of a struct
 * (`task_struct.se.vruntime`). Every walk is bounded by `btf.limits.maxResolveDepth` and fails with a
 * {@link BtfError}; results are memoized per {@link Btf} and type id.
 */
import type { Btf } from './btf.js';
import { spellType } from './c-spelling.js';
import { BtfError, BtfErrorCode } from './errors.js';
import { BtfKind } from './kinds.js';
import { longSizeOf } from './long-size.js';

export { longSizeOf };
import type { CompositeType } from './types.js';

const { PTR: KIND_PTR, STRUCT: KIND_STRUCT, UNION: KIND_UNION, TYPEDEF: KIND_TYPEDEF, VOLATILE: KIND_VOLATILE, CONST: KIND_CONST, RESTRICT: KIND_RESTRICT, VAR: KIND_VAR, DATASEC: KIND_DATASEC, TYPE_TAG: KIND_TYPE_TAG } = BtfKind;

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
