import { catalogVersion, type Catalog } from './db.js';
import { CatalogError } from './errors.js';
import { compareUnameR, filterKernels, formatKref, parseKref, type KernelFilter, type KernelRef } from './kernel-ref.js';
import { bucketOf, type CompositeBody, type EnumBody, type ShapeKind, type StoredMember, type TypedefBody } from './normalize.js';
import { readSets } from './sets.js';
import { closestNames } from './suggest.js';
import { failedKernels, kernelNotFound, type FailedKernel } from './failed.js';

/** A kernel as the contract lists it (`GET /v1/kernels`, `kernels --json`). */
export interface KernelInfo {
  kernel: string;
  distro: string;
  release: string;
  arch: string;
  uname_r: string;
  btf_sha256: string;
  types: number;
}

interface KernelRow {
  id: number;
  distro: string;
  release: string;
  arch: string;
  unameR: string;
  btfSha256: string;
  typeCount: number;
}

/**
 * Every kernel in kernel order, cached per catalog handle until the database changes ({@link catalogVersion}):
 * a long-lived server answers histories over thousands of kernels without
 * re-reading and re-sorting them each time.
 */
const kernelCache = new WeakMap<Catalog, { version: string; rows: KernelRow[] }>();

function allKernelRows(catalog: Catalog): KernelRow[] {
  const version = catalogVersion(catalog);
  const hit = kernelCache.get(catalog);
  if (hit && hit.version === version) return hit.rows;
  const rows = catalog.sqlite
    .prepare(`SELECT id, distro, release, arch, uname_r AS unameR, btf_sha256 AS btfSha256, type_count AS typeCount
              FROM kernels ORDER BY distro, release, arch, version_key, uname_r`)
    .all() as KernelRow[];
  kernelCache.set(catalog, { version, rows });
  return rows;
}

function kernelRows(catalog: Catalog, f: KernelFilter = {}): KernelRow[] {
  return filterKernels(allKernelRows(catalog), f);
}

function info(r: KernelRow): KernelInfo {
  return { kernel: formatKref(r), distro: r.distro, release: r.release, arch: r.arch, uname_r: r.unameR, btf_sha256: r.btfSha256, types: r.typeCount };
}

/** The catalog's kernels in kernel order (distro, release, arch, then version numbers part by part). */
export function listKernels(catalog: Catalog, f: KernelFilter = {}): KernelInfo[] {
  return kernelRows(catalog, f).map(info);
}

/** A kernel as `kernels` lists it: ingested, or refused at ingest with its reason. */
export type KernelListEntry =
  | (KernelInfo & { state: 'ingested' })
  | {
      kernel: string;
      distro: string;
      release: string;
      arch: string;
      uname_r: string;
      state: 'failed';
      btf_sha256: null;
      types: null;
      failure: { code: string; message: string; source: string; failed_at: string };
    };

/**
 * The catalog's kernels and the kernels whose ingest failed (and that no later ingest added), in kernel order:
 * what `kernels` and `GET /v1/kernels` list, so a refused kernel never vanishes silently.
 */
export function listKernelStates(catalog: Catalog, f: KernelFilter = {}): KernelListEntry[] {
  const out: KernelListEntry[] = listKernels(catalog, f).map((k) => ({ ...k, state: 'ingested' as const }));
  const failed = failedKernels(catalog, f);
  if (failed.length === 0) return out;
  for (const x of failed) {
    out.push({
      kernel: x.kernel, distro: x.distro, release: x.release, arch: x.arch, uname_r: x.uname_r, state: 'failed', btf_sha256: null, types: null,
      failure: { code: x.code, message: x.message, source: x.source, failed_at: x.failed_at },
    });
  }
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return out.sort((a, b) => cmp(a.distro, b.distro) || cmp(a.release, b.release) || cmp(a.arch, b.arch) || compareUnameR(a.uname_r, b.uname_r) || cmp(a.uname_r, b.uname_r));
}

/** The row id of a kernel; KERNEL_NOT_FOUND with the closest KREFs when it is not in the catalog. */
export function findKernel(catalog: Catalog, kref: string | KernelRef): { id: number; kernel: string } {
  const k = typeof kref === 'string' ? parseKref(kref) : kref;
  const row = catalog.sqlite
    .prepare('SELECT id FROM kernels WHERE distro = ? AND release = ? AND arch = ? AND uname_r = ?')
    .get(k.distro, k.release, k.arch, k.unameR) as { id: number } | undefined;
  const name = formatKref(k);
  if (!row) {
    throw kernelNotFound(catalog, name, listKernels(catalog).map((x) => x.kernel));
  }
  return { id: row.id, kernel: name };
}

/** One definition of a name in one kernel. */
interface Definition {
  kind: ShapeKind;
  size: number;
  body: string;
  module: string;
  copies: number;
  shapeId: number;
}

/**
 * Where a name is defined in every kernel, with a few indexed lookups: the shapes of that name (index on name),
 * the kernels' sets of its bucket (index on bucket), and the distinct sets among those (decoded once and kept).
 * Kernels sharing a set share one Definition[] object.
 */
function definitionsByKernel(catalog: Catalog, name: string, kinds: readonly ShapeKind[]): Map<number, Definition[]> {
  const out = new Map<number, Definition[]>();
  const shapes = catalog.sqlite
    .prepare(`SELECT id, kind, size, body FROM shapes WHERE name = ? AND kind IN (${kinds.map(() => '?').join(',')})`)
    .all(name, ...kinds) as { id: number; kind: ShapeKind; size: number; body: string }[];
  if (shapes.length === 0) return out;
  const byId = new Map(shapes.map((r) => [r.id, r]));
  const kernelSets = catalog.sqlite
    .prepare('SELECT kernel_id AS kernelId, set_id AS setId FROM kernel_sets WHERE bucket = ?')
    .all(bucketOf(name)) as { kernelId: number; setId: number }[];
  const sets = readSets(catalog, new Set(kernelSets.map((ks) => ks.setId)));
  const bySet = new Map<number, Definition[]>();
  for (const [setId, entries] of sets) {
    const defs: Definition[] = [];
    for (const e of entries) {
      const shape = byId.get(e.shapeId);
      if (shape) defs.push({ kind: shape.kind, size: shape.size, body: shape.body, module: e.module, copies: e.copies, shapeId: e.shapeId });
    }
    if (defs.length > 0) {
      defs.sort((a, b) => (a.module < b.module ? -1 : a.module > b.module ? 1 : a.shapeId - b.shapeId));
      bySet.set(setId, defs);
    }
  }
  for (const ks of kernelSets) {
    const defs = bySet.get(ks.setId);
    if (defs) out.set(ks.kernelId, defs);
  }
  return out;
}

/** A member as the contract's JSON shows it. */
export interface MemberJson {
  name: string;
  bits_offset: number;
  offset: number;
  bitfield_size: number;
  size: number;
  type: string;
}

function memberJson(m: StoredMember): MemberJson {
  return { name: m[0], bits_offset: m[1], offset: Math.floor(m[1] / 8), bitfield_size: m[2], size: m[3], type: m[4] };
}

/** A struct/union/enum definition as `type --json` shows it. */
export type TypeJson =
  | { kind: 'struct' | 'union'; name: string; size: number; module?: string; members: MemberJson[] }
  | { kind: 'enum'; name: string; size: number; module?: string; signed: boolean; values: { name: string; value: string }[] };

export interface TypeLayoutJson {
  kernel: string;
  types: TypeJson[];
}

/** Splits `struct foo`, `union foo`, `enum foo` or plain `foo` into the kinds to look for and the name. */
function parseTypeName(input: string): { name: string; kinds: ShapeKind[] } {
  const m = /^(struct|union|enum)\s+(\S+)$/.exec(input.trim());
  if (m) return { name: m[2], kinds: [m[1] as ShapeKind] };
  return { name: input.trim(), kinds: ['struct', 'union', 'enum'] };
}

function allNames(catalog: Catalog, kinds: readonly ShapeKind[]): string[] {
  return (catalog.sqlite
    .prepare(`SELECT DISTINCT name FROM shapes WHERE kind IN (${kinds.map(() => '?').join(',')})`)
    .pluck()
    .all(...kinds)) as string[];
}

/** Every definition of a struct/union/enum NAME in kernel KREF, with flattened members (`type --json`). */
export function typeLayout(catalog: Catalog, typeName: string, kref: string): TypeLayoutJson {
  const kernel = findKernel(catalog, kref);
  const { name, kinds } = parseTypeName(typeName);
  const defs = definitionsByKernel(catalog, name, kinds).get(kernel.id) ?? [];
  if (defs.length === 0) {
    throw new CatalogError('TYPE_NOT_FOUND', `no struct, union or enum named ${name} in ${kernel.kernel}`, closestNames(name, allNames(catalog, kinds)));
  }
  const types: TypeJson[] = [];
  for (const d of defs) {
    for (let i = 0; i < d.copies; i++) {
      const mod = d.module ? { module: d.module } : {};
      if (d.kind === 'enum') {
        const body = JSON.parse(d.body) as EnumBody;
        types.push({ kind: 'enum', name, size: d.size, ...mod, signed: body.signed, values: body.values.map(([n, v]) => ({ name: n, value: v })) });
      } else {
        const body = JSON.parse(d.body) as CompositeBody;
        types.push({ kind: d.kind as 'struct' | 'union', name, size: d.size, ...mod, members: body.members.map(memberJson) });
      }
    }
  }
  return { kernel: kernel.kernel, types };
}

/** A field's state in one kernel (`field --json`). */
export type FieldEntry =
  | ({ kernel: string; status: 'present' } & Omit<MemberJson, 'name'>)
  | { kernel: string; status: 'missing_field' | 'missing_struct' };

export interface FieldChange {
  from: string;
  to: string;
  what: 'offset' | 'size' | 'type' | 'added' | 'removed';
  before: Record<string, unknown>;
  after: Record<string, unknown>;
}

export interface FieldHistoryJson {
  field: string;
  kernels: FieldEntry[];
  changes: FieldChange[];
  /** Kernels of the selection that failed to ingest, so are in no answer: present only when there are some. */
  failed_kernels?: FailedKernelNote[];
}

/** A kernel missing from an answer because its ingest failed, and why. */
export interface FailedKernelNote {
  kernel: string;
  code: string;
  message: string;
  failed_at: string;
}

/** `{ failed_kernels }` for the kernels of a selection that failed to ingest; `{}` when none did. */
function failedOf(catalog: Catalog, f: KernelFilter): { failed_kernels?: FailedKernelNote[] } {
  const failed: FailedKernel[] = failedKernels(catalog, f);
  if (failed.length === 0) return {};
  return { failed_kernels: failed.map(({ kernel, code, message, failed_at }) => ({ kernel, code, message, failed_at })) };
}

/** Splits `STRUCT.MEMBER[.MEMBER…]` (optionally `struct `/`union ` first); BAD_FIELD_PATH when malformed. */
export function parseFieldPath(path: string): { type: string; kinds: ShapeKind[]; members: string[] } {
  const m = /^(?:(struct|union)\s+)?([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)$/.exec(path.trim());
  if (!m) throw new CatalogError('BAD_FIELD_PATH', `field path ${JSON.stringify(path)} is not STRUCT.MEMBER[.MEMBER...]`);
  return { type: m[2], kinds: m[1] ? [m[1] as ShapeKind] : ['struct', 'union'], members: m[3].slice(1).split('.') };
}

/** The struct/union a member's type names by value (`struct sched_entity`), for following a path into it. */
function namedAggregate(type: string): { kind: ShapeKind; name: string } | undefined {
  const m = /^(?:(?:const|volatile) )*(struct|union) ([A-Za-z_][A-Za-z0-9_]*)$/.exec(type);
  return m ? { kind: m[1] as ShapeKind, name: m[2] } : undefined;
}

const TYPEDEF_NAME = /^(?:(?:const|volatile) )*([A-Za-z_][A-Za-z0-9_]*)$/;

/** The type name a member's spelling is built on: `pid_t` for `pid_t`, `cred` for `const struct cred *`. */
function typeBaseName(type: string): string | undefined {
  return /^(?:(?:const|volatile|struct|union|enum) )*([A-Za-z_][A-Za-z0-9_]*)(?: ?\*)*(?: const)?$/.exec(type)?.[1];
}

/**
 * The history of a field across the catalog's kernels (`field --json`): per kernel in kernel order, whether the
 * struct and field exist and where; and the changes between neighbours of each distro/release/arch series.
 */
export function fieldHistory(catalog: Catalog, fieldPath: string, f: KernelFilter = {}): FieldHistoryJson {
  const path = parseFieldPath(fieldPath);
  const kernels = kernelRows(catalog, f);
  const cache = new Map<string, Map<number, Definition[]>>();
  const defsOf = (name: string, kinds: readonly ShapeKind[]): Map<number, Definition[]> => {
    const key = `${kinds.join(',')}:${name}`;
    let m = cache.get(key);
    if (!m) cache.set(key, (m = definitionsByKernel(catalog, name, kinds)));
    return m;
  };
  const top = defsOf(path.type, path.kinds);
  if (top.size === 0) {
    throw new CatalogError('TYPE_NOT_FOUND', `no struct or union named ${path.type} in the catalog`, closestNames(path.type, allNames(catalog, path.kinds)));
  }
  const entries: FieldEntry[] = [];
  const sameSet = new Map<Definition[], StoredMember | undefined>();
  let everFound = false;
  for (const k of kernels) {
    const kernel = formatKref(k);
    const defs = top.get(k.id);
    if (!defs) {
      entries.push({ kernel, status: 'missing_struct' });
      continue;
    }
    // A one-member path depends only on the definitions, which kernels sharing a shape set share.
    let hit: StoredMember | undefined;
    if (path.members.length === 1 && sameSet.has(defs)) hit = sameSet.get(defs);
    else {
      hit = resolveIn(defs, path.members, k.id, defsOf);
      if (path.members.length === 1) sameSet.set(defs, hit);
    }
    if (!hit) {
      entries.push({ kernel, status: 'missing_field' });
      continue;
    }
    everFound = true;
    // Key order as the contract shows it.
    entries.push({ kernel, status: 'present', offset: Math.floor(hit[1] / 8), bits_offset: hit[1], bitfield_size: hit[2], size: hit[3], type: hit[4] });
  }
  if (!everFound && kernels.some((k) => top.has(k.id))) {
    const members = new Set<string>();
    // Members whose type the user named instead of the member (`task_struct.pid_t` → pid, tgid) come first.
    const ofThatType = new Set<string>();
    const last = path.members[path.members.length - 1];
    for (const defs of top.values()) {
      for (const d of defs) {
        for (const m of (JSON.parse(d.body) as CompositeBody).members) {
          members.add(m[0]);
          if (m[0] !== '' && typeBaseName(m[4]) === last) ofThatType.add(m[0]);
        }
      }
    }
    const names = [...new Set([...[...ofThatType].sort(), ...closestNames(last, members)])].slice(0, 5);
    throw new CatalogError(
      'FIELD_NOT_FOUND',
      `${path.type} has no member ${path.members.join('.')} in any kernel`,
      names.map((n) => (path.members.length === 1 ? n : `${path.members.slice(0, -1).join('.')}.${n}`)),
    );
  }
  return { field: fieldPath.trim(), kernels: entries, changes: fieldChanges(kernels, entries), ...failedOf(catalog, f) };
}

/** Parsed bodies of definitions (one Definition object serves every kernel whose set holds it). */
const parsedBodies = new WeakMap<Definition, CompositeBody | TypedefBody>();

/** Finds a member path in one kernel's definitions (vmlinux first), following structs held by value. */
function resolveIn(
  defs: Definition[],
  members: string[],
  kernelId: number,
  defsOf: (name: string, kinds: readonly ShapeKind[]) => Map<number, Definition[]>,
  depth = 0,
): StoredMember | undefined {
  if (depth > 32) return undefined;
  const ordered = [...defs].sort((a, b) => (a.module === '' ? 0 : 1) - (b.module === '' ? 0 : 1));
  for (const d of ordered) {
    if (d.kind !== 'struct' && d.kind !== 'union' && d.kind !== 'typedef') continue;
    // Kernels of a series share a few definitions: parse each body once, not once per kernel.
    let body = parsedBodies.get(d);
    if (body === undefined) parsedBodies.set(d, (body = JSON.parse(d.body) as CompositeBody | TypedefBody));
    if (!('members' in body) || !body.members) continue;
    const hit = walkMembers(body.members, members, 0, kernelId, defsOf, depth);
    if (hit) return hit;
  }
  return undefined;
}

function walkMembers(
  list: StoredMember[],
  members: string[],
  base: number,
  kernelId: number,
  defsOf: (name: string, kinds: readonly ShapeKind[]) => Map<number, Definition[]>,
  depth: number,
): StoredMember | undefined {
  const m = list.find((x) => x[0] === members[0]);
  if (!m) return undefined;
  const here: StoredMember = [m[0], m[1] + base, m[2], m[3], m[4], m[5]];
  if (members.length === 1) return here;
  const rest = members.slice(1);
  if (m.length === 7) {
    // Children of an unnamed struct type already carry offsets absolute in the outer struct.
    return walkMembers(m[6], rest, base, kernelId, defsOf, depth + 1);
  }
  const agg = namedAggregate(m[4]);
  let defs: Definition[] | undefined;
  if (agg) defs = defsOf(agg.name, [agg.kind]).get(kernelId);
  else {
    const td = TYPEDEF_NAME.exec(m[4]);
    if (td) defs = defsOf(td[1], ['typedef', 'struct', 'union']).get(kernelId);
  }
  if (!defs) return undefined;
  const inner = resolveIn(defs, rest, kernelId, defsOf, depth + 1);
  return inner ? [inner[0], inner[1] + here[1], inner[2], inner[3], inner[4], inner[5]] : undefined;
}

/** Each index i >= 1 whose kernel follows kernel i - 1 in the same distro/release/arch series (kernel order). */
function neighbourIndexes(kernels: KernelRow[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < kernels.length; i++) {
    const a = kernels[i - 1];
    const b = kernels[i];
    if (a.distro === b.distro && a.release === b.release && a.arch === b.arch) out.push(i);
  }
  return out;
}

/** Changes between neighbours in kernel order within each distro/release/arch series. */
function fieldChanges(kernels: KernelRow[], entries: FieldEntry[]): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const i of neighbourIndexes(kernels)) {
    const x = entries[i - 1];
    const y = entries[i];
    const from = x.kernel;
    const to = y.kernel;
    if (x.status !== 'present' && y.status === 'present') changes.push({ from, to, what: 'added', before: { status: x.status }, after: { offset: y.offset, bits_offset: y.bits_offset, size: y.size, type: y.type } });
    else if (x.status === 'present' && y.status !== 'present') changes.push({ from, to, what: 'removed', before: { offset: x.offset, bits_offset: x.bits_offset, size: x.size, type: x.type }, after: { status: y.status } });
    else if (x.status === 'present' && y.status === 'present') {
      if (x.bits_offset !== y.bits_offset) changes.push({ from, to, what: 'offset', before: { offset: x.offset, bits_offset: x.bits_offset }, after: { offset: y.offset, bits_offset: y.bits_offset } });
      if (x.size !== y.size || x.bitfield_size !== y.bitfield_size) changes.push({ from, to, what: 'size', before: { size: x.size, bitfield_size: x.bitfield_size }, after: { size: y.size, bitfield_size: y.bitfield_size } });
      if (x.type !== y.type) changes.push({ from, to, what: 'type', before: { type: x.type }, after: { type: y.type } });
    }
  }
  return changes;
}

/** A recorded ingest failure (`failures --json`). */
export interface FailureJson {
  source: string;
  kernel: string | null;
  code: string;
  message: string;
  job_id: string | null;
  failed_at: string;
}

/** The most recent ingest failures, newest first. */
export function listFailures(catalog: Catalog, limit = 100): FailureJson[] {
  return catalog.sqlite
    .prepare('SELECT source, kref AS kernel, code, message, job_id, failed_at FROM ingest_failures ORDER BY id DESC LIMIT ?')
    .all(limit) as FailureJson[];
}

/** A type's state in one kernel (`type NAME --history --json`, `GET /v1/types/{name}/history`). */
export type TypeHistoryEntry =
  | { kernel: string; status: 'present'; kind: 'struct' | 'union'; size: number; definitions: number; members: MemberJson[] }
  | { kernel: string; status: 'present'; kind: 'enum'; size: number; definitions: number; values: { name: string; value: string }[] }
  | { kernel: string; status: 'missing' };

/**
 * One change between neighbouring kernels of a series. Without `member` it concerns the whole type (`added`,
 * `removed`, `kind`, `size`); with `member` (a member's name, or an enum value's) it concerns that member:
 * `added`, `removed`, `offset` (moved), `size`, `type`, or `value` (enum).
 */
export interface TypeChange {
  from: string;
  to: string;
  what: 'added' | 'removed' | 'kind' | 'size' | 'offset' | 'type' | 'value';
  member?: string;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
}

export interface TypeHistoryJson {
  type: string;
  kernels: TypeHistoryEntry[];
  changes: TypeChange[];
  /** As {@link FieldHistoryJson.failed_kernels}. */
  failed_kernels?: FailedKernelNote[];
}

/** The definition a history follows in one kernel: vmlinux's before modules', then struct, union, enum. */
function primaryDefinition(defs: Definition[]): Definition {
  const rank = (d: Definition): number => (d.module === '' ? 0 : 10) + ['struct', 'union', 'enum'].indexOf(d.kind);
  return [...defs].sort((a, b) => rank(a) - rank(b))[0];
}

/**
 * The history of a struct/union/enum across the catalog's kernels (`type NAME --history --json`): per kernel in
 * kernel order its kind, size and flattened members (enum: values) — the vmlinux definition when modules define
 * the name too, `definitions` counting them all — and the changes between neighbours of each distro/release/arch
 * series. TYPE_NOT_FOUND with close names when no kernel of the catalog defines the name.
 */
export function typeHistory(catalog: Catalog, typeName: string, f: KernelFilter = {}): TypeHistoryJson {
  const { name, kinds } = parseTypeName(typeName);
  const byKernel = definitionsByKernel(catalog, name, kinds);
  if (byKernel.size === 0) {
    throw new CatalogError('TYPE_NOT_FOUND', `no struct, union or enum named ${name} in the catalog`, closestNames(name, allNames(catalog, kinds)));
  }
  const kernels = kernelRows(catalog, f);
  const entries: TypeHistoryEntry[] = kernels.map((k): TypeHistoryEntry => {
    const kernel = formatKref(k);
    const defs = byKernel.get(k.id);
    if (!defs) return { kernel, status: 'missing' };
    const definitions = defs.reduce((n, d) => n + d.copies, 0);
    const d = primaryDefinition(defs);
    if (d.kind === 'enum') {
      const body = JSON.parse(d.body) as EnumBody;
      return { kernel, status: 'present', kind: 'enum', size: d.size, definitions, values: body.values.map(([n, v]) => ({ name: n, value: v })) };
    }
    const body = JSON.parse(d.body) as CompositeBody;
    return { kernel, status: 'present', kind: d.kind as 'struct' | 'union', size: d.size, definitions, members: body.members.map(memberJson) };
  });
  return { type: typeName.trim(), kernels: entries, changes: typeChanges(kernels, entries), ...failedOf(catalog, f) };
}

/** Members keyed by name, a repeated name (unnamed padding) by its occurrence: `name`, `name#2`, … */
function keyed<T extends { name: string }>(list: T[]): Map<string, T> {
  const out = new Map<string, T>();
  const seen = new Map<string, number>();
  for (const m of list) {
    const n = (seen.get(m.name) ?? 0) + 1;
    seen.set(m.name, n);
    out.set(n === 1 ? m.name : `${m.name}#${n}`, m);
  }
  return out;
}

function memberPlace(m: MemberJson): Record<string, unknown> {
  return { offset: m.offset, bits_offset: m.bits_offset, bitfield_size: m.bitfield_size, size: m.size, type: m.type };
}

/** Changes between neighbours in kernel order within each distro/release/arch series (see {@link TypeChange}). */
function typeChanges(kernels: KernelRow[], entries: TypeHistoryEntry[]): TypeChange[] {
  const changes: TypeChange[] = [];
  for (const i of neighbourIndexes(kernels)) {
    const x = entries[i - 1];
    const y = entries[i];
    const from = x.kernel;
    const to = y.kernel;
    if (x.status === 'missing' && y.status === 'missing') continue;
    if (x.status === 'missing' && y.status === 'present') {
      changes.push({ from, to, what: 'added', before: { status: 'missing' }, after: { kind: y.kind, size: y.size } });
      continue;
    }
    if (x.status === 'present' && y.status === 'missing') {
      changes.push({ from, to, what: 'removed', before: { kind: x.kind, size: x.size }, after: { status: 'missing' } });
      continue;
    }
    if (x.status !== 'present' || y.status !== 'present') continue;
    if (x.kind !== y.kind) {
      changes.push({ from, to, what: 'kind', before: { kind: x.kind }, after: { kind: y.kind } });
      continue;
    }
    if (x.size !== y.size) changes.push({ from, to, what: 'size', before: { size: x.size }, after: { size: y.size } });
    if (x.kind === 'enum' && y.kind === 'enum') {
      const before = keyed(x.values);
      const after = keyed(y.values);
      for (const [key, v] of before) {
        const w = after.get(key);
        if (!w) changes.push({ from, to, what: 'removed', member: key, before: { value: v.value }, after: {} });
        else if (w.value !== v.value) changes.push({ from, to, what: 'value', member: key, before: { value: v.value }, after: { value: w.value } });
      }
      for (const [key, w] of after) if (!before.has(key)) changes.push({ from, to, what: 'added', member: key, before: {}, after: { value: w.value } });
      continue;
    }
    if (x.kind === 'enum' || y.kind === 'enum') continue;
    const before = keyed(x.members);
    const after = keyed(y.members);
    for (const [key, m] of before) {
      const n = after.get(key);
      if (!n) {
        changes.push({ from, to, what: 'removed', member: key, before: memberPlace(m), after: {} });
        continue;
      }
      if (m.bits_offset !== n.bits_offset) {
        changes.push({ from, to, what: 'offset', member: key, before: { offset: m.offset, bits_offset: m.bits_offset }, after: { offset: n.offset, bits_offset: n.bits_offset } });
      }
      if (m.size !== n.size || m.bitfield_size !== n.bitfield_size) {
        changes.push({ from, to, what: 'size', member: key, before: { size: m.size, bitfield_size: m.bitfield_size }, after: { size: n.size, bitfield_size: n.bitfield_size } });
      }
      if (m.type !== n.type) changes.push({ from, to, what: 'type', member: key, before: { type: m.type }, after: { type: n.type } });
    }
    for (const [key, n] of after) if (!before.has(key)) changes.push({ from, to, what: 'added', member: key, before: {}, after: memberPlace(n) });
  }
  return changes;
}
