import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { openCatalog, type Catalog } from '@btf-atlas/catalog';

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
}

export default fp(catalogPlugin, { name: 'btf-atlas-catalog', fastify: '5.x' });
