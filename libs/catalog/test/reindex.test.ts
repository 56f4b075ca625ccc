import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BlobStore, catalogVersions, groupPackages, jobDataOf, listFailures, listKernelStates, NORMALIZER_VERSION, openCatalog, processIngest, scanPath, sha256Hex,
} from '@btf-atlas/catalog';
import { fieldHistory, typeHistory } from '@btf-atlas/diff';
import { reindexCatalog, type ReindexEvent } from '@btf-atlas/catalog/reindex';
import { diffKernels } from '@btf-atlas/diff';

/** The small input of fixtures/catalog-v1 (see its README): four kernels in four forms, one failing input. */
const INPUT = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/catalog-v1/input');
const K1 = 'synthetic/1/x86_64/5.10.0-1-amd64';
const K2 = 'synthetic/1/x86_64/5.10.0-2-amd64';
const K4 = 'synthetic/1/x86_64/5.10.0-4-amd64';
const ARM = 'synthetic/1/arm64/5.10.0-2-arm64';

let dir: string;
let base: string;
let copies = 0;

/** A catalog of the input: the archive tree, then the package (a kernel from a .deb), as the fixture was made. */
async function buildCatalog(path: string): Promise<void> {
  const catalog = openCatalog(path);
  const blobs = BlobStore.forCatalog(path);
  try {
    const jobs = [
      ...groupPackages(scanPath(join(INPUT, 'archive'))).map((it) => jobDataOf(it)),
      ...groupPackages(scanPath(join(INPUT, 'packages'))).map((it) => jobDataOf(it, false, { modules: 'all', distro: 'synthetic', release: '1' })),
    ];
    for (const job of jobs) await processIngest(job, { catalog, blobs }).catch(() => undefined);
  } finally {
    catalog.close();
  }
}

/** A private copy of the base catalog and its blob store. */
function copyOfBase(): string {
  const to = join(dir, `copy-${++copies}`);
  mkdirSync(to);
  cpSync(base, join(to, 'atlas.db'));
  cpSync(`${base}.blobs`, join(to, 'atlas.db.blobs'), { recursive: true });
  return join(to, 'atlas.db');
}

/** What the catalog holds, in the order it holds it: kernel rows by id (with their ingest times), modules, failures. */
function rows(path: string): unknown {
  const db = new Database(path, { readonly: true });
  try {
    return {
      kernels: db.prepare(`SELECT distro, release, arch, uname_r, btf_sha256, source, source_format, source_sha256, archive_sha256, ingested_at,
                                  pointer_size, byte_order FROM kernels ORDER BY id`).all(),
      modules: db.prepare('SELECT k.uname_r, m.name, m.btf_sha256, m.source_sha256 FROM modules m JOIN kernels k ON k.id = m.kernel_id ORDER BY k.id, m.name').all(),
      failures: db.prepare('SELECT source, kref, code, message, job_id, failed_at FROM ingest_failures ORDER BY id').all(),
    };
  } finally {
    db.close();
  }
}

/** A few answers of every kind the read API gives. */
function answers(path: string): unknown {
  const catalog = openCatalog(path, { readonly: true });
  try {
    return JSON.parse(JSON.stringify({
      kernels: listKernelStates(catalog),
      failures: listFailures(catalog),
      vruntime: fieldHistory(catalog, 'task_struct.se.vruntime'),
      count: fieldHistory(catalog, 'demo_sb_info.count'),
      task: typeHistory(catalog, 'task_struct'),
      diff: diffKernels(catalog, K1, K4),
      diffArm: diffKernels(catalog, ARM, K2),
    }));
  } finally {
    catalog.close();
  }
}

const sha = (path: string): string => sha256Hex(readFileSync(path));

/** The sha256 of a blob a kernel (or its module) points at. */
function blobOf(path: string, sql: string, ...args: string[]): string {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).pluck().get(...args) as string;
  } finally {
    db.close();
  }
}

/** Replaces a blob's bytes (blobs are written read-only). */
function overwriteBlob(path: string, sha256: string, bytes: Uint8Array): void {
  const file = new BlobStore(`${path}.blobs`).pathOf(sha256);
  chmodSync(file, 0o644);
  writeFileSync(file, bytes);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-reindex-'));
  base = join(dir, 'base/atlas.db');
  await buildCatalog(base);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('reindexCatalog', () => {
  it('rebuilds every kernel in ingest order, with the same answers, failures and ingest times, keeping the old file', async () => {
    const path = copyOfBase();
    const before = { rows: rows(path), answers: answers(path), file: sha(path) };
    const events: ReindexEvent[] = [];
    const result = await reindexCatalog(path, { onProgress: (e) => events.push(e) });

    expect(result).toMatchObject({ path, kernels: [ARM, K1, K2, K4], dropped: [], failures: 1, fromNormalizer: NORMALIZER_VERSION, toNormalizer: NORMALIZER_VERSION });
    expect(result.shapes).toBeGreaterThan(0);
    expect(events.map((e) => (e.phase === 'kernel' ? `${e.index}/${e.total} ${e.kernel}` : e.phase))).toEqual(['start', `1/4 ${ARM}`, `2/4 ${K1}`, `3/4 ${K2}`, `4/4 ${K4}`, 'swap']);
    expect(rows(path)).toEqual(before.rows);
    expect(answers(path)).toEqual(before.answers);
    // The old catalog, byte for byte, under its backup name; it still answers.
    expect(result.backup).toBe(`${path}.v${NORMALIZER_VERSION}.bak`);
    expect(sha(result.backup as string)).toBe(before.file);
    expect(existsSync(`${path}.reindex.tmp`)).toBe(false);
    const catalog = openCatalog(path);
    try {
      expect(catalogVersions(catalog).normalizerVersion).toBe(NORMALIZER_VERSION);
    } finally {
      catalog.close();
    }
  });

  it('is really a new catalog: shapes and sets written afresh (a catalog with orphan rows loses them)', async () => {
    const path = copyOfBase();
    const db = new Database(path);
    db.prepare("INSERT INTO shapes (hash, kind, name, size, body) VALUES (x'00112233445566778899aabbccddeeff', 'struct', 'orphan', 8, '{\"members\":[]}')").run();
    db.close();
    await reindexCatalog(path);
    const after = new Database(path, { readonly: true });
    try {
      expect(after.prepare("SELECT count(*) FROM shapes WHERE name = 'orphan'").pluck().get()).toBe(0);
    } finally {
      after.close();
    }
  });

  it('keeps every backup (a second reindex does not overwrite the first), or none with keepBackup: false', async () => {
    const path = copyOfBase();
    const first = await reindexCatalog(path);
    const second = await reindexCatalog(path);
    expect(first.backup).toBe(`${path}.v${NORMALIZER_VERSION}.bak`);
    expect(second.backup).toBe(`${path}.v${NORMALIZER_VERSION}.bak.2`);
    const third = await reindexCatalog(path, { keepBackup: false });
    expect(third.backup).toBeNull();
    expect(existsSync(`${path}.v${NORMALIZER_VERSION}.bak.3`)).toBe(false);
    expect(answers(path)).toEqual(answers(first.backup as string));
  });

  it('holds the old catalog write-locked while it runs: no ingest can land in a file about to be replaced', async () => {
    const path = copyOfBase();
    let busy: string | undefined;
    await reindexCatalog(path, {
      onProgress: (e) => {
        if (e.phase !== 'kernel' || e.index !== 1) return;
        const other = new Database(path, { timeout: 0 });
        try {
          other.prepare('BEGIN IMMEDIATE').run();
          other.prepare('ROLLBACK').run();
        } catch (err) {
          busy = (err as { code?: string }).code;
        } finally {
          other.close();
        }
      },
    });
    expect(busy).toBe('SQLITE_BUSY');
  });

  it('fails with BLOB_MISSING naming the kernel and the blob when a blob is gone, the old catalog untouched', async () => {
    const path = copyOfBase();
    const moduleBlob = blobOf(path, "SELECT m.source_sha256 FROM modules m JOIN kernels k ON k.id = m.kernel_id WHERE k.uname_r = '5.10.0-2-amd64'");
    rmSync(new BlobStore(`${path}.blobs`).pathOf(moduleBlob));
    const file = sha(path);
    const err = await reindexCatalog(path).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'CatalogError', code: 'BLOB_MISSING' });
    expect((err as Error).message).toContain(`${K2}: module demo (sha256 ${moduleBlob})`);
    expect((err as Error).message).toContain('--drop-missing');
    expect(sha(path)).toBe(file);
    expect(existsSync(`${path}.reindex.tmp`)).toBe(false);
    expect(existsSync(`${path}.v${NORMALIZER_VERSION}.bak`)).toBe(false);
  });

  it('with dropMissing, leaves such a kernel out and lists it as failed (BLOB_MISSING), the others reindexed', async () => {
    const path = copyOfBase();
    const source = blobOf(path, "SELECT source_sha256 FROM kernels WHERE uname_r = '5.10.0-1-amd64'");
    rmSync(new BlobStore(`${path}.blobs`).pathOf(source));
    const result = await reindexCatalog(path, { dropMissing: true });
    expect(result.kernels).toEqual([ARM, K2, K4]);
    expect(result.dropped).toEqual([{ kernel: K1, missing: [`source synthetic/1/x86_64/5.10.0-1-amd64.btf.tar.xz (sha256 ${source})`] }]);
    const catalog = openCatalog(path, { readonly: true });
    try {
      const states = listKernelStates(catalog);
      expect(states.map((k) => `${k.kernel} ${k.state}`)).toEqual([`${ARM} ingested`, `${K1} failed`, `${K2} ingested`, 'synthetic/1/x86_64/5.10.0-3-amd64 failed', `${K4} ingested`]);
      expect(states.find((k) => k.kernel === K1)).toMatchObject({ failure: { code: 'BLOB_MISSING', message: expect.stringContaining('left out by reindex') } });
    } finally {
      catalog.close();
    }
  });

  it('stops before the swap when a kernel does not ingest again, naming it; the old catalog untouched', async () => {
    const path = copyOfBase();
    overwriteBlob(path, blobOf(path, "SELECT source_sha256 FROM kernels WHERE uname_r = '5.10.0-1-amd64'"), Buffer.from('not btf any more'));
    const file = sha(path);
    const err = await reindexCatalog(path).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'BtfError', code: 'BTF_UNKNOWN_FORMAT' });
    expect((err as Error).message).toContain(`reindex of ${K1} failed, the old catalog is kept`);
    expect(sha(path)).toBe(file);
    expect(existsSync(`${path}.reindex.tmp`)).toBe(false);
  });

  it('refuses a source blob that gives another btf than the catalog records (CATALOG_CORRUPT)', async () => {
    const path = copyOfBase();
    const k2 = blobOf(path, "SELECT source_sha256 FROM kernels WHERE uname_r = '5.10.0-2-amd64'");
    const k4 = blobOf(path, "SELECT btf_sha256 FROM kernels WHERE uname_r = '5.10.0-4-amd64'");
    overwriteBlob(path, k2, readFileSync(new BlobStore(`${path}.blobs`).pathOf(k4)));
    // The arm64 kernel, ingested first, has the same BTF bytes (one blob): it is the first to read the wrong ones.
    await expect(reindexCatalog(path)).rejects.toMatchObject({ code: 'CATALOG_CORRUPT', message: expect.stringContaining(`reindex of ${ARM}: its stored source`) });
  });

  it('starts over when an interrupted run left its temp file behind', async () => {
    const path = copyOfBase();
    writeFileSync(`${path}.reindex.tmp`, 'half a catalog');
    writeFileSync(`${path}.reindex.tmp-wal`, 'and its wal');
    const before = answers(path);
    await reindexCatalog(path);
    expect(answers(path)).toEqual(before);
    expect(existsSync(`${path}.reindex.tmp-wal`)).toBe(false);
  });

  it('refuses what is not a catalog with NOT_A_CATALOG, creating nothing', async () => {
    const missing = join(dir, 'none/atlas.db');
    await expect(reindexCatalog(missing)).rejects.toMatchObject({ code: 'NOT_A_CATALOG', message: `no catalog at ${missing}: no such file` });
    expect(existsSync(missing)).toBe(false);
    const text = join(dir, 'text.db');
    writeFileSync(text, 'hello, this is not sqlite at all, just some text that is long enough to have a header\n'.repeat(10));
    await expect(reindexCatalog(text)).rejects.toMatchObject({ code: 'NOT_A_CATALOG', message: expect.stringContaining(`${text} is not a btf-atlas catalog`) });
    const other = join(dir, 'other.db');
    const db = new Database(other);
    db.exec('CREATE TABLE kernels (id INTEGER)');
    db.close();
    await expect(reindexCatalog(other)).rejects.toMatchObject({
      code: 'NOT_A_CATALOG',
      message: `${other} is an sqlite database but not a btf-atlas catalog (no modules, shapes, shape_sets, kernel_sets, ingest_failures tables)`,
    });
    await expect(reindexCatalog(dir)).rejects.toMatchObject({ code: 'NOT_A_CATALOG', message: `${dir} is a directory, not a catalog file` });
    expect(existsSync(`${text}.reindex.tmp`)).toBe(false);
  });
});
