/**
 * Reading a file whose size nobody checked yet (a user's argument, a job's input path) under one cap. A regular
 * file is fstat'ed first and refused before any byte is read when it is larger than the cap (a sparse 1.5 GB file
 * costs a stat); what is not a regular file (a FIFO, /dev/zero, a socket, a character device) is refused outright
 * where a regular file is required (job inputs), or else read in chunks and refused as soon as the total passes
 * the cap (the CLI, where `<(cmd)` is a FIFO). The one reader of unknown files: the CLI, the catalog's ingest and
 * the queue's jobs use it, and {@link fileStream} is it.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { PkgError, PkgErrorCode } from './errors.js';

/** How a file is read. */
export interface InputFileOptions {
  /** Most bytes read (a regular file larger than this is refused before reading). */
  max: number;
  /**
   * Refuse anything but a regular file (PKG_INPUT_NOT_REGULAR), checked without blocking: a FIFO is opened
   * non-blocking and never waited on. Default false: FIFOs and devices are read under the cap.
   */
  regularOnly?: boolean;
}

const CHUNK = 1024 * 1024;

/** What kind of file a stat is, as errors name it. */
function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a fifo';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}

/** Opens and checks a file; the descriptor, its stat and whether it is regular. */
function openChecked(path: string, opts: InputFileOptions): { fd: number; st: Stats } {
  let fd: number;
  try {
    // Non-blocking where only regular files are wanted: opening a FIFO without a writer would block the thread.
    fd = openSync(path, opts.regularOnly ? constants.O_RDONLY | constants.O_NONBLOCK : 'r');
  } catch (err) {
    throw new PkgError(PkgErrorCode.InputUnreadable, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new PkgError(PkgErrorCode.InputUnreadable, `cannot read ${path}: EISDIR`);
    if (opts.regularOnly && !st.isFile()) {
      throw new PkgError(PkgErrorCode.InputNotRegular, `${path} is ${kindOf(st)}, not a regular file (refused before reading)`);
    }
    if (st.isFile() && st.size > opts.max) {
      throw new PkgError(PkgErrorCode.InputTooLarge, `${path}: file of ${st.size} bytes is larger than the ${opts.max}-byte input limit (refused before reading)`);
    }
    return { fd, st };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** One read into `buf`; 0 at the end. A non-blocking descriptor with nothing to read yet waits and retries. */
async function readSome(fd: number, buf: Uint8Array, path: string): Promise<number> {
  for (;;) {
    try {
      return readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      throw new PkgError(PkgErrorCode.InputUnreadable, `cannot read ${path}: ${code ?? (err as Error).message}`);
    }
  }
}

/** A file as a stream of chunks of at most 1 MiB, under `opts.max` (see the module comment). */
export async function* inputFileChunks(path: string, opts: InputFileOptions): AsyncGenerator<Uint8Array> {
  const { fd, st } = openChecked(path, opts);
  try {
    yield* chunksOf(fd, st, path, opts.max);
  } finally {
    closeSync(fd);
  }
}

async function* chunksOf(fd: number, st: Stats, path: string, max: number): AsyncGenerator<Uint8Array> {
  let total = 0;
  for (;;) {
    const buf = new Uint8Array(CHUNK);
    const n = await readSome(fd, buf, path);
    if (n === 0) return;
    total += n;
    if (total > max) {
      // A regular file that grew after its stat, or a FIFO or device without end.
      throw new PkgError(PkgErrorCode.InputTooLarge, `${path}: more than ${max} bytes read from ${st.isFile() ? 'a file' : kindOf(st)} (the input limit)`);
    }
    yield n === CHUNK ? buf : buf.subarray(0, n);
  }
}

/**
 * A whole file in one array, under `opts.max`. A regular file is read into an array of its stat'ed size (one
 * allocation, no copies); one that grows meanwhile is refused.
 */
export async function readInputFile(path: string, opts: InputFileOptions): Promise<Uint8Array> {
  const { fd, st } = openChecked(path, opts);
  try {
    if (!st.isFile()) {
      const parts: Uint8Array[] = [];
      for await (const c of chunksOf(fd, st, path, opts.max)) parts.push(c);
      return Buffer.concat(parts);
    }
    const out = new Uint8Array(st.size);
    let at = 0;
    while (at < out.length) {
      const n = await readSome(fd, out.subarray(at), path);
      if (n === 0) break;
      at += n;
    }
    if (at === out.length && (await readSome(fd, new Uint8Array(1), path)) > 0) {
      throw new PkgError(PkgErrorCode.InputTooLarge, `${path} grew while it was read (stat'ed at ${st.size} bytes)`);
    }
    return at === out.length ? out : out.subarray(0, at);
  } finally {
    closeSync(fd);
  }
}
