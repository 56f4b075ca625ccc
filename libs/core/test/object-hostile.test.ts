import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BtfError } from '@btf-atlas/btf';
import { CoreError, parseBtfExtHeader, readBpfObject, type BpfObject, type CoreErrorCode } from '@btf-atlas/core';
import { mulberry32 } from './support.js';

// Bad and hostile objects: whatever the bytes, readBpfObject returns a model or throws a CoreError naming what
// and where, quickly; never a RangeError or a BtfError. Mutants start from the little-endian fixture object.
//
// Replay a fuzz failure: its message names the case seed; `FUZZ_REPLAY=<seed>` runs only that case.

const GOOD = new Uint8Array(readFileSync(new URL('./fixtures/objects/core_kinds.bpfel.o', import.meta.url)));
const GOOD_EB = new Uint8Array(readFileSync(new URL('./fixtures/objects/core_kinds.bpfeb.o', import.meta.url)));
const good = readBpfObject(GOOD);

/** The result of reading: the object, or the CoreError (anything else is rethrown, failing the test). */
function attempt(bytes: Uint8Array): BpfObject | CoreError {
  try {
    return readBpfObject(bytes);
  } catch (err) {
    if (err instanceof CoreError) return err;
    throw err;
  }
}

/** Expects a CoreError with `code`, whose message matches `message` and names a location. */
function expectError(bytes: Uint8Array, code: CoreErrorCode, message: RegExp): CoreError {
  const r = attempt(bytes);
  expect(r, 'expected a CoreError').toBeInstanceOf(CoreError);
  const err = r as CoreError;
  expect({ code: err.code, message: err.message }).toEqual({ code, message: expect.stringMatching(message) });
  return err;
}

// Little-endian ELF64 editing helpers (the tests' own reading of the layout, independent of the reader).
const dvOf = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

interface Shdr { index: number; at: number; name: string; type: number; offset: number; size: number }

function sectionHeaders(bytes: Uint8Array): Shdr[] {
  const dv = dvOf(bytes);
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shnum = dv.getUint16(0x3c, true);
  const strAt = Number(dv.getBigUint64(shoff + dv.getUint16(0x3e, true) * 64 + 0x18, true));
  const out: Shdr[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * 64;
    const nameAt = strAt + dv.getUint32(at, true);
    const name = Buffer.from(bytes.subarray(nameAt, bytes.indexOf(0, nameAt))).toString('latin1');
    out.push({ index: i, at, name, type: dv.getUint32(at + 4, true), offset: Number(dv.getBigUint64(at + 0x18, true)), size: Number(dv.getBigUint64(at + 0x20, true)) });
  }
  return out;
}

function section(bytes: Uint8Array, name: string): Shdr {
  const s = sectionHeaders(bytes).find((h) => h.name === name);
  if (!s) throw new Error(`fixture has no section ${name}`);
  return s;
}

/** A copy of the good object with `edit` applied. */
function mutate(edit: (bytes: Uint8Array, dv: DataView) => void, from: Uint8Array = GOOD): Uint8Array {
  const b = new Uint8Array(from);
  edit(b, dvOf(b));
  return b;
}

const setSize = (b: Uint8Array, s: Shdr, size: number): void => dvOf(b).setBigUint64(s.at + 0x20, BigInt(size), true);

/** Symbol table entries of the good object: name, entry offset in the file. */
function symbols(bytes: Uint8Array): { name: string; at: number }[] {
  const symtab = section(bytes, '.symtab');
  const strtab = section(bytes, '.strtab');
  const dv = dvOf(bytes);
  const out: { name: string; at: number }[] = [];
  for (let at = symtab.offset; at < symtab.offset + symtab.size; at += 24) {
    const nameAt = strtab.offset + dv.getUint32(at, true);
    out.push({ name: Buffer.from(bytes.subarray(nameAt, bytes.indexOf(0, nameAt))).toString('latin1'), at });
  }
  return out;
}
const symbol = (name: string): number => symbols(GOOD).find((s) => s.name === name)!.at;

/** Offset of `text` (NUL-terminated) in the .strtab section, as a string-table offset. */
function strtabOffset(text: string): number {
  const strtab = section(GOOD, '.strtab');
  const hay = Buffer.from(GOOD.subarray(strtab.offset, strtab.offset + strtab.size));
  const i = hay.indexOf(Buffer.from(`\0${text}\0`, 'latin1'));
  if (i < 0) throw new Error(`no string ${text}`);
  return i + 1;
}

// .BTF.ext layout of the good object (the header is parsed by the reader's own function: this only locates).
const EXT = section(GOOD, '.BTF.ext');
const HDR = parseBtfExtHeader(GOOD.subarray(EXT.offset, EXT.offset + EXT.size));
const FUNC_BLOCK = EXT.offset + HDR.hdrLen + HDR.funcInfoOff;
const LINE_BLOCK = EXT.offset + HDR.hdrLen + HDR.lineInfoOff;
const CORE_BLOCK = EXT.offset + HDR.hdrLen + HDR.coreReloOff;
/** First CO-RE record: block start + record size + group header. */
const CORE_REC = CORE_BLOCK + 4 + 8;
/** Offset in the .BTF string table of a string that is a BTF name but not an instruction section. */
const LICENSE_STR = good.btf.type(good.btf.ownTypes().find((t) => t.kind === 'DATASEC' && t.name === 'license')!.id).nameOff;

describe('readBpfObject: truncated input', () => {
  it('every prefix of the object (both byte orders) is CORE_NOT_ELF or CORE_TRUNCATED', () => {
    for (const whole of [GOOD, GOOD_EB]) {
      for (let n = 0; n < whole.length; n++) {
        const r = attempt(whole.subarray(0, n));
        if (!(r instanceof CoreError)) throw new Error(`prefix of ${n} bytes read as an object`);
        if (r.code !== (n < 4 ? 'CORE_NOT_ELF' : 'CORE_TRUNCATED')) throw new Error(`prefix of ${n} bytes: ${r.code}: ${r.message}`);
      }
    }
  });

  it('every shorter .BTF.ext (sh_size cut) is a .BTF.ext error', () => {
    const codes = new Set<string>();
    for (let n = 0; n < EXT.size; n++) {
      const r = attempt(mutate((b) => setSize(b, EXT, n)));
      if (!(r instanceof CoreError) || (r.code !== 'CORE_BAD_BTF_EXT' && r.code !== 'CORE_BAD_RECORD') || r.section !== '.BTF.ext') {
        throw new Error(`.BTF.ext of ${n} bytes: ${r instanceof CoreError ? r.message : 'read as an object'}`);
      }
      codes.add(r.code);
    }
    expect([...codes].sort()).toEqual(['CORE_BAD_BTF_EXT']);
  });

  it('every shorter .BTF is CORE_BAD_BTF, with the libs/btf error as its cause', () => {
    const btf = section(GOOD, '.BTF');
    // Every length through the header, then every 5th (each read parses the whole BTF: keep the run short).
    for (let n = 0; n < btf.size; n += n < 64 ? 1 : 5) {
      const r = attempt(mutate((b) => setSize(b, btf, n)));
      if (!(r instanceof CoreError) || r.code !== 'CORE_BAD_BTF' || !(r.cause instanceof BtfError)) {
        throw new Error(`.BTF of ${n} bytes: ${r instanceof CoreError ? r.message : 'read as an object'}`);
      }
    }
  });

  it('a shorter program section or symbol table is a typed error', () => {
    const kp = section(GOOD, 'kprobe/do_nanosleep');
    for (let n = 1; n < kp.size; n++) expect(attempt(mutate((b) => setSize(b, kp, n)))).toBeInstanceOf(CoreError);
    const symtab = section(GOOD, '.symtab');
    for (let n = 0; n < symtab.size; n++) {
      const r = attempt(mutate((b) => setSize(b, symtab, n)));
      if (n % 24 !== 0) expect((r as CoreError).code).toBe('CORE_BAD_ELF');
      else if (!(r instanceof CoreError)) expect(r.programs.length + r.subprograms!.length).toBeLessThanOrEqual(good.programs.length + 2);
    }
  });
});

describe('readBpfObject: bad ELF', () => {
  it('names what is wrong and where', () => {
    expectError(mutate((b) => { b[0] = 0x7e; }), 'CORE_NOT_ELF', /^offset 0: not an elf object/);
    expectError(mutate((b) => { b[4] = 1; }), 'CORE_NOT_BPF', /offset 4: elf class 1 is not ELFCLASS64/);
    expectError(mutate((b) => { b[5] = 3; }), 'CORE_BAD_ELF', /offset 5: elf data encoding 3/);
    expectError(mutate((_, dv) => dv.setUint16(16, 2, true)), 'CORE_NOT_BPF', /offset 16: elf type 2 is not ET_REL/);
    expectError(mutate((_, dv) => dv.setUint16(18, 62, true)), 'CORE_NOT_BPF', /offset 18: elf machine 62 is not EM_BPF/);
    expectError(mutate((_, dv) => dv.setUint16(0x3a, 32, true)), 'CORE_BAD_ELF', /section header size 32/);
    expectError(mutate((_, dv) => dv.setUint16(0x3e, 999, true)), 'CORE_BAD_ELF', /section-name table index 999/);
    expectError(mutate((_, dv) => dv.setUint16(0x3c, 5000, true)), 'CORE_TRUNCATED', /claims 5000 section headers/);
    expectError(mutate((_, dv) => dv.setBigUint64(0x28, 1n << 60n, true)), 'CORE_TRUNCATED', /claims 33 section headers at \d+, past the end of the file/);
    const btf = section(GOOD, '.BTF');
    expectError(mutate((_, dv) => dv.setBigUint64(btf.at + 0x18, 0xffffffffn, true)), 'CORE_TRUNCATED', new RegExp(`offset ${btf.at}: elf section ${btf.index} .* lies past the end`));
    expectError(mutate((_, dv) => dv.setUint32(btf.at, 0xfffff, true)), 'CORE_BAD_ELF', /name of elf section 27: offset 1048575 lies outside/);
    const symtab = section(GOOD, '.symtab');
    expectError(mutate((_, dv) => dv.setBigUint64(symtab.at + 0x38, 16n, true)), 'CORE_BAD_ELF', /section '.symtab': symbol table entry size 16/);
    expectError(mutate((_, dv) => dv.setUint32(symtab.at + 4, 1, true)), 'CORE_BAD_ELF', /no symbol table/);
    expectError(mutate((_, dv) => dv.setUint32(symtab.at + 0x28, 3, true)), 'CORE_BAD_ELF', /links to section 3, which is not a string table/);
    // Old LLVM wrote e_machine 0: accepted, as libbpf does.
    expect(attempt(mutate((_, dv) => dv.setUint16(18, 0, true)))).not.toBeInstanceOf(CoreError);
  });

  it('a missing or foreign .BTF', () => {
    const btf = section(GOOD, '.BTF');
    // Point .BTF's name at ".text" (its own string starts with ".BTF", shared with .rel.BTF).
    expectError(mutate((_, dv) => dv.setUint32(btf.at, dv.getUint32(section(GOOD, '.text').at, true), true)), 'CORE_NO_BTF', /no \.BTF section/);
    const err = expectError(mutate((b) => { b[btf.offset] = 0; }), 'CORE_BAD_BTF', /^section '\.BTF': offset 0: invalid btf \(BTF_BAD_MAGIC\)/);
    expect(err.cause).toBeInstanceOf(BtfError);
    // The big-endian object with its twin's little-endian .BTF: same size, wrong byte order.
    // (The twins share their layout: llvm-readelf shows .BTF at the same offset with the same size in both.)
    expect(GOOD_EB.subarray(btf.offset, btf.offset + 2)).toEqual(new Uint8Array([0xeb, 0x9f]));
    expect(GOOD_EB.length).toBe(GOOD.length);
    expectError(
      mutate((b) => b.set(GOOD.subarray(btf.offset, btf.offset + btf.size), btf.offset), GOOD_EB),
      'CORE_BAD_BTF',
      /\.BTF is little-endian in a big-endian object/,
    );
  });

  it('unusable program symbols', () => {
    const kp = symbol('kp_fields');
    expectError(mutate((b) => { b[kp + 4] = (0 << 4) | 2; }), 'CORE_BAD_PROGRAM', /section 'kprobe\/do_nanosleep': offset 0: program 'kp_fields' is static/);
    expectError(mutate((_, dv) => dv.setBigUint64(kp + 16, 0n, true)), 'CORE_BAD_PROGRAM', /corrupted program 'kp_fields': offset 0, size 0/);
    expectError(mutate((_, dv) => dv.setBigUint64(kp + 16, 12n, true)), 'CORE_BAD_PROGRAM', /corrupted program 'kp_fields'/);
    expectError(mutate((_, dv) => dv.setBigUint64(kp + 8, 4096n, true)), 'CORE_BAD_PROGRAM', /program 'kp_fields' \[4096, 4480\) crosses the section's end \(520 bytes\)/);
    // A static function in .text is a subprogram, as libbpf allows.
    expect(good.subprograms!.find((p) => p.name === 'read_pid')?.global).toBe(false);
  });

  it('externs without a matching btf extern', () => {
    const ext = symbol('bpf_task_acquire');
    expectError(mutate((_, dv) => dv.setUint32(ext, strtabOffset('kp_fields'), true)), 'CORE_BAD_EXTERN', /extern 'kp_fields': btf FUNC has linkage 1, not extern/);
    expectError(mutate((_, dv) => dv.setUint32(ext, strtabOffset('.text'), true)), 'CORE_BAD_EXTERN', /section '\.symtab': offset \d+: extern '\.text' has no btf var or func/);
  });
});

describe('parseBtfExt through readBpfObject: bad .BTF.ext', () => {
  const cases: [what: string, edit: (b: Uint8Array, dv: DataView) => void, code: CoreErrorCode, message: RegExp][] = [
    ['bad magic', (_, dv) => dv.setUint16(EXT.offset, 0x1234, true), 'CORE_BAD_BTF_EXT', /offset 0: bad magic 0x3412/],
    ['version 2', (b) => { b[EXT.offset + 2] = 2; }, 'CORE_BAD_BTF_EXT', /offset 2: unsupported version 2/],
    ['flags', (b) => { b[EXT.offset + 3] = 1; }, 'CORE_BAD_BTF_EXT', /offset 3: unsupported flags 0x1/],
    ['hdr_len below 24', (_, dv) => dv.setUint32(EXT.offset + 4, 16, true), 'CORE_BAD_BTF_EXT', /offset 4: hdr_len 16 is below 24/],
    ['hdr_len = section size', (_, dv) => dv.setUint32(EXT.offset + 4, EXT.size, true), 'CORE_BAD_BTF_EXT', /hdr_len \d+ leaves no data/],
    ['hdr_len past the end', (_, dv) => dv.setUint32(EXT.offset + 4, 0xfffffff0, true), 'CORE_BAD_BTF_EXT', /runs past the end of the section/],
    ['func_info offset unaligned', (_, dv) => dv.setUint32(EXT.offset + 8, 2, true), 'CORE_BAD_BTF_EXT', /func_info offset 2 is not 4-byte aligned/],
    ['core_relo block past the end', (_, dv) => dv.setUint32(EXT.offset + 28, HDR.coreReloLen + 4, true), 'CORE_BAD_BTF_EXT', /core_relo block \[\d+, \d+\) runs past the end of the section \(2764 bytes\)/],
    ['core_relo offset huge', (_, dv) => dv.setUint32(EXT.offset + 24, 0xfffffffc, true), 'CORE_BAD_BTF_EXT', /core_relo block .* runs past the end/],
    ['record size too small', (_, dv) => dv.setUint32(CORE_BLOCK, 12, true), 'CORE_BAD_RECORD', /core_relo record size 12 is invalid/],
    ['record size not a multiple of 4', (_, dv) => dv.setUint32(CORE_BLOCK, 18, true), 'CORE_BAD_RECORD', /core_relo record size 18 is invalid/],
    ['record size larger than the block', (_, dv) => dv.setUint32(CORE_BLOCK, 0x10000, true), 'CORE_BAD_RECORD', /claims \d+ records of 65536 bytes, the block holds 0/],
    ['huge count', (_, dv) => dv.setUint32(CORE_BLOCK + 8, 0xffffffff, true), 'CORE_BAD_RECORD', /core_relo group of section '\.text' claims 4294967295 records of 16 bytes/],
    ['zero count', (_, dv) => dv.setUint32(CORE_BLOCK + 8, 0, true), 'CORE_BAD_RECORD', /core_relo group of section '\.text' has no records/],
    ['section name outside the strings', (_, dv) => dv.setUint32(CORE_BLOCK + 4, 0x7fffffff, true), 'CORE_BAD_RECORD', /core_relo section name offset 2147483647 is outside the \.BTF string table/],
    ['empty section name', (_, dv) => dv.setUint32(CORE_BLOCK + 4, 0, true), 'CORE_BAD_RECORD', /core_relo group has an empty section name/],
    ['not an instruction section', (_, dv) => dv.setUint32(CORE_BLOCK + 4, LICENSE_STR, true), 'CORE_BAD_RECORD', /names section 'license', which is not an instruction section/],
    ['insn_off unaligned', (_, dv) => dv.setUint32(CORE_REC, 4, true), 'CORE_BAD_RECORD', /core_relo insn_off 4 in section '\.text' is not a multiple of 8/],
    ['insn_off past the section', (_, dv) => dv.setUint32(CORE_REC, 208, true), 'CORE_BAD_RECORD', /core_relo insn_off 208 lies outside section '\.text' \(208 bytes\)/],
    ['type id 0', (_, dv) => dv.setUint32(CORE_REC + 4, 0, true), 'CORE_BAD_RECORD', /type \[0\]: .*core_relo type id 0 is not a type/],
    ['type id out of range', (_, dv) => dv.setUint32(CORE_REC + 4, 5000, true), 'CORE_BAD_RECORD', /core_relo type id 5000 is not a type of the object's btf \(1\.\.\d+\)/],
    ['access string outside the strings', (_, dv) => dv.setUint32(CORE_REC + 8, 0xffffff, true), 'CORE_BAD_RECORD', /core_relo access string offset 16777215 is outside/],
    ['access string malformed', (_, dv) => dv.setUint32(CORE_REC + 8, LICENSE_STR, true), 'CORE_BAD_RECORD', /access string 'license', not of the form/],
    ['unknown kind', (_, dv) => dv.setUint32(CORE_REC + 12, 13, true), 'CORE_BAD_RECORD', /unknown kind 13/],
    ['func info type not a FUNC', (_, dv) => dv.setUint32(FUNC_BLOCK + 4 + 8 + 4, 1, true), 'CORE_BAD_RECORD', /func_info type id 1 is a \w+, not a FUNC/],
    ['line info file name outside', (_, dv) => dv.setUint32(LINE_BLOCK + 4 + 8 + 4, 0x7ffffff0, true), 'CORE_BAD_RECORD', /line_info file name offset \d+ is outside/],
    ['line info insn_off past the section', (_, dv) => dv.setUint32(LINE_BLOCK + 4 + 8, 0x1000, true), 'CORE_BAD_RECORD', /line_info insn_off 4096 lies outside section '\.text'/],
  ];
  for (const [what, edit, code, message] of cases) {
    it(what, () => {
      const err = expectError(mutate(edit), code, message);
      expect(err.section).toBe('.BTF.ext');
      expect(err.offset).toBeGreaterThanOrEqual(0);
      expect(err.message).toMatch(/^section '\.BTF\.ext': /);
    });
  }

  it('records larger than known: the extra bytes are skipped', () => {
    // Re-encode the CO-RE block with 24-byte records (8 bytes of junk each) at the end of the file.
    const ext = GOOD.subarray(EXT.offset, EXT.offset + EXT.size);
    const dv = dvOf(GOOD);
    const groups: number[] = [];
    const extra = 8;
    let at = CORE_BLOCK + 4;
    const end = CORE_BLOCK + HDR.coreReloLen;
    while (at < end) {
      const count = dv.getUint32(at + 4, true);
      groups.push(...GOOD.subarray(at, at + 8));
      for (let i = 0; i < count; i++) groups.push(...GOOD.subarray(at + 8 + i * 16, at + 8 + (i + 1) * 16), ...Array(extra).fill(0xa5));
      at += 8 + count * 16;
    }
    const block = new Uint8Array(4 + groups.length);
    dvOf(block).setUint32(0, 16 + extra, true);
    block.set(groups, 4);
    const newExt = new Uint8Array(EXT.size + block.length);
    newExt.set(ext);
    newExt.set(block, EXT.size);
    dvOf(newExt).setUint32(24, EXT.size - HDR.hdrLen, true);
    dvOf(newExt).setUint32(28, block.length, true);
    const bytes = new Uint8Array(GOOD.length + newExt.length);
    bytes.set(GOOD);
    bytes.set(newExt, GOOD.length);
    dvOf(bytes).setBigUint64(EXT.at + 0x18, BigInt(GOOD.length), true);
    dvOf(bytes).setBigUint64(EXT.at + 0x20, BigInt(newExt.length), true);
    const obj = readBpfObject(bytes);
    expect(obj.btfExt!.recordSizes.coreRelo).toBe(24);
    expect(obj.coreRelos).toEqual(good.coreRelos);
    expect(obj.coreRelos.length).toBe(26);
  });

  it('a header without the CO-RE fields (hdr_len 24) has no CO-RE records', () => {
    const bytes = mutate((_, dv) => {
      dv.setUint32(EXT.offset + 4, 24, true);
      dv.setUint32(EXT.offset + 8, HDR.funcInfoOff + 8, true);
      dv.setUint32(EXT.offset + 16, HDR.lineInfoOff + 8, true);
    });
    const obj = readBpfObject(bytes);
    expect(obj.coreRelos).toEqual([]);
    expect(obj.btfExt!.header).toMatchObject({ hdrLen: 24, coreReloOff: 0, coreReloLen: 0 });
    expect(obj.btfExt!.funcInfo).toEqual(good.btfExt!.funcInfo);
    expect(obj.btfExt!.lineInfo).toEqual(good.btfExt!.lineInfo);
  });
});

describe('readBpfObject: byte-flip fuzzing', () => {
  const BASE_SEED = Number(process.env.FUZZ_SEED ?? 0xc0de);
  const REPLAY = process.env.FUZZ_REPLAY === undefined ? undefined : Number(process.env.FUZZ_REPLAY);
  const CASES = 2000;
  const regions = [
    { from: 0, to: GOOD.length },
    { from: EXT.offset, to: EXT.offset + EXT.size },
    { from: section(GOOD, '.symtab').offset, to: section(GOOD, '.symtab').offset + section(GOOD, '.symtab').size },
    { from: section(GOOD, '.BTF').offset, to: section(GOOD, '.BTF').offset + 200 },
    { from: sectionHeaders(GOOD)[0].at, to: GOOD.length },
  ];
  const interesting = [0, 1, 4, 7, 8, 12, 16, 24, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0xffffffff];

  it(`only CoreErrors come out, each case fast (${CASES} seeded cases)`, () => {
    const seeds = REPLAY !== undefined ? [REPLAY] : Array.from({ length: CASES }, (_, i) => (BASE_SEED + Math.imul(i, 0x9e3779b1)) >>> 0);
    const outcome = new Map<string, number>();
    for (const seed of seeds) {
      const rand = mulberry32(seed);
      const region = regions[Math.floor(rand() * regions.length)];
      // A third of the cases mutate the big-endian twin (same layout, so the same regions).
      const bytes = new Uint8Array(rand() < 0.33 ? GOOD_EB : GOOD);
      const dv = dvOf(bytes);
      const n = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < n; k++) {
        const at = region.from + Math.floor(rand() * (region.to - region.from - 4));
        if (rand() < 0.5) bytes[at] ^= 1 << Math.floor(rand() * 8);
        else dv.setUint32(at, interesting[Math.floor(rand() * interesting.length)], true);
      }
      const t0 = performance.now();
      let r: BpfObject | CoreError;
      try {
        r = attempt(bytes);
      } catch (err) {
        throw new Error(`case seed ${seed} (replay: FUZZ_REPLAY=${seed}): ${(err as Error).name}: ${(err as Error).message}`);
      }
      const ms = performance.now() - t0;
      if (ms > 1000) throw new Error(`case seed ${seed} took ${ms.toFixed(0)} ms`);
      const key = r instanceof CoreError ? r.code : 'ok';
      outcome.set(key, (outcome.get(key) ?? 0) + 1);
    }
    if (REPLAY === undefined) {
      // The mutants reach the different checks, and some still read (flips in unused bytes).
      expect(outcome.get('ok')).toBeGreaterThan(0);
      for (const code of ['CORE_BAD_BTF', 'CORE_BAD_RECORD', 'CORE_BAD_ELF', 'CORE_TRUNCATED']) expect(outcome.get(code), code).toBeGreaterThan(0);
    }
  });
});
