import { gzipSync } from 'node:zlib';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractBtf, unxz } from '@btf-atlas/btf';
import {
  archiveFileOf, archiveFileReady, archiveKernels, archiveManifest, BlobStore, deriveKernelFiles, buildBtfTarXz, CatalogError, jobDataOf, listArchiveKernels,
  loadKernelBtf, openCatalog, processIngest, rawBtfFileOf, scanPath, sha256Hex, writeReproducibleTar, type Catalog,
} from '@btf-atlas/catalog';
import { CORPUS_DIR } from '../../btf/test/support/corpus.js';
import { sampleBtf } from '../../btf/test/support/builder.js';

const CORPUS_KERNEL = join(CORPUS_DIR, 'archive/debian/12/x86_64/6.1.0-50-amd64.btf.tar.xz');

/** The fields of a ustar header, as text. */
function header(block: Uint8Array) {
  const text = (off: number, len: number) => Buffer.from(block.subarray(off, off + len)).toString('latin1');
  const field = (off: number, len: number) => text(off, len).replace(/\0.*$/s, '');
  return {
    name: field(0, 100),
    mode: text(100, 8),
    uid: text(108, 8),
    gid: text(116, 8),
    size: parseInt(field(124, 12), 8),
    mtime: text(136, 12),
    checksum: parseInt(field(148, 8).trim(), 8),
    type: text(156, 1),
    magic: text(257, 6),
    version: text(263, 2),
    uname: field(265, 32),
    gname: field(297, 32),
  };
}

function checksumOf(block: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  return sum;
}

describe('reproducible btfhub-archive tarballs', () => {
  let raw: Uint8Array;

  beforeAll(async () => {
    raw = (await extractBtf(readFileSync(CORPUS_KERNEL), 'corpus'))[0].bytes;
  });

  it('gives the same bytes for the same BTF, and unpacks to that BTF as UNAME_R.btf', async () => {
    const a = await buildBtfTarXz('6.1.0-50-amd64', raw);
    const b = await buildBtfTarXz('6.1.0-50-amd64', raw.slice());
    expect(sha256Hex(a)).toBe(sha256Hex(b));
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
    // Compressed as btfhub's own files are (the corpus tarball of this kernel is 1.0 MB for 4.35 MB of BTF).
    expect(a.length).toBeLessThan(raw.length / 3);
    const blobs = await extractBtf(a, 'x.btf.tar.xz');
    expect(blobs).toHaveLength(1);
    expect(blobs[0]).toMatchObject({ role: 'vmlinux', formats: ['xz', 'tar', 'btf'], name: 'x.btf.tar.xz:6.1.0-50-amd64.btf' });
    expect(sha256Hex(blobs[0].bytes)).toBe(sha256Hex(raw));
    // Another name or other bytes give another file.
    expect(sha256Hex(await buildBtfTarXz('6.1.0-51-amd64', raw))).not.toBe(sha256Hex(a));
  });

  it('writes one regular file: mode 0444, uid/gid 0, mtime 0, ustar, valid checksum, two zero blocks at the end', async () => {
    const tar = await unxz(await buildBtfTarXz('6.1.0-50-amd64', raw));
    expect(Buffer.compare(Buffer.from(tar), Buffer.from(writeReproducibleTar('6.1.0-50-amd64.btf', raw)))).toBe(0);
    const h = header(tar.subarray(0, 512));
    expect(h).toEqual({
      name: '6.1.0-50-amd64.btf',
      mode: '0000444\0',
      uid: '0000000\0',
      gid: '0000000\0',
      size: raw.length,
      mtime: '00000000000\0',
      checksum: checksumOf(tar.subarray(0, 512)),
      type: '0',
      magic: 'ustar\0',
      version: '00',
      uname: 'root',
      gname: 'root',
    });
    const dataBlocks = Math.ceil(raw.length / 512) * 512;
    expect(tar.length).toBe(512 + dataBlocks + 1024);
    expect(Buffer.compare(Buffer.from(tar.subarray(512, 512 + raw.length)), Buffer.from(raw))).toBe(0);
    expect(tar.subarray(512 + raw.length).every((x) => x === 0)).toBe(true);
  });

  it('carries a uname -r longer than the 100-byte ustar name in a pax header', async () => {
    const long = `6.1.0-50-${'x'.repeat(120)}`;
    const tar = writeReproducibleTar(`${long}.btf`, sampleBtf());
    expect(header(tar.subarray(0, 512)).type).toBe('x');
    const blobs = await extractBtf(await buildBtfTarXz(long, sampleBtf()), 'long.btf.tar.xz');
    expect(blobs[0].name).toBe(`long.btf.tar.xz:${long}.btf`);
  });
});

describe('archive files of ingested kernels', () => {
  let dir: string;
  let db: string;
  let catalog: Catalog;
  let blobs: BlobStore;
  const small = sampleBtf();
  const RAW = 'debian/12/x86_64/1.0.0-1-amd64';
  const TARBALL = 'debian/12/x86_64/1.0.0-2-amd64';
  const GZIP = 'debian/12/x86_64/1.0.0-3-amd64';
  /** A btfhub tarball of 1.0.0-2 filed under another kernel's name. */
  const MISFILED = 'debian/12/x86_64/1.0.0-7-amd64';
  let tarball: Uint8Array;
  let gz: Uint8Array;

  const row = (kref: string) => listArchiveKernels(catalog).find((k) => k.kernel === kref)!;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'btf-atlas-archive-'));
    const tree = join(dir, 'archive/debian/12/x86_64');
    mkdirSync(tree, { recursive: true });
    tarball = await buildBtfTarXz('1.0.0-2-amd64', small);
    gz = gzipSync(small);
    writeFileSync(join(tree, '1.0.0-1-amd64.btf'), small);
    writeFileSync(join(tree, '1.0.0-2-amd64.btf.tar.xz'), tarball);
    writeFileSync(join(tree, '1.0.0-3-amd64.btf.gz'), gz);
    writeFileSync(join(tree, '1.0.0-7-amd64.btf.tar.xz'), tarball);
    db = join(dir, 'atlas.db');
    catalog = openCatalog(db);
    blobs = BlobStore.forCatalog(db);
    for (const item of scanPath(join(dir, 'archive'))) await processIngest(jobDataOf(item), { catalog, blobs });
  });

  afterAll(() => {
    catalog?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('records the source as the archive file of a kernel ingested from a btfhub tarball', async () => {
    expect(row(TARBALL)).toMatchObject({ archiveSha256: sha256Hex(tarball), archiveSize: tarball.length });
    expect(await archiveFileOf(catalog, blobs, TARBALL)).toEqual({ path: blobs.pathOf(sha256Hex(tarball)), sha256: sha256Hex(tarball), size: tarball.length });
  });

  it('builds a reproducible tarball after ingest (derive) for raw BTF, compressed raw BTF, and a tarball whose member has another name', async () => {
    for (const [kref, uname] of [[RAW, '1.0.0-1-amd64'], [GZIP, '1.0.0-3-amd64'], [MISFILED, '1.0.0-7-amd64']]) {
      const expected = await buildBtfTarXz(uname, small);
      // The ingest committed the kernel without it: its derive job makes it, once.
      expect(row(kref)).toMatchObject({ archiveSha256: null, archiveSize: null });
      expect(archiveFileReady(catalog, blobs, kref, 'tar.xz')).toBe(false);
      const derived = await deriveKernelFiles(catalog, blobs, kref);
      expect(derived).toMatchObject({ kernel: kref, archive: { sha256: sha256Hex(expected), size: expected.length }, built: true });
      expect((await deriveKernelFiles(catalog, blobs, kref)).built).toBe(false);
      expect(row(kref)).toMatchObject({ archiveSha256: sha256Hex(expected), archiveSize: expected.length });
      const file = await archiveFileOf(catalog, blobs, kref);
      expect(sha256Hex(readFileSync(file.path))).toBe(sha256Hex(expected));
      // What clients unpack: UNAME_R.btf.
      expect((await extractBtf(readFileSync(file.path), 'x'))[0].name).toBe(`x:${uname}.btf`);
    }
  });

  it('puts the raw BTF in the blob store on first use, extracted from the source and checked', async () => {
    const btfSha = sha256Hex(small);
    // Raw BTF input: the source is the raw BTF itself.
    expect(blobs.has(btfSha)).toBe(true);
    unlinkSync(blobs.pathOf(btfSha));
    const [a, b] = await Promise.all([rawBtfFileOf(catalog, blobs, TARBALL), rawBtfFileOf(catalog, blobs, GZIP)]);
    expect(a).toEqual({ path: blobs.pathOf(btfSha), sha256: btfSha, size: small.length });
    expect(b).toEqual(a);
    expect(sha256Hex(readFileSync(a.path))).toBe(btfSha);
    expect(sha256Hex(await loadKernelBtf(catalog, blobs, RAW))).toBe(btfSha);
  });

  it('fills the archive columns of an older catalog (nulls) on first request, with the same bytes', async () => {
    const before = listArchiveKernels(catalog);
    const built = row(RAW).archiveSha256!;
    catalog.sqlite.prepare('UPDATE kernels SET archive_sha256 = NULL, archive_size = NULL').run();
    unlinkSync(blobs.pathOf(built));
    expect(listArchiveKernels(catalog).every((k) => k.archiveSha256 === null && k.archiveSize === null)).toBe(true);

    const raw = await archiveFileOf(catalog, blobs, RAW);
    expect(raw.sha256).toBe(built);
    expect(blobs.has(raw.sha256)).toBe(true);
    expect(row(RAW)).toMatchObject({ archiveSha256: raw.sha256, archiveSize: raw.size });
    expect(row(TARBALL).archiveSha256).toBeNull();
    // An older catalog's misfiled tarball is not served as is either.
    expect((await archiveFileOf(catalog, blobs, MISFILED)).sha256).toBe(sha256Hex(await buildBtfTarXz('1.0.0-7-amd64', small)));

    const all = await archiveKernels(catalog, blobs);
    expect(all.map((k) => [k.kernel, k.archiveSha256, k.archiveSize])).toEqual(before.map((k) => [k.kernel, k.archiveSha256, k.archiveSize]));
    expect(listArchiveKernels(catalog)).toEqual(before);
  });

  it('makes the manifest in the datadog-agent catalog shape', async () => {
    const m = await archiveManifest(catalog, blobs);
    expect(JSON.parse(JSON.stringify(m))).toEqual({
      x86_64: {
        debian: {
          '12': {
            '1.0.0-1-amd64': row(RAW).archiveSha256,
            '1.0.0-2-amd64': sha256Hex(tarball),
            '1.0.0-3-amd64': row(GZIP).archiveSha256,
            '1.0.0-7-amd64': row(MISFILED).archiveSha256,
          },
        },
      },
    });
    expect(Object.keys(m.x86_64.debian['12'])).toEqual(['1.0.0-1-amd64', '1.0.0-2-amd64', '1.0.0-3-amd64', '1.0.0-7-amd64']);
  });

  it('refuses an unknown kernel with close names, and says when bytes are gone from the store', async () => {
    const err = await archiveFileOf(catalog, blobs, 'debian/12/x86_64/1.0.0-4-amd64').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CatalogError);
    expect(err).toMatchObject({ code: 'KERNEL_NOT_FOUND' });
    expect((err as CatalogError).suggestions).toContain(RAW);

    // A btfhub tarball is only ever the source: without it there is nothing to serve.
    catalog.sqlite.prepare('UPDATE kernels SET archive_sha256 = NULL, archive_size = NULL WHERE uname_r = ?').run('1.0.0-2-amd64');
    unlinkSync(blobs.pathOf(sha256Hex(tarball)));
    await expect(archiveFileOf(catalog, blobs, TARBALL)).rejects.toMatchObject({ code: 'CATALOG_CORRUPT' });
    unlinkSync(blobs.pathOf(sha256Hex(small)));
    unlinkSync(blobs.pathOf(sha256Hex(gz)));
    await expect(rawBtfFileOf(catalog, blobs, GZIP)).rejects.toMatchObject({ code: 'CATALOG_CORRUPT' });
  });
});
