import { html, query, unameOf, urlPart, type Html } from '../html.js';
import { cliCommand, page } from '../layout.js';
import { stepChart, type StepLane } from '../chart.js';
import type { KernelRow, SeriesChange, TimelineLine, TimelineSpan } from '../api.js';
import { kernelHref, selectionFlags, selectionForm, type Selection } from './kernels.js';

/** A field's value in one kernel (`GET /v1/fields/{path}`): where it is, or why it is not there. */
export interface FieldValue {
  status: 'present' | 'missing_field' | 'missing_struct';
  offset?: number;
  bits_offset?: number;
  bitfield_size?: number;
  size?: number;
  type?: string;
}

export interface FieldKernel extends FieldValue {
  kernel: string;
  series: string;
  module?: string;
}

/** The answer of `GET /v1/fields/{path}`. */
export interface FieldAnswer {
  field: string;
  kernels: FieldKernel[];
  changes: SeriesChange[];
  timeline: TimelineLine<FieldValue>[];
  summary: string;
  not_ingested?: { modules: string[]; kernels: string[] };
  failed_kernels?: { kernel: string; code: string; message: string }[];
}

/** The link of a field's page. */
export function fieldHref(path: string, sel: Selection = {}): string {
  return `/fields/${urlPart(path)}${query({ arch: sel.arch, distro: sel.distro, release: sel.release })}`;
}

/** A field's value in words, as the summary words it: `208`, `2344 (bit 18754, 1 bit)`, `no such field`. */
export function fieldValueWords(v: FieldValue): string {
  if (v.status === 'missing_field') return 'no such field';
  if (v.status === 'missing_struct') return 'no such struct';
  if ((v.bitfield_size ?? 0) > 0) return `${v.offset} (bit ${v.bits_offset}, ${v.bitfield_size} bit${v.bitfield_size === 1 ? '' : 's'})`;
  return String(v.offset);
}

/** What changed between two values of a field (`offset 208 → 240, type u64 → s64`, `removed`, `added at 240`). */
export function fieldChangeWords(a: FieldValue, b: FieldValue): string {
  if (a.status === 'present' && b.status !== 'present') return `removed (${fieldValueWords(b)})`;
  if (a.status !== 'present' && b.status === 'present') return `added at ${fieldValueWords(b)}`;
  if (a.status !== 'present') return `${fieldValueWords(a)} → ${fieldValueWords(b)}`;
  const parts: string[] = [];
  if (a.bits_offset !== b.bits_offset) parts.push(`offset ${fieldValueWords(a)} → ${fieldValueWords(b)}`);
  else if (a.bitfield_size !== b.bitfield_size) parts.push(`bitfield ${a.bitfield_size} → ${b.bitfield_size} bits`);
  if (a.size !== b.size) parts.push(`size ${a.size} → ${b.size}`);
  if (a.type !== b.type) parts.push(`type ${a.type} → ${b.type}`);
  return parts.length > 0 ? parts.join(', ') : 'changed';
}

/** The plotted value: the byte offset (bit precision for a bitfield), none where the field is missing. */
function plotted(v: FieldValue): number | null {
  return v.status === 'present' && v.bits_offset !== undefined ? v.bits_offset / 8 : null;
}

function laneLabel(line: TimelineLine<unknown>): string {
  return `${line.flavour || '(no flavour)'}${line.main ? ' (main flavour)' : ''}, ${line.kernels} kernel${line.kernels === 1 ? '' : 's'}`;
}

/** Lines of a timeline grouped by arch, in the answer's order. */
export function linesByArch<V>(timeline: readonly TimelineLine<V>[]): [string, TimelineLine<V>[]][] {
  const out = new Map<string, TimelineLine<V>[]>();
  for (const line of timeline) out.set(line.arch, [...(out.get(line.arch) ?? []), line]);
  return [...out.entries()];
}

/** A change point of a timeline line: the kernels on each side and what changed. */
export interface ChangePoint {
  arch: string;
  flavour: string;
  before: string;
  after: string;
  words: string;
}

/**
 * Per arch, the step chart of the timeline (each flavour a lane, the main one first) and the list of its change
 * points; shared by the field and type pages, which word values and changes their own way.
 */
export function timelineCharts<V>(
  subject: string,
  timeline: readonly TimelineLine<V>[],
  yLabel: string,
  value: (v: V) => number | null,
  words: (v: V) => string,
  changeWords: (a: V, b: V, before: TimelineSpan<V>, after: TimelineSpan<V>) => string,
): Html {
  return html`${linesByArch(timeline).map(([arch, lines], ai) => {
    const points: ChangePoint[] = [];
    const lanes: StepLane[] = lines.map((line) => ({
      label: laneLabel(line),
      spans: line.spans.map((s, i) => {
        const prev = i > 0 ? line.spans[i - 1] : undefined;
        const change = prev ? changeWords(prev.value, s.value, prev, s) : undefined;
        if (prev && change !== undefined) points.push({ arch, flavour: line.flavour, before: prev.last, after: s.first, words: change });
        return { count: s.count, value: value(s.value), label: words(s.value), first: unameOf(s.first), last: unameOf(s.last), ...(change !== undefined ? { change } : {}) };
      }),
    }));
    const differs = lines.filter((l) => !l.main && (l.differs_from_main?.length ?? 0) > 0);
    const id = `chart-${ai}`;
    return html`<section class="arch" aria-labelledby="${id}-h">
<h2 id="${id}-h">${arch}</h2>
<figure>
<div class="chart-scroll" tabindex="0" role="region" aria-label="Chart of ${arch}">${stepChart({ id, title: `${subject} on ${arch}: ${yLabel} over kernels in version order`, yLabel, lanes })}</div>
<figcaption>${yLabel} over ${arch} kernels in version order; ◆ marks a change point.</figcaption>
</figure>
${points.length > 0
    ? html`<h3>Change points on ${arch}</h3><ul class="change-points" data-arch="${arch}">${points.map((p) => html`<li><a href="${kernelHref(p.before)}">${unameOf(p.before)}</a> → <a href="${kernelHref(p.after)}">${unameOf(p.after)}</a>${lines.length > 1 ? html` (${p.flavour || 'no flavour'})` : ''}: <span class="what">${p.words}</span></li>`)}</ul>`
    : html`<p class="no-change">No change on ${arch} in these kernels.</p>`}
${differs.map((l) => html`<p class="differs">${l.flavour} differs from the main flavour: ${(l.differs_from_main ?? []).map((d, i) => html`${i > 0 ? ', ' : ''}${words(d.value)} (main: ${words(d.main_value)}) ${d.count === 1 ? html`at ${unameOf(d.first)}` : html`from ${unameOf(d.first)} to ${unameOf(d.last)}`}`)}.</p>`)}
</section>`;
  })}`;
}

/** The table of a history's changes between neighbouring kernels of one series. */
export function seriesChangesTable(changes: readonly SeriesChange[], describe: (c: SeriesChange) => string): Html {
  if (changes.length === 0) return html`<p>No change between neighbouring kernels of one series.</p>`;
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label="Changes within a series"><table id="series-changes">
<caption class="visually-hidden">Changes between neighbouring kernels of one series</caption>
<thead><tr><th scope="col">Series</th><th scope="col">From</th><th scope="col">To</th><th scope="col">What</th><th scope="col">Change</th></tr></thead>
<tbody>${changes.map((c) => html`<tr><td>${c.series}</td><td><a href="${kernelHref(c.from)}">${unameOf(c.from)}</a></td><td><a href="${kernelHref(c.to)}">${unameOf(c.to)}</a></td><td>${c.what}</td><td>${describe(c)}</td></tr>`)}</tbody>
</table></div>`;
}

function valueWords(v: unknown): string {
  return v === undefined ? '–' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** A series change in words: `offset 2344 → 2344, bits_offset 18754 → 18755`. */
export function seriesChangeWords(c: SeriesChange): string {
  const before = c.before ?? {};
  const after = c.after ?? {};
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const moved = keys.map((k) => `${k} ${valueWords(before[k])} → ${valueWords(after[k])}`);
  return [c.member ? `${c.member}: ` : '', moved.join(', '), c.probable_rename ? ` (probably renamed: ${c.probable_rename})` : ''].join('');
}

/**
 * `/fields/{path}`: the summary sentence, per arch the step chart of the offset over kernels in version order
 * with its change points, the changes within series, then every kernel's row.
 */
export function fieldPage(a: FieldAnswer, sel: Selection, kernels: readonly KernelRow[]): string {
  const struct = a.field.slice(0, a.field.indexOf('.'));
  const rows = a.kernels.map((k) => html`<tr class="${k.status}">
<td><a href="${kernelHref(k.kernel)}">${unameOf(k.kernel)}</a></td><td>${k.series}</td><td>${k.status === 'present' ? 'present' : fieldValueWords(k)}</td>
<td class="num">${k.offset ?? ''}</td><td class="num">${k.bits_offset ?? ''}</td><td class="num">${k.bitfield_size || ''}</td><td class="num">${k.size ?? ''}</td>
<td>${k.type ?? ''}</td><td>${k.module ?? ''}</td></tr>`);
  const json = `/v1/fields/${urlPart(a.field)}${query({ arch: sel.arch, distro: sel.distro, release: sel.release })}`;
  return page({
    title: a.field,
    json,
    cli: cliCommand('field', a.field, ...selectionFlags(sel)),
    body: html`<p class="summary" id="summary">${a.summary}</p>
<p>Struct: <a href="/types/${urlPart(struct)}">${struct}</a></p>
${selectionForm(`/fields/${urlPart(a.field)}`, kernels, sel)}
${a.not_ingested ? html`<p class="note">Left out (module ${a.not_ingested.modules.join(', ')} not ingested for them): ${a.not_ingested.kernels.map((k, i) => html`${i > 0 ? ', ' : ''}<a href="${kernelHref(k)}">${unameOf(k)}</a>`)}.</p>` : ''}
${a.failed_kernels?.length ? html`<p class="note">Failed to ingest, so not shown: ${a.failed_kernels.map((k, i) => html`${i > 0 ? ', ' : ''}${unameOf(k.kernel)} (${k.message})`)}.</p>` : ''}
${timelineCharts(a.field, a.timeline, 'byte offset', plotted, fieldValueWords, (x, y) => fieldChangeWords(x, y))}
<h2>Changes within a series</h2>
${seriesChangesTable(a.changes, seriesChangeWords)}
<h2>Kernels</h2>
<div class="table-wrap" tabindex="0" role="region" aria-label="${a.field} in each kernel"><table id="field-kernels">
<caption class="visually-hidden">${a.field} in each kernel</caption>
<thead><tr><th scope="col">Kernel</th><th scope="col">Series</th><th scope="col">Status</th><th scope="col">Offset</th><th scope="col">Bit offset</th><th scope="col">Bitfield bits</th><th scope="col">Size</th><th scope="col">Type</th><th scope="col">Module</th></tr></thead>
<tbody>${rows}</tbody></table></div>`,
  });
}
