/**
 * Members of a tar stream (POSIX ustar with GNU long names and pax headers, as dpkg-deb writes), read with
 * tar-stream as the decompressed data arrives. Only regular files are handed out; directories, links and devices
 * are skipped (nothing is written to disk, so a link is never followed).
 */
import { Readable } from 'node:stream';
import type { InputBudget } from '@btf-atlas/btf';
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

/**
 * Yields the regular files of a tar stream; `what` names the stream in errors (`data.tar.xz`). Every entry counts
 * against `maxEntries` and, before it is read, against the input's `budget` (members over every archive).
 */
export async function* readTar(source: ByteStream, what: string, maxEntries: number, budget?: InputBudget): AsyncGenerator<ArchiveFile> {
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
      budget?.enterMember(`${what}:${path}`);
      if (h.type !== 'file' && h.type !== 'contiguous-file') {
        entry.resume();
        continue;
      }
      yield { path, rawName: h.name, size: h.size ?? 0, body: mapped(entry, what, () => inputError) };
      entry.resume();
    }
  } catch (err) {
    throw tarError(err, what, inputError);
  } finally {
    input.destroy();
    extract.destroy();
  }
  if (inputError !== undefined) throw inputError;
}

/** A failure of tar-stream (or of its input) as a PkgError: a cut-short member is PKG_TRUNCATED. */
function tarError(err: unknown, what: string, inputError: unknown): unknown {
  if (inputError !== undefined) return inputError;
  if (err instanceof PkgError) return err;
  const message = (err as Error).message ?? String(err);
  if (/unexpected end/i.test(message)) return new PkgError(PkgErrorCode.Truncated, `${what} ends inside a tar member`);
  return new PkgError(PkgErrorCode.BadArchive, `${what} is not a valid tar archive (${message.toLowerCase()})`);
}

/**
 * A member's body with its errors mapped as the archive's: a member cut short fails while the caller reads it,
 * outside the loop of {@link readTar}.
 */
async function* mapped(body: AsyncIterable<Uint8Array>, what: string, inputError: () => unknown): ByteStream {
  try {
    yield* body;
  } catch (err) {
    throw tarError(err, what, inputError());
  }
}
