import { BtfError, BtfErrorCode } from './errors.js';

/**
 * The string section: NUL-terminated strings addressed by byte offset. For split BTF (module BTF), offsets
 * below the base's string-section length name base strings, and the rest continue into this section
 * (btf.rst, "split BTF"; libbpf btf__str_by_offset).
 */
export class StringTable {
  /** Offsets below this belong to the base (0 for base BTF). */
  readonly startOffset: number;
  /** Total addressable length: base length plus own length. */
  readonly endOffset: number;
  private readonly buf: Buffer;
  private readonly start: number;
  private readonly end: number;
  private readonly base: StringTable | undefined;
  private readonly ascii: boolean;

  constructor(bytes: Uint8Array, start: number, end: number, base?: StringTable) {
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.start = start;
    this.end = end;
    this.base = base;
    this.startOffset = base ? base.endOffset : 0;
    this.endOffset = this.startOffset + (end - start);
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (this.buf[i] >= 0x80) {
        ascii = false;
        break;
      }
    }
    this.ascii = ascii;
  }

  /** Own length in bytes. */
  get length(): number {
    return this.end - this.start;
  }

  /** The table a given offset falls into, and the absolute byte position of the string. */
  private find(off: number): [StringTable, number] | undefined {
    if (off < this.startOffset) return this.base ? this.base.find(off) : undefined;
    const pos = this.start + (off - this.startOffset);
    if (pos >= this.end) return undefined;
    return [this, pos];
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

  /** The buffer that holds the string at `off` (this table's blob or a base's). */
  bytesAt(off: number): Uint8Array {
    return off < this.startOffset && this.base ? this.base.bytesAt(off) : this.buf;
  }

  /** True when `off` names a NUL-terminated string inside the section (or its base). */
  isValid(off: number): boolean {
    const loc = this.find(off);
    if (!loc) return false;
    const [t, pos] = loc;
    return t.buf.indexOf(0, pos) !== -1 && t.buf.indexOf(0, pos) < t.end;
  }

  /**
   * The string at `off`, decoded as UTF-8; `undefined` when the offset is out of range or unterminated.
   */
  tryGet(off: number): string | undefined {
    const loc = this.find(off);
    if (!loc) return undefined;
    const [t, pos] = loc;
    const nul = t.buf.indexOf(0, pos);
    if (nul === -1 || nul >= t.end) return undefined;
    return t.ascii ? t.buf.toString('latin1', pos, nul) : t.buf.toString('utf8', pos, nul);
  }

  /** Like {@link tryGet} but keeps every byte as one char (latin1), for byte-exact output. */
  tryGetRaw(off: number): string | undefined {
    const loc = this.find(off);
    if (!loc) return undefined;
    const [t, pos] = loc;
    const nul = t.buf.indexOf(0, pos);
    if (nul === -1 || nul >= t.end) return undefined;
    return t.buf.toString('latin1', pos, nul);
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
