import { definitionBody } from './definition-json.js';
import { closestNames } from './suggest.js';
import { byValueName, pointeeName, type ShapeKind, type StoredMember, type StoredType } from './normalize.js';
import { definitionsByKernel, type Definition } from './queries.js';
import type { Catalog } from './db.js';

/**
 * Field paths (`task_struct.se.vruntime`) in one kernel's definitions: following members into the structs and
 * unions they hold by value (through typedefs), with offsets absolute in the outermost struct. What the field
 * history (libs/diff) reads each kernel with.
 */

/** Where a name of some kinds is defined in every kernel (by kernel row id). */
export type DefsOf = (name: string, kinds: readonly ShapeKind[]) => Map<number, Definition[]>;

/** {@link definitionsByKernel} for one answer: each name and kinds read once. */
export function cachedDefsOf(catalog: Catalog): DefsOf {
  const cache = new Map<string, Map<number, Definition[]>>();
  return (name, kinds) => {
    const key = `${kinds.join(',')}:${name}`;
    let found = cache.get(key);
    if (!found) cache.set(key, (found = definitionsByKernel(catalog, name, kinds)));
    return found;
  };
}

/**
 * FIELD_NOT_FOUND's suggestions: the path corrected at the first segment no kernel resolves (`task_struct.se.vruntim`
 * → `task_struct.se.vruntime`), from the members of what the segments before it lead to; members whose type the
 * user named instead of the member (`task_struct.pid_t` → pid, tgid) first. A one-member path is suggested as the
 * member's name (`di`), a longer one as the whole corrected path; only when no correction makes the following
 * segments resolve, the corrections up to the corrected segment.
 */
export function fieldSuggestions(path: { type: string; members: string[] }, top: Map<number, Definition[]>, defsOf: DefsOf): string[] {
  const segs = path.members;
  // One kernel per distinct definition list: nested structs are read in that kernel.
  const distinct = new Map<Definition[], number>();
  for (const [kernelId, defs] of top) if (!distinct.has(defs)) distinct.set(defs, kernelId);
  let depth = -1;
  let lists: StoredMember[][] = [];
  for (const [defs, kernelId] of distinct) {
    for (let i = segs.length - 1; i >= Math.max(0, depth); i--) {
      const list = membersAtPath(defs, segs.slice(0, i), kernelId, defsOf);
      if (!list) continue;
      if (i > depth) {
        depth = i;
        lists = [];
      }
      lists.push(list);
      break;
    }
  }
  if (depth < 0) return [];
  const wanted = segs[depth];
  const members = new Set<string>();
  const ofThatType = new Set<string>();
  for (const list of lists) {
    for (const m of list) {
      if (m[0] === '') continue;
      members.add(m[0]);
      if (pointeeName(m[4]) === wanted) ofThatType.add(m[0]);
    }
  }
  const names = [...new Set([...[...ofThatType].sort(), ...closestNames(wanted, members)])];
  if (segs.length === 1) return names.slice(0, 5);
  const before = segs.slice(0, depth);
  const rest = segs.slice(depth + 1);
  const whole: string[] = [];
  const partial: string[] = [];
  for (const n of names) {
    const candidate = [...before, n, ...rest];
    if (rest.length === 0 || [...distinct].some(([defs, kernelId]) => resolveFieldPath(defs, candidate, kernelId, defsOf))) whole.push(`${path.type}.${candidate.join('.')}`);
    else partial.push(`${path.type}.${[...before, n].join('.')}`);
  }
  return [...new Set(whole.length > 0 ? whole : partial)].slice(0, 5);
}


/** A definition's members (struct, union, typedef of an unnamed struct/union), else undefined. */
function membersOf(d: Definition): StoredMember[] | undefined {
  if (d.kind !== 'struct' && d.kind !== 'union' && d.kind !== 'typedef') return undefined;
  const body = definitionBody(d);
  return 'members' in body && body.members ? body.members : undefined;
}

/** Definitions in the order paths are resolved in: vmlinux's first, then modules'. */
function vmlinuxFirst(defs: Definition[]): Definition[] {
  return defs.length < 2 ? defs : [...defs].sort((a, b) => (a.module === '' ? 0 : 1) - (b.module === '' ? 0 : 1));
}

/** Finds a member path in one kernel's definitions of the top struct, and the module of the one it is in. */
export function resolveFieldPath(defs: Definition[], members: string[], kernelId: number, defsOf: DefsOf): { hit: StoredMember; module: string } | undefined {
  for (const d of vmlinuxFirst(defs)) {
    const list = membersOf(d);
    if (!list) continue;
    const hit = walkMembers(list, members, 0, kernelId, defsOf, 0);
    if (hit) return { hit, module: d.module };
  }
  return undefined;
}

/** Finds a member path in one kernel's definitions (vmlinux first), following structs held by value. */
function resolveIn(defs: Definition[], members: string[], kernelId: number, defsOf: DefsOf, depth = 0): StoredMember | undefined {
  if (depth > 32) return undefined;
  for (const d of vmlinuxFirst(defs)) {
    const list = membersOf(d);
    if (!list) continue;
    const hit = walkMembers(list, members, 0, kernelId, defsOf, depth);
    if (hit) return hit;
  }
  return undefined;
}

/** The definitions of the struct/union/typedef a member's type names by value, in one kernel. */
function aggregateDefs(type: StoredType, kernelId: number, defsOf: DefsOf): Definition[] | undefined {
  const agg = byValueName(type);
  if (!agg) return undefined;
  return defsOf(agg.name, agg.kind === 'typedef' ? ['typedef', 'struct', 'union'] : [agg.kind]).get(kernelId);
}

function walkMembers(list: StoredMember[], members: string[], base: number, kernelId: number, defsOf: DefsOf, depth: number): StoredMember | undefined {
  const m = list.find((x) => x[0] === members[0]);
  if (!m) return undefined;
  const here: StoredMember = [m[0], m[1] + base, m[2], m[3], m[4], m[5]];
  if (members.length === 1) return here;
  const rest = members.slice(1);
  if (m.length === 7) {
    // Children of an unnamed struct type already carry offsets absolute in the outer struct.
    return walkMembers(m[6], rest, base, kernelId, defsOf, depth + 1);
  }
  const defs = aggregateDefs(m[4], kernelId, defsOf);
  if (!defs) return undefined;
  const inner = resolveIn(defs, rest, kernelId, defsOf, depth + 1);
  return inner ? [inner[0], inner[1] + here[1], inner[2], inner[3], inner[4], inner[5]] : undefined;
}

/**
 * The members of what a path prefix leads to in one kernel, offsets absolute in the outermost struct: the top
 * struct's own flattened members for an empty prefix, `sched_entity`'s for `se`. Undefined when the prefix does
 * not resolve to a struct or union.
 */
export function membersAtPath(defs: Definition[], prefix: string[], kernelId: number, defsOf: DefsOf): StoredMember[] | undefined {
  for (const d of vmlinuxFirst(defs)) {
    const list = membersOf(d);
    if (!list) continue;
    const found = membersAlong(list, prefix, 0, kernelId, defsOf, 0);
    if (found) return found;
  }
  return undefined;
}

function membersAlong(list: StoredMember[], path: string[], base: number, kernelId: number, defsOf: DefsOf, depth: number): StoredMember[] | undefined {
  if (path.length === 0) return base === 0 ? list : list.map((m): StoredMember => [m[0], m[1] + base, m[2], m[3], m[4], m[5]]);
  if (depth > 32) return undefined;
  const m = list.find((x) => x[0] === path[0]);
  if (!m) return undefined;
  const rest = path.slice(1);
  if (m.length === 7) return membersAlong(m[6], rest, base, kernelId, defsOf, depth + 1);
  const defs = aggregateDefs(m[4], kernelId, defsOf);
  if (!defs) return undefined;
  for (const d of vmlinuxFirst(defs)) {
    const inner = membersOf(d);
    if (!inner) continue;
    const found = membersAlong(inner, rest, base + m[1], kernelId, defsOf, depth + 1);
    if (found) return found;
  }
  return undefined;
}
