/**
 * The catalog's model of stored types (shapes, their bodies, name buckets): what the read side needs, without
 * libs/btf. Turning BTF into shapes is normalize-btf.ts.
 */

/** Kinds the catalog stores, as the contract names them. */
export type ShapeKind = 'struct' | 'union' | 'enum' | 'typedef' | 'func';

/**
 * A flattened member as the catalog stores it: `[name, bits_offset, bitfield_size, size, type, anon_depth]`,
 * plus, for a member whose type is an unnamed struct/union (`struct {...} stats;`), that type's own flattened
 * members (so paths such as `foo.stats.x` resolve without the BTF).
 */
export type StoredMember =
  | [name: string, bitsOffset: number, bitfieldSize: number, size: number, type: string, anonDepth: number]
  | [name: string, bitsOffset: number, bitfieldSize: number, size: number, type: string, anonDepth: number, children: StoredMember[]];

/** Body of a struct/union shape. */
export interface CompositeBody {
  members: StoredMember[];
}

/** Body of an enum shape (ENUM and ENUM64 alike): values as decimal strings, exact for 64-bit ones. */
export interface EnumBody {
  signed: boolean;
  values: [name: string, value: string][];
}

/** Body of a typedef shape: the C spelling of its target, and its members when that is an unnamed struct/union. */
export interface TypedefBody {
  type: string;
  members?: StoredMember[];
}

/** Body of a func shape: what a kprobe/fentry program sees. */
export interface FuncBody {
  ret: string;
  params: [name: string, type: string][];
  variadic: boolean;
}

export type ShapeBody = CompositeBody | EnumBody | TypedefBody | FuncBody;

/** One normalized named type of a kernel (or of one of its modules). */
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

/** The bucket of a type name (FNV-1a over its UTF-16 code units, modulo {@link BUCKETS}). Stable forever. */
export function bucketOf(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % BUCKETS;
}
