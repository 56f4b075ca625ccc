/**
 * The CO-RE dry run over the catalog (issue 12): BPF objects checked against the selected kernels, one answer per
 * object (`core-check --json`, `POST /v1/core/check`).
 *
 * Bounded work: kernels are taken group by group (kernels with the same vmlinux and module BTF form one group and
 * are resolved once); a group's BTF is parsed, every object is resolved and judged on it, and the BTF is dropped
 * before the next group is loaded. What stays is the answer (a few KB per object and kernel), never the BTF.
 */
import { BlobStore } from '@btf-atlas/catalog/blob-store';
import type { Catalog } from '@btf-atlas/catalog/read';
import { checkObjectOnTarget, NOT_CHECKED, objectJson, type CoreCheckAnswer, type KernelCheckBody, type KernelCheckJson } from './answer.js';
import { verdictChanges, verdictTimelines } from './changes.js';
import { DryRunError, DryRunErrorCode } from './errors.js';
import { readObjectInput, type BpfObjectInput, type ReadBpfObject } from './object-input.js';
import { groupKernels, loadGroupTarget, selectKernels, type KernelSelection } from './selection.js';

/** Progress of a dry run: groups of kernels done out of all, and the kernels of the group just done. */
export interface DryRunProgress {
  done: number;
  total: number;
  kernels: string[];
}

export interface CoreCheckOptions {
  /** Where the catalog keeps its blobs (default `<catalog>.blobs/`). */
  blobs?: BlobStore;
  /** Search the kernels' ingested module BTF too, after vmlinux, as libbpf does (default true). */
  modules?: boolean;
  /** Called after each group of kernels. */
  onProgress?: (p: DryRunProgress) => void;
}

/** Reads every object first, so that a bad one is refused before any kernel is loaded. */
export function readObjectInputs(inputs: readonly BpfObjectInput[]): ReadBpfObject[] {
  if (inputs.length === 0) throw new DryRunError(DryRunErrorCode.NoObjects, 'no bpf object given');
  return inputs.map(readObjectInput);
}

/**
 * The dry run of `inputs` against the kernels `selection` names (see {@link selectKernels} for its errors): one
 * answer per object, in the order given. Throws CoreError for an object libbpf could not open.
 */
export async function coreCheck(catalog: Catalog, inputs: readonly BpfObjectInput[], selection: KernelSelection, opts: CoreCheckOptions = {}): Promise<CoreCheckAnswer[]> {
  return coreCheckObjects(catalog, readObjectInputs(inputs), selection, opts);
}

/** {@link coreCheck} of objects already read. */
export async function coreCheckObjects(catalog: Catalog, objects: readonly ReadBpfObject[], selection: KernelSelection, opts: CoreCheckOptions = {}): Promise<CoreCheckAnswer[]> {
  const blobs = opts.blobs ?? BlobStore.forCatalog(catalog.path);
  const kernels = selectKernels(catalog, selection);
  const groups = groupKernels(catalog, kernels, { modules: opts.modules });
  const index = new Map(kernels.map((k, i) => [k.kernel, i]));
  // entries[object][kernel], filled group by group.
  const entries: KernelCheckJson[][] = objects.map(() => new Array<KernelCheckJson>(kernels.length));
  let done = 0;
  for (const group of groups) {
    const bodies: KernelCheckBody[] = [];
    {
      // The group's BTF lives only in this block.
      const target = await loadGroupTarget(catalog, blobs, group);
      for (const o of objects) bodies.push(checkObjectOnTarget(o.obj, target));
    }
    for (const k of group.kernels) {
      const at = index.get(k.kernel) as number;
      objects.forEach((_, oi) => {
        const body = bodies[oi];
        entries[oi][at] = {
          kernel: k.kernel,
          verdict: body.verdict,
          reason: body.reason,
          programs: body.programs,
          relocations: body.relocations,
          series: k.series,
          btf_sha256: group.btfSha256,
          modules: group.modules.map((m) => m.name),
          reasons: body.reasons,
          result: body.result,
          status_counts: body.status_counts,
          warnings: body.warnings,
        };
      });
    }
    done++;
    opts.onProgress?.({ done, total: groups.length, kernels: group.kernels.map((k) => k.kernel) });
    // Let timers and I/O run between groups (an in-process run inside a server).
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return objects.map((o, oi) => {
    const programs = o.obj.programs.map((p) => p.name);
    return {
      object: objectJson(o),
      kernels: entries[oi],
      changes: verdictChanges(programs, kernels, entries[oi]),
      timelines: verdictTimelines(programs, kernels, entries[oi]),
      not_checked: [...NOT_CHECKED],
    };
  });
}

/** How many groups of kernels (BTF loads) a selection costs: what decides whether to run it off the event loop. */
export function countTargets(catalog: Catalog, selection: KernelSelection, opts: { modules?: boolean } = {}): { kernels: number; targets: number } {
  const kernels = selectKernels(catalog, selection);
  return { kernels: kernels.length, targets: groupKernels(catalog, kernels, opts).length };
}
