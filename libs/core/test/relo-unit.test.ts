/**
 * The resolver's rules on inputs no compiler writes: instructions that do not hold the compiler's value, broken
 * records (type ids, access strings, instruction offsets), anonymous local types, records outside any program;
 * and the flavor rule of candidate names. Built by editing a real object's model (fixtures/relo/cases.bpfel.o).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  CoreReloKind, coreDryRunJson, essentialName, readBpfObject, resolveCoreRelos, type BpfObject, type CoreRelo, type CoreTarget,
} from '../src/index.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/relo');
const cases = (): BpfObject => readBpfObject(readFileSync(join(FIX, 'cases.bpfel.o')));
const target: CoreTarget = { vmlinux: readBpfObject(readFileSync(join(FIX, 'target.bpfel.o'))).btf };

/** The local type id of a named type of the cases object. */
function localId(obj: BpfObject, kind: string, name: string): number {
  const t = obj.btf.ownTypes().find((x) => x.kind === kind && x.name === name);
  if (!t) throw new Error(`no ${kind} ${name}`);
  return t.id;
}

/** The cases object with only `relos` (in section kprobe/types, whose first instruction is `r = imm`). */
function withRelos(relos: Omit<CoreRelo, 'section' | 'index'>[]): BpfObject {
  const obj = cases();
  return { ...obj, coreRelos: relos.map((r, index) => ({ ...r, section: 'kprobe/types', index })) };
}

describe('essential names', () => {
  it.each([
    ['task_struct___old', 'task_struct'],
    ['a___b___c', 'a___b'],
    ['task_struct', 'task_struct'],
    ['foo____bar', 'foo____bar'],
    ['x___', 'x___'],
    ['___x', '___x'],
    ['a___b_', 'a'],
  ])('%s -> %s', (name, want) => {
    expect(essentialName(name)).toBe(want);
  });
});

describe('instruction checks', () => {
  it('fails when the instruction does not hold the value the compiler computed', () => {
    const obj = cases();
    const r = obj.coreRelos.find((x) => x.section === 'kprobe/types' && x.kind === CoreReloKind.TYPE_SIZE);
    if (!r) throw new Error('no TYPE_SIZE relocation');
    const insns = (obj.sections.get('kprobe/types') ?? []).map((i) => ({ ...i }));
    const at = r.insnOff / 8;
    const compiled = insns[at].imm;
    insns[at] = { ...insns[at], imm: compiled + 1 };
    const dry = resolveCoreRelos({ ...obj, sections: new Map([...obj.sections, ['kprobe/types', insns]]) }, target);
    const failed = dry.relocations.find((x) => x.status === 'error');
    expect(failed?.messages).toEqual([
      `W: unexpected insn #${at} (ALU/ALU64) value: got ${compiled + 1}, exp ${compiled} -> 80`,
      `W: failed to patch insn #${at}: -EINVAL`,
    ]);
    expect(dry.result.prepare).toBe(-22);
    // Relocations of later sections are never reached.
    expect(dry.skipped.some((s) => s.section === 'kprobe/enums' && s.reason === 'after failure')).toBe(true);
    expect(dry.relocations.some((x) => x.section === 'kprobe/enums')).toBe(false);
  });

  it('fails on an instruction class a relocation cannot patch', () => {
    const obj = withRelos([{ insnOff: 0, typeId: 0, access: '0', kind: CoreReloKind.TYPE_ID_LOCAL }]);
    const insns = (obj.sections.get('kprobe/types') ?? []).map((i) => ({ ...i }));
    insns[0] = { code: 0x05, dstReg: 0, srcReg: 0, off: 3, imm: 0 }; // ja +3
    const dry = resolveCoreRelos({ ...obj, sections: new Map([...obj.sections, ['kprobe/types', insns]]) }, target);
    expect(dry.relocations[0].messages[0]).toBe('W: trying to relocate unrecognized insn #0, code:0x5, src:0x0, dst:0x0, off:0x3, imm:0x0');
    expect(dry.result.prepare).toBe(-22);
  });
});

describe('broken records', () => {
  it.each([
    ['', 'an empty access string'],
    [':0', 'a leading colon'],
    ['0:', 'a trailing colon'],
    ['0::1', 'an empty step'],
    ['0:99', 'a member index past the struct'],
    ['0:x', 'a non-number'],
  ])('access %j (%s) fails the object', (access) => {
    const obj = cases();
    const id = localId(obj, 'STRUCT', 'arr___l');
    const dry = resolveCoreRelos(withRelos([{ insnOff: 0, typeId: id, access, kind: CoreReloKind.FIELD_EXISTS }]), target);
    expect(dry.relocations[0]).toMatchObject({ status: 'error', error: -22, local: null });
    expect(dry.relocations[0].messages[0]).toBe(`W: parsing [${id}] struct arr___l + ${access} failed: -22`);
  });

  it('takes only `0` as the access string of a type-based relocation', () => {
    const obj = cases();
    const id = localId(obj, 'STRUCT', 'arr___l');
    const ok = resolveCoreRelos(withRelos([{ insnOff: 0, typeId: id, access: '0', kind: CoreReloKind.TYPE_EXISTS }]), target);
    const bad = resolveCoreRelos(withRelos([{ insnOff: 0, typeId: id, access: '0:1', kind: CoreReloKind.TYPE_EXISTS }]), target);
    expect(ok.relocations[0].status).not.toBe('error');
    expect(bad.relocations[0]).toMatchObject({ status: 'error', error: -22 });
  });

  it('fails on a type id past the local BTF and on an anonymous local type', () => {
    const obj = cases();
    const dangling = resolveCoreRelos(withRelos([{ insnOff: 0, typeId: obj.btf.nextId, access: '0', kind: CoreReloKind.TYPE_EXISTS }]), target);
    expect(dangling.relocations[0]).toMatchObject({ status: 'error', error: -22, messages: ['W: failed to relocate: -EINVAL'] });
    const anon = obj.btf.ownTypes().find((t) => t.kind === 'STRUCT' && t.name === '');
    if (!anon) throw new Error('no anonymous struct in the cases object');
    const dry = resolveCoreRelos(withRelos([{ insnOff: 0, typeId: anon.id, access: '0:0', kind: CoreReloKind.FIELD_EXISTS }]), target);
    expect(dry.relocations[0].messages).toEqual([
      `W: target candidate search failed for [${anon.id}] struct : -22`,
      'W: failed to relocate: -EINVAL',
    ]);
  });

  it('fails on an instruction offset that is not a whole instruction, and skips one outside every program', () => {
    const misaligned = resolveCoreRelos(withRelos([{ insnOff: 4, typeId: 0, access: '0', kind: CoreReloKind.TYPE_ID_LOCAL }]), target);
    expect(misaligned.result.prepare).toBe(-22);
    expect(misaligned.relocations).toEqual([]);
    expect(misaligned.warnings).toEqual(['failed to perform CO-RE relocations: -EINVAL']);
    expect(misaligned.skipped).toEqual([{ section: 'kprobe/types', idx: 0, insnOff: 4, reason: 'bad offset' }]);

    const outside = resolveCoreRelos(withRelos([{ insnOff: 8 * 10_000, typeId: 0, access: '0', kind: CoreReloKind.TYPE_ID_LOCAL }]), target);
    expect(outside.result.prepare).toBe(0);
    expect(outside.skipped).toEqual([{ section: 'kprobe/types', idx: 0, insnOff: 80_000, reason: 'no program' }]);
    expect(outside.log).toContain("D: sec 'kprobe/types': skipping CO-RE relocation #0 for insn #10000 belonging to eliminated weak subprogram");
  });
});

describe('JSON view', () => {
  it('is the snake_case btf-core-dryrun/1 shape', () => {
    const json = coreDryRunJson(resolveCoreRelos(cases(), target), { object: 'cases.bpfel.o', kernel: 'target.bpfel.o' });
    expect(Object.keys(json)).toEqual(['format', 'object', 'kernel', 'result', 'ok', 'status_counts', 'sections', 'candidate_cache', 'relocations', 'skipped', 'warnings']);
    const r = json.relocations[0];
    expect(Object.keys(r)).toEqual([
      'section', 'prog', 'idx', 'insn_off', 'insn', 'kind', 'kind_id', 'kind_name', 'local', 'candidates', 'target', 'patches',
      'poisoned_insns', 'no_target', 'ambiguous', 'orig_value', 'new_value', 'status', 'messages',
    ]);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });
});

describe('random records (seeded, replayable)', () => {
  it('only ever give decisions: no exception, every relocation with a status', () => {
    let seed = 0x5eed1234;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const obj = cases();
    const insnCount = obj.sections.get('kprobe/types')?.length ?? 0;
    const seen = new Set<string>();
    // One or two records a round: the first failure stops the rest, so longer lists would mostly test that.
    for (let round = 0; round < 400; round++) {
      const relos = Array.from({ length: 1 + rand(2) }, () => {
        const steps = Array.from({ length: 1 + rand(5) }, () => String(rand(12)));
        return { insnOff: 8 * rand(insnCount + 2), typeId: rand(obj.btf.nextId + 3), access: rand(3) === 0 ? '0' : steps.join(':'), kind: rand(14) as CoreReloKind };
      });
      const seedAtStart = seed;
      let dry;
      try {
        dry = resolveCoreRelos(withRelos(relos), target);
      } catch (err) {
        throw new Error(`round ${round} (seed ${seedAtStart}): ${JSON.stringify(relos)} threw ${String(err)}`);
      }
      for (const r of dry.relocations) {
        expect(['resolved', 'defaulted', 'poisoned', 'local', 'error']).toContain(r.status);
        seen.add(r.status);
      }
      expect(dry.ok).toBe(dry.result.prepare === 0);
    }
    // The records are random enough to reach every outcome.
    expect([...seen].sort()).toEqual(['defaulted', 'error', 'local', 'poisoned', 'resolved']);
  });
});
