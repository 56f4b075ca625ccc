import { STATUS_CODES } from 'node:http';

/**
 * Every coded error the API answers with, in one place: its HTTP status and title. Catalog errors keep their own
 * codes (KERNEL_NOT_FOUND, …) and map to a status here too.
 */
export const API_ERRORS = {
  /** A parameter failed the route's schema (which one and why in `detail`). */
  BAD_PARAMETER: { status: 400, title: 'Bad parameter' },
  /** The request body is not what the route accepts (bad JSON, wrong content type). */
  BAD_BODY: { status: 400, title: 'Bad request body' },
  /** A write route without `Authorization: Bearer TOKEN` (answered with `WWW-Authenticate: Bearer`). */
  ADMIN_TOKEN_MISSING: { status: 401, title: 'Admin token required' },
  /** A write route with a token that is not BTF_ATLAS_ADMIN_TOKEN (answered with `WWW-Authenticate: Bearer`). */
  ADMIN_TOKEN_INVALID: { status: 401, title: 'Admin token refused' },
  /** A write route while the server has no BTF_ATLAS_ADMIN_TOKEN: write routes are off, whatever the request sends. */
  WRITE_ROUTES_DISABLED: { status: 403, title: 'Write routes disabled' },
  /**
   * A body larger than the route takes (BTF_ATLAS_MAX_UPLOAD_BYTES for `POST /v1/ingest`): refused as soon as its
   * Content-Length says so, before any byte of it is read, or as the bytes arrive past the limit.
   */
  UPLOAD_TOO_LARGE: { status: 413, title: 'Upload too large' },
  /** The request (headers and body) did not arrive within the server's request timeout; the connection is closed. */
  REQUEST_TIMEOUT: { status: 408, title: 'Request timeout' },
  /** Headers larger than the server takes. */
  HEADERS_TOO_LARGE: { status: 431, title: 'Request header fields too large' },
  /** Redis (REDIS_URL) cannot be reached now: write routes and job lookups answer this, with Retry-After. */
  REDIS_UNAVAILABLE: { status: 503, title: 'Queue unavailable' },
  /** Too much heavy work waits already (diffs, vmlinux.h): try again after Retry-After seconds. */
  SERVER_BUSY: { status: 503, title: 'Server busy' },
  /** The server is not ready to serve (readyz): the catalog, its migrations or Redis; `detail` says which. */
  NOT_READY: { status: 503, title: 'Not ready' },
  /** A heavy task failed in its worker thread without a coded error (the thread ran out of memory, or died). */
  WORK_FAILED: { status: 500, title: 'Internal server error' },
  /** A heavy task needed more than a worker thread's heap (BTF_ATLAS_WORK_HEAP_MB): its thread was replaced, the server is up. */
  WORK_OUT_OF_MEMORY: { status: 503, title: 'Out of memory' },
  /** A JSON `path` to ingest that is off (no ingest root), absolute, or outside the ingest root. */
  INGEST_PATH_REFUSED: { status: 400, title: 'Ingest path refused' },
  /** A JSON `path` to ingest that names nothing under the ingest root. */
  INGEST_PATH_NOT_FOUND: { status: 404, title: 'Ingest path not found' },
  /** No job with this id (never enqueued, or removed after its retention). */
  JOB_NOT_FOUND: { status: 404, title: 'Job not found' },
  /** An `/archive/` folder or file name the mirror does not have (close paths suggested). */
  ARCHIVE_PATH_NOT_FOUND: { status: 404, title: 'No such archive path' },
  /** A `Range` none of whose bytes the file has; the answer's `Content-Range` names the file's size. */
  RANGE_NOT_SATISFIABLE: { status: 416, title: 'Range not satisfiable' },
  /** A path segment longer than the router takes (512 characters). */
  URI_TOO_LONG: { status: 414, title: 'URI too long' },
  /** `/admin/queues` of a server without REDIS_URL: there is no queue to show (jobs run in process). */
  QUEUE_BOARD_DISABLED: { status: 404, title: 'Queue board disabled' },
  /** A queue board action that is not offered (adding or editing job data), or a change with Basic credentials from another origin. */
  QUEUE_BOARD_ACTION_REFUSED: { status: 403, title: 'Queue board action refused' },
  /** No route at this method and path. */
  ROUTE_NOT_FOUND: { status: 404, title: 'No such route' },
  /** The catalog cannot be read (healthz). */
  CATALOG_UNAVAILABLE: { status: 503, title: 'Catalog unavailable' },
  /** Anything unexpected; the detail names the request id, never internals. */
  INTERNAL: { status: 500, title: 'Internal server error' },
  // Codes of libs/catalog's CatalogError.
  CATALOG_BAD_KREF: { status: 400, title: 'Bad kernel reference' },
  BAD_FIELD_PATH: { status: 400, title: 'Bad field path' },
  KERNEL_NOT_FOUND: { status: 404, title: 'Kernel not found' },
  NO_MATCHING_KERNELS: { status: 404, title: 'No matching kernels' },
  OS_RELEASE_INVALID: { status: 400, title: 'Bad os-release' },
  UNAME_R_INVALID: { status: 400, title: 'Bad uname -r' },
  ARCH_INVALID: { status: 400, title: 'Bad arch' },
  TYPE_NOT_FOUND: { status: 404, title: 'Type not found' },
  FIELD_NOT_FOUND: { status: 404, title: 'Field not found' },
  FUNC_NOT_FOUND: { status: 404, title: 'Function not found' },
  TRACEPOINT_NOT_FOUND: { status: 404, title: 'Tracepoint not found' },
  SYSCALL_NOT_FOUND: { status: 404, title: 'Syscall not found' },
  ENUMERATOR_NOT_FOUND: { status: 404, title: 'Enumerator not found' },
  BAD_SEARCH: { status: 400, title: 'Bad search' },
  KERNEL_CONFLICT: { status: 409, title: 'Kernel conflict' },
  ARCHIVE_BAD_LAYOUT: { status: 400, title: 'Bad archive layout' },
  CATALOG_CORRUPT: { status: 500, title: 'Internal server error' },
  /** A catalog whose shapes an older normalizer made: the answer needs `btf-atlas reindex` first. */
  CATALOG_NEEDS_REINDEX: { status: 503, title: 'Catalog needs reindex' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** An RFC 9457 problem document, as every error answer carries it (`application/problem+json`). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  suggestions?: string[];
  request_id?: string;
}

/** The problem `type` URI of a code: `urn:btf-atlas:problem:kernel-not-found`. */
export function problemType(code: string): string {
  return `urn:btf-atlas:problem:${code.toLowerCase().replace(/_/g, '-')}`;
}

/** An error the API raises itself; the error handler turns it into its problem document. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly statusCode: number;

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly suggestions: string[] = [],
    /** Seconds a client should wait before trying again (answered as `Retry-After`), for 503s. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.statusCode = API_ERRORS[code].status;
  }
}

/** Whether a code is one of {@link API_ERRORS}. */
export function isApiErrorCode(code: unknown): code is ApiErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(API_ERRORS, code);
}

/** The problem document of a code. */
export function problemOf(code: ApiErrorCode, detail: string, extra: { suggestions?: string[]; instance?: string; requestId?: string } = {}): Problem {
  const { status, title } = API_ERRORS[code];
  const p: Problem = { type: problemType(code), title: title || STATUS_CODES[status] || 'Error', status, detail, code };
  if (extra.instance !== undefined) p.instance = extra.instance;
  if (extra.suggestions && extra.suggestions.length > 0) p.suggestions = extra.suggestions;
  if (extra.requestId !== undefined) p.request_id = extra.requestId;
  return p;
}
