import {
  allNames, CatalogError, cachedDefsOf, closestNames, failedOf, fieldSuggestions, formatKref, kernelRows, membersAtPath, moduleScope,
  parseFieldPath, resolveFieldPath, seriesOf, spelled, type Catalog, type Definition, type FailedKernelNote, type KernelFilter,
  type KernelRow, type MemberJson, type NotIngestedNote, type StoredMember,
} from '@btf-atlas/catalog/read';
import { seriesNeighbours, subjectOf, typeContexts } from './history.js';
import { probableRename } from './members.js';
import { buildTimeline, spanRange, timelineSummary, unameOfKref, type TimelineLine } from './timeline.js';

/** `field STRUCT.MEMBER[.MEMBER…]`: where a field is in every kernel, and what changed between neighbours. */

/** A field's state in one kernel (`field --json`); `module` when the struct used is a module's. */
export type FieldEntry =
  | ({ kernel: string; series: string; status: 'present' } & Omit<MemberJson, 'name'> & { module?: string })
  | { kernel: string; series: string; status: 'missing_field' | 'missing_struct' };

/**
 * A change between neighbours of one series. A `removed` whose container gained, in the same kernel, a member of
 * compatible type at the same offset (the kernel diff's rule: {@link renameScore}) names it in `probable_rename`.
 */
export interface FieldChange {
  from: string;
  to: string;
  series: string;
  what: 'offset' | 'size' | 'type' | 'added' | 'removed';
  before: Record<string, unknown>;
  after: Record<string, unknown>;
  probable_rename?: string;
}

/** A field's value in a timeline span. */
export type FieldValue =
  | { status: 'present'; offset: number; bits_offset: number; bitfield_size: number; size: number; type: string }
  | { status: 'missing_field' | 'missing_struct' };

export interface FieldHistoryJson {
  field: string;
  kernels: FieldEntry[];
  changes: FieldChange[];
  timeline: TimelineLine<FieldValue>[];
  summary: string;
  /** Kernels of the selection that failed to ingest, so are in no answer: present only when there are some. */
  failed_kernels?: FailedKernelNote[];
  /** Present only for a module's struct when some kernels of the selection lack that module's BTF. */
  not_ingested?: NotIngestedNote;
}

/** The field's value in a timeline span, from its entry. */
function fieldValue(e: FieldEntry): FieldValue {
  return e.status === 'present'
    ? { status: 'present', offset: e.offset, bits_offset: e.bits_offset, bitfield_size: e.bitfield_size, size: e.size, type: e.type }
    : { status: e.status };
}

/**
 * The history of a field across the catalog's kernels (`field --json`): per kernel in kernel order, whether the
 * struct and field exist and where; the changes between neighbours of each distro/release/arch/flavour series;
 * the timeline per arch and flavour across releases, and its summary.
 */
export function fieldHistory(catalog: Catalog, fieldPath: string, f: KernelFilter = {}): FieldHistoryJson {
  const path = parseFieldPath(fieldPath);
  const selected = kernelRows(catalog, f);
  const defsOf = cachedDefsOf(catalog);
  const top = defsOf(path.type, path.kinds);
  if (top.size === 0) {
    throw new CatalogError('TYPE_NOT_FOUND', `no struct or union named ${path.type} in the catalog`, closestNames(path.type, allNames(catalog, path.kinds)));
  }
  const scope = moduleScope(catalog, top, selected);
  const kernels = scope.kept;
  const entries: FieldEntry[] = [];
  /** Per kernel, the field's member as stored and the module of the struct it is in (undefined when missing). */
  const hits: ({ hit: StoredMember; module: string } | undefined)[] = [];
  const sameSet = new Map<Definition[], { hit: StoredMember; module: string } | undefined>();
  let everFound = false;
  for (const k of kernels) {
    const kernel = formatKref(k);
    const series = seriesOf(k);
    const defs = top.get(k.id);
    if (!defs) {
      entries.push({ kernel, series, status: 'missing_struct' });
      hits.push(undefined);
      continue;
    }
    // A one-member path depends only on the definitions, which kernels sharing a shape set share.
    let found: { hit: StoredMember; module: string } | undefined;
    if (path.members.length === 1 && sameSet.has(defs)) found = sameSet.get(defs);
    else {
      found = resolveFieldPath(defs, path.members, k.id, defsOf);
      if (path.members.length === 1) sameSet.set(defs, found);
    }
    if (!found) {
      entries.push({ kernel, series, status: 'missing_field' });
      hits.push(undefined);
      continue;
    }
    everFound = true;
    const { hit, module } = found;
    // Key order as the contract shows it.
    const entry: FieldEntry = { kernel, series, status: 'present', offset: Math.floor(hit[1] / 8), bits_offset: hit[1], bitfield_size: hit[2], size: hit[3], type: spelled(hit[4]) };
    if (module !== '') entry.module = module;
    entries.push(entry);
    hits.push(found);
  }
  if (!everFound && kernels.some((k) => top.has(k.id))) {
    throw new CatalogError(
      'FIELD_NOT_FOUND',
      `${path.type} has no member ${path.members.join('.')} in any kernel`,
      fieldSuggestions(path, new Map(kernels.filter((k) => top.has(k.id)).map((k) => [k.id, top.get(k.id) as Definition[]])), defsOf),
    );
  }

  // The member that most probably took over the field's place where it vanished between kernels a and b.
  // The kernel diff's rename rule (members.ts), with each kernel's typedefs.
  const indexOf = new Map(kernels.map((k, i) => [formatKref(k), i]));
  const renames = new Map<string, string | undefined>();
  const contexts = typeContexts(catalog);
  const renameAt = (i: number, j: number): string | undefined => {
    const old = hits[i];
    if (!old) return undefined;
    const a = kernels[i];
    const b = kernels[j];
    const key = `${a.id}:${b.id}`;
    if (renames.has(key)) return renames.get(key);
    let name: string | undefined;
    const defsB = top.get(b.id);
    const prefix = path.members.slice(0, -1);
    const after = defsB ? membersAtPath(defsB, prefix, b.id, defsOf) : undefined;
    if (after) {
      const defsA = top.get(a.id);
      const before = new Set((defsA ? membersAtPath(defsA, prefix, a.id, defsOf) : undefined)?.map((m) => m[0]) ?? []);
      const gained = after.filter((m) => !before.has(m[0]));
      name = probableRename(old.hit, gained, contexts(a.id, b.id, old.module))?.[0];
    }
    renames.set(key, name);
    return name;
  };

  const changes = fieldChanges(kernels, entries, renameAt);
  const timeline = buildTimeline(kernels.map((k, i) => ({ row: k, kernel: entries[i].kernel, value: fieldValue(entries[i]) })));
  const subject = subjectOf(fieldPath.trim(), scope.modules);
  const summary = timelineSummary(
    subject,
    timeline,
    (span, prev, line) => {
      const v = span.value;
      if (v.status === 'present') return `${fieldWords(v, line)} ${spanRange(span)}`;
      if (prev && prev.value.status === 'present') {
        const i = indexOf.get(prev.last);
        const j = indexOf.get(span.first);
        const rename = i !== undefined && j !== undefined ? renameAt(i, j) : undefined;
        return `removed in ${unameOfKref(span.first)}${v.status === 'missing_struct' ? ' (no such struct)' : ''}${rename ? `: probably renamed to ${rename}` : ''}`;
      }
      return `${fieldWords(v, line)} ${spanRange(span)}`;
    },
    fieldWords,
  );
  return {
    field: fieldPath.trim(), kernels: entries, changes, timeline, summary,
    ...failedOf(catalog, f),
    ...(scope.note ? { not_ingested: scope.note } : {}),
  };
}

/**
 * A field value in words: its byte offset (`208`), a bitfield's bit too (`2344 (bit 18754, 1 bit)`), and its
 * type when the line's present spans do not all share one size and type (`16 as long int`).
 */
function fieldWords(v: FieldValue, line: TimelineLine<FieldValue>): string {
  if (v.status !== 'present') return v.status === 'missing_field' ? 'no such field' : 'no such struct';
  let text = v.bitfield_size ? `${v.offset} (bit ${v.bits_offset}, ${v.bitfield_size} bit${v.bitfield_size === 1 ? '' : 's'})` : String(v.offset);
  const kinds = new Set(line.spans.map((s) => (s.value.status === 'present' ? `${s.value.size}:${s.value.type}` : '')).filter((x) => x !== ''));
  if (kinds.size > 1) text += ` as ${v.type}`;
  return text;
}

/** Changes between neighbours in kernel order within each distro/release/arch/flavour series. */
function fieldChanges(kernels: KernelRow[], entries: FieldEntry[], renameAt: (i: number, j: number) => string | undefined): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const [i, j] of seriesNeighbours(kernels)) {
    const x = entries[i];
    const y = entries[j];
    const from = x.kernel;
    const to = y.kernel;
    const series = y.series;
    if (x.status !== 'present' && y.status === 'present') changes.push({ from, to, series, what: 'added', before: { status: x.status }, after: { offset: y.offset, bits_offset: y.bits_offset, size: y.size, type: y.type } });
    else if (x.status === 'present' && y.status !== 'present') {
      const c: FieldChange = { from, to, series, what: 'removed', before: { offset: x.offset, bits_offset: x.bits_offset, size: x.size, type: x.type }, after: { status: y.status } };
      const rename = renameAt(i, j);
      if (rename !== undefined) c.probable_rename = rename;
      changes.push(c);
    } else if (x.status === 'present' && y.status === 'present') {
      if (x.bits_offset !== y.bits_offset) changes.push({ from, to, series, what: 'offset', before: { offset: x.offset, bits_offset: x.bits_offset }, after: { offset: y.offset, bits_offset: y.bits_offset } });
      if (x.size !== y.size || x.bitfield_size !== y.bitfield_size) changes.push({ from, to, series, what: 'size', before: { size: x.size, bitfield_size: x.bitfield_size }, after: { size: y.size, bitfield_size: y.bitfield_size } });
      if (x.type !== y.type) changes.push({ from, to, series, what: 'type', before: { type: x.type }, after: { type: y.type } });
    }
  }
  return changes;
}
