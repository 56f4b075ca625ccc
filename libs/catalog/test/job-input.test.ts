/**
 * Issue 13: a job's input paths are read through the one capped reader. A FIFO or a device is refused before it
 * is read (and without waiting for a writer), a sparse file over the cap by its size alone; both are recorded as
 * the input's failure with their code.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobStore, openCatalog, processIngest, type Catalog } from '@btf-atlas/catalog';
import { MAX_INPUT_FILE_BYTES } from '@btf-atlas/catalog/input-file';

describe('job input files', () => {
  let dir: string;
  let catalog: Catalog;
  let blobs: BlobStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'btf-atlas-job-input-'));
    const db = join(dir, 'atlas.db');
    catalog = openCatalog(db);
    blobs = BlobStore.forCatalog(db);
  });
  afterEach(() => {
    catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const failures = (): { code: string; source: string }[] =>
    catalog.sqlite.prepare('SELECT code, source FROM ingest_failures ORDER BY id').all() as { code: string; source: string }[];

  const ingest = (path: string, modules: { name: string; path: string; source: string }[] = []) =>
    processIngest({ kernel: 'debian/12/x86_64/6.1.0-50-amd64', path, source: '6.1.0-50-amd64.btf', modules }, { catalog, blobs }).then(
      () => undefined,
      (e: unknown) => e as Error & { code: string },
    );

  it('a FIFO is refused at once with PKG_INPUT_NOT_REGULAR, nobody writing to it', async () => {
    const fifo = join(dir, 'input.btf');
    execFileSync('mkfifo', [fifo]);
    const started = performance.now();
    const err = await ingest(fifo);
    expect(err?.code).toBe('PKG_INPUT_NOT_REGULAR');
    expect(err?.message).toMatch(/is a fifo, not a regular file/);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(failures()).toEqual([{ code: 'PKG_INPUT_NOT_REGULAR', source: '6.1.0-50-amd64.btf' }]);
  });

  it('a character device as a module file is refused too', async () => {
    const file = join(dir, 'vmlinux.btf');
    writeFileSync(file, Buffer.from('a regular file; the module beside it is the device'));
    const err = await ingest(file, [{ name: 'zero', path: '/dev/zero', source: 'zero.ko' }]);
    expect(err?.code).toBe('PKG_INPUT_NOT_REGULAR');
  });

  it('a sparse file over the cap is refused by its size before any byte is read', async () => {
    const file = join(dir, 'huge.btf');
    const fd = openSync(file, 'w');
    ftruncateSync(fd, MAX_INPUT_FILE_BYTES + 1);
    closeSync(fd);
    const before = process.memoryUsage().rss;
    const err = await ingest(file);
    expect(err?.code).toBe('PKG_INPUT_TOO_LARGE');
    expect(err?.message).toMatch(/refused before reading/);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });
});
