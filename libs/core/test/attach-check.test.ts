/**
 * Attach targets against a real kernel (corpus 6.1.0-50-amd64 with its ext4, kvm, … module BTF): the lookup
 * order (vmlinux, then modules, or only the `module:` named one), the prototype a context read must fit, and
 * the families checked only at warning level. Argument counts are those of the kernel's C prototypes
 * (fs/ext4/fsync.c `ext4_sync_file(file, start, end, datasync)`, include/trace/events/sched.h sched_switch).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Btf } from '@btf-atlas/btf';
import { corpusKernels, loadKernel, loadModule } from '../../btf/test/support/corpus.js';
import { checkAttach, parseSectionName, type BpfProgram, type CoreTarget, type CtxLoad } from '../src/index.js';

const K = corpusKernels().find((k) => k.kernelRelease === '6.1.0-50-amd64' && k.arch === 'x86_64');

function prog(section: string): BpfProgram {
  return { name: 'p', section, offset: 0, size: 2, attach: parseSectionName(section) };
}

/** A read of context byte `off` at instruction `index` of the program. */
const read = (section: string, index: number, off: number): CtxLoad => ({ loc: { section, index }, off, size: 8 });

describe.runIf(K !== undefined)('attach checks on 6.1.0-50-amd64', () => {
  let vmlinux: Btf;
  let kernel: CoreTarget;
  beforeAll(async () => {
    const k = K as NonNullable<typeof K>;
    vmlinux = await loadKernel(k);
    kernel = { vmlinux, modules: await Promise.all(k.modules.map(async (m) => ({ name: m.name, btf: await loadModule(k, m) }))) };
  });

  it('fentry finds a module function after vmlinux, or in the module the section names', () => {
    const any = checkAttach(prog('fentry/ext4_sync_file'), kernel);
    expect(any).toMatchObject({ status: 'present', btfName: 'ext4', nrArgs: 4, findings: [] });
    expect(checkAttach(prog('fentry/ext4:ext4_sync_file'), kernel)).toMatchObject({ status: 'present', btfName: 'ext4' });
    const wrong = checkAttach(prog('fentry/kvm:ext4_sync_file'), kernel);
    expect(wrong.status).toBe('missing');
    expect(wrong.findings[0].message).toContain("module 'kvm' has no FUNC 'ext4_sync_file'");
    // Without the module's BTF nothing can be said.
    expect(checkAttach(prog('fentry/ext4:ext4_sync_file'), { vmlinux })).toMatchObject({ status: 'not_checked' });
    expect(checkAttach(prog('fentry/ext4_sync_file'), { vmlinux })).toMatchObject({ status: 'missing' });
    // `vmlinux:` restricts the lookup to the kernel itself.
    expect(checkAttach(prog('fentry/vmlinux:do_unlinkat'), kernel)).toMatchObject({ status: 'present', btfName: 'vmlinux' });
    expect(checkAttach(prog('fentry/vmlinux:ext4_sync_file'), kernel)).toMatchObject({ status: 'missing' });
  });

  it('context reads must fit the prototype; fexit may read the return value after the arguments', () => {
    const s = 'fentry/ext4_sync_file';
    expect(checkAttach(prog(s), kernel, [read(s, 0, 0), read(s, 1, 24)]).status).toBe('present');
    const past = checkAttach(prog(s), kernel, [read(s, 1, 32)]);
    expect(past.status).toBe('mismatch');
    expect(past.findings).toEqual([expect.objectContaining({ level: 'error', insn: 1 })]);
    expect(past.findings[0].message).toContain("func 'ext4_sync_file' doesn't have 5-th argument");
    const x = 'fexit/ext4_sync_file';
    expect(checkAttach(prog(x), kernel, [read(x, 0, 32)]).status).toBe('present');
    expect(checkAttach(prog(x), kernel, [read(x, 0, 40)]).status).toBe('mismatch');
  });

  it('tp_btf drops the tracepoint\'s data pointer; lsm and iter use their prefixes', () => {
    const t = 'tp_btf/sched_switch';
    const sw = checkAttach(prog(t), kernel);
    expect(sw).toMatchObject({ status: 'present', btfName: 'vmlinux', nrArgs: 4 });
    expect(checkAttach(prog(t), kernel, [read(t, 0, 24)]).status).toBe('present');
    expect(checkAttach(prog(t), kernel, [read(t, 0, 32)]).status).toBe('mismatch');
    expect(checkAttach(prog('tp_btf/no_such_tracepoint'), kernel)).toMatchObject({ status: 'missing' });
    expect(checkAttach(prog('lsm/file_open'), kernel)).toMatchObject({ status: 'present', nrArgs: 1 });
    expect(checkAttach(prog('lsm/no_such_hook'), kernel).findings[0].message).toContain("'bpf_lsm_no_such_hook'");
    // An iterator's context is its own struct, not the arguments: reads are not compared.
    expect(checkAttach(prog('iter/task'), kernel, [read('iter/task', 0, 64)])).toMatchObject({ status: 'present', findings: [] });
  });

  it('kprobes, ksyscalls and raw tracepoints are checked at warning level', () => {
    expect(checkAttach(prog('kprobe/do_unlinkat'), kernel)).toMatchObject({ status: 'present', findings: [] });
    const dotted = checkAttach(prog('kretprobe/do_unlinkat.cold'), kernel);
    expect(dotted.status).toBe('missing');
    expect(dotted.findings).toEqual([expect.objectContaining({ level: 'warning' })]);
    expect(dotted.findings[0].message).toMatch(/^kprobe target not in BTF: may be inlined or static: .*compiler-made name/);
    expect(checkAttach(prog('ksyscall/openat'), kernel)).toMatchObject({ status: 'present' });
    expect(checkAttach(prog('ksyscall/no_such_call'), kernel).findings).toEqual([expect.objectContaining({ level: 'warning' })]);
    expect(checkAttach(prog('raw_tp/sched_switch'), kernel)).toMatchObject({ status: 'present' });
    expect(checkAttach(prog('raw_tp/nope'), kernel).findings).toEqual([expect.objectContaining({ level: 'warning' })]);
  });

  it('families resolved at attach time, or without a kernel target, are not checked', () => {
    expect(checkAttach(prog('tp/sched/sched_switch'), kernel).status).toBe('not_checked');
    expect(checkAttach(prog('kprobe.multi/do_*'), kernel).status).toBe('not_checked');
    expect(checkAttach(prog('kprobe'), kernel).status).toBe('not_checked');
    expect(checkAttach(prog('xdp'), kernel).status).toBe('none');
    expect(checkAttach(prog('uprobe/bin:main'), kernel).status).toBe('none');
  });
});
