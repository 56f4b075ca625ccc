/**
 * Which kernels answer a dry run of one object alike, told from the catalog without loading their BTF (issue 12:
 * "kernels that share the shapes a program touches are resolved once").
 *
 * libs/core `targetLookups` lists what the dry run asks of a kernel's BTF by name: relocation candidates (by
 * essential name and kind), kfuncs, attach targets. From those names this module follows the catalog's stored
 * shapes as far as libbpf's comparison reads them (see `LookupDepth`): a struct's members and, held by value,
 * their types for field relocations; typedef chains, pointers and prototypes down to the kinds of what they
 * reach for TYPE_EXISTS/TYPE_SIZE and kfunc prototypes; members by name and type for TYPE_MATCHES. A kernel's key
 * is then its arch, pointer size, byte order and module names, with, for every name reached, the exact shapes
 * (content-addressed: equal shape ids are equal layouts) or, where only the kind is compared, the kinds present.
 * Kernels with equal keys get the same decisions, verdicts and messages from libbpf's rules.
 *
 * An object whose answer holds kernel type ids as decisions (TYPE_ID_TARGET, `bpf_core_type_id_kernel()`) keys
 * those types as TYPE_EXISTS does, and each kernel's own id of them comes from the ids the catalog records per
 * kernel (catalog type-ids.ts): check.ts writes them into the shared answer (`typeIds`).
 *
 * Where the catalog cannot prove that, a kernel keeps the key of its own BTF (vmlinux and module sha256: only
 * kernels with the very same BTF share): a TYPE_ID_TARGET type the kernel's recorded ids do not answer (none
 * recorded, two definitions, found in a module, a flavoured name), a lookup of a kind the catalog does not store
 * (INT, FWD, FLOAT, typed ksym VARs), a type held by value that the catalog keeps no layout of (an anonymous enum,
 * an array of anonymous structs), a name with two
 * different layouts in one kernel that a member, parameter or typedef refers to (which one it means is a type id
 * the catalog does not keep; two layouts that are only a lookup's candidates key as the set of both: libbpf's
 * decision does not depend on their order), and a kernel without a recorded pointer size or byte order.
 *
 * A member's, parameter's or typedef's type is a reference in the catalog's type graph: base types (`unsigned int`,
 * `char`) with their size and encoding in the parent's body, and named types by kind and name (the kernel's
 * definition of X, whose presence is part of the key; BTF dedup leaves a forward declaration beside a definition
 * only when it cannot tell which one it means). A catalog made before the type graph (normalizer version 3)
 * stores C spellings instead, which are not read back: its kernels keep their own BTF's key.
 *
 * Type ids are not decisions outside TYPE_ID_TARGET, but the answer shows them (`target.type_id`, messages): an
 * entry resolved on another kernel's BTF says so in `resolved_on`, whose ids they are (TYPE_ID_TARGET's values
 * and target ids aside: those are the entry's own kernel's).
 */
import { createHash } from 'node:crypto';
import { definitionsOfShapes, spelled, type Catalog, type Definition, type ShapeKind, type ShapeRow, type StoredType, type TypeRef } from '@btf-atlas/catalog/read';
import { shapesNamedWithFlavors } from '@btf-atlas/catalog/core-keys';
import type { KernelModule } from '@btf-atlas/catalog/kernel-modules';
import { kernelTypeIds, typeIdLabel, type TypeIdKind } from '@btf-atlas/catalog/type-ids';
import { essentialName, targetLookups, type LinkedBpfObject, type LookupDepth, type TargetLookups } from '@btf-atlas/core';
import type { SelectedKernel } from './selection.js';

/** The BTF kinds of lookups the catalog stores shapes of, and their shape kinds. */
const SHAPE_KINDS: ReadonlyMap<string, ShapeKind> = new Map([
  ['STRUCT', 'struct'], ['UNION', 'union'], ['ENUM', 'enum'], ['TYPEDEF', 'typedef'], ['FUNC', 'func'],
]);

/** How a name's shapes enter a key: exactly, or only the kinds present. */
type Level = 'shape' | 'kind';

/** How a reached type is compared (a lookup's depth, or what a reference inherits from it). */
type Walk = 'field' | 'compat' | 'match' | 'none';

/** A named type a type reference leads to. */
interface Ref {
  kinds: ShapeKind[];
  name: string;
}

/** What a type reference leads to, read once per reference. */
interface RefInfo {
  /** The named structs, unions, enums and typedefs in it (through pointers, arrays, qualifiers, prototypes). */
  refs: Ref[];
  /** It holds an unnamed struct, union or enum somewhere. */
  anonymous: boolean;
  /** It holds an unnamed enum somewhere. */
  anonymousEnum: boolean;
  /** It goes through a pointer or a prototype (what a field access cannot follow). */
  indirect: boolean;
}

/** What a type reference leads to ({@link RefInfo}). */
function infoOf(ref: TypeRef): RefInfo {
  const out: RefInfo = { refs: [], anonymous: false, anonymousEnum: false, indirect: false };
  const walk = (r: TypeRef): void => {
    switch (r[0]) {
      case 's':
      case 'u':
      case 'e':
        if (r[1] === '') {
          out.anonymous = true;
          if (r[0] === 'e') out.anonymousEnum = true;
        } else out.refs.push({ kinds: [r[0] === 's' ? 'struct' : r[0] === 'u' ? 'union' : 'enum'], name: r[1] });
        return;
      case 'w':
        if (r[2] === '') out.anonymous = true;
        else out.refs.push({ kinds: [r[1]], name: r[2] });
        return;
      case 't':
        out.refs.push({ kinds: ['typedef'], name: r[1] });
        return;
      case 'p':
        out.indirect = true;
        return walk(r[1]);
      case 'a':
      case 'q':
      case 'g':
        return walk(r[2]);
      case 'fn':
        out.indirect = true;
        walk(r[1]);
        for (const p of r[2]) walk(p);
        return;
      default:
        return;
    }
  };
  walk(ref);
  return out;
}

/** The element type of an array (qualifiers and type tags skipped), or undefined when the type is no array. */
function arrayElement(ref: TypeRef): TypeRef | undefined {
  let r = ref;
  while (r[0] === 'q' || r[0] === 'g') r = r[2];
  return r[0] === 'a' ? r[2] : undefined;
}

/** A stored member: `[name, bits_offset, bitfield_size, size, type, anon_depth, children?]`. */
type Member = [string, number, number, number, StoredType, number, Member[]?];

/** Longest walk along an access path (typedef chains included) before giving up on keying. */
const MAX_PATH_DEPTH = 64;

/** The parts of a stored body the walk reads. */
interface ParsedBody {
  members?: Member[];
  type?: StoredType;
  ret?: StoredType;
  params?: [string, StoredType][];
}

/** The names reached from an object's lookups, each with the level its key needs. */
class Reach {
  /** name → shape kinds → level (the stronger wins), and whether candidates by essential name. */
  readonly demands = new Map<string, Demand>();
  /** Set when a reached type cannot be keyed: every kernel keeps its own BTF's key. */
  unprovable: string | undefined;
  private readonly visited = new Set<string>();
  /** Shapes by `name flavors` (each asked once, all kinds), and each body's members and spellings once parsed. */
  private readonly rowCache = new Map<string, ShapeRow[]>();
  private readonly bodies = new Map<number, ParsedBody>();
  private readonly infos = new WeakMap<TypeRef, RefInfo>();
  private readonly pending: { name: string; kinds: ShapeKind[]; walk: Walk; behindPtr: boolean; flavors: boolean }[] = [];
  /** TYPE_MATCHES: the member names the local types have (a target member of another name is never compared). */
  private matchNames: Set<string> | undefined;

  constructor(private readonly catalog: Catalog) {}

  /**
   * `root`: asked by a lookup itself (its candidates), not reached through another type's member, parameter or
   * typedef. Only a reference needs to know which of two layouts of one name it means.
   */
  demand(name: string, kinds: readonly ShapeKind[], level: Level, flavors = false, root = false): void {
    let d = this.demands.get(name);
    if (!d) this.demands.set(name, (d = { kinds: new Set(), level, flavors: false, referenced: false }));
    for (const k of kinds) d.kinds.add(k);
    if (level === 'shape') d.level = 'shape';
    if (flavors) d.flavors = true;
    if (!root && level === 'shape') d.referenced = true;
  }

  /** Limits match walks to target members of these names (the union over the object's TYPE_MATCHES lookups). */
  matchMembers(names: readonly string[]): void {
    this.matchNames ??= new Set();
    for (const n of names) this.matchNames.add(n);
  }

  /** Keys `name`'s shapes exactly and follows their bodies as `walk` compares them. */
  visit(name: string, kinds: readonly ShapeKind[], walk: Walk, behindPtr: boolean, flavors = false, root = false): void {
    this.demand(name, kinds, 'shape', flavors, root);
    this.pending.push({ name, kinds: [...kinds], walk, behindPtr, flavors });
  }

  /**
   * A field relocation's root, walked only along its access path (libbpf's spec matching): the members of that
   * name (anonymous members are flattened in the stored body), through typedefs, unnamed structs and arrays, and
   * at the end the field's own type as `bpf_core_fields_are_compat` reads it.
   */
  visitPath(name: string, kinds: readonly ShapeKind[], flavors: boolean, path: readonly (string | null)[]): void {
    this.demand(name, kinds, 'shape', flavors, true);
    for (const row of this.shapes(name, kinds, flavors)) {
      const body = this.parsed(row);
      if (row.kind === 'struct' || row.kind === 'union') this.pathMembers(body.members ?? [], path, 0, 0);
      else if (row.kind === 'typedef' && body.type !== undefined) this.pathStep(body.type, body.members, path, 0, 0);
    }
  }

  /** Members named `path[i]`, then on from each one's type. */
  private pathMembers(members: readonly Member[], path: readonly (string | null)[], i: number, depth: number): void {
    const step = path[i];
    // An array step on a struct, or no step left: libbpf compares nothing further here.
    if (typeof step !== 'string') return;
    for (const m of members) if (m[0] === step) this.pathStep(m[4], m[6], path, i + 1, depth + 1);
  }

  /** The type `type` (with its unnamed struct's members when stored), reached at access step `i`. */
  private pathStep(type: StoredType, children: readonly Member[] | undefined, path: readonly (string | null)[], i: number, depth: number): void {
    if (depth > MAX_PATH_DEPTH) {
      this.unprovable ??= `typedef chain of '${spelled(type)}' too deep`;
      return;
    }
    const info = this.info(type);
    if (info === undefined) return;
    if (i === path.length) return this.fieldType(type, children, depth);
    // An access does not go through a pointer: libbpf finds no match there, whatever it points to.
    if (info.indirect) return;
    const elem = arrayElement(type as TypeRef);
    if (path[i] === null) {
      if (elem) return this.pathStep(elem, undefined, path, i + 1, depth + 1);
    } else if (elem) {
      return;
    }
    if (children) return this.pathMembers(children, path, i, depth + 1);
    const { refs, anonymous } = info;
    if (anonymous) {
      this.unprovable ??= `a member of type '${spelled(type)}' has no stored layout`;
      return;
    }
    for (const r of refs) {
      this.demand(r.name, r.kinds, 'shape');
      for (const row of this.shapes(r.name, r.kinds, false)) {
        const body = this.parsed(row);
        if (row.kind === 'typedef') {
          if (body.type !== undefined) this.pathStep(body.type, body.members, path, i, depth + 1);
        } else if (row.kind === 'struct' || row.kind === 'union') {
          this.pathMembers(body.members ?? [], path, i, depth + 1);
        }
      }
    }
  }

  /**
   * The field's own type, as `bpf_core_fields_are_compat` and the field's values read it: through typedefs and
   * arrays to a pointer (matches any pointer), a struct or union (matches any), an enum (name, size, signedness:
   * its shape) or a base type (name and size, in the parent's body).
   */
  private fieldType(type: StoredType, children: readonly Member[] | undefined, depth: number): void {
    const info = this.info(type);
    if (children || info === undefined || info.indirect || depth > MAX_PATH_DEPTH) return;
    const { refs, anonymousEnum } = info;
    if (anonymousEnum) this.unprovable ??= `a field of type '${spelled(type)}' has no stored layout`;
    for (const r of refs) {
      if (r.kinds[0] === 'enum') this.demand(r.name, r.kinds, 'shape');
      if (r.kinds[0] !== 'typedef') continue;
      this.demand(r.name, r.kinds, 'shape');
      for (const row of this.shapes(r.name, r.kinds, false)) {
        const body = this.parsed(row);
        if (body.type !== undefined) this.fieldType(body.type, body.members, depth + 1);
      }
    }
  }

  private parsed(row: ShapeRow): ParsedBody {
    let body = this.bodies.get(row.id);
    if (!body) this.bodies.set(row.id, (body = JSON.parse(row.body) as ParsedBody));
    return body;
  }

  /**
   * What a stored type leads to; undefined (and the object unprovable) for a C spelling, which catalogs made
   * before the type graph store.
   */
  private info(type: StoredType): RefInfo | undefined {
    if (typeof type === 'string') {
      this.unprovable ??= 'the catalog stores C spellings, not the type graph (made before normalizer version 3: reindex it)';
      return undefined;
    }
    let info = this.infos.get(type);
    if (!info) this.infos.set(type, (info = infoOf(type)));
    return info;
  }

  /** Follows every pending name through the bodies of all its shapes in the catalog (any kernel: a superset). */
  run(): void {
    for (let next = this.pending.pop(); next; next = this.pending.pop()) {
      const key = `${next.name}\0${next.kinds.join()}\0${next.walk}\0${next.behindPtr}\0${next.flavors}`;
      if (this.visited.has(key) || next.walk === 'none') continue;
      this.visited.add(key);
      for (const row of this.shapes(next.name, next.kinds, next.flavors)) this.body(row, next.walk, next.behindPtr);
    }
  }

  /** The shapes of `name` among `kinds`; with `flavors`, those of its `___flavor` names too (essential name `name`). */
  shapes(name: string, kinds: readonly ShapeKind[], flavors: boolean): ShapeRow[] {
    const key = `${name} ${flavors}`;
    let rows = this.rowCache.get(key);
    if (!rows) {
      rows = shapesNamedWithFlavors(this.catalog, name, ['struct', 'union', 'enum', 'typedef', 'func'], flavors);
      if (flavors) rows = rows.filter((r) => essentialName(r.name) === name);
      this.rowCache.set(key, rows);
    }
    return rows.filter((r) => kinds.includes(r.kind));
  }

  /** The rows of these shape ids (each among the shapes asked for already). */
  rowsOf(ids: Iterable<number>): ShapeRow[] {
    const byId = new Map<number, ShapeRow>();
    for (const rows of this.rowCache.values()) for (const r of rows) byId.set(r.id, r);
    return [...ids].map((id) => byId.get(id) as ShapeRow);
  }

  /** What one shape's body refers to, as `walk` reads it. */
  private body(row: ShapeRow, walk: Walk, behindPtr: boolean): void {
    const body = this.parsed(row);
    switch (row.kind) {
      case 'struct':
      case 'union':
        // TYPE_EXISTS / TYPE_SIZE compare a struct's kind and size only.
        if (walk !== 'compat') this.members(body.members ?? [], walk, behindPtr);
        return;
      case 'typedef':
        if (body.type !== undefined) this.typeOf(body.type, walk, behindPtr, body.members !== undefined);
        if (body.members) this.members(body.members, walk, behindPtr);
        return;
      case 'func':
        for (const t of [body.ret, ...(body.params ?? []).map((p) => p[1])]) if (t !== undefined) this.typeOf(t, walk === 'field' ? 'compat' : walk, behindPtr, false);
        return;
      default:
        return;
    }
  }

  private members(members: readonly Member[], walk: Walk, behindPtr: boolean): void {
    for (const m of members) {
      if (walk === 'match' && this.matchNames && !this.matchNames.has(m[0])) continue;
      this.typeOf(m[4], walk, behindPtr, m[6] !== undefined);
      if (m[6]) this.members(m[6], walk, behindPtr);
    }
  }

  /**
   * The types a type refers to. Held by value (no pointer, no prototype): a field or match walk goes on into them;
   * behind a pointer a field walk stops (any pointer matches any pointer), a compat or match walk keeps typedef
   * chains exactly and compares structs, unions and enums by kind (and name). `membersStored`: the anonymous
   * struct or union it is has its members in the same body.
   */
  private typeOf(type: StoredType, walk: Walk, behindPtr: boolean, membersStored: boolean): void {
    const info = this.info(type);
    if (info === undefined) return;
    const ptr = behindPtr || info.indirect;
    if (walk === 'field' && ptr) return;
    const { refs, anonymous } = info;
    if (anonymous && !membersStored && !ptr && walk !== 'compat') {
      this.unprovable ??= `a member of type '${spelled(type)}' has no stored layout`;
    }
    for (const r of refs) {
      const isTypedef = r.kinds[0] === 'typedef';
      if (walk === 'compat' && !isTypedef) this.demand(r.name, r.kinds, 'kind');
      else if (walk === 'match' && ptr && !isTypedef) this.demand(r.name, r.kinds, 'kind');
      else this.visit(r.name, r.kinds, walk, ptr);
    }
  }
}

/** The walk a lookup's depth starts. */
function walkOf(depth: LookupDepth): Walk {
  switch (depth) {
    case 'field':
      return 'field';
    case 'compat':
    case 'proto':
      return 'compat';
    case 'match':
      return 'match';
    default:
      return 'none';
  }
}

/** The key of a kernel that only shares with kernels of the very same BTF. */
export function btfKeyOf(k: SelectedKernel, modules: readonly KernelModule[]): string {
  return ['btf', k.row.btfSha256, ...modules.map((m) => `${m.name}:${m.btfSha256}`)].join(' ');
}

/** How one object's kernels group. */
export interface ObjectKeys {
  /** Per selected kernel (same order): kernels with equal keys are resolved once. */
  keys: string[];
  /** Why kernels keep their own BTF's key, when the whole object is not provable from shapes. */
  unprovable?: string;
  /**
   * Per selected kernel, for an object with TYPE_ID_TARGET relocations: the kernel's own vmlinux type id of each
   * type they target (by `kind name`, catalog kinds: `struct task_struct`), or `none` where the kernel lacks the
   * name; undefined for a kernel keyed by its own BTF (whose answer holds its own ids anyway).
   */
  typeIds?: (ReadonlyMap<string, number | 'none'> | undefined)[];
}

/**
 * The key of every selected kernel for a dry run of `obj` (see the module comment). `modules` has each kernel's
 * ingested modules when module BTF is searched (undefined: vmlinux only).
 */
export function objectKeys(catalog: Catalog, obj: LinkedBpfObject, kernels: readonly SelectedKernel[], modules: ReadonlyMap<number, KernelModule[]> | undefined): ObjectKeys {
  return lookupKeys(catalog, targetLookups(obj), kernels, modules);
}

/** {@link objectKeys} of what an object asks of a kernel's BTF (libs/core `targetLookups`). */
export function lookupKeys(catalog: Catalog, asked: TargetLookups, kernels: readonly SelectedKernel[], modules: ReadonlyMap<number, KernelModule[]> | undefined): ObjectKeys {
  const own = (): string[] => kernels.map((k) => btfKeyOf(k, modules?.get(k.row.id) ?? []));
  const reach = new Reach(catalog);
  for (const l of asked.lookups) if (l.members) reach.matchMembers(l.members);
  for (const l of asked.lookups) {
    const kind = SHAPE_KINDS.get(l.kind);
    if (!kind) return { keys: own(), unprovable: `a ${l.kind} lookup ('${l.name}'): the catalog keeps no ${l.kind.toLowerCase()} types` };
    if (l.depth === 'exists') reach.demand(l.name, [kind], 'kind', false, true);
    else if (l.depth === 'field' && l.path !== undefined) reach.visitPath(l.name, [kind], l.flavors, l.path);
    else if (l.depth === 'match' && l.members === undefined) reach.unprovable ??= `TYPE_MATCHES of '${l.name}' without its local members`;
    else reach.visit(l.name, [kind], walkOf(l.depth), false, l.flavors, true);
  }
  reach.run();
  if (reach.unprovable !== undefined) return { keys: own(), unprovable: reach.unprovable };
  // TYPE_ID_TARGET: the types whose kernel ids the answer holds (their shapes are keyed as TYPE_EXISTS's are).
  const idTargets: { kind: TypeIdKind; name: string }[] = [];
  for (const t of asked.typeIdTargets) {
    const kind = SHAPE_KINDS.get(t.kind);
    if (kind === undefined || kind === 'func') return { keys: own(), unprovable: `TYPE_ID_TARGET of a ${t.kind} ('${t.name}'): the catalog keeps no ids of that kind` };
    // A kernel type named NAME___flavor is a candidate too, and its id is not the one recorded for NAME.
    if (reach.shapes(t.name, [kind], true).some((r) => r.name !== t.name)) {
      return { keys: own(), unprovable: `TYPE_ID_TARGET of '${t.name}': the catalog holds flavoured names of it` };
    }
    idTargets.push({ kind, name: t.name });
  }

  // Every shape reached, and where each is defined in every kernel (one read per name bucket).
  const names = [...reach.demands.keys()].sort();
  const demandOf = new Map<number, string[]>();
  for (const name of names) {
    const d = reach.demands.get(name) as Demand;
    for (const row of reach.shapes(name, [...d.kinds], d.flavors)) {
      const of = demandOf.get(row.id);
      if (of) of.push(name);
      else demandOf.set(row.id, [name]);
    }
  }
  const defs = definitionsOfShapes(catalog, reach.rowsOf(demandOf.keys()));
  // Kernels with one definitions list (the same object: definitionsOfShapes shares them) share its digest.
  const digestOf = new Map<Definition[], string | undefined>();
  const empty: Definition[] = [];
  // Each kernel's own ids of those types; a kernel without recorded ids, or with two entries for one, keeps its BTF's key.
  const idsOf = idTargets.length > 0 ? kernelTypeIds(catalog, kernels.map((k) => k.row.id), idTargets) : undefined;
  const typeIds: (Map<string, number | 'none'> | undefined)[] = [];
  const keys = kernels.map((k) => {
    const mods = modules?.get(k.row.id) ?? [];
    typeIds.push(undefined);
    if (k.row.pointerSize === null || k.row.byteOrder === null) return btfKeyOf(k, mods);
    const list = defs.get(k.row.id) ?? empty;
    let digest = digestOf.get(list);
    if (!digestOf.has(list)) digestOf.set(list, (digest = digestOfDefinitions(names, reach.demands, demandOf, list, modules !== undefined)));
    if (digest === undefined) return btfKeyOf(k, mods);
    if (idsOf) {
      const ids = idsOf.get(k.row.id);
      if (!ids || [...ids.values()].includes('many')) return btfKeyOf(k, mods);
      // Not in vmlinux but in a module searched after it: the target's id would be the module's.
      const inModule = (label: string): boolean => list.some((d) => d.module !== '' && typeIdLabel(d.kind as TypeIdKind, d.name) === label);
      if (modules !== undefined && [...ids].some(([label, id]) => id === 'none' && inModule(label))) return btfKeyOf(k, mods);
      typeIds[typeIds.length - 1] = ids as Map<string, number | 'none'>;
    }
    return `shapes ${k.row.arch} ${k.row.pointerSize} ${k.row.byteOrder} [${mods.map((m) => m.name).join(',')}] ${digest}`;
  });
  return idsOf ? { keys, typeIds } : { keys };
}

/**
 * A name reached: the shape kinds asked, how they enter the key, whether by essential name, and whether a member,
 * parameter or typedef refers to it by name (which of two layouts it means is then a type id).
 */
interface Demand {
  kinds: Set<ShapeKind>;
  level: Level;
  flavors: boolean;
  referenced: boolean;
}

/**
 * The digest of one kernel's definitions of every name reached (one line per name, in name order), or undefined
 * when a name cannot be keyed (see {@link keyLine}).
 */
function digestOfDefinitions(
  names: readonly string[], demands: ReadonlyMap<string, Demand>, demandOf: ReadonlyMap<number, string[]>, list: readonly Definition[], withModules: boolean,
): string | undefined {
  const byName = new Map<string, Definition[]>();
  for (const d of list) {
    for (const name of demandOf.get(d.shapeId) ?? []) {
      const l = byName.get(name);
      if (l) l.push(d);
      else byName.set(name, [d]);
    }
  }
  const h = createHash('sha256');
  for (const name of names) {
    const line = keyLine(name, demands.get(name) as Demand, byName.get(name) ?? [], withModules);
    if (line === undefined) return undefined;
    h.update(line).update('\n');
  }
  return h.digest('hex');
}

/**
 * One name's line of a kernel's key, or undefined when it cannot be keyed: two different shapes of one kind in
 * one BTF (vmlinux, or one module) that a member, parameter or typedef refers to by name (which one it means is a
 * type id). Two layouts that are only a lookup's candidates key as the set of both: libbpf compares every
 * candidate and its decision does not depend on their order (all that match must agree, else the relocation
 * fails as ambiguous); only the order of the values its message names does, and an entry resolved on another
 * kernel says so (`resolved_on`). Module definitions count only when module BTF is searched.
 */
function keyLine(name: string, demand: Demand, defs: readonly Definition[], withModules: boolean): string | undefined {
  const used = withModules ? defs : defs.filter((d) => d.module === '');
  if (demand.level === 'kind') return `${name}: ${[...new Set(used.map((d) => `${d.kind}@${d.module}`))].sort().join(' ')}`;
  const seen = new Map<string, number>();
  for (const d of used) {
    if (!demand.referenced) break;
    const where = `${d.kind}@${d.module}`;
    const other = seen.get(where);
    if (other !== undefined && other !== d.shapeId) return undefined;
    seen.set(where, d.shapeId);
  }
  return `${name}= ${used.map((d) => `${d.kind}@${d.module}#${d.shapeId}x${d.copies}`).sort().join(' ')}`;
}
