import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { Command, CommanderError } from './commander.js';
import type { Btf, BtfError } from '@btf-atlas/btf/core';
import { CliError, QuietExit } from './errors.js';

export { CliError };

/** Exit codes of the contract: 0 success, 1 bad input or not found, 2 usage error. */
export const EXIT_OK = 0;
export const EXIT_BAD_INPUT = 1;
export const EXIT_USAGE = 2;


/** Reads FILE and returns its single BTF blob (the vmlinux one when a tarball holds several). */
export async function loadBtfFile(path: string, base?: Btf): Promise<Btf> {
  // Loaded here, not up front: `--help` and the catalog commands never read a BTF file.
  const { Btf, extractBtf } = await import('@btf-atlas/btf/core');
  // Read under one cap (a FIFO or a huge file never fills memory), unpacked under one budget; a regular file's raw
  // BTF or ELF is used where it was read, with no copy.
  const blobs = await extractBtf(await (await import('./commands/validate.js')).cliInput(path), basename(path));
  const blob = blobs[0];
  try {
    return Btf.parse(blob.bytes, { base });
  } catch (err) {
    if (isBtfError(err)) throw err.withSource(blobs.length > 1 || blob.name !== basename(path) ? `${path}:${blob.name}` : path);
    throw err;
  }
}

async function writeOut(data: string | Uint8Array): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    process.stdout.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * Writes a chunk to stdout before returning (the chunk's buffer is reused for the next one). A reader that closed
 * the pipe (`| head`) ends the process quietly, as `process.stdout` does (main.ts).
 */
function writeStdoutSync(chunk: Uint8Array): void {
  let done = 0;
  while (done < chunk.length) {
    try {
      done += writeSync(1, chunk, done, chunk.length - done);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') process.exit(process.exitCode ?? 0);
      // stdout left non-blocking by whoever started us: wait for the reader, then go on.
      if (code === 'EAGAIN') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      else throw err;
    }
  }
}

type Register = (program: Command) => void;

/**
 * The command modules and the commands each registers. Only the module of the command being run is loaded
 * (`btf-atlas validate FILE` never loads the catalog, queue or HTTP code); help and unknown commands load all.
 */
const COMMAND_MODULES: { names: readonly string[]; load: () => Promise<Register> }[] = [
  { names: ['validate'], load: async () => (await import('./commands/validate.js')).registerValidateCommand },
  { names: ['ingest'], load: async () => (await import('./commands/ingest.js')).registerIngestCommand },
  { names: ['kernels', 'field', 'type', 'failures', 'worker'], load: async () => (await import('./commands/catalog.js')).registerCatalogCommands },
  { names: ['diff'], load: async () => (await import('./commands/diff.js')).registerDiffCommand },
  { names: ['serve'], load: async () => (await import('./commands/serve.js')).registerServeCommand },
  { names: ['fetch'], load: async () => (await import('./commands/fetch.js')).registerFetchCommand },
  { names: ['sync'], load: async () => (await import('./commands/sync.js')).registerSyncCommand },
  { names: ['kernel'], load: async () => (await import('./commands/kernel.js')).registerKernelCommand },
  { names: ['func', 'tracepoint', 'syscall', 'enum', 'enumerator', 'search'], load: async () => (await import('./commands/kinds.js')).registerKindCommands },
  { names: ['reindex', 'merge'], load: async () => (await import('./commands/maintenance.js')).registerMaintenanceCommands },
  { names: ['gc'], load: async () => (await import('./commands/gc.js')).registerGcCommand },
  { names: ['core-check', 'core-min-btf'], load: async () => (await import('./commands/core.js')).registerCoreCommands },
];

/** The version of this command line (its package.json), for `--version`. */
export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** The registrations the command line needs: the module naming argv's command, else every module. */
async function commandRegistrations(argv: string[]): Promise<Register[]> {
  const name = argv.find((a) => !a.startsWith('-'));
  if (name === 'dump') return [];
  if (name === undefined && (argv.includes('--version') || argv.includes('-V'))) return [];
  const own = COMMAND_MODULES.find((m) => name !== undefined && m.names.includes(name));
  return Promise.all((own ? [own] : COMMAND_MODULES).map((m) => m.load()));
}

function buildProgram(registrations: readonly Register[]): Command {
  const program = new Command('btf-atlas')
    .description('Index and diff Linux kernel BTF across kernels')
    .version(`btf-atlas ${VERSION}`, '-V, --version', 'print the version and exit')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('dump')
    .description('print the types of FILE (raw BTF, ELF with .BTF, gzip/xz, .btf.tar.xz) as bpftool does')
    .argument('<file>', 'BTF input')
    .option('-B, --base <file>', 'base BTF for split (module) BTF, like bpftool -B')
    .option('-j, --json', 'JSON output exactly as `bpftool -j btf dump file FILE format raw` (default: its plain text)')
    .option('--format <format>', 'raw, or c for a compilable C header (vmlinux.h) like `bpftool btf dump file FILE format c`', 'raw')
    .option('--attribute-type-tags', 'with --format c: spell attribute type tags (kind_flag, e.g. address_space(1)) as libbpf 1.6+ does, __attribute__((address_space(1))), instead of bpftool 7.5\'s btf_type_tag("…")')
    .action(async (file: string, opts: { base?: string; json?: boolean; format: string; attributeTypeTags?: boolean }) => {
      if (opts.format !== 'raw' && opts.format !== 'c') throw new CommanderError(EXIT_USAGE, 'usage', `unsupported --format ${opts.format} (raw or c)`);
      // like bpftool: "JSON output for C-syntax dump is not supported"
      if (opts.format === 'c' && opts.json) throw new CommanderError(EXIT_USAGE, 'usage', '--json is not supported with --format c');
      if (opts.attributeTypeTags && opts.format !== 'c') throw new CommanderError(EXIT_USAGE, 'usage', '--attribute-type-tags goes with --format c');
      const base = opts.base ? await loadBtfFile(opts.base) : undefined;
      const btf = await loadBtfFile(file, base);
      // Only the formatter asked for is loaded (vmlinux.h's is the largest module of libs/btf).
      if (opts.format === 'c') {
        const { dumpC } = await import('@btf-atlas/btf/dump-c');
        await writeOut(dumpC(btf, { typeTagAttributes: opts.attributeTypeTags === true }));
      } else if (opts.json) (await import('@btf-atlas/btf/dump-json')).writeRawJson(btf, writeStdoutSync);
      else await writeOut((await import('@btf-atlas/btf/dump-text')).dumpRawText(btf));
    });

  for (const register of registrations) register(program);
  return program;
}

/** A BtfError, recognized without loading libs/btf (`--help` and the catalog commands never load it). */
export function isBtfError(err: unknown): err is BtfError {
  return err instanceof Error && err.name === 'BtfError' && typeof (err as { code?: unknown }).code === 'string';
}

/** A CatalogError, recognized without loading the catalog library (dump and validate never load it). */
function isCatalogError(err: unknown): err is Error & { code: string; suggestions: string[] } {
  return err instanceof Error && err.name === 'CatalogError' && typeof (err as { code?: unknown }).code === 'string';
}

/** Runs the CLI; returns the exit code. Never throws. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram(await commandRegistrations(argv));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    if (err instanceof QuietExit) return err.exitCode;
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return EXIT_OK;
      if (err.code === 'usage') process.stderr.write(`btf-atlas: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (isBtfError(err) || err instanceof CliError || isCatalogError(err)) {
      const code = err instanceof CliError && err.code === 'CLI_ERROR' ? '' : `${err.code}: `;
      const hint = isCatalogError(err) && err.suggestions.length > 0 ? ` (did you mean ${err.suggestions.join(', ')}?)` : '';
      process.stderr.write(`btf-atlas: ${code}${err.message}${hint}\n`);
      return EXIT_BAD_INPUT;
    }
    process.stderr.write(`btf-atlas: internal error: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT_BAD_INPUT;
  }
}
