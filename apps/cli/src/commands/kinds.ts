import { CommanderError, type Command } from '../commander.js';
import { existingCatalogPath } from '../config.js';
import {
  formatEnumeratorHistoryText, formatEnumeratorInKernelText, formatEnumHistoryText, formatEnumInKernelText, formatFuncHistoryText,
  formatFuncInKernelText, formatSearchText, formatSyscallHistoryText, formatSyscallInKernelText, formatTracepointHistoryText,
  formatTracepointInKernelText,
} from '../kinds-text.js';

async function write(text: string): Promise<void> {
  await new Promise<void>((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));
}

/** The options of every kind command. */
interface KindOptions {
  db?: string;
  kernel?: string;
  history?: boolean;
  distro?: string;
  release?: string;
  arch?: string;
  json?: boolean;
}

/** The libraries a kind command reads with, loaded only when one runs (libs/diff only for a history). */
type ReadLib = typeof import('@btf-atlas/catalog/read');
type DiffLib = typeof import('@btf-atlas/diff');
type Catalog = ReturnType<ReadLib['openCatalog']>;
type Filter = { distro?: string; release?: string; arch?: string };

/** An answer: its JSON (what `--json` prints) and its text. */
interface Answer {
  json: unknown;
  text: () => string;
}

/** One kind's command: its name and argument, and how its two answers (history, one kernel) are read and printed. */
interface KindCommand {
  name: string;
  argument: string;
  description: string;
  history: (diff: DiffLib, catalog: Catalog, name: string, f: Filter) => Answer;
  inKernel: (lib: ReadLib, catalog: Catalog, name: string, kref: string) => Answer;
}

const KINDS: readonly KindCommand[] = [
  {
    name: 'func',
    argument: 'function name, e.g. bpf_arena_alloc_pages',
    description: "a function's prototype (return and parameters with names and C types), linkage, kfunc flag and decl tags, module: in one kernel, or across the catalog's kernels with what changed",
    history: (diff, catalog, name, f) => {
      const h = diff.funcHistory(catalog, name, f);
      return { json: h, text: () => formatFuncHistoryText(h) };
    },
    inKernel: (lib, catalog, name, kref) => {
      const a = lib.funcInKernel(catalog, name, kref);
      return { json: a, text: () => formatFuncInKernelText(a) };
    },
  },
  {
    name: 'tracepoint',
    argument: 'tracepoint name, e.g. sched_switch (or btf_trace_sched_switch)',
    description: "a tracepoint's raw prototype (typedef btf_trace_NAME; its first parameter is the void * context) and event record (struct trace_event_raw_NAME): in one kernel, or across the catalog's kernels",
    history: (diff, catalog, name, f) => {
      const h = diff.tracepointHistory(catalog, name, f);
      return { json: h, text: () => formatTracepointHistoryText(h) };
    },
    inKernel: (lib, catalog, name, kref) => {
      const a = lib.tracepointInKernel(catalog, name, kref);
      return { json: a, text: () => formatTracepointInKernelText(a) };
    },
  },
  {
    name: 'syscall',
    argument: 'syscall name, e.g. openat (or one of its functions, __x64_sys_openat)',
    description: "which kernels and arches have the syscall's BTF functions (__x64_sys_NAME, __arm64_sys_NAME, sys_NAME, …; compat wrappers apart)",
    history: (diff, catalog, name, f) => {
      const h = diff.syscallHistory(catalog, name, f);
      return { json: h, text: () => formatSyscallHistoryText(h) };
    },
    inKernel: (lib, catalog, name, kref) => {
      const a = lib.syscallInKernel(catalog, name, kref);
      return { json: a, text: () => formatSyscallInKernelText(a) };
    },
  },
  {
    name: 'enum',
    argument: 'enum name, e.g. bpf_map_type (or enum bpf_map_type)',
    description: "an enum's size and values: in one kernel, or across the catalog's kernels with what changed (the type history, enums only)",
    history: (diff, catalog, name, f) => {
      const h = diff.enumHistory(catalog, name, f);
      return { json: h, text: () => formatEnumHistoryText(h) };
    },
    inKernel: (lib, catalog, name, kref) => {
      const a = lib.enumInKernel(catalog, name, kref);
      return { json: a, text: () => formatEnumInKernelText(a) };
    },
  },
  {
    name: 'enumerator',
    argument: 'enumerator name, e.g. BPF_MAP_TYPE_ARENA',
    description: "an enumerator's value and the enum holding it (named or anonymous, with its first enumerator): in one kernel, or across the catalog's kernels with what changed",
    history: (diff, catalog, name, f) => {
      const h = diff.enumeratorHistory(catalog, name, f);
      return { json: h, text: () => formatEnumeratorHistoryText(h) };
    },
    inKernel: (lib, catalog, name, kref) => {
      const a = lib.enumeratorInKernel(catalog, name, kref);
      return { json: a, text: () => formatEnumeratorInKernelText(a) };
    },
  },
];

function registerKind(program: Command, k: KindCommand): void {
  program
    .command(k.name)
    .description(k.description)
    .argument('<name>', k.argument)
    .option('--kernel <kref>', 'DISTRO/RELEASE/ARCH/UNAME_R: that kernel\'s definitions only')
    .option('--history', "across the catalog's kernels, and where it changed (the default without --kernel)")
    .option('--arch <arch>', 'with --history: only this architecture')
    .option('--distro <distro>', 'with --history: only this distro')
    .option('--release <release>', 'with --history: only this release')
    .option('--db <file>', 'catalog file (default $BTF_ATLAS_DB or ./data/atlas.db)')
    .option('--json', 'JSON output')
    .action(async (name: string, opts: KindOptions) => {
      if (opts.kernel !== undefined && opts.history) throw new CommanderError(2, 'usage', '--kernel and --history do not go together');
      if (opts.kernel !== undefined && (opts.arch ?? opts.distro ?? opts.release) !== undefined) {
        throw new CommanderError(2, 'usage', '--arch, --distro and --release go with --history');
      }
      const path = existingCatalogPath(opts.db);
      const lib = await import('@btf-atlas/catalog/read');
      const catalog = lib.openCatalog(path);
      try {
        const answer = opts.kernel !== undefined
          ? k.inKernel(lib, catalog, name, opts.kernel)
          : k.history(await import('@btf-atlas/diff'), catalog, name, { distro: opts.distro, release: opts.release, arch: opts.arch });
        await write(opts.json ? `${JSON.stringify(answer.json, null, 2)}\n` : answer.text());
      } finally {
        catalog.close();
      }
    });
}

/** `func`, `tracepoint`, `syscall`, `enum`, `enumerator` and `search`: the catalog's answers about kinds other than structs. */
export function registerKindCommands(program: Command): void {
  for (const k of KINDS) registerKind(program, k);

  program
    .command('search')
    .description('names of every kind (struct, union, enum, typedef, func, kfunc, tracepoint, syscall, enumerator) matching TEXT: the name itself, names starting with it, then close names; field paths completed segment by segment (STRUCT.MEMBER...) and kernels (KREF or uname -r) first; each with its kinds and how many kernels have it')
    .argument('<text>', 'the start of a name, a field path or a kernel, or a name with a typo')
    .option('--kind <kinds>', 'only these kinds, comma-separated (struct, union, enum, typedef, func, kfunc, tracepoint, syscall, enumerator, field, kernel)')
    .option('--limit <n>', 'at most this many names (default 20, at most 200)', (v) => {
      if (!/^\d+$/.test(v)) throw new CommanderError(2, 'usage', `--limit takes a whole number, not ${JSON.stringify(v)}`);
      return Number(v);
    })
    .option('--db <file>', 'catalog file (default $BTF_ATLAS_DB or ./data/atlas.db)')
    .option('--json', 'JSON output')
    .action(async (text: string, opts: { kind?: string; limit?: number; db?: string; json?: boolean }) => {
      const path = existingCatalogPath(opts.db);
      const lib = await import('@btf-atlas/catalog/read');
      const catalog = lib.openCatalog(path);
      try {
        const kinds = opts.kind?.split(',').map((s) => s.trim()).filter((s) => s !== '');
        const answer = lib.searchNames(catalog, text, { kinds, limit: opts.limit });
        await write(opts.json ? `${JSON.stringify(answer, null, 2)}\n` : formatSearchText(answer));
      } finally {
        catalog.close();
      }
    });
}
