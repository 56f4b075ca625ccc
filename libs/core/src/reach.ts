/**
 * Reachability of a program's instructions once the constants the loader writes are known: a small abstract
 * interpreter in the spirit of the kernel verifier's dead-code pruning (kernel/bpf/verifier.c: a conditional
 * jump whose operands are both known constants has only one successor, and `opt_remove_dead_code` drops what no
 * path reaches). Pure: instructions in, reachable instructions out.
 *
 * The model, deliberately small:
 * - a register is a known 64-bit constant, the program's context pointer plus a known offset, the function's own
 *   frame pointer (r10) plus a known offset, or unknown;
 * - constants come from `MOV` with an immediate, from LDIMM64 without relocation (`src_reg` 0; the CO-RE
 *   resolver's patches included) and from the ALU operations of the eBPF instruction set on known constants
 *   (ADD, SUB, MUL, DIV/SDIV, MOD/SMOD, OR, AND, XOR, LSH, RSH, ARSH, NEG, MOV/MOVSX, END/BSWAP); 32-bit
 *   operations work on the low halves and zero-extend their result (Documentation/bpf/standardization/
 *   instruction-set.rst). A shift by the operand's width or more gives unknown, as the verifier marks it;
 * - 8-byte spills of a tracked value to the function's own stack (`*(u64 *)(r10 - 8) = r1`) and fills from
 *   the same slot keep the value; any call, or a store through a pointer that is not r10-based, forgets every
 *   slot (a helper or another pointer may write there);
 * - a conditional jump (JEQ, JNE, JGT, JGE, JLT, JLE, JSGT, JSGE, JSLT, JSLE, JSET; 64-bit `JMP` and 32-bit
 *   `JMP32`; against an immediate or a register) follows only its taken or only its fall-through edge when both
 *   operands are known; otherwise both. On the edge where `JEQ`/`JNE` proves a 64-bit register equal to a
 *   constant, the register becomes that constant (the verifier does the same);
 * - loads (except stack fills), helper and kfunc calls make their results unknown (calls clobber r0–r5);
 * - BPF-to-BPF calls (`call` with `src_reg` BPF_PSEUDO_CALL) analyse the callee with the join of its call
 *   sites' r1–r5 (one state per instruction, not per call stack: an over-approximation of what is reachable,
 *   which is the safe side for a verdict); a subprogram whose address an LDIMM64 takes (a callback of
 *   `bpf_loop`, `bpf_for_each_map_elem`, …) is analysed with unknown arguments once that load is reachable;
 * - a worklist over instructions, each with the join of every state reaching it (a register stays a constant
 *   only when it is the same constant on every incoming path). States only lose information, so each
 *   instruction is revisited a bounded number of times; {@link ReachOptions.maxVisitsPerInsn} caps it anyway
 *   (past the cap the instruction's state is widened to "everything unknown").
 *
 * Instructions are addressed by section and index within the section ({@link CodeLoc}) because a program's
 * subprograms live in `.text`, another section. How calls and 64-bit loads that carry an ELF relocation are
 * linked is the caller's to say ({@link InsnLink}, made by reach-links.ts); the interpreter knows nothing of
 * ELF.
 */
import {
  BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_EXIT, BPF_JA, BPF_JMP, BPF_JMP32, BPF_LD, BPF_LDX, BPF_MEM, BPF_MEMSX, BPF_ST, BPF_STX,
  BPF_X, LDIMM64, sizeToBytes,
} from './bpf-insn.js';
import { CoreError, CoreErrorCode } from './errors.js';
import { POISON_HELPER_ID } from './relo-patch.js';
import type { Insn } from './types.js';

/** An instruction of the object: its executable section and its index (8-byte slot) in that section. */
export interface CodeLoc {
  section: string;
  index: number;
}

/** What the interpreter knows about a register or a stack slot. */
export type AbsValue =
  | { kind: 'unknown' }
  /** A known value, as an unsigned 64-bit integer. */
  | { kind: 'const'; value: bigint }
  /** The program's context pointer (r1 at entry) plus `off` bytes. */
  | { kind: 'ctx'; off: number }
  /** The current function's frame pointer (r10) plus `off` bytes. */
  | { kind: 'fp'; off: number };

/**
 * How the loader links an instruction that carries an ELF relocation (libbpf `bpf_program__record_reloc`):
 * - `call`: a BPF-to-BPF call to the subprogram starting at `target`;
 * - `func-addr`: an LDIMM64 of a subprogram's address (a callback), made BPF_PSEUDO_FUNC by libbpf;
 * - `kfunc`: a call to an extern kernel function (made BPF_PSEUDO_KFUNC_CALL by libbpf);
 * - `value`: an LDIMM64 whose value the loader fills in (a map, a global variable, a ksym): what it is known to be.
 */
export type InsnLink =
  | { kind: 'call'; target: CodeLoc }
  | { kind: 'func-addr'; target: CodeLoc }
  | { kind: 'kfunc'; name: string }
  | { kind: 'value'; value: AbsValue };

/** The code one analysis runs over. */
export interface ReachCode {
  /** Instructions of every executable section, after the loader's patches (CO-RE, poisoning). */
  sections: ReadonlyMap<string, readonly Insn[]>;
  /** Links of relocated instructions, keyed by {@link locKey}. An LDIMM64 without a link loads its immediate. */
  links?: ReadonlyMap<string, InsnLink>;
  /** Byte order of the code (default little-endian): what `to_le`/`to_be` conversions do depends on it. */
  littleEndian?: boolean;
}

/** Limits of {@link analyzeReach}. */
export interface ReachOptions {
  /**
   * Times one instruction may be interpreted before its state is widened to "everything unknown" (default 64).
   * The lattice already bounds revisits (each one loses information about a register or a slot); this is a
   * second guarantee against pathological inputs.
   */
  maxVisitsPerInsn?: number;
}

/** A reachable load from the program's context: `off` bytes from its start, `size` bytes wide. */
export interface CtxLoad {
  loc: CodeLoc;
  off: number;
  size: number;
}

/** What {@link analyzeReach} found. */
export interface ReachResult {
  /** True when some path from the entry reaches the instruction. */
  isReachable(loc: CodeLoc): boolean;
  /** Every reachable instruction, by section, in index order. */
  reachable: Map<string, number[]>;
  /**
   * Reachable calls of libbpf's poison helpers (`call 0xbad2310` of a failed CO-RE relocation; `call
   * 2002000000 + n` of an unresolved weak kfunc), in section and index order: the verifier rejects each one.
   */
  poisoned: CodeLoc[];
  /** Reachable loads from the context pointer (r1 at the program's entry), in section and index order. */
  ctxLoads: CtxLoad[];
  /** Entry points analysed: the program, then every subprogram and callback reached, in discovery order. */
  functions: CodeLoc[];
  /** Instructions interpreted (with revisits). */
  steps: number;
}

/** `${section}:${index}`: the key of {@link ReachCode.links}. */
export function locKey(loc: CodeLoc): string {
  return `${loc.section}:${loc.index}`;
}

/** libbpf's helper id of a poisoned CO-RE instruction (relo_core.c `bpf_core_poison_insn`). */
export const POISON_CORE_HELPER = POISON_HELPER_ID;
/**
 * libbpf's first helper id of a poisoned call to an unresolved weak kfunc (libbpf.c `POISON_CALL_KFUNC_BASE`):
 * the call becomes `call 2002000000 + extern index`.
 */
export const POISON_KFUNC_BASE = 2002000000;
/** How many extern indexes above {@link POISON_KFUNC_BASE} count as poisoned kfunc calls. */
const POISON_KFUNC_SPAN = 1 << 16;

/** True for a helper call libbpf wrote to make the verifier reject a path (see {@link ReachResult.poisoned}). */
export function isPoisonCall(insn: Insn): boolean {
  if (insn.code !== (BPF_JMP | BPF_CALL) || insn.srcReg !== 0) return false;
  const imm = insn.imm >>> 0;
  return imm === POISON_CORE_HELPER || (imm >= POISON_KFUNC_BASE && imm < POISON_KFUNC_BASE + POISON_KFUNC_SPAN);
}

/* Instruction encoding beyond bpf-insn.ts (include/uapi/linux/bpf.h). */
/** `may_goto` (BPF_JMP | BPF_JCOND): the verifier explores both edges. */
const BPF_JCOND = 0xe0;
const BPF_PSEUDO_CALL = 1;
const BPF_FETCH = 0x01;
const BPF_XCHG = 0xe0 | BPF_FETCH;
const BPF_CMPXCHG = 0xf0 | BPF_FETCH;
/** The verifier's stack: 512 bytes below r10. */
const MAX_BPF_STACK = 512;

const MASK64 = (1n << 64n) - 1n;
const MASK32 = (1n << 32n) - 1n;
const UNKNOWN: AbsValue = Object.freeze({ kind: 'unknown' }) as AbsValue;

const konst = (value: bigint): AbsValue => ({ kind: 'const', value: value & MASK64 });

/** The abstract machine state at one instruction: r0–r10 and the tracked 8-byte stack slots (by r10 offset). */
interface State {
  regs: AbsValue[];
  stack: Map<number, AbsValue>;
}

function sameValue(a: AbsValue, b: AbsValue): boolean {
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'unknown':
      return true;
    case 'const':
      return a.value === (b as { value: bigint }).value;
    default:
      return a.off === (b as { off: number }).off;
  }
}

function joinValue(a: AbsValue, b: AbsValue): AbsValue {
  return sameValue(a, b) ? a : UNKNOWN;
}

function copyState(s: State): State {
  return { regs: s.regs.slice(), stack: new Map(s.stack) };
}

/** The join of `into` and `from` in place; true when `into` changed. */
function joinInto(into: State, from: State): boolean {
  let changed = false;
  for (let r = 0; r < into.regs.length; r++) {
    const j = joinValue(into.regs[r], from.regs[r]);
    if (j !== into.regs[r]) {
      into.regs[r] = j;
      changed = true;
    }
  }
  for (const [off, v] of into.stack) {
    const other = from.stack.get(off);
    if (!other || !sameValue(v, other)) {
      into.stack.delete(off);
      changed = true;
    }
  }
  return changed;
}

function topState(entryR1: AbsValue): State {
  const regs = new Array<AbsValue>(11).fill(UNKNOWN);
  regs[1] = entryR1;
  regs[10] = { kind: 'fp', off: 0 };
  return { regs, stack: new Map() };
}

/** A signed 32-bit immediate as the u64 a 64-bit operation uses (sign-extended). */
function imm64(imm: number): bigint {
  return BigInt.asUintN(64, BigInt(imm | 0));
}

/** A signed 32-bit immediate as the u32 a 32-bit operation uses. */
function imm32(imm: number): bigint {
  return BigInt(imm >>> 0);
}

function bswap(v: bigint, bits: number): bigint {
  let out = 0n;
  for (let i = 0; i < bits / 8; i++) out = (out << 8n) | ((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

/**
 * One ALU operation on known operands (`a` dst, `b` src, both already cut to the operation's width and
 * unsigned), or undefined when the result is unknown. `off` selects SDIV/SMOD (1) and MOVSX (8, 16, 32).
 */
export function evalAlu(op: number, a: bigint, b: bigint, is64: boolean, off: number): bigint | undefined {
  const bits = is64 ? 64 : 32;
  const mask = is64 ? MASK64 : MASK32;
  const signed = (v: bigint): bigint => BigInt.asIntN(bits, v);
  let r: bigint;
  switch (op) {
    case 0x00: r = a + b; break; // ADD
    case 0x10: r = a - b; break; // SUB
    case 0x20: r = a * b; break; // MUL
    case 0x30: // DIV, SDIV (off 1): division by zero gives 0
      if (b === 0n) r = 0n;
      else if (off === 1) r = signed(a) === -(1n << BigInt(bits - 1)) && signed(b) === -1n ? a : signed(a) / signed(b);
      else r = a / b;
      break;
    case 0x40: r = a | b; break; // OR
    case 0x50: r = a & b; break; // AND
    case 0x60: // LSH
      if (b >= BigInt(bits)) return undefined;
      r = a << b;
      break;
    case 0x70: // RSH
      if (b >= BigInt(bits)) return undefined;
      r = a >> b;
      break;
    case 0x80: r = -a; break; // NEG
    case 0x90: // MOD, SMOD (off 1): modulo zero leaves dst unchanged (the 32-bit form zero-extends it)
      if (b === 0n) r = a;
      else if (off === 1) r = signed(b) === -1n ? 0n : signed(a) % signed(b);
      else r = a % b;
      break;
    case 0xa0: r = a ^ b; break; // XOR
    case 0xb0: // MOV, MOVSX (off 8/16/32: sign-extend the low `off` bits of src)
      r = off === 0 ? b : BigInt.asIntN(off, b);
      break;
    case 0xc0: // ARSH
      if (b >= BigInt(bits)) return undefined;
      r = signed(a) >> b;
      break;
    default:
      return undefined;
  }
  return BigInt.asUintN(64, r) & mask;
}

/** A conditional jump's decision on known operands (already cut to the jump's width, unsigned). */
export function evalCond(op: number, a: bigint, b: bigint, is64: boolean): boolean | undefined {
  const bits = is64 ? 64 : 32;
  const sa = BigInt.asIntN(bits, a);
  const sb = BigInt.asIntN(bits, b);
  switch (op) {
    case 0x10: return a === b; // JEQ
    case 0x20: return a > b; // JGT
    case 0x30: return a >= b; // JGE
    case 0x40: return (a & b) !== 0n; // JSET
    case 0x50: return a !== b; // JNE
    case 0x60: return sa > sb; // JSGT
    case 0x70: return sa >= sb; // JSGE
    case 0xa0: return a < b; // JLT
    case 0xb0: return a <= b; // JLE
    case 0xc0: return sa < sb; // JSLT
    case 0xd0: return sa <= sb; // JSLE
    default: return undefined;
  }
}

const COND_OPS = new Set([0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0]);
const ALU_OPS = new Set([0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0]);

/**
 * Analyses what is reachable from `entry` (a program's first instruction). r1 at the entry is the context
 * pointer. Throws CoreError CORE_BAD_PROGRAM, naming the section and instruction, for code the verifier
 * would refuse to even walk: a jump or call outside its section or into the middle of an LDIMM64, a
 * truncated LDIMM64, an unknown opcode or register, falling off the end of the section.
 */
export function analyzeReach(code: ReachCode, entry: CodeLoc, opts: ReachOptions = {}): ReachResult {
  const maxVisits = Math.min(Math.max(1, opts.maxVisitsPerInsn ?? 64), 60000);
  const littleEndian = code.littleEndian ?? true;
  const links = code.links ?? new Map<string, InsnLink>();
  const sectionOf = (name: string): readonly Insn[] => {
    const insns = code.sections.get(name);
    if (!insns) throw new CoreError(CoreErrorCode.BadProgram, `no executable section '${name}' to analyse`, { section: name });
    return insns;
  };

  const states = new Map<string, State[]>();
  const visits = new Map<string, Uint16Array>();
  const poisoned = new Map<string, CodeLoc>();
  const ctxLoads = new Map<string, CtxLoad>();
  const functions: CodeLoc[] = [];
  const functionKeys = new Set<string>();
  const work: CodeLoc[] = [];
  let steps = 0;

  const bad = (loc: CodeLoc, what: string): CoreError =>
    new CoreError(CoreErrorCode.BadProgram, `insn #${loc.index}: ${what}`, { section: loc.section, offset: loc.index * 8 });

  /** Joins `s` into the state of `loc` and queues it when that changed. */
  const flow = (from: CodeLoc, loc: CodeLoc, s: State): void => {
    const insns = sectionOf(loc.section);
    if (loc.index < 0 || loc.index >= insns.length) {
      throw bad(from, `jumps to insn #${loc.index}, outside its section (${insns.length} insns)`);
    }
    if (isSecondHalf(insns, loc.index)) {
      throw bad(from, `jumps into the middle of the ldimm64 at insn #${loc.index - 1}`);
    }
    let perSection = states.get(loc.section);
    if (!perSection) {
      perSection = new Array<State>(insns.length);
      states.set(loc.section, perSection);
      visits.set(loc.section, new Uint16Array(insns.length));
    }
    const cur = perSection[loc.index];
    if (cur === undefined) {
      perSection[loc.index] = copyState(s);
      work.push(loc);
    } else if (joinInto(cur, s)) {
      work.push(loc);
    }
  };

  const enterFunction = (from: CodeLoc, target: CodeLoc, args: AbsValue[]): void => {
    const s = topState(UNKNOWN);
    for (let r = 1; r <= 5; r++) s.regs[r] = args[r].kind === 'fp' ? UNKNOWN : args[r]; // another frame's stack
    const key = locKey(target);
    if (!functionKeys.has(key)) {
      functionKeys.add(key);
      functions.push(target);
    }
    flow(from, target, s);
  };

  functionKeys.add(locKey(entry));
  functions.push(entry);
  flow(entry, entry, topState({ kind: 'ctx', off: 0 }));

  while (work.length > 0) {
    const loc = work.pop() as CodeLoc;
    const insns = sectionOf(loc.section);
    const perSection = states.get(loc.section) as State[];
    const count = visits.get(loc.section) as Uint16Array;
    count[loc.index]++;
    steps++;
    if (count[loc.index] > maxVisits) {
      // Widen: forget everything here. Joining can no longer change this state.
      const st = perSection[loc.index];
      st.regs = topState(UNKNOWN).regs;
      st.stack.clear();
    }
    const s = copyState(perSection[loc.index]);
    const insn = insns[loc.index];
    const cls = insn.code & 0x07;
    const next = (n = 1): CodeLoc => ({ section: loc.section, index: loc.index + n });
    if (insn.dstReg > 10 || insn.srcReg > 10) throw bad(loc, `register out of range (dst r${insn.dstReg}, src r${insn.srcReg})`);

    switch (cls) {
      case BPF_ALU:
      case BPF_ALU64:
        stepAlu(s, insn, cls === BPF_ALU64, littleEndian, (what) => bad(loc, what));
        flow(loc, next(), s);
        break;

      case BPF_LD: {
        if (insn.code !== LDIMM64) {
          // Legacy packet loads (LD_ABS/LD_IND): the result lands in r0, r1–r5 are clobbered.
          for (let r = 0; r <= 5; r++) s.regs[r] = UNKNOWN;
          flow(loc, next(), s);
          break;
        }
        if (!isSecondHalf(insns, loc.index + 1)) throw bad(loc, 'ldimm64 is missing its second half');
        const link = links.get(locKey(loc));
        let v: AbsValue = UNKNOWN;
        if (link?.kind === 'value') v = link.value;
        else if (link?.kind === 'func-addr') enterFunction(loc, link.target, new Array<AbsValue>(11).fill(UNKNOWN));
        else if (!link && insn.srcReg === 0) v = konst(BigInt(insn.imm >>> 0) | (BigInt(insns[loc.index + 1].imm >>> 0) << 32n));
        setReg(s, insn.dstReg, v);
        flow(loc, next(2), s);
        break;
      }

      case BPF_LDX: {
        const mode = insn.code & 0xe0;
        const base = s.regs[insn.srcReg];
        let v: AbsValue = UNKNOWN;
        const size = sizeToBytes(insn.code);
        if (base.kind === 'fp' && mode === BPF_MEM && size === 8) v = s.stack.get(base.off + insn.off) ?? UNKNOWN;
        else if (base.kind === 'ctx' && (mode === BPF_MEM || mode === BPF_MEMSX)) {
          const off = base.off + insn.off;
          ctxLoads.set(locKey(loc), { loc, off, size });
        }
        setReg(s, insn.dstReg, v);
        flow(loc, next(), s);
        break;
      }

      case BPF_ST:
      case BPF_STX: {
        const base = s.regs[insn.dstReg];
        const mode = insn.code & 0xe0;
        const size = sizeToBytes(insn.code);
        if (base.kind !== 'fp') {
          s.stack.clear();
        } else {
          const off = base.off + insn.off;
          for (const slot of [...s.stack.keys()]) if (slot < off + size && off < slot + 8) s.stack.delete(slot);
          if (mode === BPF_MEM && size === 8 && off % 8 === 0 && off < 0 && off >= -MAX_BPF_STACK) {
            const v = cls === BPF_ST ? konst(imm64(insn.imm)) : s.regs[insn.srcReg];
            if (v.kind !== 'unknown') s.stack.set(off, v);
          }
        }
        if (cls === BPF_STX && mode === BPF_ATOMIC) {
          if (insn.imm === BPF_CMPXCHG) s.regs[0] = UNKNOWN;
          else if (insn.imm === BPF_XCHG || (insn.imm & BPF_FETCH) !== 0) setReg(s, insn.srcReg, UNKNOWN);
        }
        flow(loc, next(), s);
        break;
      }

      case BPF_JMP:
      case BPF_JMP32: {
        const op = insn.code & 0xf0;
        const is64 = cls === BPF_JMP;
        if (op === BPF_EXIT && is64) break;
        if (op === BPF_CALL && is64) {
          stepCall(loc, insn, s);
          break;
        }
        if (op === BPF_JA) {
          flow(loc, next(1 + (is64 ? insn.off : insn.imm)), s);
          break;
        }
        if (op === BPF_JCOND && is64) {
          flow(loc, next(), s);
          flow(loc, next(1 + insn.off), s);
          break;
        }
        if (!COND_OPS.has(op)) throw bad(loc, `unknown jump opcode 0x${insn.code.toString(16)}`);
        stepCond(loc, insn, s, is64, op, next);
        break;
      }

      default:
        throw bad(loc, `unknown instruction class ${cls}`);
    }
  }

  /** A call: poison check, subprogram entry, clobbering. */
  function stepCall(loc: CodeLoc, insn: Insn, s: State): void {
    const link = links.get(locKey(loc));
    if (isPoisonCall(insn)) poisoned.set(locKey(loc), loc);
    if (link?.kind === 'call') enterFunction(loc, link.target, s.regs);
    else if (!link && insn.srcReg === BPF_PSEUDO_CALL) enterFunction(loc, { section: loc.section, index: loc.index + insn.imm + 1 }, s.regs);
    for (let r = 0; r <= 5; r++) s.regs[r] = UNKNOWN;
    s.stack.clear();
    flow(loc, { section: loc.section, index: loc.index + 1 }, s);
  }

  function stepCond(loc: CodeLoc, insn: Insn, s: State, is64: boolean, op: number, next: (n?: number) => CodeLoc): void {
    const taken = next(1 + insn.off);
    const dst = s.regs[insn.dstReg];
    const useReg = (insn.code & BPF_X) !== 0;
    const src: AbsValue = useReg ? s.regs[insn.srcReg] : konst(is64 ? imm64(insn.imm) : imm32(insn.imm));
    if (dst.kind === 'const' && src.kind === 'const') {
      const mask = is64 ? MASK64 : MASK32;
      const decided = evalCond(op, dst.value & mask, src.value & mask, is64);
      flow(loc, decided ? taken : next(), s);
      return;
    }
    // Undecided: both edges; JEQ/JNE pin an unknown 64-bit register to the constant on the "equal" edge.
    const equalEdge = op === 0x10 ? 'taken' : op === 0x50 ? 'fall' : undefined;
    const pinned = (edge: 'taken' | 'fall'): State => {
      if (!is64 || equalEdge !== edge) return s;
      const out = copyState(s);
      if (dst.kind === 'unknown' && src.kind === 'const') setReg(out, insn.dstReg, src);
      else if (useReg && src.kind === 'unknown' && dst.kind === 'const') setReg(out, insn.srcReg, dst);
      return out;
    };
    flow(loc, next(), pinned('fall'));
    flow(loc, taken, pinned('taken'));
  }

  const reachable = new Map<string, number[]>();
  for (const [name, perSection] of states) {
    const list: number[] = [];
    perSection.forEach((st, i) => {
      if (st !== undefined) list.push(i);
    });
    reachable.set(name, list);
  }
  const byLoc = (a: CodeLoc, b: CodeLoc): number => (a.section < b.section ? -1 : a.section > b.section ? 1 : a.index - b.index);
  return {
    isReachable: (loc) => states.get(loc.section)?.[loc.index] !== undefined,
    reachable,
    poisoned: [...poisoned.values()].sort(byLoc),
    ctxLoads: [...ctxLoads.values()].sort((a, b) => byLoc(a.loc, b.loc)),
    functions,
    steps,
  };
}

/** Per section: which slots are the second half of an LDIMM64 (pairs are counted from the section's start). */
const secondHalves = new WeakMap<readonly Insn[], Uint8Array>();

/** True when slot `i` is the second half of an LDIMM64. */
function isSecondHalf(insns: readonly Insn[], i: number): boolean {
  let marks = secondHalves.get(insns);
  if (!marks) {
    marks = new Uint8Array(insns.length);
    for (let j = 0; j < insns.length; j++) {
      if (insns[j].code === LDIMM64 && j + 1 < insns.length && insns[j + 1].code === 0) marks[++j] = 1;
    }
    secondHalves.set(insns, marks);
  }
  return i >= 0 && i < marks.length && marks[i] === 1;
}

function setReg(s: State, reg: number, v: AbsValue): void {
  if (reg === 10) return; // r10 is read-only (the verifier refuses writes to it)
  s.regs[reg] = v;
}

/** One ALU/ALU64 instruction. */
function stepAlu(s: State, insn: Insn, is64: boolean, littleEndian: boolean, bad: (what: string) => Error): void {
  const op = insn.code & 0xf0;
  if (!ALU_OPS.has(op)) throw bad(`unknown alu opcode 0x${insn.code.toString(16)}`);
  // The offset field selects variants (the verifier refuses other values): SDIV/SMOD 1, MOVSX 8/16/32.
  if ((op === 0x30 || op === 0x90) && insn.off !== 0 && insn.off !== 1) throw bad(`invalid offset ${insn.off} of a div/mod`);
  if (op === 0xb0 && insn.off !== 0 && ((insn.code & BPF_X) === 0 || (insn.off !== 8 && insn.off !== 16 && insn.off !== 32))) {
    throw bad(`invalid offset ${insn.off} of a mov`);
  }
  const dst = s.regs[insn.dstReg];
  const useReg = (insn.code & BPF_X) !== 0;
  const src: AbsValue = useReg ? s.regs[insn.srcReg] : konst(is64 ? imm64(insn.imm) : imm32(insn.imm));
  const mask = is64 ? MASK64 : MASK32;

  if (op === 0xd0) {
    // END: ALU to_le (BPF_K) / to_be (BPF_X) convert from the CPU's byte order, so they swap only when the
    // order differs from the CPU's (a no-op conversion still truncates to `imm` bits); ALU64 is BSWAP, which
    // always swaps. `imm` is the width: 16, 32 or 64.
    const bits = insn.imm;
    if (dst.kind !== 'const' || (bits !== 16 && bits !== 32 && bits !== 64)) {
      setReg(s, insn.dstReg, UNKNOWN);
      return;
    }
    const low = dst.value & ((1n << BigInt(bits)) - 1n);
    const toBigEndian = useReg;
    const swap = is64 || toBigEndian === littleEndian;
    setReg(s, insn.dstReg, konst(swap ? bswap(low, bits) : low));
    return;
  }
  if (op === 0xb0) {
    // MOV/MOVSX: pointers survive a plain 64-bit register move.
    if (useReg && is64 && insn.off === 0) {
      setReg(s, insn.dstReg, src);
      return;
    }
    if (src.kind !== 'const') {
      setReg(s, insn.dstReg, UNKNOWN);
      return;
    }
    const v = evalAlu(op, 0n, is64 || insn.off === 0 ? src.value & mask : src.value, is64, insn.off);
    setReg(s, insn.dstReg, v === undefined ? UNKNOWN : konst(is64 ? v : v & MASK32));
    return;
  }
  if (op === 0x80) {
    setReg(s, insn.dstReg, dst.kind === 'const' ? konst((evalAlu(op, dst.value & mask, 0n, is64, 0) as bigint)) : UNKNOWN);
    return;
  }
  if ((dst.kind === 'ctx' || dst.kind === 'fp') && is64 && (op === 0x00 || op === 0x10) && src.kind === 'const') {
    const delta = Number(BigInt.asIntN(64, src.value));
    const off = op === 0x00 ? dst.off + delta : dst.off - delta;
    setReg(s, insn.dstReg, Number.isSafeInteger(off) && Math.abs(off) < 1 << 30 ? { ...dst, off } : UNKNOWN);
    return;
  }
  if (dst.kind !== 'const' || src.kind !== 'const') {
    setReg(s, insn.dstReg, UNKNOWN);
    return;
  }
  const v = evalAlu(op, dst.value & mask, src.value & mask, is64, insn.off);
  setReg(s, insn.dstReg, v === undefined ? UNKNOWN : konst(v));
}
