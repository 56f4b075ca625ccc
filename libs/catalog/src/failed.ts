import { catalogVersion, type Catalog } from './db.js';
import { CatalogError } from './errors.js';
import { closestNames } from './suggest.js';
import { filterKernels, formatKref, parseKref, type KernelFilter } from './kernel-ref.js';

/**
 * Kernels that failed to ingest and are not in the catalog: the newest recorded failure of each KREF that has no
 * kernel row. A kernel refused at ingest must not vanish silently: listings show it with state `failed`, and the
 * answers that would have included it (histories, lookups, the mirror, one-kernel reads) say why it is missing.
 */
export interface FailedKernel {
  kernel: string;
  distro: string;
  release: string;
  arch: string;
  uname_r: string;
  /** The error's stable code (`BTF_BAD_TYPE_REF`, …). */
  code: string;
  message: string;
  /** The input that was refused (archive path, package file, upload). */
  source: string;
  failed_at: string;
}

const cache = new WeakMap<Catalog, { version: string; rows: FailedKernel[] }>();

/** Every failed kernel (newest failure per KREF, none that a later ingest added), in KREF order. */
function allFailed(catalog: Catalog): FailedKernel[] {
  const version = catalogVersion(catalog);
  const hit = cache.get(catalog);
  if (hit && hit.version === version) return hit.rows;
  const rows = catalog.sqlite
    .prepare(
      `SELECT f.kref, f.code, f.message, f.source, f.failed_at AS failedAt
         FROM ingest_failures f
         JOIN (SELECT kref, MAX(id) AS id FROM ingest_failures WHERE kref IS NOT NULL GROUP BY kref) last ON last.id = f.id`,
    )
    .all() as { kref: string; code: string; message: string; source: string; failedAt: string }[];
  const present = catalog.sqlite.prepare('SELECT 1 FROM kernels WHERE distro = ? AND release = ? AND arch = ? AND uname_r = ?').pluck();
  const out: FailedKernel[] = [];
  for (const r of rows) {
    let k;
    try {
      k = parseKref(r.kref);
    } catch {
      continue; // a failure recorded under a name that is no KREF concerns no kernel
    }
    if (present.get(k.distro, k.release, k.arch, k.unameR) !== undefined) continue;
    out.push({
      kernel: formatKref(k), distro: k.distro, release: k.release, arch: k.arch, uname_r: k.unameR,
      code: r.code, message: r.message, source: r.source, failed_at: r.failedAt,
    });
  }
  out.sort((a, b) => (a.kernel < b.kernel ? -1 : a.kernel > b.kernel ? 1 : 0));
  cache.set(catalog, { version, rows: out });
  return out;
}

/** The failed kernels a filter selects (the same filter the histories take). */
export function failedKernels(catalog: Catalog, f: KernelFilter = {}): FailedKernel[] {
  return filterKernels(allFailed(catalog), f);
}

/** The failure of one kernel that is not in the catalog, if its ingest failed. */
export function failedKernel(catalog: Catalog, kref: string): FailedKernel | undefined {
  return allFailed(catalog).find((r) => r.kernel === kref);
}

/** One clause for a not-found message: `; its ingest failed: BTF_BAD_TYPE_REF: … (btf-atlas failures)`. */
export function failureClause(f: FailedKernel | undefined): string {
  return f ? `; it failed to ingest (${f.failed_at}): ${f.code}: ${f.message}` : '';
}

/**
 * KERNEL_NOT_FOUND for a kernel the catalog lacks, with the closest of `known` as suggestions; when its ingest
 * failed, the message says so and why (`… is not in the catalog; it failed to ingest (…): BTF_BAD_TYPE_REF: …`).
 */
export function kernelNotFound(catalog: Catalog, kref: string, known: string[]): CatalogError {
  const failed = failedKernel(catalog, kref);
  return new CatalogError('KERNEL_NOT_FOUND', `kernel ${kref} is not in the catalog${failureClause(failed)}`, closestNames(kref, known));
}
