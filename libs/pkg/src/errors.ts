/**
 * Every failure of libs/pkg is a {@link PkgError} with a stable `code`, the archive member it concerns
 * (`data.tar.xz:./boot/vmlinuz-6.1.0-47-amd64`) and the byte offset when one is known. Nothing else may escape:
 * a bare RangeError from a reader, or a decompressor's own error, is a bug.
 */
import { BtfError } from '@btf-atlas/btf';

/** Stable error codes. Callers (CLI, worker, API) match on these, never on messages. */
export const PkgErrorCode = {
  /** The input, an archive member or a compressed stream ends before its own header says it should. */
  Truncated: 'PKG_TRUNCATED',
  /** An ar, rpm, cpio or tar structure is malformed (bad magic, bad header field, bad numbers). */
  BadArchive: 'PKG_BAD_ARCHIVE',
  /** A compressed stream is corrupt (bad checksum, bad block), or uses options the decoder refuses. */
  BadCompression: 'PKG_BAD_COMPRESSION',
  /** An archive member has an unsafe name: absolute, with `..`, a NUL byte or a backslash. */
  UnsafePath: 'PKG_UNSAFE_PATH',
  /**
   * A limit of the input's one budget was hit: bytes decompressed over every layer and member, archive members in
   * total, nesting, time; or a kept member's own cap (a decompression bomb).
   */
  TooLarge: 'PKG_TOO_LARGE',
  /** The input is not a package or kernel image this library reads. */
  UnknownFormat: 'PKG_UNKNOWN_FORMAT',
  /** The package holds no kernel image and no kernel module. */
  NoKernel: 'PKG_NO_KERNEL',
  /** A kernel image's header is inconsistent (payload offset past the end, unknown payload compression). */
  BadImage: 'PKG_BAD_IMAGE',
  /** A kernel image or ELF object holds no BTF (`dwarf` in the details when it has DWARF that pahole could turn into BTF). */
  NoBtf: 'PKG_NO_BTF',
  /** An ELF object has DWARF (.debug_info) but no .BTF: pahole can make BTF from it (see pahole.ts). */
  DwarfOnly: 'PKG_DWARF_ONLY',
  /** BTF was found but libs/btf refused it; `cause` is the BtfError. */
  BadBtf: 'PKG_BAD_BTF',
  /** pahole (Debian package `dwarves`) is not installed. */
  PaholeMissing: 'PKG_PAHOLE_MISSING',
  /** pahole failed, timed out, or wrote no BTF. */
  PaholeFailed: 'PKG_PAHOLE_FAILED',
  /** An input file is larger than its cap (a regular file refused by its size before reading; a FIFO or device cut off). */
  InputTooLarge: 'PKG_INPUT_TOO_LARGE',
  /** An input file cannot be opened or read (missing, no permission, a directory). */
  InputUnreadable: 'PKG_INPUT_UNREADABLE',
  /** An input that must be a regular file is a FIFO, a device or a socket (a job's input path). */
  InputNotRegular: 'PKG_INPUT_NOT_REGULAR',
} as const;

export type PkgErrorCode = (typeof PkgErrorCode)[keyof typeof PkgErrorCode];

/** Where in the input an error was found. */
export interface PkgErrorLocation {
  /** The member chain, outermost first (`data.tar.xz:./usr/lib/modules/X/vmlinuz`). */
  source?: string;
  /** Byte offset within that member (or the input when there is no member). */
  offset?: number;
}

/** The one error type of libs/pkg. */
export class PkgError extends Error {
  override readonly name = 'PkgError';
  readonly code: PkgErrorCode;
  /** The message without location prefix. */
  readonly reason: string;
  readonly source: string | undefined;
  readonly offset: number | undefined;

  constructor(code: PkgErrorCode, reason: string, where: PkgErrorLocation = {}, options?: { cause?: unknown }) {
    super(formatMessage(reason, where), options);
    this.code = code;
    this.reason = reason;
    this.source = where.source;
    this.offset = where.offset;
  }

  /** The same error placed inside `source` (outer archives prefix their member name). */
  within(source: string): PkgError {
    const inner = this.source === undefined ? source : `${source}:${this.source}`;
    return new PkgError(this.code, this.reason, { source: inner, offset: this.offset }, { cause: this.cause });
  }

  /** A plain object for JSON output. */
  toJSON(): { code: PkgErrorCode; message: string; source?: string; offset?: number } {
    const out: { code: PkgErrorCode; message: string; source?: string; offset?: number } = { code: this.code, message: this.reason };
    if (this.source !== undefined) out.source = this.source;
    if (this.offset !== undefined) out.offset = this.offset;
    return out;
  }
}

function formatMessage(reason: string, where: PkgErrorLocation): string {
  const parts: string[] = [];
  if (where.source !== undefined) parts.push(where.source);
  if (where.offset !== undefined) parts.push(`offset ${where.offset}`);
  return parts.length > 0 ? `${parts.join(': ')}: ${reason}` : reason;
}

/** True for errors raised by libs/pkg. */
export function isPkgError(err: unknown): err is PkgError {
  return err instanceof PkgError;
}

/**
 * Any failure as a PkgError: PkgErrors pass through, a BtfError becomes PKG_BAD_BTF (or PKG_NO_BTF for an ELF
 * object without a .BTF section) with the BtfError as `cause`, anything else is a corrupt archive.
 */
export function toPkgError(err: unknown, source?: string): PkgError {
  if (err instanceof PkgError) return err;
  const where = source === undefined ? {} : { source };
  if (err instanceof BtfError) {
    const code = err.code === 'BTF_NO_BTF_SECTION' ? PkgErrorCode.NoBtf : PkgErrorCode.BadBtf;
    return new PkgError(code, `${err.code}: ${err.message}`, where, { cause: err });
  }
  return new PkgError(PkgErrorCode.BadArchive, `unexpected failure: ${(err as Error)?.message ?? String(err)}`, where, { cause: err });
}
