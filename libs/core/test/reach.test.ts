/**
 * The reachability interpreter on hand-written instruction arrays. Most cases ask one question through the
 * analysis itself: "after these instructions, is register R the constant V?" — the probe compares R with V
 * (loaded into r9) and puts a poisoned call on the "not equal" path, so the poisoned call is unreachable exactly
 * when the interpreter knows R == V. Every probe is also run with a wrong value, which must reach the poison.
 */
import { describe, expect, it } from 'vitest';
import { analyzeReach, CoreError, CoreErrorCode, isPoisonCall, locKey, POISON_KFUNC_BASE, type Insn, type InsnLink, type ReachResult } from '../src/index.js';
import { mulberry32 } from './support.js';

const I = (code: number, dstReg = 0, srcReg = 0, off = 0, imm = 0): Insn => ({ code, dstReg, srcReg, off, imm });
const ALU64 = 0x07;
const ALU32 = 0x04;
const JMP = 0x05;
const JMP32 = 0x06;
const X = 0x08;
const op = { ADD: 0x00, SUB: 0x10, MUL: 0x20, DIV: 0x30, OR: 0x40, AND: 0x50, LSH: 0x60, RSH: 0x70, NEG: 0x80, MOD: 0x90, XOR: 0xa0, MOV: 0xb0, ARSH: 0xc0, END: 0xd0 } as const;
const jop = { JA: 0x00, JEQ: 0x10, JGT: 0x20, JGE: 0x30, JSET: 0x40, JNE: 0x50, JSGT: 0x60, JSGE: 0x70, JLT: 0xa0, JLE: 0xb0, JSLT: 0xc0, JSLE: 0xd0 } as const;

const aluK = (cls: number, o: number, dst: number, imm: number, off = 0): Insn => I(cls | o, dst, 0, off, imm);
const aluX = (cls: number, o: number, dst: number, src: number, off = 0): Insn => I(cls | X | o, dst, src, off, 0);
const jmpK = (cls: number, o: number, dst: number, imm: number, off: number): Insn => I(cls | o, dst, 0, off, imm);
const jmpX = (cls: number, o: number, dst: number, src: number, off: number): Insn => I(cls | X | o, dst, src, off, 0);
const ld64 = (dst: number, v: bigint): Insn[] => {
  const u = BigInt.asUintN(64, v);
  return [I(0x18, dst, 0, 0, Number(BigInt.asIntN(32, u & 0xffffffffn))), I(0, 0, 0, 0, Number(BigInt.asIntN(32, u >> 32n)))];
};
const call = (imm: number, src = 0): Insn => I(0x85, 0, src, 0, imm);
const POISON = call(0xbad2310);
const EXIT = I(0x95);

function run(insns: Insn[], links?: Map<string, InsnLink>, extra?: Map<string, Insn[]>): ReachResult {
  const sections = new Map<string, Insn[]>([['prog', insns], ...(extra ?? [])]);
  return analyzeReach({ sections, links }, { section: 'prog', index: 0 });
}

/** True when the interpreter proves register `reg` equal to `v` after `setup`. */
function proves(setup: Insn[], reg: number, v: bigint): boolean {
  const r = run([...setup, ...ld64(9, v), jmpX(JMP, jop.JEQ, reg, 9, 1), POISON, EXIT]);
  return r.poisoned.length === 0;
}

function expectValue(setup: Insn[], reg: number, v: bigint): void {
  expect(proves(setup, reg, v), `r${reg} == ${v}`).toBe(true);
  expect(proves(setup, reg, v + 1n), `r${reg} != ${v + 1n}`).toBe(false);
}

const M64 = (1n << 64n) - 1n;
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);

describe('64-bit ALU on constants', () => {
  const cases: [string, Insn[], bigint][] = [
    ['ADD imm', [aluK(ALU64, op.MOV, 1, 40), aluK(ALU64, op.ADD, 1, 2)], 42n],
    ['ADD reg wraps', [...ld64(1, M64), aluK(ALU64, op.MOV, 2, 2), aluX(ALU64, op.ADD, 1, 2)], 1n],
    ['SUB below zero', [aluK(ALU64, op.MOV, 1, 1), aluK(ALU64, op.SUB, 1, 3)], u64(-2n)],
    ['MUL wraps', [...ld64(1, 1n << 63n), aluK(ALU64, op.MUL, 1, 2)], 0n],
    ['DIV', [aluK(ALU64, op.MOV, 1, 100), aluK(ALU64, op.DIV, 1, 7)], 14n],
    ['DIV by zero is 0', [aluK(ALU64, op.MOV, 1, 100), aluK(ALU64, op.MOV, 2, 0), aluX(ALU64, op.DIV, 1, 2)], 0n],
    ['SDIV', [aluK(ALU64, op.MOV, 1, -100), aluK(ALU64, op.DIV, 1, 7, 1)], u64(-14n)],
    ['SDIV INT_MIN / -1', [...ld64(1, 1n << 63n), aluK(ALU64, op.DIV, 1, -1, 1)], 1n << 63n],
    ['MOD', [aluK(ALU64, op.MOV, 1, 100), aluK(ALU64, op.MOD, 1, 7)], 2n],
    ['MOD by zero keeps dst', [aluK(ALU64, op.MOV, 1, 100), aluK(ALU64, op.MOV, 2, 0), aluX(ALU64, op.MOD, 1, 2)], 100n],
    ['SMOD takes the dividend sign', [aluK(ALU64, op.MOV, 1, -100), aluK(ALU64, op.MOD, 1, 7, 1)], u64(-2n)],
    ['OR', [aluK(ALU64, op.MOV, 1, 0x50), aluK(ALU64, op.OR, 1, 0x0a)], 0x5an],
    ['AND', [aluK(ALU64, op.MOV, 1, 0xff), aluK(ALU64, op.AND, 1, 0x0f)], 0x0fn],
    ['XOR', [aluK(ALU64, op.MOV, 1, 0xff), aluK(ALU64, op.XOR, 1, 0x0f)], 0xf0n],
    ['LSH', [aluK(ALU64, op.MOV, 1, 1), aluK(ALU64, op.LSH, 1, 63)], 1n << 63n],
    ['RSH is logical', [...ld64(1, 1n << 63n), aluK(ALU64, op.RSH, 1, 62)], 2n],
    ['ARSH is arithmetic', [...ld64(1, 1n << 63n), aluK(ALU64, op.ARSH, 1, 62)], u64(-2n)],
    ['NEG', [aluK(ALU64, op.MOV, 1, 5), aluK(ALU64, op.NEG, 1, 0)], u64(-5n)],
    ['MOV imm sign-extends', [aluK(ALU64, op.MOV, 1, -1)], M64],
    ['MOV reg', [aluK(ALU64, op.MOV, 2, 7), aluX(ALU64, op.MOV, 1, 2)], 7n],
    ['MOVSX 8', [aluK(ALU64, op.MOV, 2, 0x80), aluX(ALU64, op.MOV, 1, 2, 8)], u64(-128n)],
    ['MOVSX 16', [aluK(ALU64, op.MOV, 2, 0x7fff), aluX(ALU64, op.MOV, 1, 2, 16)], 0x7fffn],
    ['MOVSX 32', [aluK(ALU64, op.MOV, 2, 0x80000000 | 0), aluX(ALU64, op.MOV, 1, 2, 32)], u64(-(1n << 31n))],
    ['BSWAP 16', [aluK(ALU64, op.MOV, 1, 0x11223344), aluK(ALU64, op.END, 1, 16)], 0x4433n],
    ['BSWAP 32', [aluK(ALU64, op.MOV, 1, 0x11223344), aluK(ALU64, op.END, 1, 32)], 0x44332211n],
    ['BSWAP 64', [...ld64(1, 0x0102030405060708n), aluK(ALU64, op.END, 1, 64)], 0x0807060504030201n],
    ['to_le 16 on little-endian truncates', [aluK(ALU64, op.MOV, 1, 0x11223344), aluK(ALU32, op.END, 1, 16)], 0x3344n],
    ['to_be 32 on little-endian swaps', [aluK(ALU64, op.MOV, 1, 0x11223344), I(ALU32 | X | op.END, 1, 0, 0, 32)], 0x44332211n],
  ];
  it.each(cases)('%s', (_name, setup, v) => expectValue(setup, 1, v));
});

describe('32-bit ALU: low halves, zero-extended results', () => {
  const cases: [string, Insn[], bigint][] = [
    ['ADD wraps at 32 bits', [aluK(ALU32, op.MOV, 1, -1), aluK(ALU32, op.ADD, 1, 1)], 0n],
    ['SUB gives a zero-extended result', [aluK(ALU32, op.MOV, 1, 0), aluK(ALU32, op.SUB, 1, 1)], 0xffffffffn],
    ['MOV imm does not sign-extend', [aluK(ALU32, op.MOV, 1, -1)], 0xffffffffn],
    ['MOV reg drops the high half', [...ld64(2, 0x1234567800000009n), aluX(ALU32, op.MOV, 1, 2)], 9n],
    ['MUL', [aluK(ALU32, op.MOV, 1, 0x10000), aluK(ALU32, op.MUL, 1, 0x10000)], 0n],
    ['DIV', [aluK(ALU32, op.MOV, 1, -1), aluK(ALU32, op.DIV, 1, 2)], 0x7fffffffn],
    ['SDIV', [aluK(ALU32, op.MOV, 1, -9), aluK(ALU32, op.DIV, 1, 2, 1)], 0xfffffffcn],
    ['MOD by zero zero-extends dst', [...ld64(1, 0xffffffff00000005n), aluK(ALU32, op.MOV, 2, 0), aluX(ALU32, op.MOD, 1, 2)], 5n],
    ['SMOD', [aluK(ALU32, op.MOV, 1, -9), aluK(ALU32, op.MOD, 1, 4, 1)], 0xffffffffn],
    ['OR', [aluK(ALU32, op.MOV, 1, 1), aluK(ALU32, op.OR, 1, 2)], 3n],
    ['AND with the high half set', [...ld64(1, 0xff000000ffn), aluK(ALU32, op.AND, 1, 0xf)], 0xfn],
    ['XOR', [aluK(ALU32, op.MOV, 1, -1), aluK(ALU32, op.XOR, 1, 0xffff)], 0xffff0000n],
    ['LSH', [aluK(ALU32, op.MOV, 1, 1), aluK(ALU32, op.LSH, 1, 31)], 0x80000000n],
    ['RSH', [aluK(ALU32, op.MOV, 1, -1), aluK(ALU32, op.RSH, 1, 28)], 0xfn],
    ['ARSH', [aluK(ALU32, op.MOV, 1, 0x80000000 | 0), aluK(ALU32, op.ARSH, 1, 31)], 0xffffffffn],
    ['NEG', [aluK(ALU32, op.MOV, 1, 1), aluK(ALU32, op.NEG, 1, 0)], 0xffffffffn],
    ['MOVSX 8', [aluK(ALU32, op.MOV, 2, 0xff), aluX(ALU32, op.MOV, 1, 2, 8)], 0xffffffffn],
    ['MOVSX 16', [aluK(ALU32, op.MOV, 2, 0x8000), aluX(ALU32, op.MOV, 1, 2, 16)], 0xffff8000n],
  ];
  it.each(cases)('%s', (_name, setup, v) => expectValue(setup, 1, v));

  it('a shift by the width or more gives unknown, as the verifier marks it', () => {
    for (const [cls, n] of [[ALU64, 64], [ALU32, 32]] as const) {
      const setup = [aluK(ALU64, op.MOV, 1, 1), aluK(ALU64, op.MOV, 2, n), aluX(cls, op.LSH, 1, 2)];
      expect(proves(setup, 1, 0n)).toBe(false);
      expect(proves(setup, 1, 1n)).toBe(false);
    }
  });

  it('results of loads and calls are unknown, calls clobber r1-r5 but keep r6-r9', () => {
    expect(proves([aluK(ALU64, op.MOV, 2, 0), I(0x79, 1, 2, 0, 0)], 1, 0n)).toBe(false);
    const setup = [aluK(ALU64, op.MOV, 5, 3), aluK(ALU64, op.MOV, 6, 3), call(1)];
    expect(proves(setup, 5, 3n)).toBe(false);
    expect(proves(setup, 6, 3n)).toBe(true);
    expect(proves([aluK(ALU64, op.MOV, 3, 1), I(0x30, 0, 0, 0, 4)], 3, 1n)).toBe(false); // LD_ABS clobbers r1-r5
  });
});

describe('conditional jumps', () => {
  /** Taken or not, for one operator on two known values, through the analysis. */
  function taken(cls: number, o: number, a: bigint, b: bigint, useImm: boolean): boolean {
    const cmp = useImm ? jmpK(cls, o, 1, Number(BigInt.asIntN(32, b)), 1) : jmpX(cls, o, 1, 2, 1);
    const r = run([...ld64(1, a), ...ld64(2, b), cmp, POISON, EXIT]);
    // Taken: the poison (fall-through) is skipped.
    return r.poisoned.length === 0;
  }
  const cases: [keyof typeof jop, bigint, bigint, boolean][] = [
    ['JEQ', 5n, 5n, true], ['JEQ', 5n, 6n, false],
    ['JNE', 5n, 6n, true], ['JNE', 5n, 5n, false],
    ['JGT', 6n, 5n, true], ['JGT', u64(-1n), 5n, true], ['JGT', 5n, 5n, false],
    ['JGE', 5n, 5n, true], ['JGE', 4n, 5n, false],
    ['JLT', 4n, 5n, true], ['JLT', u64(-1n), 5n, false],
    ['JLE', 5n, 5n, true], ['JLE', 6n, 5n, false],
    ['JSGT', 5n, u64(-1n), true], ['JSGT', u64(-1n), 5n, false],
    ['JSGE', u64(-3n), u64(-3n), true], ['JSGE', u64(-4n), u64(-3n), false],
    ['JSLT', u64(-1n), 0n, true], ['JSLT', 0n, u64(-1n), false],
    ['JSLE', u64(-1n), u64(-1n), true], ['JSLE', 1n, 0n, false],
    ['JSET', 6n, 2n, true], ['JSET', 6n, 1n, false],
  ];
  it.each(cases)('%s %s, %s: taken %s (register and immediate, 64-bit)', (name, a, b, want) => {
    expect(taken(JMP, jop[name], a, b, false)).toBe(want);
    expect(taken(JMP, jop[name], a, b, true)).toBe(want);
  });

  it('JMP32 compares the low halves, signed ones as 32-bit', () => {
    expect(taken(JMP32, jop.JEQ, 0x100000005n, 5n, true)).toBe(true);
    expect(taken(JMP, jop.JEQ, 0x100000005n, 5n, true)).toBe(false);
    expect(taken(JMP32, jop.JSLT, 0x80000000n, 0n, true)).toBe(true);
    expect(taken(JMP, jop.JSLT, 0x80000000n, 0n, true)).toBe(false);
    expect(taken(JMP32, jop.JGT, 0x00000001_00000000n, 0n, false)).toBe(false);
    expect(taken(JMP32, jop.JNE, 0xffffffffn, u64(-1n), true)).toBe(false);
  });

  it('an unknown operand follows both edges', () => {
    const r = run([call(1), jmpK(JMP, jop.JEQ, 0, 0, 1), POISON, EXIT]);
    expect(r.poisoned).toEqual([{ section: 'prog', index: 2 }]);
    expect(r.reachable.get('prog')).toEqual([0, 1, 2, 3]);
  });

  it('JEQ/JNE pin an unknown register to the constant on the equal edge', () => {
    // if r0 != 5 goto exit; here r0 == 5, so "if r0 == 5" is decided.
    const r = run([call(1), jmpK(JMP, jop.JNE, 0, 5, 2), jmpK(JMP, jop.JEQ, 0, 5, 1), POISON, EXIT]);
    expect(r.poisoned).toEqual([]);
    const s = run([call(1), jmpK(JMP, jop.JEQ, 0, 5, 1), EXIT, jmpK(JMP, jop.JNE, 0, 5, 1), EXIT, POISON, EXIT]);
    // On the taken edge r0 == 5: JNE falls through to EXIT; the poison after it is only a jump target of nothing.
    expect(s.poisoned).toEqual([]);
    expect(s.isReachable({ section: 'prog', index: 5 })).toBe(false);
  });

  it('JA and JMP32 JA (gotol) jump over code; may_goto follows both edges', () => {
    expect(run([jmpK(JMP, jop.JA, 0, 0, 1), POISON, EXIT]).poisoned).toEqual([]);
    expect(run([jmpK(JMP32, jop.JA, 0, 1, 0), POISON, EXIT]).poisoned).toEqual([]);
    expect(run([I(0xe5, 0, 0, 1, 0), POISON, EXIT]).poisoned).toHaveLength(1);
  });

  it('joins: a register is a constant only when it is the same on every incoming path', () => {
    // r1 = 1 on both paths: known; r2 = 1 or 2: unknown.
    const diamond = (second: number): Insn[] => [
      call(1), aluK(ALU64, op.MOV, 1, 1), jmpK(JMP, jop.JEQ, 0, 0, 2),
      aluK(ALU64, op.MOV, 2, 1), jmpK(JMP, jop.JA, 0, 0, 1),
      aluK(ALU64, op.MOV, 2, second),
    ];
    expect(proves(diamond(1), 1, 1n)).toBe(true);
    expect(proves(diamond(1), 2, 1n)).toBe(true);
    expect(proves(diamond(2), 2, 1n)).toBe(false);
    expect(proves(diamond(2), 2, 2n)).toBe(false);
  });
});

describe('loops and bounds', () => {
  it('a counting loop terminates and leaves its counter unknown', () => {
    const loop = [aluK(ALU64, op.MOV, 1, 0), aluK(ALU64, op.ADD, 1, 1), jmpK(JMP, jop.JLT, 1, 10, -2)];
    const r = run([...loop, EXIT]);
    expect(r.reachable.get('prog')).toEqual([0, 1, 2, 3]);
    expect(r.steps).toBeLessThan(20);
    expect(proves(loop, 1, 10n)).toBe(false);
  });

  it('an endless loop terminates the analysis', () => {
    const r = run([aluK(ALU64, op.MOV, 1, 0), aluK(ALU64, op.ADD, 1, 1), jmpK(JMP, jop.JA, 0, 0, -2)]);
    expect(r.reachable.get('prog')).toEqual([0, 1, 2]);
    expect(r.steps).toBeLessThan(20);
  });

  it('a decided backward jump does not loop forever either', () => {
    // r1 stays 0; "if r1 == 0 goto back" is always taken: a loop the verifier would reject, the analysis ends.
    const r = run([aluK(ALU64, op.MOV, 1, 0), aluK(ALU64, op.MOV, 2, 0), jmpK(JMP, jop.JEQ, 1, 0, -2), POISON, EXIT]);
    expect(r.poisoned).toEqual([]);
    expect(r.isReachable({ section: 'prog', index: 4 })).toBe(false);
  });

  it('maxVisitsPerInsn caps revisits by widening', () => {
    // Nested loops over several registers; with a cap of 1 every revisit widens, and the analysis still ends.
    const code = [
      aluK(ALU64, op.MOV, 1, 0), aluK(ALU64, op.MOV, 2, 0), aluK(ALU64, op.MOV, 3, 0),
      aluK(ALU64, op.ADD, 1, 1), aluK(ALU64, op.ADD, 2, 1), aluK(ALU64, op.ADD, 3, 1),
      jmpK(JMP, jop.JLT, 3, 5, -2), jmpK(JMP, jop.JLT, 2, 5, -4), jmpK(JMP, jop.JLT, 1, 5, -6), EXIT,
    ];
    const capped = analyzeReach({ sections: new Map([['prog', code]]) }, { section: 'prog', index: 0 }, { maxVisitsPerInsn: 1 });
    const free = analyzeReach({ sections: new Map([['prog', code]]) }, { section: 'prog', index: 0 });
    expect(capped.reachable).toEqual(free.reachable);
    expect(capped.steps).toBeLessThanOrEqual(free.steps);
  });
});

describe('stack, context, calls and links', () => {
  it('an 8-byte spill and fill keeps a constant; a call or a store through another pointer forgets it', () => {
    const spill = [aluK(ALU64, op.MOV, 1, 7), I(0x7b, 10, 1, -8, 0)];
    const fill = I(0x79, 3, 10, -8, 0);
    expect(proves([...spill, fill], 3, 7n)).toBe(true);
    expect(proves([...spill, I(0x7a, 10, 0, -8, 9), fill], 3, 9n)).toBe(true); // ST imm
    expect(proves([...spill, call(1), fill], 3, 7n)).toBe(false);
    expect(proves([...spill, I(0x63, 10, 1, -4, 0), fill], 3, 7n)).toBe(false); // a 4-byte store over the slot
    expect(proves([...spill, call(1), I(0x7b, 0, 1, 0, 0), fill], 3, 7n)).toBe(false); // store through r0
    // Through a copy of r10 with an offset.
    expect(proves([...spill, aluX(ALU64, op.MOV, 4, 10), aluK(ALU64, op.ADD, 4, -8), I(0x79, 3, 4, 0, 0)], 3, 7n)).toBe(true);
    // An atomic fetch-and-add returns the old value in its source register: unknown.
    expect(proves([...spill, aluK(ALU64, op.MOV, 5, 1), I(0xdb, 10, 5, -8, 0x01)], 5, 1n)).toBe(false);
  });

  it('records reachable context loads with their offsets, through copies of r1', () => {
    const r = run([aluX(ALU64, op.MOV, 6, 1), I(0x79, 2, 6, 16, 0), aluK(ALU64, op.ADD, 6, 8), I(0x61, 3, 6, 0, 0), EXIT, I(0x79, 4, 1, 40, 0), EXIT]);
    expect(r.ctxLoads.map((l) => [l.loc.index, l.off, l.size])).toEqual([[1, 16, 8], [3, 8, 4]]);
  });

  it('a BPF-to-BPF call passes known arguments; two call sites join them', () => {
    // main: r1 = 0; call sub; exit.  sub: if r1 == 0 goto +1; poison; exit.
    const sub = [jmpK(JMP, jop.JEQ, 1, 0, 1), POISON, EXIT];
    const one = run([aluK(ALU64, op.MOV, 1, 0), call(1, 1), EXIT, ...sub]);
    expect(one.poisoned).toEqual([]);
    expect(one.functions).toEqual([{ section: 'prog', index: 0 }, { section: 'prog', index: 3 }]);
    const two = run([aluK(ALU64, op.MOV, 1, 0), call(4, 1), aluK(ALU64, op.MOV, 1, 1), call(2, 1), EXIT, ...sub]);
    expect(two.poisoned).toEqual([{ section: 'prog', index: 6 }]);
  });

  it('links: a call into another section, a callback address, a loader-chosen value and a kfunc', () => {
    const text = [jmpK(JMP, jop.JEQ, 1, 0, 1), POISON, EXIT, POISON, EXIT];
    const links = new Map<string, InsnLink>([
      ['prog:1', { kind: 'call', target: { section: '.text', index: 0 } }],
      ['prog:2', { kind: 'func-addr', target: { section: '.text', index: 3 } }],
      ['prog:4', { kind: 'value', value: { kind: 'const', value: 0n } }],
      ['prog:7', { kind: 'kfunc', name: 'bpf_x' }],
    ]);
    const code = [
      aluK(ALU64, op.MOV, 1, 0), call(-1, 1), ...ld64(2, 0n), ...ld64(3, 1n), jmpK(JMP, jop.JEQ, 3, 0, 2), call(-1, 1), EXIT, EXIT,
    ];
    // ldimm64 at 4 reads 0 (the link's value, not its immediate 1), so the jump at 6 is taken and the kfunc call skipped.
    const r = run(code, links, new Map([['.text', text]]));
    expect(r.poisoned).toEqual([{ section: '.text', index: 3 }]);
    expect(r.isReachable({ section: 'prog', index: 7 })).toBe(false);
    expect(r.functions.map(locKey)).toEqual(['prog:0', '.text:0', '.text:3']);
  });

  it('an LDIMM64 with a pseudo source register is not a constant', () => {
    const [lo, hi] = ld64(1, 0n);
    expect(proves([{ ...lo, srcReg: 1 }, hi], 1, 0n)).toBe(false);
    expect(proves([lo, hi], 1, 0n)).toBe(true);
  });

  it('knows both of libbpf\'s poison helpers', () => {
    expect(isPoisonCall(POISON)).toBe(true);
    expect(isPoisonCall(call(POISON_KFUNC_BASE + 3))).toBe(true);
    expect(isPoisonCall(call(113))).toBe(false);
    expect(isPoisonCall(call(0xbad2310, 1))).toBe(false);
  });
});

describe('code the analysis refuses, with typed errors', () => {
  const bad: [string, Insn[], RegExp][] = [
    ['a jump past the end', [jmpK(JMP, jop.JA, 0, 0, 5), EXIT], /insn #0: jumps to insn #6, outside its section/],
    ['a jump before the start', [jmpK(JMP, jop.JA, 0, 0, -3), EXIT], /insn #0: jumps to insn #-2/],
    ['a jump into an ldimm64', [jmpK(JMP, jop.JA, 0, 0, 1), ...ld64(1, 1n), EXIT], /jumps into the middle of the ldimm64 at insn #1/],
    ['a truncated ldimm64', [EXIT, ld64(1, 1n)[0]], /never|missing its second half/],
    ['an unknown jump opcode', [I(0x05 | 0xf0, 0, 0, 0, 0), EXIT], /unknown jump opcode 0xf5/],
    ['an unknown alu opcode', [I(0x07 | 0xe0, 1, 0, 0, 0), EXIT], /unknown alu opcode 0xe7/],
    ['a register past r10', [I(0xb7, 11, 0, 0, 0), EXIT], /register out of range/],
    ['a movsx of another width', [aluX(ALU64, op.MOV, 1, 2, 12), EXIT], /invalid offset 12 of a mov/],
    ['a mov imm with an offset', [aluK(ALU64, op.MOV, 1, 2, 8), EXIT], /invalid offset 8 of a mov/],
    ['a div with an offset other than 0 or 1', [aluK(ALU64, op.DIV, 1, 2, 2), EXIT], /invalid offset 2 of a div/],
    ['falling off the end', [aluK(ALU64, op.MOV, 0, 0)], /outside its section/],
  ];
  it.each(bad)('%s', (_name, insns, message) => {
    const code = _name === 'a truncated ldimm64' ? [jmpK(JMP, jop.JA, 0, 0, 1), ...insns] : insns;
    let err: unknown;
    try {
      run(code);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CoreError);
    expect((err as CoreError).code).toBe(CoreErrorCode.BadProgram);
    expect((err as CoreError).section).toBe('prog');
    expect((err as CoreError).message).toMatch(message);
  });
});

describe('random code (seeded, replayable)', () => {
  const CODES = [0x07, 0x0f, 0x17, 0x1f, 0x27, 0x37, 0x47, 0x57, 0x67, 0x77, 0x87, 0x97, 0xa7, 0xb7, 0xbf, 0xc7, 0xd7, 0xdc, 0x04, 0xb4, 0xbc,
    0x05, 0x15, 0x1d, 0x25, 0x35, 0x45, 0x55, 0x5d, 0x65, 0xa5, 0xb5, 0xc5, 0xd5, 0x16, 0x56, 0x85, 0x95, 0x18, 0x79, 0x61, 0x7b, 0x7a, 0x63, 0xdb, 0xe5, 0x06];

  it('ends with a result or a CoreError, never anything else, within the visit bound', () => {
    let analysed = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const r = mulberry32(seed);
      const n = 4 + Math.floor(r() * 40);
      const insns: Insn[] = [];
      for (let i = 0; i < n; i++) {
        const code = r() < 0.03 ? Math.floor(r() * 256) : CODES[Math.floor(r() * CODES.length)];
        const jump = (code & 7) === 5 || (code & 7) === 6;
        const off = jump || r() < 0.1 ? Math.floor(r() * 9) - 4 : 0;
        insns.push(I(code, Math.floor(r() * 11), Math.floor(r() * 11), off, Math.floor(r() * 20) - 10));
      }
      insns.push(EXIT);
      try {
        const res = run(insns);
        expect(res.steps, `seed ${seed}`).toBeLessThanOrEqual(64 * insns.length);
        analysed++;
      } catch (e) {
        expect(e, `seed ${seed}: ${String(e)}`).toBeInstanceOf(CoreError);
      }
    }
    // Not everything is refused: most random programs are walked to the end.
    expect(analysed).toBeGreaterThan(100);
  });
});
