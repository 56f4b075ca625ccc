/**
 * Every failure of libs/btf is a {@link BtfError} with a stable `code`, the byte offset or type id it concerns,
 * and a lowercase message that says where. Nothing else may escape a parser: a bare RangeError is a bug.
 */

/** Stable error codes. Callers (CLI, API, ingest) match on these, never on messages. */
export const BtfErrorCode = {
  /** Input is shorter than a BTF header, or a header field points past the data. */
  Truncated: 'BTF_TRUNCATED',
  /** The first two bytes are neither 0xeb9f (little-endian) nor 0x9feb (big-endian). */
  BadMagic: 'BTF_BAD_MAGIC',
  /** Version is not 1. */
  BadVersion: 'BTF_BAD_VERSION',
  /** Header flags, hdr_len or unknown trailing header bytes are not acceptable. */
  BadHeader: 'BTF_BAD_HEADER',
  /** Sections overlap, leave gaps, are misaligned or run past the end of the blob. */
  BadSection: 'BTF_BAD_SECTION',
  /** A read would go past the end of a section. */
  OutOfBounds: 'BTF_OUT_OF_BOUNDS',
  /** The string section is malformed (missing leading or trailing NUL, too large). */
  BadStringSection: 'BTF_BAD_STRING_SECTION',
  /** A string offset points outside the string section, or the string it names is not valid for its use. */
  BadString: 'BTF_BAD_STRING',
  /** A type record has an unknown kind. */
  BadKind: 'BTF_BAD_KIND',
  /** A type record's info, vlen, kind_flag, size or kind-specific data breaks a rule of its kind. */
  BadType: 'BTF_BAD_TYPE',
  /** A type id is out of range, or refers to a type of the wrong kind. */
  BadTypeRef: 'BTF_BAD_TYPE_REF',
  /** Resolution found a cycle (for example a typedef chain that loops) or exceeded the resolve depth. */
  TypeLoop: 'BTF_TYPE_LOOP',
  /** A struct/union member lies outside its type, or a bitfield is malformed. */
  BadMember: 'BTF_BAD_MEMBER',
  /** A configured limit (blob size, type count, resolve depth) was exceeded. */
  LimitExceeded: 'BTF_LIMIT_EXCEEDED',
  /** The container around the BTF (ELF, gzip, xz, tar) is malformed or unsafe. */
  BadContainer: 'BTF_BAD_CONTAINER',
  /** An ELF object has no .BTF section. */
  NoBtfSection: 'BTF_NO_BTF_SECTION',
  /** A tar archive entry has an unsafe name (absolute, `..`) or is a link or device. */
  UnsafeArchivePath: 'ARCHIVE_UNSAFE_PATH',
  /** A decompressed stream exceeds the configured size limit (decompression bomb). */
  DecompressedTooLarge: 'ARCHIVE_TOO_LARGE',
  /** The input's format is not one btf-atlas reads. */
  UnknownFormat: 'BTF_UNKNOWN_FORMAT',
  /** A split BTF was read without the base it needs, or the base does not fit. */
  BadBase: 'BTF_BAD_BASE',
} as const;

export type BtfErrorCode = (typeof BtfErrorCode)[keyof typeof BtfErrorCode];

/** Where in the input an error was found. */
export interface BtfErrorLocation {
  /** Byte offset within the blob (raw BTF, or the container for container errors). */
  offset?: number;
  /** Type id the error concerns. */
  typeId?: number;
  /** The file or archive member, when known (filled in by loaders). */
  source?: string;
}

/** The one error type of libs/btf. */
export class BtfError extends Error {
  override readonly name = 'BtfError';
  readonly code: BtfErrorCode;
  readonly offset: number | undefined;
  readonly typeId: number | undefined;
  source: string | undefined;
  /** The message without location prefix. */
  readonly reason: string;

  constructor(code: BtfErrorCode, reason: string, where: BtfErrorLocation = {}) {
    super(formatMessage(reason, where));
    this.code = code;
    this.reason = reason;
    this.offset = where.offset;
    this.typeId = where.typeId;
    this.source = where.source;
  }

  /** Attach the file or archive member name (loaders know it, parsers do not). */
  withSource(source: string): this {
    if (this.source === undefined) {
      this.source = source;
      this.message = formatMessage(this.reason, { offset: this.offset, typeId: this.typeId, source });
    }
    return this;
  }

  /** A plain object for JSON output (CLI `--json`, problem+json, stored job failures). */
  toJSON(): { code: BtfErrorCode; message: string; offset?: number; type_id?: number; source?: string } {
    const out: { code: BtfErrorCode; message: string; offset?: number; type_id?: number; source?: string } = {
      code: this.code,
      message: this.reason,
    };
    if (this.typeId !== undefined) out.type_id = this.typeId;
    if (this.offset !== undefined) out.offset = this.offset;
    if (this.source !== undefined) out.source = this.source;
    return out;
  }
}

function formatMessage(reason: string, where: BtfErrorLocation): string {
  const parts: string[] = [];
  if (where.source !== undefined) parts.push(where.source);
  if (where.typeId !== undefined) parts.push(`type [${where.typeId}]`);
  if (where.offset !== undefined) parts.push(`offset ${where.offset}`);
  return parts.length > 0 ? `${parts.join(': ')}: ${reason}` : reason;
}

/** True for errors raised by libs/btf. */
export function isBtfError(err: unknown): err is BtfError {
  return err instanceof BtfError;
}
