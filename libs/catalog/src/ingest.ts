import { Btf, BtfError, BtfErrorCode, extractBtf, pointerSize, validateBtf, type BtfBlob, type ContainerLimits } from '@btf-atlas/btf';
import { PkgError } from '@btf-atlas/pkg';
import { archiveAsIs } from './archive.js';
import { BlobStore, sha256Hex } from './blob-store.js';
import { assertWritable, type Catalog } from './db.js';
import { CatalogError } from './errors.js';
import { flavourOf, formatKref, versionKey, type KernelRef } from './kernel-ref.js';
import { BUCKETS, bucketOf, type Shape } from './normalize.js';
import { normalizeBtf, typeIdEntries } from './normalize-btf.js';
import { indexNewShapes, type IndexedShape } from './shape-index.js';
import { moduleIdOf, setHashOf } from './sets.js';
import { encodeTypeIds, typeIdListOf } from './type-ids.js';

/** A file given to ingest: its bytes and where it came from. */
export interface IngestFile {
  /** Where it came from (path relative to a scanned archive root, or the file name). */
  source: string;
  bytes: Uint8Array;
}

/** One kernel to ingest: the kernel's file, plus module BTF files found beside it. */
export interface IngestInput {
  kref: KernelRef;
  file: IngestFile;
  /** Module BTF files (`UNAME_R/modules/NAME.btf`, `.ko`), read on the kernel's BTF. */
  modules?: (IngestFile & { name: string })[];
}

export interface IngestOptions {
  /** Replace a kernel already in the catalog with different bytes (otherwise KERNEL_CONFLICT). */
  replace?: boolean;
  limits?: Partial<ContainerLimits>;
  /** Called with a fraction 0..1 and a phase name. */
  onProgress?: (fraction: number, phase: string) => void;
}

export interface IngestResult {
  kernel: string;
  status: 'ingested' | 'replaced' | 'skipped';
  types: number;
  modules: string[];
  shapes: number;
  newShapes: number;
  newSets: number;
  ms: number;
  /**
   * Wall-clock milliseconds of each phase the job went through (`unpack`, `decode`, `normalize`, `group`, `write`),
   * as reported by its progress calls; absent when no phase was reported. For metrics (per-phase histograms).
   */
  phaseMs?: Record<string, number>;
}

interface PreparedModule {
  name: string;
  btfSha256: string;
  btfSize: number;
  typeCount: number;
  sourceSha256: string | null;
  sourceBytes: Uint8Array | null;
}

/** Everything decoded and normalized, ready for one write transaction. */
export interface PreparedKernel {
  kref: KernelRef;
  source: string;
  sourceBytes: Uint8Array;
  sourceSha256: string;
  sourceFormat: string;
  btfSha256: string;
  btfSize: number;
  typeCount: number;
  /** From the vmlinux BTF itself ({@link kernelLayoutOf}). */
  pointerSize: 4 | 8;
  byteOrder: ByteOrder;
  /** The kernel's btfhub-archive file when it is the source itself; null: a `derive` job builds it after the write. */
  archive: { sha256: string; size: number } | null;
  modules: PreparedModule[];
  /** Per bucket: its entries sorted, and the set's content hash. */
  buckets: { entries: SetEntry[]; hash: Buffer }[];
  /** The vmlinux type ids of named structs, unions, enums and typedefs, stored form (type-ids.ts), and its hash. */
  typeIds: { ids: Buffer; hash: Buffer };
  shapeCount: number;
}

interface SetEntry {
  shape: Shape;
  copies: number;
}

/**
 * Decodes, validates (as strictly as the kernel's loader) and normalizes one kernel and its modules. CPU only:
 * runs in the worker, outside any transaction. Throws BtfError/CatalogError for bad input.
 */
export async function prepareKernel(input: IngestInput, opts: IngestOptions = {}): Promise<PreparedKernel> {
  const progress = opts.onProgress ?? (() => undefined);
  progress(0.05, 'unpack');
  const blobs = await extractBtf(input.file.bytes, input.file.source, opts.limits);
  const vmlinuxBlob = blobs[0];
  if (vmlinuxBlob.role !== 'vmlinux') {
    throw new BtfError(BtfErrorCode.BadContainer, 'archive holds module btf but no vmlinux btf', { source: input.file.source });
  }
  const sourceSha256 = sha256Hex(input.file.bytes);
  const sourceFormat = vmlinuxBlob.formats.join('/');
  // The source is the archive file when it is a btfhub tarball of this kernel; else a job builds it after the commit.
  const archive = archiveAsIs(input.kref, {
    sha256: sourceSha256,
    size: input.file.bytes.length,
    format: sourceFormat,
    // Tar members are named `SOURCE:PATH`.
    members: blobs.map((b) => b.name.slice(input.file.source.length + 1)),
  });
  progress(0.2, 'decode');
  const vmlinux = parseValid(vmlinuxBlob);
  const shapes: Shape[] = normalizeBtf(vmlinux);
  progress(0.5, 'normalize');
  const modules: PreparedModule[] = [];
  const addModule = (name: string, blob: BtfBlob, file: IngestFile | null): void => {
    if (modules.some((m) => m.name === name)) {
      throw new CatalogError('ARCHIVE_BAD_LAYOUT', `module ${name} appears twice for ${formatKref(input.kref)}`);
    }
    const btf = parseValid(blob, vmlinux);
    shapes.push(...normalizeBtf(btf, name));
    modules.push({
      name,
      btfSha256: sha256Hex(blob.bytes),
      btfSize: blob.bytes.length,
      typeCount: btf.ownTypeCount,
      sourceSha256: file ? sha256Hex(file.bytes) : null,
      sourceBytes: file ? file.bytes : null,
    });
  };
  for (const blob of blobs.slice(1)) addModule(blob.module ?? blob.name, blob, null);
  for (const m of input.modules ?? []) {
    const found = await extractBtf(m.bytes, m.source, opts.limits);
    addModule(m.name, found[0], m);
  }
  modules.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  progress(0.7, 'group');
  const buckets = groupIntoBuckets(shapes);
  return {
    kref: input.kref,
    source: input.file.source,
    sourceBytes: input.file.bytes,
    sourceSha256,
    sourceFormat,
    btfSha256: sameBytes(vmlinuxBlob.bytes, input.file.bytes) ? sourceSha256 : sha256Hex(vmlinuxBlob.bytes),
    btfSize: vmlinuxBlob.bytes.length,
    typeCount: vmlinux.ownTypeCount,
    ...kernelLayoutOf(vmlinux),
    archive,
    modules,
    buckets,
    typeIds: typeIdListOf(encodeTypeIds(typeIdEntries(vmlinux))),
    shapeCount: shapes.length,
  };
}

/** A kernel's byte order, as its BTF's magic says. */
export type ByteOrder = 'little' | 'big';

/** What a kernel's `kernels` row records of its own BTF: pointer size and byte order. */
export interface KernelLayout {
  pointerSize: 4 | 8;
  byteOrder: ByteOrder;
}

/**
 * The pointer size and byte order of a kernel, from its vmlinux BTF: the size of `long` as libbpf's
 * `determine_ptr_size` finds it (libs/btf layout.ts {@link pointerSize}; 8, libbpf's fallback, when the BTF names
 * no `long` nor pointer-sized variable) and the byte order of the BTF header's magic.
 */
export function kernelLayoutOf(btf: Btf): KernelLayout {
  return { pointerSize: pointerSize(btf) === 4 ? 4 : 8, byteOrder: btf.littleEndian ? 'little' : 'big' };
}

/** What {@link fillKernelLayouts} did. */
export interface FillLayoutsResult {
  /** KREFs whose pointer size and byte order were filled. */
  filled: string[];
  /** KREFs left null: neither their raw BTF nor their source is in the blob store (or it does not parse). */
  missing: string[];
}

/**
 * Fills `pointer_size` and `byte_order` of the kernels that lack them (catalogs made before they were recorded),
 * from each kernel's stored BTF: the raw vmlinux BTF blob (`btf_sha256`) when the store has it, else extracted
 * from the source blob (`source_sha256`, sha256 checked against `btf_sha256`). All rows in one transaction; only
 * rows still null (and of the same BTF) are written. Every ingest runs it first (processIngest, process.ts), so a
 * catalog of an older version is filled the first time it is written to; until then such rows read as null. It
 * makes that pass once per catalog (`catalog_meta.kernel_layouts_filled`): rows it could not fill (their blobs gone,
 * or a package source that is not a BTF container) stay null rather than being read again, up to a whole .deb,
 * by every later ingest; new kernels get theirs at ingest.
 */
export async function fillKernelLayouts(catalog: Catalog, blobs: BlobStore): Promise<FillLayoutsResult> {
  const done = catalog.sqlite.prepare("SELECT 1 FROM catalog_meta WHERE key = 'kernel_layouts_filled'").get();
  if (done) return { filled: [], missing: [] };
  const rows = catalog.sqlite
    .prepare(`SELECT id, distro, release, arch, uname_r AS unameR, btf_sha256 AS btfSha256, source_sha256 AS sourceSha256, source
              FROM kernels WHERE pointer_size IS NULL OR byte_order IS NULL ORDER BY id`)
    .all() as (KernelRef & { id: number; btfSha256: string; sourceSha256: string; source: string })[];
  const result: FillLayoutsResult = { filled: [], missing: [] };
  const found: { id: number; btfSha256: string; kref: string; layout: KernelLayout }[] = [];
  for (const row of rows) {
    const kref = formatKref(row);
    const bytes = await storedVmlinuxBtf(blobs, row);
    let layout: KernelLayout | undefined;
    try {
      if (bytes) layout = kernelLayoutOf(Btf.parse(bytes));
    } catch {
      // Left null: the row's answers do not need it, and a later fill may find the BTF.
    }
    if (layout) found.push({ id: row.id, btfSha256: row.btfSha256, kref, layout });
    else result.missing.push(kref);
  }
  const update = catalog.sqlite.prepare(`UPDATE kernels SET pointer_size = ?, byte_order = ?
    WHERE id = ? AND btf_sha256 = ? AND (pointer_size IS NULL OR byte_order IS NULL)`);
  const markDone = catalog.sqlite.prepare("INSERT INTO catalog_meta (key, value) VALUES ('kernel_layouts_filled', '1') ON CONFLICT (key) DO NOTHING");
  catalog.sqlite.transaction(() => {
    for (const f of found) if (update.run(f.layout.pointerSize, f.layout.byteOrder, f.id, f.btfSha256).changes > 0) result.filled.push(f.kref);
    markDone.run();
  }).immediate();
  return result;
}

/** A kernel's raw vmlinux BTF from the blob store: its own blob, else extracted from its source; undefined when gone. */
async function storedVmlinuxBtf(blobs: BlobStore, row: { btfSha256: string; sourceSha256: string; source: string }): Promise<Uint8Array | undefined> {
  if (blobs.has(row.btfSha256)) return blobs.get(row.btfSha256);
  if (!blobs.has(row.sourceSha256)) return undefined;
  try {
    const vmlinux = (await extractBtf(blobs.get(row.sourceSha256), row.source)).find((b) => b.role === 'vmlinux');
    return vmlinux && sha256Hex(vmlinux.bytes) === row.btfSha256 ? vmlinux.bytes : undefined;
  } catch {
    return undefined;
  }
}

/** True when two arrays are views of the same bytes (raw BTF in: the blob is the file), so one sha256 serves both. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a === b || (a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.byteLength === b.byteLength);
}

function parseValid(blob: BtfBlob, base?: Btf): Btf {
  try {
    const btf = Btf.parse(blob.bytes, { base });
    validateBtf(btf);
    return btf;
  } catch (err) {
    if (err instanceof BtfError) throw err.withSource(blob.name);
    throw err;
  }
}

function compareEntries(a: SetEntry, b: SetEntry): number {
  const x = a.shape;
  const y = b.shape;
  if (x.name !== y.name) return x.name < y.name ? -1 : 1;
  if (x.module !== y.module) return x.module < y.module ? -1 : 1;
  return Buffer.compare(x.hash, y.hash);
}

/** True when two shapes compare equal in {@link compareEntries} (same name, module and hash). */
function sameShape(x: Shape, y: Shape): boolean {
  return x.name === y.name && x.module === y.module && x.hash.equals(y.hash);
}

/** Splits shapes into name buckets, merges identical duplicates into copies, and hashes each bucket's set. */
function groupIntoBuckets(shapes: Shape[]): PreparedKernel['buckets'] {
  const lists: SetEntry[][] = Array.from({ length: BUCKETS }, () => []);
  for (const shape of shapes) lists[bucketOf(shape.name)].push({ shape, copies: 1 });
  return lists.map((list) => {
    list.sort(compareEntries);
    const entries: SetEntry[] = [];
    for (const e of list) {
      const last = entries[entries.length - 1];
      if (last && sameShape(last.shape, e.shape)) last.copies++;
      else entries.push(e);
    }
    return { entries, hash: setHashOf(entries, (e) => ({ name: e.shape.name, module: e.shape.module, hash: e.shape.hash, copies: e.copies })) };
  });
}

/**
 * Writes a prepared kernel in one IMMEDIATE transaction: a failure leaves the catalog exactly as it was.
 * Same KREF with the same BTF (vmlinux and modules): skipped. Same KREF with other bytes: KERNEL_CONFLICT
 * unless `replace`.
 */
export function writeKernel(catalog: Catalog, blobs: BlobStore, p: PreparedKernel, opts: IngestOptions = {}): IngestResult {
  const started = performance.now();
  const db = catalog.sqlite;
  const kref = formatKref(p.kref);
  assertWritable(catalog);
  // Blobs first (atomic renames, content-addressed): the transaction below may then point at them.
  blobs.put(p.sourceBytes, p.sourceSha256);
  for (const m of p.modules) if (m.sourceBytes && m.sourceSha256) blobs.put(m.sourceBytes, m.sourceSha256);

  const base = { kernel: kref, types: p.typeCount, modules: p.modules.map((m) => m.name), shapes: p.shapeCount };

  const findSet = db.prepare('SELECT id FROM shape_sets WHERE hash = ?').pluck();
  const insertSet = db.prepare('INSERT INTO shape_sets (hash, bucket, count, members) VALUES (?, ?, ?, ?)');
  const findShape = db.prepare('SELECT id FROM shapes WHERE hash = ?').pluck();
  const insertShape = db.prepare('INSERT INTO shapes (hash, kind, name, size, body) VALUES (?, ?, ?, ?, ?)');
  const insertKernel = db.prepare(`INSERT INTO kernels (distro, release, arch, uname_r, version_key, flavour, btf_sha256, btf_size,
      type_count, source_sha256, source_size, source_format, source, ingested_at, archive_sha256, archive_size, pointer_size, byte_order)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const insertKernelSet = db.prepare('INSERT INTO kernel_sets (kernel_id, bucket, set_id) VALUES (?, ?, ?)');
  const insertModule = db.prepare('INSERT INTO modules (kernel_id, name, btf_sha256, btf_size, type_count, source_sha256) VALUES (?, ?, ?, ?, ?, ?)');
  const findTypeIdList = db.prepare('SELECT id FROM type_id_lists WHERE hash = ?').pluck();
  const insertTypeIdList = db.prepare('INSERT INTO type_id_lists (hash, ids) VALUES (?, ?)');
  // OR IGNORE: a kernel that is skipped (same btf) gets its ids when it was ingested before they were recorded.
  const insertKernelTypeIds = db.prepare('INSERT OR IGNORE INTO kernel_type_ids (kernel_id, list_id) VALUES (?, ?)');
  /** The kernel's type id list: found by its content hash (a kernel of the same btf made it), else inserted. */
  const recordTypeIds = (kernelId: number): void => {
    const listId = (findTypeIdList.get(p.typeIds.hash) as number | undefined) ?? Number(insertTypeIdList.run(p.typeIds.hash, p.typeIds.ids).lastInsertRowid);
    insertKernelTypeIds.run(kernelId, listId);
  };

  let newShapes = 0;
  let newSets = 0;
  // The decision (new, skipped, conflict, replace) is taken inside the IMMEDIATE transaction, so two workers
  // ingesting the same kernel at once cannot both decide it is new.
  const tx = db.transaction((): IngestResult['status'] => {
    // Shapes this kernel adds to the catalog, for the derived indexes (shape-index.ts).
    const inserted: IndexedShape[] = [];
    const existing = db
      .prepare('SELECT id, btf_sha256 AS btfSha256 FROM kernels WHERE distro = ? AND release = ? AND arch = ? AND uname_r = ?')
      .get(p.kref.distro, p.kref.release, p.kref.arch, p.kref.unameR) as { id: number; btfSha256: string } | undefined;
    if (existing) {
      const mods = db.prepare('SELECT name, btf_sha256 AS sha FROM modules WHERE kernel_id = ? ORDER BY name').all(existing.id) as { name: string; sha: string }[];
      const same = existing.btfSha256 === p.btfSha256 && mods.length === p.modules.length && mods.every((m, i) => m.name === p.modules[i].name && m.sha === p.modules[i].btfSha256);
      if (same) {
        recordTypeIds(existing.id);
        return 'skipped';
      }
      if (!opts.replace) {
        throw new CatalogError('KERNEL_CONFLICT', `${kref} is already in the catalog with different btf (sha256 ${existing.btfSha256.slice(0, 12)}…, new ${p.btfSha256.slice(0, 12)}…); pass --replace to replace it`);
      }
      db.prepare('DELETE FROM kernels WHERE id = ?').run(existing.id);
    }
    // Module name ids, looked up (or added) once per name in this transaction rather than once per shape.
    const moduleIds = new Map<string, number>();
    const kernelId = Number(insertKernel.run(
      p.kref.distro, p.kref.release, p.kref.arch, p.kref.unameR, versionKey(p.kref.unameR), flavourOf(p.kref.unameR),
      p.btfSha256, p.btfSize, p.typeCount, p.sourceSha256, p.sourceBytes.length, p.sourceFormat, p.source, new Date().toISOString(),
      p.archive?.sha256 ?? null, p.archive?.size ?? null, p.pointerSize, p.byteOrder,
    ).lastInsertRowid);
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      const { entries, hash } = p.buckets[bucket];
      let setId = findSet.get(hash) as number | undefined;
      if (setId === undefined) {
        const members: [number, number, number][] = [];
        for (const { shape, copies } of entries) {
          let shapeId = findShape.get(shape.hash) as number | undefined;
          if (shapeId === undefined) {
            shapeId = Number(insertShape.run(shape.hash, shape.kind, shape.name, shape.size, shape.body).lastInsertRowid);
            inserted.push({ id: shapeId, kind: shape.kind, name: shape.name, body: shape.body });
          }
          let moduleId = moduleIds.get(shape.module);
          if (moduleId === undefined) moduleIds.set(shape.module, (moduleId = moduleIdOf(catalog, shape.module)));
          members.push([shapeId, moduleId, copies]);
        }
        members.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
        setId = Number(insertSet.run(hash, bucket, entries.length, JSON.stringify(members)).lastInsertRowid);
        newSets++;
      }
      insertKernelSet.run(kernelId, bucket, setId);
    }
    for (const m of p.modules) insertModule.run(kernelId, m.name, m.btfSha256, m.btfSize, m.typeCount, m.sourceSha256);
    recordTypeIds(kernelId);
    indexNewShapes(catalog, inserted);
    newShapes = inserted.length;
    return existing ? 'replaced' : 'ingested';
  });
  const status = tx.immediate();
  return { ...base, status, newShapes, newSets, ms: performance.now() - started };
}

/**
 * True for failures of the input itself (bad BTF, a bad package or image, a bad name or layout), which retrying
 * cannot fix; false for the catalog's own trouble (CATALOG_CORRUPT) and unexpected errors.
 */
export function isInputError(err: unknown): boolean {
  return err instanceof BtfError || err instanceof PkgError || (err instanceof CatalogError && err.code !== 'CATALOG_CORRUPT' && err.code !== 'CATALOG_NEEDS_REINDEX');
}

/** Records an input that failed, with its reason, so the CLI and API can show it. */
export function recordFailure(catalog: Catalog, source: string, kref: string | null, err: unknown, jobId?: string): void {
  // The catalog refused the write, the input did not fail: recording it would list the kernel as failed.
  if (err instanceof CatalogError && err.code === 'CATALOG_NEEDS_REINDEX') return;
  const code = isInputError(err) ? (err as { code: string }).code : 'INTERNAL';
  const message = err instanceof Error ? err.message : String(err);
  catalog.sqlite
    .prepare('INSERT INTO ingest_failures (source, kref, code, message, job_id) VALUES (?, ?, ?, ?, ?)')
    .run(source, kref, code, message, jobId ?? null);
}
