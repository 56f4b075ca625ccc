// The kind list from its own module: `--help` loads this file, and the read API would bring SQLite with it.
import { SEARCH_KINDS } from '@btf-atlas/catalog/kind-names';
import type {
  EnumeratorInKernelJson, EnumeratorJson, EnumInKernelJson, EnumJson, FuncInKernelJson, FuncJson, SearchJson, SyscallInKernelJson,
  TracepointInKernelJson, TracepointJson,
} from '@btf-atlas/catalog/read';
import type {
  EnumeratorHistoryJson, EnumHistoryJson, FuncHistoryJson, HistoryEntry, SyscallHistoryJson, TracepointHistoryJson,
} from '@btf-atlas/diff';
import { brief, failedText, notIngestedText } from './text.js';

/*
 * Text of the answers about functions, tracepoints, syscalls, enums and enumerators: a history prints its summary
 * first, then one line per kernel (several for a kernel with several definitions), then the changes between
 * neighbours of a series; one kernel's answer prints C declarations.
 */

/**
 * A C declaration of NAME with the abstract declarator TYPE, as the catalog spells types: `struct sk_buff *skb`,
 * `char comm[16]`, `void (*cb)(struct sk_buff *)`; TYPE alone when NAME is empty (BTF may leave a parameter unnamed).
 */
export function declare(type: string, name: string): string {
  if (name === '') return type;
  const fn = type.indexOf('(*');
  if (fn !== -1) {
    let at = fn + 2;
    while (type[at] === '*') at++;
    return `${type.slice(0, at)}${name}${type.slice(at)}`;
  }
  const bracket = type.indexOf('[');
  if (bracket !== -1) return `${type.slice(0, bracket).trimEnd()} ${name}${type.slice(bracket)}`;
  return type.endsWith('*') ? `${type}${name}` : `${type} ${name}`;
}

/** A parameter list as C writes it: `(struct task_struct *prev, int cpu)`, `(void)`, `(const char *fmt, ...)`. */
export function paramList(params: readonly { name: string; type: string }[], variadic = false): string {
  const parts = params.map((p) => declare(p.type, p.name));
  if (variadic) parts.push('...');
  return `(${parts.length > 0 ? parts.join(', ') : 'void'})`;
}

/** A function's prototype as C declares it: `void *bpf_arena_alloc_pages(void *p__map, …, u64 flags)`. */
export function prototypeOf(f: FuncJson): string {
  return declare(f.return, `${f.name}${paramList(f.params, f.variadic)}`);
}

/** Rows of cells as aligned columns, two spaces apart (the last column unpadded). */
function table(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)];
}

/** What every kind's change has, and the subject keys some carry. */
interface ChangeLike {
  from: string;
  to: string;
  what: string;
  change?: string;
  param?: string;
  member?: string;
  func?: string;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
  abi?: 'same' | 'changed';
  probable_rename?: string;
}

/** A change's side in words, without the machine-only type descriptions (`desc`, `return_desc`). */
function side(v: Record<string, unknown>): string {
  const shown = Object.fromEntries(Object.entries(v).filter(([k, x]) => k !== 'desc' && k !== 'return_desc' && x !== ''));
  return Object.keys(shown).length > 0 ? brief(shown) : '-';
}

/** The `changes:` block of a history, or the line saying there are none. */
function changesText(subject: string, changes: readonly ChangeLike[]): string[] {
  if (changes.length === 0) return ['', `${subject}: no changes between neighbouring kernels of a series (the summary above compares releases)`];
  return ['', 'changes:', ...changes.map((c) => {
    const about = c.param ?? c.member ?? c.func;
    const subjectText = about !== undefined ? ` ${about === '' ? '(unnamed)' : about}` : '';
    const abi = c.abi === 'changed' ? ' (passed differently)' : '';
    const rename = c.probable_rename !== undefined ? ` (probably renamed to ${c.probable_rename})` : '';
    return `  ${c.from} -> ${c.to}: ${c.change ?? c.what}${subjectText}: ${side(c.before)} -> ${side(c.after)}${abi}${rename}`;
  })];
}

/** The end of every history's text: kernels left out (module BTF not ingested) and kernels that failed to ingest. */
function notes(h: Pick<FuncHistoryJson, 'not_ingested' | 'failed_kernels'>): string {
  return `${notIngestedText(h.not_ingested)}${failedText(h.failed_kernels)}`;
}

/** The definitions of a present entry: its `definitions`, or itself. */
function definitionsOf<J>(e: ({ status: 'present' } & J) | { status: 'present'; definitions: J[] }): J[] {
  return 'definitions' in e ? e.definitions : [e as J];
}

/**
 * Rows of a history table of `columns` columns after the kernel's: per kernel one row per definition (the kernel
 * named on the first), or `missing` in the last column.
 */
function rowsOf<J>(kernels: readonly HistoryEntry<J>[], columns: number, cells: (d: J) => string[], missing: string): string[][] {
  const rows: string[][] = [];
  for (const k of kernels) {
    if (k.status === 'missing') rows.push([k.kernel, ...new Array<string>(columns - 1).fill(''), missing]);
    else definitionsOf(k).forEach((d, i) => rows.push([i === 0 ? k.kernel : '', ...cells(d)]));
  }
  return rows;
}

/** `  [module ext4]` for a module's definition. */
function moduleNote(d: { module?: string }): string {
  return d.module !== undefined ? `  [module ${d.module}]` : '';
}

/** Text of `func NAME --history`: the summary, per kernel linkage, kfunc, prototype, tags; then the changes. */
export function formatFuncHistoryText(h: FuncHistoryJson): string {
  const rows = rowsOf(h.kernels, 3, (f) => {
    const tags = f.decl_tags.filter((t) => t !== 'bpf_kfunc');
    return [f.linkage, f.kfunc ? 'kfunc' : '-', `${prototypeOf(f)}${tags.length > 0 ? `  [tags: ${tags.join(', ')}]` : ''}${moduleNote(f)}`];
  }, '(not defined)');
  const lines = [h.summary, '', ...table(['KERNEL', 'LINKAGE', 'KFUNC', 'PROTOTYPE'], rows), ...changesText(h.func, h.changes)];
  return `${lines.join('\n')}\n${notes(h)}`;
}

/** ` __attribute__((btf_decl_tag("bpf_kfunc")))` for each decl tag, as the kernel's sources spell them. */
function tagAttributes(tags: readonly string[] | undefined): string {
  return (tags ?? []).map((t) => ` __attribute__((btf_decl_tag(${JSON.stringify(t)})))`).join('');
}

/** Text of `func NAME --kernel KREF`: each definition as a C declaration with its linkage and decl tags. */
export function formatFuncInKernelText(a: FuncInKernelJson): string {
  const lines = [`/* ${a.kernel} */`];
  for (const f of a.funcs) {
    const params = f.params.map((p) => `${declare(p.type, p.name)}${tagAttributes(p.decl_tags)}`);
    if (f.variadic) params.push('...');
    const decl = declare(f.return, `${f.name}(${params.length > 0 ? params.join(', ') : 'void'})`);
    const linkage = f.linkage === 'global' ? '' : `${f.linkage} `;
    lines.push(`${linkage}${decl}${tagAttributes(f.decl_tags)};${f.kfunc ? ' /* kfunc */' : ''}${f.module !== undefined ? ` /* module ${f.module} */` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A raw tracepoint's parameters as BTF has them: the `void *` context first. */
function rawParams(t: TracepointJson): string {
  if (t.raw === null) return '(no btf_trace_ typedef)';
  return paramList(t.raw.context ? [t.raw.context, ...t.raw.params] : t.raw.params);
}

/** Text of `tracepoint NAME --history`: the summary, per kernel the raw prototype and event record, then the changes. */
export function formatTracepointHistoryText(h: TracepointHistoryJson): string {
  const rows = rowsOf(h.kernels, 2, (t) => [
    rawParams(t),
    `${t.event === null ? '(no trace_event_raw_ struct)' : `${t.event.size} bytes, ${t.event.members.length} members`}${moduleNote(t)}`,
  ], '(not defined)');
  const lines = [h.summary, '', ...table(['KERNEL', 'RAW TRACEPOINT PARAMS', 'EVENT RECORD'], rows), ...changesText(h.tracepoint, h.changes)];
  return `${lines.join('\n')}\n${notes(h)}`;
}

/** Text of `tracepoint NAME --kernel KREF`: the raw tracepoint's typedef and the event record's struct, in C. */
export function formatTracepointInKernelText(a: TracepointInKernelJson): string {
  const lines = [`/* ${a.kernel} */`];
  for (const t of a.tracepoints) {
    const where = t.module !== undefined ? ` /* module ${t.module} */` : '';
    if (t.raw !== null) lines.push(`typedef ${declare(t.raw.return, `(*${t.raw.typedef})${rawParams(t)}`)};${where}`);
    if (t.event !== null) {
      lines.push(`struct ${t.event.struct} {${where}`);
      for (const m of t.event.members) lines.push(`\t${declare(m.type, m.name)}${m.bitfield_size ? `:${m.bitfield_size}` : ''}; /* ${m.offset} ${m.size} */`);
      lines.push(`}; /* size: ${t.event.size} */`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Text of `syscall NAME --history`: the summary, per kernel its FUNCs (compat ones apart), then the changes. */
export function formatSyscallHistoryText(h: SyscallHistoryJson): string {
  const rows = rowsOf(h.kernels, 2, (s) => [s.funcs.join(', ') || '-', s.compat_funcs.join(', ') || '-'], '(none of its functions)');
  const lines = [h.summary, '', ...table(['KERNEL', 'FUNCS', 'COMPAT'], rows), ...changesText(h.syscall, h.changes)];
  return `${lines.join('\n')}\n${notes(h)}`;
}

/** Text of `syscall NAME --kernel KREF`: its FUNCs and compat FUNCs in that kernel. */
export function formatSyscallInKernelText(a: SyscallInKernelJson): string {
  const lines = [`/* ${a.kernel} */`];
  for (const s of a.syscalls) lines.push(`${s.name}: ${s.funcs.join(', ') || 'no native funcs'}; compat: ${s.compat_funcs.join(', ') || 'none'}`);
  return `${lines.join('\n')}\n`;
}

/** Text of `enum NAME --history`: the summary, per kernel size and how many values, then the changes. */
export function formatEnumHistoryText(h: EnumHistoryJson): string {
  const rows = rowsOf(h.kernels, 2, (e) => [String(e.size), `${e.values.length} values${e.signed ? ', signed' : ''}${moduleNote(e)}`], '(not defined)');
  const lines = [h.summary, '', ...table(['KERNEL', 'SIZE', 'VALUES'], rows), ...changesText(`enum ${h.enum}`, h.changes)];
  return `${lines.join('\n')}\n${notes(h)}`;
}

/** One enum definition in C (as `pahole -C` prints an enum). */
function enumText(e: EnumJson): string[] {
  return [`enum ${e.name} {${e.module !== undefined ? ` /* module ${e.module} */` : ''}`, ...e.values.map((v) => `\t${v.name} = ${v.value},`), `}; /* size: ${e.size} */`];
}

/** Text of `enum NAME --kernel KREF`: every definition in C. */
export function formatEnumInKernelText(a: EnumInKernelJson): string {
  return `${[`/* ${a.kernel} */`, ...a.enums.flatMap(enumText)].join('\n')}\n`;
}

/** Where an enumerator lives: `enum bpf_map_type`, or `anonymous enum (first value NAME)`. */
function enumOf(e: EnumeratorJson): string {
  return `${e.enum === '(anon)' ? `anonymous enum (first value ${e.first_enumerator})` : `enum ${e.enum}`}${moduleNote(e)}`;
}

/** Text of `enumerator NAME --history`: the summary, per kernel the value and its enum, then the changes. */
export function formatEnumeratorHistoryText(h: EnumeratorHistoryJson): string {
  const rows = rowsOf(h.kernels, 2, (e) => [String(e.value), enumOf(e)], '(not defined)');
  const lines = [h.summary, '', ...table(['KERNEL', 'VALUE', 'ENUM'], rows), ...changesText(h.enumerator, h.changes)];
  return `${lines.join('\n')}\n${notes(h)}`;
}

/** Text of `enumerator NAME --kernel KREF`: `NAME = VALUE` and its enum, for each enum that has it. */
export function formatEnumeratorInKernelText(a: EnumeratorInKernelJson): string {
  return `${[`/* ${a.kernel} */`, ...a.enumerators.map((e) => `${e.name} = ${e.value}; /* ${enumOf(e).trim()} */`)].join('\n')}\n`;
}

/** Text of `search TEXT`: one line per name, in the answer's order, with its kinds and how many kernels have it. */
export function formatSearchText(s: SearchJson): string {
  if (s.results.length === 0) return `no ${s.kinds.length < SEARCH_KINDS.length ? `${s.kinds.join('/')} ` : ''}names match ${JSON.stringify(s.query)}\n`;
  const rows = s.results.map((r) => [r.name, r.kinds.join(','), String(r.kernels), r.match]);
  return `${table(['NAME', 'KINDS', 'KERNELS', 'MATCH'], rows).join('\n')}\n`;
}
