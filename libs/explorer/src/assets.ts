import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { PAGE_ROUTE } from './api.js';

const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** The folder of the explorer's static files (beside `src/` and `dist/`, so tests and builds find the same one). */
export const ASSETS_DIR = new URL('../assets/', import.meta.url);

/**
 * `GET /assets/NAME`: the explorer's own stylesheets and scripts, read once at start-up (a few KB; no file system
 * access per request, and no name from the request ever reaches the file system). ETag and a short max-age.
 */
export function registerAssets(app: FastifyInstance): void {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(ASSETS_DIR)) {
    const type = TYPES[extname(name)];
    if (type === undefined) continue;
    const body = readFileSync(new URL(name, ASSETS_DIR));
    assets.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"` });
  }
  app.get<{ Params: { name: string } }>('/assets/:name', PAGE_ROUTE, async (request, reply) => {
    const asset = assets.get(request.params.name);
    if (asset === undefined) return reply.code(404).type('text/plain; charset=utf-8').send('no such asset\n');
    reply.header('etag', asset.etag).header('cache-control', 'public, max-age=300');
    if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    return reply.type(asset.type).send(asset.body);
  });
}
