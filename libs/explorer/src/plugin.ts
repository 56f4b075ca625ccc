import type { FastifyInstance } from 'fastify';
import { registerAssets } from './assets.js';
import browsePages from './browse.js';
import comparePages from './compare.js';

/**
 * The web explorer: HTML pages at `/` and the deep links of the contract (`/fields/{path}`, `/types/{name}`,
 * `/funcs/{name}`, `/enums/{name}`, `/tracepoints/{name}`, `/diff`, `/kernels/…`, `/core`), rendered on the server
 * from the API's own JSON answers, plus `/assets/*`. Pages are hidden from the OpenAPI description (they are views
 * of routes it describes).
 */
export default async function explorer(app: FastifyInstance): Promise<void> {
  registerAssets(app);
  await app.register(browsePages);
  await app.register(comparePages);
}
