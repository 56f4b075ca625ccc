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

/**
 * Asks the API's own JSON route (in process, through fastify's inject: the same validation, cache, worker threads
 * and errors as a client gets), so every page shows exactly the answer its JSON link gives.
 */
export async function askApi<T>(app: FastifyInstance, url: string): Promise<ApiAnswer<T>> {
  const res = await app.inject({ method: 'GET', url, headers: { accept: 'application/json' } });
  const body = res.body === '' ? undefined : (JSON.parse(res.body) as unknown);
  if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, status: res.statusCode, body: body as T };
  return { ok: false, status: res.statusCode, problem: body as ApiProblem };
}

/** Route options of a page: left out of the OpenAPI description (@fastify/swagger's `hide`), which lists the JSON routes. */
export const PAGE_ROUTE = { schema: { hide: true } as FastifySchema };
