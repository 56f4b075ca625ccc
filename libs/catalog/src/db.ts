import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

/** The migrations folder at the repo root (the same relative path from src/ and dist/). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations', import.meta.url));

export interface OpenOptions {
  /** Wait this long for a lock before SQLITE_BUSY (default 10 s). */
  busyTimeoutMs?: number;
  readonly?: boolean;
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
 * `field` answer takes to compute.
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
  if (!opts.readonly && migrationsPending(sqlite)) applyMigrations(sqlite);
  return { path, sqlite, close: () => sqlite.close() };
}

/**
 * True when migrations/ holds a migration the catalog has not applied. drizzle's migrator records each applied
 * migration with its journal timestamp (`created_at`) and applies those newer than the newest recorded: the same
 * test, made without loading it.
 */
function migrationsPending(sqlite: Database.Database): boolean {
  const journal = JSON.parse(readFileSync(join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as { entries: { when: number }[] };
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
  const row = catalog.sqlite.prepare('SELECT total_changes() AS t').get() as { t: number };
  return `${catalog.sqlite.pragma('data_version', { simple: true }) as number}:${row.t}`;
}
