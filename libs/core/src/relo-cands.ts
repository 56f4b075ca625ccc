/**
 * Candidate target types of a local type (libbpf.c `bpf_core_find_cands` / `bpf_core_add_cands`): every type of the
 * target whose kind is compatible with the local type's (the same kind, or ENUM with ENUM64) and whose name equals
 * the local name once both lose their `___flavor` suffix. vmlinux BTF is searched first; module BTFs only when
 * vmlinux has no candidate at all, each from its own first type id on, in the order given.
 */
import type { Btf } from '@btf-atlas/btf/core';
import { type AnyType, essentialName, kindCoreCompat, typeById, typeRawName } from './relo-btf.js';

/** A target BTF with the name libbpf logs for it (`vmlinux`, or the module's name). */
export interface TargetBtf {
  name: string;
  btf: Btf;
}

/** One candidate: a type of a target BTF. */
export interface Candidate {
  /** The BTF holding it (a module's split BTF reaches vmlinux types through its base). */
  btf: Btf;
  /** `vmlinux` or the module name. */
  btfName: string;
  id: number;
}

/** The essential name of every named type of a BTF (own ids only), made once per BTF. */
const nameIndexes = new WeakMap<Btf, Map<string, number[]>>();

/**
 * Own type ids of `btf` by essential name, in id order. Built in one pass over the records' name offsets without
 * decoding types: a kernel has ~100k of them and a dry run asks about a handful.
 */
function nameIndex(btf: Btf): Map<string, number[]> {
  let index = nameIndexes.get(btf);
  if (index) return index;
  index = new Map();
  const { dv, littleEndian: le, strings } = btf;
  for (let id = btf.startId; id < btf.nextId; id++) {
    const name = strings.tryGetRaw(dv.getUint32(btf.recordOffset(id), le));
    if (!name) continue;
    const key = essentialName(name);
    const ids = index.get(key);
    if (ids) ids.push(id);
    else index.set(key, [id]);
  }
  nameIndexes.set(btf, index);
  return index;
}

/** `bpf_core_add_cands`: the candidates of one target BTF, in id order. */
function addCands(localT: AnyType, localName: string, target: TargetBtf): Candidate[] {
  const out: Candidate[] = [];
  for (const id of nameIndex(target.btf).get(essentialName(localName)) ?? []) {
    const t = typeById(target.btf, id);
    if (t && kindCoreCompat(t, localT)) out.push({ btf: target.btf, btfName: target.name, id });
  }
  return out;
}

/**
 * `bpf_core_find_cands`: the candidates for local type `localId`, or undefined when the local type is missing or
 * anonymous (libbpf: -EINVAL, which fails the relocation). Modules are searched only when vmlinux has none.
 */
export function findCands(localBtf: Btf, localId: number, vmlinux: TargetBtf, modules: readonly TargetBtf[]): Candidate[] | undefined {
  const localT = typeById(localBtf, localId);
  if (!localT) return undefined;
  const localName = typeRawName(localBtf, localT);
  if (localName === '') return undefined;
  const cands = addCands(localT, localName, vmlinux);
  if (cands.length > 0) return cands;
  for (const m of modules) cands.push(...addCands(localT, localName, m));
  return cands;
}
