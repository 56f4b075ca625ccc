import { catalogVersion, type Catalog } from './db.js';
import { CatalogError } from './errors.js';
import { checkKernelFilter, compareUnameR, filterKernels, formatKref, parseKref, type KernelFilter, type KernelRef } from './kernel-ref.js';
import { bucketOf, spelled, type CompositeBody, type EnumBody, type ShapeKind, type StoredMember } from './normalize.js';
import { cachedDefsOf, membersAtPath } from './field-paths.js';
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

/**
 * Kernels of the selection left out of a module type's answer because that module's BTF was not ingested with
 * them (no `modules` row): for them the type is unknown, neither missing nor present.
 */
export interface NotIngestedNote {
  modules: string[];
  kernels: string[];
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
      names = membersAtPath(defs, prefix, kernelId, defsOf)
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
