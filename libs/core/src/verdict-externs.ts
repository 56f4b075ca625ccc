/**
 * Externs against a kernel, as libbpf resolves them when it loads the object (libbpf.c
 * `bpf_object__resolve_externs`, `bpf_object__resolve_ksym_func_btf_id`, `bpf_object__resolve_ksym_var_btf_id`):
 * - a kfunc (`extern … __ksym` function) is the kernel FUNC of its name without a `___flavor` suffix, in
 *   vmlinux then the modules; its prototype must be compatible with the declaration (`bpf_core_types_are_compat`).
 *   Absent or incompatible, a weak one is left unresolved (its calls are poisoned, its address reads 0) and a
 *   strong one fails the load: "extern (func ksym) 'x': not found in kernel or module BTFs";
 * - a typed ksym variable is the kernel VAR of its name; absent, a weak one reads as address 0 and a strong
 *   one fails the load ("extern (var ksym) 'x': not found in kernel BTF"); present with an incompatible type,
 *   the load fails whether it is weak or not;
 * - a typeless ksym (`extern const void x __ksym`) is found in /proc/kallsyms and a `.kconfig` extern in the
 *   kernel's configuration: neither is in BTF, so neither is checked.
 */
import { typesAreCompat } from './relo-compat.js';
import { essentialName, skipModsAndTypedefs } from './relo-btf.js';
import type { CoreTarget } from './relo.js';
import type { BpfExtern, BpfObject } from './types.js';
import { findKernelType } from './verdict-kernel.js';

/** What became of one extern on one kernel. */
export type ExternStatus = 'present' | 'missing' | 'incompatible' | 'not_checked';

/** One extern resolved against a kernel. */
export interface ExternResolution {
  extern: BpfExtern;
  /** Index in {@link BpfObject.externs} (libbpf poisons an unresolved weak kfunc call with `2002000000 + index`). */
  index: number;
  status: ExternStatus;
  /** Where it was found (`vmlinux` or a module) and its id there, when present or incompatible. */
  btfName?: string;
  typeId?: number;
  /** True when the load fails because of this extern. */
  fatal: boolean;
  /** libbpf's words, or why it was not checked. */
  message: string;
}

/** Resolves every extern of `obj` against `kernel` (see the module comment), in the object's order. */
export function resolveExterns(obj: BpfObject, kernel: CoreTarget): ExternResolution[] {
  return obj.externs.map((ext, index) => resolveOne(obj, ext, index, kernel));
}

function resolveOne(obj: BpfObject, ext: BpfExtern, index: number, kernel: CoreTarget): ExternResolution {
  const base = { extern: ext, index };
  if (ext.section !== '.ksyms') {
    return { ...base, status: 'not_checked', fatal: false, message: `extern (kcfg) '${ext.name}': kernel configuration values are not in btf` };
  }
  const local = obj.btf.type(ext.btfId);
  const localType = local.kind === 'FUNC' || local.kind === 'VAR' ? local.type : 0;
  const warn = (): void => undefined;

  if (ext.type === 'func') {
    const name = essentialName(ext.name);
    const found = findKernelType(kernel, name, 'FUNC');
    if (!found) {
      return ext.weak
        ? { ...base, status: 'missing', fatal: false, message: `weak kfunc '${ext.name}' is not in kernel or module btf: its calls are poisoned` }
        : { ...base, status: 'missing', fatal: true, message: `extern (func ksym) '${ext.name}': not found in kernel or module BTFs` };
    }
    const kfunc = found.btf.type(found.id);
    const kernProto = kfunc.kind === 'FUNC' ? kfunc.type : 0;
    const compat = typesAreCompat(obj.btf, localType, found.btf, kernProto, warn);
    const where = { btfName: found.btfName, typeId: found.id };
    if (compat > 0) return { ...base, ...where, status: 'present', fatal: false, message: `kfunc '${ext.name}' is [${found.id}] in ${found.btfName}` };
    return ext.weak
      ? { ...base, ...where, status: 'incompatible', fatal: false, message: `weak kfunc '${ext.name}': func_proto [${localType}] incompatible with ${found.btfName} [${kernProto}]: its calls are poisoned` }
      : { ...base, ...where, status: 'incompatible', fatal: true, message: `extern (func ksym) '${ext.name}': func_proto [${localType}] incompatible with ${found.btfName} [${kernProto}]` };
  }

  const localResolved = skipModsAndTypedefs(obj.btf, localType);
  if (!localResolved || localResolved.t.kind === 'VOID') {
    return { ...base, status: 'not_checked', fatal: false, message: `typeless ksym '${ext.name}' is resolved from /proc/kallsyms, not btf` };
  }
  const found = findKernelType(kernel, ext.name, 'VAR');
  if (!found) {
    return ext.weak
      ? { ...base, status: 'missing', fatal: false, message: `weak ksym '${ext.name}' is not in kernel btf: its address reads as 0` }
      : { ...base, status: 'missing', fatal: true, message: `extern (var ksym) '${ext.name}': not found in kernel BTF` };
  }
  const kvar = found.btf.type(found.id);
  const kernType = kvar.kind === 'VAR' ? kvar.type : 0;
  const where = { btfName: found.btfName, typeId: found.id };
  if (typesAreCompat(obj.btf, localResolved.id, found.btf, kernType, warn) > 0) {
    return { ...base, ...where, status: 'present', fatal: false, message: `ksym '${ext.name}' is [${found.id}] in ${found.btfName}` };
  }
  return {
    ...base,
    ...where,
    status: 'incompatible',
    fatal: true,
    message: `extern (var ksym) '${ext.name}': incompatible types, expected [${localResolved.id}], but kernel has [${kernType}] in ${found.btfName}`,
  };
}
