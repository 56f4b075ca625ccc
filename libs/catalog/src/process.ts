import { readFileSync } from 'node:fs';
import type { Catalog } from './db.js';
import type { BlobStore } from './blob-store.js';
import { sha256Hex } from './blob-store.js';
import { formatKref, parseKref } from './kernel-ref.js';
import { prepareKernel, recordFailure, writeKernel, type IngestOptions, type IngestResult } from './ingest.js';
import type { ScanItem } from './scan.js';

/** What an ingest job carries (BullMQ job data, or an in-process call): one kernel found by a scan. */
export interface IngestJobData {
  kernel: string;
  path: string;
  source: string;
  modules: { name: string; path: string; source: string }[];
  replace?: boolean;
}

/** The job data for a scanned kernel. */
export function jobDataOf(item: ScanItem, replace = false): IngestJobData {
  return { kernel: formatKref(item.kref), path: item.path, source: item.source, modules: item.modules, replace };
}

export interface ProcessDeps {
  catalog: Catalog;
  blobs: BlobStore;
  onProgress?: (fraction: number, phase: string) => void;
  jobId?: string;
}

/**
 * The ingest processor: a plain function of the job's data and its dependencies, run by the BullMQ worker and
 * in-process alike. Reads the kernel's files, decodes and normalizes them, then writes one transaction. A bad
 * input's reason is recorded in the catalog before the error is rethrown.
 */
export async function processIngest(data: IngestJobData, deps: ProcessDeps): Promise<IngestResult> {
  const opts: IngestOptions = { replace: data.replace, onProgress: deps.onProgress };
  try {
    const kref = parseKref(data.kernel);
    const bytes = readFileSync(data.path);
    const moduleBytes = data.modules.map((m) => readFileSync(m.path));
    const unchanged = unchangedKernel(deps.catalog, data, bytes, moduleBytes);
    if (unchanged) return unchanged;
    const prepared = await prepareKernel(
      {
        kref,
        file: { source: data.source, bytes },
        modules: data.modules.map((m, i) => ({ name: m.name, source: m.source, bytes: moduleBytes[i] })),
      },
      opts,
    );
    deps.onProgress?.(0.8, 'write');
    const result = writeKernel(deps.catalog, deps.blobs, prepared, opts);
    deps.onProgress?.(1, 'done');
    return result;
  } catch (err) {
    try {
      recordFailure(deps.catalog, data.source, data.kernel, err, deps.jobId);
    } catch {
      // The failure is still reported to the caller; recording it is best effort.
    }
    throw err;
  }
}

/**
 * The skipped result when the catalog already holds this kernel from exactly these files (the same input and
 * module file bytes): re-ingesting is then a no-op that decodes nothing.
 */
function unchangedKernel(catalog: Catalog, data: IngestJobData, bytes: Uint8Array, moduleBytes: Uint8Array[]): IngestResult | undefined {
  const k = parseKref(data.kernel);
  const row = catalog.sqlite
    .prepare('SELECT id, source_sha256 AS sourceSha256, type_count AS typeCount FROM kernels WHERE distro = ? AND release = ? AND arch = ? AND uname_r = ?')
    .get(k.distro, k.release, k.arch, k.unameR) as { id: number; sourceSha256: string; typeCount: number } | undefined;
  if (!row || row.sourceSha256 !== sha256Hex(bytes)) return undefined;
  const stored = catalog.sqlite
    .prepare('SELECT name, source_sha256 AS sha FROM modules WHERE kernel_id = ? AND source_sha256 IS NOT NULL ORDER BY name')
    .all(row.id) as { name: string; sha: string }[];
  const given = data.modules.map((m, i) => ({ name: m.name, sha: sha256Hex(moduleBytes[i]) })).sort((a, b) => (a.name < b.name ? -1 : 1));
  if (stored.length !== given.length || stored.some((s, i) => s.name !== given[i].name || s.sha !== given[i].sha)) return undefined;
  const modules = (catalog.sqlite.prepare('SELECT name FROM modules WHERE kernel_id = ? ORDER BY name').pluck().all(row.id)) as string[];
  return { kernel: data.kernel, status: 'skipped', types: row.typeCount, modules, shapes: 0, newShapes: 0, newSets: 0, ms: 0 };
}
