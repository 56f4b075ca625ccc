import { createHash } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import { SyncError, SyncErrorCode, type SyncErrorContext } from './errors.js';
import { getBytes, type RequestOptions } from './http.js';
import type { PackageRecord } from './kernels.js';
import { KernelStanzaScanner } from './packages-scan.js';
import type { IndexFile, ReleaseInfo } from './release.js';

/** Compressions of a Packages index, in the order they are tried by default. */
export type IndexCompression = 'xz' | 'gz';
export const DEFAULT_INDEX_COMPRESSIONS: readonly IndexCompression[] = ['xz', 'gz'];

/** Size limits of index handling. */
export interface IndexLimits {
  /** Largest Release/InRelease accepted (Ubuntu's InRelease is ~300 KB). Default 16 MiB. */
  maxReleaseBytes: number;
  /** Largest compressed Packages index accepted (sid's Packages.xz is ~11 MB). Default 256 MiB. */
  maxIndexBytes: number;
  /** Largest decompressed Packages index (sid's is ~65 MB). Default 1 GiB. */
  maxIndexDecompressedBytes: number;
}

export const DEFAULT_INDEX_LIMITS: Readonly<IndexLimits> = {
  maxReleaseBytes: 16 << 20,
  maxIndexBytes: 256 << 20,
  maxIndexDecompressedBytes: 1 << 30,
};

/** The index file of COMPONENT/binary-ARCH a Release lists, in the preferred compression; undefined if none. */
export function pickPackagesIndex(release: ReleaseInfo, component: string, arch: string, order: readonly IndexCompression[] = DEFAULT_INDEX_COMPRESSIONS): { file: IndexFile; compression: IndexCompression }[] {
  // Security archives list their components as `updates/main` but their files as `main/…`: try both.
  const prefixes = [component, ...release.components.filter((c) => c.endsWith(`/${component}`))];
  const found: { file: IndexFile; compression: IndexCompression }[] = [];
  for (const compression of order) {
    for (const prefix of prefixes) {
      const file = release.files.get(`${prefix}/binary-${arch}/Packages.${compression}`);
      if (file !== undefined) {
        found.push({ file, compression });
        break;
      }
    }
  }
  return found;
}

/** Where to fetch an index file: its `by-hash` name first when the archive has them (stable during a mirror push). */
export function indexUrls(distsUrl: string, release: ReleaseInfo, file: IndexFile): string[] {
  const plain = `${distsUrl}/${file.path}`;
  if (!release.acquireByHash) return [plain];
  const dir = file.path.slice(0, file.path.lastIndexOf('/') + 1);
  return [`${distsUrl}/${dir}by-hash/SHA256/${file.sha256}`, plain];
}

/** SHA-256 of bytes, lowercase hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Downloads an index file and checks it against the Release before anything reads it (a decompressor only ever
 * sees bytes whose hash the Release named). Tries each URL in turn on 404; undefined when none has it.
 * SYNC_CHECKSUM on a size or hash mismatch.
 */
export async function fetchVerified(urls: string[], file: IndexFile, limits: IndexLimits, req: RequestOptions): Promise<{ bytes: Uint8Array; url: string } | undefined> {
  if (file.size > limits.maxIndexBytes) {
    throw new SyncError(SyncErrorCode.TooLarge, `${urls[urls.length - 1]} is ${file.size} bytes, more than the ${limits.maxIndexBytes}-byte limit`, { ...req.where, url: urls[urls.length - 1] });
  }
  for (const url of urls) {
    const where: SyncErrorContext = { ...req.where, url };
    // One byte more than promised is enough to tell "too long".
    const bytes = await getBytes(url, file.size + 1, { ...req, where }).catch((err: unknown) => {
      if (err instanceof SyncError && err.code === SyncErrorCode.TooLarge) {
        throw new SyncError(SyncErrorCode.Checksum, `${url} is longer than the ${file.size} bytes its Release lists`, where);
      }
      throw err;
    });
    if (bytes === undefined) continue;
    if (bytes.byteLength !== file.size) {
      throw new SyncError(SyncErrorCode.Checksum, `${url} is ${bytes.byteLength} bytes, its Release lists ${file.size}`, where);
    }
    const got = sha256Hex(bytes);
    if (got !== file.sha256) {
      throw new SyncError(SyncErrorCode.Checksum, `${url} has sha256 ${got}, its Release lists ${file.sha256}`, where);
    }
    return { bytes, url };
  }
  return undefined;
}

/**
 * Decompresses a verified Packages index and returns the records of its kernel packages. xz goes through
 * xz-decompress (WebAssembly, the decoder libs/btf uses), gzip through node:zlib; both stream into the scanner so
 * the decompressed text is never held whole.
 */
export async function scanPackagesIndex(bytes: Uint8Array, compression: IndexCompression, source: string, limits: IndexLimits, where: SyncErrorContext = {}): Promise<PackageRecord[]> {
  const scanner = new KernelStanzaScanner(source);
  let total = 0;
  const feed = (chunk: Uint8Array): void => {
    total += chunk.byteLength;
    if (total > limits.maxIndexDecompressedBytes) {
      throw new SyncError(SyncErrorCode.TooLarge, `${source} inflates past the ${limits.maxIndexDecompressedBytes}-byte limit`, where);
    }
    scanner.push(chunk);
  };
  if (compression === 'xz') await unxzInto(bytes, feed, source, where);
  else await gunzipInto(bytes, feed, source, where);
  return scanner.end();
}

/** Readable reasons for xz-decompress's numeric failures ("get_next_output failed with error code N"). */
const XZ_ERRORS: Record<string, string> = {
  '5': 'not an xz stream',
  '6': 'xz stream uses unsupported options (filters)',
  '7': 'corrupt xz stream (bad compressed data or checksum)',
  '8': 'truncated xz stream',
};

async function unxzInto(bytes: Uint8Array, feed: (chunk: Uint8Array) => void, source: string, where: SyncErrorContext): Promise<void> {
  const { default: xzDecompress } = await import('xz-decompress');
  const input = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
  const reader = new xzDecompress.XzReadableStream(input).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      feed(value);
    }
  } catch (err) {
    // xz-decompress serializes every stream behind one module-wide lock: a stream left unfinished would hold it
    // and hang every later one, so cancel on every failure.
    await reader.cancel().catch(() => undefined);
    if (err instanceof SyncError) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    const code = /error code (\d+)/.exec(msg)?.[1];
    throw new SyncError(SyncErrorCode.BadIndex, `${source}: ${(code !== undefined ? XZ_ERRORS[code] : undefined) ?? `corrupt xz stream (${msg.toLowerCase()})`}`, where);
  }
}

async function gunzipInto(bytes: Uint8Array, feed: (chunk: Uint8Array) => void, source: string, where: SyncErrorContext): Promise<void> {
  const gunzip = createGunzip();
  const done = (async () => {
    for await (const chunk of gunzip) feed(chunk as Buffer);
  })();
  gunzip.end(bytes);
  try {
    await done;
  } catch (err) {
    gunzip.destroy();
    if (err instanceof SyncError) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    throw new SyncError(SyncErrorCode.BadIndex, `${source}: corrupt gzip stream (${msg.toLowerCase()})`, where);
  }
}
