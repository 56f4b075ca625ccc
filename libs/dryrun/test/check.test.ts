/**
 * The CO-RE dry run over a catalog of corpus kernels (6.1.0-47, 6.1.0-50 with modules, 6.12.117+deb13 with modules,
 * and 6.12.117's BTF filed a second time in the bookworm series): the seven objects of fixtures/core against every
 * kernel, relocation by relocation equal to libbpf 1.7's own decisions (the oracles), verdicts as the objects' C
 * sources say, the change points within a series, the field links, the grouping of kernels that share their BTF,
 * and the errors of bad selections and bad objects. One catalog for the whole file.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCatalog, type Catalog } from '@btf-atlas/catalog/read';
import { fieldHistory } from '@btf-atlas/diff';
import { unxz } from '@btf-atlas/btf';
import { CoreError } from '@btf-atlas/core';
import {
  coreCheck, coreCheckOffThread, coreMinBtf, coreMinBtfOffThread, countTargets, DryRunError, minBtfTarXz, NOT_CHECKED, workerScript, writeMinBtfTree,
  type CoreCheckAnswer, type DryRunProgress, type KernelCheckJson,
} from '../src/index.js';
import { corpusCatalog, K47, K50, K612, K612_IN_12, OBJECTS, objectBytes, oracle, oracleDir, readTar } from './support.js';

let dir: string;
let db: string;
let catalog: Catalog;
/** Every object against every kernel, with module BTF (the default) and without it (as the oracles were made). */
let answers: Map<string, CoreCheckAnswer>;
let vmlinuxOnly: Map<string, CoreCheckAnswer>;
const progress: DryRunProgress[] = [];
const progressVmlinux: DryRunProgress[] = [];

const inputs = (): { name: string; bytes: Buffer }[] => OBJECTS.map((name) => ({ name, bytes: objectBytes(name) }));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-dryrun-'));
  db = await corpusCatalog(dir, [K47, K50, K612], true);
  catalog = openCatalog(db, { readonly: true });
  const all = await coreCheck(catalog, inputs(), {}, { onProgress: (p) => progress.push(p) });
  answers = new Map(all.map((a) => [a.object.name, a]));
  const plain = await coreCheck(catalog, inputs(), {}, { modules: false, onProgress: (p) => progressVmlinux.push(p) });
  vmlinuxOnly = new Map(plain.map((a) => [a.object.name, a]));
}, 240_000);

afterAll(() => {
  catalog?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function entry(object: string, kernel: string, from = answers): KernelCheckJson {
  const a = from.get(object);
  const k = a?.kernels.find((x) => x.kernel === kernel);
  if (!k) throw new Error(`no answer for ${object} on ${kernel}`);
  return k;
}

describe('relocations equal libbpf 1.7\'s decisions', () => {
  const cases = OBJECTS.flatMap((o) => [K47, K50, K612, K612_IN_12].map((k) => [o, k] as const));
  it.each(cases)('%s on %s', async (object, kernel) => {
    const want = await oracle(kernel, object);
    for (const from of [vmlinuxOnly, answers]) {
      const got = entry(object, kernel, from);
      expect(got.result.prepare).toBe(want.result.prepare);
      // Each relocation libbpf looked at, with its status, values and poisoned instructions; every difference named.
      const diffs: string[] = [];
      expect(got.relocations).toHaveLength(want.relocations.length);
      for (const w of want.relocations) {
        const g = got.relocations.find((r) => r.section === w.section && r.idx === w.idx);
        const where = `${w.section} relo #${w.idx}`;
        if (!g) {
          diffs.push(`${where}: missing`);
          continue;
        }
        for (const [field, a, b] of [
          ['prog', g.prog, w.prog], ['kind', g.kind, w.kind_name], ['status', g.status, w.status],
          ['orig_value', g.orig_value, w.orig_value], ['new_value', g.new_value, w.new_value],
          ['poisoned_insns', g.poisoned_insns, w.poisoned_insns],
          ['patches', g.patches.map((p) => [p.insn, p.what, p.old, p.new]), w.patches.map((p) => [p.insn, p.what, p.old, p.new])],
        ] as const) {
          if (JSON.stringify(a) !== JSON.stringify(b)) diffs.push(`${where}: ${field}: got ${JSON.stringify(a)}, want ${JSON.stringify(b)}`);
        }
      }
      expect(diffs).toEqual([]);
    }
  });
});

/** What the C sources say of the programs some kernel poisons (as libs/core's verdict tests). */
const VERDICT_BY_SOURCE: Record<string, 'guarded' | 'breaks'> = {
  kp_task_state: 'guarded',
  kp_mm_cid: 'breaks',
  kp_enums: 'breaks',
  kp_broken: 'breaks',
};

describe('verdicts', () => {
  it.each(OBJECTS)('%s: per program as the sources and the oracles say, on every kernel', async (object) => {
    for (const kernel of [K47, K50, K612, K612_IN_12]) {
      const want = await oracle(kernel, object);
      const got = entry(object, kernel);
      if (want.result.prepare < 0) {
        expect(got.verdict).toBe('fails');
        expect(got.programs.every((p) => p.verdict === 'fails')).toBe(true);
        expect(got.reasons.length).toBeGreaterThan(0);
        continue;
      }
      for (const p of got.programs) {
        const poisoned = want.relocations.filter((r) => r.prog === p.name && r.status === 'poisoned');
        expect(p.verdict, `${p.name} on ${kernel}`).toBe(poisoned.length === 0 ? 'ok' : VERDICT_BY_SOURCE[p.name]);
        // Every program is a kprobe on do_nanosleep, which every kernel here has.
        expect(p.attach_target).toBe('present');
      }
    }
  });

  it('core_flavors: kp_mm_cid breaks on 6.1 (its mm_cid size read is reachable), ok on 6.12; the object as its worst program', () => {
    const on61 = entry('core_flavors', K50);
    expect(on61.programs.map((p) => [p.name, p.verdict])).toEqual([['kp_task_state', 'guarded'], ['kp_mm_cid', 'breaks']]);
    expect(on61.verdict).toBe('breaks');
    expect(on61.reason).toContain('kp_mm_cid');
    const size = on61.relocations.find((r) => r.prog === 'kp_mm_cid' && r.kind === 'FIELD_BYTE_SIZE');
    expect(size).toMatchObject({ status: 'poisoned', reachable: true, new_value: null });
    // The poisoned ___old read of kp_task_state is dead code once field_exists(__state) is patched to 1.
    const old = on61.relocations.filter((r) => r.prog === 'kp_task_state' && r.status === 'poisoned');
    expect(old.length).toBeGreaterThan(0);
    expect(old.every((r) => !r.reachable)).toBe(true);
    expect(entry('core_flavors', K612).programs.map((p) => p.verdict)).toEqual(['guarded', 'ok']);
  });

  it('core_ambiguous fails everywhere with libbpf\'s words', () => {
    for (const k of [K47, K50, K612]) {
      const e = entry('core_ambiguous', k);
      expect(e.verdict).toBe('fails');
      expect(e.result.prepare).toBe(-22);
      const failed = e.relocations.find((r) => r.status === 'error');
      expect(failed?.ambiguous).toBe(true);
      expect(e.reasons[0].message).toContain('ambiguity');
    }
  });
});

describe('the contract\'s shape', () => {
  it('object, kernels in kernel order, relocations with long kind names and reachability, not_checked', () => {
    const a = answers.get('core_flavors') as CoreCheckAnswer;
    expect(a.object.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(a.object.programs).toEqual([
      expect.objectContaining({ name: 'kp_task_state', section: 'kprobe/do_nanosleep', attach: expect.objectContaining({ kind: 'kprobe', target: 'do_nanosleep' }) }),
      expect.objectContaining({ name: 'kp_mm_cid', section: 'kprobe/do_nanosleep', attach: expect.objectContaining({ kind: 'kprobe', target: 'do_nanosleep' }) }),
    ]);
    // Kernel order: distro, release, arch, then version numbers.
    expect(a.kernels.map((k) => k.kernel)).toEqual([K47, K50, K612_IN_12, K612]);
    const k = a.kernels[1];
    expect(Object.keys(k).slice(0, 5)).toEqual(['kernel', 'verdict', 'reason', 'programs', 'relocations']);
    expect(Object.keys(k.programs[0]).slice(0, 3)).toEqual(['name', 'verdict', 'attach_target']);
    const r = k.relocations.find((x) => x.status === 'resolved' && x.kind === 'FIELD_BYTE_OFFSET') as KernelCheckJson['relocations'][number];
    expect(Object.keys(r).slice(0, 12)).toEqual(['prog', 'section', 'idx', 'insn', 'kind', 'local', 'status', 'ambiguous', 'target', 'orig_value', 'new_value', 'reachable']);
    expect(r.local).toMatchObject({ type: 'struct task_struct___new', access: '0:0', spec: 'struct task_struct___new.__state' });
    expect(r.target).toMatchObject({ type: 'struct task_struct', spec: 'struct task_struct.__state' });
    expect(k.relocations.map((x) => x.kind)).toContain('FIELD_EXISTS');
    for (const x of k.relocations) expect(typeof x.reachable).toBe('boolean');
    expect(a.not_checked).toEqual(NOT_CHECKED);
    expect(a.not_checked.slice(0, 3)).toEqual(['verifier', 'helpers and map types', 'inlining']);
    expect(k.series).toBe('debian/12/x86_64/amd64');
    expect(k.modules).toEqual(['ext4', 'kvm', 'kvm_intel', 'nf_conntrack']);
    expect(entry('core_flavors', K47).modules).toEqual([]);
  });
});

describe('change points', () => {
  it('within a series: kp_mm_cid breaks until 6.1.0-50, ok from 6.12.117 (bookworm); nothing between 6.1.0-47 and -50', () => {
    const a = answers.get('core_flavors') as CoreCheckAnswer;
    expect(a.changes).toEqual([{
      from: K50, to: K612_IN_12, series: 'debian/12/x86_64/amd64', program: 'kp_mm_cid',
      before: { verdict: 'breaks' }, after: { verdict: 'ok' },
      text: 'kp_mm_cid: breaks until 6.1.0-50-amd64, ok from 6.12.117+deb13-amd64',
    }]);
    const enums = answers.get('core_types_enums') as CoreCheckAnswer;
    expect(enums.changes.map((c) => c.text)).toEqual(['kp_enums: breaks until 6.1.0-50-amd64, ok from 6.12.117+deb13-amd64']);
    // Objects whose verdicts never move have none.
    expect((answers.get('core_chain') as CoreCheckAnswer).changes).toEqual([]);
    expect((answers.get('core_ambiguous') as CoreCheckAnswer).changes).toEqual([]);
  });

  it('timeline: each program along the x86_64/amd64 line across releases, in one sentence', () => {
    const a = answers.get('core_flavors') as CoreCheckAnswer;
    const cid = a.timelines.find((t) => t.program === 'kp_mm_cid');
    expect(cid?.timeline).toHaveLength(1);
    expect(cid?.timeline[0].spans.map((s) => [s.value.verdict, s.count])).toEqual([['breaks', 2], ['ok', 2]]);
    expect(cid?.summary).toBe('kp_mm_cid on x86_64: breaks from 6.1.0-47-amd64 to 6.1.0-50-amd64, ok from 6.12.117+deb13-amd64 to 6.12.117+deb13-amd64');
  });
});

describe('field links', () => {
  it('a field relocation without a target links to that field\'s history under the essential struct name', () => {
    const r = entry('core_flavors', K50).relocations.filter((x) => x.prog === 'kp_mm_cid' && x.status !== 'resolved');
    expect(r.length).toBeGreaterThan(0);
    for (const x of r) expect(x.field).toEqual({ path: 'task_struct.mm_cid', command: 'btf-atlas field task_struct.mm_cid', url: '/v1/fields/task_struct.mm_cid' });
    // The ___old flavour's `state` is task_struct.state.
    const old = entry('core_flavors', K50).relocations.find((x) => x.local?.type === 'struct task_struct___old');
    expect(old?.field?.path).toBe('task_struct.state');
    // Resolved relocations carry no link.
    expect(entry('core_chain', K50).relocations.every((x) => x.field === undefined)).toBe(true);
    // The link is a field path the catalog answers: mm_cid missing on 6.1, present on 6.12.
    const h = fieldHistory(catalog, 'task_struct.mm_cid');
    expect(h.kernels.find((k) => k.kernel === K50)?.status).toBe('missing_field');
    expect(h.kernels.find((k) => k.kernel === K612)?.status).toBe('present');
  });
});

describe('work per distinct btf', () => {
  it('kernels with the same vmlinux (and module) btf are loaded and resolved once', () => {
    // With modules: 6.12.117 in bookworm has none, so it is a group of its own: 4 groups.
    expect(progress.map((p) => p.kernels)).toEqual([[K47], [K50], [K612_IN_12], [K612]]);
    // vmlinux only: both 6.12.117 kernels are one load. 6.1.0-50 has its own load (the structs most objects read are
    // not 6.1.0-47's), but core_ambiguous's answer there comes from 6.1.0-47's: the same two `struct controller`.
    expect(progressVmlinux.map((p) => p.kernels)).toEqual([[K47, K50], [K50], [K612_IN_12, K612]]);
    expect(entry('core_ambiguous', K50, vmlinuxOnly).resolved_on).toBe(K47);
    expect(progressVmlinux.at(-1)).toMatchObject({ done: 3, total: 3 });
    expect(countTargets(catalog, {}, { modules: false })).toEqual({ kernels: 4, targets: 3 });
    // The two share one answer body; only kernel and series differ.
    const a = entry('core_chain', K612_IN_12, vmlinuxOnly);
    const b = entry('core_chain', K612, vmlinuxOnly);
    expect(a.relocations).toBe(b.relocations);
    expect([a.series, b.series]).toEqual(['debian/12/x86_64/amd64', 'debian/13/x86_64/amd64']);
  });
});

describe('selections and bad input', () => {
  it('--kernel selects one kernel; a filter selects its kernels', async () => {
    const [one] = await coreCheck(catalog, [{ name: 'core_chain', bytes: objectBytes('core_chain') }], { kernel: K612 });
    expect(one.kernels.map((k) => k.kernel)).toEqual([K612]);
    expect(one.kernels[0]).toEqual(entry('core_chain', K612));
    const [rel13] = await coreCheck(catalog, [{ name: 'core_chain', bytes: objectBytes('core_chain') }], { distro: 'debian', release: '13' });
    expect(rel13.kernels.map((k) => k.kernel)).toEqual([K612]);
  });

  it('typed errors: unknown kernel, unmatched filter, KREF with a filter, bad objects', async () => {
    const obj = [{ name: 'core_chain.bpf.o', bytes: objectBytes('core_chain') }];
    const unknown = await coreCheck(catalog, obj, { kernel: 'debian/12/x86_64/6.1.0-49-amd64' }).catch((e: unknown) => e);
    expect(unknown).toMatchObject({ name: 'CatalogError', code: 'KERNEL_NOT_FOUND' });
    expect((unknown as { suggestions: string[] }).suggestions).toContain(K47);
    await expect(coreCheck(catalog, obj, { arch: 'arm64' })).rejects.toMatchObject({ code: 'NO_MATCHING_KERNELS' });
    await expect(coreCheck(catalog, obj, { kernel: K50, arch: 'x86_64' })).rejects.toMatchObject({ code: 'DRYRUN_BAD_SELECTION' });
    await expect(coreCheck(catalog, obj, { kernel: 'not-a-kref' })).rejects.toMatchObject({ code: 'CATALOG_BAD_KREF' });
    await expect(coreCheck(catalog, [], {})).rejects.toBeInstanceOf(DryRunError);

    const notElf = await coreCheck(catalog, [{ name: 'notes.txt', bytes: Buffer.from('hello, not an object') }], {}).catch((e: unknown) => e);
    expect(notElf).toBeInstanceOf(CoreError);
    expect(notElf).toMatchObject({ code: 'CORE_NOT_ELF', source: 'notes.txt' });
    // An x86-64 relocatable ELF header: ELF, but not BPF.
    const x86 = Buffer.alloc(64);
    x86.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
    x86.writeUInt16LE(1, 16);
    x86.writeUInt16LE(62, 18);
    x86.writeUInt32LE(1, 20);
    x86.writeUInt16LE(64, 52);
    await expect(coreCheck(catalog, [{ name: 'x86.o', bytes: x86 }], {})).rejects.toMatchObject({ code: 'CORE_NOT_BPF' });
    // No .BTF.ext: no relocations, still programs to judge.
    const [plain] = await coreCheck(catalog, [{ name: 'plain.o', bytes: readFileSync(new URL('./fixtures/core_chain.no-btf-ext.bpf.o', import.meta.url)) }], { kernel: K50 });
    expect(plain.object.relocations).toBe(0);
    expect(plain.kernels[0].relocations).toEqual([]);
    expect(plain.kernels[0].programs.map((p) => [p.name, p.verdict, p.attach_target])).toEqual([['kp_task_chain', 'ok', 'present'], ['kp_skb_len', 'ok', 'present']]);
    // A cut-off object.
    await expect(coreCheck(catalog, [{ name: 'cut.o', bytes: objectBytes('core_chain').subarray(0, 200) }], {})).rejects.toBeInstanceOf(CoreError);
  });
});

describe('off the event loop', () => {
  it('a worker thread gives the same answer, and the same typed errors', async () => {
    expect(workerScript()).toBeDefined();
    const input = [{ name: 'core_flavors', bytes: objectBytes('core_flavors') }];
    const seen: DryRunProgress[] = [];
    const [got] = await coreCheckOffThread(db, input, { distro: 'debian', release: '12' }, { onProgress: (p) => seen.push(p) });
    const want = answers.get('core_flavors') as CoreCheckAnswer;
    expect(got.kernels).toEqual(want.kernels.filter((k) => k.kernel.startsWith('debian/12/')));
    expect(got.changes).toEqual(want.changes);
    expect(seen.map((p) => p.done)).toEqual([1, 2, 3]);
    const err = await coreCheckOffThread(db, input, { kernel: 'debian/12/x86_64/6.1.0-4-amd64' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'CatalogError', code: 'KERNEL_NOT_FOUND' });
    const bad = await coreCheckOffThread(db, [{ name: 'x.o', bytes: Buffer.from('nope') }], {}).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(CoreError);
    expect(bad).toMatchObject({ code: 'CORE_NOT_ELF' });
  });
});

describe('minimized btf per kernel', () => {
  it('equals bpftool gen min_core_btf\'s per kernel; laid out as btfhub-archive; the same bytes twice', async () => {
    const input = [{ name: 'core_flavors', bytes: objectBytes('core_flavors') }];
    const { files, failed } = await coreMinBtf(catalog, input, {});
    expect(failed).toEqual([]);
    expect(files.map((f) => f.path)).toEqual([K47, K50, K612_IN_12, K612].map((k) => `${k}.btf`));
    for (const f of files) expect(Buffer.from(f.bytes).equals(readFileSync(join(oracleDir(f.kernel), 'core_flavors.min.btf'))), f.kernel).toBe(true);

    const tarXz = await minBtfTarXz(files);
    expect(Buffer.from(tarXz.subarray(0, 6)).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))).toBe(true);
    const members = readTar(await unxz(tarXz));
    expect(members.map((m) => m.name)).toEqual(files.map((f) => f.path));
    members.forEach((m, i) => expect(Buffer.from(m.bytes).equals(Buffer.from(files[i].bytes))).toBe(true));
    expect(members.every((m) => m.mode === '0000444' && Number.parseInt(m.mtime, 8) === 0)).toBe(true);
    // Again, and again off the event loop: byte for byte the same.
    const again = await minBtfTarXz((await coreMinBtf(catalog, input, {})).files);
    expect(Buffer.from(again).equals(Buffer.from(tarXz))).toBe(true);
    const off = await coreMinBtfOffThread(db, input, {});
    expect(Buffer.from(await minBtfTarXz(off.files)).equals(Buffer.from(tarXz))).toBe(true);

    const out = join(dir, 'min-out');
    const written = writeMinBtfTree(out, files.slice(0, 2));
    expect(written).toEqual([join(out, 'debian/12/x86_64/6.1.0-47-amd64.btf'), join(out, 'debian/12/x86_64/6.1.0-50-amd64.btf')]);
    expect(readFileSync(written[1]).equals(Buffer.from(files[1].bytes))).toBe(true);
  });

  it('an object libbpf cannot relocate (ambiguous) fails the run naming the kernel, or is left out with skipFailed', async () => {
    const input = [{ name: 'core_ambiguous', bytes: objectBytes('core_ambiguous') }];
    const err = await coreMinBtf(catalog, input, { kernel: K50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DryRunError);
    expect(err).toMatchObject({ code: 'DRYRUN_MIN_BTF' });
    expect((err as Error).message).toContain(K50);
    expect((err as Error).message).toContain('CORE_MIN_BTF_RELO');
    const skipped = await coreMinBtf(catalog, input, { release: '12' }, { skipFailed: true });
    expect(skipped.files).toEqual([]);
    expect(skipped.failed.map((f) => [f.kernel, f.code])).toEqual([K47, K50, K612_IN_12].map((k) => [k, 'CORE_MIN_BTF_RELO']));
  });
});
