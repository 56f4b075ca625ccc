import { createHash } from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Cache this route's 200 answers as serialized bytes, per URL, until the catalog changes. */
    cacheAnswers?: boolean;
  }
}

export interface AnswerCacheOptions {
  /** Most bytes of answers kept (default 64 MiB); the oldest go first. */
  maxBytes?: number;
}

interface Entry {
  version: number;
  etag: string;
  body: string;
}

/**
 * Read answers depend only on the URL and the catalog's contents, and a field history over 1,000 kernels is
 * 150 KB of JSON: computing and serializing it for every request caps a server at a few hundred requests a
 * second. This keeps the serialized answer of routes marked `config.cacheAnswers`, keyed by URL and valid while
 * `PRAGMA data_version` stands still (it moves when an ingest in another process commits), serves it with a
 * strong ETag, and answers `If-None-Match` with 304.
 */
async function answerCache(app: FastifyInstance, opts: AnswerCacheOptions): Promise<void> {
  const maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  const entries = new Map<string, Entry>();
  let bytes = 0;
  const version = (): number => app.catalog.sqlite.pragma('data_version', { simple: true }) as number;

  app.addHook('onRequest', async (request, reply) => {
    if (request.method !== 'GET' || !request.routeOptions.config.cacheAnswers) return;
    const hit = entries.get(request.url);
    if (!hit || hit.version !== version()) return;
    // Refresh its place as most recently used.
    entries.delete(request.url);
    entries.set(request.url, hit);
    reply.header('etag', hit.etag).header('x-cache', 'hit');
    if (request.headers['if-none-match'] === hit.etag) return reply.code(304).send();
    return reply.type('application/json; charset=utf-8').send(hit.body);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    if (request.method !== 'GET' || reply.statusCode !== 200 || !request.routeOptions.config.cacheAnswers) return payload;
    if (reply.getHeader('x-cache') === 'hit' || typeof payload !== 'string') return payload;
    const etag = `"${createHash('sha256').update(payload).digest('base64url').slice(0, 27)}"`;
    const old = entries.get(request.url);
    if (old) bytes -= old.body.length;
    entries.delete(request.url);
    entries.set(request.url, { version: version(), etag, body: payload });
    bytes += payload.length;
    for (const [key, e] of entries) {
      if (bytes <= maxBytes) break;
      entries.delete(key);
      bytes -= e.body.length;
    }
    reply.header('etag', etag).header('x-cache', 'miss');
    return payload;
  });
}

export default fp(answerCache, { name: 'btf-atlas-answer-cache', fastify: '5.x', dependencies: ['btf-atlas-catalog'] });
