import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { CatalogError } from './errors.js';

/** The migrations folder at the repo root (the same relative path from src/ and dist/). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations', import.meta.url));

export interface OpenOptions {
  /** Wait this long for a lock before SQLITE_BUSY (default 10 s). */
  busyTimeoutMs?: number;
  readonly?: boolean;
}

/**
 * The version of the code that turns BTF into stored shapes (normalize.ts, normalize-btf.ts): bump it whenever
 * the bodies, hashes or names it stores for the same BTF would change. A catalog records the version that made
 * its shapes (`catalog_meta.normalizer_version`); shapes of two versions are never mixed: a catalog made by
 * another version refuses ingest with CATALOG_NEEDS_REINDEX (reads keep working).
 */
export const NORMALIZER_VERSION = 3;

/*
 * Normalizer versions:
 * 1. named structs, unions, enums and typedefs; funcs as spelled signatures only.
 * 2. funcs with their linkage, decl tags and a TypeDesc per parameter and return type; anonymous enums (name '');
 *    typedefs of pointers to prototypes (raw tracepoints) with their prototype; the derived `names` and
 *    `enumerators` indexes (shape-index.ts), which the func, tracepoint, syscall, enumerator and search answers read.
 * 3. the type graph: members, parameters, return values and typedef targets stored as type references
 *    (`@btf-atlas/btf/type-ref`: named types by kind and name, the pointers, arrays, qualifiers and prototypes to
 *    them written out, INT encodings and enum signedness kept) instead of C spellings. Answers spell them.
 */

/** The normalizer version of catalogs made before versions were recorded (their shapes are version 1's). */
const UNRECORDED_NORMALIZER_VERSION = 1;

/** What a catalog records about the code that made it (`catalog_meta`). */
export interface CatalogVersions {
  /** How many migrations of migrations/ the catalog has applied; null when not recorded (opened read-only, older). */
  schemaVersion: number | null;
  /** The normalizer version of its shapes; null when not recorded (a read-only open of an older catalog). */
  normalizerVersion: number | null;
}

/** An open catalog: the better-sqlite3 handle every query of the catalog goes through. */
export interface Catalog {
  path: string;
  sqlite: Database.Database;
  close(): void;
}

/**
 * Opens (creating if needed) the catalog at `path`, in WAL mode with a busy timeout, and applies pending
 * migrations (the SQL files of migrations/, made by drizzle-kit from schema.ts). Every app calls this at
 * start-up. drizzle-orm, which applies them, loads only when one is pending: it takes longer to load than a
 * `field` answer takes to compute. Then records the catalog's versions in `catalog_meta` (`schema_version`; and
 * `normalizer_version`, the current one for a catalog without kernels), checked by ingest ({@link assertWritable}).
 * Opened read-only, nothing is migrated nor recorded.
 */
export function openCatalog(path: string, opts: OpenOptions = {}): Catalog {
  if (!opts.readonly) mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path, { readonly: opts.readonly ?? false });
  sqlite.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 10_000}`);
  if (!opts.readonly) {
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
  }
  sqlite.pragma('foreign_keys = ON');
  if (!opts.readonly) {
    const journal = readJournal();
    if (migrationsPending(sqlite, journal)) applyMigrations(sqlite);
    recordVersions(sqlite, journal.entries.length);
  }
  return { path, sqlite, close: () => sqlite.close() };
}

function readJournal(): { entries: { when: number }[] } {
  return JSON.parse(readFileSync(join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as { entries: { when: number }[] };
}

/** The schema version this code makes: the number of migrations in migrations/. */
export function currentSchemaVersion(): number {
  return readJournal().entries.length;
}

/**
 * Records, after the migrations, the schema version and (when the catalog has none yet) the normalizer version:
 * the current one for a catalog without kernels (a new one), {@link UNRECORDED_NORMALIZER_VERSION} for a catalog
 * with kernels made before versions were recorded. A recorded normalizer version is never overwritten while the
 * catalog holds kernels: that is what tells a write it would mix two kinds of shapes.
 */
function recordVersions(sqlite: Database.Database, schemaVersion: number): void {
  const get = sqlite.prepare('SELECT value FROM catalog_meta WHERE key = ?').pluck();
  const schema = String(schemaVersion);
  // Decided again inside the write transaction, entered only when something is to be recorded (every open reads).
  const pending = (): [string, string][] => {
    const out: [string, string][] = [];
    // A catalog a newer btf-atlas migrated further keeps its higher number.
    const recordedSchema = get.get('schema_version') as string | undefined;
    if (recordedSchema === undefined || Number(recordedSchema) < schemaVersion) out.push(['schema_version', schema]);
    const recorded = get.get('normalizer_version') as string | undefined;
    if (recorded === String(NORMALIZER_VERSION)) return out;
    const hasKernels = sqlite.prepare('SELECT 1 FROM kernels LIMIT 1').get() !== undefined;
    if (!hasKernels) out.push(['normalizer_version', String(NORMALIZER_VERSION)]);
    else if (recorded === undefined) out.push(['normalizer_version', String(UNRECORDED_NORMALIZER_VERSION)]);
    return out;
  };
  if (pending().length === 0) return;
  const set = sqlite.prepare('INSERT INTO catalog_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  sqlite.transaction(() => {
    for (const [key, value] of pending()) set.run(key, value);
  }).immediate();
}

/** The versions a catalog records; nulls for what it does not (a read-only open of a catalog made before them). */
export function catalogVersions(catalog: Catalog): CatalogVersions {
  const table = catalog.sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'catalog_meta'").get();
  if (!table) return { schemaVersion: null, normalizerVersion: null };
  const get = catalog.sqlite.prepare('SELECT value FROM catalog_meta WHERE key = ?').pluck();
  const num = (v: unknown): number | null => (typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : null);
  return { schemaVersion: num(get.get('schema_version')), normalizerVersion: num(get.get('normalizer_version')) };
}

/**
 * Throws CATALOG_NEEDS_REINDEX when the catalog's shapes were made by another normalizer version than this
 * code's: writing would mix two kinds of shape bodies (the same type stored twice, diffs reporting changes that
 * are only the normalizer's). Every ingest checks it before writing; reads do not.
 */
export function assertWritable(catalog: Catalog): void {
  const { normalizerVersion } = catalogVersions(catalog);
  if (normalizerVersion === NORMALIZER_VERSION) return;
  const made = normalizerVersion === null ? 'an unrecorded normalizer version' : `normalizer version ${normalizerVersion}`;
  throw new CatalogError(
    'CATALOG_NEEDS_REINDEX',
    `the catalog ${catalog.path} was made by ${made}, this btf-atlas writes version ${NORMALIZER_VERSION}: ingesting into it would mix ` +
      `shapes of both. Its answers can still be read; to ingest, build a new catalog (btf-atlas ingest PATH... --db NEW_FILE) from the ` +
      `same inputs and use it instead, or ingest with the btf-atlas version that made this one`,
  );
}

/**
 * Throws CATALOG_NEEDS_REINDEX when the catalog's shapes were made by a normalizer older than `version`, which
 * did not record what `answer` reads (a read-only open of a catalog that records no version counts as version 1).
 */
export function assertNormalizedFor(catalog: Catalog, version: number, answer: string): void {
  const made = catalogVersions(catalog).normalizerVersion ?? UNRECORDED_NORMALIZER_VERSION;
  if (made >= version) return;
  throw new CatalogError(
    'CATALOG_NEEDS_REINDEX',
    `the catalog ${catalog.path} was made by normalizer version ${made}, which does not record what ${answer} reads (version ${version} ` +
      `does): rebuild it with this btf-atlas (btf-atlas reindex, or ingest the same inputs into a new catalog with --db NEW_FILE)`,
  );
}

/**
 * True when migrations/ holds a migration the catalog has not applied. drizzle's migrator records each applied
 * migration with its journal timestamp (`created_at`) and applies those newer than the newest recorded: the same
 * test, made without loading it.
 */
function migrationsPending(sqlite: Database.Database, journal: { entries: { when: number }[] }): boolean {
  const newest = Math.max(...journal.entries.map((e) => e.when));
  const table = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'").get();
  if (!table) return true;
  const row = sqlite.prepare('SELECT max(created_at) AS at FROM __drizzle_migrations').get() as { at: number | string | null };
  return row.at === null || Number(row.at) < newest;
}

function applyMigrations(sqlite: Database.Database): void {
  // The CommonJS builds load synchronously, so opening stays synchronous.
  const require = createRequire(import.meta.url);
  const { drizzle } = require('drizzle-orm/better-sqlite3') as typeof import('drizzle-orm/better-sqlite3');
  const { migrate } = require('drizzle-orm/better-sqlite3/migrator') as typeof import('drizzle-orm/better-sqlite3/migrator');
  migrate(drizzle(sqlite), { migrationsFolder: MIGRATIONS_DIR });
}

/**
 * A value that changes whenever the catalog's contents may have: `PRAGMA data_version` moves for commits made by
 * other connections, `total_changes()` for this connection's own writes. Caches of read answers key on it.
 */
export function catalogVersion(catalog: Catalog): string {
  // One statement for both (a `pragma()` call would prepare one each time): asked for every cached answer served.
  const [version, changes] = cachedStatement(catalog, 'SELECT data_version, total_changes() FROM pragma_data_version').raw(true).get() as [number, number];
  return `${version}:${changes}`;
}

/** Prepared statements per connection and SQL text (preparing is a good part of a small query's cost). */
const statements = new WeakMap<Catalog['sqlite'], Map<string, Database.Statement<unknown[]>>>();

/**
 * The statement of `sql` on this catalog's connection, prepared once. Its result mode is set on every call
 * (`pluck`: the first column alone; else rows as objects, or arrays when the caller asks `.raw(true)` itself), so
 * callers sharing one text cannot leave it in another's mode.
 */
export function cachedStatement(catalog: Catalog, sql: string, pluck = false): Database.Statement<unknown[]> {
  let cache = statements.get(catalog.sqlite);
  if (!cache) statements.set(catalog.sqlite, (cache = new Map()));
  let s = cache.get(sql);
  if (!s) cache.set(sql, (s = catalog.sqlite.prepare(sql)));
  if (!s.reader) return s;
  return pluck ? s.pluck(true) : s.pluck(false).raw(false);
}
