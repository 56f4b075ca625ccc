/**
 * C spelling of BTF types: the abstract declarator (a declaration without a name) the corpus oracles write for a
 * member's type, following bpftool/pahole conventions: `long unsigned int`, `struct list_head *`, `char[16]`,
 * `const struct cred *`, `char *const`, `void (*)(struct sk_buff *)`, `char (*)[256]`, `struct {...}`. It is the
 * spelling of the type's reference ({@link typeRef}, {@link spellRef}: the rules are there), so a spelling made
 * from BTF and one made from the catalog's stored references are one and the same. Spellings are memoized per
 * type id and per {@link Btf}.
 */
import type { Btf } from './btf.js';
import { spellRef, typeRef } from './type-ref.js';

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
  if (id === 0) return 'void';
  if (btf.base && id < btf.startId) return spellType(btf.base, id);
  const memo = memoOf(btf);
  let out = memo[id - btf.startId];
  if (out === undefined) memo[id - btf.startId] = out = spellRef(typeRef(btf, id));
  return out;
}
