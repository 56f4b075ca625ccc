import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BlobStore, CatalogError, failedKernels, groupPackages, jobDataOf, listKernels, openCatalog, processIngest, scanPath, type Catalog,
} from '@btf-atlas/catalog';
import { baseBtf, bzImage, deb, elfWithBtf, moduleBtf, zstdRaw } from '../../pkg/test/support/build.js';

const control = (name: string, version: string) => `Package: ${name}\nVersion: ${version}\nArchitecture: arm64\nMaintainer: Debian Kernel Team <debian-kernel@lists.debian.org>\nDescription: t\n`;

describe('ingest of distro packages', () => {
  let dir: string;
  let catalog: Catalog;
  let blobs: BlobStore;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'btf-atlas-pkg-ingest-'));
    const db = join(dir, 'atlas.db');
    catalog = openCatalog(db);
    blobs = BlobStore.forCatalog(db);
    const image = bzImage(zstdRaw(elfWithBtf(baseBtf())));
    const ko = zstdRaw(elfWithBtf(moduleBtf()));
    // A bookworm backport: the version says ~bpo12, modules beside vmlinuz in one package.
    writeFileSync(join(dir, 'linux-image-6.12.9+bpo-arm64_6.12.9-1~bpo12+1_arm64.deb'), await deb([
      { path: './boot/vmlinuz-6.12.9+bpo-arm64', data: image },
      { path: './lib/modules/6.12.9+bpo-arm64/kernel/fs/ext4/ext4.ko.zst', data: ko },
    ], { control: control('linux-image-6.12.9+bpo-arm64', '6.12.9-1~bpo12+1') }));
    // A bookworm kernel whose version names no release: needs --release.
    writeFileSync(join(dir, 'linux-image-6.1.0-99-arm64_6.1.176-1_arm64.deb'), await deb([
      { path: './boot/vmlinuz-6.1.0-99-arm64', data: image },
    ], { control: control('linux-image-6.1.0-99-arm64', '6.1.176-1') }));
  });

  afterAll(() => {
    catalog?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('names the kernel from the package metadata, never from the path', async () => {
    const items = groupPackages(scanPath(join(dir, 'linux-image-6.12.9+bpo-arm64_6.12.9-1~bpo12+1_arm64.deb')));
    expect(items).toHaveLength(1);
    expect(items[0].kref).toBeUndefined();
    const r = await processIngest(jobDataOf(items[0], false, { modules: 'all' }), { catalog, blobs });
    expect(r).toMatchObject({ kernel: 'debian/12/arm64/6.12.9+bpo-arm64', status: 'ingested', modules: ['ext4'] });
    // again: skipped, nothing decoded
    expect((await processIngest(jobDataOf(items[0], false, { modules: 'all' }), { catalog, blobs })).status).toBe('skipped');
  });

  it('asks for --release where the version names none, records the failure, then takes --release', async () => {
    const [item] = scanPath(join(dir, 'linux-image-6.1.0-99-arm64_6.1.176-1_arm64.deb'));
    const err = await processIngest(jobDataOf(item), { catalog, blobs }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CatalogError);
    expect((err as CatalogError).message).toMatch(/pass --release/);
    const r = await processIngest(jobDataOf(item, false, { release: '12' }), { catalog, blobs });
    expect(r.kernel).toBe('debian/12/arm64/6.1.0-99-arm64');
    expect(listKernels(catalog).map((k) => k.kernel).sort()).toEqual(['debian/12/arm64/6.1.0-99-arm64', 'debian/12/arm64/6.12.9+bpo-arm64']);
    expect(failedKernels(catalog)).toEqual([]);
  });

  it('a folder of packages is scanned too (each package one kernel here)', () => {
    const items = scanPath(dir);
    expect(items.filter((i) => i.packages).map((i) => i.source).sort()).toEqual([
      'linux-image-6.1.0-99-arm64_6.1.176-1_arm64.deb', 'linux-image-6.12.9+bpo-arm64_6.12.9-1~bpo12+1_arm64.deb',
    ]);
  });
});
