import type { FastifyInstance } from 'fastify';
import { askApi, PAGE_ROUTE, type ApiAnswer, type ApiProblem, type KernelRow } from './api.js';
import { diffApiUrl, diffFormPage, diffPage, type DiffAnswer, type DiffFilters, type DiffSummaryAnswer } from './pages/diff.js';
import { bodyOr, listParam, oneParam, pageProblem, sendHtml, sendProblem, type QueryValues } from './pages/parts.js';
import { registerKindPages } from './pages/kinds.js';
import { registerCorePages } from './pages/core.js';

/** The page number of `?page=` (from 1); undefined when it is not a positive integer. */
function pageNumber(text: string | undefined): number | undefined {
  if (text === undefined) return 1;
  return /^[1-9][0-9]{0,8}$/.test(text) ? Number(text) : undefined;
}

/** Diff answers kept parsed: the few largest recent ones (a 30,000-change answer is ~9 MB of JSON to parse). */
const KEPT_DIFFS = 2;
/** Smaller answers are parsed again each time (cheap), so what is kept is only what paging needs. */
const KEEP_FROM_CHANGES = 1000;

/**
 * Asks `GET /v1/diff` for pages 2, 3… of the same view without parsing its answer again: the parsed answer is kept
 * with its ETag, and the API's answer cache answers `If-None-Match` with 304 while the catalog has not changed
 * (when it has, the new answer comes, and replaces the kept one).
 */
function diffAsker(app: FastifyInstance): (url: string) => Promise<ApiAnswer<DiffAnswer>> {
  const kept = new Map<string, { etag: string; body: DiffAnswer }>();
  return async (url) => {
    const held = kept.get(url);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (held) headers['if-none-match'] = held.etag;
    const res = await app.inject({ method: 'GET', url, headers });
    if (res.statusCode === 304 && held) {
      kept.delete(url);
      kept.set(url, held);
      return { ok: true, status: 200, body: held.body };
    }
    if (res.statusCode !== 200) {
      let problem: ApiProblem;
      try {
        problem = JSON.parse(res.body) as ApiProblem;
      } catch {
        problem = { type: 'about:blank', title: 'Error', status: res.statusCode, detail: res.body.slice(0, 500) };
      }
      return { ok: false, status: res.statusCode, problem };
    }
    const answer = JSON.parse(res.body) as DiffAnswer;
    const etag = res.headers.etag;
    kept.delete(url);
    if (typeof etag === 'string' && answer.changes.length >= KEEP_FROM_CHANGES) {
      kept.set(url, { etag, body: answer });
      for (const k of kept.keys()) {
        if (kept.size <= KEPT_DIFFS) break;
        kept.delete(k);
      }
    }
    return { ok: true, status: 200, body: answer };
  };
}

/**
 * Pages that compare: the diff of two kernels, function, enum and tracepoint histories, and the CO-RE dry run.
 * Each renders the API's own answers (askApi), so its JSON link gives what it shows.
 */
export default async function comparePages(app: FastifyInstance): Promise<void> {
  const askDiff = diffAsker(app);
  // `/diff?from&to&severity&kind&name&page`. `GET /v1/diff` filters but does not page, so the page asks it for the
  // filtered answer (cached by the API per URL, and kept parsed here: the next page is a 304) and shows one slice.
  app.get<{ Querystring: QueryValues }>('/diff', PAGE_ROUTE, async (request, reply) => {
    const q = request.query;
    const from = oneParam(q, 'from');
    const to = oneParam(q, 'to');
    if (from === undefined || to === undefined) {
      const kernels = bodyOr(reply, await askApi<{ kernels: KernelRow[] }>(app, '/v1/kernels'));
      if (kernels === undefined) return reply;
      return sendHtml(reply, diffFormPage(kernels.kernels, from, to));
    }
    const pageNo = pageNumber(oneParam(q, 'page'));
    if (pageNo === undefined) {
      return sendProblem(reply, pageProblem(400, 'Bad parameter', `query parameter "page": ${JSON.stringify(oneParam(q, 'page'))} is not a page number (1, 2, …)`));
    }
    const filters: DiffFilters = { severity: listParam(q, 'severity'), kind: listParam(q, 'kind'), name: oneParam(q, 'name') };
    // The filtered answer first: its problems name a bad filter; the whole diff's counts come from the summary.
    const [shown, whole] = await Promise.all([
      askDiff(diffApiUrl(from, to, filters)),
      askApi<DiffSummaryAnswer>(app, diffApiUrl(from, to, {}, true)),
    ]);
    const shownBody = bodyOr(reply, shown);
    if (shownBody === undefined) return reply;
    const wholeBody = bodyOr(reply, whole);
    if (wholeBody === undefined) return reply;
    return sendHtml(reply, diffPage(wholeBody, shownBody, { filters, page: pageNo }));
  });

  registerKindPages(app);
  await registerCorePages(app);
}
