import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { checkKernelFilter, listKernelStates, openCatalog, type Catalog, type KernelFilter } from '@btf-atlas/catalog';

declare module 'fastify' {
  interface FastifyInstance {
    /** The catalog, opened once at start-up (migrations applied), closed when the instance closes. */
    catalog: Catalog;
  }
}

export interface CatalogPluginOptions {
  /** The catalog file. */
  dbPath: string;
}

/** Opens the catalog once, decorates the instance with it, and closes it in `onClose` (after the server). */
async function catalogPlugin(app: FastifyInstance, opts: CatalogPluginOptions): Promise<void> {
  const catalog = openCatalog(opts.dbPath);
  app.decorate('catalog', catalog);
  app.addHook('onClose', async () => {
    if (catalog.sqlite.open) catalog.close();
  });
  app.log.info({ db: opts.dbPath }, 'catalog open');
  app.addHook('preHandler', async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return;
    const f = kernelFilterOf(request.query);
    if (f) checkKernelFilter(listKernelStates(catalog), f);
  });
}

/**
 * The kernel filter of a read's query (`?distro=&release=&arch=`, as the list and history routes take it), if it
 * has one. Such a filter that selects none of the catalog's kernels (ingested or failed) is answered 404
 * NO_MATCHING_KERNELS naming the values that exist (`?arch=x86-64`: `arches: x86_64, arm64`), before the route
 * runs, rather than an empty list; in an empty catalog it selects nothing without error.
 */
function kernelFilterOf(query: unknown): KernelFilter | undefined {
  if (typeof query !== 'object' || query === null) return undefined;
  const q = query as Record<string, unknown>;
  const f: KernelFilter = {};
  let any = false;
  for (const key of ['distro', 'release', 'arch'] as const) {
    if (typeof q[key] === 'string') {
      f[key] = q[key];
      any = true;
    }
  }
  return any ? f : undefined;
}

export default fp(catalogPlugin, { name: 'btf-atlas-catalog', fastify: '5.x' });
