import { gunzipSync } from 'node:zlib';
import { extractElfBtf, isElf } from './elf.js';
import { BtfError, BtfErrorCode } from './errors.js';

/** Limits on unpacking containers. */
export interface ContainerLimits {
  /** Largest decompressed stream or sum of extracted tar members, in bytes (default 512 MiB). */
  maxDecompressedSize: number;
  /** Most containers nested in one another (xz around tar around gzip…), default 4. */
  maxNesting: number;
  /** Most members in one tarball (default 100,000). */
  maxTarEntries: number;
}

export const DEFAULT_CONTAINER_LIMITS: Readonly<ContainerLimits> = {
  maxDecompressedSize: 512 * 1024 * 1024,
  maxNesting: 4,
  maxTarEntries: 100_000,
};

/** The formats {@link extractBtf} recognizes, by magic bytes. */
export type InputFormat = 'btf' | 'elf' | 'gzip' | 'xz' | 'tar';

/** One BTF blob found in an input. */
export interface BtfBlob {
  /** Where it was found: the input name, then `:member` for tar members (`x.btf.tar.xz:6.1.0-50-amd64.btf`). */
  name: string;
  /** `vmlinux` for base BTF; `module` for module (split) BTF found beside it in a tarball. */
  role: 'vmlinux' | 'module';
  /** The module's name (file name without `.btf`/`.ko`) for module blobs. */
  module?: string;
  /** The chain of containers the blob came out of, outermost first, ending in `btf` or `elf`. */
  formats: InputFormat[];
  bytes: Uint8Array;
}

/** Identifies an input by its first bytes; `undefined` when it is none of the formats. */
export function detectFormat(bytes: Uint8Array): InputFormat | undefined {
  if (bytes.length >= 2 && ((bytes[0] === 0x9f && bytes[1] === 0xeb) || (bytes[0] === 0xeb && bytes[1] === 0x9f))) return 'btf';
  if (isElf(bytes)) return 'elf';
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) return 'gzip';
  if (bytes.length >= 6 && bytes[0] === 0xfd && bytes[1] === 0x37 && bytes[2] === 0x7a && bytes[3] === 0x58 && bytes[4] === 0x5a && bytes[5] === 0x00) return 'xz';
  if (bytes.length >= 263 && bytes[257] === 0x75 && bytes[258] === 0x73 && bytes[259] === 0x74 && bytes[260] === 0x61 && bytes[261] === 0x72) return 'tar';
  return undefined;
}

/**
 * Finds the BTF in an input: raw BTF, an ELF object's `.BTF` section, gzip or xz of those, or a tarball
 * (`UNAME_R.btf.tar.xz` as btfhub-archive ships it, possibly with module BTF beside vmlinux's). The vmlinux
 * blob, when there is one, comes first. Pure: bytes in, blobs out. Throws {@link BtfError} only.
 */
export async function extractBtf(bytes: Uint8Array, name: string, limits: Partial<ContainerLimits> = {}): Promise<BtfBlob[]> {
  const lim: ContainerLimits = { ...DEFAULT_CONTAINER_LIMITS, ...limits };
  try {
    const blobs = await extract(bytes, name, lim, [], 0);
    if (blobs.length === 0) throw new BtfError(BtfErrorCode.UnknownFormat, 'tarball holds no btf', { source: name });
    return blobs;
  } catch (err) {
    if (err instanceof BtfError) throw err.withSource(name);
    throw new BtfError(BtfErrorCode.BadContainer, `cannot unpack: ${(err as Error).message}`, { source: name });
  }
}

async function extract(bytes: Uint8Array, name: string, lim: ContainerLimits, formats: InputFormat[], depth: number): Promise<BtfBlob[]> {
  const format = detectFormat(bytes);
  if (format === undefined) {
    throw new BtfError(BtfErrorCode.UnknownFormat, 'not raw btf, an elf object, gzip, xz or tar (unknown magic)', { offset: 0 });
  }
  const chain = [...formats, format];
  if (format === 'btf') return [{ name, role: 'vmlinux', formats: chain, bytes }];
  if (format === 'elf') return [{ name, role: 'vmlinux', formats: chain, bytes: extractElfBtf(bytes) }];
  if (depth >= lim.maxNesting) {
    throw new BtfError(BtfErrorCode.BadContainer, `containers nested deeper than ${lim.maxNesting} levels`);
  }
  if (format === 'gzip') return extract(gunzip(bytes, lim), name, lim, chain, depth + 1);
  if (format === 'xz') return extract(await unxz(bytes, lim), name, lim, chain, depth + 1);
  const members = await untar(bytes, lim);
  const blobs: BtfBlob[] = [];
  for (const m of members) {
    for (const blob of await extract(m.bytes, `${name}:${m.path}`, lim, chain, depth + 1)) {
      const moduleName = moduleNameOf(m.path);
      blobs.push(moduleName === undefined ? blob : { ...blob, role: 'module', module: moduleName });
    }
  }
  const vmlinux = blobs.filter((b) => b.role === 'vmlinux');
  if (vmlinux.length > 1) {
    throw new BtfError(BtfErrorCode.BadContainer, `tarball holds ${vmlinux.length} top-level btf files (${vmlinux.map((b) => b.name).join(', ')}); expected one`);
  }
  return [...vmlinux, ...blobs.filter((b) => b.role === 'module')];
}

/**
 * A tar member is module BTF when it sits below a directory (`modules/ext4.btf`, `6.1.0/modules/kvm.ko`) or is
 * a `.ko`; the vmlinux BTF is the top-level `UNAME_R.btf` (or `vmlinux`).
 */
function moduleNameOf(path: string): string | undefined {
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (!path.includes('/') && !base.endsWith('.ko')) return undefined;
  return base.replace(/\.(btf|ko)(\.(gz|xz))?$/, '');
}

function gunzip(bytes: Uint8Array, lim: ContainerLimits): Uint8Array {
  try {
    return gunzipSync(bytes, { maxOutputLength: lim.maxDecompressedSize });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
      throw new BtfError(BtfErrorCode.DecompressedTooLarge, `gzip stream inflates past the ${lim.maxDecompressedSize}-byte limit`);
    }
    throw new BtfError(BtfErrorCode.BadContainer, `corrupt gzip stream: ${e.message}`);
  }
}

/** xz-embedded's return codes (xz.h), as a user reads them. */
const XZ_ERRORS: Readonly<Record<string, string>> = {
  '2': 'xz stream uses an integrity check this decoder does not support',
  '3': 'xz decoder ran out of memory',
  '4': 'xz stream needs a larger dictionary than allowed',
  '5': 'not an xz stream (bad header magic)',
  '6': 'xz stream uses unsupported options (filters)',
  '7': 'corrupt xz stream (bad compressed data or checksum)',
  '8': 'truncated xz stream (it ends before its end marker)',
};

/** A readable reason for a failure of the wasm xz decoder ("… failed with error code 8"). */
function xzFailure(message: string): string {
  const code = /error code (\d+)/.exec(message)?.[1];
  return (code !== undefined ? XZ_ERRORS[code] : undefined) ?? `corrupt xz stream: ${message}`;
}

/** Decompresses an xz stream, refusing output past the size limit (a decompression bomb). */
export async function unxz(bytes: Uint8Array, lim: Pick<ContainerLimits, "maxDecompressedSize"> = DEFAULT_CONTAINER_LIMITS): Promise<Uint8Array> {
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
  // Loaded on first use: raw BTF and ELF inputs (the CLI's common case) never pay for the wasm decoder.
  const { default: xzDecompress } = await import('xz-decompress');
  const stream = new xzDecompress.XzReadableStream(source);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > lim.maxDecompressedSize) {
        throw new BtfError(BtfErrorCode.DecompressedTooLarge, `xz stream inflates past the ${lim.maxDecompressedSize}-byte limit`);
      }
      chunks.push(value);
    }
  } catch (err) {
    // xz-decompress serializes every stream behind one module-wide lock; a stream left unfinished would hold it
    // and hang every later decompression, so cancel on every failure.
    await reader.cancel().catch(() => undefined);
    if (err instanceof BtfError) throw err;
    throw new BtfError(BtfErrorCode.BadContainer, xzFailure((err as Error).message));
  }
  return concat(chunks, total);
}

interface TarMember {
  path: string;
  bytes: Uint8Array;
}

/** Extracts regular files, refusing unsafe names and links (btfhub-archive tarballs hold plain files only). */
async function untar(bytes: Uint8Array, lim: ContainerLimits): Promise<TarMember[]> {
  const { default: tarStream } = await import('tar-stream');
  const extract = tarStream.extract();
  const members: TarMember[] = [];
  let total = 0;
  let entries = 0;
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const fail = (err: BtfError): void => {
        // destroy() also errors the entry stream; without a listener that would be an uncaught exception.
        stream.on('error', () => undefined);
        stream.resume();
        extract.destroy(err);
      };
      entries++;
      if (entries > lim.maxTarEntries) return fail(new BtfError(BtfErrorCode.BadContainer, `tarball holds more than ${lim.maxTarEntries} entries`));
      const path = header.name;
      const unsafe = unsafePathReason(path);
      if (unsafe) return fail(new BtfError(BtfErrorCode.UnsafeArchivePath, `tar member ${JSON.stringify(path)} ${unsafe}`));
      if (header.type === 'directory') {
        stream.resume();
        stream.on('end', next);
        return;
      }
      if (header.type !== 'file' && header.type !== 'contiguous-file') {
        return fail(new BtfError(BtfErrorCode.UnsafeArchivePath, `tar member ${JSON.stringify(path)} is a ${header.type}, not a regular file`));
      }
      const size = header.size ?? 0;
      total += size;
      if (total > lim.maxDecompressedSize) {
        return fail(new BtfError(BtfErrorCode.DecompressedTooLarge, `tar members add up past the ${lim.maxDecompressedSize}-byte limit`));
      }
      const chunks: Uint8Array[] = [];
      let got = 0;
      stream.on('data', (c: unknown) => {
        const chunk = c as Uint8Array;
        chunks.push(chunk);
        got += chunk.length;
      });
      stream.on('end', () => {
        members.push({ path: path.replace(/^(\.\/)+/, ''), bytes: concat(chunks, got) });
        next();
      });
      stream.on('error', reject);
    });
    extract.on('finish', resolve);
    extract.on('error', (err: Error) => reject(err instanceof BtfError ? err : new BtfError(BtfErrorCode.BadContainer, `corrupt tarball: ${err.message}`)));
  });
  extract.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  await done;
  return members;
}

/** Why a tar member name is unsafe to honour, or undefined when it is a plain relative path. */
export function unsafePathReason(path: string): string | undefined {
  if (path.length === 0) return 'has an empty name';
  if (path.includes('\0')) return 'has a nul byte in its name';
  if (path.startsWith('/')) return 'is an absolute path';
  if (/^[A-Za-z]:[\\/]/.test(path) || path.includes('\\')) return 'has a windows-style path';
  if (path.split('/').some((seg) => seg === '..')) return "climbs out of the archive with '..'";
  return undefined;
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}
