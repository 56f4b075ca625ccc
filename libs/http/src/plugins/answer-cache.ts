import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

/** gzip on libuv's thread pool: a big answer is not compressed on the event loop. */
const gzipAsync = promisify(gzip);
import fp from 'fastify-plugin';
import { catalogVersion } from '@btf-atlas/catalog';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Cache this route's 200 answers as serialized bytes, per normalized request, until the catalog changes. A function decides
     * per request: a route that answers some requests in another representation (a stream chosen by `Accept`)
     * says which requests the cached JSON may answer.
     */
    cacheAnswers?: boolean | ((request: FastifyRequest) => boolean);
  }
  interface FastifyInstance {
    /** The answer cache's size now: entries, bytes counted (keys, bodies, overhead) and the cap. */
    answerCacheStats: () => { entries: number; bytes: number; maxBytes: number };
  }
}

export interface AnswerCacheOptions {
  /**
   * Most bytes kept (default 64 MiB), the least recently used going first: answers plain and gzip, their keys,
   * and {@link ENTRY_OVERHEAD} per entry, so a flood of tiny answers is bounded as well as a few big ones.
   */
  maxBytes?: number;
  /** Answers at least this long are also kept gzip-compressed for clients that accept it (default 1,024 bytes). */
  gzipMinBytes?: number;
}

interface Entry {
  version: string;
  /** Strong ETag of the plain answer; the gzip answer's is the same with `-gz` (another representation). */
  etag: string;
  body: Buffer;
  gzip: Buffer | undefined;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Bytes counted per cache entry besides its key and bodies: the Map slot, the entry object, its ETag string and
 * two Buffer objects (measured on Node 20: about 400 bytes; counted generously).
 */
export const ENTRY_OVERHEAD = 512;

/** The known query parameters of a route: the properties of its querystring schema. */
function knownParams(request: FastifyRequest): ReadonlySet<string> {
  const schema = request.routeOptions.schema?.querystring as { properties?: Record<string, unknown> } | undefined;
  return new Set(Object.keys(schema?.properties ?? {}));
}

const knownByRoute = new WeakMap<object, ReadonlySet<string>>();

/**
 * The cache key of a request: what the answer depends on, normalized. The route, its path parameters as the
 * router decoded them (`/v1/fields/%70t_regs.di` is `pt_regs.di`), and the query parameters the route knows,
 * decoded and sorted by name (`?b=1&a=2` is `?a=2&b=1`). Undefined (not cached, not looked up) when the query
 * has a parameter the route does not know, or one given twice: the route's schema refuses those with 400, and
 * the cache must not answer them from an entry of a valid request.
 */
export function cacheKeyOf(request: FastifyRequest): string | undefined {
  const schema = request.routeOptions.schema ?? {};
  let known = knownByRoute.get(schema);
  if (!known) {
    known = knownParams(request);
    knownByRoute.set(schema, known);
  }
  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(request.query as Record<string, unknown>)) {
    if (typeof value !== 'string' || !known.has(name)) return undefined;
    pairs.push([name, value]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const params = Object.entries(request.params as Record<string, string>);
  return JSON.stringify([request.method, request.routeOptions.url, params, pairs]);
}

/** A copy of the text in a buffer of its own: a small Buffer.from() is a slice of a shared 8 KiB slab it would pin. */
function ownBuffer(text: string): Buffer {
  const out = Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'utf8'));
  out.write(text, 'utf8');
  return out;
}

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
 * Read answers depend only on the request and the catalog's contents, and a field history over 1,000 kernels is
 * 150 KB of JSON: computing and serializing it for every request caps a server at a few hundred requests a
 * second. This keeps the serialized answer of routes marked `config.cacheAnswers` as bytes, keyed by the
 * normalized request ({@link cacheKeyOf}: re-encoding a character or reordering parameters finds the same entry)
 * and valid while `PRAGMA data_version` stands still (it moves when an ingest in another connection commits),
 * plus its gzip (JSON this repetitive shrinks 10-20x, and curl --compressed, Go's and Python's HTTP clients ask for
 * gzip by default); serves them with strong ETags and `Vary: Accept-Encoding`, and answers `If-None-Match` with 304.
 */
async function answerCache(app: FastifyInstance, opts: AnswerCacheOptions): Promise<void> {
  const maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  const gzipMin = opts.gzipMinBytes ?? 1024;
  const entries = new Map<string, Entry>();
  let bytes = 0;
  const version = (): string => catalogVersion(app.catalog);
  const sizeOf = (key: string, e: Entry): number => key.length * 2 + e.body.length + (e.gzip?.length ?? 0) + ENTRY_OVERHEAD;
  /** The key of each request the cache handles, computed once in onRequest. */
  const keys = new WeakMap<FastifyRequest, string>();

  const cacheable = (request: FastifyRequest): boolean => {
    const c = request.routeOptions.config.cacheAnswers;
    return request.method === 'GET' && (typeof c === 'function' ? c(request) : c === true);
  };

  app.decorate('answerCacheStats', () => ({ entries: entries.size, bytes, maxBytes }));

  app.addHook('onRequest', async (request, reply) => {
    if (!cacheable(request)) return;
    const key = cacheKeyOf(request);
    if (key === undefined) return;
    keys.set(request, key);
    const hit = entries.get(key);
    if (!hit || hit.version !== version()) return;
    // Refresh its place as most recently used.
    entries.delete(key);
    entries.set(key, hit);
    reply.header('x-cache', 'hit');
    return sendEntry(request, reply, hit);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const key = keys.get(request);
    if (key === undefined || reply.statusCode !== 200 || !cacheable(request)) return payload;
    if (reply.getHeader('x-cache') === 'hit' || typeof payload !== 'string') return payload;
    const body = ownBuffer(payload);
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    const entry: Entry = { version: version(), etag, body, gzip: body.length >= gzipMin ? await gzipAsync(body, { level: 6 }) : undefined };
    const old = entries.get(key);
    if (old) bytes -= sizeOf(key, old);
    entries.delete(key);
    const size = sizeOf(key, entry);
    // An answer bigger than the whole cache is served, not kept.
    if (size <= maxBytes) {
      entries.set(key, entry);
      bytes += size;
      for (const [k, e] of entries) {
        if (bytes <= maxBytes) break;
        entries.delete(k);
        bytes -= sizeOf(k, e);
      }
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
