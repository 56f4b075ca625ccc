import { html, type Html } from './html.js';

/**
 * Charts drawn on the server as inline SVG (no charting library, no script): a step chart of a value over kernels
 * in version order, and a struct's layout as bars. Each chart has role="img" with a <title> and <desc> summing it
 * up; the page puts a table with the same data beside it, so the SVG is never the only way to read it. Colours
 * come from explorer.css (classes, not inline colours), and every mark that colour tells apart also has text or a
 * shape of its own.
 */

/** Consecutive kernels of one lane with one value (a timeline span, as the API gives it). */
export interface StepSpan {
  /** How many kernels the span holds: its width on the x axis. */
  count: number;
  /** The plotted value, or null where there is none (no such field, type not defined): drawn as a gap. */
  value: number | null;
  /** The value in words, written on the chart above the span (`208`, `missing`). */
  label: string;
  /** Its first and last kernel, in words (uname -r): the axis labels and the tooltip. */
  first: string;
  last: string;
  /** What changed from the span before it (`offset 208 → 240`); makes a change point at the span's start. */
  change?: string;
}

/** One line of the chart: its spans left to right, in kernel version order. */
export interface StepLane {
  /** The lane's name (`amd64 (main flavour), 3 kernels`). */
  label: string;
  spans: StepSpan[];
}

export interface StepChartOptions {
  /** The element id (also the prefix of the ids of its <title> and <desc>). */
  id: string;
  /** A one-line summary: the SVG's accessible name. */
  title: string;
  /** What the y axis is (`byte offset`, `size in bytes`). */
  yLabel: string;
  lanes: StepLane[];
}

const WIDTH = 760;
const LEFT = 64;
const RIGHT = 16;
const LANE_TOP = 28;
const LANE_PLOT = 92;
const LANE_AXIS = 46;
const CHAR_PX = 6.4;

/** Numbers for an SVG attribute: at most one decimal, no `-0`. */
function n(v: number): string {
  const r = Math.round(v * 10) / 10;
  return Object.is(r, -0) ? '0' : String(r);
}

/**
 * A step chart: each lane (one timeline line: an arch's flavour) is drawn in its own band over its own kernels,
 * x = kernels in version order (a span is as wide as its kernel count), y = the value on one scale shared by
 * every lane, so lanes compare. A span without a value is a hatched gap marked with its label. Each change point
 * is a diamond at the span's start, with the kernels on each side and what changed in its tooltip; the span's
 * first kernel labels the axis under it (labels that would overlap are left out: the table has every kernel).
 */
export function stepChart(opts: StepChartOptions): Html {
  const values = opts.lanes.flatMap((l) => l.spans.map((s) => s.value)).filter((v): v is number => v !== null);
  let lo = values.length > 0 ? Math.min(...values) : 0;
  let hi = values.length > 0 ? Math.max(...values) : 1;
  if (lo === hi) {
    lo = Math.max(0, lo - 1);
    hi = hi + 1;
  }
  // Label the y axis with the values themselves (few, as a timeline has few spans), else its ends.
  const distinctValues = [...new Set(values)].sort((a, b) => a - b);
  const ticks = distinctValues.length <= 6 ? distinctValues : [distinctValues[0], distinctValues[distinctValues.length - 1]];
  const plotW = WIDTH - LEFT - RIGHT;
  const laneH = LANE_TOP + LANE_PLOT + LANE_AXIS;
  const height = Math.max(1, opts.lanes.length) * laneH;
  const changes = opts.lanes.reduce((c, l) => c + l.spans.filter((s) => s.change !== undefined).length, 0);
  const range = distinctValues.length === 0 ? 'no values' : distinctValues.length === 1 ? `${opts.yLabel} ${distinctValues[0]}` : `${opts.yLabel} from ${distinctValues[0]} to ${distinctValues[distinctValues.length - 1]}`;
  const desc = `${opts.lanes.length} line${opts.lanes.length === 1 ? '' : 's'}, ${changes} change point${changes === 1 ? '' : 's'}; ${range}. The list and table under the chart hold the same data.`;
  const lanes = opts.lanes.map((lane, li) => {
    const top = li * laneH;
    const plotTop = top + LANE_TOP;
    const y = (v: number): number => plotTop + LANE_PLOT - 8 - ((v - lo) / (hi - lo)) * (LANE_PLOT - 24);
    const total = Math.max(1, lane.spans.reduce((c, s) => c + s.count, 0));
    const x = (k: number): number => LEFT + (k / total) * plotW;
    let at = 0;
    const rowEnds = [-Infinity, -Infinity];
    let prev: { x: number; y: number | null } | undefined;
    const marks: Html[] = [];
    lane.spans.forEach((s, si) => {
      const x0 = x(at);
      const x1 = x(at + s.count);
      at += s.count;
      const range = s.count === 1 ? s.first : `${s.first} … ${s.last} (${s.count} kernels)`;
      if (s.value === null) {
        marks.push(html`<g class="gap"><title>${s.label}: ${range}</title><rect x="${n(x0)}" y="${n(plotTop)}" width="${n(Math.max(1, x1 - x0))}" height="${LANE_PLOT}"/>
<text x="${n((x0 + x1) / 2)}" y="${n(plotTop + LANE_PLOT / 2)}" text-anchor="middle">${s.label}</text></g>`);
      } else {
        const yv = y(s.value);
        if (prev?.y !== null && prev !== undefined) marks.push(html`<line class="riser" x1="${n(x0)}" y1="${n(prev.y)}" x2="${n(x0)}" y2="${n(yv)}"/>`);
        marks.push(html`<g class="step"><title>${s.label}: ${range}</title><line x1="${n(x0)}" y1="${n(yv)}" x2="${n(x1)}" y2="${n(yv)}"/>
<text x="${n((x0 + x1) / 2)}" y="${n(yv - 6)}" text-anchor="middle">${s.label}</text></g>`);
      }
      if (s.change !== undefined && si > 0) {
        const cy = s.value === null ? plotTop + LANE_PLOT - 8 : y(s.value);
        const before = lane.spans[si - 1].last;
        marks.push(html`<g class="change" data-before="${before}" data-after="${s.first}"><title>${before} → ${s.first}: ${s.change}</title><path d="M${n(x0)} ${n(cy - 6)}l6 6l-6 6l-6 -6z"/></g>`);
      }
      // The span's first kernel under the axis, on the first of two text rows where it does not overlap.
      const start = x0 + 2;
      const width = s.first.length * CHAR_PX;
      const row = rowEnds.findIndex((end) => start > end + 6);
      if (row !== -1 && start + width <= WIDTH) {
        rowEnds[row] = start + width;
        marks.push(html`<text class="tick" x="${n(start)}" y="${n(plotTop + LANE_PLOT + 14 + row * 14)}">${s.first}</text>`);
      }
      prev = { x: x1, y: s.value === null ? null : y(s.value) };
    });
    return html`<g class="lane"><text class="lane-label" x="${LEFT}" y="${n(top + 18)}">${lane.label}</text>
<line class="axis" x1="${LEFT}" y1="${n(plotTop + LANE_PLOT)}" x2="${WIDTH - RIGHT}" y2="${n(plotTop + LANE_PLOT)}"/>
${spaced(ticks, y).map((v) => html`<text class="y-tick" x="${LEFT - 6}" y="${n(y(v) + 4)}" text-anchor="end">${v}</text>`)}
${marks}</g>`;
  });
  return html`<svg id="${opts.id}" class="chart step-chart" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-labelledby="${opts.id}-title ${opts.id}-desc" preserveAspectRatio="xMinYMin meet">
<title id="${opts.id}-title">${opts.title}</title>
<desc id="${opts.id}-desc">${desc}</desc>
${lanes}
</svg>`;
}

/** The tick values at least a text line apart on the axis (the lowest first), so labels never overlap. */
function spaced(ticks: readonly number[], y: (v: number) => number): number[] {
  const out: number[] = [];
  for (const v of ticks) if (out.length === 0 || Math.abs(y(out[out.length - 1]) - y(v)) >= 12) out.push(v);
  return out;
}

/** A bar of a layout: a member (or a hole, or padding) at a bit offset with a bit size. */
export interface LayoutBar {
  /** Start and length in bits (a bitfield is drawn at bit precision; a member's bits are its size × 8). */
  bitsOffset: number;
  bits: number;
  /** `member`, `hole` (bytes or bits no member covers, before the last member) or `padding` (after it). */
  kind: 'member' | 'hole' | 'padding';
  /** Text in the bar when it fits, and in its tooltip (`di: long unsigned int`, `hole: 4 bytes`). */
  label: string;
  tooltip: string;
}

export interface LayoutChartOptions {
  id: string;
  title: string;
  /** The struct's size in bytes. */
  size: number;
  bars: LayoutBar[];
  /** Bytes per row: a cacheline (64). */
  rowBytes?: number;
}

const ROW_LABEL = 96;
const LAYOUT_W = 760;
const SUB_H = 22;

/**
 * A struct's layout as bars: one row per cacheline (64 bytes, so cacheline boundaries are the row breaks, each
 * labelled), each member a bar at its offset and size, split where it crosses a boundary. Members that overlap
 * (those of an unnamed union) stack in sub-rows. Holes and trailing padding are bars of their own, hatched and
 * labelled, so they show without colour.
 */
export function layoutChart(opts: LayoutChartOptions): Html {
  const rowBytes = opts.rowBytes ?? 64;
  const rowBits = rowBytes * 8;
  const rows = Math.max(1, Math.ceil(opts.size / rowBytes));
  const plotW = LAYOUT_W - ROW_LABEL - 8;
  const pxPerBit = plotW / rowBits;
  // Pieces per row, each stacked into the first sub-row it does not overlap.
  const rowPieces: { bar: LayoutBar; start: number; end: number; sub: number; first: boolean }[][] = Array.from({ length: rows }, () => []);
  const ordered = [...opts.bars].sort((a, b) => a.bitsOffset - b.bitsOffset || b.bits - a.bits);
  const subEnds: number[][] = Array.from({ length: rows }, () => []);
  for (const bar of ordered) {
    let start = bar.bitsOffset;
    const end = bar.bitsOffset + Math.max(1, bar.bits);
    let first = true;
    while (start < end) {
      const row = Math.min(rows - 1, Math.floor(start / rowBits));
      const rowEnd = Math.min(end, (row + 1) * rowBits);
      const ends = subEnds[row];
      let sub = ends.findIndex((e) => e <= start);
      if (sub === -1) sub = ends.length;
      ends[sub] = rowEnd;
      rowPieces[row].push({ bar, start, end: rowEnd, sub, first });
      first = false;
      if (rowEnd <= start) break;
      start = rowEnd;
    }
  }
  let y = 4;
  const out: Html[] = [];
  for (let r = 0; r < rows; r++) {
    const subs = Math.max(1, subEnds[r].length);
    const h = subs * SUB_H;
    out.push(html`<g class="cacheline"><line class="boundary" x1="0" y1="${n(y)}" x2="${LAYOUT_W}" y2="${n(y)}"/><text class="row-label" x="4" y="${n(y + 14)}">${r === 0 ? 'offset 0' : `cacheline ${r}`}</text><text class="row-label" x="4" y="${n(y + 28)}">${r > 0 ? `(${r * rowBytes} bytes)` : ''}</text>`);
    for (const p of rowPieces[r]) {
      const x = ROW_LABEL + (p.start - r * rowBits) * pxPerBit;
      const w = Math.max(1, (p.end - p.start) * pxPerBit);
      const py = y + 2 + p.sub * SUB_H;
      const fits = p.bar.label.length * CHAR_PX < w - 4;
      const data = p.first ? html` data-bits-offset="${p.bar.bitsOffset}" data-bits="${p.bar.bits}"` : '';
      const fill = p.bar.kind === 'member' ? '' : html` fill="url(#${opts.id}-hatch)"`;
      const body = html`<title>${p.bar.tooltip}</title><rect x="${n(x)}" y="${n(py)}" width="${n(w)}" height="${SUB_H - 3}"${fill}/>${fits ? html`<text x="${n(x + 3)}" y="${n(py + 13)}">${p.bar.label}</text>` : ''}`;
      out.push(html`<g class="bar ${p.bar.kind}" data-kind="${p.bar.kind}"${data}>${body}</g>`);
    }
    out.push(html`</g>`);
    y += Math.max(h, 36) + 6;
  }
  const holes = opts.bars.filter((b) => b.kind === 'hole');
  const holeBits = holes.reduce((c, b) => c + b.bits, 0);
  const pad = opts.bars.filter((b) => b.kind === 'padding').reduce((c, b) => c + b.bits, 0);
  const desc = `${opts.size} bytes in ${rows} cacheline${rows === 1 ? '' : 's'} of ${rowBytes} bytes; ${opts.bars.length - holes.length - (pad > 0 ? 1 : 0)} members, ${holes.length} hole${holes.length === 1 ? '' : 's'} (${bitsInWords(holeBits)}), ${bitsInWords(pad)} of padding. The table below lists every member.`;
  return html`<svg id="${opts.id}" class="chart layout-chart" viewBox="0 0 ${LAYOUT_W} ${n(y + 4)}" role="img" aria-labelledby="${opts.id}-title ${opts.id}-desc" preserveAspectRatio="xMinYMin meet">
<title id="${opts.id}-title">${opts.title}</title>
<desc id="${opts.id}-desc">${desc}</desc>
<defs><pattern id="${opts.id}-hatch" class="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6"/><line x1="0" y1="0" x2="0" y2="6"/></pattern></defs>
${out}
</svg>`;
}

/** `4 bytes`, `3 bits`, `2 bytes 3 bits`. */
export function bitsInWords(bits: number): string {
  const bytes = Math.floor(bits / 8);
  const rest = bits % 8;
  const parts: string[] = [];
  if (bytes > 0 || rest === 0) parts.push(`${bytes} byte${bytes === 1 ? '' : 's'}`);
  if (rest > 0) parts.push(`${rest} bit${rest === 1 ? '' : 's'}`);
  return parts.join(' ');
}

/** A member as the layout needs it (the API's flattened member). */
export interface LayoutMember {
  name: string;
  bits_offset: number;
  bitfield_size: number;
  size: number;
  type: string;
}

/**
 * The bars of a struct: its members, and the holes and padding between them: every bit below `size × 8` that no
 * member covers, in runs (a run before the last covered bit is a hole, after it padding). Members of an unnamed
 * union overlap; their union of bits counts once.
 */
export function layoutBars(size: number, members: readonly LayoutMember[]): LayoutBar[] {
  const bars: LayoutBar[] = members.map((m) => {
    const bits = m.bitfield_size > 0 ? m.bitfield_size : m.size * 8;
    const where = m.bitfield_size > 0 ? `bit ${m.bits_offset}, ${m.bitfield_size} bit${m.bitfield_size === 1 ? '' : 's'}` : `offset ${m.bits_offset / 8}, ${m.size} bytes`;
    return { bitsOffset: m.bits_offset, bits, kind: 'member', label: m.name || '(anon)', tooltip: `${m.name || '(anon)'}: ${m.type} (${where})` };
  });
  const covered = [...bars].sort((a, b) => a.bitsOffset - b.bitsOffset);
  const gaps: { start: number; end: number }[] = [];
  let reach = 0;
  for (const b of covered) {
    if (b.bitsOffset > reach) gaps.push({ start: reach, end: b.bitsOffset });
    reach = Math.max(reach, b.bitsOffset + b.bits);
  }
  const total = size * 8;
  for (const g of gaps) {
    if (g.start >= total) continue;
    const end = Math.min(g.end, total);
    const words = bitsInWords(end - g.start);
    bars.push({ bitsOffset: g.start, bits: end - g.start, kind: 'hole', label: `hole ${words}`, tooltip: `hole: ${words} at ${offsetWords(g.start)}` });
  }
  if (reach < total) {
    const words = bitsInWords(total - reach);
    bars.push({ bitsOffset: reach, bits: total - reach, kind: 'padding', label: `padding ${words}`, tooltip: `padding: ${words} at ${offsetWords(reach)}` });
  }
  return bars;
}

function offsetWords(bits: number): string {
  return bits % 8 === 0 ? `offset ${bits / 8}` : `offset ${Math.floor(bits / 8)} (bit ${bits})`;
}
