import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { unxz } from '@btf-atlas/btf';
import { CoreError, CoreReloKind, findProgram, readBpfObject, type BpfObject, type BpfProgram, type Insn } from '@btf-atlas/core';

// The object reader against two independent oracles:
// - the seven real objects of fixtures/core with libbpf 1.7's own reading of them (the dry-run JSON: every
//   CO-RE record libbpf processed, with section, idx, prog, type id, access, kind and patched instruction; the
//   raw log: every program libbpf found, with its section, instruction offset and size);
// - objects built here (test/fixtures/objects, both byte orders, see build.sh there) with llvm-objdump's
//   listing (program labels, instructions, CO-RE relocations), bpftool's BTF dump and llvm-readelf's symbols.

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CORE = join(REPO, 'fixtures/core');
const OWN = fileURLToPath(new URL('./fixtures/objects/', import.meta.url));
const OBJECTS = ['core_ambiguous', 'core_bitfields', 'core_broken', 'core_chain', 'core_flavors', 'core_matches', 'core_types_enums'];

/** libbpf's short relocation names (relo_core.c `core_relo_kind_str`, llvm-objdump's `<...>`), by kind number. */
const KIND_SHORT = [
  'byte_off', 'byte_sz', 'field_exists', 'signed', 'lshift_u64', 'rshift_u64', 'local_type_id', 'target_type_id',
  'type_exists', 'type_size', 'enumval_exists', 'enumval_value', 'type_matches',
];

interface OracleRelo {
  section: string;
  prog: string;
  idx: number;
  kind_id: number;
  /** `access` for field relocations; `enumerator`/`enum_value` for enum ones; neither for type ones. */
  local: { type_id: number; access?: string; enumerator?: string; enum_value?: number };
  patches: { insn: number }[];
  poisoned_insns: number[];
}
interface Dryrun {
  sections: { name: string; relocations: number }[];
  relocations: OracleRelo[];
}
interface Oracle {
  where: string;
  dryrun: Dryrun;
  /** "found program" lines of the libbpf log: section, name, instruction offset, instruction count. */
  programs: { section: string; name: string; insnOff: number; insns: number }[];
}

/** Every oracle directory (DISTRO/RELEASE/ARCH/KREL) under fixtures/core/oracle. */
function oracleDirs(): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      if (depth === 3) out.push(join(dir, e.name));
      else walk(join(dir, e.name), depth + 1);
    }
  };
  walk(join(CORE, 'oracle'), 0);
  return out.sort();
}

const FOUND_PROGRAM = /^D: libbpf: sec '(.+)': found program '(.+)' at insn offset (\d+) \(\d+ bytes\), code size (\d+) insns/;

async function loadOracles(object: string): Promise<Oracle[]> {
  const out: Oracle[] = [];
  for (const dir of oracleDirs()) {
    const dryrun = JSON.parse(Buffer.from(await unxz(readFileSync(join(dir, `${object}.dryrun.json.xz`)))).toString('utf8')) as Dryrun;
    const log = Buffer.from(await unxz(readFileSync(join(dir, `${object}.libbpf.log.xz`)))).toString('utf8');
    const programs = log.split('\n').flatMap((line) => {
      const m = FOUND_PROGRAM.exec(line);
      return m ? [{ section: m[1], name: m[2], insnOff: Number(m[3]), insns: Number(m[4]) }] : [];
    });
    out.push({ where: dir.slice(join(CORE, 'oracle').length + 1), dryrun, programs });
  }
  return out;
}

function allPrograms(obj: BpfObject): BpfProgram[] {
  return [...obj.programs, ...(obj.subprograms ?? [])];
}

/** Every line-info record names a source line that is, character for character, that line of the source file. */
function expectLineInfoMatchesSource(obj: BpfObject, source: string, fileSuffix: string): void {
  const lines = source.split('\n');
  const info = obj.btfExt?.lineInfo ?? [];
  expect(info.length).toBeGreaterThan(0);
  for (const li of info) {
    expect(li.fileName.endsWith(fileSuffix), li.fileName).toBe(true);
    if (li.line === 0) {
      // Compiler-made code: line 0, no text.
      expect([li.lineText, li.col]).toEqual(['', 0]);
      continue;
    }
    expect(li.lineText, `${li.section} insn_off ${li.insnOff}`).toBe(lines[li.line - 1]);
    expect(li.col).toBeLessThanOrEqual(lines[li.line - 1].length + 1);
    expect(obj.sections.get(li.section)!.length).toBeGreaterThan(li.insnOff / 8);
  }
}

describe('readBpfObject on the real objects of fixtures/core, against libbpf 1.7', () => {
  for (const name of OBJECTS) {
    describe(name, () => {
      let obj: BpfObject;
      let oracles: Oracle[];
      beforeAll(async () => {
        obj = readBpfObject(readFileSync(join(CORE, 'objects', `${name}.bpf.o`)));
        oracles = await loadOracles(name);
      });

      it('finds exactly the CO-RE records libbpf processed, with the same section, idx, prog, type id, access and kind', () => {
        expect(oracles.length).toBeGreaterThanOrEqual(3);
        expect(obj.littleEndian).toBe(true);
        for (const oracle of oracles) {
          // Per-section counts ("sec 'X': found N CO-RE relocations") cover every record, even after a failure.
          const mine = new Map<string, number>();
          for (const r of obj.coreRelos) mine.set(r.section, (mine.get(r.section) ?? 0) + 1);
          expect(Object.fromEntries(mine), oracle.where).toEqual(Object.fromEntries(oracle.dryrun.sections.map((s) => [s.name, s.relocations])));
          expect(oracle.dryrun.relocations.length).toBeGreaterThan(0);
          for (const o of oracle.dryrun.relocations) {
            const r = obj.coreRelos.find((x) => x.section === o.section && x.index === o.idx);
            const ctx = `${oracle.where}: ${o.section} #${o.idx}`;
            expect(r, ctx).toBeDefined();
            expect({ typeId: r!.typeId, kind: r!.kind }, ctx).toEqual({ typeId: o.local.type_id, kind: o.kind_id });
            if (o.local.access !== undefined) expect(r!.access, ctx).toBe(o.local.access);
            else if (o.local.enumerator !== undefined) {
              // Enum records: the access string is the enumerator's index in the local enum.
              const t = obj.btf.type(r!.typeId);
              expect(t.kind === 'ENUM' || t.kind === 'ENUM64', ctx).toBe(true);
              const v = t.kind === 'ENUM' || t.kind === 'ENUM64' ? t.values[Number(r!.access)] : undefined;
              expect({ name: v?.name, value: Number(v?.value) }, ctx).toEqual({ name: o.local.enumerator, value: o.local.enum_value });
            } else expect(r!.access, ctx).toBe('0'); // type-based: libbpf prints no access, the record holds "0"
            const prog = findProgram(obj, r!.section, r!.insnOff);
            expect(prog?.name, ctx).toBe(o.prog);
            // libbpf numbers patched/poisoned instructions from the start of the program.
            const insn = r!.insnOff / 8 - prog!.offset / 8;
            if (o.patches.length > 0) expect(o.patches[0].insn, ctx).toBe(insn);
            if (o.poisoned_insns.length > 0) expect(o.poisoned_insns, ctx).toContain(insn);
          }
        }
      });

      it('finds the programs libbpf found, with their sections, offsets and sizes, and reads their sections', () => {
        for (const oracle of oracles) {
          expect(oracle.programs.length).toBeGreaterThan(0);
          const mine = allPrograms(obj).map((p) => ({ section: p.section, name: p.name, insnOff: p.offset / 8, insns: p.size }));
          expect(mine, oracle.where).toEqual(oracle.programs);
        }
        for (const p of obj.programs) {
          expect(p.attach.kind).toBe('kprobe');
          expect(p.attach.target).toBe(p.section.slice('kprobe/'.length));
          expect(obj.sections.get(p.section)!.length).toBeGreaterThanOrEqual(p.offset / 8 + p.size);
        }
        // Each program ends with `exit` (BPF_JMP | BPF_EXIT).
        for (const p of obj.programs) expect(obj.sections.get(p.section)![p.offset / 8 + p.size - 1].code).toBe(0x95);
      });

      it('decodes func and line info: one FUNC per program, every line the source line it names', () => {
        const ext = obj.btfExt!;
        expect(ext.header).toMatchObject({ littleEndian: true, version: 1, flags: 0, hdrLen: 32 });
        expect(ext.funcInfo.map((f) => [f.section, f.insnOff, obj.btf.nameOf(f.typeId)])).toEqual(
          allPrograms(obj).map((p) => [p.section, p.offset, p.name]),
        );
        expectLineInfoMatchesSource(obj, readFileSync(join(CORE, 'objects', `${name}.bpf.c`), 'utf8'), `${name}.bpf.c`);
        expect(obj.externs).toEqual([]);
        expect(obj.maps).toEqual([]);
      });
    });
  }
});

/** What llvm-objdump -dr says about an object. */
interface Listing {
  /** Labels `<name>:` with their section and byte offset, in listing order. */
  labels: { section: string; name: string; offset: number }[];
  /** Instruction lines: section, slot index, raw bytes, disassembly. */
  insns: { section: string; index: number; bytes: number[]; text: string }[];
  /** `CO-RE <kind> [type id] spec (access)` lines: section, byte offset, kind, type id, access ("0" when not shown). */
  relos: { section: string; insnOff: number; kind: number; typeId: number; access: string; enumerator?: string }[];
  /** Byte size of each section (its last slot's end). */
  sizes: Map<string, number>;
}

function readListing(text: string): Listing {
  const out: Listing = { labels: [], insns: [], relos: [], sizes: new Map() };
  let section = '';
  for (const line of text.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^Disassembly of section (.+):$/.exec(line))) section = m[1];
    else if ((m = /^([0-9a-f]{16}) <(.+)>:$/.exec(line))) out.labels.push({ section, name: m[2], offset: parseInt(m[1], 16) });
    else if ((m = /^\s+(\d+):\t([0-9a-f]{2}(?: [0-9a-f]{2})*)\t(.*)$/.exec(line))) {
      const bytes = m[2].trim().split(' ').map((b) => parseInt(b, 16));
      const index = Number(m[1]);
      out.insns.push({ section, index, bytes, text: m[3] });
      out.sizes.set(section, index * 8 + bytes.length);
    } else if ((m = /^\t\t([0-9a-f]{16}):\s+CO-RE <([a-z_0-9]+)> \[(\d+)\] (.*?)(?: \(([0-9:]+)\))?$/.exec(line))) {
      const kind = KIND_SHORT.indexOf(m[2]);
      expect(kind, line).toBeGreaterThanOrEqual(0);
      // Type-based relocations print no access string (their records hold "0"); enum-based ones print the
      // enumerator (`enum pid_type::PIDTYPE_MAX = 4`), whose index in the enum is the access string.
      const enumerator = /::(\w+) = -?\d+$/.exec(m[4]);
      const relo: Listing['relos'][number] = { section, insnOff: parseInt(m[1], 16), kind, typeId: Number(m[3]), access: m[5] ?? '0' };
      if (enumerator) relo.enumerator = enumerator[1];
      out.relos.push(relo);
    }
  }
  return out;
}

/** The fields of an instruction as the disassembly shows them (only the forms the fixtures use). */
function fieldsFromText(text: string): Partial<Insn> | undefined {
  const hex = (s: string): number => (s.startsWith('-') ? -parseInt(s.slice(3), 16) : parseInt(s.slice(2), 16));
  let m: RegExpExecArray | null;
  if ((m = /^r(\d+) = \*\(u\d+ \*\)\(r(\d+) ([+-]) (0x[0-9a-f]+)\)$/.exec(text))) {
    return { dstReg: Number(m[1]), srcReg: Number(m[2]), off: (m[3] === '-' ? -1 : 1) * hex(m[4]) };
  }
  if ((m = /^\*\(u\d+ \*\)\(r(\d+) ([+-]) (0x[0-9a-f]+)\) = r(\d+)$/.exec(text))) {
    return { dstReg: Number(m[1]), srcReg: Number(m[4]), off: (m[2] === '-' ? -1 : 1) * hex(m[3]) };
  }
  if ((m = /^r(\d+) (?:[-+*/|&^]|<<|>>|s>>)?= r(\d+)$/.exec(text))) return { dstReg: Number(m[1]), srcReg: Number(m[2]), off: 0, imm: 0 };
  if ((m = /^r(\d+) = (-?0x[0-9a-f]+) ll$/.exec(text))) return { code: 0x18, dstReg: Number(m[1]), imm: hex(m[2]) | 0 };
  if ((m = /^r(\d+) (?:[-+*/|&^]|<<|>>|s>>)?= (-?0x[0-9a-f]+)$/.exec(text))) return { dstReg: Number(m[1]), srcReg: 0, imm: hex(m[2]) };
  if ((m = /^call (-?0x[0-9a-f]+)$/.exec(text))) return { code: 0x85, imm: hex(m[1]) };
  if (text === 'exit') return { code: 0x95, dstReg: 0, srcReg: 0, off: 0, imm: 0 };
  return undefined;
}

describe('readBpfObject on objects built with clang -target bpfel / bpfeb (test/fixtures/objects)', () => {
  const source = readFileSync(join(OWN, 'core_kinds.bpf.c'), 'utf8');
  const el = readBpfObject(readFileSync(join(OWN, 'core_kinds.bpfel.o')));
  const eb = readBpfObject(readFileSync(join(OWN, 'core_kinds.bpfeb.o')));
  const btfText = readFileSync(join(OWN, 'core_kinds.bpfel.btf.txt'), 'utf8');
  /** Enumerator names of each ENUM in bpftool's dump of the little-endian twin, by type id. */
  const bpftoolEnums = new Map<number, string[]>();
  for (const m of btfText.matchAll(/^\[(\d+)\] ENUM '.*' .*\n((?:\t.*\n)*)/gm)) {
    bpftoolEnums.set(Number(m[1]), [...m[2].matchAll(/^\t'(\w+)' val=/gm)].map((v) => v[1]));
  }
  const listings = {
    el: readListing(readFileSync(join(OWN, 'core_kinds.bpfel.objdump.txt'), 'utf8')),
    eb: readListing(readFileSync(join(OWN, 'core_kinds.bpfeb.objdump.txt'), 'utf8')),
  };

  for (const [order, obj] of [['el', el], ['eb', eb]] as const) {
    const listing = listings[order];

    it(`bpf${order}: every CO-RE record llvm-objdump lists, in order, covering all ${KIND_SHORT.length} kinds`, () => {
      expect(obj.littleEndian).toBe(order === 'el');
      expect(listing.relos.length).toBeGreaterThan(20);
      const mine = obj.coreRelos.map((r) => ({ section: r.section, insnOff: r.insnOff, kind: r.kind, typeId: r.typeId, access: r.access }));
      const expected = listing.relos.map(({ enumerator, ...r }) => {
        if (enumerator === undefined) return r;
        // bpftool lists an enum's enumerators in order: the access string is the enumerator's position.
        const index = bpftoolEnums.get(r.typeId)?.indexOf(enumerator) ?? -1;
        expect(index, enumerator).toBeGreaterThanOrEqual(0);
        return { ...r, access: String(index) };
      });
      expect(expected.filter((r) => r.kind >= CoreReloKind.ENUMVAL_EXISTS && r.kind <= CoreReloKind.ENUMVAL_VALUE).length).toBe(4);
      expect(mine).toEqual(expected);
      expect(new Set(obj.coreRelos.map((r) => r.kind))).toEqual(new Set(Object.values(CoreReloKind).filter((v) => typeof v === 'number')));
      // `index` counts within each section group.
      const seen = new Map<string, number>();
      for (const r of obj.coreRelos) {
        const n = seen.get(r.section) ?? 0;
        expect(r.index).toBe(n);
        seen.set(r.section, n + 1);
      }
    });

    it(`bpf${order}: programs and subprograms at llvm-objdump's labels, attach targets from their section names`, () => {
      const mine = allPrograms(obj)
        .map((p) => ({ section: p.section, name: p.name, offset: p.offset }))
        .sort((a, b) => a.section.localeCompare(b.section) || a.offset - b.offset);
      const labels = [...listing.labels].sort((a, b) => a.section.localeCompare(b.section) || a.offset - b.offset);
      expect(mine).toEqual(labels);
      // Size: up to the next label of the section, or its end.
      for (const p of allPrograms(obj)) {
        const next = listing.labels.filter((l) => l.section === p.section && l.offset > p.offset).map((l) => l.offset);
        const end = next.length > 0 ? Math.min(...next) : listing.sizes.get(p.section)!;
        expect(p.size * 8, p.name).toBe(end - p.offset);
      }
      expect(obj.subprograms!.map((p) => [p.name, p.global, p.attach.kind])).toEqual([['global_tgid', true, 'subprog'], ['read_pid', false, 'subprog']]);
      const attach = Object.fromEntries(obj.programs.map((p) => [p.name, p.attach]));
      expect(attach.kp_fields).toMatchObject({ kind: 'kprobe', target: 'do_nanosleep', progType: 'KPROBE' });
      expect(attach.kp_second).toMatchObject({ kind: 'kprobe', target: 'do_nanosleep' });
      expect(attach.krp_types).toMatchObject({ kind: 'kretprobe', target: 'do_nanosleep' });
      expect(attach.tp_enums).toMatchObject({ kind: 'tracepoint', target: 'sched/sched_switch', progType: 'TRACEPOINT' });
      expect(attach.fentry_kfuncs).toMatchObject({ kind: 'fentry', target: 'do_unlinkat', btfName: 'do_unlinkat', btfKind: 'FUNC', attachType: 'TRACE_FENTRY' });
      expect(attach.tpbtf_ksyms).toMatchObject({ kind: 'tp_btf', target: 'sched_switch', btfName: 'btf_trace_sched_switch', btfKind: 'TYPEDEF' });
      expect(attach.rawtp).toMatchObject({ kind: 'raw_tp', target: 'sys_enter' });
      expect(attach.lsm_open).toMatchObject({ kind: 'lsm', target: 'file_open', sleepable: true, btfName: 'bpf_lsm_file_open' });
      expect(attach.iter_task).toMatchObject({ kind: 'iter', target: 'task', btfName: 'bpf_iter_task' });
      expect(attach.xdp_pass).toEqual({ kind: 'xdp', progType: 'XDP', attachType: 'XDP', sleepable: false });
      expect(attach.tc_mark).toMatchObject({ kind: 'tc', progType: 'SCHED_CLS' });
      expect(attach.socket_off).toMatchObject({ kind: 'socket', progType: 'SOCKET_FILTER' });
      expect(attach.ksys_openat).toMatchObject({ kind: 'ksyscall', target: 'openat' });
      expect(attach.up_readline).toMatchObject({ kind: 'uprobe', target: '/bin/bash:readline' });
      expect(attach.kpm).toMatchObject({ kind: 'kprobe.multi', target: 'do_sys_*' });
      expect(attach.cg_connect4).toMatchObject({ kind: 'cgroup', target: 'connect4', attachType: 'CGROUP_INET4_CONNECT' });
      expect(obj.programs.filter((p) => p.autoload === false).map((p) => p.name)).toEqual(['socket_off']);
      // Records in .text belong to the subprograms; the two programs of kprobe/do_nanosleep share one numbering.
      expect(obj.coreRelos.filter((r) => r.section === '.text').map((r) => findProgram(obj, r.section, r.insnOff)?.name)).toEqual(['global_tgid', 'read_pid']);
      const kp = obj.coreRelos.filter((r) => r.section === 'kprobe/do_nanosleep');
      expect(kp.map((r) => findProgram(obj, r.section, r.insnOff)?.name)).toEqual([...Array(8).fill('kp_fields'), 'kp_second', 'kp_second']);
      expect(kp.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it(`bpf${order}: instructions as llvm-objdump decodes them (code, registers, offset, immediate)`, () => {
      expect(listing.insns.length).toBeGreaterThan(200);
      let checked = 0;
      for (const li of listing.insns) {
        const insns = obj.sections.get(li.section)!;
        const insn = insns[li.index];
        expect(insn.code, `${li.section}:${li.index}`).toBe(li.bytes[0]);
        const want = fieldsFromText(li.text);
        if (want) {
          expect(insn, `${li.section}:${li.index} ${li.text}`).toMatchObject(want);
          checked++;
        }
        if (li.bytes.length === 16) expect(insns[li.index + 1]).toEqual({ code: 0, dstReg: 0, srcReg: 0, off: 0, imm: 0 });
      }
      expect(checked).toBeGreaterThan(150);
      // The register byte: dst in the low nibble little-endian, in the high nibble big-endian.
      const mov = listing.insns.find((i) => i.text === 'r7 = r1')!;
      expect(mov.bytes[1]).toBe(order === 'el' ? 0x17 : 0x71);
      for (const [name, insns] of obj.sections) expect(insns.length * 8, name).toBe(listing.sizes.get(name));
    });

    it(`bpf${order}: func and line info`, () => {
      expect(obj.btfExt!.header.littleEndian).toBe(order === 'el');
      expect(obj.btfExt!.funcInfo.map((f) => [f.section, f.insnOff, obj.btf.nameOf(f.typeId)]).sort()).toEqual(
        allPrograms(obj).map((p) => [p.section, p.offset, p.name]).sort(),
      );
      expectLineInfoMatchesSource(obj, source, 'core_kinds.bpf.c');
    });
  }

  it('the big-endian object reads exactly as its little-endian twin', () => {
    expect(eb.programs).toEqual(el.programs);
    expect(eb.subprograms).toEqual(el.subprograms);
    expect(eb.coreRelos).toEqual(el.coreRelos);
    expect(eb.externs).toEqual(el.externs);
    expect(eb.maps).toEqual(el.maps);
    // Same instructions, except the bitfield shifts clang computes for the byte order (FIELD_LSHIFT_U64 counts
    // bits from the other end in big endian): exactly the instructions those records point at differ.
    expect([...eb.sections.keys()]).toEqual([...el.sections.keys()]);
    const differ: string[] = [];
    for (const [name, insns] of el.sections) {
      insns.forEach((insn, i) => {
        if (JSON.stringify(insn) !== JSON.stringify(eb.sections.get(name)![i])) differ.push(`${name}:${i * 8}`);
      });
    }
    const lshift = el.coreRelos.filter((r) => r.kind === CoreReloKind.FIELD_LSHIFT_U64).map((r) => `${r.section}:${r.insnOff}`);
    expect(lshift.length).toBe(1);
    expect(differ).toEqual(lshift);
    expect(eb.btfExt!.funcInfo).toEqual(el.btfExt!.funcInfo);
    expect(eb.btfExt!.lineInfo).toEqual(el.btfExt!.lineInfo);
    expect(eb.btf.littleEndian).toBe(false);
    expect(eb.btf.ownTypeCount).toBe(el.btf.ownTypeCount);
  });

  it('externs and maps as bpftool and llvm-readelf show them', () => {
    const symText = readFileSync(join(OWN, 'core_kinds.bpfel.syms.txt'), 'utf8');
    // Extern FUNCs and VARs of bpftool's dump, and the DATASEC each is listed in.
    const externIds = new Map<string, { id: number; type: 'func' | 'var' }>();
    for (const m of btfText.matchAll(/^\[(\d+)\] (FUNC|VAR) '(\w+)' type_id=\d+,? linkage=extern$/gm)) {
      externIds.set(m[3], { id: Number(m[1]), type: m[2] === 'FUNC' ? 'func' : 'var' });
    }
    const secOf = new Map<number, string>();
    let datasec = '';
    for (const line of btfText.split('\n')) {
      const d = /^\[\d+\] DATASEC '(.+)' /.exec(line);
      if (d) datasec = d[1];
      else if (!line.startsWith('\t')) datasec = '';
      const v = /^\ttype_id=(\d+) offset=/.exec(line);
      if (v && datasec) secOf.set(Number(v[1]), datasec);
    }
    const weak = new Set([...symText.matchAll(/NOTYPE\s+WEAK\s+DEFAULT\s+UND (\w+)$/gm)].map((m) => m[1]));
    const undef = [...symText.matchAll(/NOTYPE\s+(?:GLOBAL|WEAK)\s+DEFAULT\s+UND (\w+)$/gm)].map((m) => m[1]);
    expect(undef.length).toBe(7);
    expect(el.externs).toEqual(
      undef.map((name) => ({ name, type: externIds.get(name)!.type, section: secOf.get(externIds.get(name)!.id), weak: weak.has(name), btfId: externIds.get(name)!.id })),
    );
    expect(el.externs.filter((e) => e.weak).map((e) => e.name).sort()).toEqual(['CONFIG_HZ', 'bpf_task_from_pid', 'init_task']);
    expect(el.externs.filter((e) => e.type === 'func').map((e) => e.section)).toEqual(['.ksyms', '.ksyms', '.ksyms']);
    const maps = /^\[\d+\] DATASEC '\.maps' size=\d+ vlen=\d+\n((?:\t.*\n)+)/m.exec(btfText)!;
    expect(el.maps).toEqual([...maps[1].matchAll(/\(VAR '(\w+)'\)/g)].map((m) => m[1]));
    expect(el.maps).toEqual(['counts', 'scratch']);
  });

  it('an object without .BTF.ext has no relocations, unless they are required', () => {
    const bytes = new Uint8Array(readFileSync(join(OWN, 'core_kinds.bpfel.o')));
    renameSection(bytes, '.BTF.ext', '_BTF.ext');
    const obj = readBpfObject(bytes);
    expect(obj.coreRelos).toEqual([]);
    expect(obj.btfExt).toBeUndefined();
    expect(obj.programs.length).toBe(el.programs.length);
    expect(() => readBpfObject(bytes, { requireBtfExt: true })).toThrow(expect.objectContaining({ code: 'CORE_NO_BTF_EXT' }));
    expect(() => readBpfObject(bytes, { requireBtfExt: true })).toThrow(CoreError);
  });
});

/** Overwrites the first byte of a section's name in the section-name table (little-endian ELF64). */
function renameSection(bytes: Uint8Array, from: string, to: string): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shnum = dv.getUint16(0x3c, true);
  const shstr = shoff + dv.getUint16(0x3e, true) * 64;
  const strOff = Number(dv.getBigUint64(shstr + 0x18, true));
  for (let i = 0; i < shnum; i++) {
    const at = strOff + dv.getUint32(shoff + i * 64, true);
    const name = Buffer.from(bytes.subarray(at, at + from.length + 1)).toString('latin1');
    if (name === `${from}\0`) {
      bytes.set(Buffer.from(to, 'latin1'), at);
      return;
    }
  }
  throw new Error(`no section ${from}`);
}
