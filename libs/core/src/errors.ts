/**
 * Every failure of libs/core is a {@link CoreError} with a stable `code`, the ELF section and byte offset (or
 * type id) it concerns, and a lowercase message that says where. Nothing else may escape the object reader: a
 * bare RangeError is a bug. A malformed `.BTF` inside an object is reported as CORE_BAD_BTF with the
 * {@link BtfError} of libs/btf as its `cause`.
 */

/** Stable error codes. Callers (CLI, API, queue) match on these, never on messages. */
export const CoreErrorCode = {
  /** The bytes do not start with the ELF magic (\x7fELF). */
  NotElf: 'CORE_NOT_ELF',
  /** An ELF file, but not a BPF object: not ELF64, not relocatable (ET_REL), or e_machine is not EM_BPF (247). */
  NotBpf: 'CORE_NOT_BPF',
  /** The file ends before a header, table or section it describes (a cut-off download, a short read). */
  Truncated: 'CORE_TRUNCATED',
  /** The ELF structure is inconsistent: section table, names, symbol table or section types. */
  BadElf: 'CORE_BAD_ELF',
  /** The object has no `.BTF` section (built without `-g`, or stripped of it). */
  NoBtf: 'CORE_NO_BTF',
  /** The object's `.BTF` section is not valid BTF (the libs/btf error is the `cause`). */
  BadBtf: 'CORE_BAD_BTF',
  /**
   * The object has no `.BTF.ext` section but the caller needs its CO-RE relocations
   * (`readBpfObject(bytes, { requireBtfExt: true })`). Without that option an object without `.BTF.ext`
   * simply has no relocations.
   */
  NoBtfExt: 'CORE_NO_BTF_EXT',
  /** The `.BTF.ext` header is malformed: magic, version, flags, hdr_len, or an info block outside the section. */
  BadBtfExt: 'CORE_BAD_BTF_EXT',
  /**
   * A `.BTF.ext` record (func info, line info, CO-RE relocation) or its block is malformed: record size, count,
   * section name, string offset, kind, instruction offset or type id.
   */
  BadRecord: 'CORE_BAD_RECORD',
  /** A program symbol is unusable: zero or unaligned size, outside its section, or static outside `.text`. */
  BadProgram: 'CORE_BAD_PROGRAM',
  /** An extern symbol has no BTF VAR/FUNC of extern linkage, or is in no DATASEC, or in an unknown one. */
  BadExtern: 'CORE_BAD_EXTERN',
  /**
   * A CO-RE relocation cannot be decided against the target (bad local type or access string, matching error,
   * ambiguous candidates), so no minimized BTF can be made for the object: bpftool gen min_core_btf's "error
   * recording relocations".
   */
  MinBtfRelo: 'CORE_MIN_BTF_RELO',
  /** A type min_core_btf would have to keep is of a kind it cannot carry over (FWD, FUNC, VAR, DATASEC, tags). */
  MinBtfKind: 'CORE_MIN_BTF_KIND',
} as const;

export type CoreErrorCode = (typeof CoreErrorCode)[keyof typeof CoreErrorCode];

/** Where in the object an error was found. */
export interface CoreErrorLocation {
  /** ELF section name (`.BTF.ext`, `kprobe/do_nanosleep`). */
  section?: string;
  /** Byte offset: within `section` when one is named, else within the file. */
  offset?: number;
  /** Local (object) BTF type id the error concerns. */
  typeId?: number;
  /** The file the object came from, when known (filled in by loaders). */
  source?: string;
}

/** The one error type of libs/core. */
export class CoreError extends Error {
  override readonly name = 'CoreError';
  readonly code: CoreErrorCode;
  readonly section: string | undefined;
  readonly offset: number | undefined;
  readonly typeId: number | undefined;
  source: string | undefined;
  /** The message without location prefix. */
  readonly reason: string;

  constructor(code: CoreErrorCode, reason: string, where: CoreErrorLocation = {}, options?: { cause?: unknown }) {
    super(formatMessage(reason, where), options);
    this.code = code;
    this.reason = reason;
    this.section = where.section;
    this.offset = where.offset;
    this.typeId = where.typeId;
    this.source = where.source;
  }

  /** Attach the file name (loaders know it, parsers do not). */
  withSource(source: string): this {
    if (this.source === undefined) {
      this.source = source;
      this.message = formatMessage(this.reason, { section: this.section, offset: this.offset, typeId: this.typeId, source });
    }
    return this;
  }

  /** A plain object for JSON output (CLI `--json`, problem+json, stored job failures). */
  toJSON(): { code: CoreErrorCode; message: string; section?: string; offset?: number; type_id?: number; source?: string } {
    const out: { code: CoreErrorCode; message: string; section?: string; offset?: number; type_id?: number; source?: string } = {
      code: this.code,
      message: this.reason,
    };
    if (this.section !== undefined) out.section = this.section;
    if (this.typeId !== undefined) out.type_id = this.typeId;
    if (this.offset !== undefined) out.offset = this.offset;
    if (this.source !== undefined) out.source = this.source;
    return out;
  }
}

function formatMessage(reason: string, where: CoreErrorLocation): string {
  const parts: string[] = [];
  if (where.source !== undefined) parts.push(where.source);
  if (where.section !== undefined) parts.push(`section '${where.section}'`);
  if (where.typeId !== undefined) parts.push(`type [${where.typeId}]`);
  if (where.offset !== undefined) parts.push(`offset ${where.offset}`);
  return parts.length > 0 ? `${parts.join(': ')}: ${reason}` : reason;
}

/** True for errors raised by libs/core. */
export function isCoreError(err: unknown): err is CoreError {
  return err instanceof CoreError;
}
