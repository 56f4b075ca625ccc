/** Stable codes of catalog failures (CLI exit 1, HTTP 4xx, stored job failures). */
export type CatalogErrorCode =
  | 'CATALOG_BAD_KREF'
  | 'KERNEL_NOT_FOUND'
  /**
   * A `distro`, `release` or `arch` filter that selects none of the catalog's kernels (`--arch x86-64`); the
   * message names the values that exist, the suggestions the closest of them.
   */
  | 'NO_MATCHING_KERNELS'
  | 'TYPE_NOT_FOUND'
  | 'FIELD_NOT_FOUND'
  /** `func NAME`: no kernel of the catalog (or not the kernel asked for) has a FUNC of that name; close names suggested. */
  | 'FUNC_NOT_FOUND'
  /** `tracepoint NAME`: neither `typedef btf_trace_NAME` nor `struct trace_event_raw_NAME` in any kernel. */
  | 'TRACEPOINT_NOT_FOUND'
  /** `syscall NAME`: no wrapper FUNC of it (`__x64_sys_NAME`, `sys_NAME`…) in any kernel. */
  | 'SYSCALL_NOT_FOUND'
  /** `enumerator NAME`: no enum of any kernel, named or anonymous, has a value of that name. */
  | 'ENUMERATOR_NOT_FOUND'
  /** `search TEXT`: an empty or overlong text, an unknown kind or a limit out of range. */
  | 'BAD_SEARCH'
  | 'KERNEL_CONFLICT'
  | 'BAD_FIELD_PATH'
  | 'ARCHIVE_BAD_LAYOUT'
  | 'CATALOG_CORRUPT'
  /**
   * An ingest into a catalog whose shapes another normalizer version made (`catalog_meta.normalizer_version`):
   * refused rather than mixing two kinds of shapes; the message names both versions and how to rebuild.
   */
  | 'CATALOG_NEEDS_REINDEX'
  /** A file given as a catalog (`reindex`, `merge`) that is not one: not SQLite, or SQLite without the catalog's tables. */
  | 'NOT_A_CATALOG'
  /** A blob the catalog refers to (a kernel's source, a module file) is not in its blob store (`reindex`). */
  | 'BLOB_MISSING'
  /** `lookupKernel`: os-release text that is not KEY=VALUE lines, or too big. */
  | 'OS_RELEASE_INVALID'
  /** `lookupKernel`: a uname -r that is empty, too long or has characters a KREF cannot hold. */
  | 'UNAME_R_INVALID'
  /** `lookupKernel`: a uname -m that is empty, too long or not a machine name. */
  | 'ARCH_INVALID';

/** The one error type of libs/catalog; BtfError passes through unchanged for decoding failures. */
export class CatalogError extends Error {
  override readonly name = 'CatalogError';

  constructor(
    readonly code: CatalogErrorCode,
    message: string,
    /** Close names to suggest (unknown kernel, type or field). */
    readonly suggestions: string[] = [],
  ) {
    super(message);
  }

  toJSON(): { code: CatalogErrorCode; message: string; suggestions?: string[] } {
    return this.suggestions.length > 0
      ? { code: this.code, message: this.message, suggestions: this.suggestions }
      : { code: this.code, message: this.message };
  }
}
