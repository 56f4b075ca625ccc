import { BtfError, BtfErrorCode } from './errors.js';

/** True when the bytes start with the ELF magic (\x7fELF). */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/** One section of an ELF object. */
export interface ElfSection {
  name: string;
  type: number;
  offset: number;
  size: number;
}

const SHT_NOBITS = 8;
const SHN_UNDEF = 0;
const SHN_XINDEX = 0xffff;
const SHN_LORESERVE = 0xff00;

/**
 * Reads the section table of an ELF32 or ELF64 object of either byte order (System V gABI, "Sections"),
 * checking every offset against the file: a lying section table is a typed error, never a bad read.
 * Extended section numbering (e_shnum 0, SHN_XINDEX) is honoured, as vmlinux with many sections needs it.
 */
export function readElfSections(bytes: Uint8Array): ElfSection[] {
  if (!isElf(bytes)) throw new BtfError(BtfErrorCode.BadContainer, 'not an elf object (bad magic)', { offset: 0 });
  if (bytes.length < 16) throw new BtfError(BtfErrorCode.BadContainer, 'elf identification is truncated', { offset: 0 });
  const cls = bytes[4];
  const data = bytes[5];
  if (cls !== 1 && cls !== 2) throw new BtfError(BtfErrorCode.BadContainer, `elf class ${cls} is neither ELFCLASS32 nor ELFCLASS64`, { offset: 4 });
  if (data !== 1 && data !== 2) throw new BtfError(BtfErrorCode.BadContainer, `elf data encoding ${data} is neither little- nor big-endian`, { offset: 5 });
  const is64 = cls === 2;
  const le = data === 1;
  const ehSize = is64 ? 64 : 52;
  if (bytes.length < ehSize) throw new BtfError(BtfErrorCode.BadContainer, `elf header is truncated (${bytes.length} of ${ehSize} bytes)`, { offset: 0 });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const word = (off: number): number => (is64 ? readU64(dv, off, le) : dv.getUint32(off, le));
  const shoff = word(is64 ? 0x28 : 0x20);
  const shentsize = dv.getUint16(is64 ? 0x3a : 0x2e, le);
  let shnum = dv.getUint16(is64 ? 0x3c : 0x30, le);
  let shstrndx = dv.getUint16(is64 ? 0x3e : 0x32, le);
  const minEnt = is64 ? 64 : 40;
  if (shoff === 0) throw new BtfError(BtfErrorCode.NoBtfSection, 'elf object has no section header table', { offset: is64 ? 0x28 : 0x20 });
  if (shentsize < minEnt) throw new BtfError(BtfErrorCode.BadContainer, `elf section header size ${shentsize} is below ${minEnt}`, { offset: is64 ? 0x3a : 0x2e });
  const header = (i: number): number => {
    const off = shoff + i * shentsize;
    if (off + minEnt > bytes.length) {
      throw new BtfError(BtfErrorCode.BadContainer, `elf section header ${i} at ${off} lies past the end of the file (${bytes.length} bytes)`, { offset: off });
    }
    return off;
  };
  if (shnum === 0 || shstrndx === SHN_XINDEX) {
    const h0 = header(0);
    if (shnum === 0) shnum = word(h0 + (is64 ? 0x20 : 0x14));
    if (shstrndx === SHN_XINDEX) shstrndx = dv.getUint32(h0 + (is64 ? 0x28 : 0x18), le);
  }
  if (shnum > (bytes.length - shoff) / shentsize) {
    throw new BtfError(BtfErrorCode.BadContainer, `elf claims ${shnum} section headers at ${shoff}, more than the file holds`, { offset: shoff });
  }
  const raw: { nameOff: number; type: number; offset: number; size: number }[] = [];
  for (let i = 0; i < shnum; i++) {
    const h = header(i);
    const type = dv.getUint32(h + 4, le);
    const offset = word(h + (is64 ? 0x18 : 0x10));
    const size = word(h + (is64 ? 0x20 : 0x14));
    if (i !== 0 && type !== SHT_NOBITS && offset + size > bytes.length) {
      throw new BtfError(BtfErrorCode.BadContainer, `elf section ${i} [${offset}, ${offset + size}) lies past the end of the file (${bytes.length} bytes)`, { offset: h });
    }
    raw.push({ nameOff: dv.getUint32(h, le), type, offset, size });
  }
  if (shstrndx === SHN_UNDEF || shstrndx >= shnum || (shstrndx >= SHN_LORESERVE && shstrndx !== SHN_XINDEX && shnum < SHN_LORESERVE)) {
    throw new BtfError(BtfErrorCode.BadContainer, `elf section-name table index ${shstrndx} is not a section (${shnum} sections)`, { offset: is64 ? 0x3e : 0x32 });
  }
  const strtab = raw[shstrndx];
  if (strtab.type === SHT_NOBITS) throw new BtfError(BtfErrorCode.BadContainer, 'elf section-name table has no data', { offset: header(shstrndx) });
  return raw.map((s, i) => {
    if (i !== 0 && s.nameOff >= strtab.size) {
      throw new BtfError(BtfErrorCode.BadContainer, `elf section ${i} name offset ${s.nameOff} lies outside the section-name table`, { offset: header(i) });
    }
    const start = strtab.offset + s.nameOff;
    let end = start;
    const limit = strtab.offset + strtab.size;
    while (end < limit && bytes[end] !== 0) end++;
    return { name: i === 0 ? '' : Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1'), type: s.type, offset: s.offset, size: s.size };
  });
}

/** The bytes of the `.BTF` section of an ELF object (vmlinux, a kernel module, a BPF object). */
export function extractElfBtf(bytes: Uint8Array): Uint8Array {
  const sec = readElfSections(bytes).find((s) => s.name === '.BTF');
  if (!sec) throw new BtfError(BtfErrorCode.NoBtfSection, 'elf object has no .BTF section');
  if (sec.type === SHT_NOBITS) throw new BtfError(BtfErrorCode.BadContainer, '.BTF section has no data (SHT_NOBITS)');
  return bytes.subarray(sec.offset, sec.offset + sec.size);
}

function readU64(dv: DataView, off: number, le: boolean): number {
  const v = dv.getBigUint64(off, le);
  // Offsets past 2^53 cannot lie inside any file we can hold; clamp so the bounds checks reject them.
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}
