/**
 * The JSON of `core-check --json` and `POST /v1/core/check` (contract: "core-check --json"), built from libs/core's
 * decisions: per kernel the object's verdict and reason, each program's verdict and attach target, and every CO-RE
 * relocation as libbpf 1.7 decides it (kind by its long name, `FIELD_BYTE_OFFSET`, local and target specs, status,
 * values, and whether the verifier can reach the instruction). Extensions beyond the contract: the patches and
 * poisoned instructions, libbpf's messages, the reasons behind each verdict, and for a field relocation without a
 * target the field's history (`btf-atlas field STRUCT.FIELD`, `GET /v1/fields/{path}`).
 *
 * Pure: a linked object and one kernel's BTF in, one kernel entry out.
 */
import {
  CHECKS_NOT_MADE, coreReloJson, essentialName, judgeObject, objectVerdictJson, resolveCoreRelos,
  type AttachStatus, type CoreReloJson, type CoreReloStatus, type CoreSpecJson, type CoreTarget, type JsonU64,
  type LinkedBpfObject, type ProgramVerdictJson, type Verdict, type VerdictReasonJson,
} from '@btf-atlas/core';
import type { ReadBpfObject } from './object-input.js';

/** A program of the object, where it attaches (contract: `object.programs[]`). */
export interface ObjectProgramJson {
  name: string;
  section: string;
  attach: { kind: string; target?: string; module?: string; prog_type?: string; attach_type?: string };
  /** False for a `?` section: libbpf does not load it unless asked. */
  loaded: boolean;
}

/** The object of an answer. */
export interface ObjectJson {
  sha256: string;
  name: string;
  size: number;
  programs: ObjectProgramJson[];
  /** CO-RE relocation records in `.BTF.ext`. */
  relocations: number;
}

/** A spec (local or target) as the contract spells it: `type`, `access`, `spec` first. */
export interface SpecJson {
  type: string;
  access?: string;
  spec: string;
  btf: string;
  type_id: number;
  field_path?: string;
  offset?: number;
  bit?: number;
  enumerator?: string;
  enum_value?: JsonU64;
}

/** Where the history of a field lives, for a field relocation that found no target. */
export interface FieldLinkJson {
  /** `STRUCT.MEMBER[.MEMBER…]` with the struct's essential name (no `___flavor`), array indexes dropped. */
  path: string;
  command: string;
  url: string;
}

/** One relocation in a kernel entry (contract keys first). */
export interface RelocationJson {
  prog: string;
  section: string;
  idx: number;
  insn: number;
  /** The long name: `FIELD_BYTE_OFFSET`, `TYPE_EXISTS`, … */
  kind: string;
  local: SpecJson | null;
  status: CoreReloStatus;
  ambiguous: boolean;
  target: SpecJson | null;
  orig_value: JsonU64 | null;
  new_value: JsonU64 | null;
  /** Whether the verifier can reach the relocated instruction (false for programs libbpf does not load). */
  reachable: boolean;
  insn_off: number;
  patches: CoreReloJson['patches'];
  poisoned_insns: number[];
  messages: string[];
  field?: FieldLinkJson;
}

/** One program's verdict on one kernel (contract keys first). */
export interface ProgramCheckJson {
  name: string;
  verdict: Verdict;
  /** `present`, `missing`, `mismatch`; `not_checked` for targets resolved at attach time, `none` without a target. */
  attach_target: AttachStatus;
  section: string;
  loaded: boolean;
  reasons: VerdictReasonJson[];
}

/** The part of a kernel entry that depends only on the BTF loaded (shared by kernels of one group). */
export interface KernelCheckBody {
  verdict: Verdict;
  reason: string;
  programs: ProgramCheckJson[];
  relocations: RelocationJson[];
  /** What makes the whole object fail (failed relocations, missing strong kfuncs/ksyms, byte order). */
  reasons: VerdictReasonJson[];
  /** libbpf's return codes: `prepare` < 0 when a relocation failed; `load` when loading fails before the verifier. */
  result: { prepare: number; load?: number };
  status_counts: Partial<Record<CoreReloStatus, number>>;
  warnings: string[];
}

/** One kernel of an answer. */
export interface KernelCheckJson extends KernelCheckBody {
  kernel: string;
  series: string;
  btf_sha256: string;
  /** The module BTF searched after vmlinux (by name). */
  modules: string[];
  /**
   * The kernel whose BTF the entry was resolved on: itself, or the first kernel of its group, whose catalog shapes
   * of everything the object touches are those of this kernel (libs/dryrun shape-key.ts). Type ids in the entry
   * (`target.type_id`, messages and reasons) are that kernel's, but for TYPE_ID_TARGET relocations, whose values
   * and target ids are this kernel's own ({@link withOwnTypeIds}).
   */
  resolved_on: string;
}

/** A program's verdict changing between neighbours of one series (kernel order). */
export interface VerdictChangeJson {
  from: string;
  to: string;
  series: string;
  program: string;
  before: { verdict: Verdict };
  after: { verdict: Verdict };
  /** `kp_mm_cid: breaks until 6.1.0-50-amd64, ok from 6.12.95+deb12-amd64` */
  text: string;
}

/** The answer for one object. */
export interface CoreCheckAnswer {
  object: ObjectJson;
  kernels: KernelCheckJson[];
  /** Verdict changes of each program between neighbours of a series (distro/release/arch/flavour). */
  changes: VerdictChangeJson[];
  /** Each program's verdicts along the timeline lines (arch/flavour across distros and releases), with a summary. */
  timelines: ProgramTimelineJson[];
  not_checked: string[];
}

/** One span of a program's timeline. */
export interface VerdictSpanJson {
  first: string;
  last: string;
  count: number;
  value: { verdict: Verdict };
}

/** A program's verdicts over one arch/flavour line. */
export interface VerdictLineJson {
  arch: string;
  flavour: string;
  main: boolean;
  kernels: number;
  spans: VerdictSpanJson[];
}

export interface ProgramTimelineJson {
  program: string;
  timeline: VerdictLineJson[];
  /** `kp_mm_cid on x86_64: breaks from 6.1.0-47-amd64 to 6.1.0-50-amd64, ok at 6.12.117+deb13-amd64` */
  summary: string;
}

/** The contract's `not_checked`: what the verdicts do not check (libs/core CHECKS_NOT_MADE ids, in order). */
export const NOT_CHECKED: readonly string[] = CHECKS_NOT_MADE.map((c) => c.id);

/** The object part of an answer. */
export function objectJson(o: ReadBpfObject): ObjectJson {
  return {
    sha256: o.sha256,
    name: o.name,
    size: o.size,
    programs: o.obj.programs.map((p) => {
      const attach: ObjectProgramJson['attach'] = { kind: p.attach.kind };
      if (p.attach.target !== undefined) attach.target = p.attach.target;
      if (p.attach.module !== undefined) attach.module = p.attach.module;
      if (p.attach.progType !== undefined) attach.prog_type = p.attach.progType;
      if (p.attach.attachType !== undefined) attach.attach_type = p.attach.attachType;
      return { name: p.name, section: p.section, attach, loaded: p.autoload !== false };
    }),
    relocations: o.obj.coreRelos.length,
  };
}

function specJson(s: CoreSpecJson | null): SpecJson | null {
  if (s === null) return null;
  const out: SpecJson = { type: s.type, ...(s.access !== undefined ? { access: s.access } : {}), spec: s.spec, btf: s.btf, type_id: s.type_id };
  if (s.field_path !== undefined) out.field_path = s.field_path;
  if (s.offset !== undefined) out.offset = s.offset;
  if (s.bit !== undefined) out.bit = s.bit;
  if (s.enumerator !== undefined) out.enumerator = s.enumerator;
  if (s.enum_value !== undefined) out.enum_value = s.enum_value;
  return out;
}

/** Relocation kinds about a field (FIELD_BYTE_OFFSET … FIELD_RSHIFT_U64: `.BTF.ext` kinds 0-5). */
const FIELD_KINDS = new Set(['FIELD_BYTE_OFFSET', 'FIELD_BYTE_SIZE', 'FIELD_EXISTS', 'FIELD_SIGNED', 'FIELD_LSHIFT_U64', 'FIELD_RSHIFT_U64']);

/**
 * The field history a field relocation points at: the local root struct or union by its essential name (libbpf
 * looks candidates up by it: `task_struct___new` is `task_struct`), then the member path as C writes it, without
 * array indexes (`comm[3]` is the field `comm`). Undefined for a root that is not a named struct or union.
 */
export function fieldLinkOf(local: CoreSpecJson): FieldLinkJson | undefined {
  const m = /^(struct|union) (\S+)$/.exec(local.type);
  if (!m || local.field_path === undefined) return undefined;
  const members = local.field_path.replace(/\[\d+\]/g, '').split('.').filter((s) => s !== '');
  if (members.length === 0) return undefined;
  const path = `${essentialName(m[2])}.${members.join('.')}`;
  return { path, command: `btf-atlas field ${path}`, url: `/v1/fields/${encodeURIComponent(path)}` };
}

/** One relocation's JSON; `reachable` from the verdicts. */
function relocationJson(r: CoreReloJson, reachable: boolean): RelocationJson {
  const out: RelocationJson = {
    prog: r.prog,
    section: r.section,
    idx: r.idx,
    insn: r.insn,
    kind: r.kind_name,
    local: specJson(r.local),
    status: r.status,
    ambiguous: r.ambiguous,
    target: specJson(r.target),
    orig_value: r.orig_value,
    new_value: r.new_value,
    reachable,
    insn_off: r.insn_off,
    patches: r.patches,
    poisoned_insns: r.poisoned_insns,
    messages: r.messages,
  };
  // A field relocation that found no target: the field's history says where it went.
  if (r.local && FIELD_KINDS.has(r.kind_name) && (r.status === 'poisoned' || r.status === 'defaulted' || r.status === 'error')) {
    const link = fieldLinkOf(r.local);
    if (link) out.field = link;
  }
  return out;
}

function programJson(p: ProgramVerdictJson): ProgramCheckJson {
  return { name: p.name, verdict: p.verdict, attach_target: p.attach_target, section: p.section, loaded: p.loaded, reasons: p.reasons };
}

/**
 * The dry run of one object on one kernel's BTF: libbpf's relocation decisions (libs/core `resolveCoreRelos`),
 * then the verdicts (`judgeObject`), as the kernel-independent body of a kernel entry.
 */
export function checkObjectOnTarget(obj: LinkedBpfObject, target: CoreTarget): KernelCheckBody {
  const dry = resolveCoreRelos(obj, target);
  const verdicts = objectVerdictJson(judgeObject(obj, dry, target));
  return {
    verdict: verdicts.verdict,
    reason: verdicts.reason,
    programs: verdicts.programs.map(programJson),
    relocations: dry.relocations.map((r) => relocationJson(coreReloJson(r), verdicts.reachable[`${r.section}#${r.idx}`] ?? false)),
    reasons: verdicts.reasons,
    result: { prepare: dry.result.prepare, ...(dry.result.load !== undefined ? { load: dry.result.load } : {}) },
    status_counts: { ...dry.statusCounts },
    warnings: [...dry.warnings],
  };
}

/**
 * A body resolved on another kernel of the group, with this kernel's own type ids where they are libbpf's decisions:
 * each TYPE_ID_TARGET relocation whose target is in vmlinux gets the kernel's id of that type (`ids`, by `kind
 * name` as the catalog records them: shape-key.ts) as its target's id, new value and patched immediate. Everything
 * else is the group's (its type ids are those of `resolved_on`). The body itself is never changed: relocations are
 * copied where an id differs. Verdicts stay the group's: the kernels share whether each id is 0 (the type is
 * there or not), which is what a program's branches on it test; a program comparing a kernel type id with another
 * constant is judged with `resolved_on`'s.
 */
export function withOwnTypeIds(body: KernelCheckBody, ids: ReadonlyMap<string, number | 'none'>): KernelCheckBody {
  let relocations: RelocationJson[] | undefined;
  body.relocations.forEach((r, i) => {
    if (r.kind !== 'TYPE_ID_TARGET' || r.target === null || r.target.btf !== 'vmlinux') return;
    const id = ids.get(r.target.type.replace(/^enum64 /, 'enum '));
    if (typeof id !== 'number' || id === r.target.type_id) return;
    relocations ??= [...body.relocations];
    relocations[i] = {
      ...r,
      target: { ...r.target, type_id: id },
      new_value: id,
      patches: r.patches.map((p) => (p.new === r.new_value ? { ...p, new: id } : p)),
    };
  });
  return relocations ? { ...body, relocations } : body;
}
