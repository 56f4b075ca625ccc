/**
 * Whether a program's attach target exists in a kernel, and fits what the program does with it.
 *
 * - BTF-attached families (fentry, fexit, fmod_ret, fsession, lsm, lsm_cgroup, iter, tp_btf): libbpf looks
 *   the target up in the kernel's BTF when it loads the program (`libbpf_find_attach_btf_id`: the FUNC itself,
 *   `bpf_lsm_NAME`, `bpf_iter_NAME`, or the typedef `btf_trace_NAME`), vmlinux first, then the modules, or only
 *   the module a `module:function` section names. Absent, the program cannot load ("failed to find kernel BTF
 *   type ID of 'x'"): the program breaks.
 * - The prototype it finds decides what the program may read from its context (kernel/bpf/btf.c
 *   `btf_ctx_access`): argument i lies at byte 8 * i; reading past the last argument is refused ("func 'x'
 *   doesn't have N-th argument"), except the return value right after them for fexit, fmod_ret, fsession and
 *   LSM programs. A tp_btf prototype starts with the tracepoint's `void *` data, which is not an argument.
 *   fentry-like targets with more than 12 arguments or variable arguments cannot be attached
 *   (`btf_distill_func_proto`).
 * - kprobe and kretprobe targets are kernel symbols, not BTF: a FUNC missing from BTF may still be there
 *   (inlined in some callers, static with a suffix, or just not described), so a miss is a warning-level break.
 *   The same holds for ksyscall (`__<arch>_sys_NAME`) and raw_tp (`btf_trace_NAME`).
 * - Everything else is not checked (classic tracepoints live in tracefs, struct_ops and freplace targets are
 *   other programs or kernel structures, uprobes are in user space).
 */
import type { Btf } from '@btf-atlas/btf/core';
import type { CoreTarget } from './relo.js';
import type { CtxLoad } from './reach.js';
import { skipModsAndTypedefs } from './relo-btf.js';
import type { AttachTarget, BpfProgram } from './types.js';
import { findKernelType, hasModule, type KernelTypeRef } from './verdict-kernel.js';

/** `attach_target` of the contract: what the kernel has of the program's target. */
export type AttachStatus = 'present' | 'missing' | 'mismatch' | 'not_checked' | 'none';

/** One finding of the attach check. */
export interface AttachFinding {
  /** `error`: the program cannot load or attach; `warning`: it probably cannot (a kprobe target not in BTF). */
  level: 'error' | 'warning';
  message: string;
  /** The instruction (program-relative) whose context read does not fit the prototype. */
  insn?: number;
}

/** The attach check of one program on one kernel. */
export interface AttachCheck {
  status: AttachStatus;
  /** The kernel type found: `vmlinux` or a module, and its id there. */
  btfName?: string;
  typeId?: number;
  /** Arguments of the target's prototype in this kernel (BTF-attached families). */
  nrArgs?: number;
  findings: AttachFinding[];
  /** Why nothing was checked, when status is `not_checked`. */
  note?: string;
}

/** Families whose context is the target's arguments as u64s (BPF_PROG); iterators have their own context. */
const ARG_CONTEXT = new Set(['fentry', 'fexit', 'fmod_ret', 'fsession', 'lsm', 'lsm_cgroup', 'tp_btf']);
/** Families that may also read the return value, right after the arguments. */
const RETVAL_READERS = new Set(['fexit', 'fmod_ret', 'fsession', 'lsm', 'lsm_cgroup']);
/** fentry-like families go through `btf_distill_func_proto`. */
const DISTILLED = new Set(['fentry', 'fexit', 'fmod_ret', 'fsession']);
/** MAX_BPF_FUNC_ARGS (include/linux/bpf.h). */
const MAX_BPF_FUNC_ARGS = 12;
/** Syscall wrappers per architecture (arch/x86/include/asm/syscall_wrapper.h and the others). */
export const SYSCALL_PREFIXES = ['__x64_sys_', '__ia32_sys_', '__arm64_sys_', '__s390x_sys_', '__s390_sys_', '__riscv_sys_', '__powerpc_sys_', '__loongarch_sys_', '__se_sys_', 'sys_'];

/**
 * Checks `program`'s attach target against `kernel`. `ctxLoads` are the program's reachable reads of its context
 * (from {@link analyzeReach}); without them the prototype is not compared.
 */
export function checkAttach(program: BpfProgram, kernel: CoreTarget, ctxLoads: readonly CtxLoad[] = []): AttachCheck {
  const a = program.attach;
  if (a.btfName !== undefined && a.btfKind !== undefined) return checkBtfTarget(program, a, kernel, ctxLoads);
  switch (a.kind) {
    case 'kprobe':
    case 'kretprobe': {
      if (a.target === undefined) return { status: 'not_checked', findings: [], note: `${a.kind} without a target in its section name is attached by the loader` };
      const found = findKernelType(kernel, a.target, 'FUNC');
      if (found) return { status: 'present', btfName: found.btfName, typeId: found.id, findings: [] };
      const dotted = a.target.includes('.') ? ` (a compiler-made name like '${a.target}' never is)` : '';
      return {
        status: 'missing',
        findings: [{ level: 'warning', message: `kprobe target not in BTF: may be inlined or static: '${a.target}' is no FUNC of the kernel's btf${dotted}` }],
      };
    }
    case 'ksyscall':
    case 'kretsyscall': {
      if (a.target === undefined) return { status: 'not_checked', findings: [], note: `${a.kind} without a syscall name` };
      for (const prefix of SYSCALL_PREFIXES) {
        const found = findKernelType(kernel, prefix + a.target, 'FUNC');
        if (found) return { status: 'present', btfName: found.btfName, typeId: found.id, findings: [] };
      }
      return { status: 'missing', findings: [{ level: 'warning', message: `syscall '${a.target}' has no syscall wrapper FUNC (__<arch>_sys_${a.target}) in the kernel's btf` }] };
    }
    case 'raw_tp':
    case 'raw_tp.w': {
      if (a.target === undefined) return { status: 'not_checked', findings: [], note: 'raw_tp without a tracepoint name' };
      const found = findKernelType(kernel, `btf_trace_${a.target}`, 'TYPEDEF');
      if (found) return { status: 'present', btfName: found.btfName, typeId: found.id, findings: [] };
      return { status: 'missing', findings: [{ level: 'warning', message: `raw tracepoint '${a.target}' has no typedef btf_trace_${a.target} in the kernel's btf: it probably does not exist` }] };
    }
    case 'tracepoint':
      return { status: 'not_checked', findings: [], note: 'classic tracepoints are listed in tracefs, not btf' };
    case 'kprobe.multi':
    case 'kretprobe.multi':
    case 'kprobe.session':
      return { status: 'not_checked', findings: [], note: 'kprobe.multi patterns are matched against kallsyms at attach time' };
    case 'struct_ops':
    case 'freplace':
      return { status: 'not_checked', findings: [], note: `${a.kind} targets are not checked` };
    default:
      return { status: 'none', findings: [] };
  }
}

/** The BTF-attached families (see the module comment). */
function checkBtfTarget(program: BpfProgram, a: AttachTarget, kernel: CoreTarget, ctxLoads: readonly CtxLoad[]): AttachCheck {
  const name = a.btfName as string;
  const kind = a.btfKind as 'FUNC' | 'TYPEDEF';
  const module = a.module;
  if (module !== undefined && !hasModule(kernel, module)) {
    return { status: 'not_checked', findings: [], note: `module '${module}' btf is not available for this kernel` };
  }
  const found = findKernelType(kernel, name, kind, module);
  if (!found) {
    const where = module !== undefined && module !== 'vmlinux' ? `module '${module}'` : 'the kernel';
    return {
      status: 'missing',
      findings: [{ level: 'error', message: `failed to find kernel BTF type ID of '${name}': ${where} has no ${kind} '${name}'` }],
    };
  }
  const out: AttachCheck = { status: 'present', btfName: found.btfName, typeId: found.id, findings: [] };
  if (a.kind === 'iter') return out;
  const proto = targetParams(found, kind);
  if (!proto) {
    out.status = 'mismatch';
    out.findings.push({ level: 'error', message: `${kind} '${name}' [${found.id}] in ${found.btfName} does not lead to a function prototype` });
    return out;
  }
  const nrArgs = kind === 'TYPEDEF' ? proto.params.length - 1 : proto.params.length;
  out.nrArgs = Math.max(0, nrArgs);
  if (DISTILLED.has(a.kind)) {
    if (proto.variadic) {
      out.status = 'mismatch';
      out.findings.push({ level: 'error', message: `the function '${name}' with variable args is unsupported` });
    } else if (proto.params.length > MAX_BPF_FUNC_ARGS) {
      out.status = 'mismatch';
      out.findings.push({ level: 'error', message: `the function '${name}' has ${proto.params.length} arguments, more than ${MAX_BPF_FUNC_ARGS}` });
    }
  }
  if (!ARG_CONTEXT.has(a.kind)) return out;
  const maxArg = RETVAL_READERS.has(a.kind) ? out.nrArgs : out.nrArgs - 1;
  const progStart = program.offset / 8;
  for (const load of ctxLoads) {
    const arg = Math.floor(load.off / 8);
    if (load.off < 0 || arg > maxArg) {
      out.status = 'mismatch';
      const insn = load.loc.section === program.section ? load.loc.index - progStart : undefined;
      const finding: AttachFinding = {
        level: 'error',
        message: `func '${name}' doesn't have ${arg + 1}-th argument: the program reads context byte ${load.off}, the target has ${out.nrArgs} argument(s) in this kernel`,
      };
      if (insn !== undefined) finding.insn = insn;
      out.findings.push(finding);
    }
  }
  return out;
}

/** The parameters of the prototype a FUNC or a `btf_trace_` typedef (pointer to prototype) leads to. */
function targetParams(found: KernelTypeRef, kind: 'FUNC' | 'TYPEDEF'): { params: number[]; variadic: boolean } | undefined {
  const btf: Btf = found.btf;
  const t = btf.type(found.id);
  let protoId: number;
  if (kind === 'FUNC') {
    if (t.kind !== 'FUNC') return undefined;
    protoId = t.type;
  } else {
    if (t.kind !== 'TYPEDEF') return undefined;
    const ptr = skipModsAndTypedefs(btf, t.type);
    if (!ptr || ptr.t.kind !== 'PTR') return undefined;
    protoId = ptr.t.type;
  }
  const proto = skipModsAndTypedefs(btf, protoId);
  if (!proto || proto.t.kind !== 'FUNC_PROTO') return undefined;
  const params = proto.t.params.map((p) => p.type);
  const variadic = params.length > 0 && params[params.length - 1] === 0;
  return { params: variadic ? params.slice(0, -1) : params, variadic };
}
