/**
 * Name lookups in a kernel's BTF for the verdicts: libbpf's `find_ksym_btf_id` and `find_kernel_btf_id` look a
 * name up with `btf__find_by_name_kind` in vmlinux first, then in each module's BTF (its own types only).
 */
import type { Btf } from '@btf-atlas/btf/core';
import { ownIdsByNamePrefix } from './relo-btf.js';
import type { CoreTarget } from './relo.js';

/** The BTF kinds looked up by name here (BTF_KIND_TYPEDEF 8, BTF_KIND_FUNC 12, BTF_KIND_VAR 14). */
export type LookupKind = 'TYPEDEF' | 'FUNC' | 'VAR';

const KIND_NUMBERS: Readonly<Record<LookupKind, number>> = { TYPEDEF: 8, FUNC: 12, VAR: 14 };

/** A type found in a kernel: which BTF (`vmlinux` or a module), and its id there. */
export interface KernelTypeRef {
  btf: Btf;
  btfName: string;
  id: number;
}

/** Per BTF: the answers already given, by "kind:name" (-1: absent), so a name is scanned for once per BTF. */
const answers = new WeakMap<Btf, Map<string, number>>();

/** The first type of that kind and name in one BTF's own types. */
export function findOwnType(btf: Btf, name: string, kind: LookupKind): number | undefined {
  let memo = answers.get(btf);
  if (!memo) {
    memo = new Map();
    answers.set(btf, memo);
  }
  const key = `${kind}:${name}`;
  let id = memo.get(key);
  if (id === undefined) {
    id = ownIdsByNamePrefix(btf, KIND_NUMBERS[kind], name, true)[0] ?? -1;
    memo.set(key, id);
  }
  return id < 0 ? undefined : id;
}

/**
 * `btf__find_by_name_kind` in vmlinux, then in each module in order. With `module` set (`module:function` in a
 * section name) only that BTF is searched (`vmlinux` meaning the kernel itself). Undefined when absent.
 */
export function findKernelType(kernel: CoreTarget, name: string, kind: LookupKind, module?: string): KernelTypeRef | undefined {
  const targets: { name: string; btf: Btf }[] = [{ name: 'vmlinux', btf: kernel.vmlinux }, ...(kernel.modules ?? [])];
  for (const t of targets) {
    if (module !== undefined && t.name !== module) continue;
    const id = findOwnType(t.btf, name, kind);
    if (id !== undefined) return { btf: t.btf, btfName: t.name, id };
  }
  return undefined;
}

/** True when the kernel's BTF includes a module of that name. */
export function hasModule(kernel: CoreTarget, module: string): boolean {
  return module === 'vmlinux' || (kernel.modules ?? []).some((m) => m.name === module);
}
