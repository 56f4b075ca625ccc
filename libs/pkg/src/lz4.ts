/**
 * The LZ4 "legacy frame" the kernel's CONFIG_KERNEL_LZ4 writes (`lz4 -l`): magic 0x184C2102, then blocks of a
 * little-endian u32 compressed length and LZ4 block data, each decoding to at most 8 MiB (lz4's
 * doc/lz4_Frame_format.md, "Legacy frame"; doc/lz4_Block_format.md for the block). The frame ends at the end of
 * the input, at a last word with nothing after it, or at a length larger than a block can compress to: the kernel
 * appends the uncompressed size there. Written here because the pure-JS
 * lz4 packages on npm do not read legacy frames and do not check bounds.
 */
import { PkgError, PkgErrorCode } from './errors.js';
import { ByteReader, type ByteStream } from './reader.js';

export const LZ4_LEGACY_MAGIC = 0x184c2102;
const BLOCK_MAX = 8 * 1024 * 1024;
/** LZ4_compressBound(8 MiB): the largest a legacy block can be. */
const BLOCK_BOUND = BLOCK_MAX + Math.floor(BLOCK_MAX / 255) + 16;

export async function* unlz4Legacy(source: ByteStream, what: string): ByteStream {
  const r = new ByteReader(source, what);
  const magic = await r.read(4, 'the lz4 magic');
  if (readU32(magic, 0) !== LZ4_LEGACY_MAGIC) throw new PkgError(PkgErrorCode.BadCompression, `${what}: not an lz4 legacy frame (bad magic)`, { offset: 0 });
  for (;;) {
    // Four bytes or fewer left: the end, or the size the kernel appends (which no block can follow).
    const head = await r.peek(5);
    if (head.length < 5) return;
    const len = readU32(head, 0);
    if (len === LZ4_LEGACY_MAGIC) {
      await r.skip(4, 'the lz4 magic');
      continue;
    }
    if (len > BLOCK_BOUND || len === 0) return;
    await r.skip(4, 'an lz4 block length');
    const at = r.position;
    const block = await r.read(len, 'an lz4 block');
    yield decodeLz4Block(block, BLOCK_MAX, what, at);
  }
}

/** Decodes one LZ4 block into at most `max` bytes, checking every length and offset. */
export function decodeLz4Block(src: Uint8Array, max: number, what: string, at = 0): Uint8Array {
  const out = new Uint8Array(max);
  let s = 0;
  let d = 0;
  const bad = (reason: string): PkgError => new PkgError(PkgErrorCode.BadCompression, `${what}: lz4 block ${reason}`, { offset: at + s });
  const length = (n: number): number => {
    if (n !== 15) return n;
    for (;;) {
      if (s >= src.length) throw bad('ends inside a length');
      const b = src[s++];
      n += b;
      if (b !== 255) return n;
    }
  };
  while (s < src.length) {
    const token = src[s++];
    const lit = length(token >> 4);
    if (s + lit > src.length) throw bad('has literals past its end');
    if (d + lit > max) throw bad(`decodes past ${max} bytes`);
    out.set(src.subarray(s, s + lit), d);
    s += lit;
    d += lit;
    if (s === src.length) break; // the last sequence has literals only
    if (s + 2 > src.length) throw bad('ends inside a match offset');
    const offset = src[s] | (src[s + 1] << 8);
    s += 2;
    if (offset === 0 || offset > d) throw bad(`has match offset ${offset} before its start`);
    const len = length(token & 15) + 4;
    if (d + len > max) throw bad(`decodes past ${max} bytes`);
    if (offset >= len) {
      out.copyWithin(d, d - offset, d - offset + len);
      d += len;
    } else {
      for (let i = 0; i < len; i++, d++) out[d] = out[d - offset];
    }
  }
  return out.subarray(0, d);
}

function readU32(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}
