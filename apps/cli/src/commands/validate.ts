import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CommanderError, type Command } from '../commander.js';
import { isBtfError, loadBtfFile } from '../cli.js';
import { CliError } from '../errors.js';

/**
 * Largest input file `dump` and `validate` read (1 GiB: a vmlinux with DWARF and .BTF fits). Decompressed data
 * has its own budget in libs/btf (512 MiB in total per input).
 */
export const MAX_INPUT_FILE_BYTES = 1024 * 1024 * 1024;

const CHUNK = 1024 * 1024;

/**
 * A user's file as a stream of 1 MiB chunks, under one cap. A regular file is fstat'ed first and refused before
 * any byte is read when it is larger than `max` (a sparse 1.5 GB file costs a stat); anything else (a FIFO,
 * /dev/zero, a socket, a character device) has no size to ask, so it is read in chunks and refused as soon as the
 * total passes `max`. The consumer (libs/btf extractBtf) keeps only what it needs of the chunks.
 */
export async function* inputFileChunks(path: string, max = MAX_INPUT_FILE_BYTES): AsyncGenerator<Uint8Array> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'FILE_UNREADABLE');
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new CliError(`cannot read ${path}: EISDIR`, 'FILE_UNREADABLE');
    if (st.isFile() && st.size > max) {
      throw new CliError(`${path}: file of ${st.size} bytes is larger than the ${max}-byte input limit (refused before reading)`, 'INPUT_TOO_LARGE');
    }
    let total = 0;
    for (;;) {
      const buf = new Uint8Array(CHUNK);
      let n: number;
      try {
        n = readSync(fd, buf, 0, CHUNK, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // A non-blocking descriptor (a FIFO or socket opened that way) with nothing to read yet: wait, then retry.
        if (code === 'EAGAIN') {
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        throw new CliError(`cannot read ${path}: ${code ?? (err as Error).message}`, 'FILE_UNREADABLE');
      }
      if (n === 0) return;
      total += n;
      if (total > max) {
        throw new CliError(`${path}: more than ${max} bytes read from a ${st.isFile() ? 'file' : 'non-regular file'} (the input limit)`, 'INPUT_TOO_LARGE');
      }
      yield n === CHUNK ? buf : buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

async function writeOut(data: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    process.stdout.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * `btf-atlas validate FILE [--base FILE] [--json]`: judges FILE as strictly as the kernel's BTF loader
 * (kernel/bpf/btf.c). Valid: one line (`FILE: valid btf, N types`) or a JSON object, exit 0. Invalid: the
 * error's code, type id or byte offset and reason on one stderr line (and with --json the error object on
 * stdout), exit 1. A `--base` that is itself invalid fails with BTF_BAD_BASE.
 */
export function registerValidateCommand(program: Command): void {
  program
    .command('validate')
    .description('check FILE as strictly as the kernel BTF loader; exit 0 when valid, 1 with the first error')
    .argument('<file>', 'BTF input (raw BTF, ELF with .BTF, gzip/xz, .btf.tar.xz)')
    .option('-B, --base <file>', 'base BTF for split (module) BTF')
    .option('-j, --json', 'print the verdict as JSON on stdout')
    .option('--rules <kernel>', 'judge as this kernel does: newest (default), or 6.13 for kernels before 6.14 (no kind_flag on DECL_TAG/TYPE_TAG)', 'newest')
    .action(async (file: string, opts: { base?: string; json?: boolean; rules: string }) => {
      if (opts.rules !== 'newest' && opts.rules !== '6.13') throw new CommanderError(2, 'usage', `unknown --rules ${opts.rules} (newest or 6.13)`);
      try {
        const base = opts.base ? await loadBtfFile(opts.base) : undefined;
        const btf = await loadBtfFile(file, base);
        const { validateBtf } = await import('@btf-atlas/btf/core');
        const r = validateBtf(btf, { tagKindFlag: opts.rules === 'newest' });
        if (opts.json) {
          await writeOut(`${JSON.stringify({ file, valid: true, types: r.types, start_id: r.startId, byte_order: btf.littleEndian ? 'little' : 'big' })}\n`);
        } else {
          await writeOut(`${file}: valid btf, ${r.types} types${btf.base ? ` (ids ${r.startId}..${r.startId + r.types - 1} on its base)` : ''}\n`);
        }
      } catch (err) {
        if (isBtfError(err) && err.source === undefined) err.withSource(file);
        if (opts.json && isBtfError(err)) await writeOut(`${JSON.stringify({ file, valid: false, error: err.toJSON() })}\n`);
        throw err;
      }
    });
}
