import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BlobStore, CatalogError, MIGRATIONS_DIR, NORMALIZER_VERSION, assertWritable, buildBtfTarXz, catalogVersions, failedKernels,
  fillKernelLayouts, listKernels, openCatalog, parseKref, prepareKernel, processIngest, sha256Hex, writeKernel, type Catalog,
} from '@btf-atlas/catalog';
import { BtfBuilder } from '../../btf/test/support/builder.js';

const journal = JSON.parse(readFileSync(join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string; when: number }[] };

/** A tiny vmlinux BTF: `long` of `longSize` bytes, a struct holding one, in either byte order. */
function kernelBtf(longSize: 4 | 8, littleEndian = true, structName = 'task_struct'): Uint8Array {
  const b = new BtfBuilder();
  const uint = b.int('unsigned int', 4, 32);
  const long = b.int('long int', longSize, longSize * 8, 1);
  b.struct(structName, 4 + longSize * 2, [
    { name: 'flags', type: uint, bitsOffset: 0 },
    { name: 'state', type: long, bitsOffset: longSize * 8 },
  ]);
  return b.build({ littleEndian });
}

function meta(db: Database.Database): Record<string, string> {
  return Object.fromEntries((db.prepare('SELECT key, value FROM catalog_meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
}

async function ingestRaw(catalog: Catalog, blobs: BlobStore, kref: string, bytes: Uint8Array): Promise<void> {
  const k = parseKref(kref);
  writeKernel(catalog, blobs, await prepareKernel({ kref: k, file: { source: `${k.unameR}.btf`, bytes } }));
}

/**
 * A catalog as the version before pointer sizes were recorded left it: the migrations before 0002 applied and
 * recorded as drizzle records them, with kernel rows inserted as that version's ingest inserted them.
 */
function olderCatalog(path: string): Database.Database {
  const db = new Database(path);
  db.exec('CREATE TABLE __drizzle_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, hash text NOT NULL, created_at numeric)');
  for (const e of journal.entries.filter((x) => Number(x.tag.slice(0, 4)) < 2)) {
    for (const stmt of readFileSync(join(MIGRATIONS_DIR, `${e.tag}.sql`), 'utf8').split('--> statement-breakpoint')) db.exec(stmt);
    db.prepare('INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)').run(e.tag, e.when);
  }
  return db;
}

function insertOldKernel(db: Database.Database, kref: string, btf: { sha256: string; size: number }, source: { sha256: string; size: number; format: string; name: string }): void {
  const k = parseKref(kref);
  db.prepare(`INSERT INTO kernels (distro, release, arch, uname_r, version_key, flavour, btf_sha256, btf_size, type_count,
      source_sha256, source_size, source_format, source, ingested_at, archive_sha256, archive_size)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)`)
    .run(k.distro, k.release, k.arch, k.unameR, k.unameR, '', btf.sha256, btf.size, 3, source.sha256, source.size, source.format, source.name, '2026-01-01T00:00:00.000Z');
}

describe('kernels record their pointer size and byte order from their own BTF', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'btf-atlas-layout-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('ingest records them, whatever the arch name says', async () => {
    const path = join(dir, 'atlas.db');
    const catalog = openCatalog(path);
    const blobs = BlobStore.forCatalog(path);
    // Arch names that would guess the other way: the BTF decides.
    await ingestRaw(catalog, blobs, 'debian/12/i386/6.1.0-50-686', kernelBtf(8));
    await ingestRaw(catalog, blobs, 'debian/12/s390x/6.1.0-50-s390x', kernelBtf(4, false));
    await ingestRaw(catalog, blobs, 'debian/12/x86_64/6.1.0-50-amd64', kernelBtf(4));
    expect(listKernels(catalog).map((k) => [k.arch, k.pointer_size, k.byte_order])).toEqual([
      ['i386', 8, 'little'],
      ['s390x', 4, 'big'],
      ['x86_64', 4, 'little'],
    ]);
    expect(catalog.sqlite.prepare('SELECT pointer_size, byte_order FROM kernels WHERE arch = ?').get('s390x')).toEqual({ pointer_size: 4, byte_order: 'big' });
    catalog.close();
  });

  it('a new catalog records the current schema and normalizer versions', () => {
    const path = join(dir, 'atlas.db');
    const catalog = openCatalog(path);
    expect(meta(catalog.sqlite)).toEqual({ schema_version: String(journal.entries.length), normalizer_version: String(NORMALIZER_VERSION) });
    expect(catalogVersions(catalog)).toEqual({ schemaVersion: journal.entries.length, normalizerVersion: NORMALIZER_VERSION });
    expect(() => assertWritable(catalog)).not.toThrow();
    catalog.close();
  });

  it('a catalog of the previous schema is migrated, then its kernels are filled from the blobs it keeps', async () => {
    const path = join(dir, 'old.db');
    const blobs = BlobStore.forCatalog(path);
    // One kernel ingested from a btfhub tarball (the raw BTF only inside it), one from raw big-endian 32-bit BTF.
    const tarBtf = kernelBtf(8);
    const tarball = await buildBtfTarXz('6.1.0-47-amd64', tarBtf);
    blobs.put(tarball);
    const rawBtf = kernelBtf(4, false);
    blobs.put(rawBtf);
    const db = olderCatalog(path);
    expect(db.prepare('PRAGMA table_info(kernels)').all().map((c) => (c as { name: string }).name)).not.toContain('pointer_size');
    insertOldKernel(db, 'debian/12/x86_64/6.1.0-47-amd64', { sha256: sha256Hex(tarBtf), size: tarBtf.length },
      { sha256: sha256Hex(tarball), size: tarball.length, format: 'xz/tar/btf', name: 'debian/12/x86_64/6.1.0-47-amd64.btf.tar.xz' });
    insertOldKernel(db, 'debian/12/s390x/6.1.0-47-s390x', { sha256: sha256Hex(rawBtf), size: rawBtf.length },
      { sha256: sha256Hex(rawBtf), size: rawBtf.length, format: 'btf', name: '6.1.0-47-s390x.btf' });
    // A kernel whose blobs are gone stays null rather than guessed.
    insertOldKernel(db, 'debian/12/arm64/6.1.0-47-arm64', { sha256: 'a'.repeat(64), size: 1 }, { sha256: 'b'.repeat(64), size: 1, format: 'btf', name: 'gone.btf' });
    db.close();

    const catalog = openCatalog(path);
    expect(catalog.sqlite.prepare('SELECT count(*) FROM __drizzle_migrations').pluck().get()).toBe(journal.entries.length);
    // Migrated, not yet filled: the columns read as null, never as a guess.
    expect(listKernels(catalog).map((k) => [k.arch, k.pointer_size, k.byte_order])).toEqual([['arm64', null, null], ['s390x', null, null], ['x86_64', null, null]]);
    // Its kernels were made before versions were recorded: by normalizer version 1.
    expect(meta(catalog.sqlite)).toEqual({ schema_version: String(journal.entries.length), normalizer_version: '1' });

    // The first ingest fills them (processIngest runs fillKernelLayouts before writing), even though its write is
    // refused: the catalog's shapes are normalizer version 1's, this code writes a newer one.
    const file = join(dir, '6.1.0-50-amd64.btf');
    writeFileSync(file, kernelBtf(8, true, 'mm_struct'));
    await expect(processIngest({ kernel: 'debian/12/x86_64/6.1.0-50-amd64', path: file, source: '6.1.0-50-amd64.btf', modules: [] }, { catalog, blobs }))
      .rejects.toMatchObject({ code: 'CATALOG_NEEDS_REINDEX' });
    expect(listKernels(catalog).map((k) => [k.uname_r, k.pointer_size, k.byte_order])).toEqual([
      ['6.1.0-47-arm64', null, null],
      ['6.1.0-47-s390x', 4, 'big'],
      ['6.1.0-47-amd64', 8, 'little'],
    ]);
    // The pass is made once per catalog: a later one reads nothing (not even the kernel whose blobs are gone, which
    // stays null), and later ingests do not pay for it.
    expect(meta(catalog.sqlite)).toMatchObject({ kernel_layouts_filled: '1' });
    expect(await fillKernelLayouts(catalog, blobs)).toEqual({ filled: [], missing: [] });
    expect(listKernels(catalog).map((k) => [k.uname_r, k.pointer_size, k.byte_order])[0]).toEqual(['6.1.0-47-arm64', null, null]);
    catalog.close();
  });

  it('fillKernelLayouts fills only null rows, in one pass, and reports what it could not', async () => {
    const path = join(dir, 'atlas.db');
    const catalog = openCatalog(path);
    const blobs = BlobStore.forCatalog(path);
    await ingestRaw(catalog, blobs, 'debian/12/x86_64/6.1.0-50-amd64', kernelBtf(8));
    await ingestRaw(catalog, blobs, 'debian/12/armhf/6.1.0-50-armmp', kernelBtf(4));
    catalog.sqlite.exec('UPDATE kernels SET pointer_size = NULL, byte_order = NULL');
    expect(await fillKernelLayouts(catalog, blobs)).toEqual({ filled: ['debian/12/x86_64/6.1.0-50-amd64', 'debian/12/armhf/6.1.0-50-armmp'], missing: [] });
    expect(listKernels(catalog).map((k) => [k.arch, k.pointer_size, k.byte_order])).toEqual([['armhf', 4, 'little'], ['x86_64', 8, 'little']]);
    catalog.close();
  });
});

describe('normalizer_version: a catalog made by another normalizer is not written to', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'btf-atlas-normver-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses ingest with CATALOG_NEEDS_REINDEX naming both versions; reads keep working', async () => {
    const path = join(dir, 'atlas.db');
    let catalog = openCatalog(path);
    const blobs = BlobStore.forCatalog(path);
    await ingestRaw(catalog, blobs, 'debian/12/x86_64/6.1.0-50-amd64', kernelBtf(8));
    const other = NORMALIZER_VERSION + 1;
    catalog.sqlite.prepare("UPDATE catalog_meta SET value = ? WHERE key = 'normalizer_version'").run(String(other));
    catalog.close();

    catalog = openCatalog(path);
    // Opening does not overwrite the recorded version of a catalog that holds kernels.
    expect(catalogVersions(catalog).normalizerVersion).toBe(other);
    expect(listKernels(catalog).map((k) => k.kernel)).toEqual(['debian/12/x86_64/6.1.0-50-amd64']);

    const prepared = await prepareKernel({ kref: parseKref('debian/12/x86_64/6.1.0-51-amd64'), file: { source: 'x.btf', bytes: kernelBtf(8, true, 'mm_struct') } });
    let err: unknown;
    try {
      writeKernel(catalog, blobs, prepared);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CatalogError);
    expect((err as CatalogError).code).toBe('CATALOG_NEEDS_REINDEX');
    expect((err as CatalogError).message).toContain(`normalizer version ${other}`);
    expect((err as CatalogError).message).toContain(`writes version ${NORMALIZER_VERSION}`);
    expect((err as CatalogError).message).toMatch(/--db NEW_FILE/);

    // Through the processor too, and the kernel is not listed as failed: the catalog refused, the input is fine.
    const file = join(dir, '6.1.0-52-amd64.btf');
    writeFileSync(file, kernelBtf(8, true, 'mm_struct'));
    await expect(processIngest({ kernel: 'debian/12/x86_64/6.1.0-52-amd64', path: file, source: '6.1.0-52-amd64.btf', modules: [] }, { catalog, blobs }))
      .rejects.toMatchObject({ code: 'CATALOG_NEEDS_REINDEX' });
    expect(failedKernels(catalog)).toEqual([]);
    expect(listKernels(catalog).map((k) => k.kernel)).toEqual(['debian/12/x86_64/6.1.0-50-amd64']);
    catalog.close();

    // Read-only opens read it as well.
    const ro = openCatalog(path, { readonly: true });
    expect(listKernels(ro).map((k) => [k.kernel, k.pointer_size])).toEqual([['debian/12/x86_64/6.1.0-50-amd64', 8]]);
    ro.close();
  });

  it('an empty catalog recorded by another version takes the current one (nothing to mix)', () => {
    const path = join(dir, 'atlas.db');
    openCatalog(path).close();
    const db = new Database(path);
    db.prepare("UPDATE catalog_meta SET value = '0' WHERE key = 'normalizer_version'").run();
    db.close();
    const catalog = openCatalog(path);
    expect(catalogVersions(catalog).normalizerVersion).toBe(NORMALIZER_VERSION);
    expect(() => assertWritable(catalog)).not.toThrow();
    catalog.close();
  });
});
