import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, openCatalog } from '@btf-atlas/catalog';

const journal = JSON.parse(readFileSync(join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string; when: number }[] };

function columns(db: Database.Database, table: string): string[] {
  return (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
}

describe('openCatalog applies pending migrations, and only those', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'btf-atlas-open-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a new catalog with every migration recorded, and reopens it unchanged', () => {
    const path = join(dir, 'atlas.db');
    openCatalog(path).close();
    const db = new Database(path);
    const applied = db.prepare('SELECT created_at FROM __drizzle_migrations ORDER BY created_at').pluck().all() as number[];
    expect(applied.map(Number)).toEqual(journal.entries.map((e) => e.when));
    db.close();
    const again = openCatalog(path);
    expect(again.sqlite.prepare('SELECT count(*) FROM __drizzle_migrations').pluck().get()).toBe(journal.entries.length);
    again.close();
  });

  it('brings a catalog made by an older version up to date', () => {
    const path = join(dir, 'old.db');
    // A catalog as the first release left it: the first migration applied and recorded as drizzle records it.
    const first = journal.entries[0];
    const db = new Database(path);
    for (const stmt of readFileSync(join(MIGRATIONS_DIR, `${first.tag}.sql`), 'utf8').split('--> statement-breakpoint')) db.exec(stmt);
    db.exec('CREATE TABLE __drizzle_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, hash text NOT NULL, created_at numeric)');
    db.prepare('INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)').run('first', first.when);
    expect(columns(db, 'kernels')).not.toContain('archive_sha256');
    db.close();
    const catalog = openCatalog(path);
    expect(columns(catalog.sqlite, 'kernels')).toContain('archive_sha256');
    expect(catalog.sqlite.prepare('SELECT count(*) FROM __drizzle_migrations').pluck().get()).toBe(journal.entries.length);
    catalog.close();
  });

  it('opens read-only without touching the file', () => {
    const path = join(dir, 'ro.db');
    openCatalog(path).close();
    const ro = openCatalog(path, { readonly: true });
    expect(() => ro.sqlite.exec('DELETE FROM kernels')).toThrow(/readonly/);
    ro.close();
  });
});
