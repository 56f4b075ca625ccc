/**
 * Minimized BTF against `bpftool gen min_core_btf` (bpftool 7.5) on the CO-RE corpus: for every object of
 * fixtures/core/objects and every kernel with oracles (fixtures/core/oracle/DISTRO/RELEASE/ARCH/KREL):
 * - where bpftool succeeded (summary.json exit 0), the bytes equal its `X.min.btf`, the types (kind and name, in
 *   order) equal its raw dump `X.min.raw.json.xz`, and relocating against them decides as against the full BTF;
 * - where it failed, minimizeBtf throws CORE_MIN_BTF_RELO for the same relocation libbpf rejects;
 * - the output passes libs/btf's validator and is the same twice, whatever the order of the objects.
 * One kernel load per kernel for the whole file.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { Btf, unxz, validateBtf } from '@btf-atlas/btf';
import { corpusKernels, firstDifference, loadKernel, type CorpusKernel } from '../../btf/test/support/corpus.js';
import {
  CoreError, CoreErrorCode, CoreReloKind, minimizeBtf, readBpfObject, resolveCoreRelos, writeBtf, type BpfObject, type CoreDryRun,
  type CoreRelo,
} from '../src/index.js';

const CORE_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../fixtures/core');
const OBJECTS = readdirSync(join(CORE_DIR, 'objects')).filter((f) => f.endsWith('.bpf.o')).map((f) => f.slice(0, -'.bpf.o'.length)).sort();

function oracleDir(k: CorpusKernel): string {
  return join(CORE_DIR, 'oracle', k.distro, k.release, k.arch, k.kernelRelease);
}

const KERNELS = corpusKernels().filter((k) => existsSync(oracleDir(k)));

function object(name: string): BpfObject {
  return readBpfObject(readFileSync(join(CORE_DIR, 'objects', `${name}.bpf.o`)));
}

interface SummaryEntry {
  object: string;
  prepare: number;
  min_core_btf: { exit: number; stderr: string[] };
}

function summary(k: CorpusKernel, name: string): SummaryEntry {
  const s = JSON.parse(readFileSync(join(oracleDir(k), 'summary.json'), 'utf8')) as { objects: SummaryEntry[] };
  const e = s.objects.find((o) => o.object === `objects/${name}.bpf.o`);
  if (!e) throw new Error(`${k.kernelRelease}: summary.json has no entry for ${name}`);
  return e;
}

/** What must not change when the target is the minimized BTF: per relocation status, patches and values. */
function decisions(dry: CoreDryRun): unknown[] {
  return [
    dry.result,
    dry.ok,
    dry.skipped.map((s) => [s.section, s.idx, s.reason]),
    ...dry.relocations.map((r) => [
      r.section, r.idx, r.prog, r.status, r.noTarget, r.ambiguous, r.poisonedInsns, r.error ?? null,
      // TYPE_ID_TARGET's value is a type id of the BTF relocated against: only whether it is 0 must agree.
      r.kind === CoreReloKind.TYPE_ID_TARGET ? r.newValue !== 0n : r.newValue,
      r.origValue,
      r.patches.map((p) => [p.insn, p.what, p.old, r.kind === CoreReloKind.TYPE_ID_TARGET ? p.new !== 0n : p.new]),
      // The target's access string numbers its members: dropped members renumber them, so it is not compared.
      r.target ? [r.target.fieldPath ?? null, r.target.offset ?? null, r.target.bit ?? null, r.target.enumerator ?? null, r.target.enumValue ?? null] : null,
    ]),
  ];
}

/** `KIND name` of every type, in id order, as bpftool's raw dump spells them. */
function typeLabels(btf: Btf): string[] {
  return btf.ownTypes().map((t) => `${t.kind} ${t.name === '' ? '(anon)' : t.name}`);
}

/** Validation as the kernel would judge a BTF load; an empty minimized BTF (no relocation matched) has no type section, which only BPF_BTF_LOAD refuses. */
function validate(btf: Btf): void {
  validateBtf(btf, { skipResolve: btf.ownTypeCount === 0 });
}

describe('oracle fixtures', () => {
  it('have bpftool output for every object and kernel where its summary says it succeeded', () => {
    expect(KERNELS.length).toBe(3);
    for (const k of KERNELS) {
      for (const name of OBJECTS) {
        expect(existsSync(join(oracleDir(k), `${name}.min.btf`)), `${name} on ${k.kernelRelease}`).toBe(summary(k, name).min_core_btf.exit === 0);
      }
    }
  });
});

describe.each(KERNELS)('bpftool gen min_core_btf on $distro/$release/$arch/$kernelRelease', (k) => {
  let vmlinux: Btf;
  beforeAll(async () => {
    vmlinux = await loadKernel(k);
  });

  const succeeded = OBJECTS.filter((name) => existsSync(join(oracleDir(k), `${name}.min.btf`)));
  const failed = OBJECTS.filter((name) => !succeeded.includes(name));

  it.each(succeeded)('%s: the same bytes as bpftool', (name) => {
    const got = minimizeBtf([object(name)], { vmlinux });
    const want = readFileSync(join(oracleDir(k), `${name}.min.btf`));
    const d = firstDifference(got, want);
    expect(d, d).toBeUndefined();
  });

  it.each(succeeded)('%s: the same types as bpftool\'s raw dump, valid BTF', async (name) => {
    const min = Btf.parse(minimizeBtf([object(name)], { vmlinux }));
    const raw = JSON.parse(Buffer.from(await unxz(readFileSync(join(oracleDir(k), `${name}.min.raw.json.xz`)))).toString('utf8')) as {
      types: { kind: string; name: string }[];
    };
    expect(typeLabels(min)).toEqual(raw.types.map((t) => `${t.kind} ${t.name}`));
    expect(() => validate(min)).not.toThrow();
    expect(min.ownTypeCount).toBeLessThan(vmlinux.ownTypeCount / 10);
  });

  it.each(OBJECTS)('%s: relocating against the minimized BTF decides as against the full BTF', (name) => {
    const obj = object(name);
    const full = resolveCoreRelos(obj, { vmlinux });
    let bytes: Uint8Array;
    try {
      bytes = minimizeBtf([obj], { vmlinux });
    } catch (err) {
      // Only where libbpf itself fails the object (and bpftool with it).
      expect(full.result.prepare).toBeLessThan(0);
      expect(err).toBeInstanceOf(CoreError);
      return;
    }
    expect(full.relocations.length).toBeGreaterThan(0);
    const min = resolveCoreRelos(obj, { vmlinux: Btf.parse(bytes) });
    expect(decisions(min)).toEqual(decisions(full));
  });

  it.each(failed)('%s: fails with CORE_MIN_BTF_RELO where bpftool failed, naming the relocation', (name) => {
    const s = summary(k, name);
    expect(s.min_core_btf.exit).not.toBe(0);
    const full = resolveCoreRelos(object(name), { vmlinux });
    const bad = full.relocations.find((r) => r.status === 'error');
    expect(bad).toBeDefined();
    let caught: unknown;
    try {
      minimizeBtf([object(name)], { vmlinux });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CoreError);
    const err = caught as CoreError;
    expect(err.code).toBe(CoreErrorCode.MinBtfRelo);
    expect(err.section).toBe(bad?.section);
    expect(err.offset).toBe(bad?.insnOff);
    // bpftool prints libbpf's reason first: the same words.
    const reason = /field offset ambiguity: \d+ != \d+/.exec(s.min_core_btf.stderr.join('\n'));
    expect(reason).not.toBeNull();
    expect(err.message).toContain(reason?.[0]);
  });

  it('all objects at once: one BTF that serves each of them, the union of their types, in any order', () => {
    const names = succeeded;
    const objs = names.map(object);
    const together = minimizeBtf(objs, { vmlinux });
    expect(Buffer.from(minimizeBtf([...objs].reverse(), { vmlinux })).equals(Buffer.from(together))).toBe(true);
    const min = Btf.parse(together);
    expect(() => validate(min)).not.toThrow();
    const labels = new Set(typeLabels(min));
    let sum = 0;
    for (const obj of objs) {
      const own = Btf.parse(minimizeBtf([obj], { vmlinux }));
      sum += own.ownTypeCount;
      for (const l of typeLabels(own)) expect(labels.has(l), l).toBe(true);
      expect(decisions(resolveCoreRelos(obj, { vmlinux: min }))).toEqual(decisions(resolveCoreRelos(obj, { vmlinux })));
    }
    expect(min.ownTypeCount).toBeLessThanOrEqual(sum);
  });

  it('is deterministic: the same bytes from a second run on a fresh parse of the kernel', () => {
    const objs = succeeded.map(object);
    const again = Btf.parse(vmlinux.bytes);
    expect(Buffer.from(minimizeBtf(objs, { vmlinux: again })).equals(Buffer.from(minimizeBtf(objs, { vmlinux })))).toBe(true);
  });
});

describe('what is kept (debian 12 x86_64 6.1.0-50)', () => {
  const k = KERNELS.find((x) => x.kernelRelease === '6.1.0-50-amd64') as CorpusKernel;
  let vmlinux: Btf;
  let min: Btf;
  beforeAll(async () => {
    vmlinux = await loadKernel(k);
    min = Btf.parse(minimizeBtf([object('core_chain')], { vmlinux }));
  });

  function byName(btf: Btf, kind: string, name: string) {
    const t = btf.ownTypes().find((x) => x.kind === kind && x.name === name);
    if (!t) throw new Error(`no ${kind} ${name}`);
    return t;
  }

  it('keeps only the accessed members of a struct, at their offsets, and the struct\'s size', () => {
    const full = byName(vmlinux, 'STRUCT', 'task_struct');
    const got = byName(min, 'STRUCT', 'task_struct');
    if (full.kind !== 'STRUCT' || got.kind !== 'STRUCT') throw new Error('not structs');
    expect(got.size).toBe(full.size);
    // kind_flag only when a kept member needs it (libbpf btf__add_field): task_struct has bitfields, none kept here.
    expect([full.kindFlag, got.kindFlag]).toEqual([true, false]);
    expect(got.members.map((m) => m.name)).toEqual(['mm', 'pid', 'tgid', 'real_parent', 'comm']);
    for (const m of got.members) {
      expect(m.bitsOffset).toBe(full.members.find((f) => f.name === m.name)?.bitsOffset);
    }
  });

  it('a pointer member points at its struct when a relocation keeps that struct, else at void', () => {
    const task = byName(min, 'STRUCT', 'task_struct');
    if (task.kind !== 'STRUCT') throw new Error('not a struct');
    const parent = min.type(task.members.find((m) => m.name === 'real_parent')?.type ?? 0);
    expect(parent.kind).toBe('PTR');
    if (parent.kind === 'PTR') expect(min.type(parent.type).name).toBe('task_struct');
    // sk_buff.dev is read (dev->ifindex): net_device is kept with one member.
    const dev = byName(min, 'STRUCT', 'net_device');
    if (dev.kind === 'STRUCT') expect(dev.members.map((m) => m.name)).toEqual(['ifindex']);
    // No pointer may dangle.
    for (const t of min.ownTypes()) {
      if (t.kind === 'PTR') expect(t.type === 0 || min.hasType(t.type)).toBe(true);
    }
  });

  it('a pointer member whose target no relocation keeps becomes void * (bpftool does not follow pointers of fields)', () => {
    const obj = object('core_chain');
    const full = resolveCoreRelos(obj, { vmlinux });
    const mm = full.relocations.find((r) => r.target?.type === 'struct task_struct' && r.target.fieldPath === 'mm');
    if (!mm) throw new Error('core_chain reads task->mm');
    const only = { ...obj, coreRelos: obj.coreRelos.filter((r) => r.section === mm.section && r.index === mm.idx) };
    const alone = Btf.parse(minimizeBtf([only], { vmlinux }));
    expect(typeLabels(alone)).toEqual(['STRUCT task_struct', 'PTR (anon)']);
    const task = alone.type(1);
    if (task.kind !== 'STRUCT') throw new Error('not a struct');
    expect(task.members.map((m) => [m.name, m.type])).toEqual([['mm', 2]]);
    expect(alone.type(2)).toMatchObject({ kind: 'PTR', type: 0 });
  });

  it('TYPE_EXISTS follows pointers: a typedef of a pointer keeps the pointed-to struct, without members', () => {
    // A local `typedef struct page *pgtable_t` (x86's) and one bpf_core_type_exists(pgtable_t) record.
    const local = Btf.parse(writeBtf([
      { kind: 'STRUCT', id: 1, name: 'page', nameOff: 0, kindFlag: false, size: 0, members: [] },
      { kind: 'PTR', id: 2, name: '', nameOff: 0, kindFlag: false, type: 1 },
      { kind: 'TYPEDEF', id: 3, name: 'pgtable_t', nameOff: 0, kindFlag: false, type: 2 },
    ]));
    const relo: CoreRelo = { section: 'kprobe/x', index: 0, insnOff: 0, typeId: 3, access: '0', kind: CoreReloKind.TYPE_EXISTS };
    const obj: BpfObject = {
      littleEndian: true, btf: local, programs: [], sections: new Map(), coreRelos: [relo], externs: [], maps: [],
      btfExt: {
        header: { littleEndian: true, version: 1, flags: 0, hdrLen: 32, funcInfoOff: 0, funcInfoLen: 0, lineInfoOff: 0, lineInfoLen: 0, coreReloOff: 0, coreReloLen: 16 },
        recordSizes: { funcInfo: 0, lineInfo: 0, coreRelo: 16 }, funcInfo: [], lineInfo: [], coreRelos: [relo],
      },
    };
    const min = Btf.parse(minimizeBtf([obj], { vmlinux }));
    // In vmlinux's id order: the typedef, its pointer, then struct page.
    expect(typeLabels(min)).toEqual(['TYPEDEF pgtable_t', 'PTR (anon)', 'STRUCT page']);
    expect(min.type(1)).toMatchObject({ kind: 'TYPEDEF', type: 2 });
    expect(min.type(2)).toMatchObject({ kind: 'PTR', type: 3 });
    const page = byName(vmlinux, 'STRUCT', 'page');
    expect(min.type(3)).toMatchObject({ kind: 'STRUCT', size: page.kind === 'STRUCT' ? page.size : -1, members: [] });
  });
});
