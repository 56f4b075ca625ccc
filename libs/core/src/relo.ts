/**
 * The CO-RE relocation resolver: every CO-RE relocation of a BPF object decided against a target kernel's BTF
 * exactly as libbpf 1.7 decides it when it loads the object (libbpf.c `bpf_object__relocate_core` and
 * relo_core.c), without loading anything. Pure: object and BTF in, decisions out.
 *
 * The steps, in libbpf's order (each in its own module):
 * 1. relocations are taken section by section, record by record, each attributed to the program (or `.text`
 *    subprogram) whose instructions hold it; programs that will not be loaded (`?` sections) are skipped;
 * 2. the candidates of the relocation's local type are found by essential name in vmlinux, else in the modules
 *    (relo-cands.ts), once per local type id; the list is shared by later relocations of that type and pruned to
 *    the candidates that matched;
 * 3. the access string becomes a local spec (relo-spec.ts `parseSpec`) and is matched onto every candidate
 *    (`specMatch`); every matching candidate must give the same bit offset and the same value, or the
 *    relocation is ambiguous and fails;
 * 4. the values are computed (relo-calc.ts) and the instruction is patched or poisoned (relo-patch.ts);
 * 5. the first failure stops everything: libbpf refuses to load the object (`result.prepare` < 0) and the
 *    relocations after it are not looked at (they are listed in `skipped`).
 */
import { BtfError, BtfErrorCode, type Btf } from '@btf-atlas/btf/core';
import { findProgram } from './object.js';
import { CoreReloKind, type BpfObject, type CoreRelo, type Insn } from './types.js';
import { Errno, errstr, kindStr, typeById, typeLabel, typeLabelOf, type AnyType } from './relo-btf.js';
import { findCands, type Candidate, type TargetBtf } from './relo-cands.js';
import { calcRelo, emptyRes, type ReloRes } from './relo-calc.js';
import {
  formatSpec, isEnumvalBased, isFieldBased, parseSpec, reloKindStr, specEnumerator, specFieldPath,
  specMatch, specRootLabel, type Spec,
} from './relo-spec.js';
import { patchInsn, type InsnPatch } from './relo-patch.js';

export type { InsnPatch, InsnClassLabel } from './relo-patch.js';
export { POISON_HELPER_ID } from './relo-patch.js';
export { essentialName } from './relo-btf.js';

/** The kernel a dry run relocates against: its vmlinux BTF and, optionally, module BTFs (split BTF on vmlinux). */
export interface CoreTarget {
  vmlinux: Btf;
  /** Searched in this order, and only for local types vmlinux has no candidate for (libbpf's rule). */
  modules?: { name: string; btf: Btf }[];
}

/**
 * What libbpf decided for one relocation:
 * - `resolved`: a target matched, the value was patched (possibly to the same value);
 * - `defaulted`: no target; an existence check or a type-based relocation was patched to its "absent" value (0);
 * - `poisoned`: no target (or an unsafe load size change); the instruction was replaced by a call to the invalid
 *   helper 0xbad2310, fatal only if the verifier finds it reachable;
 * - `local`: TYPE_ID_LOCAL, answered from the object's own BTF;
 * - `error`: the relocation failed and with it the whole object (`result.prepare` < 0).
 */
export type CoreReloStatus = 'resolved' | 'defaulted' | 'poisoned' | 'local' | 'error';

/** The statuses, in the order reports list them. */
export const CORE_RELO_STATUSES: readonly CoreReloStatus[] = ['resolved', 'defaulted', 'poisoned', 'local', 'error'];

/** A spec (local, candidate or target) as libbpf's debug log describes it. */
export interface CoreSpecInfo {
  /** `local`, `vmlinux` or a module name. */
  btf: string;
  typeId: number;
  /** Kind and name of the root type (`struct task_struct`, `enum <anon>`). */
  type: string;
  /** Field kinds: the raw access string of this side (`0:1`; for a target, its own member numbering). */
  access?: string;
  /** Field kinds: the C access path after the root (`__state`, `comm[3]`, `d_name.hash_len`); absent when empty. */
  fieldPath?: string;
  /** Field kinds: byte offset of the access from the root. */
  offset?: number;
  /** Field kinds: bit within that byte, when not 0 (bitfields). */
  bit?: number;
  /** Enum kinds: the enumerator and its value (signed when the enum is). */
  enumerator?: string;
  enumValue?: number | bigint;
  /** libbpf's text without the kind and id: `struct task_struct.__state`, `enum e::V = 3`. */
  spec: string;
}

/** One candidate tried for a relocation. */
export interface CoreCandidateInfo extends CoreSpecInfo {
  /** Its index in the candidate list at the time (the list shrinks to the matching ones after each success). */
  idx: number;
  matched: boolean;
  /** Negative errno when matching failed with an error (which fails the relocation). */
  error?: number;
}

/** libbpf's decision for one CO-RE relocation. */
export interface CoreReloResult {
  section: string;
  /** The program (or subprogram) whose instruction it patches. */
  prog: string;
  /** Index of the record in its section's CO-RE records (libbpf's `relo #N`). */
  idx: number;
  /** Byte offset of the instruction in its section. */
  insnOff: number;
  /** Index of the instruction within its program (libbpf's `insn #N`). */
  insn: number;
  /** The relocation kind (its `.BTF.ext` number; unknown numbers are kept). */
  kind: number;
  /** `FIELD_BYTE_OFFSET` … (`UNKNOWN_N` outside the enum). */
  kindName: string;
  /** libbpf's short name: `byte_off`, `field_exists`, … */
  kindShort: string;
  /** The parsed local spec; null when the local type or access string is invalid. */
  local: CoreSpecInfo | null;
  candidates: CoreCandidateInfo[];
  /** The spec of the first matching candidate (the one whose values were used), or null. */
  target: CoreSpecInfo | null;
  patches: InsnPatch[];
  /** Program-relative indexes of the instructions replaced by `call 0xbad2310`, in libbpf's order. */
  poisonedInsns: number[];
  /** The candidate search ran and nothing matched. */
  noTarget: boolean;
  /** Matching candidates disagreed (offset or value): the relocation failed. */
  ambiguous: boolean;
  /** The first patch's old and new values (u64); null when nothing was patched. */
  origValue: bigint | null;
  newValue: bigint | null;
  status: CoreReloStatus;
  /** libbpf's warnings about this relocation, `W: ` prefixed, without the `prog '…': relo #N: ` prefix. */
  messages: string[];
  /** The negative errno of a failed relocation. */
  error?: number;
}

/** A record libbpf does not relocate. */
export interface CoreSkippedRelo {
  section: string;
  idx: number;
  insnOff: number;
  /**
   * `no program` (no program holds the instruction: an eliminated weak subprogram), `not autoloaded` (a `?`
   * section), `bad offset` (not a multiple of 8: libbpf stops there, -EINVAL), `after failure` (libbpf had stopped).
   */
  reason: 'no program' | 'not autoloaded' | 'bad offset' | 'after failure';
}

/** The candidates found for one local type, before any pruning. */
export interface CoreCandidateCacheEntry {
  localTypeId: number;
  localType: string;
  candidates: { typeId: number; type: string; btf: string }[];
}

/** The dry run of one object against one kernel (model of the `btf-core-dryrun/1` oracle). */
export interface CoreDryRun {
  /**
   * libbpf's return codes: `open` (always 0 here: the object was read), `prepare` (0, or the errno of the first
   * failed relocation), and `load` when loading fails before any program reaches the verifier: -4003
   * (LIBBPF_ERRNO__ENDIAN) for an object of the other byte order than the kernel's.
   */
  result: { open: number; prepare: number; load?: number };
  /** True when the object would load as far as CO-RE is concerned (`prepare` is 0 and the byte orders agree). */
  ok: boolean;
  /** Relocations per status, for the statuses that occur. */
  statusCounts: Partial<Record<CoreReloStatus, number>>;
  /** Sections with CO-RE records, in `.BTF.ext` order, with their record counts. */
  sections: { name: string; relocations: number }[];
  /** Candidate lists per local type, in the order they were first looked up (empty lists included). */
  candidateCache: CoreCandidateCacheEntry[];
  relocations: CoreReloResult[];
  skipped: CoreSkippedRelo[];
  /** libbpf's warnings, whole lines (`prog 'p': relo #1: field offset ambiguity: 896 != 576`). */
  warnings: string[];
  /** libbpf's CO-RE debug log as it would print it, `D: ` / `W: ` prefixed. */
  log: string[];
  /** Every executable section's instructions after patching and poisoning (the object's are left untouched). */
  patchedSections: Map<string, Insn[]>;
}

/** LIBBPF_ERRNO__ENDIAN: the object's byte order is not the kernel's. */
const LIBBPF_ERRNO_ENDIAN = 4003;

/** `FIELD_BYTE_OFFSET` for 0, … */
function kindName(kind: number): string {
  return CoreReloKind[kind] ?? `UNKNOWN_${kind}`;
}

/** Describes a spec the way the dry run reports it. */
function specInfo(spec: Spec, btfName: string): CoreSpecInfo {
  const info: CoreSpecInfo = { btf: btfName, typeId: spec.rootTypeId, type: specRootLabel(spec), spec: specRootLabel(spec) };
  if (isFieldBased(spec.kind)) {
    const path = specFieldPath(spec);
    info.access = spec.raw.join(':');
    if (path !== '') info.fieldPath = path.startsWith('.') ? path.slice(1) : path;
    info.offset = Math.floor(spec.bitOffset / 8);
    if (spec.bitOffset % 8 !== 0) info.bit = spec.bitOffset % 8;
    info.spec += path;
  } else if (isEnumvalBased(spec.kind)) {
    const e = specEnumerator(spec);
    if (e) {
      info.enumerator = e.name;
      info.enumValue = e.value;
      info.spec += `::${e.name} = ${e.value}`;
    }
  }
  return info;
}

/** Checks the target's shape: vmlinux is base BTF and every module is split BTF on it. */
export function checkTarget(target: CoreTarget): void {
  if (target.vmlinux.base) {
    throw new BtfError(BtfErrorCode.BadBase, 'the target vmlinux btf is split btf (it must be the kernel\'s base btf)', { source: 'vmlinux' });
  }
  for (const m of target.modules ?? []) {
    if (m.btf.base !== target.vmlinux) {
      throw new BtfError(BtfErrorCode.BadBase, `module '${m.name}' btf is not split btf on the target vmlinux btf`, { source: m.name });
    }
  }
}

/** The state one dry run carries from relocation to relocation (libbpf's `bpf_object` and candidate cache). */
interface RunState {
  obj: BpfObject;
  vmlinux: TargetBtf;
  modules: TargetBtf[];
  /** Candidate lists by local type id, pruned as relocations match. */
  cands: Map<number, Candidate[]>;
  cacheReport: CoreCandidateCacheEntry[];
  insns: Map<string, Insn[]>;
  log: string[];
  warnings: string[];
  littleEndian: boolean;
}

/** Per-relocation log: debug lines and warnings, kept for the whole run and for the relocation's messages. */
class ReloLog {
  readonly messages: string[] = [];

  constructor(
    private readonly run: RunState,
    private readonly prefix: string,
  ) {}

  debug = (text: string): void => {
    this.run.log.push(`D: ${text}`);
  };

  warn = (text: string): void => {
    this.run.log.push(`W: ${text}`);
    this.run.warnings.push(text);
    this.messages.push(`W: ${text.startsWith(this.prefix) ? text.slice(this.prefix.length) : text}`);
  };
}

/** What resolving one relocation gave before patching (libbpf `bpf_core_resolve_relo`). */
interface Resolution {
  err: number;
  res: ReloRes;
  local: Spec | undefined;
  candidates: CoreCandidateInfo[];
  target: { spec: Spec; btfName: string } | undefined;
  matched: number;
  searched: boolean;
  ambiguous: boolean;
}

/** Candidates of a local type from the cache, searching (and logging) on first use. Undefined: search failed. */
function candidatesOf(run: RunState, localId: number, localT: AnyType, log: ReloLog): Candidate[] | undefined {
  const cached = run.cands.get(localId);
  if (cached) return cached;
  const found = findCands(run.obj.btf, localId, run.vmlinux, run.modules);
  if (!found) return undefined;
  const localLabel = typeLabel(localT);
  for (const c of found) {
    log.debug(`CO-RE relocating [${localId}] ${localLabel}: found target candidate [${c.id}] ${typeLabelOf(c.btf, c.id)} in [${c.btfName}]`);
  }
  run.cands.set(localId, found);
  run.cacheReport.push({
    localTypeId: localId,
    localType: localLabel,
    candidates: found.map((c) => ({ typeId: c.id, type: typeLabelOf(c.btf, c.id), btf: c.btfName })),
  });
  return found;
}

/**
 * `bpf_core_resolve_relo` + `bpf_core_calc_relo_insn`: finds the candidates, parses the local spec, matches every
 * candidate and computes the values, enforcing that all matches agree.
 */
function resolveRelo(run: RunState, relo: CoreRelo, progName: string, log: ReloLog): Resolution {
  const out: Resolution = { err: 0, res: emptyRes(), local: undefined, candidates: [], target: undefined, matched: 0, searched: false, ambiguous: false };
  const fail = (err: number): Resolution => ({ ...out, err });
  const where = `prog '${progName}': relo #${relo.index}:`;
  const localBtf = run.obj.btf;
  const localId = relo.typeId;
  const kind = relo.kind as number;

  const localT = typeById(localBtf, localId);
  if (!localT) return fail(-Errno.EINVAL);
  const localName = localT.kind === 'VOID' ? '' : localBtf.strings.tryGetRaw(localT.nameOff);
  if (localName === undefined) return fail(-Errno.EINVAL);

  let cands: Candidate[] = [];
  if (kind !== CoreReloKind.TYPE_ID_LOCAL) {
    const found = candidatesOf(run, localId, localT, log);
    if (!found) {
      // libbpf prints the raw name here, empty for an anonymous type.
      log.warn(`${where} target candidate search failed for [${localId}] ${kindStr(localT)} ${localName}: ${-Errno.EINVAL}`);
      return fail(-Errno.EINVAL);
    }
    cands = found;
  }

  const parsed = parseSpec(progName, localBtf, relo, log.warn);
  if (parsed.err) {
    log.warn(`${where} parsing [${localId}] ${typeLabel(localT)} + ${relo.access} failed: ${parsed.err}`);
    return fail(-Errno.EINVAL);
  }
  const local = parsed.spec;
  out.local = local;
  log.debug(`${where} ${formatSpec(local)}`);

  const ctx = { progName, reloIdx: relo.index, kind, insnOff: relo.insnOff, littleEndian: run.littleEndian, warn: log.warn };

  if (kind === CoreReloKind.TYPE_ID_LOCAL) {
    out.res = { ...emptyRes(), validate: false, origVal: BigInt(local.rootTypeId), newVal: BigInt(local.rootTypeId) };
    return out;
  }
  if (localName === '') {
    log.warn(`${where} <${reloKindStr(kind)}> (${kind}) relocation doesn't support anonymous types`);
    return fail(-Errno.EOPNOTSUPP);
  }

  out.searched = true;
  const kept: Candidate[] = [];
  let targRes: ReloRes | undefined;
  for (let i = 0; i < cands.length; i++) {
    const c = cands[i];
    const m = specMatch(local, c.btf, c.id, log.warn);
    const info: CoreCandidateInfo = { idx: i, matched: m.res > 0, ...specInfo(m.spec, c.btfName) };
    out.candidates.push(info);
    if (m.res < 0) {
      info.error = m.res;
      log.warn(`${where} error matching candidate #${i} ${formatSpec(m.spec)}: ${m.res}`);
      return fail(m.res);
    }
    log.debug(`${where} ${m.res === 0 ? 'non-matching' : 'matching'} candidate #${i} ${formatSpec(m.spec)}`);
    if (m.res === 0) continue;

    const calc = calcRelo(ctx, local, m.spec);
    if (calc.err) return fail(calc.err);
    if (!targRes || !out.target) {
      targRes = calc.res;
      out.target = { spec: m.spec, btfName: c.btfName };
    } else if (m.spec.bitOffset !== out.target.spec.bitOffset) {
      log.warn(`${where} field offset ambiguity: ${m.spec.bitOffset} != ${out.target.spec.bitOffset}`);
      return { ...fail(-Errno.EINVAL), ambiguous: true };
    } else if (calc.res.poison !== targRes.poison || calc.res.newVal !== targRes.newVal) {
      const word = (r: ReloRes): string => (r.poison ? 'failure' : 'success');
      log.warn(`${where} relocation decision ambiguity: ${word(calc.res)} ${calc.res.newVal} != ${word(targRes)} ${targRes.newVal}`);
      return { ...fail(-Errno.EINVAL), ambiguous: true };
    }
    kept.push(c);
  }
  out.matched = kept.length;
  // The cached list keeps only what matched, for the next relocations of this type; nothing matched: unchanged.
  if (kept.length > 0) run.cands.set(localId, kept);

  if (kept.length === 0 || !targRes) {
    log.debug(`${where} no matching targets found`);
    const calc = calcRelo(ctx, local, undefined);
    if (calc.err) return fail(calc.err);
    out.res = calc.res;
    return out;
  }
  out.res = targRes;
  return out;
}

/**
 * Resolves every CO-RE relocation of `obj` against `target` as libbpf 1.7 would when loading the object on that
 * kernel, and reports each decision (see {@link CoreDryRun}). The object is not modified. Throws a BtfError
 * BTF_BAD_BASE when vmlinux is split BTF or a module's BTF is not split BTF on that vmlinux.
 */
export function resolveCoreRelos(obj: BpfObject, target: CoreTarget): CoreDryRun {
  checkTarget(target);
  const run: RunState = {
    obj,
    vmlinux: { name: 'vmlinux', btf: target.vmlinux },
    modules: (target.modules ?? []).map((m) => ({ name: m.name, btf: m.btf })),
    cands: new Map(),
    cacheReport: [],
    insns: new Map([...obj.sections].map(([name, insns]) => [name, insns.map((i) => ({ ...i }))])),
    log: [],
    warnings: [],
    littleEndian: target.vmlinux.littleEndian,
  };
  const dry: CoreDryRun = {
    result: { open: 0, prepare: 0 },
    ok: true,
    statusCounts: {},
    sections: [],
    candidateCache: run.cacheReport,
    relocations: [],
    skipped: [],
    warnings: run.warnings,
    log: run.log,
    patchedSections: run.insns,
  };

  const bySection = new Map<string, CoreRelo[]>();
  for (const r of obj.coreRelos) {
    const list = bySection.get(r.section);
    if (list) list.push(r);
    else bySection.set(r.section, [r]);
  }
  for (const [name, relos] of bySection) dry.sections.push({ name, relocations: relos.length });

  let failed = 0;
  for (const [secName, relos] of bySection) {
    if (failed) {
      for (const r of relos) dry.skipped.push({ section: r.section, idx: r.index, insnOff: r.insnOff, reason: 'after failure' });
      continue;
    }
    run.log.push(`D: sec '${secName}': found ${relos.length} CO-RE relocations`);
    for (const relo of relos) {
      if (failed) {
        dry.skipped.push({ section: relo.section, idx: relo.index, insnOff: relo.insnOff, reason: 'after failure' });
        continue;
      }
      if (relo.insnOff % 8 !== 0) {
        // libbpf returns -EINVAL here without a word.
        failed = -Errno.EINVAL;
        dry.skipped.push({ section: relo.section, idx: relo.index, insnOff: relo.insnOff, reason: 'bad offset' });
        continue;
      }
      const sectionIdx = relo.insnOff / 8;
      const prog = findProgram(obj, secName, relo.insnOff);
      if (!prog) {
        run.log.push(`D: sec '${secName}': skipping CO-RE relocation #${relo.index} for insn #${sectionIdx} belonging to eliminated weak subprogram`);
        dry.skipped.push({ section: relo.section, idx: relo.index, insnOff: relo.insnOff, reason: 'no program' });
        continue;
      }
      if (prog.autoload === false) {
        dry.skipped.push({ section: relo.section, idx: relo.index, insnOff: relo.insnOff, reason: 'not autoloaded' });
        continue;
      }
      const result = relocateOne(run, relo, prog.name, sectionIdx, sectionIdx - prog.offset / 8);
      dry.relocations.push(result);
      dry.statusCounts[result.status] = (dry.statusCounts[result.status] ?? 0) + 1;
      if (result.status === 'error') failed = result.error ?? -Errno.EINVAL;
    }
  }

  if (failed) {
    const text = `failed to perform CO-RE relocations: ${errstr(failed)}`;
    run.log.push(`W: ${text}`);
    run.warnings.push(text);
    dry.result.prepare = failed;
    dry.ok = false;
  }
  if (obj.littleEndian !== target.vmlinux.littleEndian) {
    // libbpf relocates such an object but refuses to load it (`bpf_object_load`).
    const text = `object is ${obj.littleEndian ? 'little' : 'big'}-endian, the kernel ${target.vmlinux.littleEndian ? 'little' : 'big'}-endian: loading non-native endianness is unsupported`;
    run.log.push(`W: ${text}`);
    run.warnings.push(text);
    dry.result.load = -LIBBPF_ERRNO_ENDIAN;
    dry.ok = false;
  }
  return dry;
}

/** Resolves and patches one relocation (the body of libbpf's per-record loop). */
function relocateOne(run: RunState, relo: CoreRelo, progName: string, sectionIdx: number, insnIdx: number): CoreReloResult {
  const where = `prog '${progName}': relo #${relo.index}:`;
  const log = new ReloLog(run, `${where} `);
  const kind = relo.kind as number;
  const r = resolveRelo(run, relo, progName, log);
  const result: CoreReloResult = {
    section: relo.section,
    prog: progName,
    idx: relo.index,
    insnOff: relo.insnOff,
    insn: insnIdx,
    kind,
    kindName: kindName(kind),
    kindShort: reloKindStr(kind),
    local: r.local ? specInfo(r.local, 'local') : null,
    candidates: r.candidates,
    target: r.target ? specInfo(r.target.spec, r.target.btfName) : null,
    patches: [],
    poisonedInsns: [],
    noTarget: r.err === 0 && r.searched && r.matched === 0,
    ambiguous: r.ambiguous,
    origValue: null,
    newValue: null,
    status: 'error',
    messages: log.messages,
  };
  if (r.err) {
    log.warn(`${where} failed to relocate: ${errstr(r.err)}`);
    result.error = r.err;
    return result;
  }

  const insns = run.insns.get(relo.section);
  const patch = insns && sectionIdx < insns.length
    ? patchInsn({ progName, reloIdx: relo.index, insns, at: sectionIdx, insnIdx, warn: log.warn, debug: log.debug }, r.res)
    : { err: -Errno.EINVAL, patches: [], poisoned: [] };
  result.patches = patch.patches;
  result.poisonedInsns = patch.poisoned;
  if (patch.patches.length > 0) {
    result.origValue = patch.patches[0].old;
    result.newValue = patch.patches[0].new;
  }
  if (patch.err) {
    log.warn(`${where} failed to patch insn #${insnIdx}: ${errstr(patch.err)}`);
    result.error = patch.err;
    return result;
  }
  if (kind === CoreReloKind.TYPE_ID_LOCAL) result.status = 'local';
  else if (patch.poisoned.length > 0) result.status = 'poisoned';
  else result.status = r.matched > 0 ? 'resolved' : 'defaulted';
  return result;
}
