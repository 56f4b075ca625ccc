import { isAscii } from 'node:buffer';
import { BtfError, BtfErrorCode } from './errors.js';

/**
 * The string section: NUL-terminated strings addressed by byte offset. For split BTF (module BTF), offsets
 * below the base's string-section length name base strings, and the rest continue into this section
 * (btf.rst, "split BTF"; libbpf btf__str_by_offset).
 *
 * Strings are read from one JS string holding the whole section (made on first use): for the all-ASCII
 * sections every kernel has, that turns each lookup into an `indexOf` and a `slice` in V8, with no call into
 * C++ per string. Sections with non-ASCII bytes are decoded string by string as UTF-8.
 */
/**
 * Strings read one by one from the bytes before the whole section is made into one text: a reader that asks for
 * a few names (a dry run's lookups in a kernel it loads once) does not pay for converting 2 MB; one that reads
 * every name (a dump) switches to the text, where each read is an indexOf and a slice.
 */
const FEW_READS = 512;

export class StringTable {
  /** Offsets below this belong to the base (0 for base BTF). */
  readonly startOffset: number;
  /** Total addressable length: base length plus own length. */
  readonly endOffset: number;
  private readonly buf: Buffer;
  private readonly start: number;
  private readonly end: number;
  private readonly base: StringTable | undefined;
  /** The whole own section as latin1 text (one char per byte), made on first use. */
  private text: string | undefined;
  /** True when every byte is below 0x80 (latin1 text is then also the UTF-8 decoding); undefined until known. */
  private asciiOnly: boolean | undefined;
  /** Strings read before the section's text was made (see {@link FEW_READS}). */
  private reads = 0;

  constructor(bytes: Uint8Array, start: number, end: number, base?: StringTable) {
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.start = start;
    this.end = end;
    this.base = base;
    this.startOffset = base ? base.endOffset : 0;
    this.endOffset = this.startOffset + (end - start);
  }

  /** Own length in bytes. */
  get length(): number {
    return this.end - this.start;
  }

  /** The whole own section as text with one char per byte (latin1), made once and shared by every reader. */
  latin1(): string {
    if (this.text === undefined) this.text = this.buf.toString('latin1', this.start, this.end);
    return this.text;
  }

  private allAscii(): boolean {
    if (this.asciiOnly === undefined) this.asciiOnly = isAscii(this.buf.subarray(this.start, this.end));
    return this.asciiOnly;
  }

  /**
   * Byte position of the string at `off` within {@link bytesAt}(off), or -1 when the offset is out of range.
   * Every in-range string is terminated: the section's last byte is NUL (checked at parse time).
   */
  locate(off: number): number {
    if (off < this.startOffset) return this.base ? this.base.locate(off) : -1;
    const pos = this.start + (off - this.startOffset);
    return pos < this.end ? pos : -1;
  }

  /** The first byte of the string at `off` (0 for an empty one), or -1 when the offset is out of range. */
  firstByte(off: number): number {
    if (off < this.startOffset) return this.base ? this.base.firstByte(off) : -1;
    const pos = this.start + (off - this.startOffset);
    return pos < this.end ? this.buf[pos] : -1;
  }

  /** The buffer that holds the string at `off` (this table's blob or a base's). */
  bytesAt(off: number): Uint8Array {
    return off < this.startOffset && this.base ? this.base.bytesAt(off) : this.buf;
  }

  /** True when `off` names a NUL-terminated string inside the section (or its base). */
  isValid(off: number): boolean {
    if (off < this.startOffset) return this.base ? this.base.isValid(off) : false;
    const rel = off - this.startOffset;
    if (rel >= this.end - this.start) return false;
    // The section's last byte is NUL (checked at parse time): every in-range offset is terminated.
    return this.text === undefined ? this.nulAfter(rel) !== -1 : this.text.indexOf('\0', rel) !== -1;
  }

  /**
   * The string at `off`, decoded as UTF-8; `undefined` when the offset is out of range or unterminated.
   */
  tryGet(off: number): string | undefined {
    if (off < this.startOffset) return this.base ? this.base.tryGet(off) : undefined;
    const rel = off - this.startOffset;
    if (rel >= this.end - this.start) return undefined;
    if (this.text === undefined && ++this.reads <= FEW_READS) {
      // UTF-8 decoding of one string: for ASCII, the same as the whole section's text would give.
      const nul = this.nulAfter(rel);
      return nul === -1 ? undefined : this.buf.toString('utf8', this.start + rel, this.start + nul);
    }
    const text = this.latin1();
    const nul = text.indexOf('\0', rel);
    if (nul === -1) return undefined;
    if (this.allAscii()) return text.slice(rel, nul);
    return this.buf.toString('utf8', this.start + rel, this.start + nul);
  }

  /** Position (relative to the section) of the first NUL at or after `rel`, -1 when none. */
  private nulAfter(rel: number): number {
    const at = this.buf.indexOf(0, this.start + rel);
    return at === -1 || at >= this.end ? -1 : at - this.start;
  }

  /** Like {@link tryGet} but keeps every byte as one char (latin1), for byte-exact output. */
  tryGetRaw(off: number): string | undefined {
    if (off < this.startOffset) return this.base ? this.base.tryGetRaw(off) : undefined;
    const rel = off - this.startOffset;
    if (rel >= this.end - this.start) return undefined;
    if (this.text === undefined && ++this.reads <= FEW_READS) {
      const nul = this.nulAfter(rel);
      return nul === -1 ? undefined : this.buf.toString('latin1', this.start + rel, this.start + nul);
    }
    const text = this.latin1();
    const nul = text.indexOf('\0', rel);
    return nul === -1 ? undefined : text.slice(rel, nul);
  }

  /** The string at `off`, or a BTF_BAD_STRING error naming `what` and `typeId`. */
  get(off: number, what: string, typeId?: number): string {
    const s = this.tryGet(off);
    if (s === undefined) {
      throw new BtfError(BtfErrorCode.BadString, `${what} offset ${off} is outside the string section or unterminated`, { typeId });
    }
    return s;
  }

  /** The raw bytes of the section (own part only). */
  bytes(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
  }
}
