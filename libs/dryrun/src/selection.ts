/**
 * Which of the catalog's kernels a dry run checks, and how they are loaded: the selection of the `field` command
 * (`--kernel KREF`, or any of `--distro`, `--release`, `--arch`; nothing: every kernel), read through the
 * catalog's read API in kernel order, then grouped by the BTF they would load. Kernels whose vmlinux BTF and
 * module BTF are the same bytes give the same answers: each group is loaded and resolved once.
 */
import { Btf } from '@btf-atlas/btf/core';
import {
  findKernel, formatKref, kernelRows, parseKref, seriesOf, type Catalog, type KernelRow,
} from '@btf-atlas/catalog/read';
import { loadKernelBtf } from '@btf-atlas/catalog/archive';
import type { BlobScratch, BlobStore } from '@btf-atlas/catalog/blob-store';
import { kernelModules, type KernelModule } from '@btf-atlas/catalog/kernel-modules';
import { moduleBtf } from '@btf-atlas/catalog/type-text';
import type { CoreTarget } from '@btf-atlas/core';
import { DryRunError, DryRunErrorCode } from './errors.js';

/** A selection of kernels: one KREF, or a filter (each part optional; none: every kernel). */
export interface KernelSelection {
  kernel?: string;
  distro?: string;
  release?: string;
  arch?: string;
}

/** A selected kernel: its catalog row, KREF and series. */
export interface SelectedKernel {
  row: KernelRow;
  kernel: string;
  /** `DISTRO/RELEASE/ARCH/FLAVOUR` (libs/catalog `seriesOf`). */
  series: string;
}

/** Kernels that load the same BTF: the same vmlinux BTF and the same module BTF. */
export interface KernelGroup {
  /** vmlinux sha256, then `name:sha256` of each module (when modules are loaded). */
  key: string;
  btfSha256: string;
  modules: KernelModule[];
  /** In kernel order; the first is the one loaded. */
  kernels: SelectedKernel[];
}

/** A selection in one canonical string (answer caches key on it). */
export function selectionKey(sel: KernelSelection): string {
  return JSON.stringify([sel.kernel ?? null, sel.distro ?? null, sel.release ?? null, sel.arch ?? null]);
}

/**
 * The kernels a selection names, in kernel order. Throws DryRunError DRYRUN_BAD_SELECTION for a KREF together
 * with a filter, DRYRUN_NO_KERNELS when nothing is selected (an empty catalog); CatalogError CATALOG_BAD_KREF,
 * KERNEL_NOT_FOUND (with the closest KREFs) or NO_MATCHING_KERNELS (naming the values that exist) otherwise.
 */
export function selectKernels(catalog: Catalog, sel: KernelSelection): SelectedKernel[] {
  let rows: KernelRow[];
  if (sel.kernel !== undefined) {
    if (sel.distro !== undefined || sel.release !== undefined || sel.arch !== undefined) {
      throw new DryRunError(DryRunErrorCode.BadSelection, 'a kernel reference and a distro, release or arch filter do not go together: give one or the other');
    }
    const ref = parseKref(sel.kernel);
    const kref = formatKref(ref);
    rows = kernelRows(catalog).filter((r) => formatKref(r) === kref);
    // Not there: the catalog's own KERNEL_NOT_FOUND, with the closest KREFs and any failed ingest of it.
    if (rows.length === 0) findKernel(catalog, ref);
  } else {
    rows = kernelRows(catalog, { distro: sel.distro, release: sel.release, arch: sel.arch });
  }
  if (rows.length === 0) {
    throw new DryRunError(DryRunErrorCode.NoKernels, 'the catalog has no kernels to check against: ingest some first (btf-atlas ingest PATH)');
  }
  return rows.map((row) => ({ row, kernel: formatKref(row), series: seriesOf(row) }));
}

/**
 * The selected kernels grouped by the BTF they load (first-seen order, which is kernel order). With
 * `modules` false only the vmlinux BTF counts (and is loaded).
 */
export function groupKernels(catalog: Catalog, kernels: readonly SelectedKernel[], opts: { modules?: boolean } = {}): KernelGroup[] {
  const withModules = opts.modules !== false;
  const modules = withModules ? kernelModules(catalog, kernels.map((k) => k.row.id)) : new Map<number, KernelModule[]>();
  const groups = new Map<string, KernelGroup>();
  for (const k of kernels) {
    const mods = modules.get(k.row.id) ?? [];
    const key = [k.row.btfSha256, ...mods.map((m) => `${m.name}:${m.btfSha256}`)].join(' ');
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { key, btfSha256: k.row.btfSha256, modules: mods, kernels: [] }));
    g.kernels.push(k);
  }
  return [...groups.values()];
}

/**
 * Loads a group's BTF from the catalog's blob store: the vmlinux BTF of its first kernel and each module's split
 * BTF on it, in name order (libbpf searches modules in the order it finds them; the catalog keeps no load order).
 * With `scratch`, the vmlinux BTF is read into its buffer: the target is then valid until the next load into it.
 * Throws CatalogError CATALOG_CORRUPT when stored BTF is missing.
 */
export async function loadGroupTarget(catalog: Catalog, blobs: BlobStore, group: KernelGroup, scratch?: BlobScratch): Promise<CoreTarget> {
  const first = group.kernels[0];
  const vmlinux = Btf.parse(await loadKernelBtf(catalog, blobs, first.row, scratch));
  const modules: { name: string; btf: Btf }[] = [];
  for (const m of group.modules) {
    const bytes = await moduleBtf(catalog, blobs, { id: first.row.id, kernel: first.kernel }, m.name);
    modules.push({ name: m.name, btf: Btf.parse(bytes, { base: vmlinux }) });
  }
  return { vmlinux, modules };
}
