import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore, listKernels, openCatalog, type Catalog, type IngestJobData } from '@btf-atlas/catalog';
import { runJob, runSync, type SyncJobData, type SyncResult } from '@btf-atlas/queue';
import { baseBtf, bzImage, deb, elfWithBtf, gzip, moduleBtf, zstdRaw } from '../../pkg/test/support/build.js';
import { writeElf } from '../../btf/test/support/elf-writer.js';
import { dwarfToolsFor } from '../../pkg/test/support/tools.js';
import { packagesText, publish, sha256, stanza } from '../../sync/test/support/repo.js';
import { startServer, type FixtureServer } from '../../sync/test/support/server.js';
import { startQueue, type QueueHarness } from './support.js';

// A Debian mirror on loopback whose sid suite offers one kernel the way sid ships it: linux-binary-U (vmlinuz,
// a bzImage around an ELF vmlinux with BTF) and linux-modules-U (ext4.ko.zst with module BTF).
const UNAME = '9.9.9+deb14-amd64';
const KREF = `debian/14/x86_64/${UNAME}`;

let server: FixtureServer;
let dir: string;

async function publishSid(): Promise<void> {
  const control = (name: string) => `Package: ${name}\nSource: linux-signed-amd64 (9.9.9+1)\nVersion: 9.9.9-1\nArchitecture: amd64\nMaintainer: Debian Kernel Team <debian-kernel@lists.debian.org>\nDescription: test\n`;
  const binary = await deb(
    [{ path: `./usr/lib/modules/${UNAME}/vmlinuz`, data: bzImage(gzip(elfWithBtf(baseBtf())), { banner: `${UNAME} (test@example.org) #1 SMP` }) }],
    { control: control(`linux-binary-${UNAME}`) },
  );
  const modules = await deb(
    [{ path: `./usr/lib/modules/${UNAME}/kernel/fs/ext4/ext4.ko.zst`, data: zstdRaw(elfWithBtf(moduleBtf())) }],
    { control: control(`linux-modules-${UNAME}`) },
  );
  const pool = (name: string) => `pool/main/l/linux-signed-amd64/${name}_9.9.9-1_amd64.deb`;
  server.files.set(`/debian/${pool(`linux-binary-${UNAME}`)}`, binary);
  server.files.set(`/debian/${pool(`linux-modules-${UNAME}`)}`, modules);
  const text = packagesText([
    stanza({ name: `linux-binary-${UNAME}`, version: '9.9.9-1', filename: pool(`linux-binary-${UNAME}`), size: binary.length, sha256: sha256(binary), source: 'linux-signed-amd64 (9.9.9+1)' }),
    stanza({ name: `linux-modules-${UNAME}`, version: '9.9.9-1', filename: pool(`linux-modules-${UNAME}`), size: modules.length, sha256: sha256(modules), source: 'linux-signed-amd64 (9.9.9+1)' }),
    stanza({ name: `linux-image-${UNAME}`, version: '9.9.9-1', depends: `linux-binary-${UNAME}, linux-modules-${UNAME}`, source: 'linux-signed-amd64 (9.9.9+1)' }),
  ]);
  await publish(server.files, '/debian', { name: 'sid', fields: { Suite: 'unstable', Codename: 'sid', Architectures: 'amd64' }, indexes: [{ arch: 'amd64', text }] });
  await publish(server.files, '/debian', { name: 'stable', fields: { Suite: 'stable', Codename: 'trixie', Version: '13.2', Architectures: 'amd64' }, indexes: [{ arch: 'amd64', text: '' }] });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-sync-'));
  server = await startServer();
  await publishSid();
});

afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const syncData = (): SyncJobData => ({ distro: 'debian', suites: ['sid'], archs: ['amd64'], mirror: `${server.url}/debian`, modules: ['ext4'] });

describe('sync in process (no Redis)', () => {
  let catalog: Catalog;
  let db: string;

  beforeAll(() => {
    db = join(dir, 'in-process.db');
    catalog = openCatalog(db);
  });
  afterAll(() => catalog?.close());

  it('plans the kernel the catalog lacks, downloads its packages, ingests vmlinux and ext4, and cleans up', async () => {
    const jobs: IngestJobData[] = [];
    const plan = await runSync(syncData(), { catalog, downloadDir: `${db}.downloads`, enqueue: async (j) => void jobs.push(j) });
    expect(plan).toMatchObject({ enqueued: [KREF], known: 0, errors: [] });
    expect(jobs[0].fetch?.map((f) => f.name).sort()).toEqual([`linux-binary-${UNAME}`, `linux-modules-${UNAME}`]);
    const blobs = BlobStore.forCatalog(db);
    const result = await runJob({ name: 'ingest', data: jobs[0], updateProgress: async () => undefined }, { catalog, blobs, queue: { add: async () => undefined } });
    expect(result).toMatchObject({ kernel: KREF, status: 'ingested', modules: ['ext4'] });
    expect(listKernels(catalog).map((k) => k.kernel)).toEqual([KREF]);
    // the downloads are gone once ingested; the index cache stays
    expect(readdirSync(join(`${db}.downloads`, 'packages'))).toEqual([]);
    expect(existsSync(join(`${db}.downloads`, 'indexes'))).toBe(true);
  });

  it('is idempotent: a second sync finds the kernel known and enqueues nothing', async () => {
    const jobs: IngestJobData[] = [];
    const plan = await runSync(syncData(), { catalog, downloadDir: `${db}.downloads`, enqueue: async (j) => void jobs.push(j) });
    expect(plan).toMatchObject({ enqueued: [], known: 1 });
    expect(jobs).toEqual([]);
  });

  it('a package whose bytes do not match the index fails with SYNC_CHECKSUM and ingests nothing', async () => {
    const other = openCatalog(join(dir, 'checksum.db'));
    const path = [...server.files.keys()].find((p) => p.includes('linux-binary'))!;
    const good = server.files.get(path)!;
    server.files.set(path, Buffer.concat([good.subarray(0, good.length - 1), Buffer.from([good[good.length - 1] ^ 1])]));
    try {
      const jobs: IngestJobData[] = [];
      await runSync(syncData(), { catalog: other, downloadDir: join(dir, 'checksum.downloads'), enqueue: async (j) => void jobs.push(j) });
      const err = await runJob({ name: 'ingest', data: jobs[0], updateProgress: async () => undefined }, {
        catalog: other, blobs: BlobStore.forCatalog(join(dir, 'checksum.db')), queue: { add: async () => undefined }, downloadDir: join(dir, 'checksum.downloads'),
      }).then(() => undefined, (e: unknown) => e as Error);
      expect(err?.message).toMatch(/SYNC_CHECKSUM/);
      expect(listKernels(other)).toEqual([]);
    } finally {
      server.files.set(path, good);
      other.close();
    }
  });
});

describe('sync through BullMQ', () => {
  let harness: QueueHarness | undefined;
  let db: string;

  beforeAll(async () => {
    db = join(dir, 'queue.db');
    harness = await startQueue(db);
  }, 60_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('a sync job enqueues the kernel, and a worker downloads and ingests it', async () => {
    const { queue, events } = harness!;
    const job = await queue.add('sync', syncData());
    const result = (await job.waitUntilFinished(events, 60_000)) as SyncResult;
    expect(result.enqueued).toEqual([KREF]);
    const deadline = Date.now() + 60_000;
    let kernels: string[] = [];
    while (Date.now() < deadline) {
      const c = openCatalog(db);
      try {
        kernels = listKernels(c).map((k) => k.kernel);
      } finally {
        c.close();
      }
      if (kernels.length > 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(kernels).toEqual([KREF]);
    const again = (await (await queue.add('sync', syncData())).waitUntilFinished(events, 60_000)) as SyncResult;
    expect(again).toMatchObject({ enqueued: [], known: 1 });
  });
});

const haveTools = dwarfToolsFor('the debug-package fallback test');

describe.skipIf(!haveTools)('a kernel built without BTF: the debug package is read with pahole', () => {
  it('the image holds no BTF, so the job fetches linux-image-U-dbg and makes BTF from its DWARF vmlinux', async () => {
    const uname = '9.9.9+deb14-686';
    const work = mkdtempSync(join(dir, 'dbg-'));
    writeFileSync(join(work, 'k.c'), 'struct pt_regs { long bx; long cx; long dx; long si; long di; };\nstruct pt_regs regs0;\n');
    execFileSync('cc', ['-g', '-c', '-o', join(work, 'k.o'), join(work, 'k.c')]);
    const dwarf = readFileSync(join(work, 'k.o'));
    const control = (name: string) => `Package: ${name}\nSource: linux\nVersion: 9.9.9-1\nArchitecture: i386\nMaintainer: Debian Kernel Team <debian-kernel@lists.debian.org>\nDescription: t\n`;
    // The image: a bzImage around an ELF vmlinux without .BTF (CONFIG_DEBUG_INFO_BTF off).
    const noBtf = writeElf({ bits: 32, littleEndian: true, sections: [{ name: '.text', data: new Uint8Array(64) }] });
    const image = await deb([{ path: `./boot/vmlinuz-${uname}`, data: bzImage(gzip(noBtf)) }], { control: control(`linux-image-${uname}`) });
    const dbg = await deb([{ path: `./usr/lib/debug/boot/vmlinux-${uname}`, data: dwarf }], { control: control(`linux-image-${uname}-dbg`) });
    const pool = (name: string) => `pool/main/l/linux/${name}_9.9.9-1_i386.deb`;
    server.files.set(`/debian686/${pool(`linux-image-${uname}`)}`, image);
    server.files.set(`/debian686/${pool(`linux-image-${uname}-dbg`)}`, dbg);
    const text = packagesText([
      stanza({ name: `linux-image-${uname}`, version: '9.9.9-1', arch: 'i386', filename: pool(`linux-image-${uname}`), size: image.length, sha256: sha256(image), source: 'linux' }),
      stanza({ name: `linux-image-${uname}-dbg`, version: '9.9.9-1', arch: 'i386', filename: pool(`linux-image-${uname}-dbg`), size: dbg.length, sha256: sha256(dbg), source: 'linux' }),
    ]);
    await publish(server.files, '/debian686', { name: 'sid', fields: { Suite: 'unstable', Codename: 'sid', Architectures: 'i386' }, indexes: [{ arch: 'i386', text }] });
    await publish(server.files, '/debian686', { name: 'stable', fields: { Suite: 'stable', Codename: 'trixie', Version: '13.2', Architectures: 'i386' }, indexes: [{ arch: 'i386', text: '' }] });

    const db = join(work, 'atlas.db');
    const catalog = openCatalog(db);
    try {
      const jobs: IngestJobData[] = [];
      const data: SyncJobData = { distro: 'debian', suites: ['sid'], archs: ['i386'], mirror: `${server.url}/debian686` };
      await runSync(data, { catalog, downloadDir: `${db}.downloads`, enqueue: async (j) => void jobs.push(j) });
      expect(jobs).toHaveLength(1);
      expect(jobs[0].fetch?.map((f) => f.name)).toEqual([`linux-image-${uname}`]);
      expect(jobs[0].fetchDebug?.name).toBe(`linux-image-${uname}-dbg`);
      const result = await runJob({ name: 'ingest', data: jobs[0], updateProgress: async () => undefined }, { catalog, blobs: BlobStore.forCatalog(db), queue: { add: async () => undefined } });
      expect(result).toMatchObject({ kernel: `debian/14/i386/${uname}`, status: 'ingested' });
      const di = (await import('@btf-atlas/diff')).fieldHistory(catalog, 'pt_regs.di');
      // di is the fifth long of the struct cc compiled (its long is the host's).
      const [k] = di.kernels as { status: string; offset: number; size: number }[];
      expect(k.status).toBe('present');
      expect(k.offset).toBe(4 * k.size);
      expect(readdirSync(join(`${db}.downloads`, 'packages'))).toEqual([]);
    } finally {
      catalog.close();
    }
  });
});
