import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, createReadStream, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

/** sha256 of bytes, hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Content-addressed store of the original input files (the archive as ingested), so the archive can be served
 * byte for byte after its source tree is gone. Files live at `DIR/ab/abcdef….` and are written atomically
 * (temp file + rename) before the catalog transaction that refers to them commits; a blob left behind by a
 * failed ingest is harmless (nothing points at it) and is reused by the next try.
 */
export class BlobStore {
  constructor(readonly dir: string) {}

  /** The default store for a catalog file: `<db>.blobs/` beside it. */
  static forCatalog(dbPath: string): BlobStore {
    return new BlobStore(`${dbPath}.blobs`);
  }

  pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return join(this.dir, sha256.slice(0, 2), sha256);
  }

  has(sha256: string): boolean {
    return existsSync(this.pathOf(sha256));
  }

  /** Stores bytes; returns their sha256. */
  put(bytes: Uint8Array, sha256 = sha256Hex(bytes)): string {
    const path = this.pathOf(sha256);
    if (existsSync(path)) return sha256;
    mkdirSync(join(this.dir, sha256.slice(0, 2)), { recursive: true });
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(tmp, bytes, { mode: 0o444 });
    renameSync(tmp, path);
    return sha256;
  }

  get(sha256: string): Buffer {
    return readFileSync(this.pathOf(sha256));
  }

  size(sha256: string): number {
    return statSync(this.pathOf(sha256)).size;
  }

  stream(sha256: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.pathOf(sha256), range);
  }
}
