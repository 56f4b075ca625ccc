import { expect } from 'vitest';
import { BlobStore, openCatalog, processIngest, type IngestJobData } from '@btf-atlas/catalog';

/** A problem+json document as the tests read it (the route-specific extras optional). */
export interface ProblemDoc {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  suggestions?: string[];
  nearest?: unknown[];
  tried?: string[];
}

/** Asserts an `application/problem+json` answer with this status and code, and returns its document. */
export function problem(res: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, code: string): ProblemDoc {
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const p = JSON.parse(res.body) as ProblemDoc;
  expect(res.statusCode).toBe(status);
  expect(p).toMatchObject({ status, code });
  expect(typeof p.type).toBe('string');
  expect(typeof p.title).toBe('string');
  expect(typeof p.detail).toBe('string');
  return p;
}

/** Ingests jobs into the catalog file `db` in this process (as `btf-atlas ingest` without REDIS_URL), then closes it. */
export async function ingestInto(db: string, jobs: Iterable<IngestJobData>): Promise<void> {
  const catalog = openCatalog(db);
  try {
    const blobs = BlobStore.forCatalog(db);
    for (const data of jobs) await processIngest(data, { catalog, blobs });
  } finally {
    catalog.close();
  }
}
