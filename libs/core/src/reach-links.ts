/**
 * What the ELF relocations of a BPF object's executable sections say about its instructions, as libbpf reads
 * them when it opens the object (libbpf.c `bpf_object__collect_prog_relos` → `bpf_program__record_reloc`):
 * - a `call` relocated against a `.text` symbol is a BPF-to-BPF call; the callee starts at the symbol's
 *   value / 8 + imm + 1 (a global function: imm -1; a static one: relocated against the section, imm says where);
 * - an LDIMM64 relocated against a `.text` symbol takes a subprogram's address (a callback): the function
 *   starts at (value + imm) / 8;
 * - a `call` or an LDIMM64 relocated against an undefined symbol refers to an extern (a kfunc, a ksym or a
 *   kconfig variable): what it becomes depends on the kernel, so it is kept by name ({@link ObjectLinks.externRefs});
 * - any other LDIMM64 relocation (a map, `.rodata`, `.data`, `.bss`, …) loads a value the loader chooses.
 * The dry run's {@link BpfObject} does not carry ELF relocations, so they are read here from the same bytes.
 */
import { BPF_JMP_CALL, INSN_SIZE, LDIMM64 } from './bpf-insn.js';
import { readBpfObject, readElfObject, type ElfObject, type ElfSection, type ReadObjectOptions } from './object.js';
import { CoreError, CoreErrorCode } from './errors.js';
import { locKey, type CodeLoc, type InsnLink } from './reach.js';
import type { BpfObject } from './types.js';

/** A reference of an instruction to an extern symbol. */
export interface ExternRef {
  loc: CodeLoc;
  name: string;
  /** `call`: a kfunc call; `ld64`: an LDIMM64 of the extern's address (a ksym, `bpf_ksym_exists`, a kconfig value). */
  use: 'call' | 'ld64';
}

/** The kernel-independent links of an object's instructions, and its extern references. */
export interface ObjectLinks {
  /** Calls, callback addresses and loader-chosen values, by {@link locKey}. */
  links: Map<string, InsnLink>;
  /** Every instruction that refers to an extern, in section and offset order. */
  externRefs: ExternRef[];
}

/** A BPF object together with the links of its instructions: what the verdicts need. */
export interface LinkedBpfObject extends BpfObject {
  objectLinks: ObjectLinks;
}

const SHT_REL = 9;
const SHF_EXECINSTR = 0x4;
const REL_SIZE = 16;
const SHN_UNDEF = 0;
const STT_SECTION = 3;

/**
 * Reads the relocations of every executable section of the object in `bytes` (which `obj` was read from; `elf`:
 * its {@link readElfObject}, when the caller has it already).
 * Throws CoreError CORE_BAD_ELF for a relocation table that does not fit its section or names a missing
 * symbol, and CORE_BAD_PROGRAM for a relocation libbpf refuses ("invalid relo", "bad call relo"), each
 * naming the section and byte offset.
 */
export function readObjectLinks(bytes: Uint8Array, obj: BpfObject, elf: ElfObject = readElfObject(bytes)): ObjectLinks {
  const le = elf.littleEndian;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = elf.sections.find((s) => s.name === '.text');
  const out: ObjectLinks = { links: new Map(), externRefs: [] };

  const relSections = elf.sections.filter((s) => s.type === SHT_REL);
  for (const rel of relSections) {
    const target: ElfSection | undefined = elf.sections[rel.info];
    if (!target || (target.flags & SHF_EXECINSTR) === 0) continue;
    const insns = obj.sections.get(target.name);
    if (!insns) continue;
    if (rel.size % REL_SIZE !== 0) {
      throw new CoreError(CoreErrorCode.BadElf, `relocation section of ${rel.size} bytes is not a whole number of ${REL_SIZE}-byte entries`, { section: rel.name });
    }
    for (let at = rel.offset; at < rel.offset + rel.size; at += REL_SIZE) {
      const where = { section: rel.name, offset: at - rel.offset };
      const rOffset = Number(dv.getBigUint64(at, le));
      const rInfo = dv.getBigUint64(at + 8, le);
      const symIdx = Number(rInfo >> 32n);
      const sym = elf.symbols[symIdx];
      if (!sym) throw new CoreError(CoreErrorCode.BadElf, `relocation names symbol ${symIdx}, past the symbol table (${elf.symbols.length} symbols)`, where);
      if (rOffset % INSN_SIZE !== 0 || rOffset / INSN_SIZE >= insns.length) {
        throw new CoreError(CoreErrorCode.BadProgram, `invalid relocation offset ${rOffset} in '${target.name}' (${insns.length} insns)`, where);
      }
      const loc: CodeLoc = { section: target.name, index: rOffset / INSN_SIZE };
      const insn = insns[loc.index];
      const isCall = insn.code === BPF_JMP_CALL;
      const isLd64 = insn.code === LDIMM64;
      if (!isCall && !isLd64) {
        // libbpf: "invalid relo for insns[%d].code 0x%x"
        throw new CoreError(CoreErrorCode.BadProgram, `relocation against '${sym.name}' at insn #${loc.index} of '${target.name}', which is neither a call nor an ldimm64 (code 0x${insn.code.toString(16)})`, where);
      }
      if (sym.shndx === SHN_UNDEF) {
        if (sym.name === '') throw new CoreError(CoreErrorCode.BadElf, `relocation at insn #${loc.index} of '${target.name}' names an undefined symbol without a name`, where);
        out.externRefs.push({ loc, name: sym.name, use: isCall ? 'call' : 'ld64' });
        continue;
      }
      const inText = text !== undefined && sym.shndx === text.index;
      if (isCall) {
        if (!inText) {
          throw new CoreError(CoreErrorCode.BadProgram, `call at insn #${loc.index} of '${target.name}' is relocated against '${sym.name}', which is not in .text`, where);
        }
        const value = sym.type === STT_SECTION ? 0 : sym.value;
        out.links.set(locKey(loc), { kind: 'call', target: { section: '.text', index: value / INSN_SIZE + insn.imm + 1 } });
      } else if (inText) {
        const value = sym.type === STT_SECTION ? 0 : sym.value;
        out.links.set(locKey(loc), { kind: 'func-addr', target: { section: '.text', index: Math.floor((value + insn.imm) / INSN_SIZE) } });
      } else {
        out.links.set(locKey(loc), { kind: 'value', value: { kind: 'unknown' } });
      }
    }
  }
  out.externRefs.sort((a, b) => (a.loc.section < b.loc.section ? -1 : a.loc.section > b.loc.section ? 1 : a.loc.index - b.loc.index));
  return out;
}

/** The object with the links of its instructions read from the same bytes. */
export function linkBpfObject(bytes: Uint8Array, obj: BpfObject): LinkedBpfObject {
  return { ...obj, objectLinks: readObjectLinks(bytes, obj) };
}

/** {@link readBpfObject} and {@link linkBpfObject} in one, reading the ELF header, sections and symbols once. */
export function readLinkedBpfObject(bytes: Uint8Array, opts: ReadObjectOptions = {}): LinkedBpfObject {
  const elf = readElfObject(bytes);
  const obj = readBpfObject(bytes, opts, elf);
  return { ...obj, objectLinks: readObjectLinks(bytes, obj, elf) };
}
