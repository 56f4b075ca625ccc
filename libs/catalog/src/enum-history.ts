import { assertNormalizedFor, type Catalog } from './db.js';
import { CatalogError } from './errors.js';
import { historySummary } from './func-history.js';
import { historyFrame, perShape, withCopies, type HistoryEntry, type HistoryTail } from './history.js';
import type { KindDefinitions } from './in-kernel.js';
import type { KernelFilter } from './kernel-ref.js';
import type { EnumBody } from './normalize.js';
import {
  compareEnumValues, definitionsByKernel, definitionsOfShapes, neighbourChanges, parseTypeName, typeSummary,
  type Definition, type TypeChange, type TypeValue,
} from './queries.js';
import { enumeratorShapes, namesOfKind } from './search.js';
import { closestNames } from './suggest.js';

/**
 * `enum NAME --history` and `enumerator NAME --history`: enums (ENUM and ENUM64 alike) and their values across
 * kernels. Enumerators are found in named and anonymous enums alike, through the `enumerators` index.
 */

/** An enum value as the answers show it: a JSON number when it fits in 2^53 (either sign), else a decimal string. */
export type EnumValueJson = number | string;

/** An enum value as JSON (see {@link EnumValueJson}), from its stored decimal string. */
export function enumValueJson(decimal: string): EnumValueJson {
  const n = Number(decimal);
  return Number.isSafeInteger(n) ? n : decimal;
}

/** One definition of an enum. */
export interface EnumJson {
  name: string;
  size: number;
  signed: boolean;
  values: { name: string; value: EnumValueJson }[];
  module?: string;
}

export type EnumHistoryEntry = HistoryEntry<EnumJson>;

/** `enum NAME --history --json` (`GET /v1/enums/{name}/history`): the type history's changes and timeline values. */
export interface EnumHistoryJson extends HistoryTail<TypeValue> {
  enum: string;
  kernels: EnumHistoryEntry[];
  changes: TypeChange[];
}

const bodies = new WeakMap<Definition, EnumBody>();

function enumBody(d: Definition): EnumBody {
  let b = bodies.get(d);
  if (!b) bodies.set(d, (b = JSON.parse(d.body) as EnumBody));
  return b;
}

function enumJson(name: string, d: Definition): EnumJson {
  const body = enumBody(d);
  return { name, size: d.size, signed: body.signed, values: body.values.map(([n, v]) => ({ name: n, value: enumValueJson(v) })), ...(d.module !== '' ? { module: d.module } : {}) };
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
 * Where enum NAME (`enum NAME` or `NAME`) is defined in every kernel, and how one kernel's definitions read as
 * {@link EnumJson}s (each as many times as the kernel has copies of it): what its history and its one-kernel answer
 * share. TYPE_NOT_FOUND when NAME names another kind, or (close enum names suggested) when no kernel has an enum
 * of the name.
 */
export function enumDefinitions(catalog: Catalog, name: string): KindDefinitions<EnumJson> {
  const parsed = parseTypeName(name, ['enum']);
  if (parsed.kinds.length !== 1 || parsed.kinds[0] !== 'enum') {
    throw new CatalogError('TYPE_NOT_FOUND', `${name.trim()} names a ${parsed.kinds.join(', ')}, not an enum`);
  }
  const ename = parsed.name;
  const byKernel = definitionsByKernel(catalog, ename, ['enum']);
  if (byKernel.size === 0) {
    const names = catalog.sqlite.prepare("SELECT DISTINCT name FROM shapes WHERE kind = 'enum' AND name <> ''").pluck().all() as string[];
    throw new CatalogError('TYPE_NOT_FOUND', `no enum named ${ename} in the catalog`, closestNames(ename, names));
  }
  const json = perShape((d) => enumJson(ename, d));
  return { name: ename, byKernel, json: (defs) => withCopies(defs, json) };
}

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
  const sides = frame.entries.map((e, i) => ({ kernel: e.kernel, series: e.series, primary: frame.defs[i][0] }));
  const changes = neighbourChanges(frame.kernels, sides, (x, y) => enumChanges(x.primary, y.primary));
  const subject = `enum ${ename}` + (frame.modules.length > 0 ? ` (module ${frame.modules.join(', ')})` : '');
  return { enum: ename, kernels: frame.entries, changes, timeline: frame.timeline, summary: typeSummary(subject, frame.timeline), ...frame.notes };
}

/** How answers name the enum of an anonymous enum's enumerator (as bpftool names anonymous types). */
export const ANONYMOUS_ENUM = '(anon)';

/** An enumerator in one kernel: its value and the enum it is in. */
export interface EnumeratorJson {
  name: string;
  value: EnumValueJson;
  /** The enum's name, or `(anon)`. */
  enum: string;
  /** The enum's first enumerator: what identifies an anonymous enum. */
  first_enumerator: string;
  size: number;
  signed: boolean;
  module?: string;
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

/** The enumerator NAME in one enum definition (undefined when that enum lacks it). */
function enumeratorJson(name: string, d: Definition): EnumeratorJson | undefined {
  const body = enumBody(d);
  const hit = body.values.find(([n]) => n === name);
  if (!hit) return undefined;
  return {
    name, value: enumValueJson(hit[1]), enum: d.name === '' ? ANONYMOUS_ENUM : d.name, first_enumerator: body.values[0][0], size: d.size, signed: body.signed,
    ...(d.module !== '' ? { module: d.module } : {}),
  };
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
 * Where enumerator NAME is defined in every kernel (the enums holding it, named or anonymous), and how one kernel's
 * enums read as {@link EnumeratorJson}s: what its history and its one-kernel answer share. ENUMERATOR_NOT_FOUND
 * (close names suggested) when no enum of any kernel has it; CATALOG_NEEDS_REINDEX for a catalog of normalizer
 * version 1.
 */
export function enumeratorDefinitions(catalog: Catalog, name: string): KindDefinitions<EnumeratorJson> {
  assertNormalizedFor(catalog, 2, 'enumerator');
  const ename = name.trim();
  const byKernel = definitionsOfShapes(catalog, ename === '' ? [] : enumeratorShapes(catalog, ename));
  if (byKernel.size === 0) {
    throw new CatalogError('ENUMERATOR_NOT_FOUND', `no enumerator named ${ename} in any enum of the catalog`, closestNames(ename, namesOfKind(catalog, 'enumerator')));
  }
  const json = perShape((d) => enumeratorJson(ename, d));
  return { name: ename, byKernel, json: (defs) => withCopies(defs, json).filter((j): j is EnumeratorJson => j !== undefined) };
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
  const sides = frame.entries.map((e, i) => ({ kernel: e.kernel, series: e.series, primary: frame.defs[i][0] }));
  const changes = neighbourChanges(frame.kernels, sides, (x, y) => enumeratorChanges(x.primary, y.primary));
  const subject = ename + (frame.modules.length > 0 ? ` (module ${frame.modules.join(', ')})` : '');
  return { enumerator: ename, kernels: frame.entries, changes, timeline: frame.timeline, summary: historySummary(subject, frame.timeline, enumeratorWords), ...frame.notes };
}

