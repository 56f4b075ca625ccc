/**
 * Every failure of libs/sync is a {@link SyncError} with a stable `code`, the URL, suite and architecture it
 * concerns when known, and a one-line lowercase message that names them.
 */

/** Stable error codes. Callers (CLI, queue, API) match on these, never on messages. */
export const SyncErrorCode = {
  /** No usable mirror: apt sources missing or unreadable, a bad URL, an option out of range. */
  BadConfig: 'SYNC_BAD_CONFIG',
  /** A request failed: network error, connection closed early, non-2xx answer other than a missing suite. */
  Http: 'SYNC_HTTP',
  /** No answer (headers or the next body bytes) within the timeout. */
  Timeout: 'SYNC_TIMEOUT',
  /** The caller's AbortSignal fired. */
  Aborted: 'SYNC_ABORTED',
  /** The mirror has neither `dists/SUITE/InRelease` nor `dists/SUITE/Release`. */
  UnknownSuite: 'SYNC_UNKNOWN_SUITE',
  /** The suite does not carry the architecture, or the architecture has no btfhub-archive folder. */
  UnknownArch: 'SYNC_UNKNOWN_ARCH',
  /** The caller's `verifyRelease` refused a Release (a bad or missing OpenPGP signature). */
  BadSignature: 'SYNC_BAD_SIGNATURE',
  /** A Release or Packages index is malformed, lacks a needed entry, or does not decompress. */
  BadIndex: 'SYNC_BAD_INDEX',
  /** Size or SHA-256 of a download differs from what the index promised. */
  Checksum: 'SYNC_CHECKSUM',
  /** A download or decompressed index is larger than the configured cap. */
  TooLarge: 'SYNC_TOO_LARGE',
  /** An index names a file outside the mirror, or a destination path is not acceptable. */
  UnsafePath: 'SYNC_UNSAFE_PATH',
} as const;

export type SyncErrorCode = (typeof SyncErrorCode)[keyof typeof SyncErrorCode];

/** What an error concerns. */
export interface SyncErrorContext {
  url?: string;
  suite?: string;
  arch?: string;
  /** HTTP status, when the error is an answer of the server. */
  status?: number;
}

/** The one error type of libs/sync. */
export class SyncError extends Error {
  override readonly name = 'SyncError';
  readonly code: SyncErrorCode;
  readonly url: string | undefined;
  readonly suite: string | undefined;
  readonly arch: string | undefined;
  readonly status: number | undefined;
  /** The message without the suite/arch prefix. */
  readonly reason: string;

  constructor(code: SyncErrorCode, reason: string, where: SyncErrorContext = {}, options?: { cause?: unknown }) {
    super(formatMessage(reason, where), options);
    this.code = code;
    this.reason = reason;
    this.url = where.url;
    this.suite = where.suite;
    this.arch = where.arch;
    this.status = where.status;
  }

  /** A plain object for JSON output (CLI `--json`, problem+json, stored job failures). */
  toJSON(): { code: SyncErrorCode; message: string; url?: string; suite?: string; arch?: string; status?: number } {
    const out: { code: SyncErrorCode; message: string; url?: string; suite?: string; arch?: string; status?: number } = {
      code: this.code,
      message: this.message,
    };
    if (this.url !== undefined) out.url = this.url;
    if (this.suite !== undefined) out.suite = this.suite;
    if (this.arch !== undefined) out.arch = this.arch;
    if (this.status !== undefined) out.status = this.status;
    return out;
  }
}

/** `suite bookworm/arm64: REASON` — the URL, when there is one, is part of the reason. */
function formatMessage(reason: string, where: SyncErrorContext): string {
  if (where.suite === undefined) return reason;
  return `suite ${where.suite}${where.arch !== undefined ? `/${where.arch}` : ''}: ${reason}`;
}

/** True for errors raised by libs/sync. */
export function isSyncError(err: unknown): err is SyncError {
  return err instanceof SyncError;
}

/**
 * True when trying again later may succeed: network failures, timeouts, 5xx, 408 and 429 answers. A queue should
 * not retry anything else (a bad index or checksum stays bad until the mirror changes; the next scheduled run sees it).
 */
export function isRetryable(err: unknown): boolean {
  if (!isSyncError(err)) return false;
  switch (err.code) {
    case SyncErrorCode.Timeout:
      return true;
    case SyncErrorCode.Http:
      return err.status === undefined || err.status >= 500 || err.status === 429 || err.status === 408;
    default:
      return false;
  }
}
