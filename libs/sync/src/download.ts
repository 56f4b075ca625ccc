import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SyncError, SyncErrorCode, isRetryable, type SyncErrorContext } from './errors.js';
import { startRequest, type ActiveRequest, type FetchLike } from './http.js';
import type { PlannedKernel, PlannedPackage } from './plan.js';

/** Options of {@link downloadPackage}. */
export interface DownloadOptions {
  /** Expected SHA-256, hex (from the Packages index). */
  sha256: string;
  /** Expected size in bytes (from the Packages index). */
  size: number;
  /** Final path. The download goes to `dest + '.part'` and is renamed when it checks out. */
  dest: string;
  signal?: AbortSignal;
  /** Largest download accepted. Default 2 GiB (Debian's largest -dbg packages are ~1 GB; images ~100 MB). */
  maxBytes?: number;
  /** Called as bytes arrive (`received` counts a resumed part too). */
  onProgress?: (received: number, total: number) => void;
  fetch?: FetchLike;
  /** Milliseconds without progress (no headers, no body bytes) before SYNC_TIMEOUT. Default 60 000. */
  timeoutMs?: number;
  /** Tries in all, each resuming what the last one left (network failures, timeouts, 5xx only). Default 3. */
  attempts?: number;
}

/** What {@link downloadPackage} did. */
export interface DownloadResult {
  path: string;
  size: number;
  sha256: string;
  /** Bytes reused from an earlier `.part` (0 when the download started from the beginning). */
  resumedFrom: number;
  /** `dest` was already there with the right size and hash; nothing was downloaded. */
  alreadyPresent: boolean;
  /** Requests made. */
  requests: number;
}

export const DEFAULT_MAX_DOWNLOAD_BYTES = 2 * 1024 ** 3;

/**
 * Downloads `url` to `dest` safely: into `dest.part`, resumed with an HTTP Range request when a part is there and
 * the server answers 206 with the matching Content-Range (started over when it answers 200 or 416, or a range that
 * does not fit), the size and SHA-256 checked, then fsynced and renamed into place. A mismatch deletes the part and
 * throws SYNC_CHECKSUM (after one clean retry when the bad bytes may have come from an old part). An interrupted
 * download keeps its part for the next try. Two downloads to the same `dest` at once are not supported: the caller
 * (the queue) runs one job per package.
 */
export async function downloadPackage(url: string, opts: DownloadOptions): Promise<DownloadResult> {
  const where: SyncErrorContext = { url };
  const expected = opts.sha256.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(expected)) throw new SyncError(SyncErrorCode.BadConfig, `download of ${url}: sha256 ${JSON.stringify(opts.sha256)} is not 64 hex digits`, where);
  if (!Number.isSafeInteger(opts.size) || opts.size < 0) throw new SyncError(SyncErrorCode.BadConfig, `download of ${url}: size ${opts.size} is not a byte count`, where);
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_DOWNLOAD_BYTES;
  if (opts.size > maxBytes) throw new SyncError(SyncErrorCode.TooLarge, `${url} is ${opts.size} bytes, more than the ${maxBytes}-byte limit`, where);
  if (opts.dest === '' || opts.dest.endsWith('/')) throw new SyncError(SyncErrorCode.UnsafePath, `download of ${url}: destination ${JSON.stringify(opts.dest)} is not a file path`, where);

  const dest = opts.dest;
  const part = `${dest}.part`;
  await mkdir(dirname(dest), { recursive: true });

  if ((await fileSize(dest)) === opts.size && (await hashFile(dest)) === expected) {
    return { path: dest, size: opts.size, sha256: expected, resumedFrom: 0, alreadyPresent: true, requests: 0 };
  }

  const attempts = Math.max(1, opts.attempts ?? 3);
  let requests = 0;
  let cleanRetryUsed = false;
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await attemptOnce(url, part, expected, opts, () => requests++);
      await rename(part, dest);
      return { path: dest, size: opts.size, sha256: expected, resumedFrom: r.resumedFrom, alreadyPresent: false, requests };
    } catch (err) {
      if (!(err instanceof SyncError)) throw err;
      // Bad bytes after a resume may be an old part's fault: start over once, from nothing (the part is gone).
      if (err instanceof ResumedChecksumError && !cleanRetryUsed) {
        cleanRetryUsed = true;
        continue;
      }
      if (attempt < attempts && isRetryable(err)) continue;
      throw err instanceof ResumedChecksumError ? new SyncError(err.code, err.reason, where) : err;
    }
  }
}

/** A checksum failure of a download that had resumed a part (the part is deleted with it). */
class ResumedChecksumError extends SyncError {
  constructor(reason: string, where: SyncErrorContext) {
    super(SyncErrorCode.Checksum, reason, where);
  }
}

/** One request: resume or start `part`, then check it. Leaves a complete, checked part, or throws. */
async function attemptOnce(url: string, part: string, expected: string, opts: DownloadOptions, countRequest: () => void): Promise<{ resumedFrom: number }> {
  const where: SyncErrorContext = { url };
  const size = opts.size;
  let have = (await fileSize(part)) ?? 0;
  if (have > size) {
    await rm(part, { force: true });
    have = 0;
  }
  if (have === size) {
    // A complete part from an earlier run that stopped before the rename.
    if ((await hashFile(part)) === expected) return { resumedFrom: have };
    await rm(part, { force: true });
    have = 0;
  }

  let req: ActiveRequest | undefined;
  try {
    const get = async (from: number): Promise<ActiveRequest> => {
      countRequest();
      return startRequest(url, {
        fetch: opts.fetch,
        signal: opts.signal,
        timeoutMs: opts.timeoutMs ?? 60_000,
        headers: from > 0 ? { range: `bytes=${from}-` } : {},
        where,
      });
    };
    req = await get(have);
    let start = have;
    if (have > 0) {
      const status = req.response.status;
      if (status === 200) {
        // The server ignores Range and sends it all: take that, from the start.
        start = 0;
      } else if (status === 416 || (status === 206 && !rangeFits(req.response.headers.get('content-range'), have, size))) {
        // It refuses our range, or answers another one: drop the part and ask again without a range.
        await req.close();
        await rm(part, { force: true });
        req = await get(0);
        start = 0;
      }
      // Any other status (5xx, 404) is reported below and the part is kept for a later try.
    }
    const status = req.response.status;
    if (!(status === 200 || (status === 206 && start > 0))) {
      throw new SyncError(SyncErrorCode.Http, `${url} answered http ${status}`, { ...where, status });
    }
    const mismatch = (reason: string): SyncError => (start > 0 ? new ResumedChecksumError(reason, where) : new SyncError(SyncErrorCode.Checksum, reason, where));
    const remaining = size - start;
    const announced = req.response.headers.get('content-length');
    if (announced !== null && Number(announced) !== remaining) {
      throw mismatch(`${url} announces ${announced} bytes, the index lists ${size}${start > 0 ? ` (${remaining} from byte ${start})` : ''}`);
    }

    const hash = createHash('sha256');
    if (start > 0) await hashInto(part, hash, start);
    const fh = await open(part, start > 0 ? 'a' : 'w');
    let received = start;
    try {
      opts.onProgress?.(received, size);
      for await (const chunk of req.chunks()) {
        received += chunk.byteLength;
        if (received > size) {
          throw mismatch(`${url} sends more than the ${size} bytes the index lists`);
        }
        hash.update(chunk);
        await writeAll(fh, chunk);
        opts.onProgress?.(received, size);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (received < size) {
      throw new SyncError(SyncErrorCode.Http, `${url} ended after ${received} of ${size} bytes`, where);
    }
    const got = hash.digest('hex');
    if (got !== expected) throw mismatch(`${url} has sha256 ${got}, the index lists ${expected}`);
    return { resumedFrom: start };
  } catch (err) {
    // Only a checksum verdict condemns the part: an interrupted download keeps it for the next try.
    if (err instanceof SyncError && err.code === SyncErrorCode.Checksum) await rm(part, { force: true });
    throw err;
  } finally {
    await req?.close();
  }
}

/** `bytes FROM-(SIZE-1)/SIZE` (or `/*`) for a request of `bytes=FROM-` of a SIZE-byte file (RFC 9110 §14.4). */
function rangeFits(header: string | null, from: number, size: number): boolean {
  const m = header === null ? null : /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header.trim());
  if (m === null) return false;
  return Number(m[1]) === from && Number(m[2]) === size - 1 && (m[3] === '*' || Number(m[3]) === size);
}

async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.byteLength) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
    off += bytesWritten;
  }
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

async function hashInto(path: string, hash: Hash, length?: number): Promise<void> {
  const stream = createReadStream(path, length === undefined ? {} : { start: 0, end: length - 1 });
  for await (const chunk of stream) hash.update(chunk as Buffer);
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await hashInto(path, hash);
  return hash.digest('hex');
}

const DEB_NAME = /^[A-Za-z0-9][A-Za-z0-9._+~%-]{0,254}$/;

/** The file name a planned package is stored under: the last part of its pool path (`linux-image-…_amd64.deb`). */
export function packageFileName(pkg: Pick<PlannedPackage, 'filename'>): string {
  const name = basename(pkg.filename);
  if (!DEB_NAME.test(name)) throw new SyncError(SyncErrorCode.UnsafePath, `package file name ${JSON.stringify(name.slice(0, 200))} is not a plain file name`);
  return name;
}

/** Downloads every package of a planned kernel into `dir` (one after the other), returning the results by role. */
export async function downloadKernel(
  kernel: Pick<PlannedKernel, 'kref' | 'packages'>,
  dir: string,
  opts: Omit<DownloadOptions, 'sha256' | 'size' | 'dest' | 'onProgress'> & { onProgress?: (pkg: PlannedPackage, received: number, total: number) => void } = {},
): Promise<{ package: PlannedPackage; result: DownloadResult }[]> {
  const out: { package: PlannedPackage; result: DownloadResult }[] = [];
  for (const pkg of kernel.packages) {
    const result = await downloadPackage(pkg.url, {
      ...opts,
      sha256: pkg.sha256,
      size: pkg.size,
      dest: join(dir, packageFileName(pkg)),
      onProgress: opts.onProgress === undefined ? undefined : (r, t) => opts.onProgress!(pkg, r, t),
    });
    out.push({ package: pkg, result });
  }
  return out;
}
