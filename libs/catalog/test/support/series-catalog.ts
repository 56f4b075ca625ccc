import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobStore, openCatalog, parseKref, prepareKernel, writeKernel, type Catalog } from '@btf-atlas/catalog';
import { BtfBuilder } from '../../../btf/test/support/builder.js';

/**
 * A synthetic catalog of several series: two arches, two flavours, four Debian releases, a field renamed
 * (`task_struct.state` → `__state`, as Linux 5.14 did) and a module struct that only some kernels ingested.
 *
 * task_struct (320 bytes): `flags` (unsigned int, 0), `state` (long int, 16) or `__state` (unsigned int, 16),
 * `se` (struct sched_entity, 192); sched_entity (128 bytes): `load` (u64, 0) and `vruntime` (u64, at
 * `vruntime - 192`). Module ext4: `ext4_sb_info` (16 bytes): `s_mount_opt` (long unsigned int, 0) and `s_flags`
 * (unsigned int, 8), renamed `s_mount_flags` (u32, 8) from 6.12.
 */
export interface SeriesKernel {
  kref: string;
  /** `state` (old) or `__state`. */
  state: 'state' | '__state';
  /** Absolute byte offset of task_struct.se.vruntime. */
  vruntime: number;
  /** The ext4 module's BTF, if ingested with the kernel: with ext4_sb_info (old or new member name) or without it. */
  ext4?: 's_flags' | 's_mount_flags' | 'no_sb_info';
}

export const K = {
  deb11: 'debian/11/x86_64/5.10.0-32-amd64',
  deb11bpo: 'debian/11/x86_64/5.14.0-0.bpo.2-amd64',
  deb12: 'debian/12/x86_64/6.1.0-50-amd64',
  deb12rt: 'debian/12/x86_64/6.1.0-50-rt-amd64',
  deb12new: 'debian/12/x86_64/6.12.95+deb12-amd64',
  deb13: 'debian/13/x86_64/6.12.117+deb13-amd64',
  deb13rt: 'debian/13/x86_64/6.12.117+deb13-rt-amd64',
  arm12: 'debian/12/arm64/6.1.0-50-arm64',
  arm13: 'debian/13/arm64/6.12.117+deb13-arm64',
} as const;

export const SERIES_KERNELS: SeriesKernel[] = [
  { kref: K.deb11, state: 'state', vruntime: 208 },
  { kref: K.deb11bpo, state: '__state', vruntime: 208 },
  { kref: K.deb12, state: '__state', vruntime: 208, ext4: 's_flags' },
  { kref: K.deb12rt, state: '__state', vruntime: 272 },
  { kref: K.deb12new, state: '__state', vruntime: 240, ext4: 's_mount_flags' },
  { kref: K.deb13, state: '__state', vruntime: 240, ext4: 's_mount_flags' },
  { kref: K.deb13rt, state: '__state', vruntime: 240, ext4: 'no_sb_info' },
  { kref: K.arm12, state: '__state', vruntime: 208 },
  { kref: K.arm13, state: '__state', vruntime: 240 },
];

/** The kernel's vmlinux BTF and, when it has one, its ext4 module's split BTF. */
export function seriesBtf(k: SeriesKernel): { vmlinux: Uint8Array; ext4?: Uint8Array } {
  const b = new BtfBuilder();
  const uint = b.int('unsigned int', 4, 32); // 1
  const long = b.int('long int', 8, 64, 1); // 2
  const ull = b.int('long long unsigned int', 8, 64); // 3
  const ulong = b.int('long unsigned int', 8, 64); // 4
  const u64 = b.typedef('u64', ull); // 5
  const u32 = b.typedef('u32', uint); // 6
  const se = b.struct('sched_entity', 128, [
    { name: 'load', type: u64, bitsOffset: 0 },
    { name: 'vruntime', type: u64, bitsOffset: (k.vruntime - 192) * 8 },
  ]); // 7
  b.struct('task_struct', 320, [
    { name: 'flags', type: uint, bitsOffset: 0 },
    k.state === 'state' ? { name: 'state', type: long, bitsOffset: 128 } : { name: '__state', type: uint, bitsOffset: 128 },
    { name: 'se', type: se, bitsOffset: 192 * 8 },
  ]); // 8
  const vmlinux = b.build();
  if (!k.ext4) return { vmlinux };
  const m = new BtfBuilder({ startId: 9, strBase: b.stringSection().length, leadingNul: false });
  if (k.ext4 === 'no_sb_info') m.struct('ext4_other', 8, [{ name: 'x', type: ulong, bitsOffset: 0 }]);
  else {
    m.struct('ext4_sb_info', 16, [
      { name: 's_mount_opt', type: ulong, bitsOffset: 0 },
      k.ext4 === 's_flags' ? { name: 's_flags', type: uint, bitsOffset: 64 } : { name: 's_mount_flags', type: u32, bitsOffset: 64 },
    ]);
  }
  return { vmlinux, ext4: m.build() };
}

/** Ingests kernels into a new catalog in a temp folder (real SQLite file, the catalog's own ingest). */
export async function seriesCatalog(kernels: SeriesKernel[] = SERIES_KERNELS): Promise<{ dir: string; db: string; catalog: Catalog; close: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'btf-atlas-series-'));
  const db = join(dir, 'atlas.db');
  const catalog = openCatalog(db);
  const blobs = BlobStore.forCatalog(db);
  for (const k of kernels) {
    const { vmlinux, ext4 } = seriesBtf(k);
    const kref = parseKref(k.kref);
    const prepared = await prepareKernel({
      kref,
      file: { source: `${kref.unameR}.btf`, bytes: vmlinux },
      modules: ext4 ? [{ name: 'ext4', source: 'ext4.btf', bytes: ext4 }] : [],
    });
    writeKernel(catalog, blobs, prepared);
  }
  return {
    dir, db, catalog,
    close: () => {
      catalog.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
