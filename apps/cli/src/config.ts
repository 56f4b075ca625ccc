import { resolve } from 'node:path';

/** Where the catalog lives: `--db`, else BTF_ATLAS_DB, else ./data/atlas.db (contract). */
export function catalogPath(flag?: string): string {
  return resolve(flag ?? process.env.BTF_ATLAS_DB ?? './data/atlas.db');
}

/** REDIS_URL when set and not empty: jobs then go through the queue; unset, they run in-process. */
export function redisUrl(): string | undefined {
  const url = process.env.REDIS_URL;
  return url && url.trim() !== '' ? url.trim() : undefined;
}
