/**
 * Candidate target types of a local type (libbpf.c `bpf_core_find_cands` / `bpf_core_add_cands`): every type of the
 * target whose kind is compatible with the local type's (the same kind, or ENUM with ENUM64) and whose name equals
 * the local name once both lose their `___flavor` suffix. vmlinux BTF is searched first; module BTFs only when
 * vmlinux has no candidate at all, each from its own first type id on, in the order given.
 */
import type { Btf } from '@btf-atlas/btf/core';
import { BtfKind } from '@btf-atlas/btf/kinds';
import { essentialName, essentialNameLen, ownIdsByNamePrefix, rawName, typeById, typeRawName } from './relo-btf.js';

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

/** BTF kind numbers (libs/btf kinds.ts) by the decoded kind names relo-btf.ts works with. */
const KIND_NUMBER: ReadonlyMap<string, number> = new Map(Object.entries(BtfKind));

/**
 * Per target BTF: own ids of the candidates already looked for, by "kind number:essential name" (ENUM64 asked as
 * ENUM). Filled one name at a time, so a fresh kernel costs a few record scans instead of a whole-BTF index.
 */
const found = new WeakMap<Btf, Map<string, readonly number[]>>();

/**
 * Own ids of `btf` whose kind is `kind` (either enum kind when it is an enum) and whose essential name is
 * `essName`, in id order: the names starting with `essName` (compared in place, nothing decoded), kept when their
 * own essential length is the same, as libbpf compares them.
 */
function scanCands(btf: Btf, kind: number, essName: string): readonly number[] {
  const L = essName.length;
  const kinds = kind === BtfKind.ENUM || kind === BtfKind.ENUM64 ? [BtfKind.ENUM, BtfKind.ENUM64] : [kind];
  const ids = kinds.flatMap((k) => ownIdsByNamePrefix(btf, k, essName, false));
  if (kinds.length > 1) ids.sort((a, b) => a - b);
  return ids.filter((id) => essentialNameLen(rawName(btf, btf.nameOffOf(id))) === L);
}

/** Own ids of candidates of that kind and essential name in `btf`, scanned on the first question and kept. */
function candIds(btf: Btf, kind: number, essName: string): readonly number[] {
  let memo = found.get(btf);
  if (!memo) {
    memo = new Map();
    found.set(btf, memo);
  }
  const key = `${kind === BtfKind.ENUM64 ? BtfKind.ENUM : kind}:${essName}`;
  let ids = memo.get(key);
  if (!ids) {
    ids = scanCands(btf, kind, essName);
    memo.set(key, ids);
  }
  return ids;
}

/** `bpf_core_add_cands`: the candidates of one target BTF, in id order. */
function addCands(localKind: number, essName: string, target: TargetBtf): Candidate[] {
  return candIds(target.btf, localKind, essName).map((id) => ({ btf: target.btf, btfName: target.name, id }));
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
  const localKind = KIND_NUMBER.get(localT.kind) ?? -1;
  const essName = essentialName(localName);
  const cands = addCands(localKind, essName, vmlinux);
  if (cands.length > 0) return cands;
  for (const m of modules) cands.push(...addCands(localKind, essName, m));
  return cands;
}
