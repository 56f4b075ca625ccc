/**
 * Stored type references (the catalog's type graph, `@btf-atlas/btf/type-ref`) read the way libbpf compares BTF
 * types when it relocates a CO-RE field access: qualifiers and type tags dropped, typedefs replaced by their
 * targets in the kernel at hand, integers by size and signedness as BTF encodes them.
 */
import { CatalogError, type StoredType, type TypeRef } from '@btf-atlas/catalog/read';

/** A type as far as CO-RE cares: qualifiers and type tags dropped (libbpf's `skip_mods_and_typedefs`). */
export type CType =
  | { t: 'void' }
  /** `bool` for a BTF_INT_BOOL, `char` for a BTF_INT_CHAR encoding. */
  | { t: 'int'; name: string; signed: boolean; bytes: number; char?: true }
  | { t: 'float'; name: string; bytes: number }
  /** `name` is '' for an unnamed one (`struct {...}`); a forward declaration reads as its struct or union. */
  | { t: 'struct' | 'union'; name: string }
  | { t: 'enum'; name: string; bytes: number; signed: boolean }
  /** A typedef name not (yet) resolved to its target. */
  | { t: 'named'; name: string }
  | { t: 'ptr'; to: CType }
  /** `n` is 0 for a flexible array (`char[0]`). */
  | { t: 'array'; n: number; of: CType }
  | { t: 'func'; ret: CType; params: CType[]; variadic: boolean };

/** The target of a typedef NAME in one kernel (module's own typedefs first), or undefined. */
export type TypedefLookup = (name: string, module: string) => StoredType | undefined;

/** Typedef chains longer than this are left unresolved (the kernel's own are a few levels deep). */
const MAX_TYPEDEF_DEPTH = 32;

/** How to resolve the names of one kernel's types. */
export interface TypeEnv {
  typedefs: TypedefLookup;
  /** The module whose typedefs come first ('' for vmlinux). */
  module: string;
}

/**
 * A stored type as a {@link CType}, typedefs unresolved. A C spelling (what normalizers before version 3 stored)
 * is refused with CATALOG_NEEDS_REINDEX: the diff reads the type graph, and only a reindex makes it.
 */
export function ctypeOf(t: StoredType): CType {
  if (typeof t === 'string') {
    throw new CatalogError('CATALOG_NEEDS_REINDEX', `this catalog stores types as C spellings (an older normalizer); run \`btf-atlas reindex\` to compare kernels`);
  }
  return fromRef(t);
}

function fromRef(r: TypeRef): CType {
  switch (r[0]) {
    case 'v':
      return { t: 'void' };
    case 'i': {
      const out: CType = { t: 'int', name: r[1], signed: (r[3] & 1) !== 0, bytes: r[2] };
      if (r[3] & 2) out.char = true;
      return out;
    }
    case 'f':
      return { t: 'float', name: r[1], bytes: r[2] };
    case 's':
      return { t: 'struct', name: r[1] };
    case 'u':
      return { t: 'union', name: r[1] };
    case 'w':
      return { t: r[1], name: r[2] };
    case 'e':
      return { t: 'enum', name: r[1], bytes: r[2], signed: r[3] === 1 };
    case 't':
      return { t: 'named', name: r[1] };
    case 'p':
      return { t: 'ptr', to: fromRef(r[1]) };
    case 'a':
      return { t: 'array', n: r[1], of: fromRef(r[2]) };
    case 'q':
    case 'g':
      return fromRef(r[2]);
    case 'fn':
      return { t: 'func', ret: fromRef(r[1]), params: r[2].map(fromRef), variadic: r[3] === 1 };
  }
}

/** Typedefs already resolved, per kernel's lookup: key `DEEP\0MODULE\0NAME`. */
const resolvedTypedefs = new WeakMap<TypedefLookup, Map<string, CType>>();

/**
 * Replaces typedef names by their targets, as libbpf's `skip_mods_and_typedefs` does before comparing types.
 * `deep` also resolves behind pointers, array elements and function prototypes (for exact equality); without it
 * only the top level and array elements are resolved (all that the CO-RE field-compatibility rules look at).
 *
 * Each typedef is resolved once per kernel (its lookup) and module, and its result is shared wherever it
 * appears: a prototype whose parameters are typedefs of prototypes of typedefs… is a graph, not a tree, and
 * writing it out as a tree costs 2^depth. A typedef met again inside its own definition (through a pointer or a
 * prototype) stays a name, as does one more than {@link MAX_TYPEDEF_DEPTH} levels down.
 */
export function resolveTypedefs(t: CType, env: TypeEnv, deep: boolean): CType {
  let memo = resolvedTypedefs.get(env.typedefs);
  if (!memo) resolvedTypedefs.set(env.typedefs, (memo = new Map()));
  return resolveIn(t, env, deep, memo, []);
}

function resolveIn(t: CType, env: TypeEnv, deep: boolean, memo: Map<string, CType>, expanding: string[]): CType {
  switch (t.t) {
    case 'named': {
      const key = `${deep ? 1 : 0}\0${env.module}\0${t.name}`;
      const hit = memo.get(key);
      if (hit) return hit;
      if (expanding.includes(t.name) || expanding.length >= MAX_TYPEDEF_DEPTH) return t;
      const target = env.typedefs(t.name, env.module);
      if (target === undefined) return t;
      expanding.push(t.name);
      const out = resolveIn(ctypeOf(target), env, deep, memo, expanding);
      expanding.pop();
      memo.set(key, out);
      return out;
    }
    case 'array':
      return { t: 'array', n: t.n, of: resolveIn(t.of, env, deep, memo, expanding) };
    case 'ptr':
      return deep ? { t: 'ptr', to: resolveIn(t.to, env, deep, memo, expanding) } : t;
    case 'func':
      return deep
        ? { t: 'func', ret: resolveIn(t.ret, env, deep, memo, expanding), params: t.params.map((p) => resolveIn(p, env, deep, memo, expanding)), variadic: t.variadic }
        : t;
    default:
      return t;
  }
}

/** Pairs of composite types already compared (the resolved types share their parts: compared once per pair). */
const compared = new WeakMap<CType, WeakMap<CType, boolean>>();

/**
 * Whether two (resolved) types are the same type: structurally equal, integers by size and signedness (so
 * `long unsigned int` and `long long unsigned int` are one type on a 64-bit kernel, as BTF dedup sees them).
 */
export function sameCType(a: CType, b: CType): boolean {
  if (a === b) return true;
  if (a.t !== b.t) return false;
  switch (a.t) {
    case 'int': {
      const y = b as typeof a;
      return a.bytes === y.bytes && a.signed === y.signed;
    }
    case 'float':
      return a.bytes === (b as typeof a).bytes;
    case 'enum': {
      const y = b as typeof a;
      return a.name === y.name && a.bytes === y.bytes && a.signed === y.signed;
    }
    case 'ptr':
    case 'array':
    case 'func': {
      let seen = compared.get(a);
      if (!seen) compared.set(a, (seen = new WeakMap()));
      let same = seen.get(b);
      if (same === undefined) seen.set(b, (same = sameParts(a, b)));
      return same;
    }
    case 'void':
      return true;
    default:
      return a.name === (b as typeof a).name;
  }
}

function sameParts(a: Extract<CType, { t: 'ptr' | 'array' | 'func' }>, b: CType): boolean {
  switch (a.t) {
    case 'ptr':
      return sameCType(a.to, (b as typeof a).to);
    case 'array':
      return a.n === (b as typeof a).n && sameCType(a.of, (b as typeof a).of);
    case 'func': {
      const y = b as typeof a;
      return a.variadic === y.variadic && a.params.length === y.params.length && sameCType(a.ret, y.ret) && a.params.every((p, i) => sameCType(p, y.params[i]));
    }
  }
}

/** libbpf's `bpf_core_essential_name_len`: a `___flavor` suffix is not part of the name. */
function essentialName(name: string): string {
  const i = name.indexOf('___');
  return i > 0 ? name.slice(0, i) : name;
}

/**
 * Whether a CO-RE field relocation accepts `after` where the program was compiled against `before`, following
 * libbpf's `bpf_core_fields_are_compat` (tools/lib/bpf/relo_core.c), on typedef-resolved types:
 * - any two structs/unions are compatible (members are then matched by name);
 * - otherwise the kinds must match, except that ENUM and ENUM64 mix (`btf_kind_core_compat`); an int never
 *   matches an enum, even of the same size;
 * - any two pointers are compatible, whatever they point to; any two floats too;
 * - enums: the same name without `___flavor` suffix, or one of them unnamed;
 * - ints: compatible whatever their size and signedness (libbpf checks those when it patches the load);
 * - arrays: the element types, recursively; the dimension is not looked at.
 */
export function coreFieldsCompatible(before: CType, after: CType): boolean {
  const composite = (t: CType): boolean => t.t === 'struct' || t.t === 'union';
  if (composite(before) && composite(after)) return true;
  if (before.t !== after.t) return false;
  switch (before.t) {
    case 'ptr':
    case 'float':
    case 'int':
      return true;
    case 'enum': {
      const a = essentialName(before.name);
      const b = essentialName((after as { name: string }).name);
      return a === '' || b === '' || a === b;
    }
    case 'array':
      return coreFieldsCompatible(before.of, (after as { of: CType }).of);
    case 'named':
      // An unresolvable typedef: only the same name can be trusted.
      return before.name === (after as { name: string }).name;
    default:
      return sameCType(before, after);
  }
}

/** A short word for a type's kind in reasons (`int`, `pointer`, `array`, `struct`…). */
export function kindWord(t: CType): string {
  switch (t.t) {
    case 'ptr':
      return 'pointer';
    case 'named':
      return `typedef ${t.name}`;
    case 'int':
      return t.char ? (t.signed ? 'signed char' : 'unsigned char') : t.signed ? 'signed int' : 'unsigned int';
    default:
      return t.t;
  }
}
