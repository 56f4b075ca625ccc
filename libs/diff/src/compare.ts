import { KFUNC_TAG, spelled, type CompositeBody, type EnumBody, type FuncBody, type ShapeBody, type ShapeKind, type StoredMember, type StoredType, type TypedefBody } from '@btf-atlas/catalog/read';
import type { TypedefLookup } from './resolved-type.js';
import { memberPlace, pairEnumValues, pairMembers } from './members.js';
import { classifyBitfield, classifyLinkage, classifySignature, classifyTags, classifyTypeChange, RULES, type Lookups, type Verdict } from './severity.js';
import type { AmbiguousName, ChangeKind, DiffChange, DiffSummary, ShapeDef, ShapeDiff } from './types.js';

export interface CompareOptions {
  /**
   * Typedef targets of each kernel, used to tell a spelling change (`long int` → `__kernel_long_t`) from a real
   * one. Default: the typedefs found in the given lists, and 64-bit kernels (8-byte `long`).
   */
  lookups?: Partial<Lookups>;
}

/** Orders names byte-wise (as the corpus oracle's Python does), not by locale. */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function bodyOf<T extends ShapeBody>(d: ShapeDef): T {
  return (typeof d.body === 'string' ? JSON.parse(d.body) : d.body) as T;
}

function bodyText(d: ShapeDef): string {
  return typeof d.body === 'string' ? d.body : JSON.stringify(d.body);
}

/** Typedef targets from shape lists: the module's own first, then vmlinux's. */
function listLookup(defs: readonly ShapeDef[]): TypedefLookup {
  const map = new Map<string, StoredType>();
  for (const d of defs) {
    if (d.kind !== 'typedef') continue;
    const key = `${d.module ?? ''}\0${d.name}`;
    if (!map.has(key)) map.set(key, bodyOf<TypedefBody>(d).type);
  }
  return (name, module) => map.get(`${module}\0${name}`) ?? (module ? map.get(`\0${name}`) : undefined);
}

interface Group {
  kind: ShapeKind;
  name: string;
  module: string;
  before: ShapeDef[];
  after: ShapeDef[];
}

const countOf = (defs: ShapeDef[]): number => defs.reduce((n, d) => n + (d.copies ?? 1), 0);

/** Both sides hold the very same definitions (same bodies, same copies): nothing to report. */
function unchanged(g: Group): boolean {
  if (g.before.length !== g.after.length) return false;
  const sig = (defs: ShapeDef[]): string => defs.map((d) => `${d.size}\0${d.copies ?? 1}\0${bodyText(d)}`).sort().join('\n');
  return sig(g.before) === sig(g.after);
}

/**
 * Compares the named types of two kernels (or the parts of them that differ): types are matched by
 * (module, kind, name), members by name in their flattened member lists, enum constants by name, functions by
 * name. A name defined more than once in both kernels (and more than once in one of them) is listed in
 * `ambiguous` and not compared, as the corpus oracle does; a name only one kernel has is `added` or `removed`
 * however many definitions it has (its state then carries `count` and each definition's state in
 * `definitions`). Changes come ordered by kind, name and module, then: the type's own change (added, removed,
 * size, type, signature), removed members in old order, then per new member in new order its added, offset,
 * bitfield and type changes.
 */
export function diffShapes(before: readonly ShapeDef[], after: readonly ShapeDef[], opts: CompareOptions = {}): ShapeDiff {
  const lookups: Lookups = {
    ...opts.lookups,
    before: opts.lookups?.before ?? listLookup(before),
    after: opts.lookups?.after ?? listLookup(after),
  };
  const groups = new Map<string, Group>();
  const add = (d: ShapeDef, side: 'before' | 'after'): void => {
    const module = d.module ?? '';
    const key = `${d.kind}\0${d.name}\0${module}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { kind: d.kind, name: d.name, module, before: [], after: [] }));
    g[side].push(d);
  };
  for (const d of before) add(d, 'before');
  for (const d of after) add(d, 'after');
  const ordered = [...groups.values()].sort((x, y) => cmp(x.kind, y.kind) || cmp(x.name, y.name) || cmp(x.module, y.module));

  const changes: DiffChange[] = [];
  const ambiguous: AmbiguousName[] = [];
  for (const g of ordered) {
    if (unchanged(g)) continue;
    const oldCount = countOf(g.before);
    const newCount = countOf(g.after);
    // Several definitions in both kernels: which one became which is unknown (the corpus oracle does not compare
    // them either). A name that appears or vanishes is added/removed whatever its number of definitions.
    if ((oldCount > 1 || newCount > 1) && oldCount > 0 && newCount > 0) {
      ambiguous.push({ kind: g.kind, name: g.name, ...(g.module ? { module: g.module } : {}), old_count: oldCount, new_count: newCount });
      continue;
    }
    changes.push(...compareOne(g, lookups));
  }
  return { changes, ambiguous };
}

/** Counts changes by severity. */
export function summarize(changes: readonly DiffChange[]): DiffSummary {
  const summary: DiffSummary = { breaking: 0, layout: 0, additive: 0 };
  for (const c of changes) summary[c.severity]++;
  return summary;
}

type Emit = (change: ChangeKind, v: Verdict, before: Record<string, unknown>, after: Record<string, unknown>, member?: string) => DiffChange;

function compareOne(g: Group, lookups: Lookups): DiffChange[] {
  const out: DiffChange[] = [];
  const emit: Emit = (change, v, before, after, member) => {
    const c: DiffChange = {
      kind: g.kind,
      name: g.name,
      ...(g.module ? { module: g.module } : {}),
      ...(member !== undefined ? { member } : {}),
      change,
      before,
      after,
      severity: v.severity,
      reason: v.reason,
    };
    out.push(c);
    return c;
  };
  const a = g.before[0];
  const b = g.after[0];
  if (!a || !b) {
    const state = presentState(a ? g.before : g.after);
    if (a) emit('removed', g.kind === 'func' ? RULES.funcRemoved : RULES.typeRemoved, state, {});
    else emit('added', g.kind === 'func' ? RULES.funcAdded : RULES.typeAdded, {}, state);
    return out;
  }
  switch (g.kind) {
    case 'struct':
    case 'union':
      if (a.size !== b.size) emit('size', RULES.sizeChanged, { size: a.size }, { size: b.size });
      compareMembers(bodyOf<CompositeBody>(a).members, bodyOf<CompositeBody>(b).members, emit, lookups, g.module);
      break;
    case 'enum':
      compareEnums(a, b, emit);
      break;
    case 'typedef': {
      const x = bodyOf<TypedefBody>(a);
      const y = bodyOf<TypedefBody>(b);
      if (typeChanged(x.type, y.type)) {
        emit('type', classifyTypeChange({ type: x.type, size: a.size }, { type: y.type, size: b.size }, lookups, g.module), { type: spelled(x.type), size: a.size }, { type: spelled(y.type), size: b.size });
      } else if (a.size !== b.size && (x.members || y.members)) {
        emit('size', RULES.sizeChanged, { size: a.size }, { size: b.size });
      }
      if (x.members && y.members) compareMembers(x.members, y.members, emit, lookups, g.module);
      break;
    }
    case 'func':
      compareFuncs(bodyOf<FuncBody>(a), bodyOf<FuncBody>(b), emit, lookups, g.module);
      break;
  }
  return out;
}

/** A func's prototype as stored: what a kprobe/fentry program sees (types, their descriptions, names). */
function prototypeKey(f: FuncBody): string {
  return JSON.stringify([f.ret, f.params, f.variadic, f.retDesc ?? null, f.paramDescs ?? null]);
}

/** Decl tags other than `bpf_kfunc`, on the func (`func`) and on each parameter (`params`, when any has one). */
function otherTags(f: FuncBody): { func: string[]; params?: string[][] } {
  const func = (f.tags ?? []).filter((t) => t !== KFUNC_TAG);
  return f.paramTags ? { func, params: f.paramTags } : { func };
}

/**
 * A func in both kernels: its `signature` (prototype), `linkage` and `kfunc` (the `bpf_kfunc` decl tag) status and
 * its other decl `tags` change apart, so a func that only became static, or only gained `bpf_fastcall`, is not
 * reported as a new signature. Bodies of normalizer 1 have no linkage or tags: those are not compared then.
 */
function compareFuncs(x: FuncBody, y: FuncBody, emit: Emit, lookups: Lookups, module: string): void {
  if (prototypeKey(x) !== prototypeKey(y)) emit('signature', classifySignature(x, y, lookups, module), signature(x), signature(y));
  if (x.linkage !== undefined && y.linkage !== undefined && x.linkage !== y.linkage) {
    emit('linkage', classifyLinkage(x.linkage, y.linkage), { linkage: x.linkage }, { linkage: y.linkage });
  }
  if (x.linkage === undefined || y.linkage === undefined) return;
  const kx = (x.tags ?? []).includes(KFUNC_TAG);
  const ky = (y.tags ?? []).includes(KFUNC_TAG);
  if (kx !== ky) emit('kfunc', ky ? RULES.becameKfunc : RULES.noLongerKfunc, { kfunc: kx }, { kfunc: ky });
  const tx = otherTags(x);
  const ty = otherTags(y);
  if (JSON.stringify(tx) !== JSON.stringify(ty)) emit('tags', classifyTags(tx, ty), { decl_tags: tx.func, ...(tx.params ? { param_tags: tx.params } : {}) }, { decl_tags: ty.func, ...(ty.params ? { param_tags: ty.params } : {}) });
}

function signature(f: FuncBody): Record<string, unknown> {
  return { ret: spelled(f.ret), params: f.params.map(([name, type]) => ({ name, type: spelled(type) })), variadic: f.variadic };
}

/**
 * Whether a member's or typedef's type changed: its spelling did, as bpftool and pahole show types. An INT's
 * encoding alone is not a change of type: x86's `char` is signed up to Linux 6.1 and unsigned from 6.2 on
 * (-funsigned-char on every arch), which would flag every `char[16]` between them though nothing a program reads
 * differs. A size change shows as the member's size.
 */
function typeChanged(a: StoredType, b: StoredType): boolean {
  return spelled(a) !== spelled(b);
}

function typeState(d: ShapeDef): Record<string, unknown> {
  switch (d.kind) {
    case 'typedef':
      return { type: spelled(bodyOf<TypedefBody>(d).type), size: d.size };
    case 'func':
      return signature(bodyOf<FuncBody>(d));
    default:
      return { size: d.size };
  }
}

/**
 * The state of a type that only one kernel has: its definition's state; for a name with several definitions (or
 * identical copies), the first one's (smallest size, then body) with `count` (definitions, copies included) and
 * `definitions` (the state of each, in that order).
 */
function presentState(defs: ShapeDef[]): Record<string, unknown> {
  const count = countOf(defs);
  if (count === 1) return typeState(defs[0]);
  const ordered = [...defs].sort((x, y) => x.size - y.size || cmp(bodyText(x), bodyText(y)));
  const states = ordered.flatMap((d) => Array.from({ length: d.copies ?? 1 }, () => typeState(d)));
  return { ...states[0], count, definitions: states };
}

function compareMembers(oldList: StoredMember[], newList: StoredMember[], emit: Emit, lookups: Lookups, module: string): void {
  // One pairing with the histories': by name (a repeated name by occurrence), renames by one rule (members.ts).
  const p = pairMembers(oldList, newList, () => ({ lookups, module }));
  const emitted = new Map<string, DiffChange>();
  for (const key of p.removed) emitted.set(key, emit('removed', RULES.memberRemoved, memberPlace(p.before.get(key)!), {}, key));
  for (const [key, m] of p.after) {
    const o = p.before.get(key);
    if (!o) {
      emitted.set(key, emit('added', RULES.memberAdded, {}, memberPlace(m), key));
      continue;
    }
    if (o[1] !== m[1]) {
      emit('offset', RULES.memberMoved, { offset: Math.floor(o[1] / 8), bits_offset: o[1] }, { offset: Math.floor(m[1] / 8), bits_offset: m[1] }, key);
    }
    if (o[2] !== m[2]) emit('bitfield', classifyBitfield(o[2], m[2]), { bitfield_size: o[2] }, { bitfield_size: m[2] }, key);
    if (typeChanged(o[4], m[4])) {
      emit('type', classifyTypeChange({ type: o[4], size: o[3] }, { type: m[4], size: m[3] }, lookups, module), { type: spelled(o[4]), size: o[3] }, { type: spelled(m[4]), size: m[3] }, key);
    }
  }
  markRenames(p.renames, emitted);
}

/** Each side of a probable rename names the other in `probable_rename`, `reason` kept the last key. */
function markRenames(renames: Map<string, string>, emitted: Map<string, DiffChange>): void {
  for (const [key, other] of renames) {
    const c = emitted.get(key)!;
    c.probable_rename = other;
    moveReasonLast(c);
  }
}

/** Keeps `reason` the last key once `probable_rename` is set (the contract's keys first). */
function moveReasonLast(c: DiffChange): void {
  const reason = c.reason;
  delete (c as Partial<DiffChange>).reason;
  c.reason = reason;
}

function compareEnums(a: ShapeDef, b: ShapeDef, emit: Emit): void {
  const x = bodyOf<EnumBody>(a);
  const y = bodyOf<EnumBody>(b);
  if (a.size !== b.size) emit('size', RULES.sizeChanged, { size: a.size }, { size: b.size });
  if (x.signed !== y.signed) emit('type', RULES.enumSignChanged, { signed: x.signed }, { signed: y.signed });
  const p = pairEnumValues(x.values, y.values, (v) => v[0], (v) => v[1]);
  const emitted = new Map<string, DiffChange>();
  for (const key of p.removed) emitted.set(key, emit('removed', RULES.enumValueRemoved, { value: p.before.get(key)![1] }, {}, key));
  for (const [key, [, value]] of p.after) {
    const old = p.before.get(key);
    if (old === undefined) emitted.set(key, emit('added', RULES.enumValueAdded, {}, { value }, key));
    else if (old[1] !== value) emit('value', RULES.enumValueChanged, { value: old[1] }, { value }, key);
  }
  // A constant removed and one added with the same value: a rename.
  markRenames(p.renames, emitted);
}
