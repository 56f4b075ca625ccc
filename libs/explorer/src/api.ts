import type { FastifyInstance, FastifySchema } from 'fastify';

/** A problem+json answer of the API (`type`, `title`, `status`, `detail`, and what the route adds, e.g. suggestions). */
export interface ApiProblem {
  type: string;
  title: string;
  status: number;
  detail: string;
  [key: string]: unknown;
}

export type ApiAnswer<T> = { ok: true; status: number; body: T } | { ok: false; status: number; problem: ApiProblem };

/** A request to the API other than a plain GET of JSON. */
export interface AskOptions {
  method?: 'GET' | 'POST';
  /** A JSON body (POST). */
  payload?: unknown;
}

/**
 * Asks the API's own JSON route (in process, through fastify's inject: the same validation, cache, worker threads
 * and errors as a client gets), so every page shows exactly the answer its JSON link gives.
 */
export async function askApi<T>(app: FastifyInstance, url: string, opts: AskOptions = {}): Promise<ApiAnswer<T>> {
  const res = await app.inject({
    method: opts.method ?? 'GET',
    url,
    headers: { accept: 'application/json', ...(opts.payload === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(opts.payload === undefined ? {} : { payload: JSON.stringify(opts.payload) }),
  });
  return answerOf<T>(res.statusCode, res.body, (body) => JSON.parse(body) as T);
}

/** The same for a route answering `text/plain` (pahole's text of a type): the text, or the problem. */
export async function askApiText(app: FastifyInstance, url: string): Promise<ApiAnswer<string>> {
  const res = await app.inject({ method: 'GET', url, headers: { accept: 'text/plain, application/problem+json' } });
  return answerOf(res.statusCode, res.body, (body) => body);
}

function answerOf<T>(status: number, body: string, read: (body: string) => T): ApiAnswer<T> {
  if (status >= 200 && status < 300) return { ok: true, status, body: read(body) };
  let problem: ApiProblem;
  try {
    problem = JSON.parse(body) as ApiProblem;
  } catch {
    problem = { type: 'about:blank', title: 'Error', status, detail: body.slice(0, 500) };
  }
  return { ok: false, status, problem };
}

/** Route options of a page: left out of the OpenAPI description (@fastify/swagger's `hide`), which lists the JSON routes. */
export const PAGE_ROUTE = { schema: { hide: true } as FastifySchema };

// The parts of the API's answers the pages read (docs/CONTRACT.md has the whole shapes).

/** Consecutive kernels of a timeline line with one value. */
export interface TimelineSpan<V> {
  first: string;
  last: string;
  count: number;
  value: V;
}

/** One arch and one flavour of a history's timeline, across every distro and release, in kernel version order. */
export interface TimelineLine<V> {
  arch: string;
  flavour: string;
  main: boolean;
  kernels: number;
  spans: TimelineSpan<V>[];
  compared_with_main?: number;
  differs_from_main?: (TimelineSpan<V> & { main_value: V })[];
}

/** A change between neighbouring kernels of one series (`changes` of every history answer). */
export interface SeriesChange {
  from: string;
  to: string;
  series: string;
  what: string;
  member?: string;
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
  probable_rename?: string;
}

/** A kernel of `GET /v1/kernels`. */
export interface KernelRow {
  kernel: string;
  distro: string;
  release: string;
  arch: string;
  uname_r: string;
  btf_sha256: string | null;
  types: number | null;
  pointer_size?: number | null;
  byte_order?: string | null;
  state?: string;
  [key: string]: unknown;
}
