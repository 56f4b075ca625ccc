/**
 * Minimized BTF over the catalog (`core-min-btf`, `POST /v1/core/min-btf`): for each selected kernel, libs/core's
 * `minimizeBtf` of the objects against that kernel's BTF (what `bpftool gen min_core_btf` makes), laid out as
 * btfhub-archive: `DISTRO/RELEASE/ARCH/UNAME_R.btf`, written into a folder or into one reproducible `.tar.xz`
 * (libs/catalog's ustar and xz writers: the same objects and kernels always give the same bytes).
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { BlobStore } from '@btf-atlas/catalog/blob-store';
import type { Catalog } from '@btf-atlas/catalog/read';
import { writeReproducibleTar, writeXz } from '@btf-atlas/catalog/tarball';
import { CoreError, minimizeBtf } from '@btf-atlas/core';
import { BtfError } from '@btf-atlas/btf/core';
import { readObjectInputs, type DryRunProgress } from './check.js';
import { DryRunError, DryRunErrorCode } from './errors.js';
import type { BpfObjectInput, ReadBpfObject } from './object-input.js';
import { groupKernels, loadGroupTarget, selectKernels, type KernelSelection } from './selection.js';

/** One kernel's minimized BTF and where it goes in the archive layout. */
export interface MinBtfFile {
  kernel: string;
  /** `DISTRO/RELEASE/ARCH/UNAME_R.btf` */
  path: string;
  bytes: Uint8Array;
}

/** A kernel for which no minimized BTF could be made (with `skipFailed`). */
export interface MinBtfFailure {
  kernel: string;
  code: string;
  message: string;
}

export interface CoreMinBtfOptions {
  blobs?: BlobStore;
  /** Keep the ingested modules' types that relocations match (default true; see libs/core min-btf.ts). */
  modules?: boolean;
  /** Leave out kernels whose minimization fails (listed in `failed`) instead of failing the whole run. */
  skipFailed?: boolean;
  onProgress?: (p: DryRunProgress) => void;
}

/** The archive path of a kernel's minimized BTF. */
export function minBtfPath(kernel: string): string {
  return `${kernel}.btf`;
}

/**
 * The minimized BTF of `inputs` for every kernel `selection` names, in kernel order. A kernel where libbpf cannot
 * decide a relocation (ambiguous candidates, …) fails the run with DryRunError DRYRUN_MIN_BTF naming the kernel and
 * libs/core's code and reason, unless `skipFailed`. Objects are read first (CoreError for a bad one).
 */
export async function coreMinBtf(
  catalog: Catalog,
  inputs: readonly BpfObjectInput[],
  selection: KernelSelection,
  opts: CoreMinBtfOptions = {},
): Promise<{ files: MinBtfFile[]; failed: MinBtfFailure[] }> {
  return coreMinBtfObjects(catalog, readObjectInputs(inputs), selection, opts);
}

/** {@link coreMinBtf} of objects already read. */
export async function coreMinBtfObjects(
  catalog: Catalog,
  objects: readonly ReadBpfObject[],
  selection: KernelSelection,
  opts: CoreMinBtfOptions = {},
): Promise<{ files: MinBtfFile[]; failed: MinBtfFailure[] }> {
  const blobs = opts.blobs ?? BlobStore.forCatalog(catalog.path);
  const kernels = selectKernels(catalog, selection);
  const groups = groupKernels(catalog, kernels, { modules: opts.modules });
  const byKernel = new Map<string, Uint8Array | MinBtfFailure>();
  let done = 0;
  for (const group of groups) {
    let result: Uint8Array | { code: string; message: string; cause: unknown };
    {
      const target = await loadGroupTarget(catalog, blobs, group);
      try {
        result = minimizeBtf(objects.map((o) => o.obj), target);
      } catch (err) {
        if (!(err instanceof CoreError) && !(err instanceof BtfError)) throw err;
        result = { code: err.code, message: err.message, cause: err };
      }
    }
    for (const k of group.kernels) {
      if (result instanceof Uint8Array) {
        byKernel.set(k.kernel, result);
        continue;
      }
      if (!opts.skipFailed) {
        throw new DryRunError(DryRunErrorCode.MinBtf, `no minimized btf for ${k.kernel}: ${result.code}: ${result.message}`, { cause: result.cause });
      }
      byKernel.set(k.kernel, { kernel: k.kernel, code: result.code, message: result.message });
    }
    done++;
    opts.onProgress?.({ done, total: groups.length, kernels: group.kernels.map((k) => k.kernel) });
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const files: MinBtfFile[] = [];
  const failed: MinBtfFailure[] = [];
  for (const k of kernels) {
    const r = byKernel.get(k.kernel);
    if (r instanceof Uint8Array) files.push({ kernel: k.kernel, path: minBtfPath(k.kernel), bytes: r });
    else if (r) failed.push(r);
  }
  return { files, failed };
}

/** Size of a ustar block; an archive ends with two zero blocks. */
const TAR_BLOCK = 512;
const TAR_END = 2 * TAR_BLOCK;

/**
 * One ustar archive of the files, in the order given: the reproducible single-file archives of libs/catalog's
 * `writeReproducibleTar` (mtime 0, mode 0444, root owner, pax names past 100 bytes) put one after the other, each
 * without its end-of-archive blocks, and the two zero blocks once at the end.
 */
export function writeReproducibleTarOf(files: readonly { path: string; bytes: Uint8Array }[]): Uint8Array {
  const parts: Uint8Array[] = files.map((f) => {
    const one = writeReproducibleTar(f.path, f.bytes);
    return one.subarray(0, one.length - TAR_END);
  });
  parts.push(new Uint8Array(TAR_END));
  return Buffer.concat(parts);
}

/** The files as one reproducible `.tar.xz` (same files, same bytes). */
export async function minBtfTarXz(files: readonly MinBtfFile[]): Promise<Uint8Array> {
  return writeXz(writeReproducibleTarOf(files));
}

/**
 * Writes the files below `dir` (`dir/DISTRO/RELEASE/ARCH/UNAME_R.btf`), each atomically (temp file and rename).
 * Throws DryRunError DRYRUN_BAD_OUTPUT naming the path that could not be written.
 */
export function writeMinBtfTree(dir: string, files: readonly MinBtfFile[]): string[] {
  const written: string[] = [];
  for (const f of files) {
    const path = join(dir, ...f.path.split('/'));
    try {
      mkdirSync(dirname(path), { recursive: true });
      const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
      writeFileSync(tmp, f.bytes);
      renameSync(tmp, path);
    } catch (err) {
      throw new DryRunError(DryRunErrorCode.BadOutput, `cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
    written.push(path);
  }
  return written;
}
