import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobStore, openCatalog, parseKref, prepareKernel, writeKernel, type Catalog } from '@btf-atlas/catalog';

/** One synthetic kernel to ingest: its KREF, vmlinux BTF and the modules' split BTF (ingested as `NAME.btf`). */
export interface SyntheticKernel {
  kref: string;
  vmlinux: Uint8Array;
  modules?: { name: string; bytes: Uint8Array }[];
}

/** Ingests synthetic kernels, in order, into a new catalog in a temp folder (real SQLite file, the catalog's own ingest). */
export async function syntheticCatalog(
  prefix: string,
  kernels: SyntheticKernel[],
): Promise<{ dir: string; db: string; catalog: Catalog; close: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const db = join(dir, 'atlas.db');
  const catalog = openCatalog(db);
  const close = (): void => {
    catalog.close();
    rmSync(dir, { recursive: true, force: true });
  };
  const blobs = BlobStore.forCatalog(db);
  try {
    for (const k of kernels) {
      const kref = parseKref(k.kref);
      const prepared = await prepareKernel({
        kref,
        file: { source: `${kref.unameR}.btf`, bytes: k.vmlinux },
        modules: (k.modules ?? []).map((m) => ({ name: m.name, source: `${m.name}.btf`, bytes: m.bytes })),
      });
      writeKernel(catalog, blobs, prepared);
    }
  } catch (err) {
    close();
    throw err;
  }
  return { dir, db, catalog, close };
}
