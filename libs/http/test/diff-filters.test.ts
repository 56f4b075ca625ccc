import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobDataOf, openCatalog, scanPath } from '@btf-atlas/catalog';
import { diffKernels, filterDiff, parseDiffFilter, type DiffFilterInput, type KernelDiff } from '@btf-atlas/diff';
import { buildApp } from '../src/app.js';
import { wantsNdjson } from '../src/routes/diff.js';
import { ingestInto, problem } from './support.js';
import { AMBIGUOUS, ingestTinyKernels, KIND_COUNTS, TINY_NEW, TINY_OLD, TOTAL } from '../../diff/test/support/tiny-kernels.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const ARCHIVE = join(REPO, 'fixtures/corpus/archive');
const K47 = 'debian/12/x86_64/6.1.0-47-amd64';
const K50 = 'debian/12/x86_64/6.1.0-50-amd64';
const NDJSON = { accept: 'application/x-ndjson' };


let dir: string;
let db: string;
let app: FastifyInstance;
/** The tiny kernels' diff and the corpus pair's, as libs/diff computes them. */
let tiny: KernelDiff;
let corpus: KernelDiff;

type Json = Record<string, unknown> & { changes?: Record<string, unknown>[]; summary: Record<string, unknown> };

const tinyUrl = (query = ''): string => `/v1/diff?from=${TINY_OLD}&to=${TINY_NEW}${query}`;
const corpusUrl = (query = ''): string => `/v1/diff?from=${K47}&to=${K50}${query}`;

async function get(url: string, headers: Record<string, string> = {}) {
  return app.inject({ method: 'GET', url, headers });
}

/** The body of an NDJSON answer as lines, each checked to be one JSON text. */
function lines(body: string): { raw: string[]; parsed: Record<string, unknown>[] } {
  expect(body.endsWith('\n')).toBe(true);
  const raw = body.slice(0, -1).split('\n');
  return { raw, parsed: raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const brief = (changes: Record<string, unknown>[] | undefined): string[] =>
  (changes ?? []).map((c) => `${String(c.kind)} ${String(c.name)}${c.member !== undefined ? `.${String(c.member)}` : ''} ${String(c.change)} ${String(c.severity)}`);

/** What libs/diff shows for these filters, serialized as the API must (byte for byte). */
const expected = (d: KernelDiff, input: DiffFilterInput, summary = false): string => JSON.stringify(filterDiff(d, parseDiffFilter(input), { summary }));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-http-diff-'));
  db = join(dir, 'atlas.db');
  await ingestTinyKernels(dir, db);
  // The two 6.1 kernels of the corpus, vmlinux only: 1,500 changes, a few hundred KB of NDJSON.
  const items = scanPath(ARCHIVE).filter((i) => i.kref.release === '12' && i.kref.arch === 'x86_64');
  await ingestInto(db, items.map((i) => ({ ...jobDataOf(i), modules: [] })));
  const catalog = openCatalog(db);
  try {
    tiny = diffKernels(catalog, TINY_OLD, TINY_NEW);
    corpus = diffKernels(catalog, K47, K50);
  } finally {
    catalog.close();
  }
  app = await buildApp({ dbPath: db, adminToken: undefined });
  await app.ready();
}, 180_000);

afterAll(async () => {
  await app?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('GET /v1/diff filters', () => {
  it('without filters answers the whole diff as before, duplicate-named types added/removed', async () => {
    const res = await get(tinyUrl());
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toBe(JSON.stringify(tiny));
    const d = JSON.parse(res.body) as Json;
    expect(Object.keys(d)).toEqual(['from', 'to', 'changes', 'summary', 'ambiguous']);
    expect(d.summary).toEqual(TOTAL);
    expect(d.ambiguous).toEqual(AMBIGUOUS);
    expect(d.changes!.find((c) => c.name === 'dup_gone')).toMatchObject({ change: 'removed', before: { size: 4, count: 2, definitions: [{ size: 4 }, { size: 8 }] }, severity: 'breaking' });
    expect(d.changes!.find((c) => c.name === 'dup_new')).toMatchObject({ change: 'added', after: { size: 4, count: 2 }, severity: 'additive' });
  });

  it('severity= keeps those severities; summary counts them, summary.total the whole diff; filters echoed', async () => {
    const res = await get(tinyUrl('&severity=breaking'));
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(expected(tiny, { severity: 'breaking' }));
    const d = JSON.parse(res.body) as Json;
    expect(brief(d.changes)).toEqual([
      'func sk_alloc signature breaking',
      'func sk_gone removed breaking',
      'struct dup_gone removed breaking',
      'struct old_only removed breaking',
      'struct sock.sk_flags removed breaking',
      'struct task_struct.pid type breaking',
      'typedef sk_len_t type breaking',
    ]);
    expect(d.summary).toEqual({ breaking: 7, layout: 0, additive: 0, total: TOTAL });
    expect(d.ambiguous).toEqual(AMBIGUOUS);
    expect(d.filters).toEqual({ severity: ['breaking'] });
    expect(Object.keys(d)).toEqual(['from', 'to', 'changes', 'summary', 'ambiguous', 'filters']);
    const two = JSON.parse((await get(tinyUrl('&severity=additive,layout'))).body) as Json;
    expect(two.summary).toEqual({ breaking: 0, layout: 5, additive: 5, total: TOTAL });
    expect(two.filters).toEqual({ severity: ['layout', 'additive'] });
  });

  it('kind= and name= filter changes and not-compared names', async () => {
    const unions = JSON.parse((await get(tinyUrl('&kind=union'))).body) as Json;
    expect(brief(unions.changes)).toEqual(['union sk_addr size layout', 'union sk_addr.v6 added additive']);
    expect(unions.summary).toEqual({ breaking: 0, layout: 1, additive: 1, total: TOTAL });
    expect(unions.ambiguous).toEqual([]);

    const res = await get(tinyUrl('&name=dup_*'));
    expect(res.body).toBe(expected(tiny, { name: 'dup_*' }));
    const dup = JSON.parse(res.body) as Json;
    expect(brief(dup.changes)).toEqual(['struct dup_gone removed breaking', 'struct dup_new added additive']);
    expect(dup.summary).toEqual({ breaking: 1, layout: 0, additive: 1, total: TOTAL });
    expect(dup.ambiguous).toEqual(AMBIGUOUS);
    // Percent-encoded glob characters mean the same.
    expect((await get(tinyUrl('&name=dup_%2A'))).body).toBe(res.body);
    expect(brief((JSON.parse((await get(tinyUrl('&name=s%3Fc%3F'))).body) as Json).changes)).toEqual(['struct sock.sk_flags removed breaking']);
    expect(brief((JSON.parse((await get(tinyUrl('&name=task_struct'))).body) as Json).changes)).toEqual(['struct task_struct size layout', 'struct task_struct.pid type breaking']);
    expect(brief((JSON.parse((await get(tinyUrl('&name=%5B!s%5D*_*'))).body) as Json).changes)).toEqual([
      'struct dup_gone removed breaking', 'struct dup_new added additive', 'struct new_only added additive', 'struct old_only removed breaking',
      'struct task_struct size layout', 'struct task_struct.pid type breaking',
    ]);
  });

  it('combines filters', async () => {
    const res = await get(tinyUrl('&severity=layout,breaking&kind=union,struct&name=s?_*'));
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(expected(tiny, { severity: 'layout,breaking', kind: 'union,struct', name: 's?_*' }));
    const d = JSON.parse(res.body) as Json;
    expect(brief(d.changes)).toEqual(['struct sk_buff size layout', 'struct sk_buff.mark offset layout', 'union sk_addr size layout']);
    expect(d.summary).toEqual({ breaking: 0, layout: 3, additive: 0, total: TOTAL });
    expect(d.filters).toEqual({ severity: ['breaking', 'layout'], kind: ['struct', 'union'], name: 's?_*' });
    // On the corpus pair: the filtered answer is exactly the matching part of the whole one.
    const whole = JSON.parse((await get(corpusUrl())).body) as Json;
    const part = JSON.parse((await get(corpusUrl('&severity=breaking&kind=struct&name=*sock*'))).body) as Json;
    const want = whole.changes!.filter((c) => c.severity === 'breaking' && c.kind === 'struct' && String(c.name).includes('sock'));
    expect(want.length).toBeGreaterThan(0);
    expect(part.changes).toEqual(want);
    expect(part.summary).toEqual({ breaking: want.length, layout: 0, additive: 0, total: whole.summary });
  });

  it('summary=true answers the counts per severity and per kind, without changes', async () => {
    const res = await get(tinyUrl('&summary=true'));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toBe(expected(tiny, {}, true));
    expect(JSON.parse(res.body)).toEqual({
      from: TINY_OLD,
      to: TINY_NEW,
      summary: {
        ...TOTAL,
        kinds: KIND_COUNTS,
      },
      ambiguous: AMBIGUOUS,
    });
    const filtered = await get(tinyUrl('&summary=1&kind=func,typedef'));
    expect(filtered.body).toBe(expected(tiny, { kind: 'func,typedef' }, true));
    expect((JSON.parse(filtered.body) as Json).summary).toEqual({
      breaking: 3, layout: 0, additive: 0,
      kinds: {
        struct: { breaking: 0, layout: 0, additive: 0 },
        union: { breaking: 0, layout: 0, additive: 0 },
        enum: { breaking: 0, layout: 0, additive: 0 },
        func: { breaking: 2, layout: 0, additive: 0 },
        typedef: { breaking: 1, layout: 0, additive: 0 },
      },
      total: TOTAL,
    });
    expect((await get(tinyUrl('&summary=false'))).body).toBe(JSON.stringify(tiny));
  });

  it('400 problem+json naming the allowed values for a bad filter', async () => {
    const cases: [string, string][] = [
      ['&severity=fatal', 'query parameter "severity": "fatal" is not one of breaking, layout, additive'],
      ['&severity=', 'query parameter "severity": no value given: one or more of breaking, layout, additive, comma-separated'],
      ['&kind=class', 'query parameter "kind": "class" is not one of struct, union, enum, func, typedef'],
      ['&kind=struct,,union', 'query parameter "kind": empty item in "struct,,union": one or more of struct, union, enum, func, typedef, comma-separated'],
      ['&name=sk_%5Bab', 'query parameter "name": "sk_[ab" is not a usable glob: "[" without its "]"'],
      ['&summary=yes', 'query parameter "summary": "yes" is not one of true, false'],
    ];
    for (const [query, detail] of cases) {
      for (const headers of [{}, NDJSON]) {
        const p = problem(await get(tinyUrl(query), headers), 400, 'BAD_PARAMETER');
        expect(p.detail, query).toBe(detail);
      }
    }
    expect(problem(await get(tinyUrl('&severity=breaking&severity=layout')), 400, 'BAD_PARAMETER').detail).toMatch(/"severity"/);
    expect(problem(await get(tinyUrl('&sevrity=breaking')), 400, 'BAD_PARAMETER').detail).toMatch(/"sevrity" is not known/);
  });
});

describe('GET /v1/diff as NDJSON (Accept: application/x-ndjson)', () => {
  it('is a header line, one line per change equal to the JSON answer, then a summary line', async () => {
    const json = JSON.parse((await get(corpusUrl())).body) as Json;
    const res = await get(corpusUrl(), NDJSON);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
    expect(String(res.headers.vary)).toMatch(/\baccept\b/);
    const { raw, parsed } = lines(res.body);
    expect(raw.length).toBe(json.changes!.length + 2);
    expect(parsed[0]).toEqual({ from: K47, to: K50, filters: {} });
    expect(parsed.slice(1, -1)).toEqual(json.changes);
    // Byte for byte as the JSON answer writes each change.
    expect(raw.slice(1, -1)).toEqual(corpus.changes.map((c) => JSON.stringify(c)));
    expect(parsed.at(-1)).toEqual({ summary: json.summary, ambiguous: json.ambiguous });
  });

  it('carries the filters: header with them, the filtered changes, the filtered summary', async () => {
    const q = '&severity=breaking,layout&kind=struct&name=sk_*';
    const json = JSON.parse((await get(tinyUrl(q))).body) as Json;
    const { parsed } = lines((await get(tinyUrl(q), NDJSON)).body);
    expect(parsed).toEqual([
      { from: TINY_OLD, to: TINY_NEW, filters: { severity: ['breaking', 'layout'], kind: ['struct'], name: 'sk_*' } },
      ...json.changes!,
      { summary: { breaking: 0, layout: 2, additive: 0, total: TOTAL }, ambiguous: [] },
    ]);
    expect(brief(json.changes)).toEqual(['struct sk_buff size layout', 'struct sk_buff.mark offset layout']);
    const summary = lines((await get(tinyUrl('&summary=true&name=dup_*'), NDJSON)).body).parsed;
    expect(summary).toHaveLength(2);
    expect(summary[0]).toEqual({ from: TINY_OLD, to: TINY_NEW, filters: { name: 'dup_*' } });
    expect(summary[1]).toEqual({
      summary: {
        breaking: 1, layout: 0, additive: 1,
        kinds: {
          struct: { breaking: 1, layout: 0, additive: 1 },
          union: { breaking: 0, layout: 0, additive: 0 },
          enum: { breaking: 0, layout: 0, additive: 0 },
          func: { breaking: 0, layout: 0, additive: 0 },
          typedef: { breaking: 0, layout: 0, additive: 0 },
        },
        total: TOTAL,
      },
      ambiguous: AMBIGUOUS,
    });
  });

  it('is not mistaken for the cached JSON answer of the same URL, nor the other way round', async () => {
    const url = tinyUrl('&kind=enum');
    const first = await get(url);
    expect(first.headers['content-type']).toMatch(/^application\/json/);
    const again = await get(url);
    expect(again.headers['x-cache']).toBe('hit');
    expect(String(again.headers.vary)).toMatch(/\baccept\b/);
    const nd = await get(url, NDJSON);
    expect(nd.headers['content-type']).toMatch(/^application\/x-ndjson/);
    expect(nd.headers['x-cache']).toBeUndefined();
    expect(lines(nd.body).parsed).toHaveLength(4);
    const json = await get(url, { accept: 'application/json' });
    expect(json.headers['content-type']).toMatch(/^application\/json/);
    expect(json.body).toBe(first.body);
  });

  it('follows Accept: NDJSON only when preferred', async () => {
    expect(wantsNdjson(undefined)).toBe(false);
    expect(wantsNdjson('*/*')).toBe(false);
    expect(wantsNdjson('application/json')).toBe(false);
    expect(wantsNdjson('application/x-ndjson')).toBe(true);
    expect(wantsNdjson('application/ndjson')).toBe(true);
    expect(wantsNdjson('Application/X-NDJSON; charset=utf-8')).toBe(true);
    expect(wantsNdjson('application/json, application/x-ndjson;q=0.5')).toBe(false);
    expect(wantsNdjson('application/json;q=0.5, application/x-ndjson')).toBe(true);
    expect(wantsNdjson('application/x-ndjson;q=0')).toBe(false);
    const mixed = await get(tinyUrl(), { accept: 'application/json, application/x-ndjson;q=0.5' });
    expect(mixed.body).toBe(JSON.stringify(tiny));
    expect((await get(tinyUrl(), { accept: 'application/ndjson' })).headers['content-type']).toMatch(/^application\/x-ndjson/);
  });

  it('answers problem+json before streaming: 404 for an unknown kernel, 400 for a bad KREF', async () => {
    const p = problem(await get(`/v1/diff?from=${K47}&to=debian/12/x86_64/6.1.0-49-amd64`, NDJSON), 404, 'KERNEL_NOT_FOUND');
    expect(p.suggestions).toEqual(expect.arrayContaining([K50]));
    problem(await get(`/v1/diff?from=nope&to=${K50}`, NDJSON), 400, 'CATALOG_BAD_KREF');
    expect(problem(await get(`/v1/diff?from=${K47}`, NDJSON), 400, 'BAD_PARAMETER').detail).toMatch(/"to" is required/);
  });

  it('streams over a real connection: chunked, in several pieces, the header first', async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    expect(address).toContain(String(port));
    const got = await new Promise<{ headers: Record<string, unknown>; chunks: Buffer[] }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: corpusUrl(), headers: NDJSON }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ headers: res.headers, chunks }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    expect(got.headers['transfer-encoding']).toBe('chunked');
    expect(got.headers['content-length']).toBeUndefined();
    expect(got.chunks.length).toBeGreaterThan(1);
    const body = Buffer.concat(got.chunks).toString('utf8');
    expect(body.length).toBeGreaterThan(3 * 64 * 1024);
    expect(JSON.parse(body.slice(0, body.indexOf('\n')))).toEqual({ from: K47, to: K50, filters: {} });
    expect(lines(body).parsed.slice(1, -1)).toEqual(JSON.parse(JSON.stringify(corpus.changes)));
  });
});

describe('OpenAPI of GET /v1/diff', () => {
  it('describes the filters as query parameters, and one GET /v1/diff', async () => {
    const doc = JSON.parse((await get('/openapi.json')).body) as { paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; description?: string }>> };
    const params = (doc.paths['/v1/diff'].get.parameters ?? []).map((x) => `${x.in}:${x.name}`).sort();
    expect(params).toEqual(['query:from', 'query:kind', 'query:name', 'query:severity', 'query:summary', 'query:to']);
    expect(doc.paths['/v1/diff'].get.description).toMatch(/application\/x-ndjson/);
  });
});
