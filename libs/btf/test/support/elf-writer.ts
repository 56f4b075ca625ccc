/**
 * A tiny ELF object writer for tests: an ELF32 or ELF64 relocatable (ET_REL) of either byte order holding the
 * given PROGBITS sections, a `.shstrtab`, and the section header table at the end (System V gABI, "ELF Header"
 * and "Sections"). Enough for `readElfSections`/`extractElfBtf`; not a linker.
 */
export interface ElfSectionInput {
  name: string;
  data: Uint8Array;
  /** sh_type (default SHT_PROGBITS = 1). */
  type?: number;
}

export interface ElfOptions {
  bits: 32 | 64;
  littleEndian: boolean;
  sections: ElfSectionInput[];
  /** e_machine (default EM_S390 = 22 for big-endian, EM_X86_64 = 62 otherwise). */
  machine?: number;
}

const SHT_PROGBITS = 1;
const SHT_STRTAB = 3;

export function writeElf(opts: ElfOptions): Uint8Array {
  const is64 = opts.bits === 64;
  const le = opts.littleEndian;
  const ehSize = is64 ? 64 : 52;
  const shEntSize = is64 ? 64 : 40;

  // Section-name table: "\0" then each name, then ".shstrtab".
  const names = [...opts.sections.map((s) => s.name), '.shstrtab'];
  const nameOffs: number[] = [];
  const strParts: number[] = [0];
  for (const n of names) {
    nameOffs.push(strParts.length);
    for (const c of Buffer.from(n, 'latin1')) strParts.push(c);
    strParts.push(0);
  }
  const shstrtab = Uint8Array.from(strParts);

  // Lay out section data after the ELF header, each aligned to 8 bytes.
  const all = [...opts.sections.map((s) => ({ type: s.type ?? SHT_PROGBITS, data: s.data })), { type: SHT_STRTAB, data: shstrtab }];
  const placed: { offset: number; size: number; type: number }[] = [];
  let pos = ehSize;
  for (const s of all) {
    pos = align(pos, 8);
    placed.push({ offset: pos, size: s.data.length, type: s.type });
    pos += s.data.length;
  }
  const shoff = align(pos, 8);
  const shnum = all.length + 1; // plus the null section 0
  const total = shoff + shnum * shEntSize;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);

  // e_ident
  out.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, le ? 1 : 2, 1 /* EV_CURRENT */, 0 /* ELFOSABI_NONE */], 0);
  dv.setUint16(16, 1, le); // e_type ET_REL
  dv.setUint16(18, opts.machine ?? (le ? 62 : 22), le); // e_machine
  dv.setUint32(20, 1, le); // e_version
  if (is64) {
    dv.setBigUint64(24, 0n, le); // e_entry
    dv.setBigUint64(32, 0n, le); // e_phoff
    dv.setBigUint64(40, BigInt(shoff), le); // e_shoff
    dv.setUint32(48, 0, le); // e_flags
    dv.setUint16(52, ehSize, le); // e_ehsize
    dv.setUint16(54, 0, le); // e_phentsize
    dv.setUint16(56, 0, le); // e_phnum
    dv.setUint16(58, shEntSize, le); // e_shentsize
    dv.setUint16(60, shnum, le); // e_shnum
    dv.setUint16(62, shnum - 1, le); // e_shstrndx
  } else {
    dv.setUint32(24, 0, le); // e_entry
    dv.setUint32(28, 0, le); // e_phoff
    dv.setUint32(32, shoff, le); // e_shoff
    dv.setUint32(36, 0, le); // e_flags
    dv.setUint16(40, ehSize, le);
    dv.setUint16(42, 0, le);
    dv.setUint16(44, 0, le);
    dv.setUint16(46, shEntSize, le);
    dv.setUint16(48, shnum, le);
    dv.setUint16(50, shnum - 1, le);
  }

  all.forEach((s, i) => {
    const { offset, size, type } = placed[i];
    out.set(s.data, offset);
    const h = shoff + (i + 1) * shEntSize;
    dv.setUint32(h, nameOffs[i], le); // sh_name
    dv.setUint32(h + 4, type, le); // sh_type
    if (is64) {
      dv.setBigUint64(h + 0x18, BigInt(offset), le); // sh_offset
      dv.setBigUint64(h + 0x20, BigInt(size), le); // sh_size
      dv.setBigUint64(h + 0x30, 1n, le); // sh_addralign
    } else {
      dv.setUint32(h + 0x10, offset, le);
      dv.setUint32(h + 0x14, size, le);
      dv.setUint32(h + 0x20, 1, le);
    }
  });
  return out;
}

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
