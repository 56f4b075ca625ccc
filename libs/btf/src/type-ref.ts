/**
 * Type references: the type graph as the catalog stores it, one small JSON tuple per use of a type (a member's,
 * a parameter's, a return value's, a typedef's target). Unnamed links of a BTF chain (PTR, ARRAY, FUNC_PROTO,
 * CONST, VOLATILE, RESTRICT, TYPE_TAG) are written out; a named type ends the chain as a reference by kind and
 * name, resolved per kernel the way libbpf finds CO-RE candidates (by name, in that kernel's BTF). Named types
 * are not referenced by content: struct task_struct points at itself, and a layout would change with every type
 * reachable through its pointers.
 *
 * A reference carries what the CO-RE rules and the diff read without looking anything up: an INT's size and
 * encoding, a FLOAT's size, an enum's size and signedness (an anonymous enum has no name to look up), an array's
 * length, a forward declaration's kind. Its C spelling ({@link spellRef}) is derived, never parsed back.
 */
import type { Btf } from './btf.js';
import { BtfError, BtfErrorCode } from './errors.js';

/** CONST, VOLATILE, RESTRICT. */
export type Qualifier = 'const' | 'volatile' | 'restrict';

/**
 * One type reference:
 * - `['v']` void;
 * - `['i', name, size, encoding]` an INT (encoding bits of BTF_INT_ENCODING: 1 signed, 2 char, 4 bool);
 * - `['f', name, size]` a FLOAT;
 * - `['s', name]`, `['u', name]` a struct or union (name '' for an unnamed one, whose members its user keeps);
 * - `['e', name, size, signed]` an ENUM or ENUM64 (signed 1 when its kind_flag says so);
 * - `['w', 'struct' | 'union', name]` a FWD;
 * - `['t', name]` a TYPEDEF;
 * - `['p', to]` a PTR; `['a', nelems, of]` an ARRAY;
 * - `['q', qualifier, of]` CONST, VOLATILE, RESTRICT; `['g', tag, of]` a TYPE_TAG;
 * - `['fn', ret, params, variadic]` a FUNC_PROTO (a trailing type-0 parameter is `variadic` 1, not a parameter;
 *   a type-0 parameter elsewhere is `['v']`).
 */
export type TypeRef =
  | readonly ['v']
  | readonly ['i', name: string, size: number, encoding: number]
  | readonly ['f', name: string, size: number]
  | readonly ['s' | 'u', name: string]
  | readonly ['e', name: string, size: number, signed: 0 | 1]
  | readonly ['w', kind: 'struct' | 'union', name: string]
  | readonly ['t', name: string]
  | readonly ['p', to: TypeRef]
  | readonly ['a', nelems: number, of: TypeRef]
  | readonly ['q', qualifier: Qualifier, of: TypeRef]
  | readonly ['g', tag: string, of: TypeRef]
  | readonly ['fn', ret: TypeRef, params: readonly TypeRef[], variadic: 0 | 1];

/** BTF_INT_SIGNED, BTF_INT_CHAR, BTF_INT_BOOL (include/uapi/linux/btf.h). */
export const INT_SIGNED = 1;
export const INT_CHAR = 2;
export const INT_BOOL = 4;

const VOID: TypeRef = ['v'];

/** Memoized references per BTF object, indexed by own type id less `startId` (a split blob's base memoizes its own). */
const memos = new WeakMap<Btf, (TypeRef | undefined)[]>();

function memoOf(btf: Btf): (TypeRef | undefined)[] {
  let memo = memos.get(btf);
  if (!memo) memos.set(btf, (memo = new Array<TypeRef | undefined>(btf.nextId - btf.startId)));
  return memo;
}

/**
 * The reference to type `id` (0 is void). References are shared: do not change them.
 * Throws {@link BtfError}: BTF_BAD_TYPE_REF for ids out of range or of kinds that are not data types (FUNC, VAR,
 * DATASEC, DECL_TAG), BTF_TYPE_LOOP when a chain of unnamed links is longer than `btf.limits.maxResolveDepth`
 * (a cycle in hostile BTF).
 */
export function typeRef(btf: Btf, id: number): TypeRef {
  return refAt(btf, id, 0, id);
}

function refAt(btf: Btf, id: number, depth: number, from: number): TypeRef {
  if (id === 0) return VOID;
  if (btf.base && id < btf.startId) return refAt(btf.base, id, depth, from);
  const memo = memoOf(btf);
  const cached = memo[id - btf.startId];
  if (cached !== undefined) return cached;
  if (depth >= btf.limits.maxResolveDepth) {
    throw new BtfError(BtfErrorCode.TypeLoop, `type chain is deeper than ${btf.limits.maxResolveDepth} references (a reference cycle?) while reading type [${from}]`, { typeId: id });
  }
  const next = (to: number): TypeRef => refAt(btf, to, depth + 1, from);
  const t = btf.type(id);
  let out: TypeRef;
  switch (t.kind) {
    case 'INT':
      out = ['i', t.name, t.size, t.encoding];
      break;
    case 'FLOAT':
      out = ['f', t.name, t.size];
      break;
    case 'STRUCT':
      out = ['s', t.name];
      break;
    case 'UNION':
      out = ['u', t.name];
      break;
    case 'ENUM':
    case 'ENUM64':
      out = ['e', t.name, t.size, t.signed ? 1 : 0];
      break;
    case 'FWD':
      out = ['w', t.fwdKind, t.name];
      break;
    case 'TYPEDEF':
      out = ['t', t.name];
      break;
    case 'PTR':
      out = ['p', next(t.type)];
      break;
    case 'ARRAY':
      out = ['a', t.nelems, next(t.type)];
      break;
    case 'CONST':
    case 'VOLATILE':
    case 'RESTRICT':
      out = ['q', t.kind === 'CONST' ? 'const' : t.kind === 'VOLATILE' ? 'volatile' : 'restrict', next(t.type)];
      break;
    case 'TYPE_TAG':
      out = ['g', t.name, next(t.type)];
      break;
    case 'FUNC_PROTO': {
      const n = t.params.length;
      const variadic = n > 0 && t.params[n - 1].type === 0;
      const params = new Array<TypeRef>(variadic ? n - 1 : n);
      for (let i = 0; i < params.length; i++) params[i] = next(t.params[i].type);
      out = ['fn', next(t.returnType), params, variadic ? 1 : 0];
      break;
    }
    default:
      throw new BtfError(BtfErrorCode.BadTypeRef, `type [${id}] is a ${t.kind}, not a data type`, { typeId: id });
  }
  memo[id - btf.startId] = out;
  return out;
}

/**
 * The C spelling of a reference: the abstract declarator the corpus oracles write for a member's type
 * (`long unsigned int`, `const struct cred *`, `char *const`, `void (*)(struct sk_buff *)`, `char (*)[256]`,
 * `struct {...}`), after libbpf's btf_dump declarator rules (C11 6.7.7 type names):
 * - a named type, void and an unnamed aggregate (`struct {...}`) are the base; ENUM64 is `enum NAME`, a FWD
 *   `struct NAME` or `union NAME`;
 * - PTR, ARRAY and FUNC_PROTO wrap the declarator: `*D`, `D[N]`, `D(params)`; a PTR whose direct target is an
 *   ARRAY or FUNC_PROTO parenthesises itself (`(*)[N]`, `(*)(int)`). As in the oracle, a qualifier between the
 *   pointer and the prototype suppresses the parentheses (`volatile efi_status_t *(efi_handle_t, ...)`).
 *   Parameters are types only, `void` for none, `...` for varargs;
 * - a qualifier of a pointer (through further qualifiers and type tags) follows the `*` (`char *const`); of
 *   anything else it precedes the whole spelling (`const char *`, `const const char *const [4]`);
 * - a TYPE_TAG is written after what it tags: `struct task_struct __attribute__((btf_type_tag("rcu"))) *`.
 */
export function spellRef(ref: TypeRef): string {
  let prefix = '';
  let decl = '';
  let cur = ref;
  let base: string | undefined;
  while (base === undefined) {
    switch (cur[0]) {
      case 'v':
        base = 'void';
        break;
      case 'i':
      case 'f':
      case 't':
        base = cur[1];
        break;
      case 's':
        base = cur[1] === '' ? 'struct {...}' : `struct ${cur[1]}`;
        break;
      case 'u':
        base = cur[1] === '' ? 'union {...}' : `union ${cur[1]}`;
        break;
      case 'e':
        base = cur[1] === '' ? 'enum {...}' : `enum ${cur[1]}`;
        break;
      case 'w':
        base = cur[2] === '' ? `${cur[1]} {...}` : `${cur[1]} ${cur[2]}`;
        break;
      case 'p': {
        const to = cur[1][0];
        decl = to === 'a' || to === 'fn' ? `(*${decl})` : `*${decl}`;
        cur = cur[1];
        break;
      }
      case 'a':
        decl = `${decl}[${cur[1]}]`;
        cur = cur[2];
        break;
      case 'q':
        if (qualifiesPointer(cur[2])) decl = decl === '' ? cur[1] : `${cur[1]} ${decl}`;
        else prefix += `${cur[1]} `;
        cur = cur[2];
        break;
      case 'g': {
        const tag = `__attribute__((btf_type_tag(${JSON.stringify(cur[1])})))`;
        decl = decl === '' ? tag : `${tag} ${decl}`;
        cur = cur[2];
        break;
      }
      case 'fn': {
        const parts = cur[2].map(spellRef);
        if (cur[3]) parts.push('...');
        decl = `${decl}(${parts.length === 0 ? 'void' : parts.join(', ')})`;
        cur = cur[1];
        break;
      }
      default:
        throw new TypeError(`not a type reference: ${JSON.stringify(cur)}`);
    }
  }
  return prefix + base + (decl === '' ? '' : decl.startsWith('[') ? decl : ` ${decl}`);
}

/** True when a qualifier on `ref` qualifies a pointer (through further qualifiers and type tags). */
function qualifiesPointer(ref: TypeRef): boolean {
  for (let cur = ref; ; ) {
    if (cur[0] === 'p') return true;
    if (cur[0] !== 'q' && cur[0] !== 'g') return false;
    cur = cur[2];
  }
}
