import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { problem } from './support.js';

const TOKEN = 'root-auth-test-token-0123';

let dir: string;
/** An app with the admin token configured, and one without; both over an empty catalog. */
let on: FastifyInstance;
let off: FastifyInstance;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-root-auth-'));
  const db = join(dir, 'atlas.db');
  on = await buildApp({ dbPath: db, adminToken: TOKEN });
  off = await buildApp({ dbPath: db, adminToken: undefined });
  for (const app of [on, off]) {
    app.post('/test/write', { preHandler: app.requireAdmin }, async () => ({ ok: true }));
    await app.ready();
  }
});

afterAll(async () => {
  await on?.close();
  await off?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('GET /', () => {
  it('is the web explorer\'s start page, with the search form; /docs still describes the API', async () => {
    for (const method of ['GET', 'HEAD'] as const) {
      const res = await on.inject({ method, url: '/' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html; charset=utf-8/);
      if (method === 'GET') expect(res.body).toMatch(/<form class="search" role="search" action="\/search" method="get"[ >]/);
    }
    const docs = await on.inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.headers['content-type']).toMatch(/^text\/html/);
  });

  it('pages are left out of the OpenAPI document, which describes the JSON routes they show', async () => {
    const doc = JSON.parse((await on.inject({ method: 'GET', url: '/openapi.json' })).body) as { paths: Record<string, unknown> };
    expect(doc.paths['/']).toBeUndefined();
    expect(doc.paths['/v1/search']).toBeDefined();
  });
});

describe('write routes: 403 while no token is configured, 401 with a challenge without the right one', () => {
  const write = (app: FastifyInstance, authorization?: string) =>
    app.inject({ method: 'POST', url: '/test/write', headers: authorization === undefined ? {} : { authorization } });

  it('no BTF_ATLAS_ADMIN_TOKEN: 403 WRITE_ROUTES_DISABLED whatever the request sends', async () => {
    for (const auth of [undefined, 'Bearer anything-at-all', `Bearer ${TOKEN}`, 'Basic dXNlcjpwYXNz']) {
      const res = await write(off, auth);
      const p = problem(res, 403, 'WRITE_ROUTES_DISABLED');
      expect(p.detail).toMatch(/write routes are disabled until .*BTF_ATLAS_ADMIN_TOKEN is set/);
      expect(res.headers['www-authenticate']).toBeUndefined();
    }
  });

  it('a token configured, none sent: 401 ADMIN_TOKEN_MISSING with WWW-Authenticate: Bearer', async () => {
    for (const auth of [undefined, '', 'Basic dXNlcjpwYXNz', 'Bearer']) {
      const res = await write(on, auth);
      problem(res, 401, 'ADMIN_TOKEN_MISSING');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
    }
  });

  it('a token configured, another sent: 401 ADMIN_TOKEN_INVALID with WWW-Authenticate: Bearer error="invalid_token"', async () => {
    for (const auth of ['Bearer wrong', `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`]) {
      const res = await write(on, auth);
      problem(res, 401, 'ADMIN_TOKEN_INVALID');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer\b.*error="invalid_token"/);
    }
  });

  it('the right token passes', async () => {
    const res = await write(on, `Bearer ${TOKEN}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['www-authenticate']).toBeUndefined();
  });

  it('the real write routes answer so too', async () => {
    problem(await off.inject({ method: 'POST', url: '/v1/sync', payload: { distro: 'debian', suites: ['sid'], archs: ['amd64'] } }), 403, 'WRITE_ROUTES_DISABLED');
    const res = await on.inject({ method: 'POST', url: '/v1/ingest', headers: { 'content-type': 'application/json' }, payload: { path: 'x' } });
    problem(res, 401, 'ADMIN_TOKEN_MISSING');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
  });
});

describe('filters of an empty catalog', () => {
  it('answer no kernels, not an error', async () => {
    for (const url of ['/v1/kernels', '/v1/kernels?arch=x86-64', '/v1/kernels?distro=debian&release=12&arch=x86_64']) {
      const res = await on.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ kernels: [] });
    }
  });
});
