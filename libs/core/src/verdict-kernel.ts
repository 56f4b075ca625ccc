/**
 * Name lookups in a kernel's BTF for the verdicts: libbpf's `find_ksym_btf_id` and `find_kernel_btf_id` look a
 * name up with `btf__find_by_name_kind` in vmlinux first, then in each module's BTF (its own types only).
 */
import type { Btf } from '@btf-atlas/btf/core';
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

/** Per BTF: own ids of TYPEDEFs, FUNCs and VARs by "kind:name". */
const indexes = new WeakMap<Btf, Map<string, number>>();

/** One pass over the records (kind and name offset only, nothing decoded); the first id of each name wins. */
function indexOf(btf: Btf): Map<string, number> {
  let index = indexes.get(btf);
  if (index) return index;
  index = new Map();
  const wanted = new Map(Object.entries(KIND_NUMBERS).map(([k, n]) => [n, k]));
  for (let id = btf.startId; id < btf.nextId; id++) {
    const kind = wanted.get(btf.kindOf(id));
    if (kind === undefined) continue;
    const name = btf.strings.tryGetRaw(btf.nameOffOf(id));
    if (!name) continue;
    const key = `${kind}:${name}`;
    if (!index.has(key)) index.set(key, id);
  }
  indexes.set(btf, index);
  return index;
}

/** The first type of that kind and name in one BTF's own types. */
export function findOwnType(btf: Btf, name: string, kind: LookupKind): number | undefined {
  return indexOf(btf).get(`${kind}:${name}`);
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
