import { existsSync, utimesSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore, deriveKernelFiles, openCatalog } from '@btf-atlas/catalog';
import { referencedBlobs } from '@btf-atlas/catalog/gc';
import { SERIES_KERNELS, seriesCatalog } from '../../../libs/catalog/test/support/series-catalog.js';
import { cliOn } from './support.js';

interface GcJson {
  dry_run: boolean;
  grace_ms: number;
  removed: { sha256?: string; path: string; bytes: number; kind: string }[];
  removed_count: number;
  removed_bytes: number;
  referenced: number;
  young: number;
}

describe('btf-atlas gc', () => {
  let fixture: Awaited<ReturnType<typeof seriesCatalog>>;
  let blobs: BlobStore;
  const cli = cliOn(() => fixture.db);

  beforeAll(async () => {
    fixture = await seriesCatalog(SERIES_KERNELS.slice(0, 1));
    blobs = BlobStore.forCatalog(fixture.db);
    // Its derive job too: the tarball it records is a referenced blob that gc keeps.
    await deriveKernelFiles(fixture.catalog, blobs, SERIES_KERNELS[0].kref);
    fixture.catalog.close();
  });
  afterAll(() => fixture.close());

  it('--dry-run reports the orphans, the real run removes them, referenced blobs stay', () => {
    const old = blobs.put(Buffer.from('a failed upload'));
    const t = new Date(Date.now() - 2 * 3_600_000);
    utimesSync(blobs.pathOf(old), t, t);
    const young = blobs.put(Buffer.from('an ingest in progress'));

    const dry = cli('gc', '--dry-run', '--json');
    expect(dry.status, dry.stderr).toBe(0);
    const d = JSON.parse(dry.stdout) as GcJson;
    expect(d).toMatchObject({ dry_run: true, grace_ms: 3_600_000, removed_count: 1, young: 1 });
    expect(d.removed).toEqual([{ sha256: old, path: `${old.slice(0, 2)}/${old}`, bytes: 15, kind: 'blob' }]);
    expect(d.referenced).toBeGreaterThanOrEqual(2);
    expect(blobs.has(old)).toBe(true);

    const text = cli('gc');
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toBe(`removed ${old.slice(0, 2)}/${old} (blob, 15 bytes)\n`);
    expect(text.stderr).toMatch(/removed 1 file\(s\), 15 bytes; kept \d+ referenced .* and 1 younger than 1h/);
    expect(blobs.has(old)).toBe(false);
    expect(blobs.has(young)).toBe(true);

    const again = JSON.parse(cli('gc', '--json', '--grace', '0').stdout) as GcJson;
    expect(again.removed.map((e) => e.sha256)).toEqual([young]);
    expect(again.referenced).toBe(d.referenced);
    // Every blob the kernel's rows name is still in the store.
    const catalog = openCatalog(fixture.db);
    try {
      const refs = [...referencedBlobs(catalog)].filter((s) => s !== null);
      expect(refs.length).toBeGreaterThanOrEqual(2);
      for (const sha of refs) expect(existsSync(blobs.pathOf(sha)), sha).toBe(true);
    } finally {
      catalog.close();
    }
  });

  it('refuses a grace that is not a duration as a usage error, and a missing catalog with exit 1', () => {
    const r = cli('gc', '--grace', 'soon');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--grace "soon" is not a duration');
    const missing = cli('gc', '--db', `${fixture.dir}/nope.db`);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('CATALOG_MISSING');
  });
});
