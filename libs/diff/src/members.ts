import { spelled, type StoredMember, type StoredType, type TypeRef } from '@btf-atlas/catalog/read';
import { ctypeOf, resolveTypedefs, type CType } from './resolved-type.js';
import { classifyTypeChange, sameType, type Lookups } from './severity.js';

/**
 * How two definitions' members (or an enum's values) are paired, for the kernel diff and every history alike:
 * by name, a repeated name by its occurrence; and a member that vanished paired with one that appeared in its
 * place when it was probably renamed (one rule, {@link renameScore}).
 */

/** Members keyed by name, a repeated name (unnamed padding) by its occurrence: `name`, `name#2`, … */
export function keyed<T>(list: readonly T[], nameOf: (t: T) => string): Map<string, T> {
  const out = new Map<string, T>();
  const seen = new Map<string, number>();
  for (const m of list) {
    const name = nameOf(m);
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    out.set(n === 1 ? name : `${name}#${n}`, m);
  }
  return out;
}

/** The two kernels' types as a rename check reads them: their typedefs, and the module of the definitions. */
export interface TypeContext {
  lookups: Lookups;
  /** The module whose typedefs come first ('' for vmlinux). */
  module: string;
}

/** `__state` and `state` are related names: one holds the other once leading underscores go. */
function relatedNames(a: string, b: string): boolean {
  const x = a.replace(/^_+/, '').toLowerCase();
  const y = b.replace(/^_+/, '').toLowerCase();
  return x.length > 0 && y.length > 0 && (x.includes(y) || y.includes(x));
}

/** A type without its top-level qualifiers and type tags. */
function unqualified(t: StoredType): StoredType {
  let r: StoredType = t;
  while (typeof r !== 'string' && (r[0] === 'q' || r[0] === 'g')) r = (r as Extract<TypeRef, { 0: 'q' | 'g' }>)[2];
  return r;
}

/** An integer or an enum once typedefs and qualifiers are gone. */
function integerLike(t: CType): boolean {
  return t.t === 'int' || t.t === 'enum';
}

/**
 * How well member `added` could be `removed` renamed (0: not at all). Both must be named and start at the same
 * bit with the same bitfield width, and then: 3 same size and the same type (qualifiers aside, or typedefs
 * resolved); 2 same size and a type libbpf's CO-RE field relocation accepts for it and reads right (what the kernel
 * diff calls a non-breaking type change); 1 integers or enums of another size but related names (`volatile long
 * int state` → `unsigned int __state`, Linux 5.14). Related names add 0.5 to the first two, to choose among
 * candidates. Types stored as C spellings (a catalog made before the type graph) only match when spelled alike.
 */
export function renameScore(removed: StoredMember, added: StoredMember, ctx: TypeContext): number {
  if (removed[1] !== added[1] || removed[2] !== added[2]) return 0;
  if (removed[0] === '' || added[0] === '') return 0;
  const related = relatedNames(removed[0], added[0]);
  const bonus = related ? 0.5 : 0;
  const sameSize = removed[3] === added[3];
  if (sameSize && spelled(unqualified(removed[4])) === spelled(unqualified(added[4]))) return 3 + bonus;
  if (typeof removed[4] === 'string' || typeof added[4] === 'string') return 0;
  if (sameSize) {
    const a = { type: removed[4], size: removed[3] };
    const b = { type: added[4], size: added[3] };
    if (sameType(a, b, ctx.lookups, ctx.module)) return 3 + bonus;
    if (classifyTypeChange(a, b, ctx.lookups, ctx.module).severity !== 'breaking') return 2 + bonus;
  }
  if (!related) return 0;
  const a = resolveTypedefs(ctypeOf(removed[4]), { typedefs: ctx.lookups.before, module: ctx.module }, false);
  const b = resolveTypedefs(ctypeOf(added[4]), { typedefs: ctx.lookups.after, module: ctx.module }, false);
  return integerLike(a) && integerLike(b) ? 1 : 0;
}

/** The added member that most probably is `removed` renamed, if any (best score, then first). */
export function probableRename(removed: StoredMember, added: Iterable<StoredMember>, ctx: TypeContext): StoredMember | undefined {
  let best: StoredMember | undefined;
  let bestScore = 0;
  for (const a of added) {
    const s = renameScore(removed, a, ctx);
    if (s > bestScore) {
      best = a;
      bestScore = s;
    }
  }
  return best;
}

/** Two lists paired: by key ({@link keyed}), and the probable renames among the rest. */
export interface Pairing<T> {
  /** Keys of the old list's items the new list lacks, in the old order. */
  removed: string[];
  /** Keys of the new list's items the old list lacks, in the new order. */
  added: string[];
  /**
   * Probable renames, both ways: a removed key → the added key it probably became, and that added key → the
   * removed one (no key is both removed and added, so one map serves both sides; each key paired once).
   */
  renames: Map<string, string>;
  before: Map<string, T>;
  after: Map<string, T>;
}

/**
 * Pairs two lists by key; then each removed item (under its own name, not a repeated name's `#n`), in the old
 * order, asks `rename` which of the added items not yet taken (under their own names) it probably became.
 */
function pairLists<T>(x: readonly T[], y: readonly T[], nameOf: (t: T) => string, rename: (removed: T, free: T[]) => T | undefined): Pairing<T> {
  const before = keyed(x, nameOf);
  const after = keyed(y, nameOf);
  const removed = [...before.keys()].filter((key) => !after.has(key));
  const added = [...after.keys()].filter((key) => !before.has(key));
  const renames = new Map<string, string>();
  const candidates = added.filter((key) => key === nameOf(after.get(key)!) && key !== '');
  const taken = new Set<string>();
  for (const key of removed) {
    if (taken.size === candidates.length) break;
    const item = before.get(key)!;
    if (key !== nameOf(item) || key === '') continue;
    const hit = rename(item, candidates.filter((k) => !taken.has(k)).map((k) => after.get(k)!));
    if (hit === undefined) continue;
    taken.add(nameOf(hit));
    renames.set(key, nameOf(hit)).set(nameOf(hit), key);
  }
  return { removed, added, renames, before, after };
}

/**
 * Pairs two flattened member lists: by name, and a removed member with the added one {@link probableRename}
 * finds (each removed member in the old order takes the best-scoring added member not yet taken). `ctx` is asked
 * for only when there is a candidate.
 */
export function pairMembers(x: readonly StoredMember[], y: readonly StoredMember[], ctx: () => TypeContext): Pairing<StoredMember> {
  let context: TypeContext | undefined;
  return pairLists(x, y, (m) => m[0], (m, free) => probableRename(m, free, (context ??= ctx())));
}

/** Pairs two enums' constants: by name, and a removed constant with the first added one of its value (a rename). */
export function pairEnumValues<T>(x: readonly T[], y: readonly T[], nameOf: (t: T) => string, valueOf: (t: T) => unknown): Pairing<T> {
  return pairLists(x, y, nameOf, (r, free) => free.find((a) => valueOf(a) === valueOf(r)));
}

/** A change of one member (or enum value) between two definitions, before it is stamped with kernels. */
export interface MemberChange {
  what: 'added' | 'removed' | 'offset' | 'size' | 'type' | 'value';
  member: string;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
  probable_rename?: string;
}

/** Where a member is, as the histories and the diff show it (`before` of a removed one, `after` of an added one). */
export function memberPlace(m: StoredMember): Record<string, unknown> {
  return { offset: Math.floor(m[1] / 8), bits_offset: m[1], bitfield_size: m[2], size: m[3], type: spelled(m[4]) };
}

/**
 * How two flattened member lists differ, as the histories show it ({@link pairMembers}): `removed` (and, for a
 * member still there, `offset`, `size`, `type`) in the old order, then `added`; a probable rename's removed and
 * added member each name the other in `probable_rename`.
 */
export function compareMembers(x: readonly StoredMember[], y: readonly StoredMember[], ctx: () => TypeContext): MemberChange[] {
  const p = pairMembers(x, y, ctx);
  const out: MemberChange[] = [];
  for (const [key, m] of p.before) {
    const n = p.after.get(key);
    if (!n) {
      out.push(withRename({ what: 'removed', member: key, before: memberPlace(m), after: {} }, p.renames));
      continue;
    }
    if (m[1] !== n[1]) out.push({ what: 'offset', member: key, before: { offset: Math.floor(m[1] / 8), bits_offset: m[1] }, after: { offset: Math.floor(n[1] / 8), bits_offset: n[1] } });
    if (m[3] !== n[3] || m[2] !== n[2]) out.push({ what: 'size', member: key, before: { size: m[3], bitfield_size: m[2] }, after: { size: n[3], bitfield_size: n[2] } });
    if (spelled(m[4]) !== spelled(n[4])) out.push({ what: 'type', member: key, before: { type: spelled(m[4]) }, after: { type: spelled(n[4]) } });
  }
  for (const key of p.added) out.push(withRename({ what: 'added', member: key, before: {}, after: memberPlace(p.after.get(key)!) }, p.renames));
  return out;
}

/** A removed or added member's change with the other side of its probable rename, if it has one. */
function withRename(change: MemberChange, renames: Map<string, string>): MemberChange {
  const other = renames.get(change.member);
  if (other !== undefined) change.probable_rename = other;
  return change;
}

/**
 * How two enum value lists differ, value by value ({@link pairEnumValues}): `removed`, `value` (changed) in the
 * old order, then `added`; a constant removed and one added with its value each name the other in
 * `probable_rename`. Values compare as given (decimal strings, or numbers and strings alike made).
 */
export function compareEnumValues<V>(x: readonly { name: string; value: V }[], y: readonly { name: string; value: V }[]): MemberChange[] {
  const p = pairEnumValues(x, y, (v) => v.name, (v) => v.value);
  const out: MemberChange[] = [];
  for (const [key, v] of p.before) {
    const w = p.after.get(key);
    if (!w) out.push(withRename({ what: 'removed', member: key, before: { value: v.value }, after: {} }, p.renames));
    else if (w.value !== v.value) out.push({ what: 'value', member: key, before: { value: v.value }, after: { value: w.value } });
  }
  for (const key of p.added) out.push(withRename({ what: 'added', member: key, before: {}, after: { value: p.after.get(key)!.value } }, p.renames));
  return out;
}
