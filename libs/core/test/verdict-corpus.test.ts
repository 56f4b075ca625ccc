/**
 * Verdicts of the real objects of fixtures/core/objects on the corpus kernels that have CO-RE oracles. The
 * expectations come from the objects' C sources (fixtures/core/objects/*.bpf.c) and from the oracles' relocation
 * statuses, not from the implementation: e.g. `core_flavors` on 6.1 poisons the `task_struct___old.state` read,
 * which sits in the `else` of a `bpf_core_field_exists(__state)` test that 6.1 answers 1 (guarded), and poisons
 * `bpf_core_field_size(c->mm_cid)`, which is outside any test (breaks).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { unxz, type Btf } from '@btf-atlas/btf';
import { corpusKernels, loadKernel, type CorpusKernel } from '../../btf/test/support/corpus.js';
import { CHECKS_NOT_MADE, patchedCode, POISON_HELPER_ID, judgeObject, linkBpfObject, readBpfObject, resolveCoreRelos, type LinkedBpfObject, type ObjectVerdict } from '../src/index.js';

const CORE_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../fixtures/core');
const KERNELS = corpusKernels().filter((k) => existsSync(join(CORE_DIR, 'oracle', k.distro, k.release, k.arch, k.kernelRelease)));

function load(name: string): LinkedBpfObject {
  const bytes = readFileSync(join(CORE_DIR, 'objects', `${name}.bpf.o`));
  return linkBpfObject(bytes, readBpfObject(bytes));
}

function judge(name: string, vmlinux: Btf): ObjectVerdict {
  const obj = load(name);
  return judgeObject(obj, resolveCoreRelos(obj, { vmlinux }), { vmlinux });
}

const byRelease = (release: string): CorpusKernel => {
  const k = KERNELS.find((x) => x.kernelRelease === release);
  if (!k) throw new Error(`corpus kernel ${release} has no co-re oracles`);
  return k;
};

describe('core_flavors', () => {
  let v61: Btf;
  let v612: Btf;
  beforeAll(async () => {
    v61 = await loadKernel(byRelease('6.1.0-50-amd64'));
    v612 = await loadKernel(byRelease('6.12.117+deb13-amd64'));
  });

  it('on 6.1: the ___old read is guarded by field_exists(__state), the mm_cid size breaks', () => {
    const v = judge('core_flavors', v61);
    const state = v.programs.find((p) => p.program === 'kp_task_state');
    const cid = v.programs.find((p) => p.program === 'kp_mm_cid');
    expect(state?.verdict).toBe('guarded');
    expect(state?.reasons.every((r) => r.verdict === 'guarded' && r.kind === 'relocation')).toBe(true);
    expect(state?.reasons.length).toBeGreaterThan(0);
    // The poisoned relocations of kp_task_state are all unreachable; the field_exists one is reachable.
    const poisoned = state?.relocations.filter((r) => r.status === 'poisoned') ?? [];
    expect(poisoned.length).toBeGreaterThan(0);
    expect(poisoned.every((r) => !r.reachable)).toBe(true);
    expect(state?.relocations.find((r) => r.kind === 'FIELD_EXISTS')?.reachable).toBe(true);

    expect(cid?.verdict).toBe('breaks');
    const breaking = cid?.reasons.filter((r) => r.verdict === 'breaks') ?? [];
    expect(breaking).toHaveLength(1);
    expect(breaking[0].message).toContain('FIELD_BYTE_SIZE');
    // The mm_cid read under field_exists is guarded on the same kernel.
    expect(cid?.reasons.some((r) => r.verdict === 'guarded' && r.message.includes('FIELD_BYTE_OFFSET'))).toBe(true);
    expect(v.verdict).toBe('breaks');
    expect(v.summary).toContain('kp_mm_cid');
    expect(v.checksNotMade).toBe(CHECKS_NOT_MADE);
  });

  it('on 6.12: mm_cid exists, both programs are ok', () => {
    const v = judge('core_flavors', v612);
    expect(v.programs.map((p) => [p.program, p.verdict])).toEqual([['kp_task_state', 'guarded'], ['kp_mm_cid', 'ok']]);
    expect(v.verdict).toBe('guarded');
  });
});

const OBJECTS = readdirSync(join(CORE_DIR, 'objects')).filter((f) => f.endsWith('.bpf.o')).map((f) => f.slice(0, -'.bpf.o'.length)).sort();

/**
 * What the C sources say of the programs whose relocations some kernel poisons: is every poisoned read
 * behind an existence test that the same kernel answers so as to skip it?
 */
const GUARDED_BY_SOURCE: Record<string, 'guarded' | 'breaks'> = {
  // else-branch of field_exists(__state): every kernel here has __state, so the ___old read is never taken
  kp_task_state: 'guarded',
  // bpf_core_field_size(c->mm_cid) is outside the test: reached whenever mm_cid is missing
  kp_mm_cid: 'breaks',
  // bpf_core_enum_value(BPF_MAP_TYPE_ARENA) is outside any test
  kp_enums: 'breaks',
  // reads of fields that exist nowhere / have the wrong type, unconditionally
  kp_broken: 'breaks',
};

describe.each(KERNELS)('every object on $kernelRelease, against libbpf\'s own decisions', (k) => {
  let vmlinux: Btf;
  beforeAll(async () => {
    vmlinux = await loadKernel(k);
  });

  it.each(OBJECTS)('%s', async (name) => {
    const oracle = JSON.parse(Buffer.from(await unxz(readFileSync(join(CORE_DIR, 'oracle', k.distro, k.release, k.arch, k.kernelRelease, `${name}.dryrun.json.xz`)))).toString('utf8')) as {
      result: { prepare: number };
      relocations: { prog: string; status: string }[];
    };
    const obj = load(name);
    const dry = resolveCoreRelos(obj, { vmlinux });
    const v = judgeObject(obj, dry, { vmlinux });
    // The code the verdicts analyse is a copy of the resolver's own patched code, each poisoned instruction a call to
    // libbpf's invalid helper 0xbad2310 (195896080) where the relocation says; the original is left as it was.
    const poisoned: number[] = [];
    const code = patchedCode(obj, dry, (loc) => poisoned.push(loc.index));
    expect(code).toEqual(dry.patchedSections);
    for (const [section, insns] of code) expect(insns).not.toBe(dry.patchedSections.get(section));
    expect(poisoned.length).toBe(dry.relocations.filter((r) => r.status !== 'error').reduce((n, r) => n + r.poisonedInsns.length, 0));
    for (const r of dry.relocations.filter((x) => x.status === 'poisoned')) {
      const fn = obj.programs.find((p) => p.section === r.section && p.name === r.prog) ?? obj.subprograms?.find((p) => p.section === r.section && p.name === r.prog);
      for (const i of r.poisonedInsns) expect(code.get(r.section)?.[(fn?.offset ?? NaN) / 8 + i]).toMatchObject({ code: 0x85, imm: POISON_HELPER_ID });
    }
    expect(POISON_HELPER_ID).toBe(195896080);
    if (oracle.result.prepare < 0) {
      expect(v.verdict).toBe('fails');
      expect(v.reasons.length).toBeGreaterThan(0);
      expect(v.programs.every((p) => p.verdict === 'fails')).toBe(true);
      return;
    }
    for (const p of v.programs) {
      // Every program here is a kprobe on do_nanosleep, which these kernels describe.
      expect(p.attachTarget, p.program).toBe('present');
      const poisoned = oracle.relocations.filter((r) => r.prog === p.program && r.status === 'poisoned');
      const want = poisoned.length === 0 ? 'ok' : GUARDED_BY_SOURCE[p.program];
      expect(want, `${p.program} has poisoned relocations the test does not know`).toBeDefined();
      expect(p.verdict, p.program).toBe(want);
      expect(p.relocations.filter((r) => r.status === 'poisoned')).toHaveLength(poisoned.length);
    }
  });
});
