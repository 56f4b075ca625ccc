import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { CliError } from './errors.js';

/** Where the catalog lives: `--db`, else BTF_ATLAS_DB, else ./data/atlas.db (contract). */
export function catalogPath(flag?: string): string {
  return resolve(flag ?? process.env.BTF_ATLAS_DB ?? './data/atlas.db');
}

/** REDIS_URL when set and not empty: jobs then go through the queue; unset, they run in-process. */
export function redisUrl(): string | undefined {
  const url = process.env.REDIS_URL;
  return url && url.trim() !== '' ? url.trim() : undefined;
}

/**
 * The catalog file of a read command (`kernels`, `field`, `type`, `diff`, `failures`): it must exist already.
 * Reading never creates a catalog (an empty one in the current folder would only answer "not found").
 */
export function existingCatalogPath(flag?: string): string {
  const path = catalogPath(flag);
  if (!existsSync(path)) {
    throw new CliError(`no catalog at ${path}: ingest kernels first (btf-atlas ingest PATH), or point --db / BTF_ATLAS_DB at one`, 'CATALOG_MISSING');
  }
  return path;
}
