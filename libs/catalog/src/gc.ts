/**
 * Garbage collection of the blob store (`<db>.blobs/`): blobs no kernel, module or archive row refers to, and
 * temp files left by interrupted writes, are removed once they are older than a grace period.
 *
 * The grace period is what keeps gc from racing an ingest: writeKernel stores its blobs before the transaction
 * that refers to them commits, and an upload is stored before its job runs. Such a blob is young (BlobStore.put
 * refreshes the mtime of a blob it reuses), so it is left alone until the grace has passed; by then its kernel row
 * is committed or its job has failed. A job still waiting in the queue longer than the grace (workers down for an
 * hour) would lose its upload: the CLI passes the blobs of the jobs still in the queue as `protect`
 * ({@link jobBlobs} of each; libs/queue's pendingJobBlobs asks Redis), so they stay however old they are.
 */
import { readdirSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import type { BlobStore } from './blob-store.js';
import type { Catalog } from './db.js';
import type { IngestJobData } from './process.js';

/** Default grace period: one hour. A blob (or temp file) younger than this is never removed. */
export const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000;

export interface GcOptions {
  /** Report what would be removed, remove nothing. */
  dryRun?: boolean;
  /** Files younger than this (by mtime) are kept (default one hour). */
  graceMs?: number;
  /** The time to measure ages from (default now). */
  now?: number;
  /** Blobs to keep although no row refers to them (uploads of queued jobs). */
  protect?: ReadonlySet<string>;
}

/** One file gc removed (or would remove). */
export interface GcEntry {
  /** The blob's sha256; absent for temp files. */
  sha256?: string;
  /** Path relative to the blob store. */
  path: string;
  bytes: number;
  kind: 'blob' | 'temp';
}

export interface GcResult {
  dryRun: boolean;
  graceMs: number;
  removed: GcEntry[];
  removedBytes: number;
  /** Blobs kept because a row refers to them (or they are protected). */
  referenced: number;
  referencedBytes: number;
  /** Of those, blobs kept only because they are protected (uploads of jobs still in the queue). */
  protected: number;
  /** Unreferenced blobs and temp files kept because they are younger than the grace period. */
  young: number;
  youngBytes: number;
}

/**
 * Every sha256 of the blob store the catalog refers to: each kernel's source file, raw vmlinux BTF and
 * btfhub-archive tarball (kernels.source_sha256, btf_sha256, archive_sha256) and each module's raw BTF and own
 * file (modules.btf_sha256, source_sha256).
 */
export function referencedBlobs(catalog: Catalog): Set<string> {
  const rows = catalog.sqlite
    .prepare(
      `SELECT source_sha256 AS sha FROM kernels UNION SELECT btf_sha256 FROM kernels UNION SELECT archive_sha256 FROM kernels
       UNION SELECT btf_sha256 FROM modules UNION SELECT source_sha256 FROM modules`,
    )
    .pluck()
    .all() as (string | null)[];
  return new Set(rows.filter((s): s is string => s !== null));
}

const SHA = /^[0-9a-f]{64}$/;
/** Temp files of BlobStore.put (`SHA.RANDOM.tmp` beside the blob) and of HTTP uploads (`incoming/….part`). */
const TEMP = /^(?:[0-9a-f]{64}\.[0-9a-f]+\.tmp|[^/]+\.part)$/;

interface Found {
  rel: string;
  sha256?: string;
  stat: Stats;
}

/** The store's blobs (`ab/abcd…`) and temp files; anything else (a file an operator put there) is not listed. */
function listStore(dir: string): Found[] {
  const out: Found[] = [];
  let top: string[];
  try {
    top = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw err;
  }
  for (const sub of top) {
    if (!/^[0-9a-f]{2}$/.test(sub) && sub !== 'incoming') continue;
    let names: string[];
    try {
      names = readdirSync(join(dir, sub));
    } catch {
      continue;
    }
    for (const name of names) {
      const rel = `${sub}/${name}`;
      const isBlob = sub !== 'incoming' && SHA.test(name) && name.startsWith(sub);
      if (!isBlob && !TEMP.test(name)) continue;
      let stat: Stats;
      try {
        stat = statSync(join(dir, rel));
      } catch {
        continue; // removed meanwhile
      }
      if (!stat.isFile()) continue;
      out.push(isBlob ? { rel, sha256: name, stat } : { rel, stat });
    }
  }
  return out.sort((a, b) => (a.rel < b.rel ? -1 : 1));
}

/**
 * Removes (or with `dryRun` lists) the blobs no row refers to and the temp files of interrupted writes, keeping
 * anything younger than the grace period. Returns what was removed and what was kept.
 */
export function gcBlobs(catalog: Catalog, blobs: BlobStore, opts: GcOptions = {}): GcResult {
  const graceMs = opts.graceMs ?? DEFAULT_GC_GRACE_MS;
  const now = opts.now ?? Date.now();
  const refs = referencedBlobs(catalog);
  const result: GcResult = { dryRun: opts.dryRun === true, graceMs, removed: [], removedBytes: 0, referenced: 0, referencedBytes: 0, protected: 0, young: 0, youngBytes: 0 };
  for (const f of listStore(blobs.dir)) {
    if (f.sha256 !== undefined && (refs.has(f.sha256) || opts.protect?.has(f.sha256))) {
      result.referenced++;
      result.referencedBytes += f.stat.size;
      if (!refs.has(f.sha256)) result.protected++;
      continue;
    }
    if (now - f.stat.mtimeMs < graceMs) {
      result.young++;
      result.youngBytes += f.stat.size;
      continue;
    }
    if (!opts.dryRun && !removeIfStillOld(join(blobs.dir, f.rel), now - graceMs)) {
      result.young++;
      result.youngBytes += f.stat.size;
      continue;
    }
    const entry: GcEntry = { path: f.rel, bytes: f.stat.size, kind: f.sha256 === undefined ? 'temp' : 'blob' };
    if (f.sha256 !== undefined) entry.sha256 = f.sha256;
    result.removed.push(entry);
    result.removedBytes += f.stat.size;
  }
  return result;
}

/** Unlinks a file unless it was touched (reused by a write) after `notAfter` since it was listed. */
function removeIfStillOld(path: string, notAfter: number): boolean {
  try {
    if (statSync(path).mtimeMs > notAfter) return false;
    unlinkSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** The sha256 of a path that is a blob of this store (`<store>/ab/abcd…`, as an upload's job names it), else undefined. */
export function blobOfPath(blobs: BlobStore, path: string): string | undefined {
  const parts = relative(resolve(blobs.dir), resolve(path)).split(sep);
  return parts.length === 2 && SHA.test(parts[1]) && parts[1].startsWith(parts[0]) ? parts[1] : undefined;
}

/**
 * The blobs of this store a job reads: an ingest job's file, module files and packages that lie in the store
 * (uploads), and a core-check job's object (named by its sha256).
 */
export function jobBlobs(blobs: BlobStore, data: Partial<Pick<IngestJobData, 'path' | 'modules' | 'packages'>> & { object?: { sha256?: unknown } }): Set<string> {
  const files = [data.path, ...(data.modules ?? []).map((m) => m.path), ...(data.packages ?? []).map((p) => p.path)];
  const out = new Set(files.filter((f): f is string => typeof f === 'string').map((f) => blobOfPath(blobs, f)).filter((s): s is string => s !== undefined));
  const object = data.object?.sha256;
  if (typeof object === 'string' && SHA.test(object)) out.add(object);
  return out;
}

/**
 * After an ingest job failed for good: removes its upload (a job whose input lies in the blob store, as HTTP
 * uploads do) when no row refers to it. The upload must predate the job (`startedAt`, ms): one written or reused
 * since (a new upload of the same bytes, queued behind this job) is kept. Blobs an ingest stored itself before
 * failing (a KERNEL_CONFLICT comes after writeKernel stored them) are as young as the job: gc removes them once
 * the grace period has passed. Returns the sha256 of the blobs removed.
 */
export function removeFailedJobBlobs(catalog: Catalog, blobs: BlobStore, data: IngestJobData, startedAt: number): string[] {
  const candidates = jobBlobs(blobs, data);
  if (candidates.size === 0) return [];
  const refs = referencedBlobs(catalog);
  const removed: string[] = [];
  for (const sha of candidates) {
    if (refs.has(sha) || !blobs.has(sha)) continue;
    if (removeIfStillOld(blobs.pathOf(sha), startedAt)) removed.push(sha);
  }
  return removed;
}
