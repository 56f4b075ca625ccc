/**
 * One kernel's answer for the kinds whose catalog answer is a history (tracepoints, syscalls, enums, enumerators):
 * `{ "kernel": KREF, "<kind>s": [ ...every definition of the name in it... ] }` as the contract words it, taken
 * from the kind's history over that kernel's distro/release/arch. Shared by `btf-atlas KIND NAME --kernel KREF`
 * and `GET /v1/KINDs/{name}?kernel=KREF` (imported as `@btf-atlas/http/in-kernel`: it loads no HTTP code).
 */
import {
  CatalogError, enumeratorHistory, enumHistory, findKernel, parseKref, syscallHistory, tracepointHistory,
  type Catalog, type CatalogErrorCode, type EnumeratorJson, type EnumJson, type HistoryEntry, type KernelFilter, type SyscallJson,
  type TracepointJson,
} from '@btf-atlas/catalog/read';

/** How many kernels that do have the name a not-found error suggests. */
const SUGGESTED_KERNELS = 5;

/** The definitions of an entry: its `definitions`, or the one inline (the entry less kernel, series and status). */
function definitionsOf<J>(e: ({ kernel: string; series: string; status: 'present' } & J) | { status: 'present'; definitions: J[] }): J[] {
  if ('definitions' in e) return e.definitions;
  const { kernel: _kernel, series: _series, status: _status, ...def } = e;
  return [def as J];
}

/**
 * The definitions kernel KREF has in a history: KERNEL_NOT_FOUND (nearest kernels suggested) or CATALOG_BAD_KREF
 * for the kernel; `code` (the kind's not-found code, naming the kernel and suggesting up to five kernels that have
 * the name) when the catalog has the name but not in that kernel; the history's own not-found error when no kernel has it.
 */
function definitionsIn<J>(
  catalog: Catalog,
  kref: string,
  history: (f: KernelFilter) => { kernels: HistoryEntry<J>[] },
  code: CatalogErrorCode,
  what: string,
): { kernel: string; defs: J[] } {
  const kernel = findKernel(catalog, kref).kernel;
  const ref = parseKref(kernel);
  const entries = history({ distro: ref.distro, release: ref.release, arch: ref.arch }).kernels;
  const entry = entries.find((e) => e.kernel === kernel);
  if (entry && entry.status !== 'missing') return { kernel, defs: definitionsOf(entry) };
  // The kernels that do have it, from the whole catalog (only on this error path).
  const others = history({}).kernels.filter((e) => e.status !== 'missing').map((e) => e.kernel).slice(0, SUGGESTED_KERNELS);
  const why = entry ? '' : ' (the BTF of the module defining it was not ingested with it)';
  throw new CatalogError(code, `no ${what} in ${kernel}${why}`, others);
}

/** `tracepoint NAME --kernel KREF --json`. */
export interface TracepointInKernelJson {
  kernel: string;
  tracepoints: TracepointJson[];
}

/** Tracepoint NAME in kernel KREF: its raw prototype and event record (vmlinux's first, then modules'). */
export function tracepointInKernel(catalog: Catalog, name: string, kref: string): TracepointInKernelJson {
  const { kernel, defs } = definitionsIn(catalog, kref, (f) => tracepointHistory(catalog, name, f), 'TRACEPOINT_NOT_FOUND', `tracepoint named ${name.trim()}`);
  return { kernel, tracepoints: defs };
}

/** `syscall NAME --kernel KREF --json`. */
export interface SyscallInKernelJson {
  kernel: string;
  syscalls: SyscallJson[];
}

/** Syscall NAME in kernel KREF: which of its FUNCs the kernel has. */
export function syscallInKernel(catalog: Catalog, name: string, kref: string): SyscallInKernelJson {
  const { kernel, defs } = definitionsIn(catalog, kref, (f) => syscallHistory(catalog, name, f), 'SYSCALL_NOT_FOUND', `syscall named ${name.trim()}`);
  return { kernel, syscalls: defs };
}

/** `enum NAME --kernel KREF --json`. */
export interface EnumInKernelJson {
  kernel: string;
  enums: EnumJson[];
}

/** Enum NAME in kernel KREF: size, signedness and values of every definition. */
export function enumInKernel(catalog: Catalog, name: string, kref: string): EnumInKernelJson {
  const { kernel, defs } = definitionsIn(catalog, kref, (f) => enumHistory(catalog, name, f), 'TYPE_NOT_FOUND', `enum named ${name.trim().replace(/^enum\s+/, '')}`);
  return { kernel, enums: defs };
}

/** `enumerator NAME --kernel KREF --json`. */
export interface EnumeratorInKernelJson {
  kernel: string;
  enumerators: EnumeratorJson[];
}

/** Enumerator NAME in kernel KREF: its value and the enum holding it, for every enum that has it. */
export function enumeratorInKernel(catalog: Catalog, name: string, kref: string): EnumeratorInKernelJson {
  const { kernel, defs } = definitionsIn(catalog, kref, (f) => enumeratorHistory(catalog, name, f), 'ENUMERATOR_NOT_FOUND', `enumerator named ${name.trim()}`);
  return { kernel, enumerators: defs };
}
