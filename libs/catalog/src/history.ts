import type { Catalog } from './db.js';
import type { KernelFilter } from './kernel-ref.js';
import { formatKref } from './kernel-ref.js';
import {
  failedOf, kernelRows, moduleScope, type Definition, type FailedKernelNote, type KernelRow, type NotIngestedNote,
} from './queries.js';
import { buildTimeline, seriesOf, type TimelineLine } from './timeline.js';

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

/** Each definition as many times as the kernel has identical copies of it. */
export function withCopies<J>(defs: Definition[], json: (d: Definition) => J): J[] {
  const out: J[] = [];
  for (const d of defs) {
    const j = json(d);
    for (let i = 0; i < d.copies; i++) out.push(j);
  }
  return out;
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

/**
 * `make`, called once per shape and module within one answer: kernels whose sets differ elsewhere in the bucket
 * hold distinct Definition objects of one shape, and share its JSON object (so changes between them are skipped
 * by identity).
 */
export function perShape<J>(make: (d: Definition) => J): (d: Definition) => J {
  const made = new Map<string, J>();
  return (d) => {
    const key = `${d.shapeId}\0${d.module}`;
    let j = made.get(key);
    if (j === undefined) made.set(key, (j = make(d)));
    return j;
  };
}
