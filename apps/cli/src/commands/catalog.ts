import { CommanderError, type Command } from '../commander.js';
import { CliError } from '../errors.js';
import { catalogPath, existingCatalogPath } from '../config.js';
import { formatTypeText, formatFieldText, formatTypeHistoryText } from '../text.js';

async function writeJson(value: unknown): Promise<void> {
  await new Promise<void>((resolve, reject) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`, (e) => (e ? reject(e) : resolve())));
}

async function writeText(text: string): Promise<void> {
  await new Promise<void>((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));
}

/** Opens an existing catalog (applying migrations); the catalog library loads only for commands that need it. */
async function open(dbFlag?: string) {
  const path = existingCatalogPath(dbFlag);
  const lib = await import('@btf-atlas/catalog/read');
  const catalog = lib.openCatalog(path);
  return { lib, catalog };
}

/** `kernels`, `field`, `type`: the catalog's read commands (contract); and `worker`. */
export function registerCatalogCommands(program: Command): void {
  program
    .command('worker')
    .description('run a queue worker: take ingest and scan jobs from Redis (REDIS_URL) into the catalog')
    .option('--db <file>', 'catalog file (default $BTF_ATLAS_DB or ./data/atlas.db)')
    .option('--concurrency <n>', 'jobs at once in this process', (v) => Number(v))
    .action(async (opts: { db?: string; concurrency?: number }) => {
      const q = await import('@btf-atlas/queue');
      let cfg;
      try {
        cfg = q.workerConfigFromEnv(process.env, { dbPath: opts.db ? catalogPath(opts.db) : undefined, concurrency: opts.concurrency });
      } catch (err) {
        throw new CliError((err as Error).message, 'CONFIG');
      }
      await q.runWorker(cfg);
    });

  program
    .command('kernels')
    .description("list the catalog's kernels in kernel order, and those whose ingest failed (with the reason)")
    .option('--db <file>', 'catalog file (default $BTF_ATLAS_DB or ./data/atlas.db)')
    .option('--distro <distro>')
    .option('--release <release>')
    .option('--arch <arch>')
    .option('--json', 'JSON output')
    .action(async (opts: { db?: string; distro?: string; release?: string; arch?: string; json?: boolean }) => {
      const { lib, catalog } = await open(opts.db);
      try {
        const kernels = lib.listKernelStates(catalog, { distro: opts.distro, release: opts.release, arch: opts.arch });
        if (opts.json) await writeJson({ kernels });
        else {
          const line = (k: (typeof kernels)[number]): string =>
            k.state === 'failed' ? `${k.kernel}\tfailed: ${k.failure.code}: ${k.failure.message}\n` : `${k.kernel}\t${k.types} types\n`;
          await writeText(kernels.map(line).join('') || 'no kernels in the catalog (run btf-atlas ingest)\n');
        }
      } finally {
        catalog.close();
      }
    });

  program
    .command('failures')
    .description('inputs that failed to ingest, newest first, with their reasons')
    .option('--db <file>', 'catalog file')
    .option('--limit <n>', 'how many', (v) => Number(v), 100)
    .option('--json', 'JSON output')
    .action(async (opts: { db?: string; limit: number; json?: boolean }) => {
      const { lib, catalog } = await open(opts.db);
      try {
        const failures = lib.listFailures(catalog, opts.limit);
        if (opts.json) await writeJson({ failures });
        else await writeText(failures.map((f) => `${f.failed_at}  ${f.kernel ?? f.source}  ${f.code}: ${f.message}\n`).join('') || 'no failed ingests\n');
      } finally {
        catalog.close();
      }
    });

  program
    .command('field')
    .description("a field's history across the catalog's kernels, and where it changed")
    .argument('<field_path>', 'STRUCT.MEMBER[.MEMBER...], e.g. pt_regs.di or task_struct.se.vruntime')
    .option('--db <file>', 'catalog file')
    .option('--arch <arch>')
    .option('--distro <distro>')
    .option('--release <release>')
    .option('--json', 'JSON output')
    .action(async (fieldPath: string, opts: { db?: string; distro?: string; release?: string; arch?: string; json?: boolean }) => {
      const { catalog } = await open(opts.db);
      try {
        const { fieldHistory } = await import('@btf-atlas/diff');
        const history = fieldHistory(catalog, fieldPath, opts);
        if (opts.json) await writeJson(history);
        else await writeText(formatFieldText(history));
      } finally {
        catalog.close();
      }
    });

  program
    .command('type')
    .description("one struct/union/enum layout in one kernel, as `pahole -C NAME` prints it; --flat: flattened members; --history: across kernels")
    .argument('<name>', 'type name (struct NAME, union NAME, enum NAME, or NAME)')
    .option('--kernel <kref>', 'DISTRO/RELEASE/ARCH/UNAME_R (required without --history)')
    .option('--history', "the type's size and members across the catalog's kernels, and where they changed")
    .option('--arch <arch>', 'with --history: only this architecture')
    .option('--distro <distro>', 'with --history: only this distro')
    .option('--release <release>', 'with --history: only this release')
    .option('--flat', 'with --kernel: the flattened members (unnamed structs and unions opened, offsets absolute) instead of pahole\'s text')
    .option('--all', 'with --kernel: every definition of the name (vmlinux, then modules), where pahole prints the first')
    .option('--db <file>', 'catalog file')
    .option('--json', 'JSON output')
    .action(async (name: string, opts: { db?: string; kernel?: string; history?: boolean; distro?: string; release?: string; arch?: string; json?: boolean; flat?: boolean; all?: boolean }) => {
      if (opts.history && opts.kernel !== undefined) throw new CommanderError(2, 'usage', '--kernel and --history do not go together');
      if (!opts.history && opts.kernel === undefined) throw new CommanderError(2, 'usage', "required option '--kernel <kref>' not specified (or pass --history)");
      if (!opts.history && (opts.arch ?? opts.distro ?? opts.release) !== undefined) throw new CommanderError(2, 'usage', '--arch, --distro and --release go with --history');
      if (opts.history && (opts.flat || opts.all)) throw new CommanderError(2, 'usage', '--flat and --all go with --kernel');
      const { lib, catalog } = await open(opts.db);
      try {
        if (opts.history) {
          const { typeHistory } = await import('@btf-atlas/diff');
          const history = typeHistory(catalog, name, { distro: opts.distro, release: opts.release, arch: opts.arch });
          if (opts.json) await writeJson(history);
          else await writeText(formatTypeHistoryText(history));
          return;
        }
        if (opts.json || opts.flat) {
          const layout = lib.typeLayout(catalog, name, opts.kernel as string);
          if (opts.json) await writeJson(layout);
          else await writeText(formatTypeText(layout));
          return;
        }
        // pahole's own text, from the kernel's stored BTF (libs/btf loads only for this).
        const { typeText } = await import('@btf-atlas/catalog/type-text');
        await writeText(await typeText(catalog, name, opts.kernel as string, { all: opts.all === true }));
      } finally {
        catalog.close();
      }
    });
}
