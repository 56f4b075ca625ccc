import {
  KFUNC_TAG, prototypeText, funcDefinitions, type Catalog, type FuncJson, type FuncLinkage, type KernelFilter, type ParamJson, type TypeDesc,
} from '@btf-atlas/catalog/read';
import { historyFrame, historySummary, neighbourChanges, subjectOf, type HistoryEntry, type HistoryTail } from './history.js';

/**
 * `func NAME --history`: a kernel function's FUNC record, FUNC_PROTO and decl tags across kernels (the one-kernel
 * answer and the JSON of a definition are the catalog's, funcs.ts), and what changed between neighbours.
 */

export type FuncHistoryEntry = HistoryEntry<FuncJson>;

/** The fine classification of a {@link FuncChange}. */
export type FuncChangeKind =
  | 'added' | 'removed'
  | 'param_added' | 'param_removed' | 'param_type' | 'param_renamed' | 'variadic'
  | 'return_type' | 'linkage' | 'kfunc' | 'tags' | 'module';

/**
 * A change of a func between neighbours of a series. `what` is the contract's class (`added`, `removed`,
 * `params`, `return`, `linkage`, `kfunc`; and `tags`, `module`), `change` the finer one: a parameter added,
 * removed, renamed or of another type (`param`, its name, and `index`, its position from 0, in the kernel that
 * has it: the old one for `param_removed`), `variadic`, `return_type`, `linkage` (e.g. became static), `kfunc`
 * (became or stopped being a kfunc), `tags` (other decl tags, on the func or its parameters), `module` (moved
 * between vmlinux and a module). Type changes carry each side's {@link TypeDesc} and `abi`: `same` when the value
 * is passed alike (same class — integer, pointer, float or aggregate — size and signedness), else `changed`.
 */
export interface FuncChange {
  from: string;
  to: string;
  series: string;
  what: 'added' | 'removed' | 'params' | 'return' | 'linkage' | 'kfunc' | 'tags' | 'module';
  change: FuncChangeKind;
  param?: string;
  index?: number;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
  abi?: 'same' | 'changed';
}

/** A func's value in a timeline span: linkage, kfunc, and the prototype's types (`int (struct sock *, int)`). */
export type FuncValue =
  | { status: 'present'; linkage: FuncLinkage; kfunc: boolean; prototype: string; definitions?: number }
  | { status: 'missing' };

/** `func NAME --history --json` (`GET /v1/funcs/{name}/history`). */
export interface FuncHistoryJson extends HistoryTail<FuncValue> {
  func: string;
  kernels: FuncHistoryEntry[];
  changes: FuncChange[];
}

/** Same class of value for the calling convention: integers, enums and pointers are passed alike. */
function abiClass(d: TypeDesc): string {
  const k = d.base ?? d.kind;
  if (k === 'int' || k === 'enum' || k === 'ptr') return `int:${d.size}:${d.signed === true ? 's' : 'u'}`;
  if (k === 'float') return `float:${d.size}`;
  return `${k}:${d.size}`;
}

/** `same` when two types are passed alike (see {@link FuncChange}). */
export function abiOf(a: TypeDesc, b: TypeDesc): 'same' | 'changed' {
  return abiClass(a) === abiClass(b) ? 'same' : 'changed';
}

/** A parameter change between two prototypes, before it is stamped with kernels and classed. */
export interface ParamChange {
  change: 'param_added' | 'param_removed' | 'param_type' | 'param_renamed';
  param: string;
  index: number;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
  abi?: 'same' | 'changed';
}

function paramState(p: ParamJson): Record<string, unknown> {
  return { name: p.name, type: p.type, desc: p.desc };
}

/** Pairs of indexes of `x` and `y` whose parameters have the same name, in order (a longest common subsequence). */
function pairByName(x: readonly ParamJson[], y: readonly ParamJson[]): [number, number][] | undefined {
  const unique = (l: readonly ParamJson[]): boolean => l.every((p) => p.name !== '') && new Set(l.map((p) => p.name)).size === l.length;
  if (!unique(x) || !unique(y)) return undefined;
  const n = x.length;
  const m = y.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i][j] = x[i].name === y[j].name ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  const out: [number, number][] = [];
  for (let i = 0, j = 0; i < n && j < m;) {
    if (x[i].name === y[j].name) {
      out.push([i, j]);
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) i++;
    else j++;
  }
  return out;
}

/**
 * How two parameter lists differ. Lists of one length compare position by position (`param_renamed`,
 * `param_type`); otherwise parameters are paired by name where every name is known and unique (so removing the
 * second of three is one `param_removed`), else by position, and the unpaired ones are `param_removed` (from the
 * old list) or `param_added` (from the new one).
 */
export function compareParams(x: readonly ParamJson[], y: readonly ParamJson[]): ParamChange[] {
  const out: ParamChange[] = [];
  let pairs: [number, number][];
  if (x.length === y.length) pairs = x.map((_, i) => [i, i]);
  else pairs = pairByName(x, y) ?? Array.from({ length: Math.min(x.length, y.length) }, (_, i): [number, number] => [i, i]);
  const pairedX = new Set(pairs.map(([i]) => i));
  const pairedY = new Set(pairs.map(([, j]) => j));
  x.forEach((p, i) => {
    if (!pairedX.has(i)) out.push({ change: 'param_removed', param: p.name, index: i, before: paramState(p), after: {} });
  });
  for (const [i, j] of pairs) {
    const a = x[i];
    const b = y[j];
    if (a.name !== b.name) out.push({ change: 'param_renamed', param: b.name, index: j, before: { name: a.name }, after: { name: b.name } });
    if (a.type !== b.type) {
      out.push({ change: 'param_type', param: b.name, index: j, before: { type: a.type, desc: a.desc }, after: { type: b.type, desc: b.desc }, abi: abiOf(a.desc, b.desc) });
    }
  }
  y.forEach((p, j) => {
    if (!pairedY.has(j)) out.push({ change: 'param_added', param: p.name, index: j, before: {}, after: paramState(p) });
  });
  return out;
}

type FuncChangeBody = Omit<FuncChange, 'from' | 'to' | 'series'>;

/** Decl tags other than bpf_kfunc, on the func and on each parameter (by name), for the `tags` change. */
function otherTags(f: FuncJson): Record<string, unknown> {
  const out: Record<string, unknown> = { decl_tags: f.decl_tags.filter((t) => t !== KFUNC_TAG) };
  const params = f.params.filter((p) => p.decl_tags).map((p) => ({ name: p.name, decl_tags: p.decl_tags }));
  if (params.length > 0) out.params = params;
  return out;
}

/** What changed from one kernel's func (its primary definition) to its neighbour's. */
export function funcChanges(x: FuncJson | undefined, y: FuncJson | undefined): FuncChangeBody[] {
  if (!x && !y) return [];
  const proto = (f: FuncJson): Record<string, unknown> => ({ linkage: f.linkage, kfunc: f.kfunc, prototype: prototypeText(f.return, f.params, f.variadic) });
  if (!x && y) return [{ what: 'added', change: 'added', before: { status: 'missing' }, after: proto(y) }];
  if (x && !y) return [{ what: 'removed', change: 'removed', before: proto(x), after: { status: 'missing' } }];
  if (!x || !y || x === y) return [];
  const out: FuncChangeBody[] = [];
  for (const c of compareParams(x.params, y.params)) out.push({ what: 'params', ...c });
  if (x.variadic !== y.variadic) out.push({ what: 'params', change: 'variadic', before: { variadic: x.variadic }, after: { variadic: y.variadic } });
  if (x.return !== y.return) {
    out.push({ what: 'return', change: 'return_type', before: { type: x.return, desc: x.return_desc }, after: { type: y.return, desc: y.return_desc }, abi: abiOf(x.return_desc, y.return_desc) });
  }
  if (x.linkage !== y.linkage) out.push({ what: 'linkage', change: 'linkage', before: { linkage: x.linkage }, after: { linkage: y.linkage } });
  if (x.kfunc !== y.kfunc) out.push({ what: 'kfunc', change: 'kfunc', before: { kfunc: x.kfunc }, after: { kfunc: y.kfunc } });
  const tx = otherTags(x);
  const ty = otherTags(y);
  if (JSON.stringify(tx) !== JSON.stringify(ty)) out.push({ what: 'tags', change: 'tags', before: tx, after: ty });
  if ((x.module ?? '') !== (y.module ?? '')) out.push({ what: 'module', change: 'module', before: { module: x.module ?? '' }, after: { module: y.module ?? '' } });
  return out;
}

const MISSING: FuncValue = { status: 'missing' };

/** A func value in words: `global kfunc int (struct sock *, int)`, `not defined`. */
function funcWords(v: FuncValue): string {
  if (v.status === 'missing') return 'not defined';
  return `${v.linkage}${v.kfunc ? ' kfunc' : ''} ${v.prototype}${v.definitions ? ` (${v.definitions} definitions)` : ''}`;
}

/**
 * The history of func NAME across the catalog's kernels (`func NAME --history --json`): per kernel in kernel
 * order its linkage, kfunc flag, decl tags and prototype (every definition when the kernel has several, vmlinux's
 * first), the changes between neighbours of each series (of the first definition: {@link FuncChange}), the
 * timeline and its summary. FUNC_NOT_FOUND (close names suggested) when no kernel has a FUNC of the name.
 */
export function funcHistory(catalog: Catalog, name: string, f: KernelFilter = {}): FuncHistoryJson {
  const { name: fname, byKernel, json } = funcDefinitions(catalog, name);
  const frame = historyFrame<FuncJson, FuncValue>(catalog, byKernel, f, {
    json,
    value: (list) => {
      const p = list[0];
      return {
        status: 'present', linkage: p.linkage, kfunc: p.kfunc, prototype: prototypeText(p.return, p.params, p.variadic),
        ...(list.length > 1 ? { definitions: list.length } : {}),
      };
    },
    missing: MISSING,
  });
  const changes = neighbourChanges(frame.kernels, frame.entries, (i, j) => funcChanges(frame.defs[i][0], frame.defs[j][0]));
  return { func: fname, kernels: frame.entries, changes, timeline: frame.timeline, summary: historySummary(subjectOf(fname, frame.modules), frame.timeline, funcWords), ...frame.notes };
}
