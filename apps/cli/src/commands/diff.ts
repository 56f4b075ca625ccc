import { once } from 'node:events';
import { CommanderError, type Command } from '../commander.js';
import type { DiffChange, DiffFilter, DiffView, KernelDiff } from '@btf-atlas/diff';
import { existingCatalogPath } from '../config.js';

async function write(text: string): Promise<void> {
  await new Promise<void>((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));
}

/** Writes chunks to stdout as they come, waiting for `drain` when the reader is slower (backpressure). */
async function writeChunks(chunks: Iterable<string>): Promise<void> {
  for (const chunk of chunks) {
    if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
  }
  await write('');
}

/** `before`/`after` of a change in a few words. */
function state(c: DiffChange, s: Record<string, unknown>): string {
  switch (c.change) {
    case 'offset':
      return `${String(s.offset)}${Number(s.bits_offset) % 8 ? ` (bit ${String(s.bits_offset)})` : ''}`;
    case 'size':
      return String(s.size);
    case 'bitfield':
      return s.bitfield_size ? `:${String(s.bitfield_size)}` : 'not a bitfield';
    case 'value':
      return String(s.value);
    case 'type':
      return 'signed' in s ? (s.signed ? 'signed' : 'unsigned') : `${String(s.type)} (${String(s.size)} bytes)`;
    case 'signature':
      return signatureText(c, s);
    case 'linkage':
      return String(s.linkage);
    case 'kfunc':
      return s.kfunc ? 'kfunc' : 'not a kfunc';
    case 'tags':
      return `[${(s.decl_tags as string[]).join(', ')}]${s.param_tags ? ` params [${(s.param_tags as string[][]).map((t) => t.join(' ')).join(', ')}]` : ''}`;
    default:
      return '';
  }
}

function signatureText(c: DiffChange, s: Record<string, unknown>): string {
  const params = (s.params as { name: string; type: string }[]).map((p) => (p.name ? `${p.type}${p.type.endsWith('*') ? '' : ' '}${p.name}` : p.type));
  if (s.variadic) params.push('...');
  return `${String(s.ret)} ${c.name}(${params.join(', ') || 'void'})`;
}

/** What a member or type looks like when it is added or removed. */
function presence(c: DiffChange, s: Record<string, unknown>): string {
  if (c.member !== undefined) {
    if (c.kind === 'enum') return `= ${String(s.value)}`;
    return `${String(s.type)} at ${String(s.offset)}${s.bitfield_size ? `:${String(s.bitfield_size)} (bit ${String(s.bits_offset)})` : ''}, ${String(s.size)} bytes`;
  }
  // A name that appears or vanishes with several definitions: the first one, and how many there are.
  const several = typeof s.count === 'number' && s.count > 1 ? ` (${s.count} definitions)` : '';
  if (c.kind === 'func') return `${signatureText(c, s)}${several}`;
  if (c.kind === 'typedef') return `${String(s.type)}${several}`;
  return `${String(s.size)} bytes${several}`;
}

/** One line per change: what, where, before → after, and why it has its severity. */
export function formatChange(c: DiffChange): string {
  const where = `${c.kind} ${c.name}${c.member !== undefined ? `.${c.member}` : ''}${c.module ? ` [${c.module}]` : ''}`;
  let what: string;
  if (c.change === 'added') what = `added: ${presence(c, c.after)}`;
  else if (c.change === 'removed') what = `removed: ${presence(c, c.before)}`;
  else what = `${c.change}: ${state(c, c.before)} → ${state(c, c.after)}`;
  const rename = c.probable_rename ? ` (probably renamed ${c.change === 'removed' ? 'to' : 'from'} ${c.probable_rename})` : '';
  return `  ${where}  ${what}${rename}  -- ${c.reason}`;
}

const SEVERITY_ORDER = ['breaking', 'layout', 'additive'] as const;
const KIND_ORDER = ['struct', 'union', 'enum', 'func', 'typedef'] as const;

const counts = (s: { breaking: number; layout: number; additive: number }): string => `${s.breaking} breaking, ${s.layout} layout, ${s.additive} additive`;

/** The filters as the user would write them: `severity=breaking,layout kind=struct name=sk_*`. */
export function filterText(f: DiffFilter): string {
  const parts: string[] = [];
  if (f.severity) parts.push(`severity=${f.severity.join(',')}`);
  if (f.kind) parts.push(`kind=${f.kind.join(',')}`);
  if (f.name !== undefined) parts.push(`name=${f.name}`);
  return parts.join(' ');
}

/**
 * The text of `diff`, line by line (each ending in `\n`): a summary line, then the changes grouped by severity,
 * one line each, then the names not compared. With filters the summary line names them and the whole diff's
 * counts; with `--summary` the changes are counted per kind instead of listed, and the names not compared counted.
 */
export function* diffTextLines(d: DiffView): Generator<string> {
  const s = d.summary;
  const filtered = d.filters ? `  (filtered: ${filterText(d.filters)}; whole diff: ${counts(s.total ?? s)})` : '';
  yield `${d.from} → ${d.to}: ${counts(s)}${filtered}\n`;
  if (s.kinds) {
    yield '\nby kind:\n';
    for (const kind of KIND_ORDER) yield `  ${kind}: ${counts(s.kinds[kind])}\n`;
  }
  if (d.changes) {
    for (const severity of SEVERITY_ORDER) {
      const n = s[severity];
      if (n === 0) continue;
      yield `\n${severity} (${n}):\n`;
      for (const c of d.changes) if (c.severity === severity) yield `${formatChange(c)}\n`;
    }
  }
  if (d.ambiguous.length > 0 && !d.changes) {
    // --summary: counts only.
    yield `\nnot compared, defined more than once: ${d.ambiguous.length}\n`;
  } else if (d.ambiguous.length > 0) {
    yield `\nnot compared, defined more than once (${d.ambiguous.length}):\n`;
    for (const a of d.ambiguous) yield `  ${a.kind} ${a.name}${a.module ? ` [${a.module}]` : ''}  ${a.old_count} → ${a.new_count} definitions\n`;
  }
}

/** The text of `diff` as one string (see {@link diffTextLines}). */
export function formatDiffText(d: KernelDiff | DiffView): string {
  return [...diffTextLines(d)].join('');
}

interface DiffOptions {
  db?: string;
  json?: boolean;
  ndjson?: boolean;
  vmlinuxOnly?: boolean;
  severity?: string;
  kind?: string;
  name?: string;
  summary?: boolean;
}

/** `diff KREF_A KREF_B`: every layout change between two kernels, classified (contract). */
export function registerDiffCommand(program: Command): void {
  program
    .command('diff')
    .description('every layout change between two kernels, classified breaking / layout / additive for CO-RE')
    .argument('<kref_a>', 'the old kernel, DISTRO/RELEASE/ARCH/UNAME_R')
    .argument('<kref_b>', 'the new kernel, DISTRO/RELEASE/ARCH/UNAME_R')
    .option('--db <file>', 'catalog file (default $BTF_ATLAS_DB or ./data/atlas.db)')
    .option('--vmlinux-only', 'compare vmlinux types only (default: also the modules ingested with both kernels)')
    .option('--severity <list>', 'only changes of these severities: breaking, layout, additive (comma-separated)')
    .option('--kind <list>', 'only types of these kinds: struct, union, enum, func, typedef (comma-separated)')
    .option('--name <glob>', "only types whose name matches this shell glob (*, ?, [abc]; quote it: 'sk_*')")
    .option('--summary', 'only the counts, per severity and per kind; no change list')
    .option('--json', 'JSON output')
    .option('--ndjson', 'NDJSON output, streamed: a header line {from,to,filters}, one line per change, then {summary,ambiguous}')
    .action(async (krefA: string, krefB: string, opts: DiffOptions) => {
      if (opts.json && opts.ndjson) throw new CommanderError(2, 'usage', '--json and --ndjson do not go together');
      // Loaded here, not at start-up: `dump` and `validate` never load the catalog.
      const diffLib = await import('@btf-atlas/diff');
      let filter: DiffFilter;
      try {
        filter = diffLib.parseDiffFilter({ severity: opts.severity, kind: opts.kind, name: opts.name });
      } catch (err) {
        if (err instanceof diffLib.DiffFilterError) throw new CommanderError(2, 'usage', `--${err.param}: ${err.message}`);
        throw err;
      }
      const path = existingCatalogPath(opts.db);
      const catalogLib = await import('@btf-atlas/catalog/read');
      const catalog = catalogLib.openCatalog(path);
      try {
        const d = diffLib.diffKernels(catalog, krefA, krefB, { modules: opts.vmlinuxOnly ? 'none' : 'common' });
        const view = diffLib.filterDiff(d, filter, { summary: opts.summary });
        if (opts.json) await write(`${JSON.stringify(view, null, 2)}\n`);
        else await writeChunks(diffLib.chunked(opts.ndjson ? diffLib.ndjsonLines(view) : diffTextLines(view)));
      } finally {
        catalog.close();
      }
    });
}
