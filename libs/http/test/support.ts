import { expect } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlobStore, jobDataOf, openCatalog, processIngest, scanPath, type IngestJobData } from '@btf-atlas/catalog';
import { BtfBuilder } from '../../btf/test/support/builder.js';

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

/** A tiny kernel BTF: `long int` and `struct pt_regs` (120 bytes) with `di` at byte 112. */
export function tinyKernelBtf(): Uint8Array {
  const b = new BtfBuilder();
  const long = b.int('long int', 8, 64, 1);
  b.struct('pt_regs', 120, [{ name: 'di', type: long, bitsOffset: 896 }]);
  return b.build();
}

/**
 * Writes each `[KREF, bytes]` as `DIR/archive/KREF.btf` and ingests them all into the catalog `DIR/atlas.db`;
 * inputs that are refused are recorded as failed ingests, as a real run records them. Returns the catalog path.
 */
export async function catalogOfFiles(dir: string, files: readonly (readonly [string, Uint8Array])[]): Promise<string> {
  for (const [kref, bytes] of files) {
    mkdirSync(join(dir, 'archive', kref, '..'), { recursive: true });
    writeFileSync(join(dir, 'archive', `${kref}.btf`), bytes);
  }
  const db = join(dir, 'atlas.db');
  const catalog = openCatalog(db);
  const blobs = BlobStore.forCatalog(db);
  try {
    for (const item of scanPath(join(dir, 'archive'))) await processIngest(jobDataOf(item), { catalog, blobs }).catch(() => undefined);
  } finally {
    catalog.close();
  }
  return db;
}
