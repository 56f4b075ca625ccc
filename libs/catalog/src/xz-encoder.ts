/**
 * The .xz encoder of the mirror's tarballs: liblzma itself, natively (node-liblzma's prebuilt addon, run on libuv's
 * thread pool) where its addon loads, else liblzma's WebAssembly build (the same liblzma release, 5.8.2, pinned by
 * node-liblzma's exact version).
 *
 * Both give the very same bytes. The WebAssembly build encodes in one call (lzma_easy_buffer_encode), which writes
 * the block's sizes into its header; the addon streams (lzma_stream_encoder), which leaves them out and so writes a
 * shorter block header and another index. The LZMA2 data, the padding and the CRC64 are the same: liblzma's encoder
 * does not depend on how its input is fed. {@link singleCallLayout} writes the stream's block header and index as the
 * single-call encoder does, so a tarball's sha256 is the same whichever encoder made it, on any platform. Where that
 * could differ (data that barely compresses, where the single-call encoder stores it in uncompressed LZMA2 chunks, or
 * a stream not of the expected shape), the WebAssembly build makes the file.
 */
import { xzEncodeWasm } from '@btf-atlas/pkg';

/** What the addon module offers (node-liblzma's main export, typed as far as used here). */
interface NativeLzma {
  xzAsync(buffer: Buffer, opts: { preset: number; check: number; threads: number; chunkSize: number }): Promise<Buffer>;
  check: { CRC64: number };
  versionString(): string;
}

export interface XzEncoder {
  /** `native`: node-liblzma's addon; `wasm`: liblzma's WebAssembly build. */
  kind: 'native' | 'wasm';
  /** An .xz stream of `data` (LZMA2 at `preset`, CRC64), the same bytes from either encoder. */
  encode(data: Uint8Array, preset: number): Promise<Uint8Array>;
}

/** The liblzma release both encoders must be (bytes can differ between releases). */
const LIBLZMA_VERSION = '5.8.2';
/** Output buffer of the addon's stream: a few calls into it for a kernel's 5 MB of BTF, not hundreds. */
const NATIVE_CHUNK = 1024 * 1024;
/** Margin under the input size below which a stream's LZMA2 data is the single-call encoder's (see below). */
const COMPRESSED_MARGIN = 4096;

export async function wasmEncode(data: Uint8Array, preset: number): Promise<Uint8Array> {
  return xzEncodeWasm(data, preset);
}

const wasmEncoder: XzEncoder = { kind: 'wasm', encode: wasmEncode };

/** Loads the addon: node-liblzma's main module, which loads its prebuilt binary when imported (throws where none fits). */
export async function loadNativeLzma(): Promise<NativeLzma> {
  const mod = (await import('node-liblzma')) as unknown as NativeLzma;
  const version = mod.versionString();
  if (version !== LIBLZMA_VERSION) throw new Error(`its liblzma is ${version}, not ${LIBLZMA_VERSION}`);
  return mod;
}

function nativeEncoder(mod: NativeLzma): XzEncoder {
  return {
    kind: 'native',
    async encode(data, preset) {
      const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      // threads 1: liblzma's multi-threaded encoder writes other blocks.
      const stream = await mod.xzAsync(buf, { preset, check: mod.check.CRC64, threads: 1, chunkSize: NATIVE_CHUNK });
      return singleCallLayout(stream, data.length) ?? wasmEncode(data, preset);
    },
  };
}

/**
 * The encoder that `load` gives (the addon by default), else the WebAssembly build with a one-line warning; the
 * same bytes either way. Exported for tests, which inject a failing loader to run the fallback.
 */
export async function selectXzEncoder(load: () => Promise<NativeLzma> = loadNativeLzma): Promise<XzEncoder> {
  try {
    return nativeEncoder(await load());
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    process.emitWarning(`native liblzma unavailable on ${process.platform}-${process.arch} (${why}); tarballs are compressed with liblzma's WebAssembly build (same bytes, slower)`, { code: 'BTF_ATLAS_XZ_WASM' });
    return wasmEncoder;
  }
}

let selected: Promise<XzEncoder> | undefined;

/** The encoder of this process (or worker thread), chosen once. */
export function xzEncoder(): Promise<XzEncoder> {
  selected ??= selectXzEncoder();
  return selected;
}

/** Whether this process encodes with the addon (then off the JavaScript thread, with no worker needed). */
export async function nativeXzAvailable(): Promise<boolean> {
  return (await xzEncoder()).kind === 'native';
}

const MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const CRC64_SIZE = 8;

/** One xz variable-length integer at `pos` (7 bits a byte, low first): its value and end, or undefined. */
function readVli(b: Uint8Array, pos: number): { value: number; end: number } | undefined {
  let value = 0;
  for (let i = 0; i < 9 && pos + i < b.length; i++) {
    const byte = b[pos + i];
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return byte === 0 && i > 0 ? undefined : { value, end: pos + i + 1 };
  }
  return undefined;
}

function vli(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

function crc32le(bytes: Uint8Array): number[] {
  const c = crc32(bytes);
  return [c & 0xff, (c >>> 8) & 0xff, (c >>> 16) & 0xff, c >>> 24];
}

let crcTable: Uint32Array | undefined;
function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A one-block .xz stream (CRC64, block header without sizes, as liblzma's stream encoder writes it) of `inputSize`
 * bytes, laid out as lzma_stream_buffer_encode lays out the same LZMA2 data: block header with Compressed Size and
 * Uncompressed Size, its size counted with the worst-case compressed size (lzma2_bound, as lzma_block_buffer_encode
 * sizes it before compressing), and the index that follows from it. Undefined when the stream is not of that shape,
 * or when its data is not clearly smaller than its input (there the single-call encoder may store the input in
 * uncompressed chunks instead).
 */
export function singleCallLayout(xz: Uint8Array, inputSize: number): Uint8Array | undefined {
  if (inputSize === 0 || xz.length < 12 + 12 + 12 || MAGIC.some((m, i) => xz[i] !== m) || xz[6] !== 0 || xz[7] !== 0x04) return undefined;
  const end = xz.length;
  if (xz[end - 2] !== 0x59 || xz[end - 1] !== 0x5a || xz[end - 4] !== 0 || xz[end - 3] !== 0x04) return undefined;
  const backward = xz[end - 8] | (xz[end - 7] << 8) | (xz[end - 6] << 16) | (xz[end - 5] * 2 ** 24);
  const indexStart = end - 12 - (backward + 1) * 4;
  if (indexStart < 12 || xz[indexStart] !== 0) return undefined;
  const count = readVli(xz, indexStart + 1);
  if (!count || count.value !== 1) return undefined;
  const unpadded = readVli(xz, count.end);
  const uncompressed = unpadded && readVli(xz, unpadded.end);
  if (!unpadded || !uncompressed || uncompressed.value !== inputSize) return undefined;
  // The stream's block header: size, flags (one filter, no sizes), the filter flags, padding, CRC32.
  const headerSize = (xz[12] + 1) * 4;
  if (xz[13] !== 0x00) return undefined;
  const filterId = readVli(xz, 14);
  const propsSize = filterId && filterId.value === 0x21 ? readVli(xz, filterId.end) : undefined;
  if (!propsSize || propsSize.end + propsSize.value > 12 + headerSize - 4) return undefined;
  const filterFlags = xz.subarray(14, propsSize.end + propsSize.value);
  const compressed = unpadded.value - headerSize - CRC64_SIZE;
  const dataStart = 12 + headerSize;
  const padded = compressed + ((4 - (compressed % 4)) % 4);
  if (compressed <= 0 || dataStart + padded + CRC64_SIZE !== indexStart) return undefined;
  if (compressed + COMPRESSED_MARGIN >= inputSize) return undefined;

  const bound = inputSize + Math.ceil(inputSize / 65536) * 3 + 1;
  const newHeaderSize = (1 + 1 + vli(bound).length + vli(inputSize).length + filterFlags.length + 4 + 3) & ~3;
  const header = new Uint8Array(newHeaderSize);
  header.set([newHeaderSize / 4 - 1, 0xc0, ...vli(compressed), ...vli(inputSize)]);
  header.set(filterFlags, 2 + vli(compressed).length + vli(inputSize).length);
  header.set(crc32le(header.subarray(0, newHeaderSize - 4)), newHeaderSize - 4);

  const records = [0x00, ...vli(1), ...vli(newHeaderSize + compressed + CRC64_SIZE), ...vli(inputSize)];
  while (records.length % 4 !== 0) records.push(0);
  const index = Uint8Array.from([...records, ...crc32le(Uint8Array.from(records))]);
  const footerFields = Uint8Array.from([...le32(index.length / 4 - 1), 0x00, 0x04]);
  const footer = Uint8Array.from([...crc32le(footerFields), ...footerFields, 0x59, 0x5a]);
  return Buffer.concat([xz.subarray(0, 12), header, xz.subarray(dataStart, indexStart), index, footer]);
}

function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}
