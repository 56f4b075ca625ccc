/**
 * `@btf-atlas/catalog/kernel-modules`: the module BTF a kernel of the catalog was ingested with, by name, and the
 * sha256 of each module's raw BTF. What answers that load a kernel whole (vmlinux and modules) need to know before
 * loading anything: kernels with the same vmlinux and module BTF give the same answers, so they are loaded once.
 */
import type { Catalog } from './db.js';

/** One ingested module of a kernel: its name and the sha256 of its raw (split) BTF. */
export interface KernelModule {
  name: string;
  btfSha256: string;
}

/** The ingested modules of each of these kernels (row ids, as `kernelRows` gives them), by name; none: empty list. */
export function kernelModules(catalog: Catalog, kernelIds: Iterable<number>): Map<number, KernelModule[]> {
  const ids = [...new Set(kernelIds)];
  const out = new Map<number, KernelModule[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return out;
  const rows = catalog.sqlite
    .prepare(`SELECT kernel_id AS kernelId, name, btf_sha256 AS btfSha256 FROM modules
              WHERE kernel_id IN (SELECT value FROM json_each(?)) ORDER BY kernel_id, name`)
    .all(JSON.stringify(ids)) as (KernelModule & { kernelId: number })[];
  for (const r of rows) out.get(r.kernelId)?.push({ name: r.name, btfSha256: r.btfSha256 });
  return out;
}
