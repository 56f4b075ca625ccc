import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BlobStore, jobDataOf, listArchiveKernels, openCatalog, parseKref, scanPath } from '@btf-atlas/catalog';
import { runJob } from '@btf-atlas/queue';
import { sampleBtf } from '../../btf/test/support/builder.js';

const dir = mkdtempSync(join(tmpdir(), 'btf-atlas-derive-enqueue-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('an ingest whose derive job cannot be enqueued', () => {
  it('still completes with its result (the kernel is committed; the mirror builds the tarball on request)', async () => {
    const db = join(dir, 'atlas.db');
    const catalog = openCatalog(db);
    const file = join(dir, 'k.btf');
    writeFileSync(file, sampleBtf());
    const kernel = 'debian/12/x86_64/1.0.0-9-amd64';
    const asked: string[] = [];
    const logged: string[] = [];
    try {
      const result = await runJob(
        { id: '1', name: 'ingest', data: jobDataOf(scanPath(file, parseKref(kernel))[0]), updateProgress: async () => undefined },
        {
          catalog,
          blobs: BlobStore.forCatalog(db),
          queue: { add: async (name) => { asked.push(name); throw new Error('Connection is closed.'); } },
          log: (_obj, msg) => void logged.push(msg),
        },
      );
      expect(result).toMatchObject({ kernel, status: 'ingested' });
      expect(asked).toEqual(['derive']);
      expect(logged).toContain('derive job not enqueued');
      expect(listArchiveKernels(catalog)).toMatchObject([{ kernel, archiveSha256: null }]);
    } finally {
      catalog.close();
    }
  });
});
