import type { Command } from 'commander';
import type { DiffChange, KernelDiff } from '@btf-atlas/diff';
import { existingCatalogPath } from '../config.js';

async function write(text: string): Promise<void> {
  await new Promise<void>((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));
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
  if (c.kind === 'func') return signatureText(c, s);
  if (c.kind === 'typedef') return String(s.type);
  return `${String(s.size)} bytes`;
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

/** The text of `diff`: a summary line, then the changes grouped by severity, one line each. */
export function formatDiffText(d: KernelDiff): string {
  const out = [`${d.from} → ${d.to}: ${d.summary.breaking} breaking, ${d.summary.layout} layout, ${d.summary.additive} additive`];
  for (const severity of ['breaking', 'layout', 'additive'] as const) {
    const list = d.changes.filter((c) => c.severity === severity);
    if (list.length === 0) continue;
    out.push('', `${severity} (${list.length}):`, ...list.map(formatChange));
  }
  if (d.ambiguous.length > 0) {
    out.push('', `not compared, defined more than once (${d.ambiguous.length}):`);
    for (const a of d.ambiguous) out.push(`  ${a.kind} ${a.name}${a.module ? ` [${a.module}]` : ''}  ${a.old_count} → ${a.new_count} definitions`);
  }
  return `${out.join('\n')}\n`;
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
    .option('--json', 'JSON output')
    .action(async (krefA: string, krefB: string, opts: { db?: string; json?: boolean; vmlinuxOnly?: boolean }) => {
      // Loaded here, not at start-up: `dump` and `validate` never load the catalog.
      const path = existingCatalogPath(opts.db);
      const [catalogLib, diffLib] = await Promise.all([import('@btf-atlas/catalog'), import('@btf-atlas/diff')]);
      const catalog = catalogLib.openCatalog(path);
      try {
        const d = diffLib.diffKernels(catalog, krefA, krefB, { modules: opts.vmlinuxOnly ? 'none' : 'common' });
        await write(opts.json ? `${JSON.stringify(d, null, 2)}\n` : formatDiffText(d));
      } finally {
        catalog.close();
      }
    });
}
