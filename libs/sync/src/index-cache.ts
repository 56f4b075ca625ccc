import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PackageRecord } from './kernels.js';

/**
 * Remembers the kernel records of a Packages index by the index's SHA-256 (from the Release), so a repeated plan
 * of an unchanged suite costs one Release download: no index download, no decompression. Keys are
 * `v1-<sha256>`; bump the prefix when what the scanner keeps changes.
 */
export interface IndexCache {
  get(key: string): Promise<PackageRecord[] | undefined> | PackageRecord[] | undefined;
  set(key: string, records: PackageRecord[]): Promise<void> | void;
}

/** The cache key of an index file. */
export function indexCacheKey(sha256: string): string {
  return `v1-${sha256}`;
}

/** A cache in memory (a long-running worker). Keeps the `maxEntries` most recently stored indexes. */
export function memoryIndexCache(maxEntries = 64): IndexCache {
  const map = new Map<string, PackageRecord[]>();
  return {
    get: (key) => map.get(key),
    set: (key, records) => {
      map.delete(key);
      map.set(key, records);
      while (map.size > maxEntries) map.delete(map.keys().next().value as string);
    },
  };
}

const KEY = /^v\d+-[0-9a-f]{64}$/;

/**
 * A cache of JSON files in `dir` (created on first write), one per index, written to a temporary name and renamed.
 * A file that does not parse or has the wrong shape is a miss; write failures are ignored (a cache is optional).
 */
export function directoryIndexCache(dir: string): IndexCache {
  return {
    async get(key) {
      if (!KEY.test(key)) return undefined;
      let text: string;
      try {
        text = await readFile(join(dir, `${key}.json`), 'utf8');
      } catch {
        return undefined;
      }
      try {
        const data: unknown = JSON.parse(text);
        return Array.isArray(data) && data.every(isRecord) ? data : undefined;
      } catch {
        return undefined;
      }
    },
    async set(key, records) {
      if (!KEY.test(key)) return;
      try {
        await mkdir(dir, { recursive: true });
        const tmp = join(dir, `.${key}.${randomUUID()}.tmp`);
        await writeFile(tmp, JSON.stringify(records));
        await rename(tmp, join(dir, `${key}.json`));
      } catch {
        // A cache that cannot be written is a slower plan next time, not a failure.
      }
    },
  };
}

function isRecord(r: unknown): r is PackageRecord {
  if (typeof r !== 'object' || r === null) return false;
  const o = r as Record<string, unknown>;
  const optString = (v: unknown): boolean => v === undefined || typeof v === 'string';
  return (
    typeof o.package === 'string' &&
    typeof o.version === 'string' &&
    typeof o.architecture === 'string' &&
    optString(o.source) &&
    optString(o.filename) &&
    (o.size === undefined || (typeof o.size === 'number' && Number.isSafeInteger(o.size) && o.size >= 0)) &&
    optString(o.sha256) &&
    optString(o.depends) &&
    optString(o.provides) &&
    optString(o.description)
  );
}
