/**
 * `.BTF.ext`: the per-instruction side tables of a BPF object (kernel Documentation/bpf/btf.rst, "BTF Ext
 * Section"; libbpf btf.c `btf_ext_parse`, relo_core.h `struct bpf_core_relo`).
 *
 * Layout: a header (magic 0xeB9F, version 1, flags 0, hdr_len, then offset/length pairs of the func info and
 * line info blocks, and of the CO-RE relocation block when hdr_len reaches it), each offset counted from the end
 * of the header. Every block is a u32 record size followed by groups, one per ELF section:
 * `{ sec_name_off, num_info, records[num_info] }`, the name an offset into the object's `.BTF` string table.
 * Records may grow in later versions: a record size above the known size is accepted and the extra bytes
 * skipped (libbpf does the same for objects of the host's byte order; it refuses a larger size only when it
 * has to byte-swap records in place, which a reader that decodes each field in the object's order need not do).
 *
 * Instruction offsets are kept in bytes, as stored (libbpf converts them to instruction indexes when loading).
 */
import type { Btf } from '@btf-atlas/btf/core';
import { CoreError, CoreErrorCode } from './errors.js';
import { CoreReloKind, type CoreRelo } from './types.js';

/** The `.BTF.ext` magic, read in the section's own byte order. */
export const BTF_EXT_MAGIC = 0xeb9f;
/** Header length up to and including line_info_len: the smallest header libbpf accepts. */
const HDR_LEN_MIN = 24;
/** Header length up to and including core_relo_len: CO-RE records are read only from headers this long. */
const HDR_LEN_CORE = 32;
/** Known record sizes: `bpf_func_info` {insn_off, type_id}, `bpf_line_info`, `bpf_core_relo`. */
export const FUNC_INFO_SIZE = 8;
export const LINE_INFO_SIZE = 16;
export const CORE_RELO_SIZE = 16;
/** Size of a group header `btf_ext_info_sec` {sec_name_off, num_info}. */
const GROUP_HDR_SIZE = 8;
const SECTION = '.BTF.ext';

/** The `.BTF.ext` header (offsets relative to the end of the header, as stored). */
export interface BtfExtHeader {
  littleEndian: boolean;
  version: number;
  flags: number;
  hdrLen: number;
  funcInfoOff: number;
  funcInfoLen: number;
  lineInfoOff: number;
  lineInfoLen: number;
  /** 0 when the header is too short to have the CO-RE fields. */
  coreReloOff: number;
  coreReloLen: number;
}

/** One func info record: the BTF FUNC describing the function that starts at `insnOff`. */
export interface FuncInfo {
  section: string;
  /** Position within its section's group. */
  index: number;
  /** Byte offset of the function's first instruction within `section`. */
  insnOff: number;
  /** Local BTF id of a FUNC. */
  typeId: number;
}

/** One line info record: the source line of the instruction at `insnOff`. */
export interface LineInfo {
  section: string;
  index: number;
  insnOff: number;
  /** Source file name (string at `file_name_off`). */
  fileName: string;
  /** Text of the source line (string at `line_off`). */
  lineText: string;
  /** Line number: `line_col >> 10`. */
  line: number;
  /** Column: `line_col & 0x3ff`. */
  col: number;
}

/** A decoded `.BTF.ext`. */
export interface BtfExt {
  header: BtfExtHeader;
  /** Record sizes as stored (0 when a block is absent). */
  recordSizes: { funcInfo: number; lineInfo: number; coreRelo: number };
  funcInfo: FuncInfo[];
  lineInfo: LineInfo[];
  coreRelos: CoreRelo[];
}

/** What the records are checked against besides the BTF. */
export interface BtfExtContext {
  /**
   * Byte size of each ELF section that holds instructions, by name. When given, every record must name one of
   * these sections and point inside it; when absent, instruction offsets are only checked for alignment.
   */
  sectionSizes?: ReadonlyMap<string, number>;
}

/** The libbpf access string grammar: `N` or `N:N:...` (first the array index of the root, then member/element). */
const ACCESS_RE = /^[0-9]+(?::[0-9]+)*$/;

/**
 * Parses a `.BTF.ext` section against the object's `.BTF` (whose string table names sections, files and
 * access strings, and whose ids the records reference). Throws {@link CoreError}: CORE_BAD_BTF_EXT for the
 * header and block placement, CORE_BAD_RECORD for a block's record size or groups and for each record's
 * fields; the offset is within `.BTF.ext`.
 */
export function parseBtfExt(bytes: Uint8Array, btf: Btf, ctx: BtfExtContext = {}): BtfExt {
  const header = parseBtfExtHeader(bytes);
  const r = new ExtReader(bytes, header, btf, ctx);
  const funcInfo: FuncInfo[] = [];
  const lineInfo: LineInfo[] = [];
  const coreRelos: CoreRelo[] = [];
  const funcInfoSize = r.block('func_info', header.funcInfoOff, header.funcInfoLen, FUNC_INFO_SIZE, (g, i, at) => {
    funcInfo.push({ section: g, index: i, insnOff: r.insnOff(g, at, 'func_info'), typeId: r.typeId(at + 4, 'func_info', true) });
  });
  const lineInfoSize = r.block('line_info', header.lineInfoOff, header.lineInfoLen, LINE_INFO_SIZE, (g, i, at) => {
    const lineCol = r.u32(at + 12);
    lineInfo.push({
      section: g,
      index: i,
      insnOff: r.insnOff(g, at, 'line_info'),
      fileName: r.str(at + 4, 'line_info file name'),
      lineText: r.str(at + 8, 'line_info line'),
      line: lineCol >>> 10,
      col: lineCol & 0x3ff,
    });
  });
  const coreReloSize = r.block('core_relo', header.coreReloOff, header.coreReloLen, CORE_RELO_SIZE, (g, i, at) => {
    const insnOff = r.insnOff(g, at, 'core_relo');
    const typeId = r.typeId(at + 4, 'core_relo', false);
    const access = r.str(at + 8, 'core_relo access string');
    if (!ACCESS_RE.test(access)) {
      throw new CoreError(CoreErrorCode.BadRecord, `core_relo record has access string '${access}', not of the form N[:N...]`, { section: SECTION, offset: at + 8 });
    }
    const kind = r.u32(at + 12);
    if (CoreReloKind[kind] === undefined) {
      throw new CoreError(CoreErrorCode.BadRecord, `core_relo record has unknown kind ${kind} (known: 0..${CoreReloKind.TYPE_MATCHES})`, { section: SECTION, offset: at + 12 });
    }
    coreRelos.push({ section: g, index: i, insnOff, typeId, access, kind: kind as CoreReloKind });
  });
  return { header, recordSizes: { funcInfo: funcInfoSize, lineInfo: lineInfoSize, coreRelo: coreReloSize }, funcInfo, lineInfo, coreRelos };
}

/** The header: magic and byte order, version 1, flags 0, hdr_len within the section, leaving room for data. */
export function parseBtfExtHeader(bytes: Uint8Array): BtfExtHeader {
  if (bytes.length < 8) {
    throw new CoreError(CoreErrorCode.BadBtfExt, `section of ${bytes.length} bytes is shorter than the 8-byte start of a .BTF.ext header`, { section: SECTION, offset: 0 });
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let littleEndian: boolean;
  if (dv.getUint16(0, true) === BTF_EXT_MAGIC) littleEndian = true;
  else if (dv.getUint16(0, false) === BTF_EXT_MAGIC) littleEndian = false;
  else {
    throw new CoreError(CoreErrorCode.BadBtfExt, `bad magic 0x${dv.getUint16(0, false).toString(16).padStart(4, '0')} (expected 0xeb9f in either byte order)`, { section: SECTION, offset: 0 });
  }
  const version = bytes[2];
  const flags = bytes[3];
  if (version !== 1) throw new CoreError(CoreErrorCode.BadBtfExt, `unsupported version ${version} (only 1 is defined)`, { section: SECTION, offset: 2 });
  if (flags !== 0) throw new CoreError(CoreErrorCode.BadBtfExt, `unsupported flags 0x${flags.toString(16)} (none are defined)`, { section: SECTION, offset: 3 });
  const hdrLen = dv.getUint32(4, littleEndian);
  if (hdrLen < HDR_LEN_MIN) {
    throw new CoreError(CoreErrorCode.BadBtfExt, `hdr_len ${hdrLen} is below ${HDR_LEN_MIN} (func_info and line_info fields are mandatory)`, { section: SECTION, offset: 4 });
  }
  if (hdrLen >= bytes.length) {
    throw new CoreError(
      CoreErrorCode.BadBtfExt,
      hdrLen === bytes.length ? `hdr_len ${hdrLen} leaves no data in the section` : `hdr_len ${hdrLen} runs past the end of the section (${bytes.length} bytes)`,
      { section: SECTION, offset: 4 },
    );
  }
  const u32 = (off: number): number => dv.getUint32(off, littleEndian);
  const hasCore = hdrLen >= HDR_LEN_CORE;
  return {
    littleEndian,
    version,
    flags,
    hdrLen,
    funcInfoOff: u32(8),
    funcInfoLen: u32(12),
    lineInfoOff: u32(16),
    lineInfoLen: u32(20),
    coreReloOff: hasCore ? u32(24) : 0,
    coreReloLen: hasCore ? u32(28) : 0,
  };
}

/** Bounds-checked field reads over one `.BTF.ext` section, and the per-field checks shared by all blocks. */
class ExtReader {
  private readonly dv: DataView;
  private readonly le: boolean;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly header: BtfExtHeader,
    private readonly btf: Btf,
    private readonly ctx: BtfExtContext,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.le = header.littleEndian;
  }

  /** u32 at a section offset the caller has already bounds-checked (records lie inside their checked group). */
  u32(off: number): number {
    return this.dv.getUint32(off, this.le);
  }

  /**
   * Walks one info block (libbpf btf_ext_parse_sec_info): a 4-aligned offset, the block inside the section, a
   * record size of at least `minSize` and a multiple of 4, at least one group, and every group with a non-empty
   * name and a non-zero count whose records fit in the block. Calls `each(section, index, recordOffset)` per
   * record. Returns the record size (0 when the block is absent).
   */
  block(what: string, off: number, len: number, minSize: number, each: (section: string, index: number, at: number) => void): number {
    if (len === 0) return 0;
    const hdrLen = this.header.hdrLen;
    if (off % 4 !== 0) {
      throw new CoreError(CoreErrorCode.BadBtfExt, `${what} offset ${off} is not 4-byte aligned`, { section: SECTION, offset: hdrLen + off });
    }
    const start = hdrLen + off;
    const end = start + len;
    if (end > this.bytes.length) {
      throw new CoreError(
        CoreErrorCode.BadBtfExt,
        `${what} block [${start}, ${end}) runs past the end of the section (${this.bytes.length} bytes)`,
        { section: SECTION, offset: start },
      );
    }
    if (len < 4) throw new CoreError(CoreErrorCode.BadRecord, `${what} block of ${len} bytes has no record size`, { section: SECTION, offset: start });
    const recSize = this.u32(start);
    if (recSize < minSize || recSize % 4 !== 0) {
      throw new CoreError(
        CoreErrorCode.BadRecord,
        `${what} record size ${recSize} is invalid (at least ${minSize}, a multiple of 4)`,
        { section: SECTION, offset: start },
      );
    }
    if (len === 4) throw new CoreError(CoreErrorCode.BadRecord, `${what} block has a record size but no groups`, { section: SECTION, offset: start });
    let at = start + 4;
    while (at < end) {
      if (end - at < GROUP_HDR_SIZE) {
        throw new CoreError(CoreErrorCode.BadRecord, `${what} group header needs ${GROUP_HDR_SIZE} bytes, ${end - at} left in the block`, { section: SECTION, offset: at });
      }
      const section = this.str(at, `${what} section name`);
      if (section === '') throw new CoreError(CoreErrorCode.BadRecord, `${what} group has an empty section name`, { section: SECTION, offset: at });
      const count = this.u32(at + 4);
      if (count === 0) throw new CoreError(CoreErrorCode.BadRecord, `${what} group of section '${section}' has no records`, { section: SECTION, offset: at + 4 });
      const avail = Math.floor((end - at - GROUP_HDR_SIZE) / recSize);
      if (count > avail) {
        throw new CoreError(
          CoreErrorCode.BadRecord,
          `${what} group of section '${section}' claims ${count} records of ${recSize} bytes, the block holds ${avail}`,
          { section: SECTION, offset: at + 4 },
        );
      }
      if (this.ctx.sectionSizes && !this.ctx.sectionSizes.has(section)) {
        throw new CoreError(CoreErrorCode.BadRecord, `${what} group names section '${section}', which is not an instruction section of the object`, { section: SECTION, offset: at });
      }
      let rec = at + GROUP_HDR_SIZE;
      for (let i = 0; i < count; i++, rec += recSize) each(section, i, rec);
      at = rec;
    }
    return recSize;
  }

  /** The record's insn_off (first field): 8-aligned, and inside its section when section sizes are known. */
  insnOff(section: string, at: number, what: string): number {
    const off = this.u32(at);
    if (off % 8 !== 0) {
      throw new CoreError(CoreErrorCode.BadRecord, `${what} insn_off ${off} in section '${section}' is not a multiple of 8 (instructions are 8 bytes)`, { section: SECTION, offset: at });
    }
    const size = this.ctx.sectionSizes?.get(section);
    if (size !== undefined && off >= size) {
      throw new CoreError(CoreErrorCode.BadRecord, `${what} insn_off ${off} lies outside section '${section}' (${size} bytes)`, { section: SECTION, offset: at });
    }
    return off;
  }

  /** A type id field: a type of the object's BTF (not void); for func info, a FUNC. */
  typeId(at: number, what: string, mustBeFunc: boolean): number {
    const id = this.u32(at);
    if (id === 0 || !this.btf.hasType(id)) {
      throw new CoreError(CoreErrorCode.BadRecord, `${what} type id ${id} is not a type of the object's btf (1..${this.btf.nextId - 1})`, { section: SECTION, offset: at, typeId: id });
    }
    if (mustBeFunc && this.btf.kindNameOf(id) !== 'FUNC') {
      throw new CoreError(CoreErrorCode.BadRecord, `${what} type id ${id} is a ${this.btf.kindNameOf(id)}, not a FUNC`, { section: SECTION, offset: at, typeId: id });
    }
    return id;
  }

  /** The string at the u32 offset stored at `at`, which must lie inside the `.BTF` string table. */
  str(at: number, what: string): string {
    const off = this.u32(at);
    const s = this.btf.strings.tryGet(off);
    if (s === undefined) {
      throw new CoreError(
        CoreErrorCode.BadRecord,
        `${what} offset ${off} is outside the .BTF string table (${this.btf.strings.length} bytes) or unterminated`,
        { section: SECTION, offset: at },
      );
    }
    return s;
  }
}
