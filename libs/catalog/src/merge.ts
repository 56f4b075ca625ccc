import { existsSync } from 'node:fs';
import { BlobStore, sha256Hex } from './blob-store.js';
import { cachedStatement, catalogVersions, NORMALIZER_VERSION, openCatalog, type Catalog } from './db.js';
import { CatalogError } from './errors.js';
import { formatKref, type KernelRef } from './kernel-ref.js';
import type { ShapeKind } from './normalize.js';
import { checkCatalogFile } from './reindex.js';
import { moduleIdOf, selectByIds, setHashOf } from './sets.js';
import { indexNewShapes, type IndexedShape } from './shape-index.js';

/**
 * `btf-atlas merge A B [--into OUT]`: the kernels of one catalog added to another, as if they had been ingested
 * there. Nothing is decoded again: shapes are matched by their content hash (the ones the target lacks are
 * inserted), each set is re-encoded with the target's shape and module ids and matched by its content hash (made
 * again from its members, the way ingest makes it), and each kernel comes with its modules, its archive columns,
 * its blobs (source, module files, archive file, raw BTF) and the source catalog's recorded failures. Shapes new
 * to the target enter its derived indexes (search names, enumerators: shape-index.ts) in the same transaction, as
 * ingest's do. Both catalogs must hold shapes of this code's normalizer version: shapes of two versions are never
 * mixed.
 */

/** How a kernel of the source catalog ends up in the target. */
export type MergeStatus = 'added' | 'skipped' | 'kept' | 'replaced';

/** One step of a merge, for progress lines. */
export type MergeEvent =
  | { phase: 'source'; path: string; kernels: number }
  | { phase: 'kernel'; index: number; total: number; kernel: string; status: MergeStatus; newShapes: number; newSets: number };

export interface MergeOptions {
  /**
   * A kernel in both catalogs with different BTF: `a` keeps the target's, `b` replaces it with the source's;
   * unset, the merge stops with KERNEL_CONFLICT before writing anything.
   */
  prefer?: 'a' | 'b';
  onProgress?: (event: MergeEvent) => void;
}

/** A kernel both catalogs hold with different BTF. */
export interface MergeConflict {
  kernel: string;
  /** vmlinux BTF sha256 in the target (A) and in the source (B). */
  a: string;
  b: string;
}

/** What merging one catalog into another did. */
export interface MergeResult {
  target: string;
  source: string;
  kernels: { kernel: string; status: MergeStatus }[];
  conflicts: MergeConflict[];
  newShapes: number;
  newSets: number;
  /** Failure rows copied (rows the target already had are not copied twice). */
  failures: number;
  /** Blobs the source catalog refers to but its store lacks (the target lacks them too). */
  missingBlobs: { kernel: string; what: string; sha256: string }[];
}

/** A row as SQLite returns it. */
type Row = Record<string, unknown>;

interface SourceKernel extends KernelRef {
  id: number;
  kernel: string;
  btfSha256: string;
  modules: string;
}

/** The kernels of a catalog in ingest order, each with its module BTF list (`name:sha256,…`) for comparing. */
function kernelsOf(catalog: Catalog): SourceKernel[] {
  const rows = catalog.sqlite
    .prepare(`SELECT k.id, k.distro, k.release, k.arch, k.uname_r AS unameR, k.btf_sha256 AS btfSha256,
                     COALESCE((SELECT group_concat(name || ':' || btf_sha256, ',') FROM (SELECT name, btf_sha256 FROM modules
                               WHERE kernel_id = k.id ORDER BY name)), '') AS modules
              FROM kernels k ORDER BY k.id`)
    .all() as Omit<SourceKernel, 'kernel'>[];
  return rows.map((r) => ({ ...r, kernel: formatKref(r) }));
}

/** The target's kernel of a KREF, with its module list as {@link kernelsOf} spells it. */
function targetKernel(catalog: Catalog, k: KernelRef): { id: number; btfSha256: string; modules: string } | undefined {
  return catalog.sqlite
    .prepare(`SELECT k.id, k.btf_sha256 AS btfSha256,
                     COALESCE((SELECT group_concat(name || ':' || btf_sha256, ',') FROM (SELECT name, btf_sha256 FROM modules
                               WHERE kernel_id = k.id ORDER BY name)), '') AS modules
              FROM kernels k WHERE distro = ? AND release = ? AND arch = ? AND uname_r = ?`)
    .get(k.distro, k.release, k.arch, k.unameR) as { id: number; btfSha256: string; modules: string } | undefined;
}

/** The columns of a table both catalogs have, but `id` (rows are copied with the target's own ids). */
function copiedColumns(target: Catalog, source: Catalog, table: string, skip: string[]): string[] {
  const cols = (c: Catalog): string[] => (c.sqlite.prepare(`SELECT name FROM pragma_table_info('${table}')`).pluck().all() as string[]);
  const theirs = new Set(cols(source));
  return cols(target).filter((c) => theirs.has(c) && !skip.includes(c));
}

/**
 * CATALOG_NEEDS_REINDEX unless every catalog named holds shapes of this code's normalizer version; the message
 * names each one that does not, and how to rebuild it.
 */
export function assertSameNormalizer(catalogs: { label: string; catalog: Catalog }[]): void {
  const stale = catalogs
    .map(({ label, catalog }) => ({ label, path: catalog.path, version: catalogVersions(catalog).normalizerVersion }))
    .filter((c) => c.version !== NORMALIZER_VERSION);
  if (stale.length === 0) return;
  const what = stale.map((c) => `${c.label} (${c.path}) was made by ${c.version === null ? 'an unrecorded normalizer version' : `normalizer version ${c.version}`}`);
  throw new CatalogError(
    'CATALOG_NEEDS_REINDEX',
    `cannot merge: ${what.join(' and ')}, this btf-atlas writes version ${NORMALIZER_VERSION}; merging would mix shapes of both. ` +
      `Rebuild ${stale.length > 1 ? 'each' : 'it'} first: ${stale.map((c) => `btf-atlas reindex --db ${c.path}`).join('; ')}`,
  );
}

/** The content hash of a shape set ({@link setHashOf}, as ingest makes it), its entries put in set order first. */
function setHash(entries: { name: string; module: string; hash: Buffer; copies: number }[]): Buffer {
  const sorted = [...entries].sort((x, y) => (x.name !== y.name ? (x.name < y.name ? -1 : 1) : x.module !== y.module ? (x.module < y.module ? -1 : 1) : Buffer.compare(x.hash, y.hash)));
  return setHashOf(sorted, (e) => e);
}

interface ShapeRow {
  id: number;
  hash: Buffer;
  kind: ShapeKind;
  name: string;
  size: number;
  body: string;
}


/** Per merge: ids already translated from the source catalog to the target. */
interface IdMaps {
  shapes: Map<number, number>;
  sets: Map<number, number>;
  moduleNames: Map<number, string>;
  /** Module name → the target's id, for the kernel being copied (ids made in its transaction). */
  targetModules: Map<string, number>;
  /** Shapes the kernel being copied added to the target, for the derived indexes (shape-index.ts). */
  inserted: IndexedShape[];
}

/**
 * Merges the catalog at `sourcePath` into the one at `targetPath` (created when it does not exist). Each source
 * kernel, in the order it was ingested there: a kernel the target has with the same BTF (vmlinux and modules) is
 * skipped; one it has with other BTF is a conflict (see {@link MergeOptions.prefer}); any other is added, in one
 * transaction. Then the source's recorded failures. Throws NOT_A_CATALOG, CATALOG_NEEDS_REINDEX (either catalog
 * made by another normalizer version), KERNEL_CONFLICT (listing every conflict, nothing written),
 * CATALOG_CORRUPT (a source set whose members do not give its hash, a blob whose bytes do not give its name).
 */
export async function mergeCatalog(targetPath: string, sourcePath: string, opts: MergeOptions = {}): Promise<MergeResult> {
  checkCatalogFile(sourcePath);
  if (existsSync(targetPath)) checkCatalogFile(targetPath);
  const source = openCatalog(sourcePath);
  let target: Catalog | undefined;
  try {
    target = openCatalog(targetPath);
    assertSameNormalizer([{ label: 'the target', catalog: target }, { label: 'the source', catalog: source }]);
    return mergeOpen(target, BlobStore.forCatalog(targetPath), source, BlobStore.forCatalog(sourcePath), opts);
  } finally {
    target?.close();
    source.close();
  }
}

/**
 * `merge A B [--into OUT]`: B into A; or, with `into`, A then B into OUT (a new catalog, or an existing one they
 * are added to). Returns one result per source merged.
 */
export async function mergeCatalogs(a: string, b: string, opts: MergeOptions & { into?: string } = {}): Promise<MergeResult[]> {
  checkCatalogFile(a);
  checkCatalogFile(b);
  if (opts.into === undefined) return [await mergeCatalog(a, b, opts)];
  if (existsSync(opts.into)) checkCatalogFile(opts.into);
  // Both checked before OUT is written to: a stale B must not leave OUT half made.
  const check = [openCatalog(a), openCatalog(b)];
  try {
    assertSameNormalizer([{ label: 'A', catalog: check[0] }, { label: 'B', catalog: check[1] }]);
  } finally {
    for (const c of check) c.close();
  }
  return [await mergeCatalog(opts.into, a, opts), await mergeCatalog(opts.into, b, opts)];
}

async function mergeOpen(target: Catalog, targetBlobs: BlobStore, source: Catalog, sourceBlobs: BlobStore, opts: MergeOptions): Promise<MergeResult> {
  const emit = opts.onProgress ?? (() => undefined);
  const kernels = kernelsOf(source);
  const result: MergeResult = { target: target.path, source: source.path, kernels: [], conflicts: [], newShapes: 0, newSets: 0, failures: 0, missingBlobs: [] };

  for (const k of kernels) {
    const there = targetKernel(target, k);
    if (there && (there.btfSha256 !== k.btfSha256 || there.modules !== k.modules)) result.conflicts.push({ kernel: k.kernel, a: there.btfSha256, b: k.btfSha256 });
  }
  if (result.conflicts.length > 0 && opts.prefer === undefined) {
    const list = result.conflicts.map((c) => `${c.kernel} (a: btf sha256 ${c.a.slice(0, 12)}…, b: ${c.b.slice(0, 12)}…)`).join(', ');
    throw new CatalogError('KERNEL_CONFLICT', `${result.conflicts.length} kernel(s) are in both catalogs with different btf: ${list}; pass --prefer a or --prefer b`);
  }

  emit({ phase: 'source', path: source.path, kernels: kernels.length });
  const maps: IdMaps = {
    shapes: new Map(),
    sets: new Map(),
    moduleNames: new Map((source.sqlite.prepare('SELECT id, name FROM module_names').all() as { id: number; name: string }[]).map((r) => [r.id, r.name])),
    targetModules: new Map(),
    inserted: [],
  };
  const kernelColumns = copiedColumns(target, source, 'kernels', ['id']);
  const moduleColumns = copiedColumns(target, source, 'modules', ['kernel_id']);
  // What the target holds of a source kernel: the same BTF (skipped), other BTF (kept or replaced), nothing (added).
  const decide = (k: SourceKernel): MergeStatus => {
    const there = targetKernel(target, k);
    if (!there) return 'added';
    if (there.btfSha256 === k.btfSha256 && there.modules === k.modules) return 'skipped';
    if (opts.prefer === 'a') return 'kept';
    if (opts.prefer === 'b') return 'replaced';
    throw new CatalogError('KERNEL_CONFLICT', `${k.kernel} is in both catalogs with different btf (it was added to the target during the merge); pass --prefer a or --prefer b`);
  };
  for (const [i, k] of kernels.entries()) {
    const before = { shapes: result.newShapes, sets: result.newSets };
    const planned = decide(k);
    if (planned === 'added' || planned === 'replaced') copyBlobs(source, sourceBlobs, targetBlobs, k, result);
    const status = target.sqlite.transaction((): MergeStatus => {
      // Decided again under the write lock: an ingest may have added the kernel since.
      const now = decide(k);
      if (now === 'skipped' || now === 'kept') return now;
      maps.targetModules.clear();
      maps.inserted = [];
      if (now !== planned) copyBlobs(source, sourceBlobs, targetBlobs, k, result);
      if (now === 'replaced') target.sqlite.prepare('DELETE FROM kernels WHERE distro = ? AND release = ? AND arch = ? AND uname_r = ?').run(k.distro, k.release, k.arch, k.unameR);
      copyKernel(target, source, k, maps, kernelColumns, moduleColumns, result);
      indexNewShapes(target, maps.inserted);
      return now;
    }).immediate();
    result.kernels.push({ kernel: k.kernel, status });
    emit({ phase: 'kernel', index: i + 1, total: kernels.length, kernel: k.kernel, status, newShapes: result.newShapes - before.shapes, newSets: result.newSets - before.sets });
  }
  result.failures = copyFailures(target, source);
  return result;
}

/** One kernel's rows: the kernel, its sets (re-encoded), its modules. Inside the caller's transaction. */
function copyKernel(target: Catalog, source: Catalog, k: SourceKernel, maps: IdMaps, kernelColumns: string[], moduleColumns: string[], result: MergeResult): void {
  const row = source.sqlite.prepare(`SELECT ${kernelColumns.join(', ')} FROM kernels WHERE id = ?`).get(k.id) as Row;
  const kernelId = Number(target.sqlite
    .prepare(`INSERT INTO kernels (${kernelColumns.join(', ')}) VALUES (${kernelColumns.map(() => '?').join(', ')})`)
    .run(...kernelColumns.map((c) => row[c])).lastInsertRowid);
  const sets = source.sqlite.prepare('SELECT bucket, set_id AS setId FROM kernel_sets WHERE kernel_id = ? ORDER BY bucket').all(k.id) as { bucket: number; setId: number }[];
  const insertKernelSet = cachedStatement(target, 'INSERT INTO kernel_sets (kernel_id, bucket, set_id) VALUES (?, ?, ?)');
  for (const s of sets) insertKernelSet.run(kernelId, s.bucket, targetSetOf(target, source, s.setId, maps, result));
  const mods = source.sqlite.prepare(`SELECT ${moduleColumns.join(', ')} FROM modules WHERE kernel_id = ? ORDER BY name`).all(k.id) as Row[];
  const insertModule = target.sqlite.prepare(`INSERT INTO modules (kernel_id, ${moduleColumns.join(', ')}) VALUES (?, ${moduleColumns.map(() => '?').join(', ')})`);
  for (const m of mods) insertModule.run(kernelId, ...moduleColumns.map((c) => m[c]));
  // The kernel's type id list, found in the target by its content hash or inserted.
  const list = cachedStatement(source, 'SELECT l.hash, l.ids FROM kernel_type_ids k JOIN type_id_lists l ON l.id = k.list_id WHERE k.kernel_id = ?').get(k.id) as
    { hash: Buffer; ids: Buffer } | undefined;
  if (list) {
    const listId = (cachedStatement(target, 'SELECT id FROM type_id_lists WHERE hash = ?', true).get(list.hash) as number | undefined) ??
      Number(cachedStatement(target, 'INSERT INTO type_id_lists (hash, ids) VALUES (?, ?)').run(list.hash, list.ids).lastInsertRowid);
    cachedStatement(target, 'INSERT INTO kernel_type_ids (kernel_id, list_id) VALUES (?, ?)').run(kernelId, listId);
  }
}

/**
 * The target's id of a source set: found by its content hash (made again from the members, and checked against
 * the hash the source stored), else inserted with its members re-encoded in the target's shape and module ids
 * (shapes the target lacks inserted first).
 */
function targetSetOf(target: Catalog, source: Catalog, setId: number, maps: IdMaps, result: MergeResult): number {
  const known = maps.sets.get(setId);
  if (known !== undefined) return known;
  const set = cachedStatement(source, 'SELECT hash, bucket, count, members FROM shape_sets WHERE id = ?').get(setId) as
    { hash: Buffer; bucket: number; count: number; members: string } | undefined;
  if (!set) throw new CatalogError('CATALOG_CORRUPT', `${source.path}: a kernel refers to shape set ${setId}, which is not there`);
  const raw = JSON.parse(set.members) as [number, number, number][];
  const shapes = new Map(selectByIds<ShapeRow>(source, 'SELECT id, hash, kind, name, size, body FROM shapes', raw.map((m) => m[0])).map((s) => [s.id, s]));
  const entries = raw.map(([shapeId, moduleId, copies]) => {
    const shape = shapes.get(shapeId);
    if (!shape) throw new CatalogError('CATALOG_CORRUPT', `${source.path}: shape set ${setId} refers to shape ${shapeId}, which is not there`);
    const module = moduleId === 0 ? '' : maps.moduleNames.get(moduleId);
    if (module === undefined) throw new CatalogError('CATALOG_CORRUPT', `${source.path}: shape set ${setId} refers to unknown module id ${moduleId}`);
    return { shape, module, copies, name: shape.name, hash: shape.hash };
  });
  const hash = setHash(entries);
  if (!hash.equals(set.hash)) {
    throw new CatalogError('CATALOG_CORRUPT', `${source.path}: shape set ${setId} (bucket ${set.bucket}) has hash ${set.hash.toString('hex')}, its members give ${hash.toString('hex')}`);
  }
  let id = cachedStatement(target, 'SELECT id FROM shape_sets WHERE hash = ?', true).get(hash) as number | undefined;
  if (id === undefined) {
    const moduleId = (name: string): number => {
      let id = maps.targetModules.get(name);
      if (id === undefined) maps.targetModules.set(name, (id = moduleIdOf(target, name)));
      return id;
    };
    const members: [number, number, number][] = entries.map((e) => [targetShapeOf(target, e.shape, maps, result), moduleId(e.module), e.copies]);
    members.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    id = Number(cachedStatement(target, 'INSERT INTO shape_sets (hash, bucket, count, members) VALUES (?, ?, ?, ?)')
      .run(hash, set.bucket, entries.length, JSON.stringify(members)).lastInsertRowid);
    result.newSets++;
  }
  maps.sets.set(setId, id);
  return id;
}

/** The target's id of a source shape, matched by content hash; inserted when the target lacks it. */
function targetShapeOf(target: Catalog, shape: ShapeRow, maps: IdMaps, result: MergeResult): number {
  const known = maps.shapes.get(shape.id);
  if (known !== undefined) return known;
  let id = cachedStatement(target, 'SELECT id FROM shapes WHERE hash = ?', true).get(shape.hash) as number | undefined;
  if (id === undefined) {
    id = Number(cachedStatement(target, 'INSERT INTO shapes (hash, kind, name, size, body) VALUES (?, ?, ?, ?, ?)')
      .run(shape.hash, shape.kind, shape.name, shape.size, shape.body).lastInsertRowid);
    maps.inserted.push({ id, kind: shape.kind, name: shape.name, body: shape.body });
    result.newShapes++;
  }
  maps.shapes.set(shape.id, id);
  return id;
}

/**
 * The blobs of a source kernel put into the target's store (before the transaction that points at them, as
 * ingest does): its source, module files, archive file and raw BTF when the source store has it. Each is checked
 * against its sha256; one the source catalog refers to but its store lacks is noted in the result.
 */
function copyBlobs(source: Catalog, from: BlobStore, to: BlobStore, k: SourceKernel, result: MergeResult): void {
  const row = source.sqlite.prepare('SELECT source_sha256 AS src, archive_sha256 AS archive FROM kernels WHERE id = ?').get(k.id) as { src: string; archive: string | null };
  const wanted: { what: string; sha256: string; required: boolean }[] = [
    { what: 'source', sha256: row.src, required: true },
    { what: 'raw btf', sha256: k.btfSha256, required: false },
  ];
  if (row.archive !== null) wanted.push({ what: 'archive file', sha256: row.archive, required: true });
  const mods = source.sqlite.prepare('SELECT name, source_sha256 AS sha FROM modules WHERE kernel_id = ? AND source_sha256 IS NOT NULL ORDER BY name').all(k.id) as { name: string; sha: string }[];
  for (const m of mods) wanted.push({ what: `module ${m.name}`, sha256: m.sha, required: true });
  for (const w of wanted) {
    if (to.has(w.sha256)) continue;
    if (!from.has(w.sha256)) {
      if (w.required) result.missingBlobs.push({ kernel: k.kernel, what: w.what, sha256: w.sha256 });
      continue;
    }
    const bytes = from.get(w.sha256);
    const actual = sha256Hex(bytes);
    if (actual !== w.sha256) throw new CatalogError('CATALOG_CORRUPT', `${from.dir}: the blob of ${k.kernel}'s ${w.what} is named ${w.sha256} but its bytes hash to ${actual}`);
    to.put(bytes, actual);
  }
}

/** The source's failure rows the target does not have yet (same input, KREF, code, message and time), in order. */
function copyFailures(target: Catalog, source: Catalog): number {
  const rows = source.sqlite.prepare('SELECT source, kref, code, message, job_id AS jobId, failed_at AS failedAt FROM ingest_failures ORDER BY id').all() as {
    source: string; kref: string | null; code: string; message: string; jobId: string | null; failedAt: string;
  }[];
  const has = target.sqlite.prepare('SELECT 1 FROM ingest_failures WHERE source = ? AND kref IS ? AND code = ? AND message = ? AND failed_at = ?').pluck();
  const insert = target.sqlite.prepare('INSERT INTO ingest_failures (source, kref, code, message, job_id, failed_at) VALUES (?, ?, ?, ?, ?, ?)');
  return target.sqlite.transaction(() => {
    let n = 0;
    for (const f of rows) {
      if (has.get(f.source, f.kref, f.code, f.message, f.failedAt) !== undefined) continue;
      insert.run(f.source, f.kref, f.code, f.message, f.jobId, f.failedAt);
      n++;
    }
    return n;
  }).immediate();
}
