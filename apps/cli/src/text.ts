import type { FailedKernelNote, NotIngestedNote, TypeLayoutJson } from '@btf-atlas/catalog';
import type { FieldHistoryJson, TypeHistoryJson } from '@btf-atlas/diff';

const CACHELINE = 64;

/**
 * pahole-style text of `type` (`pahole -C NAME`): each member with its type, byte offset and size in the comment
 * column, bitfields as `name:bits` with the bit offset in their storage unit, holes and trailing padding marked,
 * and the size/cachelines summary. Unnamed structs/unions are shown flattened, as the contract's JSON is.
 */
export function formatTypeText(layout: TypeLayoutJson): string {
  const out: string[] = [`/* ${layout.kernel} */`];
  for (const t of layout.types) {
    const mod = t.module ? ` /* module ${t.module} */` : '';
    if (t.kind === 'enum') {
      out.push(`enum ${t.name} {${mod}`);
      for (const v of t.values) out.push(`\t${v.name} = ${v.value},`);
      out.push('};', '');
      continue;
    }
    out.push(`${t.kind} ${t.name} {${mod}`);
    const width = Math.max(24, ...t.members.map((m) => m.type.length + 1));
    let end = 0;
    let holes = 0;
    let holeBytes = 0;
    for (const m of t.members) {
      const start = m.bitfield_size ? Math.floor(m.bits_offset / 8 / m.size) * m.size : m.offset;
      if (t.kind === 'struct' && start > end) {
        out.push(`\n\t/* XXX ${start - end} byte${start - end === 1 ? '' : 's'} hole, try to pack */\n`);
        holes++;
        holeBytes += start - end;
      }
      const decl = `${m.type.padEnd(width)} ${m.name}${m.bitfield_size ? `:${m.bitfield_size}` : ''};`;
      const where = m.bitfield_size
        ? `/* ${String(start).padStart(5)}:${String(m.bits_offset - start * 8).padStart(2)} ${String(m.size).padStart(4)} */`
        : `/* ${String(m.offset).padStart(5)} ${String(m.size).padStart(5)} */`;
      out.push(`\t${decl.padEnd(width + 24)} ${where}`);
      end = Math.max(end, m.bitfield_size ? start + m.size : m.offset + m.size);
    }
    const padding = t.kind === 'struct' && t.size > end ? t.size - end : 0;
    if (padding) out.push(`\n\t/* padding: ${padding} */`);
    const lines = Math.ceil(t.size / CACHELINE);
    out.push('', `\t/* size: ${t.size}, cachelines: ${lines}, members: ${t.members.length} */`);
    if (holes) out.push(`\t/* sum members holes: ${holeBytes}, holes: ${holes} */`);
    if (t.size % CACHELINE) out.push(`\t/* last cacheline: ${t.size % CACHELINE} bytes */`);
    out.push('};', '');
  }
  return `${out.join('\n')}\n`;
}

const STATUS_TEXT: Readonly<Record<string, string>> = {
  missing_struct: 'no such struct',
  missing_field: 'no such field',
  missing: 'not defined',
};

/** A change's before/after as a person reads it: `offset 2344, bits_offset 18754`, `no such struct`. */
export function brief(side: unknown): string {
  if (side === null || typeof side !== 'object') return String(side);
  const parts = Object.entries(side as Record<string, unknown>).map(([k, v]) =>
    k === 'status' && typeof v === 'string' ? (STATUS_TEXT[v] ?? v) : `${k} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return parts.length > 0 ? parts.join(', ') : '-';
}

/** ` (probably renamed to NAME)` after a change that carries a probable rename. */
function renameText(c: { probable_rename?: string }): string {
  return c.probable_rename !== undefined ? ` (probably renamed to ${c.probable_rename})` : '';
}

/** The kernels left out of a module type's history, one line (empty when none). */
export function notIngestedText(n: NotIngestedNote | undefined): string {
  if (!n || n.kernels.length === 0) return '';
  const which = n.modules.join(', ');
  return `\n${n.kernels.length} kernel${n.kernels.length === 1 ? '' : 's'} of this selection left out: no BTF of module ${which} ingested with ${n.kernels.length === 1 ? 'it' : 'them'}: ${n.kernels.join(', ')}\n`;
}

/** Text of `field`: the summary, one line per kernel, then the changes. */
export function formatFieldText(h: FieldHistoryJson): string {
  const width = Math.max(6, ...h.kernels.map((k) => k.kernel.length));
  const lines = [h.summary, '', `${'KERNEL'.padEnd(width)}  OFFSET  BITS   SIZE  TYPE`];
  for (const k of h.kernels) {
    if (k.status === 'present') {
      const bits = k.bitfield_size ? `${k.bits_offset}:${k.bitfield_size}` : String(k.bits_offset);
      lines.push(`${k.kernel.padEnd(width)}  ${String(k.offset).padStart(6)}  ${bits.padStart(5)}  ${String(k.size).padStart(5)}  ${k.type}`);
    } else {
      lines.push(`${k.kernel.padEnd(width)}  ${k.status === 'missing_struct' ? '(no such struct)' : '(no such field)'}`);
    }
  }
  if (h.changes.length === 0) lines.push('', `${h.field}: no changes between neighbouring kernels of a series (the summary above compares releases)`);
  else {
    lines.push('', 'changes:');
    for (const c of h.changes) lines.push(`  ${c.from} -> ${c.to}: ${c.what}: ${brief(c.before)} -> ${brief(c.after)}${renameText(c)}`);
  }
  return `${lines.join('\n')}\n${notIngestedText(h.not_ingested)}${failedText(h.failed_kernels)}`;
}

/** The kernels missing from a history because their ingest failed, one line each (empty when none). */
export function failedText(failed: FailedKernelNote[] | undefined): string {
  if (!failed || failed.length === 0) return '';
  const head = `\n${failed.length} kernel${failed.length === 1 ? '' : 's'} of this selection failed to ingest and ${failed.length === 1 ? 'is' : 'are'} missing above (btf-atlas failures):\n`;
  return head + failed.map((f) => `  ${f.kernel}: ${f.code}: ${f.message}\n`).join('');
}

/** Text of `type --history`: the summary, one line per kernel (kind, size, members), then the changes. */
export function formatTypeHistoryText(h: TypeHistoryJson): string {
  const width = Math.max(6, ...h.kernels.map((k) => k.kernel.length));
  const lines = [h.summary, '', `${'KERNEL'.padEnd(width)}  KIND    SIZE  MEMBERS`];
  for (const k of h.kernels) {
    if (k.status === 'missing') {
      lines.push(`${k.kernel.padEnd(width)}  (not defined)`);
      continue;
    }
    const count = k.kind === 'enum' ? `${k.values.length} values` : `${k.members.length}`;
    const more = k.definitions > 1 ? ` (${k.definitions} definitions)` : '';
    lines.push(`${k.kernel.padEnd(width)}  ${k.kind.padEnd(6)}  ${String(k.size).padStart(5)}  ${count}${more}`);
  }
  if (h.changes.length === 0) lines.push('', `${h.type}: no changes between neighbouring kernels of a series (the summary above compares releases)`);
  else {
    lines.push('', 'changes:');
    for (const c of h.changes) {
      const what = c.member !== undefined ? `${c.member}: ${c.what}` : c.what;
      lines.push(`  ${c.from} -> ${c.to}: ${what}: ${brief(c.before)} -> ${brief(c.after)}${renameText(c)}`);
    }
  }
  return `${lines.join('\n')}\n${notIngestedText(h.not_ingested)}${failedText(h.failed_kernels)}`;
}
