import { assertNormalizedFor, type Catalog } from './db.js';
import { CatalogError } from './errors.js';
import { paramsJson, type ParamJson } from './funcs.js';
import type { KindDefinitions } from './in-kernel.js';
import { TRACE_EVENT_STRUCT_PREFIX, TRACEPOINT_TYPEDEF_PREFIX, tracepointOfTypedef } from './kind-names.js';
import { readTypeDesc, spelled, type CompositeBody, type StoredMember, type TypeDesc, type TypedefBody } from './normalize.js';
import { definitionsOfShapes, memberJson, shapesNamed, type Definition, type MemberJson } from './queries.js';
import { namesOfKind } from './search.js';
import { closestNames } from './suggest.js';

/**
 * `tracepoint NAME`: a tracepoint as BTF shows it, for `tp_btf/NAME` (raw) and `tracepoint/…/NAME`
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

/** A tracepoint definition, with what its history compares besides the JSON. */
export interface TracepointView {
  json: TracepointJson;
  /** The event record's content digest, null without one. */
  eventDigest: string | null;
  /** The event record's flattened members as stored (type references), null without one. */
  eventMembers: StoredMember[] | null;
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
export function tracepointViews(name: string, defs: Definition[]): TracepointView[] {
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
    let eventMembers: StoredMember[] | null = null;
    if (m.struct) {
      const stored = parsed(m.struct, (b) => {
        const members = (JSON.parse(b) as CompositeBody).members;
        return { members, json: members.map(memberJson) };
      });
      event = { struct: `${TRACE_EVENT_STRUCT_PREFIX}${name}`, size: m.struct.size, members: stored.json };
      eventMembers = stored.members;
    }
    if (!raw && !event) continue;
    out.push({ json: { name, raw, event, ...(module !== '' ? { module } : {}) }, eventDigest: m.struct ? m.struct.digest : null, eventMembers });
  }
  views.set(defs, out);
  return out;
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
