/**
 * Per-program verdicts of the CO-RE dry run on one kernel (issue 12): beyond libbpf's relocation decisions,
 * whether each program would load and attach.
 *
 * - `ok`: nothing stands in the way (as far as the checks made go: see {@link CHECKS_NOT_MADE});
 * - `guarded`: an instruction libbpf poisoned (a failed CO-RE relocation, a call to an unresolved weak kfunc)
 *   lies only on paths the program cannot take once the constants the relocations write are known — the
 *   `if (bpf_core_field_exists(t->x)) … BPF_CORE_READ(t, x)` pattern, also with `bpf_core_type_exists`,
 *   `bpf_core_enum_value_exists`, `bpf_ksym_exists` and `___flavor` types — so the verifier drops it as dead
 *   code (reach.ts decides reachability);
 * - `breaks`: a poisoned instruction on a reachable path (the verifier refuses it: "invalid func
 *   unknown#195896080"), or an attach target that is missing or whose prototype does not fit
 *   (attach-check.ts); a kprobe target missing from BTF is a warning-level break;
 * - `fails`: the object cannot load at all: a relocation failed (`prepare` < 0), a strong kfunc or ksym is
 *   missing or incompatible (verdict-externs.ts), or the object's byte order is not the kernel's. libbpf then
 *   loads none of its programs, so every program fails too.
 *
 * libbpf loads every autoloaded program of an object together: one that breaks makes `bpf_object__load` fail
 * unless the loader turns its autoload off. The verdicts are per program so that the loader can do just that.
 *
 * Pure: the object, its dry run on a kernel and that kernel's BTF in, verdicts out.
 */
import { BPF_JMP_CALL } from './bpf-insn.js';
import { analyzeReach, locKey, POISON_CORE_HELPER, POISON_KFUNC_BASE, type CodeLoc, type InsnLink, type ReachOptions, type ReachResult } from './reach.js';
import type { LinkedBpfObject } from './reach-links.js';
import type { CoreDryRun, CoreReloResult, CoreReloStatus, CoreTarget } from './relo.js';
import type { AttachTarget, BpfObject, BpfProgram, Insn } from './types.js';
import { checkAttach, type AttachStatus } from './attach-check.js';
import { resolveExterns, type ExternResolution } from './verdict-externs.js';

/** A verdict, from best to worst. */
export type Verdict = 'ok' | 'guarded' | 'breaks' | 'fails';

/** The verdicts in order of severity. */
export const VERDICTS: readonly Verdict[] = ['ok', 'guarded', 'breaks', 'fails'];

/** What a reason is about. `object`: the object as a whole (its byte order; a program libbpf does not load). */
export type VerdictReasonKind = 'relocation' | 'attach' | 'kfunc' | 'ksym' | 'object';

/** Why a verdict is what it is. */
export interface VerdictReason {
  kind: VerdictReasonKind;
  /** The verdict this reason leads to by itself. */
  verdict: Verdict;
  /** `error`: certain; `warning`: probable (a kprobe target not in BTF); `info`: what made a program `guarded`, or a note. */
  level: 'error' | 'warning' | 'info';
  /** Section and function (program or `.text` subprogram) of the instruction, when the reason has one. */
  section?: string;
  function?: string;
  /** Instruction index within that function (libbpf's `insn #N`). */
  insn?: number;
  /** The CO-RE relocation's index in its section (libbpf's `relo #N`). */
  relocation?: number;
  /** The extern concerned (kfunc, ksym). */
  extern?: string;
  message: string;
}

/** A CO-RE relocation of a program (or of a subprogram it calls) and whether its instruction is reachable. */
export interface RelocationReach {
  section: string;
  /** The function the relocated instruction is in. */
  prog: string;
  idx: number;
  insn: number;
  kind: string;
  status: CoreReloStatus;
  reachable: boolean;
}

/** The verdict of one program on one kernel. */
export interface ProgramVerdict {
  program: string;
  section: string;
  attach: AttachTarget;
  verdict: Verdict;
  reasons: VerdictReason[];
  /** What the kernel has of the attach target (the contract's `attach_target`). */
  attachTarget: AttachStatus;
  /**
   * False for a program libbpf does not load unless asked (`?` section): its relocations were not made, so only
   * its attach target is judged (as if the loader enabled it), and the object's verdict leaves it out.
   */
  loaded: boolean;
  relocations: RelocationReach[];
  /** Instructions found reachable (the program's and its subprograms'), for reports. */
  reachableInsns: number;
}

/** One check the verdicts do not make, and why. */
export interface CheckNotMade {
  /** Stable id (the contract's `not_checked` strings). */
  id: string;
  what: string;
}

/**
 * What the verdicts do not check: `ok` means "nothing found", not "the verifier accepts it". A fixed list, in
 * this order.
 */
export const CHECKS_NOT_MADE: readonly CheckNotMade[] = Object.freeze([
  { id: 'verifier', what: 'the verifier\'s own rules (bounds, pointer types, loops, stack and instruction limits, helper arguments): only the dead code it drops is modelled' },
  { id: 'helpers and map types', what: 'whether the kernel has each helper, map type, program type and attach type the object uses' },
  { id: 'inlining', what: 'whether a kprobe target that BTF describes is inlined in some or all of its callers, or one BTF lacks is still in kallsyms' },
  { id: 'module btf', what: 'targets, kfuncs and types in kernel modules whose BTF was not ingested' },
  { id: 'kconfig', what: 'values of .kconfig externs (the kernel configuration is not in BTF)' },
  { id: 'typeless ksyms', what: 'typeless __ksym externs, which libbpf resolves from /proc/kallsyms' },
  { id: 'loader constants', what: 'constants set by the loader before loading (.rodata, .kconfig), which may drop more code' },
  { id: 'attach time', what: 'classic tracepoints, kprobe.multi patterns, uprobes, struct_ops and freplace targets, which are resolved when attaching' },
]) as readonly CheckNotMade[];

/** The verdicts of one object on one kernel. */
export interface ObjectVerdict {
  /** `fails` when the object cannot load; else the worst verdict of the programs libbpf loads by default. */
  verdict: Verdict;
  /** One line: why (the contract's `reason`). */
  summary: string;
  /** Object-level reasons: what makes the object fail. */
  reasons: VerdictReason[];
  programs: ProgramVerdict[];
  externs: ExternResolution[];
  checksNotMade: readonly CheckNotMade[];
}

/** The worse of two verdicts. */
export function worseVerdict(a: Verdict, b: Verdict): Verdict {
  return VERDICTS.indexOf(a) >= VERDICTS.indexOf(b) ? a : b;
}

/** A function of the object: a program or a `.text` subprogram. */
interface Fn {
  prog: BpfProgram;
  start: number;
  end: number;
}

/** Why an instruction is poisoned: the reason's location fields, and what happened in words. */
interface PoisonCause {
  reason: Omit<VerdictReason, 'verdict' | 'level' | 'message'>;
  what: string;
}

/** What every program's judgement shares: the patched code, its links, the externs and the poison sites. */
interface JudgeContext {
  obj: LinkedBpfObject;
  dry: CoreDryRun;
  kernel: CoreTarget;
  code: { sections: Map<string, Insn[]>; links: Map<string, InsnLink>; littleEndian: boolean };
  externs: ExternResolution[];
  /** Why each poisoned instruction is poisoned, by location key. */
  poison: Map<string, PoisonCause>;
  objectReasons: VerdictReason[];
  fns: Map<string, Fn[]>;
  opts: ReachOptions;
}

/**
 * Judges every program of `obj` on the kernel whose BTF is `kernel`, given the CO-RE dry run `dryRun` of
 * `obj` against that same kernel (`resolveCoreRelos(obj, kernel)`). Throws CoreError CORE_BAD_PROGRAM for code
 * the analysis cannot walk (see {@link analyzeReach}).
 */
export function judgeObject(obj: LinkedBpfObject, dryRun: CoreDryRun, kernel: CoreTarget, opts: ReachOptions = {}): ObjectVerdict {
  const ctx = makeContext(obj, dryRun, kernel, opts);
  const programs = obj.programs.map((p) => judgeWith(ctx, p));
  const fails = ctx.objectReasons.length > 0;
  let verdict: Verdict = fails ? 'fails' : 'ok';
  // A program libbpf does not load by default does not make the object break.
  for (const p of programs) if (p.loaded) verdict = worseVerdict(verdict, p.verdict);
  return {
    verdict,
    summary: summarize(verdict, ctx.objectReasons, programs),
    reasons: ctx.objectReasons,
    programs,
    externs: ctx.externs,
    checksNotMade: CHECKS_NOT_MADE,
  };
}

/** Judges one program of `obj` (see {@link judgeObject}); `program` must be one of `obj.programs`. */
export function judgeProgram(obj: LinkedBpfObject, program: BpfProgram, dryRun: CoreDryRun, kernel: CoreTarget, opts: ReachOptions = {}): ProgramVerdict {
  return judgeWith(makeContext(obj, dryRun, kernel, opts), program);
}

function makeContext(obj: LinkedBpfObject, dry: CoreDryRun, kernel: CoreTarget, opts: ReachOptions): JudgeContext {
  const fns = new Map<string, Fn[]>();
  for (const p of [...obj.programs, ...(obj.subprograms ?? [])]) {
    const list = fns.get(p.section) ?? [];
    list.push({ prog: p, start: p.offset / 8, end: p.offset / 8 + p.size });
    fns.set(p.section, list);
  }
  const ctx: JudgeContext = {
    obj,
    dry,
    kernel,
    code: { sections: new Map(), links: new Map(obj.objectLinks.links), littleEndian: obj.littleEndian },
    externs: resolveExterns(obj, kernel),
    poison: new Map(),
    objectReasons: [],
    fns,
    opts,
  };
  ctx.code.sections = patchedCode(obj, dry, (loc, r, i) => {
    ctx.poison.set(locKey(loc), {
      reason: { kind: 'relocation', section: r.section, function: r.prog, insn: i, relocation: r.idx },
      what: `relocation #${r.idx} (${r.kindName}${r.local ? ` of ${r.local.spec}` : ''}) found no target in this kernel and poisoned insn #${i} of '${r.prog}'`,
    });
  });
  applyExterns(ctx);

  if (dry.result.prepare < 0) {
    const failed = dry.relocations.filter((r) => r.status === 'error');
    for (const r of failed) {
      const words = r.messages.map((m) => m.replace(/^W: /, '')).join('; ');
      ctx.objectReasons.push({
        kind: 'relocation', verdict: 'fails', level: 'error', section: r.section, function: r.prog, insn: r.insn, relocation: r.idx,
        message: `relocation #${r.idx} (${r.kindName}${r.local ? ` of ${r.local.spec}` : ''}) failed${r.ambiguous ? ' (ambiguous)' : ''}: ${words || `error ${r.error ?? ''}`}; libbpf refuses to load the object`,
      });
    }
    if (failed.length === 0) {
      ctx.objectReasons.push({ kind: 'relocation', verdict: 'fails', level: 'error', message: `co-re relocation failed (prepare ${dry.result.prepare}); libbpf refuses to load the object` });
    }
  }
  if (dry.result.load !== undefined && dry.result.load < 0) {
    ctx.objectReasons.push({ kind: 'object', verdict: 'fails', level: 'error', message: dry.warnings.find((w) => w.includes('endian')) ?? `the object cannot be loaded (${dry.result.load})` });
  }
  for (const e of ctx.externs) {
    if (!e.fatal) continue;
    ctx.objectReasons.push({ kind: e.extern.type === 'func' ? 'kfunc' : 'ksym', verdict: 'fails', level: 'error', extern: e.extern.name, message: e.message });
  }
  return ctx;
}

/** The function (program or subprogram) holding instruction `index` of `section`. */
function fnAt(ctx: JudgeContext, section: string, index: number): Fn | undefined {
  return ctx.fns.get(section)?.find((f) => index >= f.start && index < f.end);
}

function fnNamed(ctx: JudgeContext, section: string, name: string): Fn | undefined {
  return ctx.fns.get(section)?.find((f) => f.prog.name === name);
}

/**
 * The object's instructions as libbpf would load them after the dry run: a copy of the resolver's own patched
 * sections (relo-patch.ts wrote each relocation's patches and its `call 0xbad2310` poisonings there, as libbpf's
 * `bpf_core_patch_insn` does), which the verdicts go on to link externs into. `onPoison` hears of each poisoned
 * instruction (section index) and the relocation that poisoned it; failed relocations patch nothing.
 */
export function patchedCode(obj: BpfObject, dryRun: CoreDryRun, onPoison?: (loc: CodeLoc, r: CoreReloResult, insn: number) => void): Map<string, Insn[]> {
  const sections = new Map([...dryRun.patchedSections].map(([name, insns]) => [name, insns.map((i) => ({ ...i }))]));
  const fns = [...obj.programs, ...(obj.subprograms ?? [])];
  for (const r of dryRun.relocations) {
    if (r.status === 'error' || r.poisonedInsns.length === 0) continue;
    const fn = fns.find((f) => f.section === r.section && f.name === r.prog);
    const insns = sections.get(r.section);
    if (!fn || !insns) continue;
    const start = fn.offset / 8;
    for (const i of r.poisonedInsns) if (start + i < insns.length) onPoison?.({ section: r.section, index: start + i }, r, i);
  }
  return sections;
}

/** Links extern references for this kernel: resolved kfunc calls, poisoned unresolved weak ones, ksym addresses. */
function applyExterns(ctx: JudgeContext): void {
  const byName = new Map(ctx.externs.map((e) => [e.extern.name, e]));
  for (const ref of ctx.obj.objectLinks.externRefs) {
    const e = byName.get(ref.name);
    const key = locKey(ref.loc);
    const unresolved = e !== undefined && e.extern.weak && (e.status === 'missing' || (e.status === 'incompatible' && e.extern.type === 'func'));
    if (ref.use === 'ld64') {
      // An unresolved weak ksym or kfunc: libbpf writes address 0 (what `bpf_ksym_exists` tests).
      ctx.code.links.set(key, { kind: 'value', value: unresolved ? { kind: 'const', value: 0n } : { kind: 'unknown' } });
      continue;
    }
    if (!unresolved || !e) {
      ctx.code.links.set(key, { kind: 'kfunc', name: ref.name });
      continue;
    }
    // libbpf `poison_kfunc_call`: the call becomes a call of helper 2002000000 + the extern's index.
    const insns = ctx.code.sections.get(ref.loc.section);
    if (!insns) continue;
    insns[ref.loc.index] = { code: BPF_JMP_CALL, dstReg: 0, srcReg: 0, off: 0, imm: POISON_KFUNC_BASE + e.index };
    ctx.code.links.delete(key);
    const fn = fnAt(ctx, ref.loc.section, ref.loc.index);
    const reason: Omit<VerdictReason, 'verdict' | 'level' | 'message'> = { kind: 'kfunc', section: ref.loc.section, extern: ref.name };
    if (fn) {
      reason.function = fn.prog.name;
      reason.insn = ref.loc.index - fn.start;
    }
    ctx.poison.set(key, { reason, what: `weak kfunc '${ref.name}' is ${e.status === 'missing' ? 'not in this kernel' : 'incompatible with this kernel\'s'}: libbpf poisoned its call${fn ? ` at insn #${ref.loc.index - fn.start} of '${fn.prog.name}'` : ''}` });
  }
}

/** The functions a program may run: itself and every subprogram it calls or takes the address of, transitively. */
function staticFunctions(ctx: JudgeContext, program: BpfProgram): Fn[] {
  const first = fnNamed(ctx, program.section, program.name);
  if (!first) return [];
  const seen = new Set<Fn>([first]);
  const queue = [first];
  while (queue.length > 0) {
    const fn = queue.pop() as Fn;
    const insns = ctx.code.sections.get(fn.prog.section) ?? [];
    for (let i = fn.start; i < fn.end && i < insns.length; i++) {
      const link = ctx.code.links.get(locKey({ section: fn.prog.section, index: i }));
      let target: CodeLoc | undefined;
      if (link?.kind === 'call' || link?.kind === 'func-addr') target = link.target;
      else if (!link && insns[i].code === BPF_JMP_CALL && insns[i].srcReg === 1) target = { section: fn.prog.section, index: i + insns[i].imm + 1 };
      const callee = target ? fnAt(ctx, target.section, target.index) : undefined;
      if (callee && !seen.has(callee)) {
        seen.add(callee);
        queue.push(callee);
      }
    }
  }
  return [...seen];
}

function judgeWith(ctx: JudgeContext, program: BpfProgram): ProgramVerdict {
  const loaded = program.autoload !== false;
  const reasons: VerdictReason[] = [];
  const out: ProgramVerdict = {
    program: program.name,
    section: program.section,
    attach: program.attach,
    verdict: 'ok',
    reasons,
    attachTarget: 'none',
    loaded,
    relocations: [],
    reachableInsns: 0,
  };

  let reach: ReachResult | undefined;
  if (loaded) {
    reach = analyzeReach(ctx.code, { section: program.section, index: program.offset / 8 }, ctx.opts);
    out.reachableInsns = [...reach.reachable.values()].reduce((n, l) => n + l.length, 0);
    const fns = staticFunctions(ctx, program);
    const mine = new Set(fns.map((f) => `${f.prog.section}\0${f.prog.name}`));
    for (const r of ctx.dry.relocations) {
      if (!mine.has(`${r.section}\0${r.prog}`)) continue;
      const fn = fnNamed(ctx, r.section, r.prog) as Fn;
      out.relocations.push(relocationReach(r, reach.isReachable({ section: r.section, index: fn.start + r.insn })));
    }
    // Every poisoned instruction of these functions: reached (breaks) or dropped as dead code (guarded). A
    // relocation that poisoned both halves of an LDIMM64 is one reason.
    const reached = new Set(reach.poisoned.map(locKey));
    const byCause = new Map<string, { cause: PoisonCause; key: string; hit: boolean }>();
    for (const fn of fns) {
      for (let i = fn.start; i < fn.end; i++) {
        const key = locKey({ section: fn.prog.section, index: i });
        const cause = ctx.poison.get(key);
        if (!cause) continue;
        const id = cause.reason.relocation !== undefined ? `${cause.reason.section}:relo:${cause.reason.relocation}` : key;
        const seen = byCause.get(id);
        if (!seen) byCause.set(id, { cause, key, hit: reached.has(key) });
        else if (!seen.hit && reached.has(key)) byCause.set(id, { cause, key, hit: true });
      }
    }
    for (const { cause, key, hit } of byCause.values()) {
      reasons.push(
        hit
          ? { ...cause.reason, verdict: 'breaks', level: 'error', message: `${cause.what}, and the verifier reaches it (invalid func unknown#${poisonImm(ctx, key)})` }
          : { ...cause.reason, verdict: 'guarded', level: 'info', message: `${cause.what}, on a path the patched constants rule out: the verifier drops it as dead code` },
      );
    }
    for (const loc of reach.poisoned) {
      if (ctx.poison.has(locKey(loc))) continue;
      const fn = fnAt(ctx, loc.section, loc.index);
      reasons.push({
        kind: 'relocation', verdict: 'breaks', level: 'error', section: loc.section,
        ...(fn ? { function: fn.prog.name, insn: loc.index - fn.start } : {}),
        message: `the object itself calls libbpf's poison helper at this instruction, and the verifier reaches it`,
      });
    }
  } else {
    reasons.push({
      kind: 'object', verdict: 'ok', level: 'info',
      message: `'${program.section}' starts with '?': libbpf neither relocates nor loads this program unless the loader asks for it; only its attach target is judged, and the object's verdict leaves it out`,
    });
  }

  const attach = checkAttach(program, ctx.kernel, reach?.ctxLoads ?? []);
  out.attachTarget = attach.status;
  for (const f of attach.findings) {
    reasons.push({ kind: 'attach', verdict: 'breaks', level: f.level, ...(f.insn !== undefined ? { section: program.section, function: program.name, insn: f.insn } : {}), message: f.message });
  }
  if (loaded) {
    for (const e of ctx.externs) {
      if (e.extern.type !== 'var' || e.status !== 'missing' || e.fatal) continue;
      const used = ctx.obj.objectLinks.externRefs.some((r) => r.name === e.extern.name && reach?.isReachable(r.loc));
      if (used) reasons.push({ kind: 'ksym', verdict: 'ok', level: 'info', extern: e.extern.name, message: `${e.message} (a dereference of that address is not checked)` });
    }
  }

  let verdict: Verdict = ctx.objectReasons.length > 0 ? 'fails' : 'ok';
  for (const r of reasons) verdict = worseVerdict(verdict, r.verdict);
  out.verdict = verdict;
  reasons.sort((a, b) => VERDICTS.indexOf(b.verdict) - VERDICTS.indexOf(a.verdict));
  return out;
}

function poisonImm(ctx: JudgeContext, key: string): number {
  const sep = key.lastIndexOf(':');
  const insn = ctx.code.sections.get(key.slice(0, sep))?.[Number(key.slice(sep + 1))];
  return insn ? insn.imm >>> 0 : POISON_CORE_HELPER;
}

function relocationReach(r: CoreReloResult, reachable: boolean): RelocationReach {
  return { section: r.section, prog: r.prog, idx: r.idx, insn: r.insn, kind: r.kindName, status: r.status, reachable };
}

function summarize(verdict: Verdict, objectReasons: VerdictReason[], programs: ProgramVerdict[]): string {
  if (verdict === 'fails') return objectReasons[0]?.message ?? 'the object cannot load';
  const counts = VERDICTS.map((v) => [v, programs.filter((p) => p.verdict === v).length] as const).filter(([, n]) => n > 0);
  const parts = counts.map(([v, n]) => `${n} ${v}`).join(', ');
  const worst = programs.find((p) => p.loaded && p.verdict === verdict && verdict !== 'ok');
  const why = worst?.reasons.find((r) => r.verdict === verdict)?.message;
  return `${programs.length} program(s): ${parts}${why ? `; ${worst?.program}: ${why}` : ''}`;
}

/** One reason in the snake_case JSON of `core-check --json`: its fields are already single words, so the same shape. */
export type VerdictReasonJson = VerdictReason;

/** One program in the JSON of `core-check --json` (the contract's `programs[]`, extended). */
export interface ProgramVerdictJson {
  name: string;
  section: string;
  verdict: Verdict;
  attach_target: AttachStatus;
  loaded: boolean;
  reasons: VerdictReasonJson[];
}

/** The verdict part of one `kernels[]` entry of `core-check --json`, and the `not_checked` list. */
export interface ObjectVerdictJson {
  verdict: Verdict;
  reason: string;
  reasons: VerdictReasonJson[];
  programs: ProgramVerdictJson[];
  /** `reachable` of each relocation of the dry run, keyed `section#idx` (relocations of no loaded program: absent). */
  reachable: Record<string, boolean>;
  not_checked: string[];
}

function reasonJson(r: VerdictReason): VerdictReasonJson {
  const out: VerdictReasonJson = { kind: r.kind, verdict: r.verdict, level: r.level, message: r.message };
  if (r.section !== undefined) out.section = r.section;
  if (r.function !== undefined) out.function = r.function;
  if (r.insn !== undefined) out.insn = r.insn;
  if (r.relocation !== undefined) out.relocation = r.relocation;
  if (r.extern !== undefined) out.extern = r.extern;
  return out;
}

/**
 * The verdicts as the JSON of `core-check --json` spells them (contract: `verdict`, `reason`, `programs[]` with
 * `name`, `verdict`, `attach_target`; `not_checked`). A relocation is reachable when it is in any program that
 * reaches it.
 */
export function objectVerdictJson(v: ObjectVerdict): ObjectVerdictJson {
  const reachable: Record<string, boolean> = {};
  for (const p of v.programs) {
    for (const r of p.relocations) {
      const key = `${r.section}#${r.idx}`;
      reachable[key] = (reachable[key] ?? false) || r.reachable;
    }
  }
  return {
    verdict: v.verdict,
    reason: v.summary,
    reasons: v.reasons.map(reasonJson),
    programs: v.programs.map((p) => ({
      name: p.program,
      section: p.section,
      verdict: p.verdict,
      attach_target: p.attachTarget,
      loaded: p.loaded,
      reasons: p.reasons.map(reasonJson),
    })),
    reachable,
    not_checked: v.checksNotMade.map((c) => c.id),
  };
}
