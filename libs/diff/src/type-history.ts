import {
  allNames, CatalogError, closestNames, definitionBody, definitionsByKernel, failedOf, formatKref, kernelRows, memberJson, moduleScope,
  parseTypeName, seriesOf, type Catalog, type CompositeBody, type Definition, type EnumBody, type FailedKernelNote,
  type KernelFilter, type MemberJson, type NotIngestedNote, type StoredMember,
} from '@btf-atlas/catalog/read';
import { neighbourChanges, subjectOf, typeContexts } from './history.js';
import { compareEnumValues, compareMembers, type TypeContext } from './members.js';
import { buildTimeline, spanRange, timelineSummary, unameOfKref, type TimelineLine } from './timeline.js';

/** `type NAME --history`: a struct's, union's or enum's layout across kernels, and what changed between neighbours. */

/**
 * A type's state in one kernel (`type NAME --history --json`, `GET /v1/types/{name}/history`); `module` when the
 * definition shown is a module's.
 */
export type TypeHistoryEntry =
  | { kernel: string; series: string; status: 'present'; kind: 'struct' | 'union'; size: number; definitions: number; members: MemberJson[]; module?: string }
  | { kernel: string; series: string; status: 'present'; kind: 'enum'; size: number; definitions: number; values: { name: string; value: string }[]; module?: string }
  | { kernel: string; series: string; status: 'missing' };

/** A history entry with `members: false`: the counts instead of the lists. */
export type TypeHistoryCountEntry =
  | { kernel: string; series: string; status: 'present'; kind: 'struct' | 'union'; size: number; definitions: number; member_count: number; module?: string }
  | { kernel: string; series: string; status: 'present'; kind: 'enum'; size: number; definitions: number; value_count: number; module?: string }
  | { kernel: string; series: string; status: 'missing' };

/** How much of each kernel's layout a type history lists. */
export interface TypeHistoryOptions {
  /**
   * false: each kernel's `member_count` (or an enum's `value_count`) instead of its `members` (`values`); the
   * timeline, changes and summary are the same. A 1,000-kernel history of task_struct is 27 MB with the lists.
   */
  members?: boolean;
}

/**
 * One change between neighbouring kernels of a series. Without `member` it concerns the whole type (`added`,
 * `removed`, `kind`, `size`); with `member` (a member's name, or an enum value's) it concerns that member:
 * `added`, `removed`, `offset` (moved), `size`, `type`, or `value` (enum). A removed member and an added one that
 * look like a rename (the kernel diff's rule, members.ts) each name the other in `probable_rename`.
 */
export interface TypeChange {
  from: string;
  to: string;
  series: string;
  what: 'added' | 'removed' | 'kind' | 'size' | 'offset' | 'type' | 'value';
  member?: string;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
  probable_rename?: string;
}

/**
 * A type's value in a timeline span: kind, size, how many (flattened) members or values, and `digest`, the first
 * 8 bytes (hex) of the content hash of the definition (kind, name, size, every member's name, offset, bitfield
 * size, size and type; an enum's values): equal digests, equal layouts.
 */
export type TypeValue =
  | { status: 'present'; kind: 'struct' | 'union'; size: number; members: number; digest: string }
  | { status: 'present'; kind: 'enum'; size: number; values: number; digest: string }
  | { status: 'missing' };

export interface TypeHistoryJson {
  type: string;
  kernels: TypeHistoryEntry[];
  changes: TypeChange[];
  timeline: TimelineLine<TypeValue>[];
  summary: string;
  /** As {@link FieldHistoryJson.failed_kernels}. */
  failed_kernels?: FailedKernelNote[];
  /** As {@link FieldHistoryJson.not_ingested}. */
  not_ingested?: NotIngestedNote;
}

/** The definition a history follows in one kernel: vmlinux's before modules', then struct, union, enum. */
function primaryDefinition(defs: Definition[]): Definition {
  const rank = (d: Definition): number => (d.module === '' ? 0 : 10) + ['struct', 'union', 'enum'].indexOf(d.kind);
  return [...defs].sort((a, b) => rank(a) - rank(b))[0];
}

/** What kernels sharing a definition share of their history entries, made once per Definition object. */
interface DefinitionView {
  members?: MemberJson[];
  /** The members as stored (type references): what changes compare. */
  stored?: StoredMember[];
  values?: { name: string; value: string }[];
  value: TypeValue;
}
const definitionViews = new WeakMap<Definition, DefinitionView>();

function viewOf(d: Definition): DefinitionView {
  let v = definitionViews.get(d);
  if (v) return v;
  const body = definitionBody(d);
  if (d.kind === 'enum') {
    const values = (body as EnumBody).values.map(([n, x]) => ({ name: n, value: x }));
    v = { values, value: { status: 'present', kind: 'enum', size: d.size, values: values.length, digest: d.digest } };
  } else {
    const stored = (body as CompositeBody).members;
    const members = stored.map(memberJson);
    v = { members, stored, value: { status: 'present', kind: d.kind as 'struct' | 'union', size: d.size, members: members.length, digest: d.digest } };
  }
  definitionViews.set(d, v);
  return v;
}

const MISSING_TYPE: TypeValue = { status: 'missing' };

/**
 * The history of a struct/union/enum across the catalog's kernels (`type NAME --history --json`): per kernel in
 * kernel order its kind, size and flattened members (enum: values) — the vmlinux definition when modules define
 * the name too, `definitions` counting them all — the changes between neighbours of each
 * distro/release/arch/flavour series, and the timeline and its summary. TYPE_NOT_FOUND with close names when no
 * kernel of the catalog defines the name.
 */
/** A type history with `members: false`. */
export type TypeHistoryCountJson = Omit<TypeHistoryJson, 'kernels'> & { kernels: TypeHistoryCountEntry[] };

export function typeHistory(catalog: Catalog, typeName: string, f?: KernelFilter, opts?: TypeHistoryOptions & { members?: true }): TypeHistoryJson;
export function typeHistory(catalog: Catalog, typeName: string, f: KernelFilter, opts: TypeHistoryOptions): TypeHistoryJson | TypeHistoryCountJson;
export function typeHistory(catalog: Catalog, typeName: string, f: KernelFilter = {}, opts: TypeHistoryOptions = {}): TypeHistoryJson | TypeHistoryCountJson {
  const { name, kinds } = parseTypeName(typeName);
  const byKernel = definitionsByKernel(catalog, name, kinds);
  if (byKernel.size === 0) {
    throw new CatalogError('TYPE_NOT_FOUND', `no struct, union or enum named ${name} in the catalog`, closestNames(name, allNames(catalog, kinds)));
  }
  const scope = moduleScope(catalog, byKernel, kernelRows(catalog, f));
  const kernels = scope.kept;
  const values: TypeValue[] = [];
  /** Per kernel, the definition its entry shows (what changes compare). */
  const shown: (Definition | undefined)[] = [];
  const entries: TypeHistoryEntry[] = kernels.map((k): TypeHistoryEntry => {
    const kernel = formatKref(k);
    const series = seriesOf(k);
    const defs = byKernel.get(k.id);
    if (!defs) {
      values.push(MISSING_TYPE);
      shown.push(undefined);
      return { kernel, series, status: 'missing' };
    }
    const definitions = defs.reduce((n, d) => n + d.copies, 0);
    const d = primaryDefinition(defs);
    const view = viewOf(d);
    values.push(view.value);
    shown.push(d);
    const mod = d.module !== '' ? { module: d.module } : {};
    if (d.kind === 'enum') return { kernel, series, status: 'present', kind: 'enum', size: d.size, definitions, values: view.values ?? [], ...mod };
    return { kernel, series, status: 'present', kind: d.kind as 'struct' | 'union', size: d.size, definitions, members: view.members ?? [], ...mod };
  });
  const timeline = buildTimeline(kernels.map((k, i) => ({ row: k, kernel: entries[i].kernel, value: values[i] })));
  const subject = subjectOf(typeName.trim(), scope.modules);
  const contexts = typeContexts(catalog);
  const rest = {
    changes: neighbourChanges(kernels, entries, (i, j) => typeEntryChanges(shown[i], shown[j], (module) => contexts(kernels[i].id, kernels[j].id, module))), timeline, summary: typeSummary(subject, timeline),
    ...failedOf(catalog, f),
    ...(scope.note ? { not_ingested: scope.note } : {}),
  };
  if (opts.members === false) return { type: typeName.trim(), kernels: entries.map(countsOnly), ...rest };
  return { type: typeName.trim(), kernels: entries, ...rest };
}

/** A history entry with the counts of its members or values instead of the lists (keys in the same places). */
function countsOnly(e: TypeHistoryEntry): TypeHistoryCountEntry {
  if ('members' in e) {
    const { members, module, ...rest } = e;
    return { ...rest, member_count: members.length, ...(module !== undefined ? { module } : {}) };
  }
  if ('values' in e) {
    const { values, module, ...rest } = e;
    return { ...rest, value_count: values.length, ...(module !== undefined ? { module } : {}) };
  }
  return e;
}

/**
 * The summary of a type's timeline: each span of a main line in {@link typeWords}, `(other layout)` when the
 * words match the span before yet the layout differs, `removed in U` where it vanished.
 */
export function typeSummary(subject: string, timeline: TimelineLine<TypeValue>[]): string {
  return timelineSummary(
    subject,
    timeline,
    (span, prev) => {
      const v = span.value;
      if (v.status === 'missing' && prev && prev.value.status === 'present') return `removed in ${unameOfKref(span.first)}`;
      const words = typeWords(v);
      const changed = prev && prev.value.status === 'present' && v.status === 'present' && typeWords(prev.value) === words;
      return `${words}${changed ? ' (other layout)' : ''} ${spanRange(span)}`;
    },
    typeWords,
  );
}

/** A type value in words: `9792 bytes/250 members`, `4 bytes/33 values`, `not defined`. */
export function typeWords(v: TypeValue): string {
  if (v.status === 'missing') return 'not defined';
  return v.kind === 'enum' ? `${v.size} bytes/${v.values} values` : `${v.size} bytes/${v.members} members`;
}

type TypeChangeBody = Omit<TypeChange, 'from' | 'to' | 'series'>;

/**
 * What changed from kernel a's definition of a type to its neighbour b's (see {@link TypeChange}); members are
 * paired as the kernel diff pairs them, renames judged with each kernel's typedefs.
 */
function typeEntryChanges(x: Definition | undefined, y: Definition | undefined, ctx: (module: string) => TypeContext): TypeChangeBody[] {
  if (!x && !y) return [];
  if (!x && y) return [{ what: 'added', before: { status: 'missing' }, after: { kind: y.kind, size: y.size } }];
  if (x && !y) return [{ what: 'removed', before: { kind: x.kind, size: x.size }, after: { status: 'missing' } }];
  // Kernels sharing a definition, or one shape: nothing changed.
  if (!x || !y || x === y || x.shapeId === y.shapeId) return [];
  if (x.kind !== y.kind) return [{ what: 'kind', before: { kind: x.kind }, after: { kind: y.kind } }];
  const out: TypeChangeBody[] = [];
  if (x.size !== y.size) out.push({ what: 'size', before: { size: x.size }, after: { size: y.size } });
  const vx = viewOf(x);
  const vy = viewOf(y);
  if (vx.values && vy.values) {
    if (vx.values !== vy.values) out.push(...compareEnumValues(vx.values, vy.values));
  } else if (vx.stored && vy.stored && vx.stored !== vy.stored) {
    out.push(...compareMembers(vx.stored, vy.stored, () => ctx(y.module)));
  }
  return out;
}
