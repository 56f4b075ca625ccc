/**
 * Members of a tar stream (POSIX ustar with GNU long names and pax headers, as dpkg-deb writes), read with
 * tar-stream as the decompressed data arrives. Only regular files are handed out; directories, links and devices
 * are skipped (nothing is written to disk, so a link is never followed).
 */
import { Readable } from 'node:stream';
import { PkgError, PkgErrorCode } from './errors.js';
import { normalizeMemberPath } from './paths.js';
import type { ByteStream } from './reader.js';

/** What tar-stream hands out per entry (its bundled types do not name it). */
interface TarEntry extends AsyncIterable<Uint8Array> {
  header: { name: string; type?: string | null; size?: number | null };
  resume(): void;
}

export interface ArchiveFile {
  /** Relative path, `./` and leading `/` removed (`usr/lib/modules/X/vmlinuz`). */
  path: string;
  /** The name as the archive spells it. */
  rawName: string;
  size: number;
  /** The file's bytes; the next member is read only after this one is consumed or left. */
  body: ByteStream;
}

/** Yields the regular files of a tar stream; `what` names the stream in errors (`data.tar.xz`). */
export async function* readTar(source: ByteStream, what: string, maxEntries: number): AsyncGenerator<ArchiveFile> {
  const { default: tarStream } = await import('tar-stream');
  const extract = tarStream.extract();
  const input = Readable.from(source, { objectMode: false });
  let inputError: unknown;
  input.on('error', (err) => {
    inputError = err;
    extract.destroy(err);
  });
  input.pipe(extract);
  let entries = 0;
  try {
    for await (const entry of extract as unknown as AsyncIterable<TarEntry>) {
      const h = entry.header;
      if (++entries > maxEntries) throw new PkgError(PkgErrorCode.TooLarge, `${what} holds more than ${maxEntries} entries`);
      const path = normalizeMemberPath(h.name, what);
      if (h.type !== 'file' && h.type !== 'contiguous-file') {
        entry.resume();
        continue;
      }
      yield { path, rawName: h.name, size: h.size ?? 0, body: entry as AsyncIterable<Uint8Array> };
      entry.resume();
    }
  } catch (err) {
    if (inputError !== undefined) throw inputError;
    if (err instanceof PkgError) throw err;
    const message = (err as Error).message ?? String(err);
    if (/unexpected end/i.test(message)) throw new PkgError(PkgErrorCode.Truncated, `${what} ends inside a tar member`);
    throw new PkgError(PkgErrorCode.BadArchive, `${what} is not a valid tar archive (${message.toLowerCase()})`);
  } finally {
    input.destroy();
    extract.destroy();
  }
  if (inputError !== undefined) throw inputError;
}
