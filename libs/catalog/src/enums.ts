import { assertNormalizedFor, type Catalog } from './db.js';
import { definitionBody, perShape, withCopies } from './definition-json.js';
import { CatalogError } from './errors.js';
import type { KindDefinitions } from './in-kernel.js';
import type { EnumBody } from './normalize.js';
import { definitionsByKernel, definitionsOfShapes, parseTypeName, type Definition } from './queries.js';
import { enumeratorShapes, namesOfKind } from './search.js';
import { closestNames } from './suggest.js';
/**
 * `enum NAME` and `enumerator NAME`: enums (ENUM and ENUM64 alike) and their values in
 * each kernel (their histories are libs/diff's). Enumerators are found in named and anonymous enums alike, through the `enumerators` index.
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

/** An enum definition's parsed body (parsed once per Definition, as every reader of definitions shares). */
function enumBody(d: Definition): EnumBody {
  return definitionBody(d) as EnumBody;
}

function enumJson(name: string, d: Definition): EnumJson {
  const body = enumBody(d);
  return { name, size: d.size, signed: body.signed, values: body.values.map(([n, v]) => ({ name: n, value: enumValueJson(v) })), ...(d.module !== '' ? { module: d.module } : {}) };
}


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
