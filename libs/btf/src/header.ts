import { BtfError, BtfErrorCode } from './errors.js';

/** BTF magic as stored by the producer's byte order (include/uapi/linux/btf.h: BTF_MAGIC 0xeb9f). */
export const BTF_MAGIC = 0xeb9f;
/** The only BTF version (BTF_VERSION). */
export const BTF_VERSION = 1;
/** Size of the original header: magic, version, flags, hdr_len, type_off, type_len, str_off, str_len. */
export const BTF_HEADER_MIN_LEN = 24;
/** Size of the header with the optional layout section (layout_off, layout_len) that newer kernels append. */
export const BTF_HEADER_LAYOUT_LEN = 32;

/**
 * The BTF header (btf.rst, "2. BTF Type and String Encoding"). Section offsets are relative to the end of the
 * header (`hdrLen`); the `*Start`/`*End` fields are absolute byte offsets in the blob, ready for reading.
 */
export interface BtfHeader {
  littleEndian: boolean;
  version: number;
  flags: number;
  hdrLen: number;
  typeOff: number;
  typeLen: number;
  strOff: number;
  strLen: number;
  /** Optional kind-layout section (present when hdr_len covers it; 0/0 otherwise). */
  layoutOff: number;
  layoutLen: number;
  typeStart: number;
  typeEnd: number;
  strStart: number;
  strEnd: number;
  layoutStart: number;
  layoutEnd: number;
}

/** Tells the byte order from the magic, or throws BTF_BAD_MAGIC. */
export function detectEndianness(bytes: Uint8Array): boolean {
  if (bytes.length < 2) {
    throw new BtfError(BtfErrorCode.Truncated, `blob of ${bytes.length} bytes is too short for a btf header`, { offset: 0 });
  }
  if (bytes[0] === 0x9f && bytes[1] === 0xeb) return true;
  if (bytes[0] === 0xeb && bytes[1] === 0x9f) return false;
  const got = ((bytes[0] << 8) | bytes[1]).toString(16).padStart(4, '0');
  throw new BtfError(BtfErrorCode.BadMagic, `bad btf magic 0x${got} (want eb9f in either byte order)`, { offset: 0 });
}

/**
 * Reads and bounds-checks the header, like libbpf's btf_parse_hdr: hdr_len is honoured (newer kernels append
 * fields), unknown non-zero header bytes are refused, and every section must lie inside the blob.
 * Kernel-only rules (no gaps between sections, sections in order) are checked by the validator.
 */
export function parseHeader(bytes: Uint8Array): BtfHeader {
  const littleEndian = detectEndianness(bytes);
  if (bytes.length < BTF_HEADER_MIN_LEN) {
    throw new BtfError(BtfErrorCode.Truncated, `blob of ${bytes.length} bytes is too short for a btf header`, { offset: 0 });
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint8(2);
  const flags = dv.getUint8(3);
  const hdrLen = dv.getUint32(4, littleEndian);
  if (version !== BTF_VERSION) {
    throw new BtfError(BtfErrorCode.BadVersion, `unsupported btf version ${version} (want ${BTF_VERSION})`, { offset: 2 });
  }
  if (hdrLen < BTF_HEADER_MIN_LEN) {
    throw new BtfError(BtfErrorCode.BadHeader, `hdr_len ${hdrLen} is shorter than the ${BTF_HEADER_MIN_LEN}-byte header`, { offset: 4 });
  }
  if (hdrLen > bytes.length) {
    throw new BtfError(BtfErrorCode.Truncated, `hdr_len ${hdrLen} is larger than the blob (${bytes.length} bytes)`, { offset: 4 });
  }
  const known = Math.min(hdrLen, BTF_HEADER_LAYOUT_LEN);
  for (let off = known; off < hdrLen; off++) {
    if (bytes[off] !== 0) {
      throw new BtfError(BtfErrorCode.BadHeader, `unsupported btf header: unknown non-zero byte in header field at ${off}`, { offset: off });
    }
  }
  const typeOff = dv.getUint32(8, littleEndian);
  const typeLen = dv.getUint32(12, littleEndian);
  const strOff = dv.getUint32(16, littleEndian);
  const strLen = dv.getUint32(20, littleEndian);
  let layoutOff = 0;
  let layoutLen = 0;
  if (hdrLen >= BTF_HEADER_LAYOUT_LEN) {
    layoutOff = dv.getUint32(24, littleEndian);
    layoutLen = dv.getUint32(28, littleEndian);
  }
  const dataLen = bytes.length - hdrLen;
  checkSection('type', typeOff, typeLen, dataLen, hdrLen, 8);
  checkSection('string', strOff, strLen, dataLen, hdrLen, 16);
  if (layoutLen > 0) checkSection('layout', layoutOff, layoutLen, dataLen, hdrLen, 24);
  if (typeOff % 4 !== 0) {
    throw new BtfError(BtfErrorCode.BadSection, `type section offset ${typeOff} is not aligned to 4 bytes`, { offset: 8 });
  }
  if (typeLen % 4 !== 0) {
    throw new BtfError(BtfErrorCode.BadSection, `type section length ${typeLen} is not a multiple of 4 bytes`, { offset: 12 });
  }
  if (typeLen > 0 && strLen > 0 && typeOff < strOff + strLen && strOff < typeOff + typeLen) {
    throw new BtfError(
      BtfErrorCode.BadSection,
      `type section [${typeOff}, ${typeOff + typeLen}) overlaps string section [${strOff}, ${strOff + strLen})`,
      { offset: 8 },
    );
  }
  return {
    littleEndian, version, flags, hdrLen, typeOff, typeLen, strOff, strLen, layoutOff, layoutLen,
    typeStart: hdrLen + typeOff,
    typeEnd: hdrLen + typeOff + typeLen,
    strStart: hdrLen + strOff,
    strEnd: hdrLen + strOff + strLen,
    layoutStart: hdrLen + layoutOff,
    layoutEnd: hdrLen + layoutOff + layoutLen,
  };
}

function checkSection(what: string, off: number, len: number, dataLen: number, hdrLen: number, field: number): void {
  if (off + len > dataLen) {
    throw new BtfError(
      BtfErrorCode.Truncated,
      `${what} section [${off}, ${off + len}) runs past the end of the data (${dataLen} bytes after the ${hdrLen}-byte header)`,
      { offset: field },
    );
  }
}
