/**
 * The BPF object reader: a compiled eBPF ELF object (`clang -target bpf -g -O2 -c x.bpf.c`) in, the
 * {@link BpfObject} the CO-RE dry run needs out. Pure: bytes in, model out.
 *
 * What is read, and the libbpf 1.7 rule each part follows (libbpf.c):
 * - the ELF: ELF64 of either byte order, ET_REL, e_machine EM_BPF (or 0, as old LLVM wrote;
 *   `bpf_object__elf_init`), exactly one symbol table (`bpf_object__elf_collect`);
 * - `.BTF` with `Btf.parse` of libs/btf (its own magic says its byte order, which must be the ELF's);
 * - `.BTF.ext` with {@link parseBtfExt}; an object without it reads with no relocations, unless the caller
 *   asks for them with `requireBtfExt` (then CORE_NO_BTF_EXT);
 * - programs: every STT_FUNC symbol of an executable, non-empty PROGBITS section (`bpf_object__add_programs`);
 *   those of `.text` are subprograms (`prog_is_subprog`), any other must not be STB_LOCAL ("program is static
 *   and not supported"); sorted by section index then offset, as libbpf's `cmp_progs`;
 * - externs: undefined (SHN_UNDEF) NOTYPE symbols bound GLOBAL or WEAK, each matched by name to the first BTF
 *   VAR or FUNC of that name, which must have extern linkage and sit in a `.ksyms` or `.kconfig` DATASEC
 *   (`bpf_object__collect_externs`, `find_extern_btf_id`, `find_extern_sec_btf_id`); weak from STB_WEAK;
 * - maps: the VARs of the `.maps` DATASEC (BTF-defined maps; `bpf_object__init_user_btf_maps`).
 *
 * Everything is bounds-checked; bad or truncated input throws {@link CoreError}, never a RangeError.
 */
import { Btf, BtfError, type BtfLimits } from '@btf-atlas/btf/core';
import { parseBtfExt, type BtfExt } from './btf-ext.js';
import { CoreError, CoreErrorCode } from './errors.js';
import { parseSectionName } from './section-names.js';
import type { BpfExtern, BpfObject, BpfProgram, Insn } from './types.js';

/** Options of {@link readBpfObject}. */
export interface ReadObjectOptions {
  /** Throw CORE_NO_BTF_EXT when the object has no `.BTF.ext` (default false: such an object has no relocations). */
  requireBtfExt?: boolean;
  /** Limits for parsing the object's `.BTF` (libs/btf defaults). */
  btfLimits?: Partial<BtfLimits>;
}

/** ELF constants (System V gABI; elf.h). */
const EM_BPF = 247;
const ET_REL = 1;
const ELFCLASS64 = 2;
const SHT_PROGBITS = 1;
const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const SHT_NOBITS = 8;
const SHF_EXECINSTR = 0x4;
const SHN_UNDEF = 0;
const SHN_XINDEX = 0xffff;
const STT_NOTYPE = 0;
const STT_FUNC = 2;
const STB_LOCAL = 0;
const STB_GLOBAL = 1;
const STB_WEAK = 2;
const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
/** One eBPF instruction (`struct bpf_insn`). */
const INSN_SIZE = 8;
/** BTF linkage values (include/uapi/linux/btf.h): `BTF_VAR_GLOBAL_EXTERN`, `BTF_FUNC_EXTERN`. */
const BTF_VAR_GLOBAL_EXTERN = 2;
const BTF_FUNC_EXTERN = 2;

/** One ELF section header, with its name. */
export interface ElfSection {
  index: number;
  name: string;
  type: number;
  /** sh_flags (low 32 bits: every flag defined for relocatable objects lives there). */
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  entsize: number;
}

/** One ELF symbol (`Elf64_Sym`), with its name. */
export interface ElfSymbol {
  index: number;
  name: string;
  value: number;
  size: number;
  /** ELF64_ST_TYPE: STT_NOTYPE 0, STT_OBJECT 1, STT_FUNC 2, STT_SECTION 3. */
  type: number;
  /** ELF64_ST_BIND: STB_LOCAL 0, STB_GLOBAL 1, STB_WEAK 2. */
  bind: number;
  /** ELF64_ST_VISIBILITY. */
  visibility: number;
  shndx: number;
}

/** The parts of an ELF64 relocatable object the reader uses. */
export interface ElfObject {
  littleEndian: boolean;
  sections: ElfSection[];
  symbols: ElfSymbol[];
}

/**
 * Reads a BPF object. Throws {@link CoreError} (see {@link CoreErrorCode}); a malformed `.BTF` is CORE_BAD_BTF
 * with the libs/btf error as `cause`. `elf`: the {@link readElfObject} of `bytes` when the caller has it already.
 */
export function readBpfObject(bytes: Uint8Array, opts: ReadObjectOptions = {}, elf: ElfObject = readElfObject(bytes)): BpfObject {
  const le = elf.littleEndian;
  const sectionBytes = (s: ElfSection): Uint8Array => bytes.subarray(s.offset, s.offset + s.size);

  const btfSec = elf.sections.find((s) => s.name === '.BTF');
  if (!btfSec) throw new CoreError(CoreErrorCode.NoBtf, 'object has no .BTF section (was it built with -g, or stripped?)');
  if (btfSec.type !== SHT_PROGBITS) {
    throw new CoreError(CoreErrorCode.BadElf, `.BTF section has type ${btfSec.type}, not PROGBITS`, { section: '.BTF' });
  }
  const btf = parseObjectBtf(sectionBytes(btfSec), opts.btfLimits);
  if (btf.littleEndian !== le) {
    throw new CoreError(CoreErrorCode.BadBtf, `.BTF is ${btf.littleEndian ? 'little' : 'big'}-endian in a ${le ? 'little' : 'big'}-endian object`, { section: '.BTF', offset: 0 });
  }

  return withBtfErrors(() => {
    const { programs, subprograms, sections } = readPrograms(bytes, elf);
    const sectionSizes = new Map<string, number>();
    for (const s of elf.sections) {
      if (sections.has(s.name) && !sectionSizes.has(s.name)) sectionSizes.set(s.name, s.size);
    }

    let btfExt: BtfExt | undefined;
    const extSec = elf.sections.find((s) => s.name === '.BTF.ext');
    if (extSec) {
      if (extSec.type !== SHT_PROGBITS) {
        throw new CoreError(CoreErrorCode.BadElf, `.BTF.ext section has type ${extSec.type}, not PROGBITS`, { section: '.BTF.ext' });
      }
      btfExt = parseBtfExt(sectionBytes(extSec), btf, { sectionSizes });
      if (btfExt.header.littleEndian !== le) {
        throw new CoreError(CoreErrorCode.BadBtfExt, `.BTF.ext is ${btfExt.header.littleEndian ? 'little' : 'big'}-endian in a ${le ? 'little' : 'big'}-endian object`, { section: '.BTF.ext', offset: 0 });
      }
    } else if (opts.requireBtfExt) {
      throw new CoreError(CoreErrorCode.NoBtfExt, 'object has no .BTF.ext section, so no co-re relocations can be read (was it built with -g?)');
    }

    const obj: BpfObject = {
      littleEndian: le,
      btf,
      programs,
      sections,
      coreRelos: btfExt ? btfExt.coreRelos : [],
      externs: readExterns(elf, btf),
      maps: readMapNames(btf),
      subprograms,
    };
    if (btfExt) obj.btfExt = btfExt;
    return obj;
  });
}

/**
 * The program or subprogram whose instructions hold byte offset `insnOff` of `section` (libbpf
 * `find_prog_by_sec_insn`): what libbpf names as `prog` for a CO-RE record. Undefined when none does (libbpf
 * then skips the record: "belonging to eliminated weak subprogram").
 */
export function findProgram(obj: BpfObject, section: string, insnOff: number): BpfProgram | undefined {
  const idx = Math.floor(insnOff / INSN_SIZE);
  const inSection = (p: BpfProgram): boolean => p.section === section && idx >= p.offset / INSN_SIZE && idx < p.offset / INSN_SIZE + p.size;
  return obj.programs.find(inSection) ?? obj.subprograms?.find(inSection);
}

/** Parses `.BTF`, turning a libs/btf error into CORE_BAD_BTF. */
function parseObjectBtf(bytes: Uint8Array, limits: Partial<BtfLimits> | undefined): Btf {
  try {
    return Btf.parse(bytes, limits ? { limits } : {});
  } catch (err) {
    throw badBtf(err);
  }
}

/** Runs `fn`; a BtfError from decoding a type record of a malformed `.BTF` becomes CORE_BAD_BTF. */
function withBtfErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof BtfError) throw badBtf(err);
    throw err;
  }
}

function badBtf(err: unknown): unknown {
  if (!(err instanceof BtfError)) return err;
  const where: { section: string; typeId?: number; offset?: number } = { section: '.BTF' };
  if (err.typeId !== undefined) where.typeId = err.typeId;
  if (err.offset !== undefined) where.offset = err.offset;
  return new CoreError(CoreErrorCode.BadBtf, `invalid btf (${err.code}): ${err.reason}`, where, { cause: err });
}

/**
 * Reads the ELF header, section table (names included) and the one symbol table of a BPF object, checking
 * every offset against the file: a table that lies past the end is CORE_TRUNCATED, an inconsistent one
 * CORE_BAD_ELF. Extended section numbering (e_shnum 0 / e_shstrndx SHN_XINDEX) is honoured.
 */
export function readElfObject(bytes: Uint8Array): ElfObject {
  if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new CoreError(CoreErrorCode.NotElf, 'not an elf object (no \\x7fELF magic)', { offset: 0 });
  }
  if (bytes.length < 16) throw new CoreError(CoreErrorCode.Truncated, `elf identification is truncated (${bytes.length} of 16 bytes)`, { offset: 0 });
  if (bytes[4] !== ELFCLASS64) {
    throw new CoreError(CoreErrorCode.NotBpf, `elf class ${bytes[4]} is not ELFCLASS64 (bpf objects are 64-bit)`, { offset: 4 });
  }
  const data = bytes[5];
  if (data !== 1 && data !== 2) throw new CoreError(CoreErrorCode.BadElf, `elf data encoding ${data} is neither little- (1) nor big-endian (2)`, { offset: 5 });
  const le = data === 1;
  if (bytes.length < EHDR_SIZE) throw new CoreError(CoreErrorCode.Truncated, `elf header is truncated (${bytes.length} of ${EHDR_SIZE} bytes)`, { offset: 0 });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (off: number): number => dv.getUint16(off, le);
  const u32 = (off: number): number => dv.getUint32(off, le);
  const u64 = (off: number): number => {
    const v = dv.getBigUint64(off, le);
    // Nothing past 2^53 lies inside a file we can hold: clamp, and the bounds checks reject it.
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  };

  const eType = u16(16);
  const eMachine = u16(18);
  if (eType !== ET_REL) throw new CoreError(CoreErrorCode.NotBpf, `elf type ${eType} is not ET_REL (a bpf object is relocatable)`, { offset: 16 });
  if (eMachine !== EM_BPF && eMachine !== 0) throw new CoreError(CoreErrorCode.NotBpf, `elf machine ${eMachine} is not EM_BPF (247)`, { offset: 18 });

  const shoff = u64(0x28);
  const shentsize = u16(0x3a);
  let shnum = u16(0x3c);
  let shstrndx = u16(0x3e);
  if (shoff === 0) throw new CoreError(CoreErrorCode.BadElf, 'elf object has no section header table', { offset: 0x28 });
  if (shentsize < SHDR_SIZE) throw new CoreError(CoreErrorCode.BadElf, `elf section header size ${shentsize} is below ${SHDR_SIZE}`, { offset: 0x3a });
  const headerAt = (i: number): number => {
    const off = shoff + i * shentsize;
    if (off + SHDR_SIZE > bytes.length) {
      throw new CoreError(CoreErrorCode.Truncated, `elf section header ${i} at ${off} lies past the end of the file (${bytes.length} bytes)`, { offset: off });
    }
    return off;
  };
  if (shnum === 0 || shstrndx === SHN_XINDEX) {
    const h0 = headerAt(0);
    if (shnum === 0) shnum = u64(h0 + 0x20);
    if (shstrndx === SHN_XINDEX) shstrndx = u32(h0 + 0x28);
  }
  if (shoff + shnum * shentsize > bytes.length) {
    throw new CoreError(CoreErrorCode.Truncated, `elf claims ${shnum} section headers at ${shoff}, past the end of the file (${bytes.length} bytes)`, { offset: shoff });
  }
  if (shstrndx === SHN_UNDEF || shstrndx >= shnum) {
    throw new CoreError(CoreErrorCode.BadElf, `elf section-name table index ${shstrndx} is not a section (${shnum} sections)`, { offset: 0x3e });
  }

  const raw: (Omit<ElfSection, 'name'> & { nameOff: number })[] = [];
  for (let i = 0; i < shnum; i++) {
    const h = headerAt(i);
    const s = {
      index: i,
      nameOff: u32(h),
      type: u32(h + 4),
      flags: u32(h + (le ? 8 : 12)),
      offset: u64(h + 0x18),
      size: u64(h + 0x20),
      link: u32(h + 0x28),
      info: u32(h + 0x2c),
      entsize: u64(h + 0x38),
    };
    if (i !== 0 && s.type !== SHT_NOBITS && s.offset + s.size > bytes.length) {
      throw new CoreError(
        CoreErrorCode.Truncated,
        `elf section ${i} [${s.offset}, ${s.offset + s.size}) lies past the end of the file (${bytes.length} bytes)`,
        { offset: h },
      );
    }
    raw.push(s);
  }
  const shstr = raw[shstrndx];
  if (shstr.type === SHT_NOBITS) throw new CoreError(CoreErrorCode.BadElf, 'elf section-name table has no data (NOBITS)', { offset: headerAt(shstrndx) });
  const sections: ElfSection[] = raw.map(({ nameOff, ...s }) => ({
    ...s,
    name: s.index === 0 ? '' : cString(bytes, shstr.offset, shstr.size, nameOff, `name of elf section ${s.index}`),
  }));

  const symtabs = sections.filter((s) => s.type === SHT_SYMTAB);
  if (symtabs.length === 0) throw new CoreError(CoreErrorCode.BadElf, 'elf object has no symbol table (stripped?)');
  if (symtabs.length > 1) throw new CoreError(CoreErrorCode.BadElf, `elf object has ${symtabs.length} symbol tables`, { section: symtabs[1].name });
  const symtab = symtabs[0];
  if (symtab.entsize !== SYM_SIZE || symtab.size % SYM_SIZE !== 0) {
    throw new CoreError(CoreErrorCode.BadElf, `symbol table entry size ${symtab.entsize} / size ${symtab.size} do not fit Elf64_Sym (${SYM_SIZE} bytes)`, { section: symtab.name });
  }
  const strtab = sections[symtab.link];
  if (symtab.link === SHN_UNDEF || !strtab || strtab.type !== SHT_STRTAB) {
    throw new CoreError(CoreErrorCode.BadElf, `symbol table links to section ${symtab.link}, which is not a string table`, { section: symtab.name });
  }
  const symbols: ElfSymbol[] = [];
  for (let i = 0, at = symtab.offset; i < symtab.size / SYM_SIZE; i++, at += SYM_SIZE) {
    const info = bytes[at + 4];
    const name = i === 0 ? '' : cString(bytes, strtab.offset, strtab.size, u32(at), `name of symbol ${i}`);
    symbols.push({
      index: i,
      name,
      type: info & 0xf,
      bind: info >>> 4,
      visibility: bytes[at + 5] & 0x3,
      shndx: u16(at + 6),
      value: u64(at + 8),
      size: u64(at + 16),
    });
  }
  return { littleEndian: le, sections, symbols };
}

/** The NUL-terminated string at `off` of a string table section [start, start + size). */
function cString(bytes: Uint8Array, start: number, size: number, off: number, what: string): string {
  if (off >= size) throw new CoreError(CoreErrorCode.BadElf, `${what}: offset ${off} lies outside its string table (${size} bytes)`, { offset: start });
  const from = start + off;
  const nul = bytes.subarray(from, start + size).indexOf(0);
  if (nul < 0) throw new CoreError(CoreErrorCode.BadElf, `${what}: string at offset ${off} is not terminated`, { offset: from });
  return Buffer.from(bytes.buffer, bytes.byteOffset + from, nul).toString('utf8');
}

/**
 * Instructions of each executable section and the programs in them (see the module comment for the rules).
 * LDIMM64 stays two slots (the second has code 0). The register byte holds dst in its low nibble and src in
 * its high nibble in a little-endian object, the other way round in a big-endian one (`struct bpf_insn`'s
 * bitfields follow the byte order).
 */
function readPrograms(bytes: Uint8Array, elf: ElfObject): { programs: BpfProgram[]; subprograms: BpfProgram[]; sections: Map<string, Insn[]> } {
  const le = elf.littleEndian;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sections = new Map<string, Insn[]>();
  const found: { prog: BpfProgram; secIdx: number; sub: boolean }[] = [];
  for (const sec of elf.sections) {
    if (sec.type !== SHT_PROGBITS || (sec.flags & SHF_EXECINSTR) === 0 || sec.size === 0) continue;
    if (sec.size % INSN_SIZE !== 0) {
      throw new CoreError(CoreErrorCode.BadProgram, `executable section of ${sec.size} bytes is not a whole number of ${INSN_SIZE}-byte instructions`, { section: sec.name });
    }
    if (!sections.has(sec.name)) {
      const insns = new Array<Insn>(sec.size / INSN_SIZE);
      for (let i = 0, at = sec.offset; i < insns.length; i++, at += INSN_SIZE) {
        const regs = bytes[at + 1];
        insns[i] = {
          code: bytes[at],
          dstReg: le ? regs & 0xf : regs >>> 4,
          srcReg: le ? regs >>> 4 : regs & 0xf,
          off: dv.getInt16(at + 2, le),
          imm: dv.getInt32(at + 4, le),
        };
      }
      sections.set(sec.name, insns);
    }
    const isText = sec.name === '.text';
    for (const sym of elf.symbols) {
      if (sym.shndx !== sec.index || sym.type !== STT_FUNC) continue;
      if (sym.size === 0 || sym.size % INSN_SIZE !== 0 || sym.value % INSN_SIZE !== 0) {
        throw new CoreError(CoreErrorCode.BadProgram, `corrupted program '${sym.name}': offset ${sym.value}, size ${sym.size} (non-zero multiples of ${INSN_SIZE} needed)`, { section: sec.name, offset: sym.value });
      }
      if (sym.value + sym.size > sec.size) {
        throw new CoreError(CoreErrorCode.BadProgram, `program '${sym.name}' [${sym.value}, ${sym.value + sym.size}) crosses the section's end (${sec.size} bytes)`, { section: sec.name, offset: sym.value });
      }
      if (!isText && sym.bind === STB_LOCAL) {
        throw new CoreError(CoreErrorCode.BadProgram, `program '${sym.name}' is static, which libbpf does not support outside .text`, { section: sec.name, offset: sym.value });
      }
      found.push({
        secIdx: sec.index,
        sub: isText,
        prog: {
          name: sym.name,
          section: sec.name,
          offset: sym.value,
          size: sym.size / INSN_SIZE,
          attach: isText ? { kind: 'subprog' } : parseSectionName(sec.name),
          autoload: !sec.name.startsWith('?'),
          global: sym.bind !== STB_LOCAL,
        },
      });
    }
  }
  // libbpf cmp_progs: by section index, then by offset within the section.
  found.sort((a, b) => a.secIdx - b.secIdx || a.prog.offset - b.prog.offset);
  return {
    programs: found.filter((f) => !f.sub).map((f) => f.prog),
    subprograms: found.filter((f) => f.sub).map((f) => f.prog),
    sections,
  };
}

/** Externs (libbpf `bpf_object__collect_externs`; see the module comment), in symbol table order. */
function readExterns(elf: ElfObject, btf: Btf): BpfExtern[] {
  const candidates = elf.symbols.filter(
    (s) => s.shndx === SHN_UNDEF && (s.bind === STB_GLOBAL || s.bind === STB_WEAK) && s.type === STT_NOTYPE && s.name !== '',
  );
  if (candidates.length === 0) return [];
  // The first VAR or FUNC of each name, and the DATASEC each id sits in (first DATASEC that lists it).
  const byName = new Map<string, number>();
  const secOf = new Map<number, string>();
  for (let id = 1; id < btf.nextId; id++) {
    const kind = btf.kindNameOf(id);
    if (kind === 'VAR' || kind === 'FUNC') {
      const name = btf.nameOf(id);
      if (!byName.has(name)) byName.set(name, id);
    } else if (kind === 'DATASEC') {
      const t = btf.type(id);
      if (t.kind !== 'DATASEC') continue;
      for (const v of t.vars) if (!secOf.has(v.type)) secOf.set(v.type, t.name);
    }
  }
  return candidates.map((sym) => {
    const where = { section: '.symtab', offset: sym.index * SYM_SIZE };
    const id = byName.get(sym.name);
    if (id === undefined) throw new CoreError(CoreErrorCode.BadExtern, `extern '${sym.name}' has no btf var or func`, where);
    const t = btf.type(id);
    const isFunc = t.kind === 'FUNC';
    const linkage = t.kind === 'FUNC' || t.kind === 'VAR' ? t.linkage : -1;
    if (linkage !== (isFunc ? BTF_FUNC_EXTERN : BTF_VAR_GLOBAL_EXTERN)) {
      throw new CoreError(CoreErrorCode.BadExtern, `extern '${sym.name}': btf ${t.kind} has linkage ${linkage}, not extern`, { ...where, typeId: id });
    }
    const section = secOf.get(id);
    if (section === undefined) throw new CoreError(CoreErrorCode.BadExtern, `extern '${sym.name}' is in no btf datasec`, { ...where, typeId: id });
    if (section !== '.ksyms' && section !== '.kconfig') {
      throw new CoreError(CoreErrorCode.BadExtern, `extern '${sym.name}' is in datasec '${section}', neither .ksyms nor .kconfig`, { ...where, typeId: id });
    }
    if (isFunc && section === '.kconfig') {
      throw new CoreError(CoreErrorCode.BadExtern, `extern function '${sym.name}' cannot be in .kconfig`, { ...where, typeId: id });
    }
    return { name: sym.name, type: isFunc ? 'func' : 'var', section, weak: sym.bind === STB_WEAK, btfId: id };
  });
}

/** Names of the BTF-defined maps: the VARs of the `.maps` DATASEC, in its order. */
function readMapNames(btf: Btf): string[] {
  for (let id = 1; id < btf.nextId; id++) {
    if (btf.kindNameOf(id) !== 'DATASEC') continue;
    const sec = btf.type(id);
    if (sec.kind !== 'DATASEC' || sec.name !== '.maps') continue;
    return sec.vars.map((v, i) => {
      if (btf.kindNameOf(v.type) !== 'VAR') {
        throw new CoreError(CoreErrorCode.BadBtf, `.maps entry ${i} is type ${v.type} (${btf.kindNameOf(v.type)}), not a VAR`, { section: '.BTF', typeId: id });
      }
      return btf.nameOf(v.type);
    });
  }
  return [];
}
