import { mkdirSync, readdirSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore, checkUploadTarget, uploadVerdict, sha256Hex, type Catalog } from '@btf-atlas/catalog';
import { gcBlobs, referencedBlobs, removeFailedJobBlobs } from '@btf-atlas/catalog/gc';
import { SERIES_KERNELS, seriesCatalog } from './support/series-catalog.js';

const HOUR = 3_600_000;

/** Sets a file's mtime `ms` in the past. */
function age(path: string, ms: number): void {
  const t = new Date(Date.now() - ms);
  utimesSync(path, t, t);
}

/** Every file below the blob store, relative to it. */
function storeFiles(blobs: BlobStore): string[] {
  return readdirSync(blobs.dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(blobs.dir.length + 1))
    .sort();
}

describe('blob store gc', () => {
  let fixture: Awaited<ReturnType<typeof seriesCatalog>>;
  let catalog: Catalog;
  let blobs: BlobStore;
  let refs: Set<string>;
  const orphan = (tag: string): string => blobs.put(Buffer.from(`orphan ${tag}`));

  beforeAll(async () => {
    fixture = await seriesCatalog(SERIES_KERNELS.slice(0, 2));
    catalog = fixture.catalog;
    blobs = BlobStore.forCatalog(fixture.db);
    refs = referencedBlobs(catalog);
  });
  afterAll(() => fixture.close());

  it('finds every blob the rows refer to: sources, raw btf, archives and modules', () => {
    const rows = catalog.sqlite.prepare('SELECT source_sha256 AS s, btf_sha256 AS b, archive_sha256 AS a FROM kernels').all() as { s: string; b: string; a: string | null }[];
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      expect(refs.has(r.s)).toBe(true);
      expect(refs.has(r.b)).toBe(true);
      if (r.a !== null) expect(refs.has(r.a)).toBe(true);
    }
    const mods = catalog.sqlite.prepare('SELECT btf_sha256 FROM modules').pluck().all() as string[];
    for (const m of mods) expect(refs.has(m)).toBe(true);
    // Every referenced blob the ingest stored is in the store.
    for (const sha of refs) if (blobs.has(sha)) expect(storeFiles(blobs)).toContain(`${sha.slice(0, 2)}/${sha}`);
  });

  it('--dry-run lists old orphans and temp files, removes nothing; the real run removes them and keeps the rest', () => {
    const before = storeFiles(blobs);
    const old1 = orphan('a');
    const old2 = orphan('b');
    const young = orphan('c');
    age(blobs.pathOf(old1), 2 * HOUR);
    age(blobs.pathOf(old2), 3 * HOUR);
    const tmp = join(blobs.dir, old1.slice(0, 2), `${old1}.0a1b2c.tmp`);
    writeFileSync(tmp, 'half a blob');
    age(tmp, 2 * HOUR);
    mkdirSync(join(blobs.dir, 'incoming'), { recursive: true });
    const part = join(blobs.dir, 'incoming', '123-abcdef.part');
    writeFileSync(part, 'half an upload');
    age(part, 2 * HOUR);
    const foreign = join(blobs.dir, 'README');
    writeFileSync(foreign, 'not a blob');
    age(foreign, 10 * HOUR);
    // Referenced blobs are old too: age alone never removes them.
    for (const sha of refs) if (blobs.has(sha)) age(blobs.pathOf(sha), 5 * HOUR);

    const dry = gcBlobs(catalog, blobs, { dryRun: true });
    const listed = dry.removed.map((e) => e.path).sort();
    expect(listed).toEqual([`${old1.slice(0, 2)}/${old1}`, `${old2.slice(0, 2)}/${old2}`, tmp.slice(blobs.dir.length + 1), 'incoming/123-abcdef.part'].sort());
    expect(dry.removedBytes).toBe(dry.removed.reduce((n, e) => n + e.bytes, 0));
    expect(dry.young).toBe(1);
    expect(dry.referenced).toBe(before.length);
    expect(storeFiles(blobs)).toEqual([...before, `${old1.slice(0, 2)}/${old1}`, `${old2.slice(0, 2)}/${old2}`, `${young.slice(0, 2)}/${young}`, tmp.slice(blobs.dir.length + 1), 'incoming/123-abcdef.part', 'README'].sort());

    const real = gcBlobs(catalog, blobs);
    expect(real.removed.map((e) => e.path).sort()).toEqual(listed);
    expect(existsSync(blobs.pathOf(old1))).toBe(false);
    expect(existsSync(tmp)).toBe(false);
    expect(existsSync(part)).toBe(false);
    expect(blobs.has(young)).toBe(true);
    expect(existsSync(foreign)).toBe(true);
    for (const f of before) expect(existsSync(join(blobs.dir, f))).toBe(true);
    // Nothing left to do but the young one, which a grace of 0 takes.
    expect(gcBlobs(catalog, blobs).removed).toEqual([]);
    expect(gcBlobs(catalog, blobs, { graceMs: 0 }).removed.map((e) => e.sha256)).toEqual([young]);
  });

  it('keeps an old orphan that an ingest stores again (put refreshes its mtime), and protected blobs', () => {
    const sha = orphan('reused');
    age(blobs.pathOf(sha), 5 * HOUR);
    blobs.put(Buffer.from('orphan reused'));
    const kept = orphan('queued');
    age(blobs.pathOf(kept), 5 * HOUR);
    const r = gcBlobs(catalog, blobs, { protect: new Set([kept]) });
    expect(r.removed).toEqual([]);
    expect(blobs.has(sha) && blobs.has(kept)).toBe(true);
  });

  it('after a failed job removes its upload when nothing refers to it and it predates the job', () => {
    const upload = orphan('upload');
    age(blobs.pathOf(upload), 1000);
    const data = { kernel: 'debian/12/x86_64/9.9.9-1-amd64', path: blobs.pathOf(upload), source: `upload:${upload}`, modules: [] };
    expect(removeFailedJobBlobs(catalog, blobs, data, Date.now())).toEqual([upload]);
    expect(blobs.has(upload)).toBe(false);
    // Uploaded again (same bytes) after the failed job started: kept for the job that will read it.
    const again = orphan('upload 2');
    const started = Date.now() - 60_000;
    expect(removeFailedJobBlobs(catalog, blobs, { ...data, path: blobs.pathOf(again) }, started)).toEqual([]);
    expect(blobs.has(again)).toBe(true);
    // A blob a kernel refers to is never removed; a file outside the store is never touched.
    const referenced = [...refs].find((s) => blobs.has(s))!;
    expect(removeFailedJobBlobs(catalog, blobs, { ...data, path: blobs.pathOf(referenced) }, Date.now() + HOUR)).toEqual([]);
    expect(blobs.has(referenced)).toBe(true);
    expect(removeFailedJobBlobs(catalog, blobs, { ...data, path: join(fixture.dir, 'atlas.db') }, Date.now() + HOUR)).toEqual([]);
  });

  it('checks an upload\'s KREF and what the catalog holds under it before the upload is stored', () => {
    expect(() => checkUploadTarget(catalog, 'debian/12/x86_64')).toThrow(expect.objectContaining({ code: 'CATALOG_BAD_KREF' }));
    expect(() => checkUploadTarget(catalog, 'debian/12/x86_64/../x')).toThrow(expect.objectContaining({ code: 'CATALOG_BAD_KREF' }));
    const kref = SERIES_KERNELS[0].kref;
    const row = catalog.sqlite.prepare("SELECT source_sha256 FROM kernels WHERE distro || '/' || release || '/' || arch || '/' || uname_r = ?").pluck().get(kref) as string;
    const target = checkUploadTarget(catalog, kref);
    expect(target.existing?.sourceSha256).toBe(row);
    expect(uploadVerdict(target, row)).toBe('unchanged');
    expect(uploadVerdict(target, sha256Hex(Buffer.from('other')))).toBe('store');
    expect(uploadVerdict(checkUploadTarget(catalog, kref, { replace: true }), row)).toBe('store');
    const absent = checkUploadTarget(catalog, 'debian/12/x86_64/9.9.9-1-amd64');
    expect(absent.existing).toBeUndefined();
    expect(uploadVerdict(absent, row)).toBe('store');
  });
});
