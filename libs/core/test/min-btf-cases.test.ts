/**
 * Minimized BTF on the hand-made CO-RE objects of fixtures/relo (C sources there): bitfields, arrays, anonymous
 * members, enums, TYPE_MATCHES, a `?` program, both byte orders, module-only types, and each way libbpf refuses an
 * object. The corpus comparison with bpftool itself is min-btf.test.ts.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { Btf, validateBtf } from '@btf-atlas/btf';
import { corpusKernels, loadKernel, loadModule } from '../../btf/test/support/corpus.js';
import {
  CoreError, CoreErrorCode, CoreReloKind, minimizeBtf, readBpfObject, resolveCoreRelos, type BpfObject, type CoreDryRun, type CoreTarget,
} from '../src/index.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/relo');

function object(name: string): BpfObject {
  return readBpfObject(readFileSync(join(FIX, name)));
}

/** Per relocation what must not change when relocating against the minimized BTF (see min-btf.test.ts). */
function decisions(dry: CoreDryRun): unknown[] {
  return [
    dry.result,
    dry.skipped.map((s) => [s.section, s.idx, s.reason]),
    ...dry.relocations.map((r) => [
      r.section, r.idx, r.status, r.ambiguous, r.poisonedInsns, r.error ?? null,
      r.kind === CoreReloKind.TYPE_ID_TARGET ? r.newValue !== 0n : r.newValue,
      r.patches.map((p) => [p.insn, p.what, p.old, r.kind === CoreReloKind.TYPE_ID_TARGET ? p.new !== 0n : p.new]),
      r.target ? [r.target.fieldPath ?? null, r.target.offset ?? null, r.target.bit ?? null, r.target.enumValue ?? null] : null,
    ]),
  ];
}

function caught(fn: () => unknown): CoreError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CoreError) return err;
    throw err;
  }
  throw new Error('expected a CoreError');
}

/**
 * The object without the relocations bpftool cannot record (CORE_MIN_BTF_KIND), found one at a time as the
 * errors name them, with the list of what was dropped.
 */
function withoutUnkeepable(obj: BpfObject, target: CoreTarget): { obj: BpfObject; dropped: string[] } {
  const dropped: string[] = [];
  let cur = obj;
  for (;;) {
    try {
      minimizeBtf([cur], target);
      return { obj: cur, dropped };
    } catch (err) {
      if (!(err instanceof CoreError) || err.code !== CoreErrorCode.MinBtfKind) throw err;
      const { section, offset } = err;
      const before = cur.coreRelos.length;
      const rest = cur.coreRelos.filter((r) => !(r.section === section && r.insnOff === offset && err.message.includes(`relo #${r.index} `)));
      expect(rest.length).toBe(before - 1);
      dropped.push(`${section}#${cur.coreRelos.find((r) => !rest.includes(r))?.index}`);
      cur = { ...cur, coreRelos: rest };
    }
  }
}

describe.each(['bpfel', 'bpfeb'] as const)('hand-made cases (%s)', (order) => {
  const target = object(`target.${order}.o`).btf;
  const cases = object(`cases.${order}.o`);

  it('fails like bpftool on a TYPE_EXISTS of a forward declaration: CORE_MIN_BTF_KIND naming the relocation', () => {
    const err = caught(() => minimizeBtf([cases], { vmlinux: target }));
    expect(err.code).toBe(CoreErrorCode.MinBtfKind);
    expect(err.section).toBe('kprobe/types');
    expect(err.message).toMatch(/relo #0 \(type_exists\): target type \[\d+\] fwd 'fwd_only' is of a kind min_core_btf cannot keep/);
  });

  it('without those records, relocating against the minimized BTF decides every record as against the full one', () => {
    const { obj, dropped } = withoutUnkeepable(cases, { vmlinux: target });
    // struct fwd_only is a forward declaration in target.c: TYPE_EXISTS, TYPE_SIZE and TYPE_ID_TARGET of it.
    expect(dropped.every((d) => d.startsWith('kprobe/types#'))).toBe(true);
    expect(dropped.length).toBeGreaterThan(0);
    const bytes = minimizeBtf([obj], { vmlinux: target });
    const min = Btf.parse(bytes);
    expect(min.littleEndian).toBe(order === 'bpfel');
    expect(() => validateBtf(min)).not.toThrow();
    expect(min.ownTypeCount).toBeLessThan(target.ownTypeCount);
    const full = resolveCoreRelos(obj, { vmlinux: target });
    expect(full.relocations.length).toBeGreaterThan(50);
    expect(decisions(resolveCoreRelos(obj, { vmlinux: min }))).toEqual(decisions(full));
  });

  it('keeps the types of a program libbpf does not load (bpftool reads every .BTF.ext record)', () => {
    const { obj } = withoutUnkeepable(cases, { vmlinux: target });
    const optional = obj.coreRelos.filter((r) => r.section === '?kprobe/optional');
    expect(optional.length).toBeGreaterThan(0);
    const only = { ...obj, coreRelos: optional };
    expect(resolveCoreRelos(only, { vmlinux: target }).skipped.map((r) => r.reason)).toEqual(optional.map(() => 'not autoloaded'));
    // kp_optional reads FIELD(a->m, 1): struct arr is kept with that one member.
    const min = Btf.parse(minimizeBtf([only], { vmlinux: target }));
    const arr = min.ownTypes().find((t) => t.kind === 'STRUCT' && t.name === 'arr');
    expect(arr?.kind === 'STRUCT' ? arr.members.map((m) => m.name) : arr).toEqual(['m']);
  });
});

describe('objects libbpf refuses (fixtures/relo/errors.c)', () => {
  const target = object('target.bpfel.o').btf;

  it.each([
    ['errors-1', /field offset ambiguity: \d+ != \d+/],
    ['errors-2', /relocation decision ambiguity: \d+ != \d+/],
    ['errors-3', /-E2BIG: .*can't be satisfied for bitfield/],
    ['errors-5', /-EINVAL: .*can't be applied to array access/],
  ])('%s: CORE_MIN_BTF_RELO where libbpf fails the relocation, with libbpf\'s reason', (name, reason) => {
    const obj = object(`${name}.bpfel.o`);
    const bad = resolveCoreRelos(obj, { vmlinux: target }).relocations.find((r) => r.status === 'error');
    expect(bad).toBeDefined();
    const err = caught(() => minimizeBtf([obj], { vmlinux: target }));
    expect(err.code).toBe(CoreErrorCode.MinBtfRelo);
    expect([err.section, err.offset, err.typeId]).toEqual([bad?.section, bad?.insnOff, obj.coreRelos[0].typeId]);
    expect(err.message).toMatch(reason);
  });

  it('errors-4: an offset no instruction can hold fails only when patching, which min_core_btf does not do', () => {
    const obj = object('errors-4.bpfel.o');
    const full = resolveCoreRelos(obj, { vmlinux: target });
    expect(full.result.prepare).toBe(-34);
    const min = Btf.parse(minimizeBtf([obj], { vmlinux: target }));
    expect(decisions(resolveCoreRelos(obj, { vmlinux: min }))).toEqual(decisions(full));
  });

  it('an object without .BTF.ext: CORE_NO_BTF_EXT', () => {
    const obj = { ...object('errors-1.bpfel.o'), btfExt: undefined, coreRelos: [] };
    expect(caught(() => minimizeBtf([obj], { vmlinux: target })).code).toBe(CoreErrorCode.NoBtfExt);
  });

  it('no objects, or nothing matched: an empty BTF (header and the empty string)', () => {
    const empty = minimizeBtf([], { vmlinux: target });
    expect(empty.length).toBe(25);
    expect(Btf.parse(empty).ownTypeCount).toBe(0);
  });
});

describe('module BTF (debian 12 x86_64 6.1.0-50 with ext4, kvm, kvm_intel, nf_conntrack)', () => {
  const kernel = corpusKernels().find((k) => k.kernelRelease === '6.1.0-50-amd64' && k.arch === 'x86_64');
  if (!kernel) throw new Error('corpus kernel 6.1.0-50-amd64 missing');
  let vmlinux: Btf;
  let modules: { name: string; btf: Btf }[];
  beforeAll(async () => {
    vmlinux = await loadKernel(kernel);
    modules = await Promise.all(kernel.modules.map(async (m) => ({ name: m.name, btf: await loadModule(kernel, m) })));
  });

  it('copies the module types relocations matched into the one BTF, after the vmlinux ones', () => {
    const min = Btf.parse(minimizeBtf([object('modules.bpfel.o')], { vmlinux, modules }));
    const names = min.ownTypes().map((t) => `${t.kind} ${t.name}`);
    const task = names.indexOf('STRUCT task_struct');
    expect(task).toBeGreaterThanOrEqual(0);
    expect(names.indexOf('STRUCT ext4_sb_info')).toBeGreaterThan(task);
    expect(names.indexOf('STRUCT kvm_caps')).toBeGreaterThan(names.indexOf('STRUCT ext4_sb_info'));
    // kvm and kvm_intel both define kvm_caps and both match; like bpftool, only the first match (kvm's) is kept.
    const withCaps = modules.filter((m) => m.btf.ownTypes().some((t) => t.kind === 'STRUCT' && t.name === 'kvm_caps'));
    expect(withCaps.map((m) => m.name)).toEqual(['kvm', 'kvm_intel']);
    expect(names.filter((n) => n === 'STRUCT kvm_caps')).toHaveLength(1);
    expect(() => validateBtf(min)).not.toThrow();
    // A module member of a vmlinux type points at the kept vmlinux type.
    const sbi = min.ownTypes().find((t) => t.kind === 'STRUCT' && t.name === 'ext4_sb_info');
    if (sbi?.kind !== 'STRUCT') throw new Error('no ext4_sb_info');
    expect(sbi.members.map((m) => [m.name, min.type(m.type).name])).toEqual([
      ['s_inodes_per_block', 'long unsigned int'],
      ['s_groups_count', 'ext4_group_t'],
    ]);
  });

  it('relocating against it alone decides as against vmlinux and the modules', () => {
    const obj = object('modules.bpfel.o');
    const min = Btf.parse(minimizeBtf([obj], { vmlinux, modules }));
    const full = resolveCoreRelos(obj, { vmlinux, modules });
    expect(full.relocations.filter((r) => r.target?.btf === 'ext4').length).toBeGreaterThan(0);
    expect(decisions(resolveCoreRelos(obj, { vmlinux: min }))).toEqual(decisions(full));
  });

  it('without the modules, only what vmlinux has', () => {
    const min = Btf.parse(minimizeBtf([object('modules.bpfel.o')], { vmlinux }));
    const names = min.ownTypes().map((t) => t.name);
    expect(names).toContain('task_struct');
    expect(names).not.toContain('ext4_sb_info');
  });

  it('rejects a target whose modules are not split BTF on its vmlinux', () => {
    const other = Btf.parse(vmlinux.bytes);
    expect(() => minimizeBtf([object('modules.bpfel.o')], { vmlinux: other, modules })).toThrow(expect.objectContaining({ code: 'BTF_BAD_BASE' }));
  });
});
