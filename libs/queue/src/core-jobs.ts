/**
 * The CO-RE dry run as a queue job (`core-check`, issue 12: "large selections run as a queue job with progress"):
 * the object's bytes go into the catalog's blob store under their sha256, as ingest uploads do, and the job names
 * them; the job runs libs/dryrun `coreCheck` over the selection, reports progress as BTF loads are done, and
 * returns the answer (what `POST /v1/core/check` answers in process), which `GET /v1/jobs/{id}` shows as its result.
 *
 * Bad input (an object that is not BPF, a selection without kernels) fails the job once with `CODE: reason`
 * (UnrecoverableError); a missing object blob too (the upload was collected). Anything else is retried.
 */
import { UnrecoverableError } from 'bullmq';
import { sha256Hex, type BlobStore, type Catalog } from '@btf-atlas/catalog';
import { coreCheck, MAX_OBJECT_BYTES, type CoreCheckAnswer, type KernelSelection } from '@btf-atlas/dryrun';
import type { JobLike } from './jobs.js';


/** A dry-run job: the object (in the blob store by sha256), the kernels, and whether module BTF is searched. */
export interface CoreCheckJobData {
  object: { name: string; sha256: string; size: number };
  selection: KernelSelection;
  modules: boolean;
}

/** Where the job reads objects and the catalog. */
export interface CoreJobDeps {
  catalog: Catalog;
  blobs: BlobStore;
}

/** Stores the object's bytes (content-addressed) and returns the job data naming them. */
export function coreCheckJobData(blobs: BlobStore, input: { name: string; bytes: Uint8Array }, selection: KernelSelection, modules = true): CoreCheckJobData {
  if (input.bytes.length > MAX_OBJECT_BYTES) {
    throw new UnrecoverableError(`UPLOAD_TOO_LARGE: the object is larger than ${MAX_OBJECT_BYTES} bytes`);
  }
  const sha256 = blobs.put(input.bytes, sha256Hex(input.bytes));
  return { object: { name: input.name, sha256, size: input.bytes.length }, selection, modules };
}

/** Errors of the object reader, the dry run and the catalog's selection: bad input, never worth a retry. */
const BAD_INPUT = new Set(['CoreError', 'DryRunError', 'CatalogError']);

/** Runs one `core-check` job: the answer for its object over its selection; progress 0-100 by BTF loads. */
export async function runCoreCheckJob(job: JobLike, deps: CoreJobDeps): Promise<CoreCheckAnswer> {
  const data = job.data as CoreCheckJobData;
  const { sha256, name } = data.object;
  let bytes: Buffer;
  try {
    bytes = deps.blobs.get(sha256);
  } catch {
    throw new UnrecoverableError(`CORE_OBJECT_GONE: the object ${sha256} is no longer in the blob store: send it again`);
  }
  if (sha256Hex(bytes) !== sha256) throw new UnrecoverableError(`CORE_OBJECT_GONE: the stored object ${sha256} does not have that sha256`);
  let last = -1;
  try {
    const [answer] = await coreCheck(deps.catalog, [{ name, bytes }], data.selection, {
      blobs: deps.blobs,
      modules: data.modules,
      onProgress: (p) => {
        const pct = Math.floor((100 * p.done) / p.total);
        if (pct === last) return;
        last = pct;
        void job.updateProgress(pct).catch(() => undefined);
      },
    });
    return answer;
  } catch (err) {
    const e = err as Error & { code?: unknown };
    if (BAD_INPUT.has(e.name) && typeof e.code === 'string') throw new UnrecoverableError(`${e.code}: ${e.message}`);
    throw err;
  }
}
