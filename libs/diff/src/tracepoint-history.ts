import {
  prototypeText, tracepointDefinitions, tracepointViews, type Catalog, type KernelFilter, type TracepointJson, type TracepointView,
} from '@btf-atlas/catalog/read';
import { abiOf, compareParams } from './func-history.js';
import { historyFrame, historySummary, neighbourChanges, subjectOf, typeContexts, type HistoryEntry, type HistoryTail } from './history.js';
import { compareMembers, type TypeContext } from './members.js';

/** `tracepoint NAME --history`: a tracepoint's raw prototype and event record across kernels. */

export type TracepointHistoryEntry = HistoryEntry<TracepointJson>;

/** The fine classification of a {@link TracepointChange}. */
export type TracepointChangeKind =
  | 'added' | 'removed' | 'raw_added' | 'raw_removed' | 'param_added' | 'param_removed' | 'param_type' | 'param_renamed'
  | 'event_added' | 'event_removed' | 'event_size' | 'member_added' | 'member_removed' | 'member_offset' | 'member_size' | 'member_type';

/**
 * A change of a tracepoint between neighbours of a series: `what` says which half (`raw`, `event`) or the whole
 * (`added`, `removed`); `change` the finer class. Parameter changes are as a func's ({@link compareParams}: `param`,
 * `index` after the context, `abi`); member changes as a type history's (`member`, `probable_rename`).
 */
export interface TracepointChange {
  from: string;
  to: string;
  series: string;
  what: 'added' | 'removed' | 'raw' | 'event';
  change: TracepointChangeKind;
  param?: string;
  index?: number;
  member?: string;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
  abi?: 'same' | 'changed';
  probable_rename?: string;
}

/** A tracepoint's value in a timeline span: the raw prototype's types, and the event record's size and digest. */
export type TracepointValue =
  | { status: 'present'; raw: string | null; event: { size: number; members: number; digest: string } | null }
  | { status: 'missing' };

/** `tracepoint NAME --history --json` (`GET /v1/tracepoints/{name}/history`). */
export interface TracepointHistoryJson extends HistoryTail<TracepointValue> {
  tracepoint: string;
  kernels: TracepointHistoryEntry[];
  changes: TracepointChange[];
}

type TracepointChangeBody = Omit<TracepointChange, 'from' | 'to' | 'series'>;

/** What changed from one kernel's tracepoint (its first definition) to its neighbour's. */
function tracepointChanges(vx: TracepointView | undefined, vy: TracepointView | undefined, ctx: (module: string) => TypeContext): TracepointChangeBody[] {
  const x = vx?.json;
  const y = vy?.json;
  const state = (t: TracepointJson): Record<string, unknown> => ({
    raw: t.raw ? prototypeText(t.raw.return, t.raw.params, false) : null,
    event: t.event ? { size: t.event.size, members: t.event.members.length } : null,
  });
  if (!x && !y) return [];
  if (!x && y) return [{ what: 'added', change: 'added', before: { status: 'missing' }, after: state(y) }];
  if (x && !y) return [{ what: 'removed', change: 'removed', before: state(x), after: { status: 'missing' } }];
  if (!x || !y || !vx || !vy || x === y) return [];
  const out: TracepointChangeBody[] = [];
  if (!x.raw && y.raw) out.push({ what: 'raw', change: 'raw_added', before: { raw: null }, after: { raw: prototypeText(y.raw.return, y.raw.params, false) } });
  else if (x.raw && !y.raw) out.push({ what: 'raw', change: 'raw_removed', before: { raw: prototypeText(x.raw.return, x.raw.params, false) }, after: { raw: null } });
  else if (x.raw && y.raw) {
    for (const c of compareParams(x.raw.params, y.raw.params)) out.push({ what: 'raw', ...c });
    if (x.raw.context?.type !== y.raw.context?.type) {
      out.push({ what: 'raw', change: 'param_type', param: y.raw.context?.name ?? '', index: -1, before: { type: x.raw.context?.type ?? null }, after: { type: y.raw.context?.type ?? null }, ...(x.raw.context && y.raw.context ? { abi: abiOf(x.raw.context.desc, y.raw.context.desc) } : {}) });
    }
  }
  if (!x.event && y.event) out.push({ what: 'event', change: 'event_added', before: { event: null }, after: { size: y.event.size, members: y.event.members.length } });
  else if (x.event && !y.event) out.push({ what: 'event', change: 'event_removed', before: { size: x.event.size, members: x.event.members.length }, after: { event: null } });
  else if (x.event && y.event && x.event !== y.event) {
    if (x.event.size !== y.event.size) out.push({ what: 'event', change: 'event_size', before: { size: x.event.size }, after: { size: y.event.size } });
    if (x.event.members !== y.event.members && vx.eventMembers && vy.eventMembers) {
      for (const c of compareMembers(vx.eventMembers, vy.eventMembers, () => ctx(y.module ?? ''))) {
        const { what, ...rest } = c;
        out.push({ what: 'event', change: `member_${what}` as TracepointChangeKind, ...rest });
      }
    }
  }
  return out;
}

const MISSING: TracepointValue = { status: 'missing' };

function tracepointWords(v: TracepointValue): string {
  if (v.status === 'missing') return 'not defined';
  const parts: string[] = [];
  parts.push(v.raw !== null ? `raw ${v.raw}` : 'no raw tracepoint');
  parts.push(v.event !== null ? `event ${v.event.size} bytes/${v.event.members} members` : 'no event');
  return parts.join(', ');
}

/**
 * The history of tracepoint NAME across the catalog's kernels (`tracepoint NAME --history --json`): per kernel in
 * kernel order its raw prototype (`typedef btf_trace_NAME`) and event record (`struct trace_event_raw_NAME`), each
 * null where the kernel lacks it (several definitions when modules define it too, vmlinux's first), the changes
 * between neighbours of each series ({@link TracepointChange}), the timeline and its summary. NAME may be given
 * as `btf_trace_NAME` too. TRACEPOINT_NOT_FOUND (close names suggested) when no kernel has either.
 */
export function tracepointHistory(catalog: Catalog, name: string, f: KernelFilter = {}): TracepointHistoryJson {
  const { name: tp, byKernel, json } = tracepointDefinitions(catalog, name);
  const frame = historyFrame<TracepointJson, TracepointValue>(catalog, byKernel, f, {
    json,
    value: (list, defs) => {
      const t = list[0];
      const digest = tracepointViews(tp, defs)[0]?.eventDigest ?? '';
      return {
        status: 'present',
        raw: t.raw ? prototypeText(t.raw.return, t.raw.params, false) : null,
        event: t.event ? { size: t.event.size, members: t.event.members.length, digest } : null,
      };
    },
    missing: MISSING,
  });
  // The definition each entry shows first, with the event's members as stored (what member changes compare).
  const viewAt = (i: number): TracepointView | undefined => (frame.defs[i].length > 0 ? tracepointViews(tp, byKernel.get(frame.kernels[i].id)!)[0] : undefined);
  const contexts = typeContexts(catalog);
  const changes = neighbourChanges(frame.kernels, frame.entries, (i, j) => tracepointChanges(viewAt(i), viewAt(j), (module) => contexts(frame.kernels[i].id, frame.kernels[j].id, module)));
  const summary = historySummary(subjectOf(tp, frame.modules), frame.timeline, tracepointWords);
  return { tracepoint: tp, kernels: frame.entries, changes, timeline: frame.timeline, summary, ...frame.notes };
}