import { hash as oneShotHash } from 'node:crypto';
import { cachedStatement, type Catalog } from './db.js';
import { CatalogError } from './errors.js';

/** One entry of a shape set: a shape, the module it belongs to ('' for vmlinux), and how many copies. */
export interface SetEntry {
  shapeId: number;
  module: string;
  copies: number;
}

/** Sets never change once written, so their decoded entries can be kept; bounded so a server stays small. */
const MAX_CACHED_SETS = 50_000;
const setCache = new WeakMap<Catalog, Map<number, SetEntry[]>>();
const moduleCache = new WeakMap<Catalog, Map<number, string>>();

/** The module name of a module id (0 is vmlinux: ''). */
function moduleNameOf(catalog: Catalog, id: number): string {
  if (id === 0) return '';
  let names = moduleCache.get(catalog);
  if (!names || !names.has(id)) {
    names = new Map((catalog.sqlite.prepare('SELECT id, name FROM module_names').all() as { id: number; name: string }[]).map((r) => [r.id, r.name]));
    moduleCache.set(catalog, names);
  }
  const name = names.get(id);
  if (name === undefined) throw new CatalogError('CATALOG_CORRUPT', `shape set refers to unknown module id ${id}`);
  return name;
}

/** Decodes a set's members column. */
export function decodeSetMembers(catalog: Catalog, members: string): SetEntry[] {
  const raw = JSON.parse(members) as [number, number, number][];
  return raw.map(([shapeId, moduleId, copies]) => ({ shapeId, module: moduleNameOf(catalog, moduleId), copies }));
}

/** The entries of the given sets (decoded once per catalog handle and kept). */
export function readSets(catalog: Catalog, setIds: Iterable<number>): Map<number, SetEntry[]> {
  let cache = setCache.get(catalog);
  if (!cache) setCache.set(catalog, (cache = new Map()));
  const out = new Map<number, SetEntry[]>();
  const missing: number[] = [];
  for (const id of setIds) {
    const hit = cache.get(id);
    if (hit) out.set(id, hit);
    else if (!out.has(id)) missing.push(id);
  }
  const rows = selectByIds<{ id: number; members: string }>(catalog, 'SELECT id, members FROM shape_sets', missing);
  if (cache.size + rows.length > MAX_CACHED_SETS) cache.clear();
  for (const r of rows) {
    const entries = decodeSetMembers(catalog, r.members);
    cache.set(r.id, entries);
    out.set(r.id, entries);
  }
  return out;
}

/** The id of a module name for set members, creating it when new (inside the caller's write transaction). */
export function moduleIdOf(catalog: Catalog, name: string): number {
  if (name === '') return 0;
  const db = catalog.sqlite;
  const found = db.prepare('SELECT id FROM module_names WHERE name = ?').pluck().get(name) as number | undefined;
  if (found !== undefined) return found;
  return Number(db.prepare('INSERT INTO module_names (name) VALUES (?)').run(name).lastInsertRowid);
}

/** Names of shapes by id. */
export function shapeNames(catalog: Catalog, ids: Iterable<number>): Map<number, string> {
  const rows = selectByIds<{ id: number; name: string }>(catalog, 'SELECT id, name FROM shapes', ids);
  return new Map(rows.map((r) => [r.id, r.name]));
}

/**
 * Runs `SELECT … FROM table` for the given row ids: one statement whatever their number (the ids go in as one
 * JSON array, read by `json_each`, so there is no variable limit to chunk around), prepared once per connection.
 */
export function selectByIds<T>(catalog: Catalog, select: string, ids: Iterable<number>): T[] {
  const list = [...new Set(ids)];
  if (list.length === 0) return [];
  return cachedStatement(catalog, `${select} WHERE id IN (SELECT value FROM json_each(?))`).all(JSON.stringify(list)) as T[];
}

/** What a shape set's hash covers of one entry. */
export interface SetHashEntry {
  name: string;
  module: string;
  /** The shape's content hash. */
  hash: Buffer;
  copies: number;
}

/**
 * The content hash of a shape set, for entries already in set order (name, module, shape hash): one line per
 * entry, `name NUL module NUL hash-hex NUL copies`, joined by newlines, and the first 16 bytes of their sha256. It
 * depends on the shapes' contents, never on row ids, so one set has one hash in every catalog of a normalizer
 * version (what lets merge match sets across catalogs).
 */
export function setHashOf<T>(entries: readonly T[], entry: (e: T) => SetHashEntry): Buffer {
  const text = entries.map((x) => {
    const e = entry(x);
    return `${e.name}\0${e.module}\0${e.hash.toString('hex')}\0${e.copies}`;
  }).join('\n');
  return (oneShotHash('sha256', text, 'buffer') as unknown as Buffer).subarray(0, 16);
}
