import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeFileSync, createReadStream, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Catalog } from './db.js';
import { formatKref, parseKref } from './kernel-ref.js';

/** A reusable read buffer for {@link BlobStore.readInto}: one per loop, never shared between live results. */
export interface BlobScratch {
  buffer?: Buffer;
}

/** sha256 of bytes, hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Content-addressed store of the original input files (the archive as ingested), so the archive can be served
 * byte for byte after its source tree is gone. Files live at `DIR/ab/abcdef….` and are written atomically
 * (temp file + rename) before the catalog transaction that refers to them commits. A blob no kernel refers to
 * is removed by `btf-atlas gc` (gc.ts) once it is older than a grace period, and after a failed job; storing bytes
 * that are already there refreshes the file's mtime, so a blob an ingest is about to refer to is never old.
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
    if (existsSync(path)) {
      // Reused by this write: young again, so gc's grace period covers the transaction that will refer to it.
      try {
        const now = new Date();
        utimesSync(path, now, now);
      } catch {
        // A read-only store: nothing to protect from gc there either.
      }
      return sha256;
    }
    mkdirSync(join(this.dir, sha256.slice(0, 2)), { recursive: true });
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(tmp, bytes, { mode: 0o444 });
    renameSync(tmp, path);
    return sha256;
  }

  get(sha256: string): Buffer {
    return readFileSync(this.pathOf(sha256));
  }

  /**
   * A blob read into `scratch` (its buffer grown when too small) rather than into fresh memory: the view returned
   * is valid until the next read into the same scratch. For loops that read many large blobs one at a time and
   * drop each before the next (a dry run over a thousand kernels' BTF): fresh memory per read costs a page fault
   * per 4 KiB, as much as the read itself.
   */
  readInto(sha256: string, scratch: BlobScratch): Uint8Array {
    const fd = openSync(this.pathOf(sha256), 'r');
    try {
      const size = fstatSync(fd).size;
      if (!scratch.buffer || scratch.buffer.length < size) scratch.buffer = Buffer.allocUnsafeSlow(Math.max(size, 2 * (scratch.buffer?.length ?? 0)));
      let at = 0;
      while (at < size) {
        const n = readSync(fd, scratch.buffer, at, size - at, at);
        if (n === 0) break;
        at += n;
      }
      return scratch.buffer.subarray(0, at);
    } finally {
      closeSync(fd);
    }
  }

  size(sha256: string): number {
    return statSync(this.pathOf(sha256)).size;
  }

  stream(sha256: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.pathOf(sha256), range);
  }
}

/** What the catalog holds of a kernel an upload names, checked before the upload is stored. */
export interface UploadTarget {
  /** The KREF, as the catalog spells it. */
  kernel: string;
  /** The kernel's row when the catalog has it. */
  existing?: { sourceSha256: string; btfSha256: string };
  replace: boolean;
}

/**
 * The checks an upload of BTF for `kernel` can pass before its bytes are stored: the KREF's syntax
 * (CATALOG_BAD_KREF) and what the catalog already holds under it. Call it before reading the body; then, once the
 * body's sha256 is known (streamed to a temp file), {@link uploadVerdict} says whether to store it.
 */
export function checkUploadTarget(catalog: Catalog, kernel: string, opts: { replace?: boolean } = {}): UploadTarget {
  const k = parseKref(kernel);
  const row = catalog.sqlite
    .prepare('SELECT source_sha256 AS sourceSha256, btf_sha256 AS btfSha256 FROM kernels WHERE distro = ? AND release = ? AND arch = ? AND uname_r = ?')
    .get(k.distro, k.release, k.arch, k.unameR) as { sourceSha256: string; btfSha256: string } | undefined;
  const out: UploadTarget = { kernel: formatKref(k), replace: opts.replace === true };
  if (row) out.existing = row;
  return out;
}

/**
 * What to do with an upload of sha256 `sha256` for a checked target: `unchanged` when the catalog holds the
 * kernel from exactly these bytes (the ingest would skip it: nothing to store or enqueue), else `store`. A kernel
 * present with other bytes is not refused here (the same BTF may come in another container); the ingest decides,
 * and a failed job's upload is removed (gc.ts removeFailedJobBlobs).
 */
export function uploadVerdict(target: UploadTarget, sha256: string): 'unchanged' | 'store' {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
  return target.existing !== undefined && target.existing.sourceSha256 === sha256 && !target.replace ? 'unchanged' : 'store';
}
