import type { Catalog } from './db.js';
import { CatalogError, type CatalogErrorCode } from './errors.js';
import { enumDefinitions, enumeratorDefinitions, type EnumeratorJson, type EnumJson } from './enums.js';
import { formatKref } from './kernel-ref.js';
import { findKernel, kernelRows, moduleScope, type Definition } from './queries.js';
import { syscallDefinitions, type SyscallJson } from './syscalls.js';
import { tracepointDefinitions, type TracepointJson } from './tracepoints.js';

/**
 * One kernel's answer for the kinds whose catalog answer is a history (tracepoints, syscalls, enums, enumerators):
 * `{ "kernel": KREF, "<kind>s": [ ...every definition of the name in it... ] }` as the contract words it, the
 * definitions being those the kind's history shows for that kernel. What `btf-atlas KIND NAME --kernel KREF` and
 * `GET /v1/KINDs/{name}?kernel=KREF` answer (funcs have theirs in funcs.ts: `funcInKernel`).
 */

/**
 * Where a name of a kind is defined in every kernel (`byKernel`, by kernel row id) and how one kernel's
 * definitions read as the kind's JSON (`json`: an empty list when none of them counts, as a tracepoint typedef
 * without a prototype): what a kind's history and its one-kernel answer share.
 */
export interface KindDefinitions<J> {
  /** The name as the answers give it (`openat2` for `__x64_sys_openat2`, `sched_switch` for `btf_trace_sched_switch`). */
  name: string;
  byKernel: Map<number, Definition[]>;
  json(defs: Definition[]): J[];
}

/** How many kernels that do have the name a not-found error suggests. */
const SUGGESTED_KERNELS = 5;

/**
 * The definitions kernel KREF has of a name, reading only that kernel's definitions: KERNEL_NOT_FOUND (nearest
 * kernels suggested) or CATALOG_BAD_KREF for the kernel; the kind's own not-found error when no kernel has the
 * name (from `lookup`); else `code`, naming the kernel and suggesting up to five kernels (in kernel order) that have
 * the name, when that kernel has none of it, or when the name is only a module's and that module's BTF was not
 * ingested with the kernel (the kernel the history leaves out, `not_ingested`).
 */
function definitionsIn<J>(catalog: Catalog, kref: string, lookup: () => KindDefinitions<J>, code: CatalogErrorCode, what: string): { kernel: string; defs: J[] } {
  const { id, kernel } = findKernel(catalog, kref);
  const found = lookup();
  const rows = kernelRows(catalog);
  const row = rows.find((r) => r.id === id);
  // As the history over the kernel's distro/release/arch would: left out when its module scope leaves it out.
  const inScope = row !== undefined && moduleScope(catalog, found.byKernel, [row]).kept.length > 0;
  const mine = found.byKernel.get(id);
  const defs = inScope && mine ? found.json(mine) : [];
  if (defs.length > 0) return { kernel, defs };
  // The kernels that do have it, in kernel order (only on this error path).
  const others: string[] = [];
  for (const r of rows) {
    if (others.length >= SUGGESTED_KERNELS) break;
    const d = found.byKernel.get(r.id);
    if (d && found.json(d).length > 0) others.push(formatKref(r));
  }
  const why = inScope ? '' : ' (the BTF of the module defining it was not ingested with it)';
  throw new CatalogError(code, `no ${what} in ${kernel}${why}`, others);
}

/** `tracepoint NAME --kernel KREF --json` (`GET /v1/tracepoints/{name}?kernel=KREF`). */
export interface TracepointInKernelJson {
  kernel: string;
  tracepoints: TracepointJson[];
}

/**
 * Tracepoint NAME (or `btf_trace_NAME`) in kernel KREF: its raw prototype and event record (vmlinux's first, then
 * modules'). KERNEL_NOT_FOUND for an unknown kernel; TRACEPOINT_NOT_FOUND (close names suggested) when no kernel
 * has it, or (kernels that have it suggested) when that kernel has not.
 */
export function tracepointInKernel(catalog: Catalog, name: string, kref: string): TracepointInKernelJson {
  const { kernel, defs } = definitionsIn(catalog, kref, () => tracepointDefinitions(catalog, name), 'TRACEPOINT_NOT_FOUND', `tracepoint named ${name.trim()}`);
  return { kernel, tracepoints: defs };
}

/** `syscall NAME --kernel KREF --json` (`GET /v1/syscalls/{name}?kernel=KREF`). */
export interface SyscallInKernelJson {
  kernel: string;
  syscalls: SyscallJson[];
}

/**
 * Syscall NAME (or one of its FUNCs) in kernel KREF: which of its FUNCs the kernel has. KERNEL_NOT_FOUND for an
 * unknown kernel; SYSCALL_NOT_FOUND (close names suggested) when no kernel has it, or (kernels that have it
 * suggested) when that kernel has not.
 */
export function syscallInKernel(catalog: Catalog, name: string, kref: string): SyscallInKernelJson {
  const { kernel, defs } = definitionsIn(catalog, kref, () => syscallDefinitions(catalog, name), 'SYSCALL_NOT_FOUND', `syscall named ${name.trim()}`);
  return { kernel, syscalls: defs };
}

/** `enum NAME --kernel KREF --json` (`GET /v1/enums/{name}?kernel=KREF`). */
export interface EnumInKernelJson {
  kernel: string;
  enums: EnumJson[];
}

/**
 * Enum NAME (`enum NAME` or `NAME`) in kernel KREF: size, signedness and values of every definition (vmlinux's
 * first). KERNEL_NOT_FOUND for an unknown kernel; TYPE_NOT_FOUND when NAME names another kind, when no kernel has
 * the enum (close names suggested), or when that kernel has not (kernels that have it suggested).
 */
export function enumInKernel(catalog: Catalog, name: string, kref: string): EnumInKernelJson {
  const { kernel, defs } = definitionsIn(catalog, kref, () => enumDefinitions(catalog, name), 'TYPE_NOT_FOUND', `enum named ${name.trim().replace(/^enum\s+/, '')}`);
  return { kernel, enums: defs };
}

/** `enumerator NAME --kernel KREF --json` (`GET /v1/enumerators/{name}?kernel=KREF`). */
export interface EnumeratorInKernelJson {
  kernel: string;
  enumerators: EnumeratorJson[];
}

/**
 * Enumerator NAME in kernel KREF: its value and the enum holding it, for every enum that has it (vmlinux's first).
 * KERNEL_NOT_FOUND for an unknown kernel; ENUMERATOR_NOT_FOUND (close names suggested) when no kernel has it, or
 * (kernels that have it suggested) when that kernel has not.
 */
export function enumeratorInKernel(catalog: Catalog, name: string, kref: string): EnumeratorInKernelJson {
  const { kernel, defs } = definitionsIn(catalog, kref, () => enumeratorDefinitions(catalog, name), 'ENUMERATOR_NOT_FOUND', `enumerator named ${name.trim()}`);
  return { kernel, enumerators: defs };
}
