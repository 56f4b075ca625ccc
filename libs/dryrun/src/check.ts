/**
 * The CO-RE dry run over the catalog (issue 12): BPF objects checked against the selected kernels, one answer per
 * object (`core-check --json`, `POST /v1/core/check`).
 *
 * Work per distinct answer, not per kernel: for each object, kernels whose catalog shapes of everything the object
 * touches are equal form one group (shape-key.ts; kernels with the very same BTF always do) and are resolved once,
 * on the group's first kernel. Loads go one representative at a time: its BTF is parsed, every object it stands
 * for is resolved and judged on it, and the BTF is dropped before the next load. What stays is the answer (one
 * shared body per group, a small entry per kernel), never the BTF.
 */
import { BlobStore, type BlobScratch } from '@btf-atlas/catalog/blob-store';
import { kernelModules, type KernelModule } from '@btf-atlas/catalog/kernel-modules';
import type { Catalog } from '@btf-atlas/catalog/read';
import { checkObjectOnTarget, NOT_CHECKED, objectJson, withOwnTypeIds, type CoreCheckAnswer, type KernelCheckJson } from './answer.js';
import { verdictChanges, verdictTimelines } from './changes.js';
import { DryRunError, DryRunErrorCode } from './errors.js';
import { readObjectInput, type BpfObjectInput, type ReadBpfObject } from './object-input.js';
import { groupKernels, loadGroupTarget, selectKernels, type KernelSelection, type SelectedKernel } from './selection.js';
import { objectKeys } from './shape-key.js';

/**
 * Progress of a dry run: BTF loads done out of all (a load resolves every object whose kernels it stands for),
 * and the kernels whose answers the load just gave (for at least one object), in kernel order.
 */
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
  const plan = planLoads(catalog, objects, kernels, { modules: opts.modules });
  // entries[object][kernel], filled load by load.
  const entries: KernelCheckJson[][] = objects.map(() => new Array<KernelCheckJson>(kernels.length));
  let done = 0;
  // One read buffer for every load: each target is dropped before the next load (answers are plain JSON).
  const scratch: BlobScratch = {};
  for (const load of plan.loads) {
    const rep = kernels[load.kernel];
    const filled = new Set<number>();
    {
      // The representative's BTF lives only in this block.
      const target = await loadGroupTarget(catalog, blobs, { key: '', btfSha256: rep.row.btfSha256, modules: plan.modules(rep), kernels: [rep] }, scratch);
      for (const { object, kernels: members } of load.objects) {
        const resolved = checkObjectOnTarget(objects[object].obj, target);
        for (const at of members) {
          const k = kernels[at];
          filled.add(at);
          // TYPE_ID_TARGET's values are each kernel's own ids (recorded in the catalog: shape-key.ts).
          const ids = at === load.kernel ? undefined : plan.typeIds[object]?.[at];
          const body = ids ? withOwnTypeIds(resolved, ids) : resolved;
          entries[object][at] = {
            kernel: k.kernel,
            verdict: body.verdict,
            reason: body.reason,
            programs: body.programs,
            relocations: body.relocations,
            series: k.series,
            btf_sha256: k.row.btfSha256,
            modules: plan.modules(k).map((m) => m.name),
            resolved_on: rep.kernel,
            reasons: body.reasons,
            result: body.result,
            status_counts: body.status_counts,
            warnings: body.warnings,
          };
        }
      }
    }
    done++;
    opts.onProgress?.({ done, total: plan.loads.length, kernels: [...filled].sort((x, y) => x - y).map((i) => kernels[i].kernel) });
    // Let timers and I/O run between loads (an in-process run inside a server).
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

/** One BTF load of a dry run: the kernel loaded, and per object the kernels its answer there stands for. */
export interface PlannedLoad {
  /** Index of the representative in the selection (the first kernel, in kernel order, of each group it leads). */
  kernel: number;
  objects: { object: number; kernels: number[] }[];
}

/** The BTF loads a dry run of these objects over these kernels costs (shape-key.ts groups kernels per object). */
export interface LoadPlan {
  loads: PlannedLoad[];
  /** The module BTF loaded with a kernel (none when module BTF is not searched). */
  modules: (k: SelectedKernel) => KernelModule[];
  /** Per object, why its kernels are grouped by their own BTF only (shape-key.ts), when they are. */
  unprovable: (string | undefined)[];
  /** Per object with TYPE_ID_TARGET relocations, each kernel's own ids of their targets (shape-key.ts `typeIds`). */
  typeIds: ((ReadonlyMap<string, number | 'none'> | undefined)[] | undefined)[];
}

/**
 * Groups the selected kernels per object by {@link objectKeys} and orders the loads by their representatives'
 * kernel order: each representative's BTF is loaded once for every object it stands for.
 */
export function planLoads(catalog: Catalog, objects: readonly ReadBpfObject[], kernels: readonly SelectedKernel[], opts: { modules?: boolean } = {}): LoadPlan {
  const withModules = opts.modules !== false;
  const modules = withModules ? kernelModules(catalog, kernels.map((k) => k.row.id)) : undefined;
  const byKernel = new Map<number, PlannedLoad>();
  const unprovable: (string | undefined)[] = [];
  const typeIds: LoadPlan['typeIds'] = [];
  objects.forEach((o, oi) => {
    const { keys, unprovable: why, typeIds: ids } = objectKeys(catalog, o.obj, kernels, modules);
    unprovable.push(why);
    typeIds.push(ids);
    const groups = new Map<string, number[]>();
    keys.forEach((key, at) => {
      const g = groups.get(key);
      if (g) g.push(at);
      else groups.set(key, [at]);
    });
    for (const members of groups.values()) {
      let load = byKernel.get(members[0]);
      if (!load) byKernel.set(members[0], (load = { kernel: members[0], objects: [] }));
      load.objects.push({ object: oi, kernels: members });
    }
  });
  return {
    loads: [...byKernel.values()].sort((a, b) => a.kernel - b.kernel),
    modules: (k) => modules?.get(k.row.id) ?? [],
    unprovable,
    typeIds,
  };
}

/** How many groups of kernels (BTF loads) a selection costs: what decides whether to run it off the event loop. */
export function countTargets(catalog: Catalog, selection: KernelSelection, opts: { modules?: boolean } = {}): { kernels: number; targets: number } {
  const kernels = selectKernels(catalog, selection);
  return { kernels: kernels.length, targets: groupKernels(catalog, kernels, opts).length };
}
