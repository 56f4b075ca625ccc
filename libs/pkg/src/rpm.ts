/**
 * An .rpm file (rpm's doc/manual/format.md): a 96-byte lead (magic ed ab ee db), the signature header padded to
 * 8 bytes, the main header, then the payload: a cpio archive compressed as PAYLOADCOMPRESSOR says. A header is
 * magic 8e ad e8 01, 4 reserved bytes, the index count and the data size (big-endian u32), 16-byte index entries
 * (tag, type, offset, count) and the data store.
 */
import { PkgError, PkgErrorCode } from './errors.js';
import type { ByteReader } from './reader.js';

export const RPM_LEAD_MAGIC = [0xed, 0xab, 0xee, 0xdb] as const;

export const RPMTAG = {
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  ARCH: 1022,
  SOURCERPM: 1044,
  PAYLOADFORMAT: 1124,
  PAYLOADCOMPRESSOR: 1125,
} as const;

const RPM_INT32 = 4;
const RPM_STRING = 6;
const RPM_I18NSTRING = 9;

/** The main header's tags this library reads. */
export interface RpmHeader {
  name?: string;
  version?: string;
  release?: string;
  epoch?: number;
  arch?: string;
  sourceRpm?: string;
  payloadFormat?: string;
  payloadCompressor?: string;
}

export function isRpm(b: Uint8Array): boolean {
  return b.length >= 4 && RPM_LEAD_MAGIC.every((m, i) => b[i] === m);
}

/** Reads lead and both headers, leaving the reader at the first payload byte. */
export async function readRpmHeaders(r: ByteReader, maxHeaderSize: number): Promise<RpmHeader> {
  const lead = await r.read(96, 'the rpm lead');
  if (!isRpm(lead)) throw new PkgError(PkgErrorCode.BadArchive, 'not an rpm package (bad lead magic)', { offset: 0 });
  const sigStart = r.position;
  await readHeader(r, 'signature header', maxHeaderSize);
  const sigLen = r.position - sigStart;
  await r.skip((8 - (sigLen % 8)) % 8, 'signature header padding');
  const main = await readHeader(r, 'main header', maxHeaderSize);
  const str = (tag: number): string | undefined => main.string(tag);
  const epoch = main.int32(RPMTAG.EPOCH);
  const out: RpmHeader = {
    name: str(RPMTAG.NAME),
    version: str(RPMTAG.VERSION),
    release: str(RPMTAG.RELEASE),
    arch: str(RPMTAG.ARCH),
    sourceRpm: str(RPMTAG.SOURCERPM),
    payloadFormat: str(RPMTAG.PAYLOADFORMAT),
    payloadCompressor: str(RPMTAG.PAYLOADCOMPRESSOR),
  };
  if (epoch !== undefined) out.epoch = epoch;
  return out;
}

interface Header {
  string(tag: number): string | undefined;
  int32(tag: number): number | undefined;
}

async function readHeader(r: ByteReader, what: string, maxHeaderSize: number): Promise<Header> {
  const at = r.position;
  const intro = await r.read(16, `the rpm ${what}`);
  if (intro[0] !== 0x8e || intro[1] !== 0xad || intro[2] !== 0xe8 || intro[3] !== 0x01) {
    throw new PkgError(PkgErrorCode.BadArchive, `rpm ${what} has a bad magic`, { offset: at });
  }
  const dv = new DataView(intro.buffer, intro.byteOffset, 16);
  const count = dv.getUint32(8);
  const dataSize = dv.getUint32(12);
  if (count * 16 + dataSize > maxHeaderSize) {
    throw new PkgError(PkgErrorCode.TooLarge, `rpm ${what} of ${count} entries and ${dataSize} data bytes is larger than the ${maxHeaderSize}-byte limit`, { offset: at + 8 });
  }
  const index = await r.read(count * 16, `the rpm ${what} index`);
  const store = await r.read(dataSize, `the rpm ${what} data`);
  const idv = new DataView(index.buffer, index.byteOffset, index.byteLength);
  const entries = new Map<number, { type: number; offset: number; count: number }>();
  for (let i = 0; i < count; i++) {
    const tag = idv.getUint32(i * 16);
    const type = idv.getUint32(i * 16 + 4);
    const offset = idv.getUint32(i * 16 + 8);
    const n = idv.getUint32(i * 16 + 12);
    if (offset > dataSize) throw new PkgError(PkgErrorCode.BadArchive, `rpm ${what} tag ${tag} points past its data (${offset} > ${dataSize})`, { offset: at + 16 + i * 16 });
    if (!entries.has(tag)) entries.set(tag, { type, offset, count: n });
  }
  return {
    string(tag) {
      const e = entries.get(tag);
      if (!e || (e.type !== RPM_STRING && e.type !== RPM_I18NSTRING)) return undefined;
      const end = store.indexOf(0, e.offset);
      if (end < 0) throw new PkgError(PkgErrorCode.BadArchive, `rpm ${what} tag ${tag} string runs past its data`, { offset: at + 16 + count * 16 + e.offset });
      return Buffer.from(store.subarray(e.offset, end)).toString('utf8');
    },
    int32(tag) {
      const e = entries.get(tag);
      if (!e || e.type !== RPM_INT32 || e.count < 1) return undefined;
      if (e.offset + 4 > dataSize) throw new PkgError(PkgErrorCode.BadArchive, `rpm ${what} tag ${tag} runs past its data`, { offset: at + 16 + count * 16 + e.offset });
      return new DataView(store.buffer, store.byteOffset + e.offset, 4).getUint32(0);
    },
  };
}
