import { SyncError, SyncErrorCode, type SyncErrorContext } from './errors.js';

/** The fetch sync uses: Node's global one unless a caller passes another (a proxy agent, a test double). */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** Options of one request. */
export interface RequestOptions {
  fetch?: FetchLike;
  signal?: AbortSignal;
  /** Milliseconds to wait for the headers, and then for each next piece of the body. */
  timeoutMs: number;
  headers?: Record<string, string>;
  /** Named in errors. */
  where?: SyncErrorContext;
}

/**
 * A request whose body is read through {@link ActiveRequest.chunks}. One timer covers the wait for the headers and
 * then every wait for more body bytes (an idle timeout, so a slow but steady 2 GB download is fine).
 */
export interface ActiveRequest {
  response: Response;
  /** The body, piece by piece; errors are SyncErrors (SYNC_HTTP, SYNC_TIMEOUT, SYNC_ABORTED). */
  chunks(): AsyncGenerator<Uint8Array>;
  /** Stops the request (idempotent). */
  close(): Promise<void>;
}

/**
 * Starts a GET. Answers are not decoded (`Accept-Encoding: identity`: a server that gzips a .gz on the fly would
 * otherwise change the bytes whose checksum we know). Network failures become SYNC_HTTP, a timeout SYNC_TIMEOUT,
 * the caller's abort SYNC_ABORTED; the HTTP status is left to the caller.
 */
export async function startRequest(url: string, opts: RequestOptions): Promise<ActiveRequest> {
  const fetchFn = opts.fetch ?? globalThis.fetch;
  const timer = new AbortController();
  const signal = opts.signal !== undefined ? AbortSignal.any([opts.signal, timer.signal]) : timer.signal;
  let handle: ReturnType<typeof setTimeout> | undefined;
  const arm = (): void => {
    if (handle !== undefined) clearTimeout(handle);
    handle = setTimeout(() => timer.abort(), opts.timeoutMs);
  };
  const disarm = (): void => {
    if (handle !== undefined) clearTimeout(handle);
    handle = undefined;
  };
  const where: SyncErrorContext = { ...opts.where, url };
  const fail = (err: unknown, doing: string): SyncError => {
    if (err instanceof SyncError) return err;
    if (opts.signal?.aborted) return new SyncError(SyncErrorCode.Aborted, `${doing} ${url} was aborted`, where, { cause: err });
    if (timer.signal.aborted) return new SyncError(SyncErrorCode.Timeout, `${doing} ${url}: no data for ${opts.timeoutMs} ms`, where, { cause: err });
    return new SyncError(SyncErrorCode.Http, `${doing} ${url} failed: ${describe(err)}`, where, { cause: err });
  };

  if (opts.signal?.aborted) throw fail(opts.signal.reason, 'request');
  arm();
  let response: Response;
  try {
    response = await fetchFn(url, {
      method: 'GET',
      headers: { 'accept-encoding': 'identity', ...opts.headers },
      redirect: 'follow',
      signal,
    });
  } catch (err) {
    disarm();
    throw fail(err, 'request');
  }
  const body = response.body;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let closed = false;
  const close = async (): Promise<void> => {
    disarm();
    if (closed) return;
    closed = true;
    if (reader !== undefined) await reader.cancel().catch(() => undefined);
    else await body?.cancel().catch(() => undefined);
  };
  async function* chunks(): AsyncGenerator<Uint8Array> {
    if (body === null) {
      disarm();
      return;
    }
    reader = body.getReader();
    try {
      for (;;) {
        arm();
        let step: Awaited<ReturnType<typeof reader.read>>;
        try {
          step = await reader.read();
        } catch (err) {
          throw fail(err, 'reading');
        }
        if (step.done) break;
        disarm();
        yield step.value;
      }
      closed = true;
    } finally {
      await close();
    }
  }
  disarm();
  return { response, chunks, close };
}

/** `fetch failed: other side closed` — undici hides the useful part in `cause`. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause.message : undefined;
  return (cause !== undefined && cause !== err.message ? `${err.message}: ${cause}` : err.message).toLowerCase();
}

/**
 * GETs a whole answer of at most `maxBytes` (an index, a Release file). A 404 or 410 returns undefined so the
 * caller can try another name; any other non-200 is SYNC_HTTP with the status.
 */
export async function getBytes(url: string, maxBytes: number, opts: RequestOptions): Promise<Uint8Array | undefined> {
  const req = await startRequest(url, opts);
  const where: SyncErrorContext = { ...opts.where, url };
  const status = req.response.status;
  if (status === 404 || status === 410) {
    await req.close();
    return undefined;
  }
  if (status !== 200) {
    await req.close();
    throw new SyncError(SyncErrorCode.Http, `${url} answered http ${status}`, { ...where, status });
  }
  const announced = Number(req.response.headers.get('content-length') ?? NaN);
  if (announced > maxBytes) {
    await req.close();
    throw new SyncError(SyncErrorCode.TooLarge, `${url} is ${announced} bytes, more than the ${maxBytes}-byte limit`, where);
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of req.chunks()) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      await req.close();
      throw new SyncError(SyncErrorCode.TooLarge, `${url} is more than the ${maxBytes}-byte limit`, where);
    }
    parts.push(chunk);
  }
  if (!Number.isNaN(announced) && total !== announced) {
    throw new SyncError(SyncErrorCode.Http, `${url} ended after ${total} of ${announced} bytes`, where);
  }
  return Buffer.concat(parts, total);
}
