/**
 * The compressions distributions and kernels use, as streams with a byte cap: gzip (RFC 1952, node:zlib), xz and
 * lzma-alone (liblzma, ./lzma.ts), zstd (RFC 8878: node:zlib where Node has it, else fzstd; a payload of known
 * size through zstd's own decoder compiled to WebAssembly, zstddec), lz4 legacy frames (./lz4.ts) and bzip2
 * (seek-bzip). Every decoder stops at the end of its first stream and ignores what follows:
 * the kernel appends the uncompressed size after most payloads.
 */
import * as zlib from 'node:zlib';
import { Readable } from 'node:stream';
import type { InputBudget } from '@btf-atlas/btf';
import { PkgError, PkgErrorCode } from './errors.js';
import { unlz4Legacy, LZ4_LEGACY_MAGIC } from './lz4.js';
import { unlzma } from './lzma.js';
import { ByteReader, collect, type ByteStream } from './reader.js';

export type Compression = 'gzip' | 'xz' | 'zstd' | 'lzma' | 'lz4' | 'bzip2';

/** The compression of a stream, from its first bytes (at least 14); undefined when none is recognised. */
export function detectCompression(b: Uint8Array): Compression | undefined {
  if (b.length >= 3 && b[0] === 0x1f && b[1] === 0x8b && b[2] === 0x08) return 'gzip';
  if (b.length >= 6 && b[0] === 0xfd && b[1] === 0x37 && b[2] === 0x7a && b[3] === 0x58 && b[4] === 0x5a && b[5] === 0) return 'xz';
  if (b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return 'zstd';
  if (b.length >= 4 && (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0 === LZ4_LEGACY_MAGIC) return 'lz4';
  if (b.length >= 10 && b[0] === 0x42 && b[1] === 0x5a && b[2] === 0x68 && b[3] >= 0x31 && b[3] <= 0x39 && b[4] === 0x31 && b[5] === 0x41) return 'bzip2';
  if (isLzmaAlone(b)) return 'lzma';
  return undefined;
}

/**
 * The 13-byte header of an .lzma file (xz's doc/lzma-file-format.txt): a properties byte below 225, a dictionary
 * size of 2^n or 2^n + 2^(n-1), and an uncompressed size that is unknown (all ones) or below 2^48.
 */
function isLzmaAlone(b: Uint8Array): boolean {
  if (b.length < 13 || b[0] >= 225) return false;
  const dict = (b[1] | (b[2] << 8) | (b[3] << 16) | (b[4] << 24)) >>> 0;
  const pow = dict !== 0 && (dict & (dict - 1)) === 0;
  const pow3 = dict % 3 === 0 && ((dict / 3) & (dict / 3 - 1)) === 0;
  if (!pow && !pow3) return false;
  const unknown = b.subarray(5, 13).every((x) => x === 0xff);
  return unknown || (b[11] === 0 && b[12] === 0);
}

/** The compression named by a file suffix (`data.tar.zst`, `x.ko.xz`), or undefined. */
export function compressionOfName(name: string): Compression | undefined {
  const ext = /\.(gz|xz|zst|lzma|lz4|bz2)$/.exec(name)?.[1];
  const byExt: Record<string, Compression> = { gz: 'gzip', xz: 'xz', zst: 'zstd', lzma: 'lzma', lz4: 'lz4', bz2: 'bzip2' };
  return ext === undefined ? undefined : byExt[ext];
}

/**
 * Decompresses a stream, refusing to produce more than `max` bytes (PKG_TOO_LARGE): a bomb costs at most `max`
 * bytes of work and memory, never more. Each chunk is also charged to the input's `budget` as it is decoded, so
 * the decoder stops when the input's total is spent. `what` names the stream in errors.
 */
export async function* decompress(kind: Compression, source: ByteStream, max: number, what: string, budget?: InputBudget): ByteStream {
  let total = 0;
  // bzip2 decodes in memory before it yields: its own cap is what the budget has left.
  const cap = kind === 'bzip2' && budget ? Math.min(max, budget.remaining) : max;
  for await (const chunk of decoder(kind, source, cap, what)) {
    total += chunk.length;
    if (total > max) throw tooLarge(what, kind, max);
    budget?.spend(chunk.length);
    yield chunk;
  }
}

/** Decompresses bytes already in memory (a kernel image payload) into one array of at most `max` bytes, charged to `budget`. */
export async function decompressBytes(
  kind: Compression,
  bytes: Uint8Array,
  max: number,
  what: string,
  sizeHint?: number,
  budget?: InputBudget,
): Promise<Uint8Array> {
  return (await decompressSized(kind, bytes, max, sizeHint, budget)) ?? collect(decompress(kind, oneChunk(bytes), max, what, budget), max, `${what} (${kind}, decompressed)`);
}

/**
 * Decodes `bytes` in one call into a buffer of the stated size, when this kind can be (zstd with its size known and
 * within `max`, where Node has no zstd of its own): memory and time are then bounded by that size, so a caller need
 * not decode a head first to refuse a bomb early. Undefined when it cannot be, or when the stream is not exactly
 * that size (the caller then streams it, with its own checks).
 */
export async function decompressSized(kind: Compression, bytes: Uint8Array, max: number, sizeHint: number | undefined, budget?: InputBudget): Promise<Uint8Array | undefined> {
  if (kind !== 'zstd' || nativeZstd() || sizeHint === undefined || sizeHint <= 0 || sizeHint > max) return undefined;
  // The output's size is known: charged before the buffer is made.
  budget?.spend(sizeHint);
  const out = await zstdSized(bytes, sizeHint);
  if (!out) budget?.spend(-sizeHint);
  return out;
}

/**
 * The first `n` bytes of a stream's decoding (fewer when it is shorter), charged to `budget`; the decoder is
 * stopped there. What a payload is can be told from them before it is decoded whole.
 */
export async function decompressedHead(kind: Compression, bytes: Uint8Array, n: number, max: number, what: string, budget?: InputBudget): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of decompress(kind, oneChunk(bytes), max, what, budget)) {
    parts.push(chunk);
    total += chunk.length;
    if (total >= n) break;
  }
  return Buffer.concat(parts).subarray(0, n);
}

function tooLarge(what: string, kind: Compression, max: number): PkgError {
  return new PkgError(PkgErrorCode.TooLarge, `${what} (${kind}) decompresses past the ${max}-byte limit`);
}

async function* oneChunk(bytes: Uint8Array): ByteStream {
  yield bytes;
}

function decoder(kind: Compression, source: ByteStream, max: number, what: string): ByteStream {
  switch (kind) {
    case 'gzip':
      return viaZlib(zlib.createGunzip(), source, what, kind);
    case 'zstd': {
      const native = nativeZstd();
      return native ? viaZlib(native(), source, what, kind) : unzstd(source, max, what);
    }
    case 'xz':
    case 'lzma':
      return unlzma(source, what);
    case 'lz4':
      return unlz4Legacy(source, what);
    case 'bzip2':
      return bunzip2(source, max, what);
  }
}

/** node:zlib's zstd decoder (Node 22.15+ and 23.8+), when this Node has one. */
function nativeZstd(): (() => zlib.Gunzip) | undefined {
  const make = (zlib as unknown as { createZstdDecompress?: () => zlib.Gunzip }).createZstdDecompress;
  return typeof make === 'function' ? () => make.call(zlib) : undefined;
}

/** Runs a node:zlib transform over the source, pulling output as it is consumed (backpressure bounds memory). */
async function* viaZlib(t: zlib.Gunzip, source: ByteStream, what: string, kind: Compression): ByteStream {
  const input = Readable.from(source, { objectMode: false });
  let inputError: unknown;
  input.on('error', (err) => {
    inputError = err;
    t.destroy(err);
  });
  input.pipe(t);
  try {
    for await (const chunk of t) yield chunk as Uint8Array;
  } catch (err) {
    if (inputError !== undefined) throw inputError;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'Z_BUF_ERROR' || /unexpected end/i.test(e.message)) {
      throw new PkgError(PkgErrorCode.Truncated, `${what}: ${kind} stream ends before its end marker`);
    }
    throw new PkgError(PkgErrorCode.BadCompression, `${what}: corrupt ${kind} stream (${e.message.toLowerCase()})`);
  } finally {
    input.destroy();
    t.destroy();
  }
}

type Fzstd = typeof import('fzstd');
let fzstd: Promise<Fzstd> | undefined;
const loadFzstd = (): Promise<Fzstd> => (fzstd ??= import('fzstd'));
/** fzstd's error codes (ZstdErrorCode), as a reader reads them. */
const ZSTD_REASONS = ['corrupt zstd data', 'zstd window larger than 2 GiB', 'zstd block of an unknown type', 'zstd table accuracy too high', 'zstd match distance before the start of the data', 'zstd stream ends before its end'];

/** Largest zstd window accepted (fzstd allocates it whole): zstd's own decoder default limit, 2^27. */
const ZSTD_MAX_WINDOW = 128 * 1024 * 1024;
const ZSTD_MAGIC = 0xfd2fb528;
const ZSTD_BLOCK_MAX = 128 * 1024;

/**
 * Streaming zstd with fzstd, fed one block at a time. The frame and block headers (RFC 8878 sections 3.1.1 and
 * 3.1.1.2) are walked here, so one push never decodes more than one 128 KiB block (an RLE bomb cannot pile up
 * output between two checks of the cap), the window is checked before fzstd allocates it, and the end of the last
 * frame is known exactly: whatever follows it that is not a frame (the kernel's appended size, the rest of an
 * s390 image) is left alone.
 */
async function* unzstd(source: ByteStream, max: number, what: string): ByteStream {
  const { Decompress } = await loadFzstd();
  const r = new ByteReader(source, what);
  let out: Uint8Array[] = [];
  const d = new Decompress((chunk) => {
    if (chunk.length > 0) out.push(chunk);
  });
  const push = (bytes: Uint8Array, at: number): void => {
    try {
      d.push(bytes);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const reason = typeof code === 'number' ? ZSTD_REASONS[code] : undefined;
      if (err instanceof RangeError) throw new PkgError(PkgErrorCode.TooLarge, `${what}: zstd window does not fit in memory`, { offset: at });
      throw new PkgError(PkgErrorCode.BadCompression, `${what}: ${reason ?? `corrupt zstd stream (${(err as Error).message})`}`, { offset: at });
    }
  };
  let frames = 0;
  for (;;) {
    const head = await r.peek(6);
    const magic = head.length >= 4 ? readU32le(head, 0) : -1;
    if ((magic & 0xfffffff0) >>> 0 === 0x184d2a50) {
      const skip = await r.read(8, 'a zstd skippable frame header');
      await r.skip(readU32le(skip, 4), 'a zstd skippable frame');
      continue;
    }
    if (magic !== ZSTD_MAGIC) {
      if (frames > 0) return; // trailing bytes that are not a frame
      if (head.length < 4) throw new PkgError(PkgErrorCode.Truncated, `${what}: zstd stream ends before its first frame`, { offset: r.position });
      throw new PkgError(PkgErrorCode.BadCompression, `${what}: not a zstd frame (bad magic)`, { offset: r.position });
    }
    if (head.length < 6) throw new PkgError(PkgErrorCode.Truncated, `${what}: zstd stream ends inside a frame header`, { offset: r.position });
    const fhd = head[4];
    const singleSegment = (fhd >> 5) & 1;
    const checksum = (fhd >> 2) & 1;
    if (fhd & 8) throw new PkgError(PkgErrorCode.BadCompression, `${what}: zstd frame header sets its reserved bit`, { offset: r.position + 4 });
    const fcsSize = [singleSegment, 2, 4, 8][fhd >> 6];
    const headerSize = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][fhd & 3] + fcsSize;
    const at = r.position;
    const header = await r.read(headerSize, 'a zstd frame header');
    let window: number;
    if (singleSegment) {
      window = 0;
      for (let i = fcsSize - 1; i >= 0; i--) window = window * 256 + header[headerSize - fcsSize + i];
      if (fcsSize === 2) window += 256;
    } else {
      const exp = 10 + (header[5] >> 3);
      const base = 2 ** exp;
      window = base + (base / 8) * (header[5] & 7);
    }
    if (window > Math.min(ZSTD_MAX_WINDOW, Math.max(max, ZSTD_BLOCK_MAX))) {
      throw new PkgError(PkgErrorCode.TooLarge, `${what}: zstd window of ${window} bytes is larger than the ${Math.min(ZSTD_MAX_WINDOW, max)}-byte limit`, { offset: at });
    }
    push(header, at);
    for (let last = 0; !last; ) {
      const bat = r.position;
      const bh = await r.read(3, 'a zstd block header');
      const v = bh[0] | (bh[1] << 8) | (bh[2] << 16);
      last = v & 1;
      const type = (v >> 1) & 3;
      const size = v >>> 3;
      if (type === 3) throw new PkgError(PkgErrorCode.BadCompression, `${what}: zstd block of the reserved type 3`, { offset: bat });
      if (size > ZSTD_BLOCK_MAX) throw new PkgError(PkgErrorCode.BadCompression, `${what}: zstd block of ${size} bytes is larger than 128 KiB`, { offset: bat });
      const body = await r.read(type === 1 ? 1 : size, 'a zstd block');
      push(concatBytes(bh, body), bat);
      for (const chunk of out) yield chunk;
      out = [];
    }
    if (checksum) push(await r.read(4, 'a zstd frame checksum'), r.position);
    frames++;
  }
}

function readU32le(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

interface ZstdWasm {
  decode(array: Uint8Array, uncompressedSize: number): Uint8Array;
}
let zstdWasm: Promise<ZstdWasm | undefined> | undefined;
/** zstd's reference decoder as WebAssembly (zstddec: the .wasm ships inside the package), loaded once; undefined when it cannot be. */
const loadZstdWasm = (): Promise<ZstdWasm | undefined> =>
  (zstdWasm ??= (async () => {
    try {
      const { ZSTDDecoder } = await import('zstddec');
      const d = new ZSTDDecoder();
      await d.init();
      return d;
    } catch {
      return undefined;
    }
  })());

/**
 * Most bytes (input plus output) handed to the WebAssembly decoder in one call. Its heap grows to hold both and
 * stays that large for the life of the process (a kernel payload: ~80 MB), and its allocator is not checked by
 * zstddec, so larger payloads go to fzstd, whose buffers are garbage-collected: a hostile image that claims a
 * 1 GiB payload must not leave the process holding 1 GiB (the fuzzer saw RSS climb past 512 MiB that way).
 */
const ZSTD_WASM_MAX = 160 * 1024 * 1024;

/**
 * One-shot zstd into a buffer of the known size (never more: the size is within the caller's cap). zstd's own
 * decoder as WebAssembly is several times faster than fzstd, whose one-shot decoder is an order of magnitude
 * faster than its streaming one. The frame ends where the appended size begins; a result of any other size, or
 * a failure, falls back to the streaming decoder, which names what is wrong.
 */
async function zstdSized(bytes: Uint8Array, size: number): Promise<Uint8Array | undefined> {
  const frame = bytes.subarray(0, bytes.length - 4);
  const wasm = frame.length + size <= ZSTD_WASM_MAX ? await loadZstdWasm() : undefined;
  if (wasm) {
    // zstddec answers an error with an empty array (the decoder's negative size_t): the length check catches it.
    try {
      const out = wasm.decode(frame, size);
      return out.length === size ? out : undefined;
    } catch {
      return undefined;
    }
  }
  const m = await loadFzstd();
  try {
    const out = m.decompress(frame, new Uint8Array(size));
    return out.length === size ? out : undefined;
  } catch {
    return undefined;
  }
}

/** seek-bzip decodes in memory; its input is capped like its output (a bzip2 payload is a kernel image at most). */
async function* bunzip2(source: ByteStream, max: number, what: string): ByteStream {
  const input = await collect(source, max, `${what} (bzip2)`);
  const { default: Bunzip } = await import('seek-bzip');
  let pos = 0;
  const inStream = {
    readByte(): number {
      if (pos >= input.length) throw new PkgError(PkgErrorCode.Truncated, `${what}: bzip2 stream ends before its end marker`);
      return input[pos++];
    },
    read(buf: Uint8Array, off: number, len: number): number {
      if (pos >= input.length) throw new PkgError(PkgErrorCode.Truncated, `${what}: bzip2 stream ends before its end marker`);
      const n = Math.min(len, input.length - pos);
      buf.set(input.subarray(pos, pos + n), off);
      pos += n;
      return n;
    },
    seek(p: number): void {
      pos = p;
    },
    eof(): boolean {
      return pos >= input.length;
    },
  };
  const parts: Uint8Array[] = [];
  let cur = new Uint8Array(1 << 20);
  let n = 0;
  let total = 0;
  const outStream = {
    writeByte(b: number): void {
      if (n === cur.length) {
        parts.push(cur);
        cur = new Uint8Array(1 << 20);
        n = 0;
      }
      cur[n++] = b;
      if (++total > max) throw tooLarge(what, 'bzip2', max);
    },
  };
  try {
    Bunzip.decode(inStream, outStream, false);
  } catch (err) {
    if (err instanceof PkgError) throw err;
    throw new PkgError(PkgErrorCode.BadCompression, `${what}: corrupt bzip2 stream (${String((err as Error).message ?? err).toLowerCase()})`);
  }
  yield* parts;
  yield cur.subarray(0, n);
}
