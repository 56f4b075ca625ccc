import { assertNormalizedFor, type Catalog } from './db.js';
import { CatalogError } from './errors.js';
import { historySummary } from './func-history.js';
import { historyFrame, type HistoryEntry, type HistoryTail } from './history.js';
import type { KindDefinitions } from './in-kernel.js';
import { syscallFuncNames, syscallOfFunc } from './kind-names.js';
import type { KernelFilter } from './kernel-ref.js';
import { definitionsOfShapes, neighbourChanges, type Definition } from './queries.js';
import { namesOfKind, syscallShapes } from './search.js';
import { closestNames } from './suggest.js';

/**
 * `syscall NAME --history`: which of a syscall's BTF functions each kernel has: the arch wrappers
 * (`__x64_sys_NAME`, `__ia32_sys_NAME`, `__arm64_sys_NAME`…, what a `ksyscall`/kprobe program attaches to), the
 * compat wrappers (`__x64_compat_sys_NAME`…) apart, and the plain `sys_NAME` of kernels without wrappers
 * (kind-names.ts).
 */

/** A syscall in one kernel. */
export interface SyscallJson {
  name: string;
  /** Its native FUNCs present, wrappers in {@link SYSCALL_WRAPPER_PREFIXES} order, then `sys_NAME`. */
  funcs: string[];
  /** Its compat FUNCs present (`__x64_compat_sys_NAME`…, then `compat_sys_NAME`). */
  compat_funcs: string[];
  /** The wrapper prefixes of `funcs` (`x64`, `ia32`…; `sys` for a plain `sys_NAME`). */
  prefixes: string[];
}

export type SyscallHistoryEntry = HistoryEntry<SyscallJson>;

/**
 * A change of a syscall between neighbours of a series: `added` / `removed` (the kernel has none of its FUNCs
 * now / again), or `funcs` with `change` `func_added` / `func_removed` naming the `func` (and `compat` for a
 * compat one).
 */
export interface SyscallChange {
  from: string;
  to: string;
  series: string;
  what: 'added' | 'removed' | 'funcs';
  change: 'added' | 'removed' | 'func_added' | 'func_removed';
  func?: string;
  compat?: boolean;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
}

/** A syscall's value in a timeline span: the FUNCs present. */
export type SyscallValue = { status: 'present'; funcs: string[]; compat_funcs: string[] } | { status: 'missing' };

/** `syscall NAME --history --json` (`GET /v1/syscalls/{name}/history`). */
export interface SyscallHistoryJson extends HistoryTail<SyscallValue> {
  syscall: string;
  kernels: SyscallHistoryEntry[];
  changes: SyscallChange[];
}

/** The syscall's FUNCs of one kernel, in {@link syscallFuncNames} order (every copy and module counted once). */
function syscallJson(name: string, defs: Definition[]): SyscallJson[] {
  const order = syscallFuncNames(name);
  const present = [...new Set(defs.map((d) => d.name))].sort((a, b) => order.indexOf(a) - order.indexOf(b));
  const funcs: string[] = [];
  const compat: string[] = [];
  const prefixes: string[] = [];
  for (const fn of present) {
    // Every shape here was chosen for being a wrapper of NAME; the plain form passed its return-type check.
    const s = syscallOfFunc(fn, true);
    if (!s) continue;
    if (s.compat) compat.push(fn);
    else {
      funcs.push(fn);
      prefixes.push(s.prefix === '' ? 'sys' : s.prefix);
    }
  }
  return [{ name, funcs, compat_funcs: compat, prefixes }];
}

type SyscallChangeBody = Omit<SyscallChange, 'from' | 'to' | 'series'>;

function syscallChanges(x: SyscallJson | undefined, y: SyscallJson | undefined): SyscallChangeBody[] {
  if (!x && !y) return [];
  const state = (s: SyscallJson): Record<string, unknown> => ({ funcs: s.funcs, compat_funcs: s.compat_funcs });
  if (!x && y) return [{ what: 'added', change: 'added', before: { status: 'missing' }, after: state(y) }];
  if (x && !y) return [{ what: 'removed', change: 'removed', before: state(x), after: { status: 'missing' } }];
  if (!x || !y || x === y) return [];
  const out: SyscallChangeBody[] = [];
  for (const compat of [false, true]) {
    const a = compat ? x.compat_funcs : x.funcs;
    const b = compat ? y.compat_funcs : y.funcs;
    for (const fn of a) if (!b.includes(fn)) out.push({ what: 'funcs', change: 'func_removed', func: fn, compat, before: { func: fn }, after: {} });
    for (const fn of b) if (!a.includes(fn)) out.push({ what: 'funcs', change: 'func_added', func: fn, compat, before: {}, after: { func: fn } });
  }
  return out;
}

const MISSING: SyscallValue = { status: 'missing' };

function syscallWords(v: SyscallValue): string {
  if (v.status === 'missing') return 'not defined';
  return [...v.funcs, ...v.compat_funcs].join(' ') || 'no funcs';
}

/**
 * Where syscall NAME (or one of its FUNCs, `__x64_sys_openat2`) is defined in every kernel, and how one kernel's
 * FUNCs read as a {@link SyscallJson}: what its history and its one-kernel answer share. SYSCALL_NOT_FOUND (close
 * names suggested) when no kernel has any of its FUNCs; CATALOG_NEEDS_REINDEX for a catalog of normalizer version 1.
 */
export function syscallDefinitions(catalog: Catalog, name: string): KindDefinitions<SyscallJson> {
  assertNormalizedFor(catalog, 2, 'syscall');
  const given = name.trim();
  const syscall = syscallOfFunc(given, true)?.syscall ?? given;
  const byKernel = definitionsOfShapes(catalog, syscallShapes(catalog, syscall));
  if (byKernel.size === 0) {
    throw new CatalogError('SYSCALL_NOT_FOUND', `no syscall named ${syscall} in the catalog (no ${syscallFuncNames(syscall).slice(0, 3).join(', ')}… func)`, closestNames(syscall, namesOfKind(catalog, 'syscall')));
  }
  return { name: syscall, byKernel, json: (defs) => syscallJson(syscall, defs) };
}

/**
 * The history of syscall NAME across the catalog's kernels (`syscall NAME --history --json`): per kernel in kernel
 * order the syscall's FUNCs it has ({@link SyscallJson}), the changes between neighbours of each series, the
 * timeline and its summary. NAME may be given as one of its FUNCs (`__x64_sys_openat2`). SYSCALL_NOT_FOUND (close
 * names suggested) when no kernel has any.
 */
export function syscallHistory(catalog: Catalog, name: string, f: KernelFilter = {}): SyscallHistoryJson {
  const { name: syscall, byKernel, json } = syscallDefinitions(catalog, name);
  const frame = historyFrame<SyscallJson, SyscallValue>(catalog, byKernel, f, {
    json,
    value: (list) => ({ status: 'present', funcs: list[0].funcs, compat_funcs: list[0].compat_funcs }),
    missing: MISSING,
  });
  const sides = frame.entries.map((e, i) => ({ kernel: e.kernel, series: e.series, primary: frame.defs[i][0] }));
  const changes = neighbourChanges(frame.kernels, sides, (x, y) => syscallChanges(x.primary, y.primary));
  return { syscall, kernels: frame.entries, changes, timeline: frame.timeline, summary: historySummary(syscall, frame.timeline, syscallWords), ...frame.notes };
}
