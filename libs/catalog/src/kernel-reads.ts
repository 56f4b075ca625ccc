/**
 * Small typed reads of one kernel's rows (`@btf-atlas/catalog/read`), for the packages that build on the catalog
 * (the kernel diff, the queue, the HTTP health checks): they ask these questions here rather than in SQL of their own.
 */
import { cachedStatement, type Catalog } from './db.js';
import type { KernelRef } from './kernel-ref.js';
import { bucketOf, type ShapeKind, type StoredType, type TypedefBody } from './normalize.js';
import { readSets, selectByIds } from './sets.js';

/** How many kernels the catalog holds (a read that fails when the catalog cannot be read). */
export function countKernels(catalog: Catalog): number {
  return cachedStatement(catalog, 'SELECT count(*) FROM kernels', true).get() as number;
}

/** The sha256 of the file a kernel was ingested from, or undefined when the catalog lacks the kernel. */
export function kernelSourceSha256(catalog: Catalog, kref: KernelRef): string | undefined {
  return cachedStatement(catalog, 'SELECT source_sha256 FROM kernels WHERE distro = ? AND release = ? AND arch = ? AND uname_r = ?', true)
    .get(kref.distro, kref.release, kref.arch, kref.unameR) as string | undefined;
}

/** A kernel's shape set per name bucket (row id, as {@link findKernel} gives it). */
export function kernelSetIds(catalog: Catalog, kernelId: number): Map<number, number> {
  const rows = cachedStatement(catalog, 'SELECT bucket, set_id AS setId FROM kernel_sets WHERE kernel_id = ?').all(kernelId) as { bucket: number; setId: number }[];
  return new Map(rows.map((r) => [r.bucket, r.setId]));
}

/**
 * A kernel's pointer size (the size of `long`) as the catalog recorded it from the kernel's own BTF; undefined for
 * a kernel of an older catalog not filled yet.
 */
export function kernelPointerSize(catalog: Catalog, kernelId: number): 4 | 8 | undefined {
  const size = cachedStatement(catalog, 'SELECT pointer_size FROM kernels WHERE id = ?', true).get(kernelId) as number | null | undefined;
  return size === 4 || size === 8 ? size : undefined;
}

/** Shape rows by id: kind, size and stored body. */
export function shapeBodies(catalog: Catalog, ids: Iterable<number>): Map<number, { kind: ShapeKind; size: number; body: string }> {
  const rows = selectByIds<{ id: number; kind: ShapeKind; size: number; body: string }>(catalog, 'SELECT id, kind, size, body FROM shapes', ids);
  return new Map(rows.map((r) => [r.id, { kind: r.kind, size: r.size, body: r.body }]));
}

/**
 * The typedef targets of one kernel by name, as stored types (`module` '' for vmlinux): a lookup made on demand (the
 * name's bucket set, then its typedef members: two index lookups) and cached, the module's own typedef first,
 * then vmlinux's. `onRead` is called once per name read.
 */
export function typedefTargets(catalog: Catalog, kernelId: number, onRead?: () => void): (name: string, module: string) => StoredType | undefined {
  const cache = new Map<string, Map<string, StoredType>>();
  return (name, module) => {
    let byModule = cache.get(name);
    if (!byModule) {
      onRead?.();
      byModule = new Map();
      // Statements asked for at each use (cached ones: their mode is set per call).
      const typedefs = cachedStatement(catalog, "SELECT id, body FROM shapes WHERE name = ? AND kind = 'typedef'").all(name) as { id: number; body: string }[];
      const bodies = new Map(typedefs.map((r) => [r.id, r.body]));
      const setId = bodies.size > 0
        ? (cachedStatement(catalog, 'SELECT set_id FROM kernel_sets WHERE kernel_id = ? AND bucket = ?', true).get(kernelId, bucketOf(name)) as number | undefined)
        : undefined;
      if (setId !== undefined) {
        for (const e of readSets(catalog, [setId]).get(setId) ?? []) {
          const body = bodies.get(e.shapeId);
          if (body !== undefined && !byModule.has(e.module)) byModule.set(e.module, (JSON.parse(body) as TypedefBody).type);
        }
      }
      cache.set(name, byModule);
    }
    return byModule.get(module) ?? byModule.get('');
  };
}
