/**
 * The resolver on hand-made objects and targets (fixtures/relo: C sources, build.sh, and the logs of libbpf 1.7
 * itself run on them by capture.c): bitfields of every width and signedness in both byte orders, flexible arrays
 * and indexes past the end, anonymous members, forward declarations, load/store size changes, enum64 and signed
 * enumerators, TYPE_MATCHES negatives, typedef and union roots, a .text subprogram, a `?` section, every error
 * that makes libbpf refuse an object, and module BTF candidates.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { Btf } from '@btf-atlas/btf';
import { corpusKernels, loadKernel, loadModule } from '../../btf/test/support/corpus.js';
import {
  CoreReloKind, coreDryRunJson, readBpfObject, readElfObject, resolveCoreRelos, type BpfObject, type CoreDryRun, type CoreReloResult,
} from '../src/index.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/relo');

function object(name: string): BpfObject {
  return readBpfObject(readFileSync(join(FIX, name)));
}

/** The target BTF of a hand-made case: the `.BTF` of target.bpfel.o / target.bpfeb.o. */
function targetBtf(order: 'bpfel' | 'bpfeb'): Btf {
  return object(`target.${order}.o`).btf;
}

/** Lines of libbpf's log that are about CO-RE (the resolver's `log` keeps exactly these). */
const CORE_LINE = /CO-RE relocat|^[DW]: prog '[^']*': relo #\d+: |skipping CO-RE relocation/;

interface CapturedLog {
  lines: string[];
  open: number;
  prepare: number;
}

/** A log written by capture.c: CO-RE lines (without `libbpf: `) and the RESULT line. */
function capturedLog(name: string): CapturedLog {
  const text = readFileSync(join(FIX, name), 'utf8');
  const m = /^RESULT open=(-?\d+) prepare=(-?\d+)$/m.exec(text);
  if (!m) throw new Error(`${name}: no RESULT line`);
  const lines = text
    .split('\n')
    .filter((l) => /^[DW]: libbpf: /.test(l))
    .map((l) => l.replace(/^([DW]): libbpf: /, '$1: '))
    .filter((l) => CORE_LINE.test(l));
  return { lines, open: Number(m[1]), prepare: Number(m[2]) };
}

function coreLog(dry: CoreDryRun): string[] {
  return dry.log.filter((l) => CORE_LINE.test(l));
}

/** The first line where two logs part, or undefined. */
function firstLogDifference(got: string[], want: string[]): string | undefined {
  for (let i = 0; i < Math.max(got.length, want.length); i++) {
    if (got[i] !== want[i]) return `line ${i}:\n  got:  ${got[i]}\n  want: ${want[i]}`;
  }
  return undefined;
}

function relo(dry: CoreDryRun, prog: string, idx: number): CoreReloResult {
  const r = dry.relocations.find((x) => x.prog === prog && x.idx === idx);
  if (!r) throw new Error(`no relocation ${prog} #${idx}`);
  return r;
}

describe('hand-made cases, little-endian, against libbpf 1.7', () => {
  const dry = resolveCoreRelos(object('cases.bpfel.o'), { vmlinux: targetBtf('bpfel') });
  const want = capturedLog('cases.bpfel.libbpf.log');

  it('logs every CO-RE decision exactly as libbpf', () => {
    expect(want.lines.length).toBeGreaterThan(300);
    expect(firstLogDifference(coreLog(dry), want.lines)).toBeUndefined();
    expect(dry.result).toEqual({ open: want.open, prepare: want.prepare });
  });

  it('resizes a safe unsigned load and poisons an unsafe signed one', () => {
    const member = (name: string): CoreReloResult | undefined => dry.relocations.find((r) => r.prog === 'kp_members' && r.local?.fieldPath === name);
    const w32 = member('w32');
    const s32 = member('s32');
    expect(w32?.patches.map((p) => [p.what, Number(p.old), Number(p.new)])).toEqual([['off', 32, 32], ['mem_sz', 2, 4]]);
    expect(s32?.status).toBe('poisoned');
    expect(s32?.messages[0]).toMatch(/^W: insn #\d+ \(LDX\/ST\/STX\) accesses field incorrectly/);
    expect(s32?.target?.typeId).toBeGreaterThan(0);
    // The patched copy holds the new access size; the object's own instructions are untouched.
    const sec = dry.patchedSections.get('kprobe/members') ?? [];
    const at = (w32?.insnOff ?? 0) / 8;
    expect(sec[at].code & 0x18).toBe(0x00); // BPF_W
    expect(object('cases.bpfel.o').sections.get('kprobe/members')?.[at].code ?? 0).toBe(0x69); // LDX | H | MEM
  });

  it('writes 64-bit enumerators into LDIMM64 and poisons both halves of a missing one', () => {
    const bigC = relo(dry, 'kp_enums', 2);
    expect(bigC.patches[0]).toMatchObject({ insnClass: 'LDIMM64', what: 'imm64', new: 0xffffffffffffffffn });
    const neg = relo(dry, 'kp_enums', 4);
    expect(neg.newValue).toBe(BigInt.asUintN(64, -5n));
    const gone = relo(dry, 'kp_enums', 8);
    expect(gone.status).toBe('poisoned');
    expect(gone.poisonedInsns).toEqual([gone.insn + 1, gone.insn]);
    const sec = dry.patchedSections.get('kprobe/enums') ?? [];
    expect(sec[gone.insnOff / 8]).toEqual({ code: 0x85, dstReg: 0, srcReg: 0, off: 0, imm: 0xbad2310 });
    const json = coreDryRunJson(dry).relocations.find((r) => r.prog === 'kp_enums' && r.idx === 2);
    expect(json?.new_value).toBe('18446744073709551615');
  });

  it('decides TYPE_MATCHES negatives without a target', () => {
    const byType = new Map(dry.relocations.filter((r) => r.prog === 'kp_matches').map((r) => [r.local?.type, r]));
    expect(byType.get('struct match_me___ok')?.newValue).toBe(1n);
    expect(byType.get('struct match_me___fwd')?.newValue).toBe(1n);
    for (const neg of ['size', 'sign', 'arr', 'enum', 'fn', 'un', 'extra', 'more']) {
      const r = byType.get(`struct match_me___${neg}`);
      expect(r?.status, neg).toBe('defaulted');
      expect(r?.candidates.map((c) => c.matched), neg).toEqual([false]);
    }
  });

  it('prunes a shared candidate list to what matched', () => {
    expect(relo(dry, 'kp_prune', 0).candidates.map((c) => c.matched)).toEqual([true, true]);
    expect(relo(dry, 'kp_prune', 1).candidates.map((c) => c.matched)).toEqual([true, false]);
    expect(relo(dry, 'kp_prune', 2).candidates.map((c) => [c.type, c.matched])).toEqual([['struct dup', true]]);
    expect(dry.candidateCache.find((e) => e.localType === 'struct dup___y')?.candidates).toHaveLength(2);
  });

  it('attributes .text relocations to their subprogram and skips `?` sections', () => {
    expect(dry.relocations.filter((r) => r.section === '.text').map((r) => r.prog)).toEqual(['sub_size', 'sub_size']);
    expect(dry.skipped).toEqual([{ section: '?kprobe/optional', idx: 0, insnOff: expect.any(Number), reason: 'not autoloaded' }]);
  });
});

describe('hand-made cases, big-endian', () => {
  const dry = resolveCoreRelos(object('cases.bpfeb.o'), { vmlinux: targetBtf('bpfeb') });
  const want = capturedLog('cases.bpfeb.libbpf.log');

  it('decides as libbpf does, FIELD_LSHIFT_U64 aside (libbpf computes it for the machine it runs on: x86 made the log)', () => {
    const lshift = new Set(dry.relocations.filter((r) => r.kind === CoreReloKind.FIELD_LSHIFT_U64).map((r) => `prog '${r.prog}': relo #${r.idx}: patched`));
    const isLshiftPatch = (l: string): boolean => [...lshift].some((p) => l.includes(p));
    expect(lshift.size).toBe(9);
    expect(firstLogDifference(coreLog(dry).filter((l) => !isLshiftPatch(l)), want.lines.filter((l) => !isLshiftPatch(l)))).toBeUndefined();
    expect(dry.result).toEqual({ open: want.open, prepare: want.prepare });
  });

  it('refuses to load on a kernel of the other byte order, after relocating as libbpf does', () => {
    const mixed = resolveCoreRelos(object('cases.bpfeb.o'), { vmlinux: targetBtf('bpfel') });
    expect(mixed.result).toEqual({ open: 0, prepare: 0, load: -4003 });
    expect(mixed.ok).toBe(false);
    expect(mixed.warnings.at(-1)).toMatch(/loading non-native endianness is unsupported/);
  });
});

/**
 * Reads every bitfield of target.c's `g_bits` back from the target object's .data with the relocated byte offset,
 * byte size and shifts, as BPF_CORE_READ_BITFIELD_PROBED does (load BYTE_SIZE bytes into the low end of a u64,
 * shift left, then right, arithmetically when FIELD_SIGNED), and compares with `g_bits_expect`, which the compiler
 * laid out from the same initializers.
 */
describe.each(['bpfel', 'bpfeb'] as const)('bitfields read back on %s', (order) => {
  const targetBytes = readFileSync(join(FIX, `target.${order}.o`));
  const elf = readElfObject(targetBytes);
  const le = elf.littleEndian;
  const dv = new DataView(targetBytes.buffer, targetBytes.byteOffset, targetBytes.byteLength);
  const symbolBytes = (name: string): number => {
    const sym = elf.symbols.find((s) => s.name === name);
    if (!sym) throw new Error(`no symbol ${name}`);
    return elf.sections[sym.shndx].offset + sym.value;
  };
  const bitsAt = symbolBytes('g_bits');
  const expectAt = symbolBytes('g_bits_expect');
  const target = readBpfObject(targetBytes).btf;
  const bitsType = target.ownTypes().find((t) => t.kind === 'STRUCT' && t.name === 'bits');
  const names = bitsType?.kind === 'STRUCT' ? bitsType.members.map((m) => m.name) : [];
  const dry = resolveCoreRelos(object(`cases.${order}.o`), { vmlinux: target });

  it.each(names.map((n, i) => [n, i] as const))('%s', (name, i) => {
    const value = (kind: CoreReloKind): bigint => {
      const r = dry.relocations.find((x) => x.prog === 'kp_bits' && x.kind === kind && x.local?.fieldPath === name);
      if (!r || r.status !== 'resolved' || r.newValue === null) throw new Error(`${name}: kind ${kind} not resolved`);
      return r.newValue;
    };
    const off = Number(value(CoreReloKind.FIELD_BYTE_OFFSET));
    const size = Number(value(CoreReloKind.FIELD_BYTE_SIZE));
    let v = 0n;
    for (let b = 0; b < size; b++) {
      const byte = BigInt(dv.getUint8(bitsAt + off + b));
      v = le ? v | (byte << BigInt(8 * b)) : (v << 8n) | byte;
    }
    v = BigInt.asUintN(64, v << value(CoreReloKind.FIELD_LSHIFT_U64));
    const signed = value(CoreReloKind.FIELD_SIGNED) === 1n;
    v = signed ? BigInt.asIntN(64, v) >> value(CoreReloKind.FIELD_RSHIFT_U64) : v >> value(CoreReloKind.FIELD_RSHIFT_U64);
    expect(value(CoreReloKind.FIELD_EXISTS)).toBe(1n);
    expect(v).toBe(dv.getBigInt64(expectAt + 8 * i, le));
  });

  it('covers all nine members', () => {
    expect(names).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']);
  });
});

describe.each([1, 2, 3, 4, 5])('errors-%i: the object fails as with libbpf', (n) => {
  const dry = resolveCoreRelos(object(`errors-${n}.bpfel.o`), { vmlinux: targetBtf('bpfel') });
  const want = capturedLog(`errors-${n}.libbpf.log`);

  it('with libbpf\'s log and return code, and nothing after the failure', () => {
    expect(want.prepare).toBeLessThan(0);
    expect(firstLogDifference(coreLog(dry), want.lines)).toBeUndefined();
    expect(dry.result).toEqual({ open: 0, prepare: want.prepare });
    expect(dry.ok).toBe(false);
    const failed = dry.relocations.at(-1);
    expect(failed?.status).toBe('error');
    expect(failed?.error).toBe(want.prepare);
    expect(failed?.ambiguous).toBe(n <= 2);
    expect(failed?.messages.at(-1)).toMatch(/^W: failed to (relocate|patch insn #\d+): -E/);
    expect(dry.skipped.map((s) => s.reason)).toEqual(['after failure']);
    expect(dry.statusCounts).toEqual({ error: 1 });
  });
});

describe('module BTF candidates (debian 12 x86_64 6.1.0-50 with ext4, kvm, kvm_intel, nf_conntrack)', () => {
  const kernel = corpusKernels().find((k) => k.kernelRelease === '6.1.0-50-amd64' && k.arch === 'x86_64');
  let vmlinux: Btf;
  let modules: { name: string; btf: Btf }[];
  beforeAll(async () => {
    if (!kernel) throw new Error('corpus kernel 6.1.0-50-amd64 missing');
    vmlinux = await loadKernel(kernel);
    modules = await Promise.all(kernel.modules.map(async (m) => ({ name: m.name, btf: await loadModule(kernel, m) })));
  });

  /** The byte offset of `member` in the named struct of `btf`, looked up directly. */
  function memberOffset(btf: Btf, struct: string, member: string): number {
    for (let id = btf.startId; id < btf.nextId; id++) {
      const t = btf.type(id);
      if (t.kind !== 'STRUCT' || t.name !== struct) continue;
      const m = t.members.find((x) => x.name === member);
      if (m) return m.bitsOffset / 8;
    }
    throw new Error(`${struct}.${member} not in this btf`);
  }

  it('finds module-only types in the modules, in the order given, and vmlinux types only in vmlinux', () => {
    const dry = resolveCoreRelos(object('modules.bpfel.o'), { vmlinux, modules });
    const ext4 = modules.find((m) => m.name === 'ext4');
    expect(ext4).toBeDefined();
    const groups = relo(dry, 'kp_modules', 0);
    expect(groups.status).toBe('resolved');
    expect(groups.target?.btf).toBe('ext4');
    expect(groups.target?.typeId).toBeGreaterThanOrEqual(vmlinux.nextId);
    expect(Number(groups.newValue)).toBe(memberOffset(ext4?.btf as Btf, 'ext4_sb_info', 's_groups_count'));

    const caps = relo(dry, 'kp_modules', 2);
    expect(caps.candidates.map((c) => [c.btf, c.matched])).toEqual([['kvm', true], ['kvm_intel', true]]);
    expect(caps.target?.btf).toBe('kvm');

    const task = relo(dry, 'kp_modules', 3);
    expect(task.candidates.map((c) => c.btf)).toEqual(['vmlinux']);
    expect(dry.candidateCache.find((e) => e.localType === 'struct task_struct')?.candidates.map((c) => c.btf)).toEqual(['vmlinux']);

    expect(relo(dry, 'kp_modules', 4)).toMatchObject({ status: 'defaulted', newValue: 0n, candidates: [] });
  });

  it('without the modules the same types have no target', () => {
    const dry = resolveCoreRelos(object('modules.bpfel.o'), { vmlinux });
    expect(relo(dry, 'kp_modules', 0)).toMatchObject({ status: 'poisoned', candidates: [] });
    expect(relo(dry, 'kp_modules', 2)).toMatchObject({ status: 'poisoned', candidates: [] });
    expect(relo(dry, 'kp_modules', 3).status).toBe('resolved');
  });

  it('rejects module BTF that is not split BTF on the given vmlinux, and a split vmlinux', () => {
    const sameBytesOtherBtf = Btf.parse(vmlinux.bytes);
    expect(() => resolveCoreRelos(object('modules.bpfel.o'), { vmlinux: sameBytesOtherBtf, modules })).toThrow(
      expect.objectContaining({ code: 'BTF_BAD_BASE', message: expect.stringContaining("module 'ext4'") }),
    );
    expect(() => resolveCoreRelos(object('modules.bpfel.o'), { vmlinux: modules[0].btf })).toThrow(expect.objectContaining({ code: 'BTF_BAD_BASE' }));
  });
});
