/**
 * C type spellings as the catalog stores them (the corpus oracle's format (b): `long unsigned int`,
 * `const struct cred *`, `char[48]`, `void (*)(struct sk_buff *)`, `struct {...}`, type tags as
 * `__attribute__((btf_type_tag("rcu")))`) parsed back into a small type tree, so that two spellings can be
 * compared the way libbpf compares BTF types when it relocates a CO-RE field access.
 */

/** A type as far as CO-RE cares: qualifiers and type tags dropped (libbpf's `skip_mods_and_typedefs`). */
export type CType =
  | { t: 'void' }
  /**
   * `signed` is undefined for plain `char`, whose signedness depends on the architecture; `bytes` is set by
   * {@link resolveTypedefs} (it depends on the data model for `long`).
   */
  | { t: 'int'; name: string; signed: boolean | undefined; bytes?: number }
  | { t: 'float'; name: string }
  /** `name` is '' for an unnamed one (`struct {...}`). */
  | { t: 'struct' | 'union' | 'enum'; name: string }
  /** A typedef name not (yet) resolved to its target. */
  | { t: 'named'; name: string }
  | { t: 'ptr'; to: CType }
  /** `n` is 0 for a flexible array (`char[0]`). */
  | { t: 'array'; n: number; of: CType }
  | { t: 'func'; ret: CType; params: CType[]; variadic: boolean };

const TYPE_TAG = /\s*__attribute__\(\(btf_type_tag\("[^"]*"\)\)\)/g;
const QUALIFIER = /^(?:const|volatile|restrict)$/;
const INT_WORDS = new Set(['signed', 'unsigned', 'char', 'short', 'int', 'long', '_Bool', '__int128']);

/** Parses a C abstract declarator as the catalog spells member, parameter and typedef target types. */
export function parseCType(spelling: string): CType {
  const s = spelling.replace(TYPE_TAG, '').replace(/\s+/g, ' ').trim();
  let depth = 0;
  let end = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (depth === 0 && (c === '*' || c === '(' || c === '[')) {
      end = i;
      break;
    }
  }
  return applyDeclarator(s.slice(end), parseBase(s.slice(0, end)));
}

function parseBase(text: string): CType {
  const words = text.trim().split(' ').filter((w) => w !== '' && !QUALIFIER.test(w));
  const joined = words.join(' ');
  if (words.length === 0) return { t: 'named', name: '' };
  if (words[0] === 'struct' || words[0] === 'union' || words[0] === 'enum') {
    const name = words.slice(1).join(' ');
    return { t: words[0], name: name === '{...}' ? '' : name };
  }
  if (joined === 'void') return { t: 'void' };
  if (words.includes('float') || words.includes('double') || /^_Float\d+$/.test(joined)) return { t: 'float', name: joined };
  if (words.every((w) => INT_WORDS.has(w))) {
    const signed = words.includes('unsigned') || words.includes('_Bool') ? false : joined === 'char' ? undefined : true;
    return { t: 'int', name: joined, signed };
  }
  return { t: 'named', name: joined };
}

/** The index just past the bracket that closes the one at `open`. */
function closing(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return s.length;
}

/**
 * Applies an abstract declarator to a type, inside out as C reads it: leading `*`s first, then the postfix
 * `[N]` and `(params)` (rightmost innermost), and last the parenthesized inner declarator.
 */
function applyDeclarator(decl: string, base: CType): CType {
  const d = decl.trim();
  let t = base;
  let i = 0;
  const skipQualifiers = (): void => {
    for (;;) {
      while (d[i] === ' ') i++;
      const m = /^(?:const|volatile|restrict)\b/.exec(d.slice(i));
      if (!m) return;
      i += m[0].length;
    }
  };
  skipQualifiers();
  while (d[i] === '*') {
    t = { t: 'ptr', to: t };
    i++;
    skipQualifiers();
  }
  let inner: string | undefined;
  if (d[i] === '(' && /^\(\s*[*([]/.test(d.slice(i))) {
    const j = closing(d, i);
    inner = d.slice(i + 1, j - 1);
    i = j;
  }
  const postfix: ({ k: 'array'; n: number } | { k: 'func'; params: string })[] = [];
  while (i < d.length) {
    while (d[i] === ' ') i++;
    if (i >= d.length) break;
    const j = closing(d, i);
    if (d[i] === '[') postfix.push({ k: 'array', n: Number(d.slice(i + 1, j - 1).trim() || '0') });
    else if (d[i] === '(') postfix.push({ k: 'func', params: d.slice(i + 1, j - 1) });
    else break;
    i = j;
  }
  for (let p = postfix.length - 1; p >= 0; p--) {
    const op = postfix[p];
    if (op.k === 'array') t = { t: 'array', n: Number.isFinite(op.n) ? op.n : 0, of: t };
    else {
      const parts = splitParams(op.params);
      const variadic = parts.length > 0 && parts[parts.length - 1] === '...';
      const named = (variadic ? parts.slice(0, -1) : parts).filter((x) => x !== 'void' || parts.length > 1);
      t = { t: 'func', ret: t, params: named.map(parseCType), variadic };
    }
  }
  return inner === undefined ? t : applyDeclarator(inner, t);
}

/** Splits a parameter list at top-level commas. */
function splitParams(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      out.push(list.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = list.slice(start).trim();
  if (last !== '' || out.length > 0) out.push(last);
  return out;
}

/** The target spelling of a typedef NAME in one kernel (module's own typedefs first), or undefined. */
export type TypedefLookup = (name: string, module: string) => string | undefined;

/** Typedef chains longer than this are left unresolved (the kernel's own are a few levels deep). */
const MAX_TYPEDEF_DEPTH = 32;

/** How to resolve the names of one kernel's types. */
export interface TypeEnv {
  typedefs: TypedefLookup;
  /** The module whose typedefs come first ('' for vmlinux). */
  module: string;
  /** Bytes of a `long` (8 on 64-bit kernels, 4 on 32-bit ones). */
  longBytes: number;
}

/** The size of an integer type by its C name under a data model (`long` is the one that varies). */
export function intBytes(name: string, longBytes: number): number | undefined {
  const words = name.split(' ');
  if (words.includes('__int128')) return 16;
  if (words.includes('char') || words.includes('_Bool')) return 1;
  if (words.includes('short')) return 2;
  const longs = words.filter((w) => w === 'long').length;
  if (longs >= 2) return 8;
  if (longs === 1) return longBytes;
  return words.includes('int') || words.includes('signed') || words.includes('unsigned') ? 4 : undefined;
}

/**
 * Replaces typedef names by their targets, as libbpf's `skip_mods_and_typedefs` does before comparing types,
 * and sizes integers. `deep` also resolves behind pointers, array elements and function prototypes (for exact
 * equality); without it only the top level and array elements are resolved (all that the CO-RE
 * field-compatibility rules look at).
 */
export function resolveTypedefs(t: CType, env: TypeEnv, deep: boolean, depth = 0): CType {
  switch (t.t) {
    case 'named': {
      if (depth >= MAX_TYPEDEF_DEPTH) return t;
      const target = env.typedefs(t.name, env.module);
      return target === undefined ? t : resolveTypedefs(parseCType(target), env, deep, depth + 1);
    }
    case 'int':
      return { ...t, bytes: intBytes(t.name, env.longBytes) };
    case 'array':
      return { t: 'array', n: t.n, of: resolveTypedefs(t.of, env, deep, depth) };
    case 'ptr':
      return deep ? { t: 'ptr', to: resolveTypedefs(t.to, env, deep, depth) } : t;
    case 'func':
      return deep
        ? { t: 'func', ret: resolveTypedefs(t.ret, env, deep, depth), params: t.params.map((p) => resolveTypedefs(p, env, deep, depth)), variadic: t.variadic }
        : t;
    default:
      return t;
  }
}

/**
 * Whether two (resolved) types are the same type: structurally equal, integers by size and signedness (so
 * `long unsigned int` and `long long unsigned int` are one type on a 64-bit kernel, as BTF dedup sees them).
 */
export function sameCType(a: CType, b: CType): boolean {
  if (a.t !== b.t) return false;
  switch (a.t) {
    case 'int': {
      const y = b as typeof a;
      return a.bytes !== undefined && y.bytes !== undefined ? a.bytes === y.bytes && a.signed === y.signed : a.name === y.name;
    }
    case 'ptr':
      return sameCType(a.to, (b as typeof a).to);
    case 'array':
      return a.n === (b as typeof a).n && sameCType(a.of, (b as typeof a).of);
    case 'func': {
      const y = b as typeof a;
      return a.variadic === y.variadic && a.params.length === y.params.length && sameCType(a.ret, y.ret) && a.params.every((p, i) => sameCType(p, y.params[i]));
    }
    case 'void':
      return true;
    default:
      return a.name === (b as typeof a).name;
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
      return t.signed === undefined ? 'char' : t.signed ? 'signed int' : 'unsigned int';
    default:
      return t.t;
  }
}
