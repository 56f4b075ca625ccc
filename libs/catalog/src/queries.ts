import { catalogVersion, type Catalog } from './db.js';
import { CatalogError } from './errors.js';
import { checkKernelFilter, compareUnameR, filterKernels, formatKref, parseKref, type KernelFilter, type KernelRef } from './kernel-ref.js';
import { bucketOf, byValueName, pointeeName, spelled, type StoredType, type CompositeBody, type EnumBody, type ShapeKind, type StoredMember, type TypedefBody } from './normalize.js';
import { readSets } from './sets.js';
import { closestNames } from './suggest.js';
import { failedKernels, kernelNotFound, type FailedKernel } from './failed.js';
import {
  buildTimeline, probableRename, seriesOf, spanRange, timelineSummary, unameOfKref,
  type RenameSide, type TimelineKernel, type TimelineLine,
} from './timeline.js';

/** A kernel as the contract lists it (`GET /v1/kernels`, `kernels --json`). */
export interface KernelInfo {
  kernel: string;
  distro: string;
  release: string;
  arch: string;
  uname_r: string;
  btf_sha256: string;
  types: number;
  /**
   * The kernel's pointer size in bytes (4 or 8) and byte order, from its own BTF. Always present in
   * {@link listKernels}' answers, null for a kernel of an older catalog not yet filled (its first ingest fills it).
   */
  pointer_size?: 4 | 8 | null;
  byte_order?: 'little' | 'big' | null;
}

/** A kernel row as the read answers use it (kernel order: {@link kernelRows}). */
export interface KernelRow {
  id: number;
  distro: string;
  release: string;
  arch: string;
  unameR: string;
  btfSha256: string;
  typeCount: number;
  flavour: string;
  pointerSize: 4 | 8 | null;
  byteOrder: 'little' | 'big' | null;
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
    .prepare(`SELECT id, distro, release, arch, uname_r AS unameR, btf_sha256 AS btfSha256, type_count AS typeCount, flavour,
              pointer_size AS pointerSize, byte_order AS byteOrder
              FROM kernels ORDER BY distro, release, arch, version_key, uname_r`)
    .all() as KernelRow[];
  kernelCache.set(catalog, { version, rows });
  return rows;
}

/**
 * The catalog's kernels a filter selects. A distro, release or arch that no kernel has (ingested or failed) is
 * NO_MATCHING_KERNELS naming the values that exist (`--arch x86-64`: `arches: arm64, x86_64`), not an empty
 * answer; an empty catalog selects nothing without error.
 */
export function kernelRows(catalog: Catalog, f: KernelFilter = {}): KernelRow[] {
  const all = allKernelRows(catalog);
  if (f.distro !== undefined || f.release !== undefined || f.arch !== undefined) {
    const known: { distro: string; release: string; arch: string }[] = [...all, ...failedKernels(catalog)];
    checkKernelFilter(known, f);
  }
  return filterKernels(all, f);
}

function info(r: KernelRow): KernelInfo {
  return {
    kernel: formatKref(r), distro: r.distro, release: r.release, arch: r.arch, uname_r: r.unameR, btf_sha256: r.btfSha256, types: r.typeCount,
    pointer_size: r.pointerSize, byte_order: r.byteOrder,
  };
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
      pointer_size: null;
      byte_order: null;
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
      pointer_size: null, byte_order: null,
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
export interface Definition {
  kind: ShapeKind;
  /** The shape's name ('' for an anonymous enum). */
  name: string;
  size: number;
  body: string;
  module: string;
  copies: number;
  shapeId: number;
  /** The shape's content hash (kind, name, size, body), first 8 bytes in hex: equal layouts, equal digests. */
  digest: string;
}

/** A shape row as the read answers load it. */
export interface ShapeRow {
  id: number;
  kind: ShapeKind;
  name: string;
  size: number;
  body: string;
  hash: Buffer;
}

/** The shapes of a name among some kinds (index on name); none for the name '' (anonymous enums have no name to ask by). */
export function shapesNamed(catalog: Catalog, name: string, kinds: readonly ShapeKind[]): ShapeRow[] {
  if (name === '' || kinds.length === 0) return [];
  return catalog.sqlite
    .prepare(`SELECT id, kind, name, size, body, hash FROM shapes WHERE name = ? AND kind IN (${kinds.map(() => '?').join(',')})`)
    .all(name, ...kinds) as ShapeRow[];
}

/** Bound of the bucket cache, in kernel rows (8 bytes each): every bucket of a 2,000-kernel catalog. */
const MAX_CACHED_ROWS = 2 * 1024 * 1024;

/** A bucket's rows as two parallel arrays (row i: kernel `kernelIds[i]` has set `setIds[i]`). */
interface BucketRows {
  kernelIds: Int32Array;
  setIds: Int32Array;
}

/**
 * The kernel id → set id rows of name buckets, cached per catalog handle until the database changes
 * ({@link catalogVersion}): a history reads its bucket's row of every kernel, and a dry run's grouping hundreds of
 * buckets' (most of their time on a big catalog).
 */
const bucketRows = new WeakMap<Catalog, { version: string; rows: number; buckets: Map<number, BucketRows> }>();

/** The kernel id → set id rows of a name bucket (covering index on bucket), cached while the catalog stands still. */
function kernelSetsOfBucket(catalog: Catalog, bucket: number): BucketRows {
  const version = catalogVersion(catalog);
  let cache = bucketRows.get(catalog);
  if (!cache || cache.version !== version) bucketRows.set(catalog, (cache = { version, rows: 0, buckets: new Map() }));
  let rows = cache.buckets.get(bucket);
  if (!rows) {
    const raw = catalog.sqlite
      .prepare('SELECT kernel_id, set_id FROM kernel_sets WHERE bucket = ?')
      .raw(true)
      .all(bucket) as [number, number][];
    rows = { kernelIds: new Int32Array(raw.length), setIds: new Int32Array(raw.length) };
    for (let i = 0; i < raw.length; i++) {
      rows.kernelIds[i] = raw[i][0];
      rows.setIds[i] = raw[i][1];
    }
    // Bounded: typed arrays, so every bucket of a large catalog fits; a server of a huge one starts over.
    if (cache.rows + raw.length > MAX_CACHED_ROWS) {
      cache.buckets.clear();
      cache.rows = 0;
    }
    cache.buckets.set(bucket, rows);
    cache.rows += raw.length;
  }
  return rows;
}

/**
 * Where some shapes are defined in every kernel: per name bucket of theirs, the kernels' sets of that bucket
 * (index on bucket) and the distinct sets among those (decoded once and kept). Kernels sharing a set share one
 * Definition[] object; a kernel's definitions are sorted by module (vmlinux first), then shape id. Shapes of
 * several buckets (an enumerator's enums) are gathered per kernel in one list.
 */
export function definitionsOfShapes(catalog: Catalog, shapes: readonly ShapeRow[]): Map<number, Definition[]> {
  const out = new Map<number, Definition[]>();
  if (shapes.length === 0) return out;
  const byBucket = new Map<number, Map<number, ShapeRow>>();
  for (const r of shapes) {
    const b = bucketOf(r.name);
    let m = byBucket.get(b);
    if (!m) byBucket.set(b, (m = new Map()));
    m.set(r.id, r);
  }
  const order = (a: Definition, b: Definition): number => (a.module < b.module ? -1 : a.module > b.module ? 1 : a.shapeId - b.shapeId);
  // Per kernel, its list of each bucket (in bucket order); merged below once per distinct sequence of lists.
  const parts = new Map<number, Definition[][]>();
  for (const [bucket, byId] of byBucket) {
    const kernelSets = kernelSetsOfBucket(catalog, bucket);
    const sets = readSets(catalog, new Set(kernelSets.setIds));
    const bySet = new Map<number, Definition[]>();
    for (const [setId, entries] of sets) {
      const defs: Definition[] = [];
      for (const e of entries) {
        const shape = byId.get(e.shapeId);
        if (shape) {
          defs.push({ kind: shape.kind, name: shape.name, size: shape.size, body: shape.body, module: e.module, copies: e.copies, shapeId: e.shapeId, digest: shape.hash.subarray(0, 8).toString('hex') });
        }
      }
      if (defs.length > 0) bySet.set(setId, defs.sort(order));
    }
    for (let i = 0; i < kernelSets.kernelIds.length; i++) {
      const defs = bySet.get(kernelSets.setIds[i]);
      if (!defs) continue;
      const kernelId = kernelSets.kernelIds[i];
      const p = parts.get(kernelId);
      if (p) p.push(defs);
      else parts.set(kernelId, [defs]);
    }
  }
  // Kernels with the same lists in every bucket share one merged list (a trie of the lists, by identity), sorted once.
  const root: MergeNode = { next: new Map() };
  for (const [kernelId, lists] of parts) {
    if (lists.length === 1) {
      out.set(kernelId, lists[0]);
      continue;
    }
    let node = root;
    for (const l of lists) {
      let n = node.next.get(l);
      if (!n) node.next.set(l, (n = { next: new Map() }));
      node = n;
    }
    node.merged ??= lists.flat().sort(order);
    out.set(kernelId, node.merged);
  }
  return out;
}

/** A node of {@link definitionsOfShapes}' trie: the lists seen so far lead here; `merged` once a kernel ends here. */
interface MergeNode {
  next: Map<Definition[], MergeNode>;
  merged?: Definition[];
}

/**
 * Where a name is defined in every kernel, with a few indexed lookups: the shapes of that name (index on name),
 * then {@link definitionsOfShapes}. Kernels sharing a set share one Definition[] object. Nothing for the name ''.
 */
export function definitionsByKernel(catalog: Catalog, name: string, kinds: readonly ShapeKind[]): Map<number, Definition[]> {
  return definitionsOfShapes(catalog, shapesNamed(catalog, name, kinds));
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

/** A stored member as the contract's JSON shows it. */
export function memberJson(m: StoredMember): MemberJson {
  return { name: m[0], bits_offset: m[1], offset: Math.floor(m[1] / 8), bitfield_size: m[2], size: m[3], type: spelled(m[4]) };
}

/** A struct/union/enum definition as `type --json` shows it. */
export type TypeJson =
  | { kind: 'struct' | 'union'; name: string; size: number; module?: string; members: MemberJson[] }
  | { kind: 'enum'; name: string; size: number; module?: string; signed: boolean; values: { name: string; value: string }[] };

export interface TypeLayoutJson {
  kernel: string;
  types: TypeJson[];
}

/**
 * Splits `struct foo`, `union foo`, `enum foo` or plain `foo` into the kinds to look for and the name; a plain name
 * is looked for among `plain` (struct, union and enum unless the caller prints more, as pahole's text does typedefs).
 */
export function parseTypeName<K extends ShapeKind>(
  input: string,
  plain: readonly K[] = ['struct', 'union', 'enum'] as K[],
): { name: string; kinds: readonly K[] } {
  const m = /^(struct|union|enum)\s+(\S+)$/.exec(input.trim());
  if (m) return { name: m[2], kinds: [m[1] as K] };
  return { name: input.trim(), kinds: plain };
}

/** Every name of shapes of these kinds, for suggestions ('' of anonymous enums left out). */
export function allNames(catalog: Catalog, kinds: readonly ShapeKind[]): string[] {
  return (catalog.sqlite
    .prepare(`SELECT DISTINCT name FROM shapes WHERE kind IN (${kinds.map(() => '?').join(',')}) AND name <> ''`)
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

/** A field's state in one kernel (`field --json`); `module` when the struct used is a module's. */
export type FieldEntry =
  | ({ kernel: string; series: string; status: 'present' } & Omit<MemberJson, 'name'> & { module?: string })
  | { kernel: string; series: string; status: 'missing_field' | 'missing_struct' };

/**
 * A change between neighbours of one series. A `removed` whose container gained, in the same kernel, a member of
 * compatible type at the same offset (see {@link renameScore}) names it in `probable_rename`.
 */
export interface FieldChange {
  from: string;
  to: string;
  series: string;
  what: 'offset' | 'size' | 'type' | 'added' | 'removed';
  before: Record<string, unknown>;
  after: Record<string, unknown>;
  probable_rename?: string;
}

/** A field's value in a timeline span. */
export type FieldValue =
  | { status: 'present'; offset: number; bits_offset: number; bitfield_size: number; size: number; type: string }
  | { status: 'missing_field' | 'missing_struct' };

/**
 * Kernels of the selection left out of a module type's answer because that module's BTF was not ingested with
 * them (no `modules` row): for them the type is unknown, neither missing nor present.
 */
export interface NotIngestedNote {
  modules: string[];
  kernels: string[];
}

export interface FieldHistoryJson {
  field: string;
  kernels: FieldEntry[];
  changes: FieldChange[];
  timeline: TimelineLine<FieldValue>[];
  summary: string;
  /** Kernels of the selection that failed to ingest, so are in no answer: present only when there are some. */
  failed_kernels?: FailedKernelNote[];
  /** Present only for a module's struct when some kernels of the selection lack that module's BTF. */
  not_ingested?: NotIngestedNote;
}

/** A kernel missing from an answer because its ingest failed, and why. */
export interface FailedKernelNote {
  kernel: string;
  code: string;
  message: string;
  failed_at: string;
}

/** `{ failed_kernels }` for the kernels of a selection that failed to ingest; `{}` when none did. */
export function failedOf(catalog: Catalog, f: KernelFilter): { failed_kernels?: FailedKernelNote[] } {
  const failed: FailedKernel[] = failedKernels(catalog, f);
  if (failed.length === 0) return {};
  return { failed_kernels: failed.map(({ kernel, code, message, failed_at }) => ({ kernel, code, message, failed_at })) };
}

/**
 * Module scoping of a name's answer: when no kernel of the catalog defines the name in vmlinux (every definition
 * is a module's), a kernel without a definition is only "missing" if it has the BTF of at least one of those
 * modules; the others are left out and listed. `undefined` when nothing is left out.
 */
export function moduleScope(
  catalog: Catalog,
  byKernel: Map<number, Definition[]>,
  kernels: KernelRow[],
): { note: NotIngestedNote; kept: KernelRow[]; modules: string[] } | { note: undefined; kept: KernelRow[]; modules: string[] } {
  const modules = new Set<string>();
  for (const defs of new Set(byKernel.values())) {
    for (const d of defs) {
      if (d.module === '') return { note: undefined, kept: kernels, modules: [] };
      modules.add(d.module);
    }
  }
  const names = [...modules].sort();
  if (names.length === 0 || kernels.every((k) => byKernel.has(k.id))) return { note: undefined, kept: kernels, modules: names };
  const withModule = new Set(catalog.sqlite
    .prepare('SELECT DISTINCT kernel_id FROM modules WHERE name IN (SELECT value FROM json_each(?))')
    .pluck()
    .all(JSON.stringify(names)) as number[]);
  const kept: KernelRow[] = [];
  const left: string[] = [];
  for (const k of kernels) {
    if (byKernel.has(k.id) || withModule.has(k.id)) kept.push(k);
    else left.push(formatKref(k));
  }
  return { note: left.length > 0 ? { modules: names, kernels: left } : undefined, kept, modules: names };
}

/** Splits `STRUCT.MEMBER[.MEMBER…]` (optionally `struct `/`union ` first); BAD_FIELD_PATH when malformed. */
export function parseFieldPath(path: string): { type: string; kinds: ShapeKind[]; members: string[] } {
  const m = /^(?:(struct|union)\s+)?([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)$/.exec(path.trim());
  if (!m) throw new CatalogError('BAD_FIELD_PATH', `field path ${JSON.stringify(path)} is not STRUCT.MEMBER[.MEMBER...]`);
  return { type: m[2], kinds: m[1] ? [m[1] as ShapeKind] : ['struct', 'union'], members: m[3].slice(1).split('.') };
}

/** A field path completing a search text, and how many kernels have it. */
export interface FieldCompletion {
  path: string;
  kernels: number;
  match: 'exact' | 'prefix';
}

/** `STRUCT.[MEMBER.]…PARTIAL`: a field path whose last segment may be cut short (or empty). */
const PARTIAL_FIELD_PATH = /^(?:(struct|union)\s+)?([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)\.([A-Za-z0-9_]*)$/;

/**
 * The field paths that complete TEXT, at most `limit`: `task_struct.se.vr` → `task_struct.se.vruntime`, the
 * members whose name starts with the last segment (any case; the segment itself first) of what the segments
 * before it lead to, in any kernel; each with how many kernels have that path. None when TEXT is not such a path or
 * names no struct or union of the catalog. The search's completion of fields.
 */
export function fieldPathCompletions(catalog: Catalog, text: string, limit: number): FieldCompletion[] {
  const m = PARTIAL_FIELD_PATH.exec(text.trim());
  if (!m) return [];
  const kinds: ShapeKind[] = m[1] ? [m[1] as ShapeKind] : ['struct', 'union'];
  const prefix = m[3] ? m[3].slice(1).split('.') : [];
  const partial = m[4].toLowerCase();
  const defsOf = cachedDefsOf(catalog);
  const top = defsOf(m[2], kinds);
  // Kernels per member name, from each kernel's container (kernels of one definitions list share it when the path is one segment).
  const kernelsOf = new Map<string, number>();
  const byList = new Map<Definition[], string[] | undefined>();
  for (const [kernelId, defs] of top) {
    let names = prefix.length === 0 ? byList.get(defs) : undefined;
    if (names === undefined) {
      names = containerMembers(defs, prefix, kernelId, defsOf)
        ?.map((x) => x[0])
        .filter((n) => n !== '' && n.toLowerCase().startsWith(partial));
      if (prefix.length === 0) byList.set(defs, names ?? []);
    }
    for (const n of new Set(names ?? [])) kernelsOf.set(n, (kernelsOf.get(n) ?? 0) + 1);
  }
  const lead = `${m[1] ? `${m[1]} ` : ''}${m[2]}${m[3]}.`;
  return [...kernelsOf]
    .map(([name, kernels]): FieldCompletion => ({ path: `${lead}${name}`, kernels, match: name.toLowerCase() === partial ? 'exact' : 'prefix' }))
    .sort((a, b) => (a.match === b.match ? (a.path < b.path ? -1 : a.path > b.path ? 1 : 0) : a.match === 'exact' ? -1 : 1))
    .slice(0, limit);
}

/** A kernel completing a search text. */
export interface KernelCompletion {
  kernel: string;
  match: 'exact' | 'prefix' | 'fuzzy';
}

/**
 * The kernels whose KREF or uname -r is TEXT (`exact`), starts with it (`prefix`) or holds it (`fuzzy`), any case,
 * at most `limit`, in that order and kernel order within each. The search's completion of kernels.
 */
export function kernelCompletions(catalog: Catalog, text: string, limit: number): KernelCompletion[] {
  const t = text.trim().toLowerCase();
  if (t === '' || limit < 1) return [];
  const out: KernelCompletion[][] = [[], [], []];
  for (const k of kernelRows(catalog)) {
    const kref = formatKref(k);
    const a = kref.toLowerCase();
    const u = k.unameR.toLowerCase();
    if (a === t || u === t) out[0].push({ kernel: kref, match: 'exact' });
    else if (a.startsWith(t) || u.startsWith(t)) out[1].push({ kernel: kref, match: 'prefix' });
    else if (a.includes(t)) out[2].push({ kernel: kref, match: 'fuzzy' });
  }
  return out.flat().slice(0, limit);
}

type DefsOf = (name: string, kinds: readonly ShapeKind[]) => Map<number, Definition[]>;

/** {@link definitionsByKernel} for one answer: each name and kinds read once. */
function cachedDefsOf(catalog: Catalog): DefsOf {
  const cache = new Map<string, Map<number, Definition[]>>();
  return (name, kinds) => {
    const key = `${kinds.join(',')}:${name}`;
    let found = cache.get(key);
    if (!found) cache.set(key, (found = definitionsByKernel(catalog, name, kinds)));
    return found;
  };
}

/** The field's value in a timeline span, from its entry. */
function fieldValue(e: FieldEntry): FieldValue {
  return e.status === 'present'
    ? { status: 'present', offset: e.offset, bits_offset: e.bits_offset, bitfield_size: e.bitfield_size, size: e.size, type: e.type }
    : { status: e.status };
}

function renameSide(m: StoredMember): RenameSide {
  return { name: m[0], bits_offset: m[1], bitfield_size: m[2], size: m[3], type: spelled(m[4]) };
}

/**
 * The history of a field across the catalog's kernels (`field --json`): per kernel in kernel order, whether the
 * struct and field exist and where; the changes between neighbours of each distro/release/arch/flavour series;
 * the timeline per arch and flavour across releases, and its summary.
 */
export function fieldHistory(catalog: Catalog, fieldPath: string, f: KernelFilter = {}): FieldHistoryJson {
  const path = parseFieldPath(fieldPath);
  const selected = kernelRows(catalog, f);
  const defsOf = cachedDefsOf(catalog);
  const top = defsOf(path.type, path.kinds);
  if (top.size === 0) {
    throw new CatalogError('TYPE_NOT_FOUND', `no struct or union named ${path.type} in the catalog`, closestNames(path.type, allNames(catalog, path.kinds)));
  }
  const scope = moduleScope(catalog, top, selected);
  const kernels = scope.kept;
  const entries: FieldEntry[] = [];
  const sameSet = new Map<Definition[], { hit: StoredMember; module: string } | undefined>();
  let everFound = false;
  for (const k of kernels) {
    const kernel = formatKref(k);
    const series = seriesOf(k);
    const defs = top.get(k.id);
    if (!defs) {
      entries.push({ kernel, series, status: 'missing_struct' });
      continue;
    }
    // A one-member path depends only on the definitions, which kernels sharing a shape set share.
    let found: { hit: StoredMember; module: string } | undefined;
    if (path.members.length === 1 && sameSet.has(defs)) found = sameSet.get(defs);
    else {
      found = resolveTop(defs, path.members, k.id, defsOf);
      if (path.members.length === 1) sameSet.set(defs, found);
    }
    if (!found) {
      entries.push({ kernel, series, status: 'missing_field' });
      continue;
    }
    everFound = true;
    const { hit, module } = found;
    // Key order as the contract shows it.
    const entry: FieldEntry = { kernel, series, status: 'present', offset: Math.floor(hit[1] / 8), bits_offset: hit[1], bitfield_size: hit[2], size: hit[3], type: spelled(hit[4]) };
    if (module !== '') entry.module = module;
    entries.push(entry);
  }
  if (!everFound && kernels.some((k) => top.has(k.id))) {
    throw new CatalogError(
      'FIELD_NOT_FOUND',
      `${path.type} has no member ${path.members.join('.')} in any kernel`,
      fieldSuggestions(path, new Map(kernels.filter((k) => top.has(k.id)).map((k) => [k.id, top.get(k.id) as Definition[]])), defsOf),
    );
  }

  // The member that most probably took over the field's place where it vanished between kernels a and b.
  const byKref = new Map(kernels.map((k) => [formatKref(k), k]));
  const renames = new Map<string, string | undefined>();
  const renameAt = (a: KernelRow, b: KernelRow, old: FieldEntry): string | undefined => {
    if (old.status !== 'present') return undefined;
    const key = `${a.id}:${b.id}`;
    if (renames.has(key)) return renames.get(key);
    let name: string | undefined;
    const defsB = top.get(b.id);
    const prefix = path.members.slice(0, -1);
    const after = defsB ? containerMembers(defsB, prefix, b.id, defsOf) : undefined;
    if (after) {
      const defsA = top.get(a.id);
      const before = new Set((defsA ? containerMembers(defsA, prefix, a.id, defsOf) : undefined)?.map((m) => m[0]) ?? []);
      const gained = after.filter((m) => !before.has(m[0])).map(renameSide);
      name = probableRename({ name: path.members[path.members.length - 1], bits_offset: old.bits_offset, bitfield_size: old.bitfield_size, size: old.size, type: old.type }, gained);
    }
    renames.set(key, name);
    return name;
  };

  const changes = fieldChanges(kernels, entries, renameAt);
  const timeline = buildTimeline(kernels.map((k, i) => ({ row: k, kernel: entries[i].kernel, value: fieldValue(entries[i]) })));
  const entryAt = new Map(entries.map((e) => [e.kernel, e]));
  const subject = fieldPath.trim() + (scope.modules.length > 0 ? ` (module ${scope.modules.join(', ')})` : '');
  const summary = timelineSummary(
    subject,
    timeline,
    (span, prev, line) => {
      const v = span.value;
      if (v.status === 'present') return `${fieldWords(v, line)} ${spanRange(span)}`;
      if (prev && prev.value.status === 'present') {
        const a = byKref.get(prev.last);
        const b = byKref.get(span.first);
        const old = entryAt.get(prev.last);
        const rename = a && b && old ? renameAt(a, b, old) : undefined;
        return `removed in ${unameOfKref(span.first)}${v.status === 'missing_struct' ? ' (no such struct)' : ''}${rename ? `: probably renamed to ${rename}` : ''}`;
      }
      return `${fieldWords(v, line)} ${spanRange(span)}`;
    },
    fieldWords,
  );
  return {
    field: fieldPath.trim(), kernels: entries, changes, timeline, summary,
    ...failedOf(catalog, f),
    ...(scope.note ? { not_ingested: scope.note } : {}),
  };
}

/**
 * A field value in words: its byte offset (`208`), a bitfield's bit too (`2344 (bit 18754, 1 bit)`), and its
 * type when the line's present spans do not all share one size and type (`16 as long int`).
 */
function fieldWords(v: FieldValue, line: TimelineLine<FieldValue>): string {
  if (v.status !== 'present') return v.status === 'missing_field' ? 'no such field' : 'no such struct';
  let text = v.bitfield_size ? `${v.offset} (bit ${v.bits_offset}, ${v.bitfield_size} bit${v.bitfield_size === 1 ? '' : 's'})` : String(v.offset);
  const kinds = new Set(line.spans.map((s) => (s.value.status === 'present' ? `${s.value.size}:${s.value.type}` : '')).filter((x) => x !== ''));
  if (kinds.size > 1) text += ` as ${v.type}`;
  return text;
}

/**
 * FIELD_NOT_FOUND's suggestions: the path corrected at the first segment no kernel resolves (`task_struct.se.vruntim`
 * → `task_struct.se.vruntime`), from the members of what the segments before it lead to; members whose type the
 * user named instead of the member (`task_struct.pid_t` → pid, tgid) first. A one-member path is suggested as the
 * member's name (`di`), a longer one as the whole corrected path; only when no correction makes the following
 * segments resolve, the corrections up to the corrected segment.
 */
function fieldSuggestions(path: { type: string; members: string[] }, top: Map<number, Definition[]>, defsOf: DefsOf): string[] {
  const segs = path.members;
  // One kernel per distinct definition list: nested structs are read in that kernel.
  const distinct = new Map<Definition[], number>();
  for (const [kernelId, defs] of top) if (!distinct.has(defs)) distinct.set(defs, kernelId);
  let depth = -1;
  let lists: StoredMember[][] = [];
  for (const [defs, kernelId] of distinct) {
    for (let i = segs.length - 1; i >= Math.max(0, depth); i--) {
      const list = containerMembers(defs, segs.slice(0, i), kernelId, defsOf);
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
    if (rest.length === 0 || [...distinct].some(([defs, kernelId]) => resolveTop(defs, candidate, kernelId, defsOf))) whole.push(`${path.type}.${candidate.join('.')}`);
    else partial.push(`${path.type}.${[...before, n].join('.')}`);
  }
  return [...new Set(whole.length > 0 ? whole : partial)].slice(0, 5);
}

/** Parsed bodies of definitions (one Definition object serves every kernel whose set holds it). */
const parsedBodies = new WeakMap<Definition, CompositeBody | TypedefBody | EnumBody>();

/** A definition's parsed body, parsed once per Definition object. */
function bodyOf(d: Definition): CompositeBody | TypedefBody | EnumBody {
  let body = parsedBodies.get(d);
  if (body === undefined) parsedBodies.set(d, (body = JSON.parse(d.body) as CompositeBody | TypedefBody | EnumBody));
  return body;
}

/** A definition's members (struct, union, typedef of an unnamed struct/union), else undefined. */
function membersOf(d: Definition): StoredMember[] | undefined {
  if (d.kind !== 'struct' && d.kind !== 'union' && d.kind !== 'typedef') return undefined;
  const body = bodyOf(d);
  return 'members' in body && body.members ? body.members : undefined;
}

/** Definitions in the order paths are resolved in: vmlinux's first, then modules'. */
function vmlinuxFirst(defs: Definition[]): Definition[] {
  return defs.length < 2 ? defs : [...defs].sort((a, b) => (a.module === '' ? 0 : 1) - (b.module === '' ? 0 : 1));
}

/** Finds a member path in one kernel's definitions of the top struct, and the module of the one it is in. */
function resolveTop(defs: Definition[], members: string[], kernelId: number, defsOf: DefsOf): { hit: StoredMember; module: string } | undefined {
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
function containerMembers(defs: Definition[], prefix: string[], kernelId: number, defsOf: DefsOf): StoredMember[] | undefined {
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

/** Pairs [i, j] of kernels where j follows i in the same distro/release/arch/flavour series (kernel order). */
export function seriesNeighbours(kernels: readonly TimelineKernel[]): [number, number][] {
  const out: [number, number][] = [];
  const last = new Map<string, number>();
  kernels.forEach((k, j) => {
    const series = seriesOf(k);
    const i = last.get(series);
    if (i !== undefined) out.push([i, j]);
    last.set(series, j);
  });
  return out;
}

/** Changes between neighbours in kernel order within each distro/release/arch/flavour series. */
function fieldChanges(
  kernels: KernelRow[],
  entries: FieldEntry[],
  renameAt: (a: KernelRow, b: KernelRow, old: FieldEntry) => string | undefined,
): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const [i, j] of seriesNeighbours(kernels)) {
    const x = entries[i];
    const y = entries[j];
    const from = x.kernel;
    const to = y.kernel;
    const series = y.series;
    if (x.status !== 'present' && y.status === 'present') changes.push({ from, to, series, what: 'added', before: { status: x.status }, after: { offset: y.offset, bits_offset: y.bits_offset, size: y.size, type: y.type } });
    else if (x.status === 'present' && y.status !== 'present') {
      const c: FieldChange = { from, to, series, what: 'removed', before: { offset: x.offset, bits_offset: x.bits_offset, size: x.size, type: x.type }, after: { status: y.status } };
      const rename = renameAt(kernels[i], kernels[j], x);
      if (rename !== undefined) c.probable_rename = rename;
      changes.push(c);
    } else if (x.status === 'present' && y.status === 'present') {
      if (x.bits_offset !== y.bits_offset) changes.push({ from, to, series, what: 'offset', before: { offset: x.offset, bits_offset: x.bits_offset }, after: { offset: y.offset, bits_offset: y.bits_offset } });
      if (x.size !== y.size || x.bitfield_size !== y.bitfield_size) changes.push({ from, to, series, what: 'size', before: { size: x.size, bitfield_size: x.bitfield_size }, after: { size: y.size, bitfield_size: y.bitfield_size } });
      if (x.type !== y.type) changes.push({ from, to, series, what: 'type', before: { type: x.type }, after: { type: y.type } });
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

/**
 * A type's state in one kernel (`type NAME --history --json`, `GET /v1/types/{name}/history`); `module` when the
 * definition shown is a module's.
 */
export type TypeHistoryEntry =
  | { kernel: string; series: string; status: 'present'; kind: 'struct' | 'union'; size: number; definitions: number; members: MemberJson[]; module?: string }
  | { kernel: string; series: string; status: 'present'; kind: 'enum'; size: number; definitions: number; values: { name: string; value: string }[]; module?: string }
  | { kernel: string; series: string; status: 'missing' };

/** A history entry with `members: false`: the counts instead of the lists. */
export type TypeHistoryCountEntry =
  | { kernel: string; series: string; status: 'present'; kind: 'struct' | 'union'; size: number; definitions: number; member_count: number; module?: string }
  | { kernel: string; series: string; status: 'present'; kind: 'enum'; size: number; definitions: number; value_count: number; module?: string }
  | { kernel: string; series: string; status: 'missing' };

/** How much of each kernel's layout a type history lists. */
export interface TypeHistoryOptions {
  /**
   * false: each kernel's `member_count` (or an enum's `value_count`) instead of its `members` (`values`); the
   * timeline, changes and summary are the same. A 1,000-kernel history of task_struct is 27 MB with the lists.
   */
  members?: boolean;
}

/**
 * One change between neighbouring kernels of a series. Without `member` it concerns the whole type (`added`,
 * `removed`, `kind`, `size`); with `member` (a member's name, or an enum value's) it concerns that member:
 * `added`, `removed`, `offset` (moved), `size`, `type`, or `value` (enum). A removed member and an added one that
 * look like a rename (same offset, compatible type: {@link renameScore}) each name the other in `probable_rename`.
 */
export interface TypeChange {
  from: string;
  to: string;
  series: string;
  what: 'added' | 'removed' | 'kind' | 'size' | 'offset' | 'type' | 'value';
  member?: string;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
  probable_rename?: string;
}

/**
 * A type's value in a timeline span: kind, size, how many (flattened) members or values, and `digest`, the first
 * 8 bytes (hex) of the content hash of the definition (kind, name, size, every member's name, offset, bitfield
 * size, size and type; an enum's values): equal digests, equal layouts.
 */
export type TypeValue =
  | { status: 'present'; kind: 'struct' | 'union'; size: number; members: number; digest: string }
  | { status: 'present'; kind: 'enum'; size: number; values: number; digest: string }
  | { status: 'missing' };

export interface TypeHistoryJson {
  type: string;
  kernels: TypeHistoryEntry[];
  changes: TypeChange[];
  timeline: TimelineLine<TypeValue>[];
  summary: string;
  /** As {@link FieldHistoryJson.failed_kernels}. */
  failed_kernels?: FailedKernelNote[];
  /** As {@link FieldHistoryJson.not_ingested}. */
  not_ingested?: NotIngestedNote;
}

/** The definition a history follows in one kernel: vmlinux's before modules', then struct, union, enum. */
function primaryDefinition(defs: Definition[]): Definition {
  const rank = (d: Definition): number => (d.module === '' ? 0 : 10) + ['struct', 'union', 'enum'].indexOf(d.kind);
  return [...defs].sort((a, b) => rank(a) - rank(b))[0];
}

/** What kernels sharing a definition share of their history entries, made once per Definition object. */
interface DefinitionView {
  members?: MemberJson[];
  values?: { name: string; value: string }[];
  value: TypeValue;
}
const definitionViews = new WeakMap<Definition, DefinitionView>();

function viewOf(d: Definition): DefinitionView {
  let v = definitionViews.get(d);
  if (v) return v;
  const body = bodyOf(d);
  if (d.kind === 'enum') {
    const values = (body as EnumBody).values.map(([n, x]) => ({ name: n, value: x }));
    v = { values, value: { status: 'present', kind: 'enum', size: d.size, values: values.length, digest: d.digest } };
  } else {
    const members = (body as CompositeBody).members.map(memberJson);
    v = { members, value: { status: 'present', kind: d.kind as 'struct' | 'union', size: d.size, members: members.length, digest: d.digest } };
  }
  definitionViews.set(d, v);
  return v;
}

const MISSING_TYPE: TypeValue = { status: 'missing' };

/**
 * The history of a struct/union/enum across the catalog's kernels (`type NAME --history --json`): per kernel in
 * kernel order its kind, size and flattened members (enum: values) — the vmlinux definition when modules define
 * the name too, `definitions` counting them all — the changes between neighbours of each
 * distro/release/arch/flavour series, and the timeline and its summary. TYPE_NOT_FOUND with close names when no
 * kernel of the catalog defines the name.
 */
/** A type history with `members: false`. */
export type TypeHistoryCountJson = Omit<TypeHistoryJson, 'kernels'> & { kernels: TypeHistoryCountEntry[] };

export function typeHistory(catalog: Catalog, typeName: string, f?: KernelFilter, opts?: TypeHistoryOptions & { members?: true }): TypeHistoryJson;
export function typeHistory(catalog: Catalog, typeName: string, f: KernelFilter, opts: TypeHistoryOptions): TypeHistoryJson | TypeHistoryCountJson;
export function typeHistory(catalog: Catalog, typeName: string, f: KernelFilter = {}, opts: TypeHistoryOptions = {}): TypeHistoryJson | TypeHistoryCountJson {
  const { name, kinds } = parseTypeName(typeName);
  const byKernel = definitionsByKernel(catalog, name, kinds);
  if (byKernel.size === 0) {
    throw new CatalogError('TYPE_NOT_FOUND', `no struct, union or enum named ${name} in the catalog`, closestNames(name, allNames(catalog, kinds)));
  }
  const scope = moduleScope(catalog, byKernel, kernelRows(catalog, f));
  const kernels = scope.kept;
  const values: TypeValue[] = [];
  const entries: TypeHistoryEntry[] = kernels.map((k): TypeHistoryEntry => {
    const kernel = formatKref(k);
    const series = seriesOf(k);
    const defs = byKernel.get(k.id);
    if (!defs) {
      values.push(MISSING_TYPE);
      return { kernel, series, status: 'missing' };
    }
    const definitions = defs.reduce((n, d) => n + d.copies, 0);
    const d = primaryDefinition(defs);
    const view = viewOf(d);
    values.push(view.value);
    const mod = d.module !== '' ? { module: d.module } : {};
    if (d.kind === 'enum') return { kernel, series, status: 'present', kind: 'enum', size: d.size, definitions, values: view.values ?? [], ...mod };
    return { kernel, series, status: 'present', kind: d.kind as 'struct' | 'union', size: d.size, definitions, members: view.members ?? [], ...mod };
  });
  const timeline = buildTimeline(kernels.map((k, i) => ({ row: k, kernel: entries[i].kernel, value: values[i] })));
  const subject = typeName.trim() + (scope.modules.length > 0 ? ` (module ${scope.modules.join(', ')})` : '');
  const rest = {
    changes: typeChanges(kernels, entries), timeline, summary: typeSummary(subject, timeline),
    ...failedOf(catalog, f),
    ...(scope.note ? { not_ingested: scope.note } : {}),
  };
  if (opts.members === false) return { type: typeName.trim(), kernels: entries.map(countsOnly), ...rest };
  return { type: typeName.trim(), kernels: entries, ...rest };
}

/** A history entry with the counts of its members or values instead of the lists (keys in the same places). */
function countsOnly(e: TypeHistoryEntry): TypeHistoryCountEntry {
  if ('members' in e) {
    const { members, module, ...rest } = e;
    return { ...rest, member_count: members.length, ...(module !== undefined ? { module } : {}) };
  }
  if ('values' in e) {
    const { values, module, ...rest } = e;
    return { ...rest, value_count: values.length, ...(module !== undefined ? { module } : {}) };
  }
  return e;
}

/**
 * The summary of a type's timeline: each span of a main line in {@link typeWords}, `(other layout)` when the
 * words match the span before yet the layout differs, `removed in U` where it vanished.
 */
export function typeSummary(subject: string, timeline: TimelineLine<TypeValue>[]): string {
  return timelineSummary(
    subject,
    timeline,
    (span, prev) => {
      const v = span.value;
      if (v.status === 'missing' && prev && prev.value.status === 'present') return `removed in ${unameOfKref(span.first)}`;
      const words = typeWords(v);
      const changed = prev && prev.value.status === 'present' && v.status === 'present' && typeWords(prev.value) === words;
      return `${words}${changed ? ' (other layout)' : ''} ${spanRange(span)}`;
    },
    typeWords,
  );
}

/** A type value in words: `9792 bytes/250 members`, `4 bytes/33 values`, `not defined`. */
export function typeWords(v: TypeValue): string {
  if (v.status === 'missing') return 'not defined';
  return v.kind === 'enum' ? `${v.size} bytes/${v.values} values` : `${v.size} bytes/${v.members} members`;
}

/** Members keyed by name, a repeated name (unnamed padding) by its occurrence: `name`, `name#2`, … */
function keyed<T extends { name: string }>(list: readonly T[]): Map<string, T> {
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

/** A change between neighbours of a series, as every history answer stamps it: the two kernels and their series. */
export type SeriesStamp = { from: string; to: string; series: string };

/**
 * The changes between neighbours in kernel order within each distro/release/arch/flavour series: `diff(x, y)`
 * gives what changed from entry x to entry y (of kernels i and j, neighbours), each stamped with both kernels and
 * the series. Shared by every history answer.
 */
export function neighbourChanges<E extends { kernel: string; series: string }, C extends object>(
  kernels: readonly TimelineKernel[],
  entries: readonly E[],
  diff: (x: E, y: E) => C[],
): (SeriesStamp & C)[] {
  const out: (SeriesStamp & C)[] = [];
  for (const [i, j] of seriesNeighbours(kernels)) {
    const x = entries[i];
    const y = entries[j];
    for (const c of diff(x, y)) out.push({ from: x.kernel, to: y.kernel, series: y.series, ...c });
  }
  return out;
}

/** A change of one member (or enum value) between two definitions: {@link TypeChange} without its stamp. */
export type MemberChange = Omit<TypeChange, 'from' | 'to' | 'series'> & { member: string };

/**
 * How two enum value lists differ, value by value (names keyed as {@link keyed}): `removed`, `value` (changed) in
 * the old order, then `added`. Values compare as given (decimal strings, or numbers and strings alike made).
 */
export function compareEnumValues<V>(x: readonly { name: string; value: V }[], y: readonly { name: string; value: V }[]): MemberChange[] {
  const out: MemberChange[] = [];
  const before = keyed(x);
  const after = keyed(y);
  for (const [key, v] of before) {
    const w = after.get(key);
    if (!w) out.push({ what: 'removed', member: key, before: { value: v.value }, after: {} });
    else if (w.value !== v.value) out.push({ what: 'value', member: key, before: { value: v.value }, after: { value: w.value } });
  }
  for (const [key, w] of after) if (!before.has(key)) out.push({ what: 'added', member: key, before: {}, after: { value: w.value } });
  return out;
}

/**
 * How two flattened member lists differ, member by member (names keyed as {@link keyed}): `removed` (and, for a
 * member still there, `offset`, `size`, `type`) in the old order, then `added`; a removed member and an added one
 * in its place of a compatible type (a rename, {@link probableRename}) each name the other in `probable_rename`.
 */
export function compareMembers(x: readonly MemberJson[], y: readonly MemberJson[]): MemberChange[] {
  const out: MemberChange[] = [];
  const before = keyed(x);
  const after = keyed(y);
  const removed: { m: MemberJson; c: MemberChange }[] = [];
  for (const [key, m] of before) {
    const n = after.get(key);
    if (!n) {
      const c: MemberChange = { what: 'removed', member: key, before: memberPlace(m), after: {} };
      out.push(c);
      if (key === m.name) removed.push({ m, c });
      continue;
    }
    if (m.bits_offset !== n.bits_offset) {
      out.push({ what: 'offset', member: key, before: { offset: m.offset, bits_offset: m.bits_offset }, after: { offset: n.offset, bits_offset: n.bits_offset } });
    }
    if (m.size !== n.size || m.bitfield_size !== n.bitfield_size) {
      out.push({ what: 'size', member: key, before: { size: m.size, bitfield_size: m.bitfield_size }, after: { size: n.size, bitfield_size: n.bitfield_size } });
    }
    if (m.type !== n.type) out.push({ what: 'type', member: key, before: { type: m.type }, after: { type: n.type } });
  }
  const added: { m: MemberJson; c: MemberChange }[] = [];
  for (const [key, n] of after) {
    if (before.has(key)) continue;
    const c: MemberChange = { what: 'added', member: key, before: {}, after: memberPlace(n) };
    out.push(c);
    if (key === n.name) added.push({ m: n, c });
  }
  // A removed member and an added one in its place, of a compatible type: a rename, each naming the other.
  const taken = new Set<string>();
  for (const r of removed) {
    const name = probableRename(r.m, added.filter((a) => !taken.has(a.m.name)).map((a) => a.m));
    if (name === undefined) continue;
    taken.add(name);
    r.c.probable_rename = name;
    const a = added.find((z) => z.m.name === name);
    if (a) a.c.probable_rename = r.m.name;
  }
  return out;
}

type TypeChangeBody = Omit<TypeChange, 'from' | 'to' | 'series'>;

/** What changed from one kernel's entry of a type history to its neighbour's (see {@link TypeChange}). */
function typeEntryChanges(x: TypeHistoryEntry, y: TypeHistoryEntry): TypeChangeBody[] {
  if (x.status === 'missing' && y.status === 'missing') return [];
  if (x.status === 'missing' && y.status === 'present') return [{ what: 'added', before: { status: 'missing' }, after: { kind: y.kind, size: y.size } }];
  if (x.status === 'present' && y.status === 'missing') return [{ what: 'removed', before: { kind: x.kind, size: x.size }, after: { status: 'missing' } }];
  if (x.status !== 'present' || y.status !== 'present') return [];
  if (x.kind !== y.kind) return [{ what: 'kind', before: { kind: x.kind }, after: { kind: y.kind } }];
  const out: TypeChangeBody[] = [];
  if (x.size !== y.size) out.push({ what: 'size', before: { size: x.size }, after: { size: y.size } });
  if (x.kind === 'enum' && y.kind === 'enum') {
    // Kernels sharing a definition share its value list: nothing changed.
    if (x.values !== y.values) out.push(...compareEnumValues(x.values, y.values));
  } else if (x.kind !== 'enum' && y.kind !== 'enum' && x.members !== y.members) {
    out.push(...compareMembers(x.members, y.members));
  }
  return out;
}

/** Changes between neighbours in kernel order within each distro/release/arch/flavour series (see {@link TypeChange}). */
function typeChanges(kernels: KernelRow[], entries: TypeHistoryEntry[]): TypeChange[] {
  return neighbourChanges(kernels, entries, typeEntryChanges);
}
