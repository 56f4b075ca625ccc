import { assertNormalizedFor, catalogVersion, type Catalog } from './db.js';
import { CatalogError } from './errors.js';
import { isSearchKind, NAME_KINDS, SEARCH_KINDS, syscallFuncNames, syscallOfFunc, TRACEPOINT_TYPEDEF_PREFIX, type SearchKind } from './kind-names.js';
import { bucketOf, spelled, type FuncBody } from './normalize.js';
import { fieldPathCompletions, kernelCompletions, shapesNamed, type ShapeRow } from './queries.js';
import { readSets, selectByIds, type SetEntry } from './sets.js';
import { KFUNC_TAG } from './kind-names.js';
import { closestNames } from './suggest.js';

/**
 * `search TEXT [--kind K] [--limit N]` (`GET /v1/search`): names of every kind that start with TEXT (any case),
 * then names close to it, each with its kinds and how many of the catalog's kernels have it. Reads the `names`
 * index (shape-index.ts); the kernel counts come from the shape sets, cached per catalog version.
 */

/** One name found. */
export interface SearchResult {
  name: string;
  /** The kinds it has among those searched, in {@link SEARCH_KINDS} order. */
  kinds: SearchKind[];
  /** How many of the catalog's kernels have it as one of those kinds (in vmlinux or an ingested module). */
  kernels: number;
  /** `exact` (the text itself, any case), `prefix` (starts with the text, any case) or `fuzzy` ({@link closestNames}). */
  match: 'exact' | 'prefix' | 'fuzzy';
}

/** The answer of {@link searchNames}. */
export interface SearchJson {
  query: string;
  kinds: SearchKind[];
  results: SearchResult[];
}

/** Options of {@link searchNames}. */
export interface SearchOptions {
  /** Kinds to search (default every kind). */
  kinds?: readonly string[];
  /** Most results (default {@link DEFAULT_SEARCH_LIMIT}, at most {@link MAX_SEARCH_LIMIT}). */
  limit?: number;
}

export const DEFAULT_SEARCH_LIMIT = 20;
export const MAX_SEARCH_LIMIT = 200;
/** The longest search text accepted (longer than any kernel identifier). */
export const MAX_SEARCH_TEXT = 256;

/** Every name of one search kind (for suggestions of an unknown name). */
export function namesOfKind(catalog: Catalog, kind: SearchKind): string[] {
  return catalog.sqlite.prepare('SELECT name FROM names WHERE kind = ?').pluck().all(kind) as string[];
}

/**
 * The smallest string greater than every string that starts with `prefix` under SQLite's NOCASE collation (ASCII
 * letters folded to lower case): the prefix folded, its last character incremented. Undefined when there is none.
 */
function nocaseUpperBound(prefix: string): string | undefined {
  const folded = prefix.replace(/[A-Z]/g, (c) => c.toLowerCase());
  for (let i = folded.length - 1; i >= 0; i--) {
    const c = folded.charCodeAt(i);
    if (c < 0xffff) return folded.slice(0, i) + String.fromCharCode(c + 1);
  }
  return undefined;
}

/** A shape's id and name: enough to find which kernels have it. */
export interface ShapeRef {
  id: number;
  name: string;
}

/** The shapes a name has as one search kind (what its kernels are counted from). */
export function shapesOfSearchName(catalog: Catalog, name: string, kind: SearchKind): ShapeRef[] {
  switch (kind) {
    case 'struct':
    case 'union':
    case 'enum':
    case 'typedef':
    case 'func':
      return catalog.sqlite.prepare('SELECT id, name FROM shapes WHERE name = ? AND kind = ?').all(name, kind) as ShapeRef[];
    case 'kfunc':
      return shapesNamed(catalog, name, ['func']).filter((r) => (JSON.parse(r.body) as FuncBody).tags?.includes(KFUNC_TAG));
    case 'tracepoint':
      return shapesNamed(catalog, `${TRACEPOINT_TYPEDEF_PREFIX}${name}`, ['typedef']);
    case 'syscall':
      return syscallShapes(catalog, name);
    case 'enumerator':
      return enumeratorShapes(catalog, name);
    case 'field':
    case 'kernel':
      // Completions, not names: their kernels are counted where they are found.
      return [];
  }
}

/** The func shapes that implement syscall NAME (see kind-names.ts {@link syscallOfFunc}). */
export function syscallShapes(catalog: Catalog, syscall: string): ShapeRow[] {
  if (syscall === '') return [];
  const candidates = syscallFuncNames(syscall);
  const rows = catalog.sqlite
    .prepare(`SELECT id, kind, name, size, body, hash FROM shapes WHERE kind = 'func' AND name IN (${candidates.map(() => '?').join(',')})`)
    .all(...candidates) as ShapeRow[];
  return rows.filter((r) => syscallOfFunc(r.name, spelled((JSON.parse(r.body) as FuncBody).ret) === 'long int')?.syscall === syscall);
}

/** The enum shapes (named and anonymous) that have an enumerator NAME (the `enumerators` index). */
export function enumeratorShapes(catalog: Catalog, name: string): ShapeRow[] {
  const ids = catalog.sqlite.prepare('SELECT shape_id FROM enumerators WHERE name = ?').pluck().all(name) as number[];
  return selectByIds<ShapeRow>(catalog, 'SELECT id, kind, name, size, body, hash FROM shapes', ids);
}

/** Per name bucket, the kernels of each set (set id → kernel ids), cached per catalog handle until it changes. */
const bucketKernels = new WeakMap<Catalog, { version: string; buckets: Map<number, Map<number, number[]>> }>();

function kernelsBySet(catalog: Catalog, bucket: number): Map<number, number[]> {
  const version = catalogVersion(catalog);
  let cache = bucketKernels.get(catalog);
  if (!cache || cache.version !== version) bucketKernels.set(catalog, (cache = { version, buckets: new Map() }));
  let bySet = cache.buckets.get(bucket);
  if (!bySet) {
    bySet = new Map();
    const rows = catalog.sqlite
      .prepare('SELECT set_id AS setId, kernel_id AS kernelId FROM kernel_sets WHERE bucket = ?')
      .all(bucket) as { setId: number; kernelId: number }[];
    for (const r of rows) {
      const list = bySet.get(r.setId);
      if (list) list.push(r.kernelId);
      else bySet.set(r.setId, [r.kernelId]);
    }
    cache.buckets.set(bucket, bySet);
  }
  return bySet;
}

/** Shape ids of a set's entries, made once per decoded set. */
const setShapeIds = new WeakMap<SetEntry[], Set<number>>();

function shapeIdsOf(entries: SetEntry[]): Set<number> {
  let ids = setShapeIds.get(entries);
  if (!ids) setShapeIds.set(entries, (ids = new Set(entries.map((e) => e.shapeId))));
  return ids;
}

/** How many kernels have at least one of these shapes (in vmlinux or a module). */
export function kernelsWithShapes(catalog: Catalog, shapes: readonly { id: number; name: string }[]): number {
  const byBucket = new Map<number, number[]>();
  for (const s of shapes) {
    const b = bucketOf(s.name);
    const list = byBucket.get(b);
    if (list) list.push(s.id);
    else byBucket.set(b, [s.id]);
  }
  const kernels = new Set<number>();
  let count = 0;
  for (const [bucket, ids] of byBucket) {
    const bySet = kernelsBySet(catalog, bucket);
    const sets = readSets(catalog, bySet.keys());
    for (const [setId, entries] of sets) {
      const has = shapeIdsOf(entries);
      if (!ids.some((id) => has.has(id))) continue;
      const list = bySet.get(setId) ?? [];
      // One bucket: kernels have one set each, so counts add up; several: a kernel may match in each.
      if (byBucket.size === 1) count += list.length;
      else for (const k of list) kernels.add(k);
    }
  }
  return byBucket.size === 1 ? count : kernels.size;
}

/** The distinct names of some kinds, for fuzzy matching: cached per catalog handle and kinds until the catalog changes. */
const distinctCache = new WeakMap<Catalog, { version: string; byKinds: Map<string, string[]> }>();

function distinctNames(catalog: Catalog, kinds: readonly SearchKind[]): string[] {
  const version = catalogVersion(catalog);
  let cache = distinctCache.get(catalog);
  if (!cache || cache.version !== version) distinctCache.set(catalog, (cache = { version, byKinds: new Map() }));
  const key = kinds.join(',');
  let list = cache.byKinds.get(key);
  if (!list) {
    list = catalog.sqlite.prepare(`SELECT DISTINCT name FROM names WHERE kind IN (${kinds.map(() => '?').join(',')})`).pluck().all(...kinds) as string[];
    // One list per catalog: a new kind selection replaces the last.
    cache.byKinds.clear();
    cache.byKinds.set(key, list);
  }
  return list;
}

function checkOptions(text: string, opts: SearchOptions): { kinds: SearchKind[]; limit: number } {
  if (text.length === 0) throw new CatalogError('BAD_SEARCH', 'search text is empty');
  if (text.length > MAX_SEARCH_TEXT) throw new CatalogError('BAD_SEARCH', `search text is ${text.length} characters long, more than ${MAX_SEARCH_TEXT}`);
  const kinds: SearchKind[] = [];
  for (const k of opts.kinds ?? SEARCH_KINDS) {
    if (!isSearchKind(k)) throw new CatalogError('BAD_SEARCH', `unknown search kind ${JSON.stringify(k)}: kinds are ${SEARCH_KINDS.join(', ')}`, closestNames(k, SEARCH_KINDS, 3));
    if (!kinds.includes(k)) kinds.push(k);
  }
  if (kinds.length === 0) throw new CatalogError('BAD_SEARCH', `no search kind given: kinds are ${SEARCH_KINDS.join(', ')}`);
  kinds.sort((a, b) => SEARCH_KINDS.indexOf(a) - SEARCH_KINDS.indexOf(b));
  const limit = opts.limit ?? DEFAULT_SEARCH_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SEARCH_LIMIT) {
    throw new CatalogError('BAD_SEARCH', `search limit ${limit} is not an integer from 1 to ${MAX_SEARCH_LIMIT}`);
  }
  return { kinds, limit };
}

/**
 * Names of the catalog's kernels that match TEXT, at most `limit`: the name itself first (any case), then names
 * that start with it (any case; in NOCASE order), then — when those leave room — the closest other names
 * ({@link closestNames}: by edit distance, then names that contain TEXT). Each lists its kinds among `kinds` and
 * how many kernels have it as one of them. BAD_SEARCH for an empty or overlong TEXT, an unknown kind or a limit
 * outside 1..{@link MAX_SEARCH_LIMIT}; CATALOG_NEEDS_REINDEX for a catalog of normalizer version 1.
 */
export function searchNames(catalog: Catalog, text: string, opts: SearchOptions = {}): SearchJson {
  const query = text.trim();
  const { kinds: asked, limit } = checkOptions(query, opts);
  assertNormalizedFor(catalog, 2, 'search');
  const results: SearchResult[] = [];
  // Completions first: a dotted text is a field path or a kernel, never a C name.
  if (asked.includes('field')) {
    for (const c of fieldPathCompletions(catalog, query, limit)) results.push({ name: c.path, kinds: ['field'], kernels: c.kernels, match: c.match });
  }
  // Kernels named or started by the text first; those that merely hold it (`12` in `debian/12/…`) only for a text
  // with a digit or a slash (a version or a KREF, not a word that `arm64` happens to contain): first when it starts
  // with a digit or holds a slash, else after the names.
  const kernels = asked.includes('kernel') ? kernelCompletions(catalog, query, limit) : [];
  let loose = /[0-9/]/.test(query) ? kernels.filter((c) => c.match === 'fuzzy') : [];
  // A text that starts like a version or is a path is a kernel before it is a misspelt name.
  const versionish = /^[0-9]|\//.test(query);
  for (const c of kernels) if (c.match !== 'fuzzy' || versionish) results.push({ name: c.kernel, kinds: ['kernel'], kernels: 1, match: c.match });
  if (versionish) loose = [];
  const withLoose = (): SearchJson => {
    for (const c of loose) results.push({ name: c.kernel, kinds: ['kernel'], kernels: 1, match: c.match });
    return { query, kinds: asked, results: results.slice(0, limit) };
  };
  const kinds = asked.filter((k) => (NAME_KINDS as readonly string[]).includes(k));
  if (kinds.length === 0 || query.includes('.') || results.length >= limit) return withLoose();
  const room = limit - results.length;
  const kindList = kinds.map(() => '?').join(',');
  const found = new Map<string, { kinds: Set<SearchKind>; match: SearchResult['match'] }>();
  const add = (rows: { name: string; kind: SearchKind }[], match: SearchResult['match']): void => {
    for (const r of rows) {
      let hit = found.get(r.name);
      if (!hit) {
        if (found.size >= room) continue;
        found.set(r.name, (hit = { kinds: new Set(), match }));
      }
      hit.kinds.add(r.kind);
    }
  };
  const exact = catalog.sqlite
    .prepare(`SELECT name, kind FROM names WHERE name = ? COLLATE NOCASE AND kind IN (${kindList}) ORDER BY name`)
    .all(query, ...kinds) as { name: string; kind: SearchKind }[];
  add(exact, 'exact');
  const upper = nocaseUpperBound(query);
  if (found.size < room && upper !== undefined) {
    // Rows come in NOCASE order, each name with its kinds together: read until `limit` names are taken and the
    // last one's kinds are complete.
    const stmt = catalog.sqlite.prepare(
      `SELECT name, kind FROM names WHERE name >= ? COLLATE NOCASE AND name < ? COLLATE NOCASE AND kind IN (${kindList})
       ORDER BY name COLLATE NOCASE, name`,
    );
    for (const r of stmt.iterate(query, upper, ...kinds) as Iterable<{ name: string; kind: SearchKind }>) {
      if (!found.has(r.name) && found.size >= room) break;
      add([r], 'prefix');
    }
  }
  if (found.size < room) {
    const close = closestNames(query, distinctNames(catalog, kinds), room + found.size).filter((n) => !found.has(n)).slice(0, room - found.size);
    if (close.length > 0) {
      const rows = catalog.sqlite
        .prepare(`SELECT name, kind FROM names WHERE name IN (SELECT value FROM json_each(?)) AND kind IN (${kindList})`)
        .all(JSON.stringify(close), ...kinds) as { name: string; kind: SearchKind }[];
      const byName = new Map<string, { name: string; kind: SearchKind }[]>();
      for (const r of rows) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
      for (const n of close) add(byName.get(n) ?? [], 'fuzzy');
    }
  }
  for (const [name, hit] of found) {
    const ks = [...hit.kinds].sort((a, b) => SEARCH_KINDS.indexOf(a) - SEARCH_KINDS.indexOf(b));
    const shapes: ShapeRef[] = [];
    for (const k of ks) shapes.push(...shapesOfSearchName(catalog, name, k));
    results.push({ name, kinds: ks, kernels: kernelsWithShapes(catalog, shapes), match: hit.match });
  }
  return withLoose();
}
