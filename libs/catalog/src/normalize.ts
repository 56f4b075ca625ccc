/**
 * The catalog's model of stored types (shapes, their bodies, name buckets): what the read side needs, without
 * libs/btf's decoder (only its type references, `@btf-atlas/btf/type-ref`). Turning BTF into shapes is
 * normalize-btf.ts.
 */
import { spellRef, type TypeRef } from '@btf-atlas/btf/type-ref';

export type { TypeRef };

/**
 * The type of a member, parameter, return value or typedef target as a body stores it: a {@link TypeRef} (the
 * type graph: named types by kind and name, the links to them written out) from normalizer version 3 on; the C
 * spelling in bodies written by older normalizers, which only a reindex replaces (db.ts NORMALIZER_VERSION).
 */
export type StoredType = TypeRef | string;

/** The C spelling of a stored type, for display (derived from the reference; never parsed back). */
export function spelled(t: StoredType): string {
  if (typeof t === 'string') return t;
  let s = spellings.get(t);
  if (s === undefined) spellings.set(t, (s = spellRef(t)));
  return s;
}

/** Spellings of parsed references (a parsed body's members are asked for once per kernel of a history). */
const spellings = new WeakMap<TypeRef, string>();

/**
 * The reference of a stored type. A spelling stored by an older normalizer (read until the catalog is reindexed)
 * gives one only when it names a type by value, with qualifiers at most (`struct sched_entity`, `const pid_t`),
 * which is all a field path needs to follow it; anything else gives undefined.
 */
export function refOf(t: StoredType): TypeRef | undefined {
  if (typeof t !== 'string') return t;
  const m = /^(?:(?:const|volatile) )*(?:(struct|union|enum) )?([A-Za-z_]\w*)$/.exec(t);
  if (!m) return undefined;
  return m[1] === 'struct' ? ['s', m[2]] : m[1] === 'union' ? ['u', m[2]] : m[1] === 'enum' ? ['e', m[2], 0, 0] : ['t', m[2]];
}

/** The named struct, union or typedef a type is by value (qualifiers and type tags skipped), if it is one. */
export function byValueName(t: StoredType): { kind: 'struct' | 'union' | 'typedef'; name: string } | undefined {
  const r = refOf(t);
  if (r === undefined) return undefined;
  const u = unqualified(r);
  if (u[0] === 's' || u[0] === 'u' || u[0] === 't') return u[1] === '' ? undefined : { kind: u[0] === 's' ? 'struct' : u[0] === 'u' ? 'union' : 'typedef', name: u[1] };
  return undefined;
}

/** The name of the named type a type is built on, through qualifiers, type tags and pointers (`cred` for `const struct cred *`). */
export function pointeeName(t: StoredType): string | undefined {
  let r = refOf(t);
  while (r !== undefined && (r[0] === 'q' || r[0] === 'g' || r[0] === 'p')) r = r[0] === 'p' ? r[1] : r[2];
  if (r === undefined) return undefined;
  if (r[0] === 's' || r[0] === 'u' || r[0] === 'e' || r[0] === 't') return r[1] === '' ? undefined : r[1];
  return r[0] === 'w' ? r[2] : undefined;
}

/** The reference without its qualifiers and type tags. */
function unqualified(r: TypeRef): TypeRef {
  while (r[0] === 'q' || r[0] === 'g') r = r[2];
  return r;
}

/** Kinds the catalog stores, as the contract names them. */
export type ShapeKind = 'struct' | 'union' | 'enum' | 'typedef' | 'func';

/**
 * A flattened member as the catalog stores it: `[name, bits_offset, bitfield_size, size, type, anon_depth]`,
 * plus, for a member whose type is an unnamed struct/union (`struct {...} stats;`), that type's own flattened
 * members (so paths such as `foo.stats.x` resolve without the BTF).
 */
export type StoredMember =
  | [name: string, bitsOffset: number, bitfieldSize: number, size: number, type: StoredType, anonDepth: number]
  | [name: string, bitsOffset: number, bitfieldSize: number, size: number, type: StoredType, anonDepth: number, children: StoredMember[]];

/** Body of a struct/union shape. */
export interface CompositeBody {
  members: StoredMember[];
}

/** Body of an enum shape (ENUM and ENUM64 alike): values as decimal strings, exact for 64-bit ones. */
export interface EnumBody {
  signed: boolean;
  values: [name: string, value: string][];
}

/**
 * Body of a typedef shape: its target's type, its members when that is an unnamed struct/union, and
 * the prototype when it is a pointer to a FUNC_PROTO (qualifiers aside): every `btf_trace_NAME` typedef of a raw
 * tracepoint, whose first parameter is the `void *` context.
 */
export interface TypedefBody {
  type: StoredType;
  members?: StoredMember[];
  proto?: ProtoBody;
}

/** Kinds a {@link TypeDesc} names: the BTF kind of a type once const, volatile, restrict and type tags are skipped. */
export type TypeDescKind = 'void' | 'int' | 'float' | 'ptr' | 'array' | 'struct' | 'union' | 'enum' | 'fwd' | 'typedef' | 'func_proto';

/**
 * A small structured description of a parameter's or return value's type, stored beside its spelling so that
 * changes are classified without parsing C back: the kind once qualifiers and type tags are skipped (`typedef`
 * for `u32`, `ptr` for `const struct cred *`), `base` the kind behind typedefs too (a typedef's only), the size in
 * bytes behind typedefs (libbpf `btf__resolve_size`; 0 for void, functions and incomplete types) and, for an
 * integer or enum behind typedefs, whether it is signed (INT encoding SIGNED, ENUM/ENUM64 kind_flag).
 */
export interface TypeDesc {
  kind: TypeDescKind;
  size: number;
  signed?: boolean;
  base?: TypeDescKind;
}

/**
 * A {@link TypeDesc} as bodies store it, a tuple (func bodies are most of a catalog's first kernel: objects would
 * double their size): `[kind, size]`, `[kind, size, signed]` for an integer or enum, `[kind, size, signed | null,
 * base]` for a typedef.
 */
export type StoredTypeDesc =
  | [kind: TypeDescKind, size: number]
  | [kind: TypeDescKind, size: number, signed: boolean]
  | [kind: TypeDescKind, size: number, signed: boolean | null, base: TypeDescKind];

/** The stored form of a {@link TypeDesc}. */
export function storeTypeDesc(d: TypeDesc): StoredTypeDesc {
  if (d.base !== undefined) return [d.kind, d.size, d.signed ?? null, d.base];
  return d.signed !== undefined ? [d.kind, d.size, d.signed] : [d.kind, d.size];
}

/** A {@link TypeDesc} from its stored form. */
export function readTypeDesc(s: StoredTypeDesc): TypeDesc {
  const d: TypeDesc = { kind: s[0], size: s[1] };
  if (s.length > 2 && s[2] !== null && s[2] !== undefined) d.signed = s[2];
  if (s.length > 3) d.base = s[3];
  return d;
}

/** BTF_FUNC_STATIC (0), BTF_FUNC_GLOBAL (1), BTF_FUNC_EXTERN (2) of `enum btf_func_linkage` (include/uapi/linux/btf.h). */
export type FuncLinkage = 'static' | 'global' | 'extern';

/**
 * A FUNC_PROTO as stored: return and parameter types (parameter names as BTF has them, '' when unnamed; a
 * trailing type-0 parameter is `variadic`, not a parameter), and the {@link TypeDesc} of each (stored form).
 */
export interface ProtoBody {
  ret: StoredType;
  params: [name: string, type: StoredType][];
  variadic: boolean;
  retDesc: StoredTypeDesc;
  paramDescs: StoredTypeDesc[];
}

/**
 * Body of a func shape: what a kprobe/fentry program sees, the FUNC's linkage, and its BTF decl tags: `tags` the
 * values of DECL_TAGs with component_idx -1 on the FUNC (`bpf_kfunc`, `bpf_fastcall`…), `paramTags[i]` those with
 * component_idx i (present only when some parameter has one). Tags are sorted, each value once.
 */
export interface FuncBody extends ProtoBody {
  linkage: FuncLinkage;
  tags?: string[];
  paramTags?: string[][];
}

export type ShapeBody = CompositeBody | EnumBody | TypedefBody | FuncBody;

/**
 * One normalized type of a kernel (or of one of its modules): a named struct, union, enum, typedef or func, or an
 * anonymous enum (name ''; its enumerators are what names it, see shape-index.ts). Read answers never list the
 * name '' itself.
 */
export interface Shape {
  kind: ShapeKind;
  name: string;
  size: number;
  /** Canonical JSON of the body (what is stored and hashed). */
  body: string;
  /** First 16 bytes of sha256 over kind, name, size and body. */
  hash: Buffer;
  /** '' for vmlinux, the module's name for module BTF. */
  module: string;
}

/** Number of name buckets: each kernel has one shape set per bucket. Part of the stored data: never change it. */
export const BUCKETS = 1024;

/** The bucket of a type name ({@link fnv1a} of it, modulo {@link BUCKETS}). Stable forever. */
export function bucketOf(name: string): number {
  return fnv1a(name) % BUCKETS;
}

/** 32-bit FNV-1a over a string's UTF-16 code units: the stored hashes of names (buckets, type-ids.ts) use it. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
