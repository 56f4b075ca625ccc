import { assertNormalizedFor, type Catalog } from './db.js';
import { CatalogError } from './errors.js';
import { abiOf, compareParams, historySummary, paramsJson, prototypeText, type ParamJson } from './func-history.js';
import { historyFrame, type HistoryEntry, type HistoryTail } from './history.js';
import type { KindDefinitions } from './in-kernel.js';
import { TRACE_EVENT_STRUCT_PREFIX, TRACEPOINT_TYPEDEF_PREFIX, tracepointOfTypedef } from './kind-names.js';
import type { KernelFilter } from './kernel-ref.js';
import { readTypeDesc, spelled, type CompositeBody, type TypeDesc, type TypedefBody } from './normalize.js';
import {
  compareMembers, definitionsOfShapes, memberJson, neighbourChanges, shapesNamed, type Definition, type MemberJson,
} from './queries.js';
import { namesOfKind } from './search.js';
import { closestNames } from './suggest.js';

/**
 * `tracepoint NAME --history`: a tracepoint as BTF shows it, for `tp_btf/NAME` (raw) and `tracepoint/…/NAME`
 * (classic) programs: the raw prototype, from `typedef btf_trace_NAME`, a pointer to a FUNC_PROTO whose first
 * parameter is the `void *` context (include/trace/bpf_probe.h); and the classic event's record,
 * `struct trace_event_raw_NAME` (include/trace/trace_events.h).
 */

/** The raw tracepoint's prototype. */
export interface TracepointRawJson {
  /** `btf_trace_NAME`. */
  typedef: string;
  /** The first parameter as BTF has it (the `void *` context, unnamed). */
  context: ParamJson | null;
  /** The tracepoint's own arguments: the prototype's parameters after the context, as BTF has them. */
  params: ParamJson[];
  return: string;
  return_desc: TypeDesc;
}

/** The classic event's record. */
export interface TracepointEventJson {
  /** `trace_event_raw_NAME`. */
  struct: string;
  size: number;
  /** Flattened members (corpus README format (b)). */
  members: MemberJson[];
}

/** A tracepoint in one kernel: `raw` and `event` null when the kernel lacks that half. */
export interface TracepointJson {
  name: string;
  raw: TracepointRawJson | null;
  event: TracepointEventJson | null;
  /** The module whose BTF defines it; absent for vmlinux. */
  module?: string;
}

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

interface TracepointView {
  json: TracepointJson;
  eventDigest: string | null;
}

const views = new WeakMap<Definition[], TracepointView[]>();

/** Parsed parts of shape bodies by body text (one shape's body is one string, shared by every Definition of it). */
const parsedBodies = new Map<string, unknown>();

function parsed<T>(d: Definition, parse: (body: string) => T): T {
  if (parsedBodies.has(d.body)) return parsedBodies.get(d.body) as T;
  if (parsedBodies.size > 1000) parsedBodies.clear();
  const v = parse(d.body);
  parsedBodies.set(d.body, v);
  return v;
}

/** A kernel's tracepoint definitions: one per module ('' first) that has the typedef or the struct. */
function tracepointViews(name: string, defs: Definition[]): TracepointView[] {
  const hit = views.get(defs);
  if (hit) return hit;
  const byModule = new Map<string, { typedef?: Definition; struct?: Definition }>();
  for (const d of defs) {
    let m = byModule.get(d.module);
    if (!m) byModule.set(d.module, (m = {}));
    // The first of several copies or definitions of a module stands for it.
    if (d.kind === 'typedef' && !m.typedef) m.typedef = d;
    else if (d.kind === 'struct' && !m.struct) m.struct = d;
  }
  const out: TracepointView[] = [];
  for (const [module, m] of byModule) {
    let raw: TracepointRawJson | null = null;
    const proto = m.typedef ? parsed(m.typedef, (b) => (JSON.parse(b) as TypedefBody).proto) : undefined;
    if (m.typedef && proto) {
      const params = paramsJson(proto);
      raw = { typedef: `${TRACEPOINT_TYPEDEF_PREFIX}${name}`, context: params[0] ?? null, params: params.slice(1), return: spelled(proto.ret), return_desc: readTypeDesc(proto.retDesc) };
    }
    let event: TracepointEventJson | null = null;
    if (m.struct) event = { struct: `${TRACE_EVENT_STRUCT_PREFIX}${name}`, size: m.struct.size, members: parsed(m.struct, (b) => (JSON.parse(b) as CompositeBody).members.map(memberJson)) };
    if (!raw && !event) continue;
    out.push({ json: { name, raw, event, ...(module !== '' ? { module } : {}) }, eventDigest: m.struct ? m.struct.digest : null });
  }
  views.set(defs, out);
  return out;
}

type TracepointChangeBody = Omit<TracepointChange, 'from' | 'to' | 'series'>;

/** What changed from one kernel's tracepoint (its first definition) to its neighbour's. */
function tracepointChanges(x: TracepointJson | undefined, y: TracepointJson | undefined): TracepointChangeBody[] {
  const state = (t: TracepointJson): Record<string, unknown> => ({
    raw: t.raw ? prototypeText(t.raw.return, t.raw.params, false) : null,
    event: t.event ? { size: t.event.size, members: t.event.members.length } : null,
  });
  if (!x && !y) return [];
  if (!x && y) return [{ what: 'added', change: 'added', before: { status: 'missing' }, after: state(y) }];
  if (x && !y) return [{ what: 'removed', change: 'removed', before: state(x), after: { status: 'missing' } }];
  if (!x || !y || x === y) return [];
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
    if (x.event.members !== y.event.members) {
      for (const c of compareMembers(x.event.members, y.event.members)) {
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
 * Where tracepoint NAME (or `btf_trace_NAME`) is defined in every kernel, and how one kernel's definitions read as
 * {@link TracepointJson}s: what its history and its one-kernel answer share. TRACEPOINT_NOT_FOUND (close names
 * suggested) when no kernel has the typedef or the struct; CATALOG_NEEDS_REINDEX for a catalog of normalizer
 * version 1.
 */
export function tracepointDefinitions(catalog: Catalog, name: string): KindDefinitions<TracepointJson> {
  assertNormalizedFor(catalog, 2, 'tracepoint');
  const given = name.trim();
  const tp = tracepointOfTypedef(given) ?? given;
  const shapes = tp === ''
    ? []
    : [...shapesNamed(catalog, `${TRACEPOINT_TYPEDEF_PREFIX}${tp}`, ['typedef']), ...shapesNamed(catalog, `${TRACE_EVENT_STRUCT_PREFIX}${tp}`, ['struct'])];
  const byKernel = definitionsOfShapes(catalog, shapes);
  if (byKernel.size === 0) {
    throw new CatalogError('TRACEPOINT_NOT_FOUND', `no tracepoint named ${tp} in the catalog (no typedef ${TRACEPOINT_TYPEDEF_PREFIX}${tp} nor struct ${TRACE_EVENT_STRUCT_PREFIX}${tp})`, closestNames(tp, namesOfKind(catalog, 'tracepoint')));
  }
  return { name: tp, byKernel, json: (defs) => tracepointViews(tp, defs).map((v) => v.json) };
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
  const sides = frame.entries.map((e, i) => ({ kernel: e.kernel, series: e.series, primary: frame.defs[i][0] }));
  const changes = neighbourChanges(frame.kernels, sides, (x, y) => tracepointChanges(x.primary, y.primary));
  const subject = tp + (frame.modules.length > 0 ? ` (module ${frame.modules.join(', ')})` : '');
  return { tracepoint: tp, kernels: frame.entries, changes, timeline: frame.timeline, summary: historySummary(subject, frame.timeline, tracepointWords), ...frame.notes };
}
