/**
 * C spelling of BTF types: the abstract declarator (a declaration without a name) the corpus oracles write for a
 * member's type, following bpftool/pahole conventions: `long unsigned int`, `struct list_head *`, `char[16]`,
 * `const struct cred *`, `char *const`, `void (*)(struct sk_buff *)`, `char (*)[256]`, `struct {...}`.
 *
 * The rules (C11 6.7.7 "type names", as libbpf's btf_dump builds declarators in `btf_dump_emit_type_chain`):
 * - a named type (INT, FLOAT, TYPEDEF, struct/union/enum tag, FWD, void) is the *base*; anonymous aggregates spell
 *   as `struct {...}` / `union {...}` / `enum {...}`; ENUM64 spells as `enum NAME`, FWD as `struct NAME` or
 *   `union NAME` after its kind_flag;
 * - PTR, ARRAY and FUNC_PROTO wrap the declarator: `*D`, `D[N]`, `D(params)`; a PTR whose *direct* target is
 *   an ARRAY or FUNC_PROTO parenthesises itself (`(*)[N]`, `(*)(int)`, `(*[3])(int)`). As in the oracle, a
 *   qualifier between the pointer and the prototype suppresses the parentheses: PTR -> VOLATILE -> FUNC_PROTO
 *   spells `volatile efi_status_t *(efi_handle_t, ...)` (arm64 `efi_boot_services.exit`). Prototype parameters
 *   are types only, `void` for none, `...` for a trailing type-0 parameter (varargs);
 * - CONST, VOLATILE and RESTRICT of a pointer follow the `*` inside the declarator (`char *const`); of anything
 *   else they precede the whole spelling (`const char *`, and `const const char *const [4]` for a const array
 *   of const pointers, as the oracle writes it). A qualifier counts as "of a pointer" when further qualifiers or
 *   type tags lead to the PTR (`int *volatile const`); the corpus has no such chain, so this follows C;
 * - TYPE_TAG is written after what it tags: `struct task_struct __attribute__((btf_type_tag("rcu"))) *`.
 *
 * The walk is iterative along a chain and recurses only into prototype parameters; every walk counts its steps
 * against `btf.limits.maxResolveDepth`, so a reference cycle in hostile BTF raises BTF_TYPE_LOOP. Spellings are
 * memoized per type id and per {@link Btf}.
 */
import type { Btf } from './btf.js';
import { BtfError, BtfErrorCode } from './errors.js';
import { BtfKind } from './kinds.js';

const { PTR: KIND_PTR, ARRAY: KIND_ARRAY, FUNC_PROTO: KIND_FUNC_PROTO, VOLATILE: KIND_VOLATILE, CONST: KIND_CONST, RESTRICT: KIND_RESTRICT, TYPE_TAG: KIND_TYPE_TAG } = BtfKind;

/**
 * Memoized spellings per BTF object, indexed by own type id less `startId`. A split blob (a module) keeps only its
 * own types' spellings: its base's types are spelled on the base and memoized there, once for all its modules.
 */
const memos = new WeakMap<Btf, (string | undefined)[]>();

function memoOf(btf: Btf): (string | undefined)[] {
  let memo = memos.get(btf);
  if (!memo) {
    memo = new Array<string | undefined>(btf.nextId - btf.startId);
    memos.set(btf, memo);
  }
  return memo;
}

/**
 * The C spelling of type `id` (0 is `void`) as the corpus oracles write a member's `type`.
 * Throws {@link BtfError}: BTF_BAD_TYPE_REF for ids out of range or of kinds that are not data types (FUNC, VAR,
 * DATASEC, DECL_TAG), BTF_TYPE_LOOP when the chain of references is longer than `btf.limits.maxResolveDepth`
 * (a cycle in hostile BTF).
 */
export function spellType(btf: Btf, id: number): string {
  return spellAt(btf, id, 0, memoOf(btf));
}

/** Spells `id`, `depth` levels deep in an enclosing walk (prototype parameters recurse). */
function spellAt(btf: Btf, id: number, depth: number, memo: (string | undefined)[]): string {
  if (id === 0) return 'void';
  // A base type is spelled the same whichever split blob refers to it (it only refers to base types).
  if (btf.base && id < btf.startId) return spellAt(btf.base, id, depth, memoOf(btf.base));
  const cached = memo[id - btf.startId];
  if (cached !== undefined) return cached;
  const limit = btf.limits.maxResolveDepth;
  let prefix = '';
  let decl = '';
  let cur = id;
  let steps = depth;
  let base: string | undefined;
  while (base === undefined) {
    if (++steps > limit) {
      throw new BtfError(BtfErrorCode.TypeLoop, `type chain is deeper than ${limit} references (a reference cycle?) while spelling type [${id}]`, { typeId: cur });
    }
    if (cur === 0) {
      base = 'void';
      break;
    }
    const t = btf.type(cur);
    switch (t.kind) {
      case 'INT':
      case 'FLOAT':
      case 'TYPEDEF':
        base = t.name;
        break;
      case 'STRUCT':
        base = t.name === '' ? 'struct {...}' : `struct ${t.name}`;
        break;
      case 'UNION':
        base = t.name === '' ? 'union {...}' : `union ${t.name}`;
        break;
      case 'ENUM':
      case 'ENUM64':
        base = t.name === '' ? 'enum {...}' : `enum ${t.name}`;
        break;
      case 'FWD':
        base = t.name === '' ? `${t.fwdKind} {...}` : `${t.fwdKind} ${t.name}`;
        break;
      case 'PTR': {
        const k = btf.kindOf(t.type);
        decl = k === KIND_ARRAY || k === KIND_FUNC_PROTO ? `(*${decl})` : `*${decl}`;
        cur = t.type;
        break;
      }
      case 'ARRAY':
        decl = `${decl}[${t.nelems}]`;
        cur = t.type;
        break;
      case 'CONST':
      case 'VOLATILE':
      case 'RESTRICT': {
        const qual = t.kind.toLowerCase();
        if (qualifiesPointer(btf, t.type, limit)) decl = decl === '' ? qual : `${qual} ${decl}`;
        else prefix += `${qual} `;
        cur = t.type;
        break;
      }
      case 'TYPE_TAG': {
        const tag = `__attribute__((btf_type_tag(${JSON.stringify(t.name)})))`;
        decl = decl === '' ? tag : `${tag} ${decl}`;
        cur = t.type;
        break;
      }
      case 'FUNC_PROTO': {
        const n = t.params.length;
        const parts = new Array<string>(n);
        for (let i = 0; i < n; i++) {
          const p = t.params[i].type;
          parts[i] = p === 0 ? (i === n - 1 ? '...' : 'void') : spellAt(btf, p, steps, memo);
        }
        decl = `${decl}(${n === 0 ? 'void' : parts.join(', ')})`;
        cur = t.returnType;
        break;
      }
      default:
        throw new BtfError(BtfErrorCode.BadTypeRef, `type [${cur}] is a ${t.kind}, not a data type that can be spelled`, { typeId: cur });
    }
  }
  const out = prefix + base + (decl === '' ? '' : decl.startsWith('[') ? decl : ` ${decl}`);
  memo[id - btf.startId] = out;
  return out;
}

/** True when a qualifier on `id` qualifies a pointer (through further qualifiers and type tags). */
function qualifiesPointer(btf: Btf, id: number, limit: number): boolean {
  for (let i = 0; i < limit && id !== 0; i++) {
    const k = btf.kindOf(id);
    if (k === KIND_PTR) return true;
    if (k !== KIND_CONST && k !== KIND_VOLATILE && k !== KIND_RESTRICT && k !== KIND_TYPE_TAG) return false;
    const t = btf.type(id);
    id = (t as { type: number }).type;
  }
  return false;
}
