import type { ShapeKind } from '@btf-atlas/catalog/read';
import { summarize } from './compare.js';
import type { AmbiguousName, DiffChange, DiffFilter, DiffSummary, DiffView, DiffViewSummary, KernelDiff, KindSummary, Severity } from './types.js';

/** The severities of the contract, in its order. */
export const SEVERITIES: readonly Severity[] = ['breaking', 'layout', 'additive'];

/** The kinds of type a diff names (contract), in its order. */
export const DIFF_KINDS: readonly ShapeKind[] = ['struct', 'union', 'enum', 'func', 'typedef'];

/** Which filter a {@link DiffFilterError} is about. */
export type DiffFilterParam = 'severity' | 'kind' | 'name';

/**
 * A filter value that cannot be used. The message is one line without the parameter's name (the CLI says
 * `--kind: …`, the API `query parameter "kind": …`); `allowed` lists the accepted values where there is a list.
 */
export class DiffFilterError extends Error {
  override readonly name = 'DiffFilterError';

  constructor(
    readonly param: DiffFilterParam,
    message: string,
    readonly allowed: readonly string[] = [],
  ) {
    super(message);
  }
}

/** Filter values as a user writes them: comma-separated lists and a glob. */
export interface DiffFilterInput {
  severity?: string;
  kind?: string;
  name?: string;
}

/** The longest `name` glob accepted. */
export const MAX_NAME_GLOB = 256;

function parseList<T extends string>(param: DiffFilterParam, text: string, allowed: readonly T[]): T[] {
  const items = text.split(',').map((s) => s.trim());
  const words = `${allowed.join(', ')}`;
  if (items.every((s) => s === '')) throw new DiffFilterError(param, `no value given: one or more of ${words}, comma-separated`, allowed);
  const seen = new Set<T>();
  for (const item of items) {
    if (item === '') throw new DiffFilterError(param, `empty item in ${JSON.stringify(text)}: one or more of ${words}, comma-separated`, allowed);
    if (!(allowed as readonly string[]).includes(item)) throw new DiffFilterError(param, `${JSON.stringify(item)} is not one of ${words}`, allowed);
    seen.add(item as T);
  }
  return allowed.filter((a) => seen.has(a));
}

/**
 * Parses the filters a user gave (`--severity breaking,layout`, `--kind struct,union`, `--name 'sk_*'`): lists are
 * comma-separated (blanks around items ignored), deduplicated and put in the contract's order. Throws
 * {@link DiffFilterError} naming the allowed values for an unknown or empty item, or a glob that cannot be read.
 */
export function parseDiffFilter(input: DiffFilterInput): DiffFilter {
  const out: DiffFilter = {};
  if (input.severity !== undefined) out.severity = parseList('severity', input.severity, SEVERITIES);
  if (input.kind !== undefined) out.kind = parseList('kind', input.kind, DIFF_KINDS);
  if (input.name !== undefined) {
    globToRegExp(input.name);
    out.name = input.name;
  }
  return out;
}

/** Whether a filter lets everything through. */
export function isEmptyFilter(f: DiffFilter): boolean {
  return f.severity === undefined && f.kind === undefined && f.name === undefined;
}

const escapeRe = (c: string): string => c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');

/**
 * A shell-style glob as an anchored RegExp: `*` any run of characters, `?` one character, `[abc]`, `[a-z]`,
 * `[!abc]` (or `[^abc]`) one character of (not of) the set, `\x` the character x itself; anything else matches
 * itself. Case-sensitive, as C names are. Throws {@link DiffFilterError} (param `name`) for an empty glob, one longer
 * than {@link MAX_NAME_GLOB}, a `[` without its `]` or a reversed range.
 */
export function globToRegExp(glob: string): RegExp {
  const bad = (why: string): DiffFilterError => new DiffFilterError('name', `${JSON.stringify(glob)} is not a usable glob: ${why}`);
  if (glob === '') throw new DiffFilterError('name', 'no value given: a type name or a shell glob (*, ?, [abc])');
  if (glob.length > MAX_NAME_GLOB) throw bad(`longer than ${MAX_NAME_GLOB} characters`);
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      while (glob[i + 1] === '*') i++;
      re += '.*';
    } else if (c === '?') {
      re += '.';
    } else if (c === '\\' && i + 1 < glob.length) {
      re += escapeRe(glob[++i]);
    } else if (c === '[') {
      let j = i + 1;
      const negate = glob[j] === '!' || glob[j] === '^';
      if (negate) j++;
      const start = j;
      // A `]` right after `[` (or `[!`) is a member, as in the shell.
      if (glob[j] === ']') j++;
      while (j < glob.length && glob[j] !== ']') j++;
      if (j >= glob.length) throw bad('"[" without its "]"');
      const set = glob.slice(start, j);
      let cls = '';
      for (let k = 0; k < set.length; k++) {
        if (set[k + 1] === '-' && k + 2 < set.length) {
          if (set[k] > set[k + 2]) throw bad(`reversed range ${set[k]}-${set[k + 2]}`);
          cls += `${escapeRe(set[k])}-${escapeRe(set[k + 2])}`;
          k += 2;
        } else {
          cls += escapeRe(set[k]);
        }
      }
      re += `[${negate ? '^' : ''}${cls}]`;
      i = j;
    } else {
      re += escapeRe(c);
    }
  }
  return new RegExp(`${re}$`);
}

/** A name test for a glob (`sk_*`), or one that accepts every name. */
export function nameMatcher(glob: string | undefined): (name: string) => boolean {
  if (glob === undefined) return () => true;
  if (!/[*?[\\]/.test(glob)) return (name) => name === glob;
  const re = globToRegExp(glob);
  return (name) => re.test(name);
}

/** The tests of a filter: one for changes, one for not-compared names (which have no severity). */
export function compileFilter(f: DiffFilter): { change: (c: DiffChange) => boolean; ambiguous: (a: AmbiguousName) => boolean } {
  const severities = f.severity ? new Set<Severity>(f.severity) : undefined;
  const kinds = f.kind ? new Set<ShapeKind>(f.kind) : undefined;
  const name = nameMatcher(f.name);
  const typeOk = (kind: ShapeKind, n: string): boolean => (!kinds || kinds.has(kind)) && name(n);
  return {
    change: (c) => (!severities || severities.has(c.severity)) && typeOk(c.kind, c.name),
    ambiguous: (a) => typeOk(a.kind, a.name),
  };
}

/** Counts changes per kind of type, each by severity; every kind of the contract is present. */
export function summarizeByKind(changes: readonly DiffChange[]): KindSummary {
  const out = Object.fromEntries(DIFF_KINDS.map((k) => [k, { breaking: 0, layout: 0, additive: 0 }])) as KindSummary;
  for (const c of changes) out[c.kind][c.severity]++;
  return out;
}

/** What an answer shows besides the filters: the counts only (`--summary`, `summary=true`). */
export interface DiffViewOptions {
  summary?: boolean;
}

/**
 * The answer to show for a diff, filters and `--summary` applied (pure). No filter and no summary: the diff itself,
 * unchanged. Otherwise `changes` (absent with `summary`) and `ambiguous` keep what passes the filters (the severity
 * filter does not apply to `ambiguous`: not-compared names have none), `summary` counts the changes that pass
 * (`kinds` per kind of type with `summary`; `total`, the whole diff's counts, when a filter is given) and `filters`
 * echoes the filters given.
 */
export function filterDiff(d: KernelDiff, filter: DiffFilter = {}, opts: DiffViewOptions = {}): DiffView {
  const filtered = !isEmptyFilter(filter);
  if (!filtered && !opts.summary) return d;
  const keep = compileFilter(filter);
  const changes = filtered ? d.changes.filter(keep.change) : d.changes;
  const ambiguous = filtered ? d.ambiguous.filter(keep.ambiguous) : d.ambiguous;
  const summary: DiffViewSummary = summarize(changes);
  if (opts.summary) summary.kinds = summarizeByKind(changes);
  if (filtered) summary.total = { ...d.summary };
  // Keys in the answer's order: from, to, changes, summary, ambiguous, filters.
  return {
    from: d.from,
    to: d.to,
    ...(opts.summary ? {} : { changes }),
    summary,
    ambiguous,
    ...(filtered ? { filters: filterEcho(filter) } : {}),
  };
}

/** The filters as echoed in answers: only the keys given, in a fixed order. */
function filterEcho(f: DiffFilter): DiffFilter {
  const out: DiffFilter = {};
  if (f.severity) out.severity = [...f.severity];
  if (f.kind) out.kind = [...f.kind];
  if (f.name !== undefined) out.name = f.name;
  return out;
}

/** The first line of an NDJSON diff: which kernels, and the filters applied (`{}` for none). */
export interface NdjsonHeader {
  from: string;
  to: string;
  filters: DiffFilter;
}

/** The last line of an NDJSON diff: the answer's `summary` and `ambiguous`. */
export interface NdjsonTrailer {
  summary: DiffViewSummary;
  ambiguous: AmbiguousName[];
}

/**
 * The answer as NDJSON lines (each a JSON text ending in `\n`), made one at a time: first the header
 * `{"from","to","filters"}`, then each change shown exactly as in the JSON answer's `changes`, then
 * `{"summary","ambiguous"}` as in the JSON answer. A reader tells the last line by its `summary` key.
 */
export function* ndjsonLines(view: DiffView): Generator<string> {
  const header: NdjsonHeader = { from: view.from, to: view.to, filters: view.filters ?? {} };
  yield `${JSON.stringify(header)}\n`;
  for (const c of view.changes ?? []) yield `${JSON.stringify(c)}\n`;
  const trailer: NdjsonTrailer = { summary: view.summary, ambiguous: view.ambiguous };
  yield `${JSON.stringify(trailer)}\n`;
}

/** Joins short strings into chunks of about `size` characters (the last may be shorter), lazily. */
export function* chunked(parts: Iterable<string>, size = 64 * 1024): Generator<string> {
  let buf: string[] = [];
  let length = 0;
  for (const p of parts) {
    buf.push(p);
    length += p.length;
    if (length >= size) {
      yield buf.join('');
      buf = [];
      length = 0;
    }
  }
  if (buf.length > 0) yield buf.join('');
}

/** Counts of a summary as words: `3 breaking, 1 layout, 0 additive`. */
export function summaryWords(s: DiffSummary): string {
  return `${s.breaking} breaking, ${s.layout} layout, ${s.additive} additive`;
}
