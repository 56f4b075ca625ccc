/**
 * What a dry run of an object asks of a kernel's BTF by name: the candidates of each CO-RE relocation (by essential
 * name and kind), the kfuncs and typed ksyms of its externs, and its programs' attach targets. A caller that can
 * tell two kernels' answers to these questions apart without loading their BTF (the catalog's stored shapes) can
 * resolve kernels that answer alike once: libs/dryrun shape-key.ts.
 *
 * Kept beside the resolver and the verdicts so that a new lookup there comes with its line here: relo-cands.ts
 * (candidates), verdict-externs.ts (externs), attach-check.ts (attach targets).
 */
import { SYSCALL_PREFIXES } from './attach-check.js';
import type { LinkedBpfObject } from './reach-links.js';
import { essentialName, rawName, skipModsAndTypedefs, typeById, typeRawName } from './relo-btf.js';
import { CoreReloKind } from './types.js';

/**
 * How much of a looked-up type (and of what it refers to) the answer depends on, as libbpf compares it:
 * - `field`: spec matching and `bpf_core_fields_are_compat` (field relocations): the type's members and, held by
 *   value, their types' members, down to pointers (a pointer matches any pointer);
 * - `compat`: `bpf_core_types_are_compat` (TYPE_EXISTS, TYPE_SIZE, TYPE_ID_TARGET, kfunc prototypes): the type's
 *   kind and size, and through typedefs, pointers, arrays and prototypes the kinds of what it refers to;
 * - `match`: `bpf_core_types_match` (TYPE_MATCHES): members by name and type, by value all the way down, behind a
 *   pointer the name and kind;
 * - `enum`: an enum's size, signedness and enumerators (ENUMVAL_EXISTS, ENUMVAL_VALUE);
 * - `proto`: a function or `btf_trace_` typedef whose prototype the attach check reads (arguments, sizes);
 * - `exists`: only whether a type of that name and kind is there (kprobe, ksyscall and raw_tp targets).
 */
export type LookupDepth = 'field' | 'compat' | 'match' | 'enum' | 'proto' | 'exists';

/** One question to a kernel's BTF. */
export interface TargetLookup {
  /** The BTF kind asked for (`STRUCT`, `UNION`, `ENUM` (ENUM64 too), `TYPEDEF`, `FUNC`, `INT`, `FWD`, `VAR`, …). */
  kind: string;
  name: string;
  /** Candidates by essential name: target names with a `___flavor` of `name` count too (libbpf's candidate search). */
  flavors: boolean;
  depth: LookupDepth;
  /**
   * Field relocations: the access path below the root as libbpf's spec matching walks it, member names (anonymous
   * members are transparent: not listed) and `null` for an array index; undefined when the access string does not
   * parse on the local type (then the whole type counts).
   */
  path?: (string | null)[];
  /**
   * TYPE_MATCHES: every member name of the local type and of the types it holds by value (what
   * `bpf_core_composites_match` looks for by name in the target); target members of other names are never compared.
   */
  members?: string[];
}

/** Everything a dry run of the object reads of a kernel's BTF by name, and what it reads otherwise. */
export interface TargetLookups {
  lookups: TargetLookup[];
  /**
   * The types whose kernel type ids the answer holds as libbpf's decisions (TYPE_ID_TARGET's new value), by BTF
   * kind (`ENUM` for ENUM64 too) and essential name, once each: ids differ between kernels whose types are
   * otherwise alike.
   */
  typeIdTargets: { kind: string; name: string }[];
  /** Modules named by `module:function` attach targets (whether the kernel has them decides the attach check). */
  modules: string[];
}

/** Relocation kinds by what they compare (the rest are field relocations; TYPE_ID_LOCAL asks nothing). */
const DEPTH_OF_KIND: ReadonlyMap<CoreReloKind, LookupDepth> = new Map([
  [CoreReloKind.TYPE_ID_TARGET, 'compat'],
  [CoreReloKind.TYPE_EXISTS, 'compat'],
  [CoreReloKind.TYPE_SIZE, 'compat'],
  [CoreReloKind.TYPE_MATCHES, 'match'],
  [CoreReloKind.ENUMVAL_EXISTS, 'enum'],
  [CoreReloKind.ENUMVAL_VALUE, 'enum'],
]);

/**
 * The high-level access path of a field relocation (libbpf `bpf_core_parse_spec`): the first index steps over the
 * root pointer; then a named member of a struct or union is a step by name, an anonymous one is no step (the
 * target's member of that name is searched through anonymous members), an array index is a `null` step.
 */
function accessPath(obj: LinkedBpfObject, rootId: number, access: string): (string | null)[] | undefined {
  const idx = access.split(':').map((x) => (/^\d+$/.test(x) ? Number(x) : NaN));
  if (idx.length === 0 || idx.some((x) => !Number.isSafeInteger(x))) return undefined;
  const out: (string | null)[] = [];
  let id = rootId;
  for (let i = 1; i < idx.length; i++) {
    const r = skipModsAndTypedefs(obj.btf, id);
    if (!r) return undefined;
    const t = r.t;
    if (t.kind === 'STRUCT' || t.kind === 'UNION') {
      const m = t.members[idx[i]];
      if (!m) return undefined;
      const name = rawName(obj.btf, m.nameOff);
      if (name !== '') out.push(name);
      id = m.type;
    } else if (t.kind === 'ARRAY') {
      out.push(null);
      id = t.type;
    } else {
      return undefined;
    }
  }
  return out;
}

/**
 * The member names of a local type and of every struct or union it holds by value (through modifiers, typedefs and
 * arrays; anonymous members' own members too), sorted: what TYPE_MATCHES can compare by name.
 */
function localMemberNames(obj: LinkedBpfObject, rootId: number): string[] {
  const names = new Set<string>();
  const seen = new Set<number>();
  const todo = [rootId];
  for (let id = todo.pop(); id !== undefined; id = todo.pop()) {
    let r = skipModsAndTypedefs(obj.btf, id);
    while (r && r.t.kind === 'ARRAY') r = skipModsAndTypedefs(obj.btf, r.t.type);
    if (!r || seen.has(r.id)) continue;
    seen.add(r.id);
    if (r.t.kind !== 'STRUCT' && r.t.kind !== 'UNION') continue;
    for (const m of r.t.members) {
      const name = rawName(obj.btf, m.nameOff);
      if (name !== '') names.add(name);
      todo.push(m.type);
    }
  }
  return [...names].sort();
}

/** The lookups of a dry run of `obj` on any kernel (duplicates merged; order of first use). */
export function targetLookups(obj: LinkedBpfObject): TargetLookups {
  const seen = new Map<string, TargetLookup>();
  const add = (l: TargetLookup): void => {
    const key = `${l.kind}\0${l.name}\0${l.flavors}\0${l.depth}\0${JSON.stringify(l.path ?? null)}\0${JSON.stringify(l.members ?? null)}`;
    if (!seen.has(key)) seen.set(key, l);
  };
  const typeIdTargets = new Map<string, { kind: string; name: string }>();
  for (const relo of obj.coreRelos) {
    if (relo.kind === CoreReloKind.TYPE_ID_LOCAL) continue;
    const t = typeById(obj.btf, relo.typeId);
    // Missing or anonymous: libbpf fails the relocation (-EINVAL) whatever the kernel.
    if (!t || t.kind === 'VOID') continue;
    const name = typeRawName(obj.btf, t);
    if (name === '') continue;
    const depth = DEPTH_OF_KIND.get(relo.kind) ?? 'field';
    const lookup: TargetLookup = { kind: t.kind === 'ENUM64' ? 'ENUM' : t.kind, name: essentialName(name), flavors: true, depth };
    if (relo.kind === CoreReloKind.TYPE_ID_TARGET) typeIdTargets.set(`${lookup.kind} ${lookup.name}`, { kind: lookup.kind, name: lookup.name });
    if (depth === 'field') {
      const path = accessPath(obj, relo.typeId, relo.access);
      if (path) lookup.path = path;
    } else if (depth === 'match') {
      lookup.members = localMemberNames(obj, relo.typeId);
    }
    add(lookup);
  }
  for (const ext of obj.externs) {
    if (ext.section !== '.ksyms') continue;
    if (ext.type === 'func') {
      add({ kind: 'FUNC', name: essentialName(ext.name), flavors: false, depth: 'compat' });
      continue;
    }
    const local = obj.btf.type(ext.btfId);
    const resolved = skipModsAndTypedefs(obj.btf, local.kind === 'VAR' ? local.type : 0);
    // A typeless ksym is found in kallsyms, not BTF.
    if (resolved && resolved.t.kind !== 'VOID') add({ kind: 'VAR', name: ext.name, flavors: false, depth: 'compat' });
  }
  const modules = new Set<string>();
  for (const p of obj.programs) {
    const a = p.attach;
    if (a.btfName !== undefined && a.btfKind !== undefined) {
      add({ kind: a.btfKind, name: a.btfName, flavors: false, depth: 'proto' });
      if (a.module !== undefined && a.module !== 'vmlinux') modules.add(a.module);
      continue;
    }
    if (a.target === undefined) continue;
    if (a.kind === 'kprobe' || a.kind === 'kretprobe') add({ kind: 'FUNC', name: a.target, flavors: false, depth: 'exists' });
    else if (a.kind === 'ksyscall' || a.kind === 'kretsyscall') {
      for (const prefix of SYSCALL_PREFIXES) add({ kind: 'FUNC', name: prefix + a.target, flavors: false, depth: 'exists' });
    } else if (a.kind === 'raw_tp' || a.kind === 'raw_tp.w') add({ kind: 'TYPEDEF', name: `btf_trace_${a.target}`, flavors: false, depth: 'exists' });
  }
  return { lookups: [...seen.values()], typeIdTargets: [...typeIdTargets.values()], modules: [...modules].sort() };
}
