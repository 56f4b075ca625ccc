import { statSync } from 'node:fs';
import { CommanderError, type Command } from '../commander.js';
import { isBtfError, loadBtfFile } from '../cli.js';
import { CliError } from '../errors.js';

/** The CLI's own codes for the capped reader's failures (what `validate` and `dump` have always answered). */
const CLI_CODES: Readonly<Record<string, string>> = { PKG_INPUT_TOO_LARGE: 'INPUT_TOO_LARGE', PKG_INPUT_UNREADABLE: 'FILE_UNREADABLE' };

/** The capped reader's failures as the CLI's own error (codes it has always answered), others unchanged. */
function asCliError(err: unknown): unknown {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && Object.hasOwn(CLI_CODES, code)) return new CliError((err as Error).message, CLI_CODES[code]);
  return err;
}

/**
 * A user's input as the CLI reads it: a regular file in one array ({@link readInputFile}); anything else (a FIFO,
 * `<(cmd)`, a device) as a stream of chunks under the same cap, so the container reader refuses a bomb or a
 * blob longer than its header declares from its first chunks, before the cap is reached.
 */
export async function cliInput(path: string, max?: number): Promise<Uint8Array | AsyncIterable<Uint8Array>> {
  let regular = false;
  try {
    regular = statSync(path).isFile();
  } catch {
    // The reader says what is wrong with the path.
  }
  return regular ? readInputFile(path, max) : inputFileChunks(path, max);
}

/** A user's file as a stream of 1 MiB chunks under the same cap as {@link readInputFile}. */
export async function* inputFileChunks(path: string, max?: number): AsyncGenerator<Uint8Array> {
  const capped = await import('@btf-atlas/catalog/input-file');
  try {
    yield* capped.inputFileChunks(path, { max: max ?? capped.MAX_INPUT_FILE_BYTES });
  } catch (err) {
    throw asCliError(err);
  }
}

/**
 * A user's file in one array, under one cap (default the catalog's MAX_INPUT_FILE_BYTES, 1 GiB: a vmlinux with
 * DWARF and .BTF fits), through the libraries' one capped reader: a regular file larger than the cap is refused
 * before any byte is read, and one within it is read into an array of its size (no chunks to join); a FIFO,
 * /dev/zero or a socket (`<(cmd)`) is read in chunks and refused as soon as the total passes the cap. Decompressed
 * data has its own budget in libs/btf (512 MiB in total per input). The reader is loaded on first use: commands
 * that read no file never load it.
 */
export async function readInputFile(path: string, max?: number): Promise<Uint8Array> {
  const capped = await import('@btf-atlas/catalog/input-file');
  try {
    return await capped.readInputFile(path, { max: max ?? capped.MAX_INPUT_FILE_BYTES });
  } catch (err) {
    throw asCliError(err);
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
