/**
 * Verdicts of the hand-made objects of fixtures/verdict (C sources, build.sh) on two stand-in kernels whose
 * "vmlinux" BTF is the .BTF of kernel-old.o / kernel-new.o (kernel.c): the old one lacks task_struct.new_field,
 * struct new_type, FEAT_NEW, the kfuncs and the sched_gone tracepoint, and its do_work has two parameters
 * instead of three. Each expectation follows from the C source of the program it names.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Btf } from '@btf-atlas/btf';
import {
  judgeObject, judgeProgram, linkBpfObject, objectVerdictJson, readBpfObject, resolveCoreRelos, type LinkedBpfObject, type ObjectVerdict, type ProgramVerdict,
} from '../src/index.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/verdict');

function object(name: string): LinkedBpfObject {
  const bytes = readFileSync(join(FIX, name));
  return linkBpfObject(bytes, readBpfObject(bytes));
}

const KERNELS: Record<'old' | 'new', Btf> = { old: object('kernel-old.o').btf, new: object('kernel-new.o').btf };

function judge(name: string, kernel: 'old' | 'new'): ObjectVerdict {
  const obj = object(name);
  const target = { vmlinux: KERNELS[kernel] };
  return judgeObject(obj, resolveCoreRelos(obj, target), target);
}

function verdicts(v: ObjectVerdict): Record<string, string> {
  return Object.fromEntries(v.programs.map((p) => [p.program, p.verdict]));
}

function program(v: ObjectVerdict, name: string): ProgramVerdict {
  const p = v.programs.find((x) => x.program === name);
  if (!p) throw new Error(`no program ${name}`);
  return p;
}

describe('CO-RE guards (fields.bpf.o)', () => {
  it('on the old kernel: guarded reads are guarded, unguarded and inverted ones break', () => {
    const v = judge('fields.bpf.o', 'old');
    expect(verdicts(v)).toEqual({
      kp_guarded: 'guarded',
      kp_unguarded: 'breaks',
      kp_flavor: 'guarded',
      kp_type_guard: 'guarded',
      kp_enum_guard: 'guarded',
      kp_inverted: 'breaks',
      kp_sub_guarded: 'guarded',
      kp_sub_unguarded: 'breaks',
      kp_callback: 'breaks',
    });
    expect(v.verdict).toBe('breaks');
  });

  it('on the new kernel: everything resolves; only the ___old flavor is poisoned, and it is guarded', () => {
    const v = judge('fields.bpf.o', 'new');
    expect(verdicts(v)).toEqual({
      kp_guarded: 'ok',
      kp_unguarded: 'ok',
      kp_flavor: 'guarded',
      kp_type_guard: 'ok',
      kp_enum_guard: 'ok',
      kp_inverted: 'ok',
      kp_sub_guarded: 'ok',
      kp_sub_unguarded: 'ok',
      kp_callback: 'ok',
    });
    expect(v.verdict).toBe('guarded');
  });

  it('names the relocation, its instruction and function in each reason', () => {
    const v = judge('fields.bpf.o', 'old');
    const unguarded = program(v, 'kp_unguarded');
    expect(unguarded.reasons).toHaveLength(1);
    expect(unguarded.reasons[0]).toMatchObject({ kind: 'relocation', verdict: 'breaks', level: 'error', section: 'kprobe/do_work', function: 'kp_unguarded', insn: 1 });
    expect(unguarded.reasons[0].message).toContain('struct task_struct.new_field');
    expect(unguarded.relocations).toEqual([
      { section: 'kprobe/do_work', prog: 'kp_unguarded', idx: expect.any(Number) as number, insn: 1, kind: 'FIELD_BYTE_OFFSET', status: 'poisoned', reachable: true },
    ]);

    const guarded = program(v, 'kp_guarded');
    expect(guarded.relocations.map((r) => [r.kind, r.status, r.reachable])).toEqual([
      ['FIELD_EXISTS', 'defaulted', true],
      ['FIELD_BYTE_OFFSET', 'poisoned', false],
    ]);
    expect(guarded.reasons).toEqual([expect.objectContaining({ kind: 'relocation', verdict: 'guarded', level: 'info', function: 'kp_guarded', insn: 5 })]);

    // A subprogram's relocations belong to the programs that call it, with the subprogram's name and numbering.
    const sub = program(v, 'kp_sub_unguarded');
    expect(sub.reasons).toEqual([expect.objectContaining({ verdict: 'breaks', section: '.text', function: 'read_new_unguarded', insn: 4 })]);
    expect(sub.relocations.every((r) => r.prog === 'read_new_unguarded')).toBe(true);
    expect(program(v, 'kp_sub_guarded').relocations.every((r) => r.prog === 'read_new_guarded')).toBe(true);
    // The callback of bpf_loop is reachable: its unguarded read breaks the program that passes it.
    expect(program(v, 'kp_callback').reasons).toEqual([expect.objectContaining({ verdict: 'breaks', function: 'loop_cb' })]);
  });

  it('judgeProgram gives the same verdict as judgeObject', () => {
    const obj = object('fields.bpf.o');
    const target = { vmlinux: KERNELS.old };
    const dry = resolveCoreRelos(obj, target);
    const all = judgeObject(obj, dry, target);
    for (const p of obj.programs) {
      expect(judgeProgram(obj, p, dry, target)).toEqual(all.programs.find((x) => x.program === p.name));
    }
  });
});

describe('kfuncs', () => {
  it('a missing weak kfunc: guarded behind ksym_exists, breaks when called blindly', () => {
    const v = judge('kfuncs.bpf.o', 'old');
    expect(verdicts(v)).toEqual({ fe_kf_guarded: 'guarded', fe_kf_unguarded: 'breaks' });
    expect(v.externs.map((e) => [e.extern.name, e.status, e.fatal])).toEqual([['bpf_kf_weak', 'missing', false]]);
    const blind = program(v, 'fe_kf_unguarded');
    expect(blind.reasons).toEqual([expect.objectContaining({ kind: 'kfunc', verdict: 'breaks', extern: 'bpf_kf_weak', function: 'fe_kf_unguarded', insn: 1 })]);
    expect(blind.reasons[0].message).toContain('unknown#2002000000');
    expect(program(v, 'fe_kf_guarded').reasons).toEqual([expect.objectContaining({ kind: 'kfunc', verdict: 'guarded', level: 'info', insn: 5 })]);
  });

  it('a present weak kfunc: both programs are ok', () => {
    const v = judge('kfuncs.bpf.o', 'new');
    expect(verdicts(v)).toEqual({ fe_kf_guarded: 'ok', fe_kf_unguarded: 'ok' });
    expect(v.externs[0]).toMatchObject({ status: 'present', btfName: 'vmlinux', fatal: false });
  });

  it('a missing strong kfunc makes the whole object fail', () => {
    const v = judge('kfunc_strong.bpf.o', 'old');
    expect(v.verdict).toBe('fails');
    expect(v.reasons).toEqual([expect.objectContaining({ kind: 'kfunc', verdict: 'fails', extern: 'bpf_kf_strong' })]);
    expect(v.reasons[0].message).toBe("extern (func ksym) 'bpf_kf_strong': not found in kernel or module BTFs");
    expect(v.summary).toBe(v.reasons[0].message);
    expect(verdicts(v)).toEqual({ fe_kf_strong: 'fails' });
    expect(verdicts(judge('kfunc_strong.bpf.o', 'new'))).toEqual({ fe_kf_strong: 'ok' });
  });

  it('a strong kfunc with another prototype fails too', () => {
    // kernel-new.o's do_work takes three parameters; declare it as a kfunc of one and it does not match.
    const obj = object('kfunc_strong.bpf.o');
    const ext = obj.externs[0];
    const renamed = { ...obj, externs: [{ ...ext, name: 'do_work' }], objectLinks: { ...obj.objectLinks, externRefs: obj.objectLinks.externRefs.map((r) => ({ ...r, name: 'do_work' })) } };
    const target = { vmlinux: KERNELS.new };
    const v = judgeObject(renamed, resolveCoreRelos(renamed, target), target);
    expect(v.externs[0]).toMatchObject({ status: 'incompatible', fatal: true });
    expect(v.verdict).toBe('fails');
    expect(v.reasons[0].message).toMatch(/^extern \(func ksym\) 'do_work': func_proto \[\d+\] incompatible with vmlinux \[\d+\]$/);
  });
});

describe('ksyms and kconfig (ksyms.bpf.o, ksym_bad.bpf.o)', () => {
  it('resolves typed ksyms from BTF and leaves typeless ones and kconfig values unchecked', () => {
    for (const kernel of ['old', 'new'] as const) {
      const v = judge('ksyms.bpf.o', kernel);
      const byName = v.externs.map((e) => [e.extern.name, e.status, e.fatal]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
      expect(byName).toEqual([
        ['CONFIG_HZ', 'not_checked', false],
        ['feature_in_use', 'present', false],
        ['missing_var', 'missing', false],
        ['typeless_sym', 'not_checked', false],
      ]);
      const p = program(v, 'kp_ksyms');
      expect(p.verdict).toBe('ok');
      // The missing weak ksym reads as address 0: noted, without changing the verdict.
      expect(p.reasons).toEqual([expect.objectContaining({ kind: 'ksym', verdict: 'ok', level: 'info', extern: 'missing_var' })]);
    }
  });

  it('a weak ksym of another type than the kernel\'s fails the object', () => {
    const v = judge('ksym_bad.bpf.o', 'old');
    expect(v.verdict).toBe('fails');
    expect(v.reasons).toEqual([expect.objectContaining({ kind: 'ksym', verdict: 'fails', extern: 'feature_in_use' })]);
    expect(v.reasons[0].message).toMatch(/^extern \(var ksym\) 'feature_in_use': incompatible types/);
  });
});

describe('JSON', () => {
  it('spells the verdicts as core-check --json does', () => {
    const j = objectVerdictJson(judge('fields.bpf.o', 'old'));
    expect(j.verdict).toBe('breaks');
    expect(j.not_checked.slice(0, 3)).toEqual(['verifier', 'helpers and map types', 'inlining']);
    expect(j.programs.find((p) => p.name === 'kp_guarded')).toMatchObject({ verdict: 'guarded', attach_target: 'present', loaded: true });
    expect(j.programs.find((p) => p.name === 'kp_unguarded')?.reasons[0]).toMatchObject({ kind: 'relocation', level: 'error', insn: 1 });
    // The guarded read of kp_guarded is unreachable; the one of kp_unguarded is reachable.
    const obj = object('fields.bpf.o');
    const dry = resolveCoreRelos(obj, { vmlinux: KERNELS.old });
    const guardedRead = dry.relocations.find((r) => r.prog === 'kp_guarded' && r.kindName === 'FIELD_BYTE_OFFSET');
    const blindRead = dry.relocations.find((r) => r.prog === 'kp_unguarded');
    expect(j.reachable[`kprobe/do_work#${guardedRead?.idx}`]).toBe(false);
    expect(j.reachable[`kprobe/do_work#${blindRead?.idx}`]).toBe(true);
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
  });
});

describe('byte order', () => {
  it('an object of the other byte order than the kernel fails; of the same one it is judged', () => {
    const obj = object('../objects/core_kinds.bpfeb.o');
    const le = { vmlinux: KERNELS.old };
    const v = judgeObject(obj, resolveCoreRelos(obj, le), le);
    expect(v.verdict).toBe('fails');
    const order = v.reasons.filter((r) => r.kind === 'object');
    expect(order).toEqual([expect.objectContaining({ verdict: 'fails', level: 'error' })]);
    expect(order[0].message).toContain('big-endian');
    const be = { vmlinux: object('../relo/target.bpfeb.o').btf };
    const w = judgeObject(obj, resolveCoreRelos(obj, be), be);
    expect(w.reasons.filter((r) => r.kind === 'object')).toEqual([]);
    expect(w.programs.length).toBe(obj.programs.length);
  });
});

describe('attach targets (attach.bpf.o)', () => {
  it('on the old kernel', () => {
    const v = judge('attach.bpf.o', 'old');
    expect(v.programs.map((p) => [p.program, p.verdict, p.attachTarget])).toEqual([
      ['fe_missing', 'breaks', 'missing'],
      ['fe_two_args', 'ok', 'present'],
      ['fe_third_arg', 'breaks', 'mismatch'],
      ['fx_ret_old', 'ok', 'present'],
      ['tp_switch', 'ok', 'present'],
      ['tp_gone', 'breaks', 'missing'],
      ['kp_missing', 'breaks', 'missing'],
      ['kp_present', 'ok', 'present'],
      ['lsm_open', 'ok', 'present'],
      ['raw_switch', 'ok', 'present'],
      ['tp_classic', 'ok', 'not_checked'],
      ['fe_not_loaded', 'breaks', 'missing'],
    ]);
    expect(program(v, 'fe_missing').reasons).toEqual([expect.objectContaining({ kind: 'attach', level: 'error' })]);
    expect(program(v, 'fe_missing').reasons[0].message).toContain("failed to find kernel BTF type ID of 'do_missing'");
    expect(program(v, 'tp_gone').reasons[0].message).toContain('btf_trace_sched_gone');
    expect(program(v, 'kp_missing').reasons).toEqual([expect.objectContaining({ kind: 'attach', verdict: 'breaks', level: 'warning' })]);
    expect(program(v, 'kp_missing').reasons[0].message).toMatch(/^kprobe target not in BTF: may be inlined or static/);
    expect(program(v, 'fe_third_arg').reasons).toEqual([expect.objectContaining({ kind: 'attach', level: 'error', insn: 0 })]);
    expect(program(v, 'fe_third_arg').reasons[0].message).toContain("func 'do_work' doesn't have 3-th argument");
    expect(program(v, 'fe_not_loaded').loaded).toBe(false);
  });

  it('a program libbpf does not load by default is judged as if enabled, but does not count for the object', () => {
    const obj = object('attach.bpf.o');
    const two = { ...obj, programs: obj.programs.filter((p) => p.name === 'fe_not_loaded' || p.name === 'kp_present') };
    const target = { vmlinux: KERNELS.old };
    const v = judgeObject(two, resolveCoreRelos(two, target), target);
    expect(verdicts(v)).toEqual({ kp_present: 'ok', fe_not_loaded: 'breaks' });
    expect(v.verdict).toBe('ok');
    expect(program(v, 'fe_not_loaded').reasons.map((r) => [r.kind, r.verdict])).toEqual([['attach', 'breaks'], ['object', 'ok']]);
  });

  it('on the new kernel: sched_gone exists and do_work has a third parameter', () => {
    const v = judge('attach.bpf.o', 'new');
    const got = Object.fromEntries(v.programs.map((p) => [p.program, p.verdict]));
    expect(got).toMatchObject({ fe_missing: 'breaks', fe_two_args: 'ok', fe_third_arg: 'ok', fx_ret_old: 'ok', tp_gone: 'ok', kp_missing: 'breaks' });
  });
});
