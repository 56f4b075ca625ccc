import { existsSync, linkSync, renameSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { BlobStore } from './blob-store.js';
import { catalogVersions, NORMALIZER_VERSION, openCatalog, type Catalog } from './db.js';
import { CatalogError } from './errors.js';
import { fillKernelLayouts, prepareKernel, writeKernel, type IngestInput } from './ingest.js';
import { formatKref, type KernelRef } from './kernel-ref.js';

/**
 * `btf-atlas reindex`: a catalog made again from the input files its blob store keeps, with this code's
 * normalizer. The shapes of a catalog are a function of its inputs and of the normalizer version that made them
 * (`catalog_meta.normalizer_version`, db.ts); when the normalizer changes, a catalog refuses ingest
 * (CATALOG_NEEDS_REINDEX) until it is rebuilt here.
 *
 * The new catalog is written beside the old one (`<db>.reindex.tmp`), every kernel in the order it was first
 * ingested, one transaction each, sharing the old catalog's blob store (`<db>.blobs`, content-addressed: both
 * catalogs can point into it). Only when every kernel is in does it replace the old file, by one rename; the old
 * file stays as `<db>.v<N>.bak` (N its normalizer version) unless asked not to. Stopped at any point before that,
 * the old catalog is untouched, and a later run starts over.
 */

/** Tables whose presence makes an SQLite file a btf-atlas catalog. */
const CATALOG_TABLES = ['kernels', 'modules', 'shapes', 'shape_sets', 'kernel_sets', 'ingest_failures'] as const;

/**
 * Checks that `path` is a btf-atlas catalog before anything opens it for writing (opening creates and migrates):
 * NOT_A_CATALOG when there is no such file, when it is not an SQLite database, or when it lacks the catalog's
 * tables. Reads only.
 */
export function checkCatalogFile(path: string): void {
  if (!existsSync(path)) throw new CatalogError('NOT_A_CATALOG', `no catalog at ${path}: no such file`);
  if (statSync(path).isDirectory()) throw new CatalogError('NOT_A_CATALOG', `${path} is a directory, not a catalog file`);
  let tables: string[];
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
    } finally {
      db.close();
    }
  } catch (err) {
    throw new CatalogError('NOT_A_CATALOG', `${path} is not a btf-atlas catalog: ${(err as Error).message.toLowerCase()}`);
  }
  const missing = CATALOG_TABLES.filter((t) => !tables.includes(t));
  if (missing.length > 0) {
    throw new CatalogError('NOT_A_CATALOG', `${path} is an sqlite database but not a btf-atlas catalog (no ${missing.join(', ')} table${missing.length > 1 ? 's' : ''})`);
  }
}

/** One step of a reindex, for progress lines. */
export type ReindexEvent =
  | { phase: 'start'; kernels: number; failures: number; fromNormalizer: number | null; toNormalizer: number }
  | { phase: 'kernel'; index: number; total: number; kernel: string; shapes: number; newShapes: number }
  | { phase: 'dropped'; kernel: string; missing: string[] }
  | { phase: 'swap'; backup: string | null };

export interface ReindexOptions {
  /** Leave out (and record as failed) kernels whose source blobs are gone, rather than failing. */
  dropMissing?: boolean;
  /** Keep the old catalog as `<db>.v<N>.bak` (default true). */
  keepBackup?: boolean;
  onProgress?: (event: ReindexEvent) => void;
}

/** What a reindex did. */
export interface ReindexResult {
  path: string;
  /** Where the old catalog was kept; null when removed. */
  backup: string | null;
  fromNormalizer: number | null;
  toNormalizer: number;
  /** KREFs re-ingested, in order. */
  kernels: string[];
  /** KREFs left out because their blobs are gone (only with `dropMissing`), with the missing blobs. */
  dropped: { kernel: string; missing: string[] }[];
  /** Failure rows carried over. */
  failures: number;
  shapes: number;
}

/** A kernel as the old catalog records it: what is needed to ingest it again from the blob store. */
interface StoredKernel extends KernelRef {
  id: number;
  kernel: string;
  btfSha256: string;
  sourceSha256: string;
  source: string;
  ingestedAt: string;
  archiveSha256: string | null;
  archiveSize: number | null;
  modules: { name: string; btfSha256: string; sourceSha256: string | null }[];
}

function storedKernels(catalog: Catalog): StoredKernel[] {
  const db = catalog.sqlite;
  const rows = db
    .prepare(`SELECT id, distro, release, arch, uname_r AS unameR, btf_sha256 AS btfSha256, source_sha256 AS sourceSha256, source,
              ingested_at AS ingestedAt, archive_sha256 AS archiveSha256, archive_size AS archiveSize FROM kernels ORDER BY id`)
    .all() as Omit<StoredKernel, 'kernel' | 'modules'>[];
  const mods = db.prepare('SELECT name, btf_sha256 AS btfSha256, source_sha256 AS sourceSha256 FROM modules WHERE kernel_id = ? ORDER BY name');
  return rows.map((r) => ({ ...r, kernel: formatKref(r), modules: mods.all(r.id) as StoredKernel['modules'] }));
}

/** The blobs a kernel's ingest needs that the store lacks (its source, and module files that came on their own). */
function missingBlobs(blobs: BlobStore, k: StoredKernel): string[] {
  const out: string[] = [];
  if (!blobs.has(k.sourceSha256)) out.push(`source ${k.source} (sha256 ${k.sourceSha256})`);
  for (const m of k.modules) if (m.sourceSha256 !== null && !blobs.has(m.sourceSha256)) out.push(`module ${m.name} (sha256 ${m.sourceSha256})`);
  return out;
}

/**
 * The input of a kernel's first ingest, from the blob store: its source file (a btfhub tarball, raw BTF, an ELF;
 * for a package, the raw BTF ingest extracted from it, which is what ingest keeps) and the module files that came
 * beside it. Modules inside the source come out of it again.
 */
function inputOf(blobs: BlobStore, k: StoredKernel): IngestInput {
  return {
    kref: { distro: k.distro, release: k.release, arch: k.arch, unameR: k.unameR },
    file: { source: k.source, bytes: blobs.get(k.sourceSha256) },
    modules: k.modules
      .filter((m): m is typeof m & { sourceSha256: string } => m.sourceSha256 !== null)
      .map((m) => ({ name: m.name, source: `${k.kernel}/modules/${m.name} (blob ${m.sourceSha256.slice(0, 12)})`, bytes: blobs.get(m.sourceSha256) })),
  };
}

/** A name beside `path` that does not exist yet: `<path>`, else `<path>.2`, `<path>.3`… */
function freeName(path: string): string {
  if (!existsSync(path)) return path;
  for (let i = 2; ; i++) if (!existsSync(`${path}.${i}`)) return `${path}.${i}`;
}

/** Removes a catalog file and its WAL companions. */
function removeCatalogFile(path: string): void {
  for (const p of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) rmSync(p, { force: true });
}

/**
 * Rebuilds the catalog at `dbPath` from its blob store with this code's normalizer (see the file's comment).
 * Throws NOT_A_CATALOG for a file that is not a catalog; BLOB_MISSING naming every kernel whose blobs are gone
 * (unless `dropMissing`), and the first kernel that fails to ingest again (its BtfError or CatalogError, with the
 * KREF): in both cases before the old catalog is replaced. While it runs, the old catalog is held write-locked
 * (reads go on), so no ingest can land in a file about to be replaced.
 */
export async function reindexCatalog(dbPath: string, opts: ReindexOptions = {}): Promise<ReindexResult> {
  checkCatalogFile(dbPath);
  const emit = opts.onProgress ?? (() => undefined);
  const old = openCatalog(dbPath);
  const blobs = BlobStore.forCatalog(dbPath);
  const tmpPath = `${dbPath}.reindex.tmp`;
  let fresh: Catalog | undefined;
  let locked = false;
  try {
    old.sqlite.prepare('BEGIN IMMEDIATE').run();
    locked = true;
    const fromNormalizer = catalogVersions(old).normalizerVersion;
    const kernels = storedKernels(old);
    const failures = old.sqlite.prepare('SELECT source, kref, code, message, job_id AS jobId, failed_at AS failedAt FROM ingest_failures ORDER BY id').all() as {
      source: string; kref: string | null; code: string; message: string; jobId: string | null; failedAt: string;
    }[];

    const dropped = kernels.map((k) => ({ kernel: k.kernel, missing: missingBlobs(blobs, k) })).filter((d) => d.missing.length > 0);
    if (dropped.length > 0 && !opts.dropMissing) {
      const list = dropped.map((d) => `${d.kernel}: ${d.missing.join(', ')}`).join('; ');
      throw new CatalogError('BLOB_MISSING', `${dropped.length} kernel(s) of ${dbPath} cannot be ingested again, their blobs are gone from ${blobs.dir}: ${list}; pass --drop-missing to leave them out`);
    }
    emit({ phase: 'start', kernels: kernels.length, failures: failures.length, fromNormalizer, toNormalizer: NORMALIZER_VERSION });

    removeCatalogFile(tmpPath);
    fresh = openCatalog(tmpPath);
    await fillKernelLayouts(fresh, blobs);
    const droppedSet = new Set(dropped.map((d) => d.kernel));
    const done: string[] = [];
    let shapes = 0;
    const todo = kernels.filter((k) => !droppedSet.has(k.kernel));
    for (const [i, k] of todo.entries()) {
      const prepared = await prepareKernel(inputOf(blobs, k)).catch((err: unknown) => {
        throw reindexFailure(k, err);
      });
      checkSameKernel(k, prepared);
      const target = fresh;
      const keepArchive = k.archiveSha256 !== null && k.archiveSize !== null && blobs.has(k.archiveSha256);
      // The kernel's row keeps when it was first ingested, and the archive file the mirror already served for it
      // (a tarball built by an earlier xz preset: its sha256 is an ETag clients hold).
      const result = target.sqlite.transaction(() => {
        const r = writeKernel(target, blobs, prepared);
        target.sqlite
          .prepare(`UPDATE kernels SET ingested_at = ?${keepArchive ? ', archive_sha256 = ?, archive_size = ?' : ''}
                    WHERE distro = ? AND release = ? AND arch = ? AND uname_r = ?`)
          .run(k.ingestedAt, ...(keepArchive ? [k.archiveSha256, k.archiveSize] : []), k.distro, k.release, k.arch, k.unameR);
        return r;
      }).immediate();
      shapes += result.newShapes;
      done.push(k.kernel);
      emit({ phase: 'kernel', index: i + 1, total: todo.length, kernel: k.kernel, shapes: result.shapes, newShapes: result.newShapes });
    }

    const insertFailure = fresh.sqlite.prepare('INSERT INTO ingest_failures (source, kref, code, message, job_id, failed_at) VALUES (?, ?, ?, ?, ?, ?)');
    const now = new Date().toISOString();
    fresh.sqlite.transaction(() => {
      for (const f of failures) insertFailure.run(f.source, f.kref, f.code, f.message, f.jobId, f.failedAt);
      // A kernel left out does not vanish silently: it is listed as failed, with the reason.
      for (const d of dropped) {
        const k = kernels.find((x) => x.kernel === d.kernel) as StoredKernel;
        insertFailure.run(k.source, k.kernel, 'BLOB_MISSING', `left out by reindex: missing from the blob store: ${d.missing.join(', ')}`, null, now);
        emit({ phase: 'dropped', kernel: d.kernel, missing: d.missing });
      }
    }).immediate();

    fresh.close();
    fresh = undefined;
    // The swap: the old file gets a second name (the backup), then the new one is renamed over it. At every
    // moment `dbPath` is a whole catalog, the old one or the new one.
    const backup = opts.keepBackup === false ? null : freeName(`${dbPath}.v${fromNormalizer ?? 'unknown'}.bak`);
    old.sqlite.prepare('ROLLBACK').run();
    locked = false;
    old.close();
    if (backup) linkSync(dbPath, backup);
    renameSync(tmpPath, dbPath);
    for (const p of [`${dbPath}-wal`, `${dbPath}-shm`]) rmSync(p, { force: true });
    emit({ phase: 'swap', backup });
    return { path: dbPath, backup, fromNormalizer, toNormalizer: NORMALIZER_VERSION, kernels: done, dropped, failures: failures.length + dropped.length, shapes };
  } catch (err) {
    fresh?.close();
    removeCatalogFile(tmpPath);
    throw err;
  } finally {
    if (old.sqlite.open) {
      if (locked) old.sqlite.prepare('ROLLBACK').run();
      old.close();
    }
  }
}

/** A kernel's ingest failing again, with its KREF in the message (the error's own type and code kept). */
function reindexFailure(k: StoredKernel, err: unknown): unknown {
  if (err instanceof Error && typeof (err as { code?: unknown }).code === 'string') {
    err.message = `reindex of ${k.kernel} failed, the old catalog is kept: ${err.message}`;
  }
  return err;
}

/** The kernel made again must be the one recorded: the same vmlinux BTF and the same module BTF. */
function checkSameKernel(k: StoredKernel, p: Awaited<ReturnType<typeof prepareKernel>>): void {
  const mods = (list: { name: string; btfSha256: string }[]): string => list.map((m) => `${m.name}:${m.btfSha256}`).sort().join(',');
  if (p.btfSha256 !== k.btfSha256 || mods(p.modules) !== mods(k.modules)) {
    throw new CatalogError(
      'CATALOG_CORRUPT',
      `reindex of ${k.kernel}: its stored source ${k.source} does not give the btf the catalog records (vmlinux sha256 ${k.btfSha256.slice(0, 12)}…, ` +
        `${k.modules.length} module(s)); the old catalog is kept`,
    );
  }
}
