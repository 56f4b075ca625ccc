import {
  assertNormalizedFor, findKernel, kernelModules, kernelSetIds, readSets, shapeBodies, shapeNames, typedefTargets, type Catalog, type KernelRef,
} from '@btf-atlas/catalog/read';
import { diffShapes, summarize } from './compare.js';
import type { KernelDiff, ShapeDef } from './types.js';

export interface KernelDiffOptions {
  /**
   * Which module types to compare besides vmlinux's: `common` (default) the modules ingested with both kernels,
   * keyed by module; `none`: vmlinux types only.
   */
  modules?: 'common' | 'none';
  /** Filled with what the diff read, for benchmarks and tests. */
  stats?: KernelDiffStats;
}

export interface KernelDiffStats {
  /** Name buckets whose shape set is the same in both kernels: skipped without reading a member. */
  bucketsSkipped: number;
  /** Buckets whose sets differ: their entries were read. */
  bucketsRead: number;
  /** Names (per module) whose entries differ: their bodies were loaded and compared. */
  namesCompared: number;
  /** Shape bodies loaded. */
  shapesLoaded: number;
  /** Typedef lookups made to classify type changes. */
  typedefLookups: number;
  ms: number;
}

interface EntryRow {
  name: string;
  module: string;
  copies: number;
  shapeId: number;
}

/**
 * Every layout change between two kernels of the catalog, classified (`diff --json`, `GET /v1/diff`).
 *
 * Uses the catalog's deduplication: each kernel has one content-addressed shape set per name bucket, so a bucket
 * whose set is the same in both kernels cannot hold a change and is skipped without reading a member. In the
 * other buckets only the names whose entries differ are compared, and only their shape bodies are loaded.
 * Names with several definitions in either kernel are listed in `ambiguous` (among the differing buckets: an
 * identical bucket has nothing to report). Unknown KREF: CatalogError KERNEL_NOT_FOUND with the closest KREFs;
 * CATALOG_NEEDS_REINDEX for a catalog made before the type graph (normalizer version 3), whose member types are
 * C spellings.
 */
export function diffKernels(catalog: Catalog, from: string | KernelRef, to: string | KernelRef, opts: KernelDiffOptions = {}): KernelDiff {
  const started = performance.now();
  assertNormalizedFor(catalog, 3, 'a kernel diff');
  const a = findKernel(catalog, from);
  const b = findKernel(catalog, to);
  const stats: KernelDiffStats = { bucketsSkipped: 0, bucketsRead: 0, namesCompared: 0, shapesLoaded: 0, typedefLookups: 0, ms: 0 };

  const setsA = kernelSetIds(catalog, a.id);
  const setsB = kernelSetIds(catalog, b.id);
  const buckets = [...new Set([...setsA.keys(), ...setsB.keys()])].sort((x, y) => x - y);

  const modules = kernelModules(catalog, [a.id, b.id]);
  const modsB = new Set((modules.get(b.id) ?? []).map((m) => m.name));
  const allowed = new Set<string>(['']);
  if (opts.modules !== 'none') for (const m of modules.get(a.id) ?? []) if (modsB.has(m.name)) allowed.add(m.name);

  // Entries of a set with their names (bodies are read later, for the names that differ only).
  const read = (setId: number | undefined): EntryRow[] => {
    if (setId === undefined) return [];
    const entries = readSets(catalog, [setId]).get(setId) ?? [];
    const names = shapeNames(catalog, entries.map((e) => e.shapeId));
    // Anonymous enums (name '') have no name to pair them by: the enumerator answers follow their values.
    return entries
      .filter((e) => allowed.has(e.module))
      .map((e) => ({ name: names.get(e.shapeId) ?? '', module: e.module, copies: e.copies, shapeId: e.shapeId }))
      .filter((e) => e.name !== '');
  };

  // Entries of the names (per module) whose definitions differ, per side.
  const changedA: EntryRow[] = [];
  const changedB: EntryRow[] = [];
  for (const bucket of buckets) {
    const x = setsA.get(bucket);
    const y = setsB.get(bucket);
    if (x === y) {
      stats.bucketsSkipped++;
      continue;
    }
    stats.bucketsRead++;
    const group = (rows: EntryRow[]): Map<string, EntryRow[]> => {
      const map = new Map<string, EntryRow[]>();
      for (const r of rows) {
        const key = `${r.name}\0${r.module}`;
        let list = map.get(key);
        if (!list) map.set(key, (list = []));
        list.push(r);
      }
      return map;
    };
    const sig = (rows: EntryRow[] | undefined): string => (rows ?? []).map((r) => `${r.shapeId}x${r.copies}`).sort().join(',');
    const ga = group(read(x));
    const gb = group(read(y));
    for (const key of new Set([...ga.keys(), ...gb.keys()])) {
      const ra = ga.get(key);
      const rb = gb.get(key);
      if (sig(ra) === sig(rb)) continue;
      stats.namesCompared++;
      if (ra) changedA.push(...ra);
      if (rb) changedB.push(...rb);
    }
  }

  const bodies = shapeBodies(catalog, [...changedA, ...changedB].map((e) => e.shapeId));
  stats.shapesLoaded = bodies.size;
  const defs = (rows: EntryRow[]): ShapeDef[] =>
    rows.map((r) => {
      const s = bodies.get(r.shapeId)!;
      return { kind: s.kind, name: r.name, size: s.size, body: s.body, module: r.module, copies: r.copies };
    });

  const { changes, ambiguous } = diffShapes(defs(changedA), defs(changedB), {
    lookups: {
      before: typedefTargets(catalog, a.id, () => stats.typedefLookups++),
      after: typedefTargets(catalog, b.id, () => stats.typedefLookups++),
    },
  });
  stats.ms = performance.now() - started;
  if (opts.stats) Object.assign(opts.stats, stats);
  return { from: a.kernel, to: b.kernel, changes, summary: summarize(changes), ambiguous };
}
