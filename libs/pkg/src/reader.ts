/**
 * A pull reader over a stream of chunks (a file, a decompressor's output): exact reads with a cursor, bounds
 * checked before use, and sub-streams of a known length that are drained when left unread. Archives (ar, rpm,
 * cpio) are read through it without ever holding more than the member being kept.
 */
import { PkgError, PkgErrorCode } from './errors.js';
import { inputFileChunks } from './input-file.js';

export type ByteStream = AsyncIterable<Uint8Array>;

/** One chunk, as a stream. */
export async function* streamOf(bytes: Uint8Array, chunkSize = 1 << 20): ByteStream {
  for (let pos = 0; pos < bytes.length; pos += chunkSize) yield bytes.subarray(pos, Math.min(bytes.length, pos + chunkSize));
}

/** A regular file's bytes, as a stream of at most `max` bytes (a FIFO or device is refused: PKG_INPUT_NOT_REGULAR). */
export function fileStream(path: string, max: number): ByteStream {
  return inputFileChunks(path, { max, regularOnly: true });
}

export class ByteReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private buf: Uint8Array = new Uint8Array(0);
  private done = false;
  /** Bytes consumed so far. */
  position = 0;

  /** `what` names the stream in errors (`data.tar.xz`, `rpm payload`). */
  constructor(source: ByteStream, readonly what: string) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Ensures at least `n` bytes are buffered, or the stream ended; returns how many are. */
  private async fill(n: number): Promise<number> {
    while (this.buf.length < n && !this.done) {
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        break;
      }
      if (r.value.length === 0) continue;
      this.buf = this.buf.length === 0 ? r.value : concat([this.buf, r.value]);
    }
    return this.buf.length;
  }

  /** True when nothing is left. */
  async atEnd(): Promise<boolean> {
    return (await this.fill(1)) === 0;
  }

  /** Up to `n` bytes without consuming them (fewer at the end of the stream). */
  async peek(n: number): Promise<Uint8Array> {
    await this.fill(n);
    return this.buf.subarray(0, Math.min(n, this.buf.length));
  }

  /** Exactly `n` bytes; PKG_TRUNCATED naming `what` when the stream ends first. */
  async read(n: number, what: string): Promise<Uint8Array> {
    const have = await this.fill(n);
    if (have < n) {
      throw new PkgError(PkgErrorCode.Truncated, `${this.what} ends inside ${what} (${have} of ${n} bytes)`, { offset: this.position + have });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.position += n;
    return out;
  }

  /** Skips exactly `n` bytes. */
  async skip(n: number, what: string): Promise<void> {
    for await (const chunk of this.chunks(n, what)) void chunk;
  }

  /** The next `n` bytes as a stream of chunks; PKG_TRUNCATED when the stream ends first. */
  async *chunks(n: number, what: string): ByteStream {
    let left = n;
    while (left > 0) {
      if ((await this.fill(1)) === 0) {
        throw new PkgError(PkgErrorCode.Truncated, `${this.what} ends inside ${what} (${n - left} of ${n} bytes)`, { offset: this.position });
      }
      const take = Math.min(left, this.buf.length);
      const out = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      this.position += take;
      left -= take;
      yield out;
    }
  }

  /** Everything that is left, as a stream. */
  async *rest(): ByteStream {
    if (this.buf.length > 0) {
      const b = this.buf;
      this.buf = new Uint8Array(0);
      this.position += b.length;
      yield b;
    }
    while (!this.done) {
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        break;
      }
      this.position += r.value.length;
      yield r.value;
    }
  }

  /** Stops the underlying stream (a file is closed). */
  async close(): Promise<void> {
    this.done = true;
    await this.it.return?.();
  }
}

/** Collects a stream into one array, refusing more than `max` bytes (PKG_TOO_LARGE naming `what`). */
export async function collect(source: ByteStream, max: number, what: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of source) {
    total += chunk.length;
    if (total > max) throw new PkgError(PkgErrorCode.TooLarge, `${what} is larger than the ${max}-byte limit`);
    parts.push(chunk);
  }
  return concat(parts, total);
}

export function concat(parts: Uint8Array[], total = parts.reduce((n, p) => n + p.length, 0)): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}
