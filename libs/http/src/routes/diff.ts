import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { chunked, DIFF_KINDS, DiffFilterError, ndjsonLines, parseDiffFilter, SEVERITIES, type DiffFilter, type DiffView } from '@btf-atlas/diff';
import { ApiError } from '../errors.js';
import { kernelDiffSchema, problems } from '../schemas.js';

const kref = { type: 'string', minLength: 1, maxLength: 512, description: 'KREF: DISTRO/RELEASE/ARCH/UNAME_R' } as const;

/** The media type of the streamed answer. */
export const NDJSON = 'application/x-ndjson';

/**
 * Whether an Accept header asks for NDJSON: `application/x-ndjson` (or `application/ndjson`) with a q above 0 and
 * at least the q of `application/json`. Anything else (none, `*\/*`, `application/json`) gets JSON.
 */
export function wantsNdjson(accept: string | string[] | undefined): boolean {
  if (accept === undefined) return false;
  let ndjson = 0;
  let json = 0;
  for (const part of (Array.isArray(accept) ? accept.join(',') : accept).split(',')) {
    const [type, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!(q > 0)) continue;
    if (type === NDJSON || type === 'application/ndjson') ndjson = Math.max(ndjson, q);
    else if (type === 'application/json') json = Math.max(json, q);
  }
  return ndjson > 0 && ndjson >= json;
}

interface DiffQuery {
  from: string;
  to: string;
  severity?: string;
  kind?: string;
  name?: string;
  summary?: string;
}

const querystring = {
  type: 'object',
  required: ['from', 'to'],
  additionalProperties: false,
  properties: {
    from: { ...kref, examples: ['debian/12/x86_64/6.1.0-47-amd64'] },
    to: { ...kref, examples: ['debian/12/x86_64/6.1.0-50-amd64'] },
    severity: { type: 'string', maxLength: 256, description: `only changes of these severities, comma-separated: ${SEVERITIES.join(', ')}`, examples: ['breaking,layout'] },
    kind: { type: 'string', maxLength: 256, description: `only types of these kinds, comma-separated: ${DIFF_KINDS.join(', ')}`, examples: ['struct,union'] },
    name: { type: 'string', maxLength: 256, description: 'only types whose name matches this shell glob (`*`, `?`, `[abc]`)', examples: ['sk_*'] },
    summary: { type: 'string', description: '`true`: only the counts, per severity and per kind (no `changes`)', examples: ['true'] },
  },
} as const;

/** The filters and summary flag of a request; 400 BAD_PARAMETER naming the allowed values when one is bad. */
function requestView(query: DiffQuery): { filter: DiffFilter; summary: boolean } {
  let filter: DiffFilter;
  try {
    filter = parseDiffFilter({ severity: query.severity, kind: query.kind, name: query.name });
  } catch (err) {
    if (err instanceof DiffFilterError) throw new ApiError('BAD_PARAMETER', `query parameter ${JSON.stringify(err.param)}: ${err.message}`);
    throw err;
  }
  const s = query.summary;
  if (s !== undefined && !['', 'true', '1', 'false', '0'].includes(s)) {
    throw new ApiError('BAD_PARAMETER', `query parameter "summary": ${JSON.stringify(s)} is not one of true, false`);
  }
  return { filter, summary: s === '' || s === 'true' || s === '1' };
}

/**
 * The answer of a request, computed on a worker thread (a diff of two big kernels is up to a second or two of
 * CPU): the diff with its filters applied, as JSON text, or as the view to stream. Bad parameters are refused
 * here first; errors come before any byte is sent.
 */
async function answer<A extends 'json' | 'view'>(app: FastifyInstance, request: FastifyRequest<{ Querystring: DiffQuery }>, as: A): Promise<A extends 'json' ? string : DiffView> {
  const { filter, summary } = requestView(request.query);
  const { from, to } = request.query;
  // Keyed by the pair: its next views (other filters, the counts) go to the thread that keeps its whole diff.
  const out = await app.work.run('diff', { from, to, filter, summary, as }, {}, `diff\n${from}\n${to}`);
  return out as A extends 'json' ? string : DiffView;
}

/** The answer depends on Accept too (JSON or NDJSON). */
async function varyOnAccept(_request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  const vary = reply.getHeader('vary');
  if (vary === undefined) reply.header('vary', 'accept');
  else if (!/\baccept\b(?!-)/i.test(String(vary))) reply.header('vary', `${String(vary)}, accept`);
  return payload;
}

/**
 * `GET /v1/diff?from=KREF&to=KREF[&severity=][&kind=][&name=][&summary=true]`: every layout change between two
 * kernels, classified (as `diff --json`), filtered; as NDJSON, streamed, for `Accept: application/x-ndjson`.
 */
export default async function diffRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Querystring: DiffQuery }>('/v1/diff', {
    // The JSON answer is cached per URL; the NDJSON one is streamed as it is written, never cached.
    config: { cacheAnswers: (request) => !wantsNdjson(request.headers.accept) },
    onSend: varyOnAccept,
    schema: {
      summary: 'every layout change between two kernels, classified (as `btf-atlas diff KREF_A KREF_B --json`)',
      description:
        'Filters: `severity`, `kind` (comma-separated lists), `name` (shell glob on the type name). With a filter, `summary` ' +
        'counts the changes shown and `summary.total` the whole diff, and `filters` echoes the filters. `summary=true`: no ' +
        '`changes`, and `summary.kinds` counts per kind. `Accept: application/x-ndjson` streams the answer as NDJSON: a ' +
        'header line `{"from","to","filters"}`, one line per change (as in `changes`), then `{"summary","ambiguous"}`.',
      tags: ['catalog'],
      querystring,
      response: { 200: kernelDiffSchema, ...problems(400, 404, 503) },
    },
  }, async (request, reply) => {
    if (wantsNdjson(request.headers.accept)) {
      const view = await answer(app, request, 'view');
      reply.type(`${NDJSON}; charset=utf-8`);
      return reply.send(Readable.from(chunked(ndjsonLines(view)), { objectMode: false, highWaterMark: 64 * 1024 }));
    }
    // Serialized on the thread too, in the answer's key order (kernelDiffSchema, or kernelDiffSummarySchema for
    // summary=true: the same keys as the view, in the view's order).
    return reply.type('application/json; charset=utf-8').send(await answer(app, request, 'json'));
  });
}
