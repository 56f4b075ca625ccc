import { Btf, summarizeBtf, type BtfSummary } from '@btf-atlas/btf';
import { loadKernelBtf } from './archive.js';
import { BlobStore } from './blob-store.js';
import type { Catalog } from './db.js';
import { parseKref, type KernelRef } from './kernel-ref.js';
import { findKernel } from './queries.js';
import { moduleBtf } from './type-text.js';

/**
 * `kernel KREF --summary` (and `GET /v1/kernels/{distro}/{release}/{arch}/{uname_r}/summary`): counts of what the
 * kernel's stored vmlinux BTF holds (libs/btf summary.ts), then the same for each of its ingested modules, each
 * read as split BTF on the vmlinux BTF and counting only its own types.
 */

export interface KernelSummaryOptions {
  /** Where the catalog keeps its blobs (default: `<catalog>.blobs/`, {@link BlobStore.forCatalog}). */
  blobs?: BlobStore;
}

/** One module's summary: its name, then the counts of its own types. */
export type ModuleSummary = { name: string } & BtfSummary;

/** The answer: the kernel, its vmlinux counts, and its modules' (by name). */
export type KernelSummary = {
  kernel: string;
  distro: string;
  release: string;
  arch: string;
  uname_r: string;
} & BtfSummary & { modules: ModuleSummary[] };

/**
 * The summary of kernel KREF and of each of its ingested modules (by name). Throws CatalogError:
 * CATALOG_BAD_KREF for a malformed reference, KERNEL_NOT_FOUND (with close kernels) for an unknown one,
 * CATALOG_CORRUPT when stored BTF is missing from the blob store.
 */
export async function kernelSummary(catalog: Catalog, kref: string | KernelRef, opts: KernelSummaryOptions = {}): Promise<KernelSummary> {
  const ref = typeof kref === 'string' ? parseKref(kref) : kref;
  const kernel = findKernel(catalog, ref);
  const blobs = opts.blobs ?? BlobStore.forCatalog(catalog.path);
  const vmlinux = Btf.parse(await loadKernelBtf(catalog, blobs, ref));
  const names = catalog.sqlite
    .prepare('SELECT name FROM modules WHERE kernel_id = ? ORDER BY name')
    .pluck()
    .all(kernel.id) as string[];
  const modules: ModuleSummary[] = [];
  for (const name of names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const btf = Btf.parse(await moduleBtf(catalog, blobs, kernel, name), { base: vmlinux });
    modules.push({ name, ...summarizeBtf(btf) });
  }
  return {
    kernel: kernel.kernel,
    distro: ref.distro,
    release: ref.release,
    arch: ref.arch,
    uname_r: ref.unameR,
    ...summarizeBtf(vmlinux),
    modules,
  };
}
