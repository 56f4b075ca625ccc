import { createReadStream } from 'node:fs';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { problemOf } from './errors.js';

/**
 * Serving immutable, content-addressed files over HTTP as a static file server does (RFC 9110): a strong ETag
 * (the sha256), `If-None-Match` → 304, one byte range (`Range` → 206, unsatisfiable → 416, `If-Range`
 * honoured), `HEAD`, long-lived caching, and the bytes streamed from disk.
 */

/** A file to serve: where it is, its sha256 (the strong validator) and size. */
export interface ServedFile {
  path: string;
  sha256: string;
  size: number;
}

/** What a `Range` header asks of a file of `size` bytes. */
export type RangeAnswer =
  /** Serve the whole file: no Range, one this server ignores (another unit, bad syntax), or several ranges. */
  | { kind: 'full' }
  /** Serve bytes `start`..`end` inclusive (206). */
  | { kind: 'partial'; start: number; end: number }
  /** Nothing of the file is in the range (416). */
  | { kind: 'unsatisfiable' };

const BYTE_RANGE = /^(\d*)-(\d*)$/;

/**
 * Reads a `Range` header (RFC 9110 §14.1.2, §14.2). One range is served (`bytes=a-b`, `a-`, `-n`; the last
 * position is clamped to the file); a header that is not a byte range, is malformed, or asks for several ranges
 * is ignored (the whole file, 200), as the RFC allows. A range starting at or past the end, or a zero-length
 * suffix, is unsatisfiable.
 */
export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return { kind: 'full' };
  const eq = header.indexOf('=');
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return { kind: 'full' };
  const specs = header.slice(eq + 1).split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length !== 1) return { kind: 'full' };
  const m = BYTE_RANGE.exec(specs[0]);
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'full' };
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? Infinity : Number(m[2]);
  if (last < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: Math.min(last, size - 1) };
}

/** The entity tags of an `If-None-Match` list (weak tags compared weakly, as RFC 9110 §13.1.2 says); `*` matches any. */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

/**
 * Sends a file with the validators and caching of an immutable, content-addressed resource. GET streams the
 * bytes (never reading the whole file into memory); HEAD answers the same headers without a body.
 */
export function sendFile(request: FastifyRequest, reply: FastifyReply, file: ServedFile, contentType: string): FastifyReply {
  const etag = `"${file.sha256}"`;
  reply
    .header('etag', etag)
    .header('cache-control', 'public, max-age=31536000, immutable')
    .header('accept-ranges', 'bytes');
  if (noneMatch(request.headers['if-none-match'], etag)) return reply.code(304).send();

  // Range is defined for GET only; If-Range with another validator (or a date: we send no Last-Modified) asks
  // for the whole, current file.
  const ifRange = request.headers['if-range'];
  const range = request.method === 'GET' && (ifRange === undefined || String(ifRange).trim() === etag)
    ? parseRange(request.headers.range, file.size)
    : { kind: 'full' as const };
  if (range.kind === 'unsatisfiable') {
    const problem = problemOf('RANGE_NOT_SATISFIABLE', `the range ${JSON.stringify(request.headers.range)} is outside the file's ${file.size} bytes`, {
      instance: request.url.split('?')[0],
      requestId: String(request.id),
    });
    // Not the file: no long-lived caching of this answer.
    reply.removeHeader('cache-control');
    return reply.code(416).header('content-range', `bytes */${file.size}`).type('application/problem+json').send(problem);
  }
  reply.type(contentType);
  const { start, end } = range.kind === 'partial' ? range : { start: 0, end: file.size - 1 };
  if (range.kind === 'partial') reply.code(206).header('content-range', `bytes ${start}-${end}/${file.size}`);
  reply.header('content-length', String(end - start + 1));
  if (request.method === 'HEAD' || end < start) return reply.send();
  return reply.send(createReadStream(file.path, { start, end }));
}
