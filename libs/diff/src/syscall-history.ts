import { syscallDefinitions, type Catalog, type KernelFilter, type SyscallJson } from '@btf-atlas/catalog/read';
import { historyFrame, historySummary, neighbourChanges, type HistoryEntry, type HistoryTail } from './history.js';

/** `syscall NAME --history`: which kernels and arches have a syscall's BTF functions. */

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
  const changes = neighbourChanges(frame.kernels, frame.entries, (i, j) => syscallChanges(frame.defs[i][0], frame.defs[j][0]));
  return { syscall, kernels: frame.entries, changes, timeline: frame.timeline, summary: historySummary(syscall, frame.timeline, syscallWords), ...frame.notes };
}