import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from './schema.js';

/** The migrations folder at the repo root (the same relative path from src/ and dist/). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations', import.meta.url));

export type CatalogDb = BetterSQLite3Database<typeof schema>;

export interface OpenOptions {
  /** Wait this long for a lock before SQLITE_BUSY (default 10 s). */
  busyTimeoutMs?: number;
  readonly?: boolean;
}

/** An open catalog: the raw better-sqlite3 handle and its drizzle view. */
export interface Catalog {
  path: string;
  sqlite: Database.Database;
  db: CatalogDb;
  close(): void;
}

/**
 * Opens (creating if needed) the catalog at `path`, in WAL mode with a busy timeout, and applies pending
 * migrations. Every app calls this at start-up.
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
  const db = drizzle(sqlite, { schema });
  if (!opts.readonly) migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  return { path, sqlite, db, close: () => sqlite.close() };
}

/**
 * A value that changes whenever the catalog's contents may have: `PRAGMA data_version` moves for commits made by
 * other connections, `total_changes()` for this connection's own writes. Caches of read answers key on it.
 */
export function catalogVersion(catalog: Catalog): string {
  const row = catalog.sqlite.prepare('SELECT total_changes() AS t').get() as { t: number };
  return `${catalog.sqlite.pragma('data_version', { simple: true }) as number}:${row.t}`;
}
