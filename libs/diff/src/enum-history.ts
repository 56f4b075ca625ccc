import {
  ANONYMOUS_ENUM, enumDefinitions, enumeratorDefinitions, type Catalog, type EnumeratorJson, type EnumJson, type EnumValueJson, type KernelFilter,
} from '@btf-atlas/catalog/read';
import { historyFrame, historySummary, neighbourChanges, subjectOf, type HistoryEntry, type HistoryTail } from './history.js';
import { compareEnumValues } from './members.js';
import { typeSummary, type TypeChange, type TypeValue } from './type-history.js';

/** `enum NAME --history` and `enumerator NAME --history`: an enum's values, and one enumerator, across kernels. */

export type EnumHistoryEntry = HistoryEntry<EnumJson>;

/** `enum NAME --history --json` (`GET /v1/enums/{name}/history`): the type history's changes and timeline values. */
export interface EnumHistoryJson extends HistoryTail<TypeValue> {
  enum: string;
  kernels: EnumHistoryEntry[];
  changes: TypeChange[];
}

type TypeChangeBody = Omit<TypeChange, 'from' | 'to' | 'series'>;

function enumChanges(x: EnumJson | undefined, y: EnumJson | undefined): TypeChangeBody[] {
  if (!x && !y) return [];
  if (!x && y) return [{ what: 'added', before: { status: 'missing' }, after: { kind: 'enum', size: y.size } }];
  if (x && !y) return [{ what: 'removed', before: { kind: 'enum', size: x.size }, after: { status: 'missing' } }];
  if (!x || !y || x === y) return [];
  const out: TypeChangeBody[] = [];
  if (x.size !== y.size) out.push({ what: 'size', before: { size: x.size }, after: { size: y.size } });
  out.push(...compareEnumValues(x.values, y.values));
  return out;
}

const MISSING_TYPE: TypeValue = { status: 'missing' };
/**
 * The history of enum NAME (`enum NAME` or `NAME`) across the catalog's kernels, as the type history has it for
 * an enum, each kernel's definition in the contract's enum shape ({@link EnumJson}: values as numbers where
 * exact; every definition when there are several, vmlinux's first): changes (`added`, `removed`, `size`, and per
 * value `added`, `removed`, `value`) between neighbours of each series, the timeline and its summary.
 * TYPE_NOT_FOUND (close enum names suggested) when no kernel has an enum of the name.
 */
export function enumHistory(catalog: Catalog, name: string, f: KernelFilter = {}): EnumHistoryJson {
  const { name: ename, byKernel, json } = enumDefinitions(catalog, name);
  const frame = historyFrame<EnumJson, TypeValue>(catalog, byKernel, f, {
    json,
    value: (list, defs) => ({ status: 'present', kind: 'enum', size: list[0].size, values: list[0].values.length, digest: defs[0].digest }),
    missing: MISSING_TYPE,
  });
  const changes = neighbourChanges(frame.kernels, frame.entries, (i, j) => enumChanges(frame.defs[i][0], frame.defs[j][0]));
  return { enum: ename, kernels: frame.entries, changes, timeline: frame.timeline, summary: typeSummary(subjectOf(`enum ${ename}`, frame.modules), frame.timeline), ...frame.notes };
}

export type EnumeratorHistoryEntry = HistoryEntry<EnumeratorJson>;

/**
 * A change of an enumerator between neighbours of a series: `added`, `removed`, `value` (changed), `moved` (now
 * in another enum: named differently, or an anonymous enum with another first enumerator).
 */
export interface EnumeratorChange {
  from: string;
  to: string;
  series: string;
  what: 'added' | 'removed' | 'value' | 'moved';
  before: Record<string, unknown>;
  after: Record<string, unknown>;
}

/** An enumerator's value in a timeline span. */
export type EnumeratorValue =
  | { status: 'present'; value: EnumValueJson; enum: string; first_enumerator: string; definitions?: number }
  | { status: 'missing' };

/** `enumerator NAME --history --json` (`GET /v1/enumerators/{name}/history`). */
export interface EnumeratorHistoryJson extends HistoryTail<EnumeratorValue> {
  enumerator: string;
  kernels: EnumeratorHistoryEntry[];
  changes: EnumeratorChange[];
}

function enumeratorChanges(x: EnumeratorJson | undefined, y: EnumeratorJson | undefined): Omit<EnumeratorChange, 'from' | 'to' | 'series'>[] {
  if (!x && !y) return [];
  const where = (e: EnumeratorJson): Record<string, unknown> => ({ enum: e.enum, first_enumerator: e.first_enumerator });
  if (!x && y) return [{ what: 'added', before: { status: 'missing' }, after: { value: y.value, ...where(y) } }];
  if (x && !y) return [{ what: 'removed', before: { value: x.value, ...where(x) }, after: { status: 'missing' } }];
  if (!x || !y || x === y) return [];
  const out: Omit<EnumeratorChange, 'from' | 'to' | 'series'>[] = [];
  if (x.value !== y.value) out.push({ what: 'value', before: { value: x.value }, after: { value: y.value } });
  // An anonymous enum is known by its first enumerator; a named one by its name.
  const moved = x.enum !== y.enum || (x.enum === ANONYMOUS_ENUM && x.first_enumerator !== y.first_enumerator);
  if (moved) out.push({ what: 'moved', before: where(x), after: where(y) });
  return out;
}

const MISSING_ENUMERATOR: EnumeratorValue = { status: 'missing' };

function enumeratorWords(v: EnumeratorValue): string {
  if (v.status === 'missing') return 'not defined';
  const where = v.enum === ANONYMOUS_ENUM ? `anonymous enum from ${v.first_enumerator}` : `enum ${v.enum}`;
  return `${v.value} (${where})${v.definitions ? ` (${v.definitions} definitions)` : ''}`;
}

/**
 * The history of enumerator NAME (`BPF_MAP_TYPE_ARENA`) across the catalog's kernels: per kernel in kernel order
 * its value and the enum it is in — named, or anonymous with its first enumerator — (every definition when
 * several enums or modules have it, vmlinux's first), the changes between neighbours of each series
 * ({@link EnumeratorChange}), the timeline and its summary. ENUMERATOR_NOT_FOUND (close names suggested) when
 * no enum of any kernel has it.
 */
export function enumeratorHistory(catalog: Catalog, name: string, f: KernelFilter = {}): EnumeratorHistoryJson {
  const { name: ename, byKernel, json } = enumeratorDefinitions(catalog, name);
  const frame = historyFrame<EnumeratorJson, EnumeratorValue>(catalog, byKernel, f, {
    json,
    value: (list) => ({
      status: 'present', value: list[0].value, enum: list[0].enum, first_enumerator: list[0].first_enumerator,
      ...(list.length > 1 ? { definitions: list.length } : {}),
    }),
    missing: MISSING_ENUMERATOR,
  });
  const changes = neighbourChanges(frame.kernels, frame.entries, (i, j) => enumeratorChanges(frame.defs[i][0], frame.defs[j][0]));
  const summary = historySummary(subjectOf(ename, frame.modules), frame.timeline, enumeratorWords);
  return { enumerator: ename, kernels: frame.entries, changes, timeline: frame.timeline, summary, ...frame.notes };
}
