import { renameSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import { CommanderError, type Command } from '../commander.js';
import type { CoreCheckAnswer, KernelCheckJson, KernelSelection, BpfObjectInput } from '@btf-atlas/dryrun';
import { existingCatalogPath } from '../config.js';
import { CliError } from '../errors.js';

async function write(text: string): Promise<void> {
  await new Promise<void>((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));
}

interface SelectionFlags {
  kernel?: string;
  arch?: string;
  distro?: string;
  release?: string;
}

/** The kernel selection of the flags; `--kernel` with a filter is a usage error (exit 2). */
function selectionOf(opts: SelectionFlags): KernelSelection {
  if (opts.kernel !== undefined && (opts.arch ?? opts.distro ?? opts.release) !== undefined) {
    throw new CommanderError(2, 'usage', '--kernel and --arch/--distro/--release do not go together');
  }
  return { kernel: opts.kernel, arch: opts.arch, distro: opts.distro, release: opts.release };
}

/**
 * Reads the object files under the dry run's object cap, through the CLI's one capped file reader: a regular file
 * over it is refused before reading, a FIFO or device is read in chunks and refused once past it (one readable line).
 */
async function readObjects(paths: readonly string[]): Promise<BpfObjectInput[]> {
  const { MAX_OBJECT_BYTES } = await import('@btf-atlas/dryrun');
  const { readInputFile } = await import('./validate.js');
  const out: BpfObjectInput[] = [];
  for (const path of paths) out.push({ name: path, bytes: await readInputFile(path, MAX_OBJECT_BYTES) });
  return out;
}

/** libs/core's and libs/dryrun's coded errors as the CLI's one line (`CODE: message`, exit 1). */
function asCliError(err: unknown): unknown {
  if (err instanceof Error && (err.name === 'CoreError' || err.name === 'DryRunError')) {
    return new CliError(err.message, (err as Error & { code: string }).code);
  }
  return err;
}

/** Columns padded to their widest cell, two spaces apart. */
function table(rows: readonly string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n') + '\n';
}

/** Why the programs of one kernel are not `ok`: program, relocation, spec, why, and where the field's history is. */
function explain(k: KernelCheckJson): string[] {
  const lines: string[] = [];
  for (const r of k.reasons) {
    lines.push(`  object fails: ${r.message}`);
    const relo = r.relocation !== undefined ? k.relocations.find((x) => x.section === r.section && x.idx === r.relocation) : undefined;
    if (relo?.field) lines.push(`      history: ${relo.field.command}`);
  }
  for (const p of k.programs) {
    if (p.verdict === 'ok') continue;
    for (const r of p.reasons) {
      if (r.verdict === 'ok' || (p.verdict === 'fails' && r.verdict === 'fails' && k.reasons.length > 0)) continue;
      const relo = r.relocation !== undefined ? k.relocations.find((x) => x.section === r.section && x.idx === r.relocation) : undefined;
      let head = `  ${p.name} ${r.verdict}`;
      if (relo) {
        head += `: relocation #${relo.idx} ${relo.kind} ${relo.local?.spec ?? '(no local spec)'} (${relo.status}, insn #${relo.insn}${relo.reachable ? ', reachable' : ', unreachable'})`;
      } else {
        head += `: ${r.kind}${r.extern !== undefined ? ` ${r.extern}` : ''}`;
      }
      lines.push(head);
      lines.push(`      ${r.message}`);
      if (relo?.field) lines.push(`      history: ${relo.field.command}`);
    }
  }
  return lines;
}

/**
 * `core-check` as text: the object, a table of kernels × programs with verdicts, where verdicts change (per series,
 * then each program's timeline), then every kernel's failures explained (kernels with the same explanation
 * together), and what was not checked.
 */
export function formatCoreCheckText(a: CoreCheckAnswer): string {
  const o = a.object;
  let out = `${o.name} (sha256 ${o.sha256.slice(0, 12)}…): ${o.programs.length} program(s), ${o.relocations} co-re relocation(s); ${a.kernels.length} kernel(s)\n\n`;
  const progs = o.programs.map((p) => p.name);
  const rows = [['kernel', 'verdict', ...progs]];
  for (const k of a.kernels) rows.push([k.kernel, k.verdict, ...progs.map((n) => k.programs.find((p) => p.name === n)?.verdict ?? '-')]);
  out += table(rows);
  if (a.changes.length > 0) {
    out += '\nchanges within a series:\n';
    for (const c of a.changes) out += `  ${c.series}: ${c.text}\n`;
  }
  const moving = a.timelines.filter((t) => t.timeline.some((l) => l.spans.length > 1));
  if (moving.length > 0) {
    out += '\ntimeline:\n';
    for (const t of moving) out += `  ${t.summary}\n`;
  }
  const blocks: { kernels: string[]; lines: string[] }[] = [];
  for (const k of a.kernels) {
    const lines = explain(k);
    if (lines.length === 0) continue;
    const last = blocks[blocks.length - 1];
    if (last && last.lines.join('\n') === lines.join('\n')) last.kernels.push(k.kernel);
    else blocks.push({ kernels: [k.kernel], lines });
  }
  if (blocks.length > 0) {
    out += '\nfailures:\n';
    for (const b of blocks) out += `${b.kernels.join(', ')}:\n${b.lines.join('\n')}\n`;
  }
  out += `\nnot checked: ${a.not_checked.join(', ')}\n`;
  return out;
}

/** Writes bytes to `path` atomically (temp file + rename). */
function writeAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (err) {
    throw new CliError(`cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'FILE_UNWRITABLE');
  }
}

const SELECTION_HELP = {
  kernel: 'one kernel: DISTRO/RELEASE/ARCH/UNAME_R',
  arch: 'only kernels of this architecture',
  distro: 'only kernels of this distro',
  release: 'only kernels of this release',
} as const;

/** `core-check` and `core-min-btf`: the CO-RE dry run of BPF objects over the catalog's kernels. */
export function registerCoreCommands(program: Command): void {
  program
    .command('core-check')
    .description("CO-RE dry run: each BPF object's relocations as libbpf 1.7 decides them, and a verdict per program (ok, guarded, breaks, fails), on the catalog's kernels; exit 0 whatever the verdicts")
    .argument('<obj...>', 'BPF object files (.bpf.o)')
    .option('--kernel <kref>', SELECTION_HELP.kernel)
    .option('--arch <arch>', SELECTION_HELP.arch)
    .option('--distro <distro>', SELECTION_HELP.distro)
    .option('--release <release>', SELECTION_HELP.release)
    .option('--no-modules', "search only vmlinux btf (libbpf's btf_custom_path), not the kernels' ingested module btf")
    .option('--db <file>', 'catalog file (default $BTF_ATLAS_DB or ./data/atlas.db)')
    .option('--json', 'JSON output: one answer for one object, an array of answers for several')
    .action(async (objs: string[], opts: SelectionFlags & { modules: boolean; db?: string; json?: boolean }) => {
      const selection = selectionOf(opts);
      const path = existingCatalogPath(opts.db);
      const inputs = await readObjects(objs);
      const { openCatalog } = await import('@btf-atlas/catalog/read');
      const { coreCheck } = await import('@btf-atlas/dryrun');
      const catalog = openCatalog(path, { readonly: true });
      try {
        const answers = await coreCheck(catalog, inputs, selection, { modules: opts.modules }).catch((err: unknown) => {
          throw asCliError(err);
        });
        if (opts.json) await write(`${JSON.stringify(answers.length === 1 ? answers[0] : answers, null, 2)}\n`);
        else await write(answers.map(formatCoreCheckText).join('\n'));
      } finally {
        catalog.close();
      }
    });

  program
    .command('core-min-btf')
    .description('minimized BTF of BPF objects for each selected kernel (as `bpftool gen min_core_btf`), laid out as btfhub-archive: DISTRO/RELEASE/ARCH/UNAME_R.btf in a folder, or in one reproducible .tar.xz')
    .argument('<obj...>', 'BPF object files (.bpf.o)')
    .requiredOption('--out <dir|file.tar.xz>', 'a folder, or a file ending in .tar.xz')
    .option('--kernel <kref>', SELECTION_HELP.kernel)
    .option('--arch <arch>', SELECTION_HELP.arch)
    .option('--distro <distro>', SELECTION_HELP.distro)
    .option('--release <release>', SELECTION_HELP.release)
    .option('--no-modules', "keep only vmlinux types, not those the relocations matched in the kernels' module btf")
    .option('--skip-failed', 'leave out kernels the objects cannot be relocated on (listed on stderr) instead of failing')
    .option('--db <file>', 'catalog file (default $BTF_ATLAS_DB or ./data/atlas.db)')
    .action(async (objs: string[], opts: SelectionFlags & { out: string; modules: boolean; skipFailed?: boolean; db?: string }) => {
      const selection = selectionOf(opts);
      const path = existingCatalogPath(opts.db);
      const inputs = await readObjects(objs);
      const { openCatalog } = await import('@btf-atlas/catalog/read');
      const dryrun = await import('@btf-atlas/dryrun');
      const catalog = openCatalog(path, { readonly: true });
      try {
        const { files, failed } = await dryrun.coreMinBtf(catalog, inputs, selection, { modules: opts.modules, skipFailed: opts.skipFailed }).catch((err: unknown) => {
          throw asCliError(err);
        });
        for (const f of failed) process.stderr.write(`btf-atlas: skipped ${f.kernel}: ${f.code}: ${f.message}\n`);
        if (opts.out.endsWith('.tar.xz')) {
          writeAtomic(opts.out, await dryrun.minBtfTarXz(files));
          await write(`${basename(opts.out)}: ${files.length} kernel(s)\n${files.map((f) => `  ${f.path} (${f.bytes.length} bytes)\n`).join('')}`);
        } else {
          let written: string[];
          try {
            written = dryrun.writeMinBtfTree(opts.out, files);
          } catch (err) {
            throw asCliError(err);
          }
          await write(written.map((p, i) => `${p} (${files[i].bytes.length} bytes)\n`).join(''));
        }
      } finally {
        catalog.close();
      }
    });
}
