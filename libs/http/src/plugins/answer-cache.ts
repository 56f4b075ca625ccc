import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Cache this route's 200 answers as serialized bytes, per URL, until the catalog changes. A function decides
     * per request: a route that answers some requests in another representation (a stream chosen by `Accept`)
     * says which requests the cached JSON may answer.
     */
    cacheAnswers?: boolean | ((request: FastifyRequest) => boolean);
  }
}

export interface AnswerCacheOptions {
  /** Most bytes of answers kept, plain and gzip together (default 64 MiB); the least recently used go first. */
  maxBytes?: number;
  /** Answers at least this long are also kept gzip-compressed for clients that accept it (default 1,024 bytes). */
  gzipMinBytes?: number;
}

interface Entry {
  version: number;
  /** Strong ETag of the plain answer; the gzip answer's is the same with `-gz` (another representation). */
  etag: string;
  body: Buffer;
  gzip: Buffer | undefined;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** Whether the request's Accept-Encoding allows gzip (`gzip`, `x-gzip` or `*`, without `q=0`). */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  const text = Array.isArray(header) ? header.join(',') : header;
  for (const part of text.split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

/** Whether If-None-Match names one of the entry's ETags (or `*`). */
function notModified(request: FastifyRequest, e: Entry): boolean {
  const inm = request.headers['if-none-match'];
  if (inm === undefined) return false;
  return inm.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === '*' || tag === e.etag || tag === gzEtag(e.etag);
  });
}

function gzEtag(etag: string): string {
  return `${etag.slice(0, -1)}-gz"`;
}

/** Sends a cached answer: gzip when accepted and worth it, 304 when the client has it. */
function sendEntry(request: FastifyRequest, reply: FastifyReply, e: Entry): FastifyReply {
  const gz = e.gzip !== undefined && acceptsGzip(request.headers['accept-encoding']);
  reply.header('vary', 'accept-encoding').header('etag', gz ? gzEtag(e.etag) : e.etag);
  if (notModified(request, e)) return reply.code(304).send();
  reply.type(JSON_TYPE);
  if (gz) reply.header('content-encoding', 'gzip');
  return reply.send(gz ? e.gzip : e.body);
}

/**
 * Read answers depend only on the URL and the catalog's contents, and a field history over 1,000 kernels is
 * 150 KB of JSON: computing and serializing it for every request caps a server at a few hundred requests a
 * second. This keeps the serialized answer of routes marked `config.cacheAnswers` as bytes, keyed by URL and
 * valid while `PRAGMA data_version` stands still (it moves when an ingest in another connection commits), plus
 * its gzip (JSON this repetitive shrinks 10-20x, and curl --compressed, Go's and Python's HTTP clients ask for
 * gzip by default); serves them with strong ETags and `Vary: Accept-Encoding`, and answers `If-None-Match` with 304.
 */
async function answerCache(app: FastifyInstance, opts: AnswerCacheOptions): Promise<void> {
  const maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  const gzipMin = opts.gzipMinBytes ?? 1024;
  const entries = new Map<string, Entry>();
  let bytes = 0;
  const version = (): number => app.catalog.sqlite.pragma('data_version', { simple: true }) as number;
  const sizeOf = (e: Entry): number => e.body.length + (e.gzip?.length ?? 0);

  const cacheable = (request: FastifyRequest): boolean => {
    const c = request.routeOptions.config.cacheAnswers;
    return request.method === 'GET' && (typeof c === 'function' ? c(request) : c === true);
  };

  app.addHook('onRequest', async (request, reply) => {
    if (!cacheable(request)) return;
    const hit = entries.get(request.url);
    if (!hit || hit.version !== version()) return;
    // Refresh its place as most recently used.
    entries.delete(request.url);
    entries.set(request.url, hit);
    reply.header('x-cache', 'hit');
    return sendEntry(request, reply, hit);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode !== 200 || !cacheable(request)) return payload;
    if (reply.getHeader('x-cache') === 'hit' || typeof payload !== 'string') return payload;
    const body = Buffer.from(payload, 'utf8');
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    const entry: Entry = { version: version(), etag, body, gzip: body.length >= gzipMin ? gzipSync(body, { level: 6 }) : undefined };
    const old = entries.get(request.url);
    if (old) bytes -= sizeOf(old);
    entries.delete(request.url);
    entries.set(request.url, entry);
    bytes += sizeOf(entry);
    for (const [key, e] of entries) {
      if (bytes <= maxBytes) break;
      entries.delete(key);
      bytes -= sizeOf(e);
    }
    reply.header('x-cache', 'miss').header('vary', 'accept-encoding');
    const gz = entry.gzip !== undefined && acceptsGzip(request.headers['accept-encoding']);
    reply.header('etag', gz ? gzEtag(etag) : etag);
    if (!gz) return body;
    reply.header('content-encoding', 'gzip');
    return entry.gzip;
  });
}

export default fp(answerCache, { name: 'btf-atlas-answer-cache', fastify: '5.x', dependencies: ['btf-atlas-catalog'] });
