import {
  failedOf, formatKref, kernelRows, moduleScope, seriesOf, typedefTargets, type Catalog, type Definition, type FailedKernelNote, type KernelFilter,
  type KernelRow, type NotIngestedNote, type StoredType, type TimelineKernel,
} from '@btf-atlas/catalog/read';
import type { TypeContext } from './members.js';
import { buildTimeline, spanRange, timelineSummary, unameOfKref, type TimelineLine } from './timeline.js';

/**
 * The frame every history of a kind shares (funcs, tracepoints, syscalls, enums, enumerators), as the contract
 * words it: per kernel in kernel order `present` with the definition's fields inline, or with `definitions: [...]`
 * when the kernel has several, or `missing`; module scoping and failed kernels as the field and type answers do.
 */

/** A kernel's entry in a history of definitions of type `J`. */
export type HistoryEntry<J> =
  | ({ kernel: string; series: string; status: 'present' } & J)
  | { kernel: string; series: string; status: 'present'; definitions: J[] }
  | { kernel: string; series: string; status: 'missing' };

/** What every history answer carries besides its entries and changes. */
export interface HistoryTail<V> {
  timeline: TimelineLine<V>[];
  summary: string;
  /** As the field answer's: kernels of the selection that failed to ingest (only when some did). */
  failed_kernels?: FailedKernelNote[];
  /** As the field answer's: kernels left out because the module defining the name was not ingested with them. */
  not_ingested?: NotIngestedNote;
}

/** How a history turns a kernel's definitions into JSON and timeline values. */
export interface HistoryView<J, V> {
  /** The definitions of a kernel as JSON, primary (the one changes follow) first; called once per distinct list. */
  json(defs: Definition[]): J[];
  /** The timeline value of a kernel's definitions (`list`, their JSON, made from `defs`). */
  value(list: J[], defs: Definition[]): V;
  /** The timeline value of a kernel without the name. */
  missing: V;
}

/** A history's entries, with what its changes and summary are computed from. */
export interface HistoryFrame<J, V> {
  /** The kernels of the answer (the selection, less those the module scope leaves out), in kernel order. */
  kernels: KernelRow[];
  entries: HistoryEntry<J>[];
  /** Per kernel, its definitions' JSON (empty when missing), primary first. */
  defs: J[][];
  timeline: TimelineLine<V>[];
  /** The modules that define the name when no kernel defines it in vmlinux (for the summary's subject). */
  modules: string[];
  /** `failed_kernels` and `not_ingested`, to spread into the answer. */
  notes: Pick<HistoryTail<V>, 'failed_kernels' | 'not_ingested'>;
}

/**
 * The entries and timeline of a history, from where a name is defined in every kernel (`byKernel`, from
 * {@link definitionsOfShapes}). Kernels sharing a Definition[] share its JSON.
 */
export function historyFrame<J extends object, V>(catalog: Catalog, byKernel: Map<number, Definition[]>, f: KernelFilter, view: HistoryView<J, V>): HistoryFrame<J, V> {
  const scope = moduleScope(catalog, byKernel, kernelRows(catalog, f));
  const kernels = scope.kept;
  const views = new Map<Definition[], { list: J[]; value: V }>();
  const entries: HistoryEntry<J>[] = [];
  const defs: J[][] = [];
  const values: V[] = [];
  for (const k of kernels) {
    const kernel = formatKref(k);
    const series = seriesOf(k);
    const d = byKernel.get(k.id);
    let v = d ? views.get(d) : undefined;
    if (d && !v) {
      const list = view.json(d);
      views.set(d, (v = { list, value: view.value(list, d) }));
    }
    if (!v || v.list.length === 0) {
      entries.push({ kernel, series, status: 'missing' });
      defs.push([]);
      values.push(view.missing);
      continue;
    }
    entries.push(v.list.length === 1 ? { kernel, series, status: 'present', ...v.list[0] } : { kernel, series, status: 'present', definitions: v.list });
    defs.push(v.list);
    values.push(v.value);
  }
  const timeline = buildTimeline(kernels.map((k, i) => ({ row: k, kernel: entries[i].kernel, value: values[i] })));
  return {
    kernels, entries, defs, timeline, modules: scope.modules,
    notes: { ...failedOf(catalog, f), ...(scope.note ? { not_ingested: scope.note } : {}) },
  };
}

/**
 * The definitions of a history entry: its inline definition, or its `definitions`, or none when the kernel lacks
 * the name. The entry's own fields (`kernel`, `series`, `status`) are left out of an inline one.
 */
export function entryDefinitions<J>(e: HistoryEntry<J>): J[] {
  if (e.status === 'missing') return [];
  if ('definitions' in e && Array.isArray(e.definitions)) return e.definitions as J[];
  const { kernel: _kernel, series: _series, status: _status, ...rest } = e as { kernel: string; series: string; status: string };
  return [rest as J];
}

/** Pairs [i, j] of kernels where j follows i in the same distro/release/arch/flavour series (kernel order). */
export function seriesNeighbours(kernels: readonly TimelineKernel[]): [number, number][] {
  const out: [number, number][] = [];
  const last = new Map<string, number>();
  kernels.forEach((k, j) => {
    const series = seriesOf(k);
    const i = last.get(series);
    if (i !== undefined) out.push([i, j]);
    last.set(series, j);
  });
  return out;
}

/** A change between neighbours of a series, as every history answer stamps it: the two kernels and their series. */
export type SeriesStamp = { from: string; to: string; series: string };

/**
 * The changes between neighbours in kernel order within each distro/release/arch/flavour series: `diff(i, j)`
 * gives what changed from the entry of kernel i to that of kernel j (neighbours), each stamped with both kernels
 * and the series. Shared by every history answer.
 */
export function neighbourChanges<E extends { kernel: string; series: string }, C extends object>(
  kernels: readonly TimelineKernel[],
  entries: readonly E[],
  diff: (i: number, j: number) => C[],
): (SeriesStamp & C)[] {
  const out: (SeriesStamp & C)[] = [];
  for (const [i, j] of seriesNeighbours(kernels)) {
    const x = entries[i];
    const y = entries[j];
    for (const c of diff(i, j)) out.push({ from: x.kernel, to: y.kernel, series: y.series, ...c });
  }
  return out;
}

/**
 * The summary of a kind's timeline: each span of a main line in `words`, `removed in U` where the name vanished
 * after being present.
 */
export function historySummary<V extends { status: string }>(subject: string, timeline: TimelineLine<V>[], words: (v: V) => string): string {
  return timelineSummary(
    subject,
    timeline,
    (span, prev) => {
      if (span.value.status === 'missing' && prev && prev.value.status !== 'missing') return `removed in ${unameOfKref(span.first)}`;
      return `${words(span.value)} ${spanRange(span)}`;
    },
    words,
  );
}

/** A summary's subject: the name, and the modules defining it when no kernel defines it in vmlinux. */
export function subjectOf(name: string, modules: readonly string[]): string {
  return name + (modules.length > 0 ? ` (module ${modules.join(', ')})` : '');
}

/**
 * The type contexts a history's rename checks read two neighbouring kernels with (members.ts): each kernel's
 * typedefs looked up lazily and read once per answer, however many pairs the kernel is in.
 */
export function typeContexts(catalog: Catalog): (before: number, after: number, module: string) => TypeContext {
  const lookups = new Map<number, (name: string, module: string) => StoredType | undefined>();
  const of = (kernelId: number) => {
    let l = lookups.get(kernelId);
    if (!l) lookups.set(kernelId, (l = typedefTargets(catalog, kernelId)));
    return l;
  };
  return (before, after, module) => ({ lookups: { before: of(before), after: of(after) }, module });
}
