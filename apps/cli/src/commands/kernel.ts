import { CommanderError, type Command } from '../commander.js';
import type { KernelSummary } from '@btf-atlas/catalog/kernel-summary';
import { existingCatalogPath } from '../config.js';

async function write(text: string): Promise<void> {
  await new Promise<void>((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));
}

type Counts = KernelSummary['modules'][number];

/** The table's columns: heading and count. */
const COLUMNS: readonly [string, (s: Counts) => number][] = [
  ['types', (s) => s.types],
  ['structs', (s) => s.structs],
  ['unions', (s) => s.unions],
  ['enums', (s) => s.enums.total],
  ['enumerators', (s) => s.enumerators],
  ['typedefs', (s) => s.typedefs],
  ['funcs', (s) => s.funcs.total],
  ['kfuncs', (s) => s.kfuncs],
  ['fastcall', (s) => s.fastcall],
  ['tracepoints', (s) => s.tracepoints],
  ['trace_events', (s) => s.trace_events],
  ['syscalls', (s) => s.syscalls.total],
  ['decl_tags', (s) => s.decl_tags.total],
  ['type_tags', (s) => s.type_tags.total],
];

function counted(values: Record<string, number>): string {
  const parts = Object.entries(values).map(([k, v]) => `${k} ${v}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

/**
 * `kernel KREF --summary` as text: the kernel, a table of the counts (vmlinux, then one line per module), then the
 * vmlinux details (kinds, enums, funcs by linkage, syscalls per prefix, data sections, tag values).
 */
export function formatKernelSummary(s: KernelSummary): string {
  const rows: Counts[] = [{ name: 'vmlinux', ...s }, ...s.modules];
  const nameWidth = Math.max(...rows.map((r) => r.name.length), 'btf'.length);
  const widths = COLUMNS.map(([h, get]) => Math.max(h.length, ...rows.map((r) => String(get(r)).length)));
  const line = (first: string, cells: string[]): string =>
    `${first.padEnd(nameWidth)}${cells.map((c, i) => `  ${c.padStart(widths[i])}`).join('')}\n`;
  let out = `${s.kernel}: ${s.pointer_size}-byte pointers, ${s.byte_order}-endian, ${s.modules.length} module(s)\n\n`;
  out += line('btf', COLUMNS.map(([h]) => h));
  for (const r of rows) out += line(r.name, COLUMNS.map(([, get]) => String(get(r))));
  const syscalls = Object.entries(s.syscalls.by_prefix).map(([p, n]) => `__${p}_sys_ ${n}`);
  out += '\nvmlinux\n';
  out += `  kinds:        ${counted(Object.fromEntries(Object.entries(s.kinds).filter(([, n]) => n > 0)))}\n`;
  out += `  enums:        ${s.enums.named} named, ${s.enums.anonymous} anonymous (${s.enumerators} enumerators)\n`;
  out += `  funcs:        ${s.funcs.static} static, ${s.funcs.global} global, ${s.funcs.extern} extern\n`;
  out += `  syscalls:     ${s.syscalls.total}${syscalls.length > 0 ? ` (${syscalls.join(', ')})` : ''}; plain sys_ funcs ${s.syscalls.plain}\n`;
  out += `  datasecs:     ${s.datasecs.length > 0 ? s.datasecs.map((d) => `${d.name} (${d.vars} vars, ${d.size} bytes)`).join(', ') : 'none'}\n`;
  out += `  decl_tags:    ${counted(s.decl_tags.values)}\n`;
  out += `  type_tags:    ${counted(s.type_tags.values)}\n`;
  return out;
}

/** `kernel KREF --summary [--json]`: counts of what a kernel's BTF (and each of its modules') holds. */
export function registerKernelCommand(program: Command): void {
  program
    .command('kernel')
    .description("one kernel of the catalog: --summary counts what its BTF holds (kinds, funcs, kfuncs, tracepoints, syscalls, ...), vmlinux then each module")
    .argument('<kref>', 'DISTRO/RELEASE/ARCH/UNAME_R')
    .option('--summary', 'the counts of what the BTF holds (vmlinux, then one line per module)')
    .option('--db <file>', 'catalog file (default $BTF_ATLAS_DB or ./data/atlas.db)')
    .option('--json', 'JSON output')
    .action(async (kref: string, opts: { summary?: boolean; db?: string; json?: boolean }) => {
      if (!opts.summary) throw new CommanderError(2, 'usage', 'kernel: pass --summary (btf-atlas kernel KREF --summary [--json])');
      const path = existingCatalogPath(opts.db);
      const { openCatalog } = await import('@btf-atlas/catalog/read');
      const { kernelSummary } = await import('@btf-atlas/catalog/kernel-summary');
      const catalog = openCatalog(path);
      try {
        const summary = await kernelSummary(catalog, kref);
        await write(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : formatKernelSummary(summary));
      } finally {
        catalog.close();
      }
    });
}
