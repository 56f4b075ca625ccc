/**
 * Minimized BTF (`bpftool gen min_core_btf`, "BTFGen"): the smallest BTF on which libbpf decides every CO-RE
 * relocation of some BPF objects the same way as on the full kernel BTF, so that one small file per kernel
 * (shipped with an application, or laid out as btfhub-archive) replaces the kernel's BTF for those objects.
 *
 * Two steps, as in bpftool:
 * 1. every CO-RE record of every object is decided against the target as libbpf's `bpf_core_calc_relo_insn`
 *    decides it (candidates by essential name, cached per local type and pruned to those that matched; every
 *    matching candidate must agree), and the first matching candidate's spec is recorded by the rules of
 *    min-btf-mark.ts. Unlike a load, nothing is skipped: records of `?` (not autoloaded) sections and of
 *    eliminated subprograms are recorded too, since bpftool reads `.BTF.ext` directly. A record that libbpf
 *    cannot decide (ambiguous candidates, a bad access string, an anonymous local type) fails the whole run with
 *    CORE_MIN_BTF_RELO, where bpftool exits with "error recording relocations";
 * 2. the marked types are copied into a new BTF in their original id order, structs and unions with only their
 *    marked members (offsets, bitfield sizes and the struct's size unchanged; kind_flag set only when a kept
 *    member needs it, as libbpf's `btf__add_field` does), every other kind whole; references to types that
 *    were not kept become void (0). Ids are dense from 1, strings are deduplicated in first-use order.
 *
 * For the objects and kernels of fixtures/core the bytes equal bpftool 7.5's output.
 *
 * Module BTF: libbpf searches module BTF only for local types vmlinux has no candidate for, and a BTF given to
 * libbpf as `btf_custom_path` (how a minimized BTF is used) turns the module search off. So the module types
 * that relocations matched are copied into the same single BTF, after the vmlinux ones (vmlinux first, then the
 * modules in the order of `target.modules`, each in id order), with their references into vmlinux remapped:
 * relocating against the one file then finds them as it found them in the modules. bpftool itself only reads
 * one (vmlinux) BTF.
 *
 * The output is in the target kernel's byte order (bpftool writes its host's) and depends on nothing but the
 * objects' relocations and the target BTF: not on the order of the objects, the time or the machine.
 */
import type { Btf } from '@btf-atlas/btf/core';
import type { BtfType, CompositeType } from '@btf-atlas/btf/types';
import { writeBtf } from './btf-writer.js';
import { CoreError, CoreErrorCode } from './errors.js';
import { MinBtfMarks, ownerOf, type MarkSite } from './min-btf-mark.js';
import { errstr, rawName, typeById, typeRawName } from './relo-btf.js';
import { calcRelo } from './relo-calc.js';
import { findCands, type Candidate, type TargetBtf } from './relo-cands.js';
import { parseSpec, reloKindStr, specMatch, type Spec } from './relo-spec.js';
import { checkTarget, type CoreTarget } from './relo.js';
import { CoreReloKind, type BpfObject, type CoreRelo } from './types.js';

/** One object's state while its records are decided (bpftool keeps a candidate cache per object). */
interface ObjectRun {
  obj: BpfObject;
  vmlinux: TargetBtf;
  modules: TargetBtf[];
  littleEndian: boolean;
  cands: Map<number, Candidate[]>;
}

function reloError(relo: CoreRelo, reason: string): CoreError {
  return new CoreError(CoreErrorCode.MinBtfRelo, `relo #${relo.index} (${reloKindStr(relo.kind)}): ${reason}`, {
    section: relo.section, offset: relo.insnOff, typeId: relo.typeId,
  });
}

/**
 * libbpf `bpf_core_calc_relo_insn` as bpftool calls it: the spec of the first candidate that matched, or
 * undefined when nothing matched or the kind needs no target (TYPE_ID_LOCAL). Throws CORE_MIN_BTF_RELO where
 * libbpf returns an error.
 */
function targetSpec(run: ObjectRun, relo: CoreRelo): Spec | undefined {
  const localBtf = run.obj.btf;
  const kind = relo.kind as number;
  const warnings: string[] = [];
  const warn = (text: string): void => {
    warnings.push(text);
  };
  const lastWarning = (): string => (warnings.length > 0 ? `: ${warnings[warnings.length - 1]}` : '');

  const localT = typeById(localBtf, relo.typeId);
  if (!localT) throw reloError(relo, `local type [${relo.typeId}] does not exist`);
  const localName = typeRawName(localBtf, localT);

  let cands: Candidate[] = [];
  if (kind !== CoreReloKind.TYPE_ID_LOCAL) {
    let cached = run.cands.get(relo.typeId);
    if (!cached) {
      cached = findCands(localBtf, relo.typeId, run.vmlinux, run.modules) ?? [];
      run.cands.set(relo.typeId, cached);
    }
    cands = cached;
  }

  const parsed = parseSpec(relo.section, localBtf, relo, warn);
  if (parsed.err) throw reloError(relo, `parsing access '${relo.access}' of local type [${relo.typeId}] failed: ${errstr(parsed.err)}${lastWarning()}`);
  const local = parsed.spec;
  if (kind === CoreReloKind.TYPE_ID_LOCAL) return undefined;
  if (localName === '') throw reloError(relo, 'relocations of anonymous types are not supported');

  const ctx = { progName: relo.section, reloIdx: relo.index, kind, insnOff: relo.insnOff, littleEndian: run.littleEndian, warn };
  const kept: Candidate[] = [];
  let first: { spec: Spec; poison: boolean; newVal: bigint } | undefined;
  for (const c of cands) {
    const m = specMatch(local, c.btf, c.id, warn);
    if (m.res < 0) throw reloError(relo, `matching candidate [${c.id}] of ${c.btfName} failed: ${errstr(m.res)}${lastWarning()}`);
    if (m.res === 0) continue;
    const calc = calcRelo(ctx, local, m.spec);
    if (calc.err) throw reloError(relo, `computing the value for candidate [${c.id}] of ${c.btfName} failed: ${errstr(calc.err)}${lastWarning()}`);
    if (!first) {
      first = { spec: m.spec, poison: calc.res.poison, newVal: calc.res.newVal };
    } else if (m.spec.bitOffset !== first.spec.bitOffset) {
      throw reloError(relo, `field offset ambiguity: ${m.spec.bitOffset} != ${first.spec.bitOffset}`);
    } else if (calc.res.poison !== first.poison || calc.res.newVal !== first.newVal) {
      throw reloError(relo, `relocation decision ambiguity: ${calc.res.newVal} != ${first.newVal}`);
    }
    kept.push(c);
  }
  // libbpf prunes the shared candidate list to the ones that matched (unchanged when none did).
  if (kept.length > 0) run.cands.set(relo.typeId, kept);
  if (!first) {
    const calc = calcRelo(ctx, local, undefined);
    if (calc.err) throw reloError(relo, `computing the value without a target failed: ${errstr(calc.err)}${lastWarning()}`);
    return undefined;
  }
  return first.spec;
}

/** Records every CO-RE relocation of one object (bpftool `btfgen_record_obj`). */
function recordObject(marks: MinBtfMarks, obj: BpfObject, target: CoreTarget): void {
  if (!obj.btfExt) {
    throw new CoreError(CoreErrorCode.NoBtfExt, 'the object has no .BTF.ext section, so its CO-RE relocations are unknown', { section: '.BTF.ext' });
  }
  const run: ObjectRun = {
    obj,
    vmlinux: { name: 'vmlinux', btf: target.vmlinux },
    modules: (target.modules ?? []).map((m) => ({ name: m.name, btf: m.btf })),
    littleEndian: target.vmlinux.littleEndian,
    cands: new Map(),
  };
  for (const relo of obj.coreRelos) {
    const spec = targetSpec(run, relo);
    if (!spec) continue;
    const site: MarkSite = { section: relo.section, idx: relo.index, insnOff: relo.insnOff, localTypeId: relo.typeId, kindName: reloKindStr(relo.kind) };
    marks.record(spec, relo.kind, site);
  }
}

/** The kept types of `target`, renumbered 1..n: vmlinux's in id order, then each module's. */
function buildTypes(marks: MinBtfMarks, target: CoreTarget): BtfType[] {
  const sources: Btf[] = [target.vmlinux];
  for (const m of target.modules ?? []) if (!sources.includes(m.btf)) sources.push(m.btf);

  const newIds = new Map<Btf, Map<number, number>>();
  const order: { btf: Btf; id: number }[] = [];
  for (const btf of sources) {
    const m = marks.of(btf);
    if (!m) continue;
    const ids = new Map<number, number>();
    for (const id of [...m.types].sort((a, b) => a - b)) {
      order.push({ btf, id });
      ids.set(id, order.length);
    }
    newIds.set(btf, ids);
  }
  // A reference to a type that was not kept becomes void, as in bpftool (a pointer to it becomes `void *`).
  const remap = (btf: Btf, ref: number): number => (ref === 0 ? 0 : (newIds.get(ownerOf(btf, ref))?.get(ref) ?? 0));

  return order.map(({ btf, id }, i): BtfType => {
    const t = btf.type(id);
    const common = { id: i + 1, nameOff: 0, name: rawName(btf, t.nameOff) };
    switch (t.kind) {
      case 'STRUCT': case 'UNION': {
        const keep = marks.of(btf)?.members.get(id);
        const members = t.members
          .filter((_, j) => keep?.has(j) ?? false)
          .map((m) => ({ ...m, name: rawName(btf, m.nameOff), nameOff: 0, type: remap(btf, m.type) }));
        // libbpf btf__add_field: kind_flag once a member is a bitfield or not byte-aligned.
        const kindFlag = members.some((m) => m.bitfieldSize !== 0 || m.bitsOffset % 8 !== 0);
        const out: CompositeType = { ...t, ...common, kindFlag, members };
        return out;
      }
      case 'PTR': case 'TYPEDEF': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'TYPE_TAG':
      case 'FUNC': case 'VAR': case 'DECL_TAG':
        return { ...t, ...common, type: remap(btf, t.type) };
      case 'ARRAY':
        return { ...t, ...common, type: remap(btf, t.type), indexType: remap(btf, t.indexType) };
      case 'ENUM':
        return { ...t, ...common, values: t.values.map((v) => ({ ...v, name: rawName(btf, v.nameOff), nameOff: 0 })) };
      case 'ENUM64':
        return { ...t, ...common, values: t.values.map((v) => ({ ...v, name: rawName(btf, v.nameOff), nameOff: 0 })) };
      case 'FUNC_PROTO':
        return {
          ...t, ...common, returnType: remap(btf, t.returnType),
          params: t.params.map((p) => ({ ...p, name: rawName(btf, p.nameOff), nameOff: 0, type: remap(btf, p.type) })),
        };
      case 'DATASEC':
        return { ...t, ...common, vars: t.vars.map((v) => ({ ...v, type: remap(btf, v.type) })) };
      default:
        return { ...t, ...common };
    }
  });
}

/**
 * The minimized BTF of `objects` for `target` (raw BTF bytes, the target's byte order): only the types and
 * members their CO-RE relocations need, so that relocating against it gives libbpf's decisions on the full
 * BTF (TYPE_ID_TARGET values aside: they are ids of the new BTF). See the module comment for the rules and
 * for module BTF. Throws CoreError CORE_NO_BTF_EXT for an object without `.BTF.ext`, CORE_MIN_BTF_RELO for a
 * relocation libbpf cannot decide, CORE_MIN_BTF_KIND for a needed type of a kind that cannot be kept, and
 * BtfError BTF_BAD_BASE when the target's vmlinux is split BTF or a module is not split BTF on it.
 */
export function minimizeBtf(objects: readonly BpfObject[], target: CoreTarget): Uint8Array {
  checkTarget(target);
  const marks = new MinBtfMarks();
  for (const obj of objects) recordObject(marks, obj, target);
  return writeBtf(buildTypes(marks, target), { littleEndian: target.vmlinux.littleEndian, nameEncoding: 'latin1' });
}
