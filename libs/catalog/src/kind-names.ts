/**
 * How the kernel names the things eBPF programs attach to, read from the names of BTF types: raw tracepoints
 * (`typedef btf_trace_NAME`), trace events (`struct trace_event_raw_NAME`) and syscall wrappers
 * (`__x64_sys_NAME`…). Pure functions over names, shared by the shape index (ingest) and the read answers.
 */

/**
 * Every raw tracepoint has `typedef void (*btf_trace_NAME)(void *__data, PROTO)` in BTF (include/trace/bpf_probe.h,
 * `__bpf_trace_##call`'s typedef): what a `tp_btf/NAME` program is checked against.
 */
export const TRACEPOINT_TYPEDEF_PREFIX = 'btf_trace_';

/** The record of a classic trace event NAME, `struct trace_event_raw_NAME` (include/trace/trace_events.h). */
export const TRACE_EVENT_STRUCT_PREFIX = 'trace_event_raw_';

/** The tracepoint a typedef name stands for (`btf_trace_sched_switch` → `sched_switch`), else undefined. */
export function tracepointOfTypedef(name: string): string | undefined {
  return name.length > TRACEPOINT_TYPEDEF_PREFIX.length && name.startsWith(TRACEPOINT_TYPEDEF_PREFIX) ? name.slice(TRACEPOINT_TYPEDEF_PREFIX.length) : undefined;
}

/**
 * The arch prefixes of syscall wrappers, `__<prefix>_sys_NAME` and `__<prefix>_compat_sys_NAME`
 * (arch/{x86,arm64,s390,riscv,powerpc}/include/asm/syscall_wrapper.h; `ia32` is x86's 32-bit entry, `s390` the
 * 31-bit compat entry of older s390 kernels). Other `__X_sys_` names (`__do_sys_`, `__se_sys_`) are the wrappers'
 * inner functions, not syscalls of their own.
 */
export const SYSCALL_WRAPPER_PREFIXES: readonly string[] = ['x64', 'ia32', 'arm64', 's390x', 's390', 'riscv', 'powerpc'];

/** A FUNC name read as a syscall wrapper. `prefix` is '' for the plain `sys_NAME` / `compat_sys_NAME` of kernels without wrappers. */
export interface SyscallFunc {
  syscall: string;
  prefix: string;
  compat: boolean;
}

const WRAPPER_RE = new RegExp(`^__(${SYSCALL_WRAPPER_PREFIXES.join('|')})_(compat_)?sys_([A-Za-z0-9_]+)$`);
const PLAIN_RE = /^(compat_)?sys_([A-Za-z0-9_]+)$/;

/**
 * The syscall a FUNC name implements: `__x64_sys_openat2` → openat2 (prefix x64), `__ia32_compat_sys_ioctl` →
 * ioctl (compat), `sys_openat2` → openat2 (prefix ''). `plainReturnsLong` decides the plain `sys_NAME` form, which
 * other kernel functions share (`sys_fillrect` of fbdev): it is taken only for a function returning `long`, as
 * every syscall does (include/linux/syscalls.h `asmlinkage long sys_NAME(...)`).
 */
export function syscallOfFunc(name: string, plainReturnsLong: boolean): SyscallFunc | undefined {
  const c = name.charCodeAt(0);
  if (c === 0x5f) {
    const m = WRAPPER_RE.exec(name);
    return m ? { syscall: m[3], prefix: m[1], compat: m[2] !== undefined } : undefined;
  }
  if (c !== 0x73 && c !== 0x63) return undefined;
  if (!plainReturnsLong) return undefined;
  const m = PLAIN_RE.exec(name);
  return m ? { syscall: m[2], prefix: '', compat: m[1] !== undefined } : undefined;
}

/** Every FUNC name that may implement syscall NAME: the wrappers of each arch prefix, compat ones, then the plain names. */
export function syscallFuncNames(syscall: string): string[] {
  const out: string[] = [];
  for (const p of SYSCALL_WRAPPER_PREFIXES) out.push(`__${p}_sys_${syscall}`);
  for (const p of SYSCALL_WRAPPER_PREFIXES) out.push(`__${p}_compat_sys_${syscall}`);
  out.push(`sys_${syscall}`, `compat_sys_${syscall}`);
  return out;
}

/** Kinds of names the search index holds (`names` table); see shape-index.ts for what makes each. */
export const NAME_KINDS = ['struct', 'union', 'enum', 'typedef', 'func', 'kfunc', 'tracepoint', 'syscall', 'enumerator'] as const;

/**
 * Kinds a search answers: the names of {@link NAME_KINDS}, and completions of field paths (`task_struct.se.vr` →
 * `task_struct.se.vruntime`) and of kernels (by KREF or uname -r).
 */
export const SEARCH_KINDS = [...NAME_KINDS, 'field', 'kernel'] as const;

/** One of {@link SEARCH_KINDS}. */
export type SearchKind = (typeof SEARCH_KINDS)[number];

/** True for a {@link SearchKind}. */
export function isSearchKind(kind: string): kind is SearchKind {
  return (SEARCH_KINDS as readonly string[]).includes(kind);
}

/** The kfunc decl tag (include/linux/btf.h `__bpf_kfunc`, `BTF_DECL_TAG("bpf_kfunc")`). */
export const KFUNC_TAG = 'bpf_kfunc';
