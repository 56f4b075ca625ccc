import { html, krefPath, query, unameOf, urlPart, type Html } from '../html.js';
import { cliCommand, page } from '../layout.js';
import { bitsInWords, layoutBars, layoutChart, type LayoutMember } from '../chart.js';
import type { KernelRow, SeriesChange, TimelineLine } from '../api.js';
import { kernelHref, selectionFlags, selectionForm, type Selection } from './kernels.js';
import { seriesChangesTable, seriesChangeWords, timelineCharts } from './field.js';

/** A flattened member of a type (`GET /v1/types/{name}?kernel=`, and each kernel of its history). */
export interface TypeMember extends LayoutMember {
  offset: number;
}

/** One definition of a name in one kernel. */
export interface TypeDefinition {
  kind: string;
  name: string;
  size: number;
  members?: TypeMember[];
  values?: { name: string; value: number | string }[];
  module?: string;
  [key: string]: unknown;
}

/** The answer of `GET /v1/types/{name}?kernel=KREF`. */
export interface TypeInKernel {
  kernel: string;
  types: TypeDefinition[];
}

/** A type's timeline value: its size, flattened member count and layout digest, or not defined. */
export interface TypeValue {
  status: 'present' | 'missing';
  kind?: string;
  size?: number;
  members?: number;
  values?: number;
  digest?: string;
}

export interface TypeHistoryKernel {
  kernel: string;
  series: string;
  status: 'present' | 'missing';
  kind?: string;
  size?: number;
  members?: TypeMember[];
  /** With `members=false` (what the page asks), instead of `members`. */
  member_count?: number;
  module?: string;
  [key: string]: unknown;
}

/** The answer of `GET /v1/types/{name}/history`. */
export interface TypeHistory {
  type: string;
  kernels: TypeHistoryKernel[];
  changes: SeriesChange[];
  timeline: TimelineLine<TypeValue>[];
  summary: string;
  not_ingested?: { modules: string[]; kernels: string[] };
}

/** The link of a type's page (its history), or of its layout in one kernel. */
export function typeHref(name: string, kernel?: string): string {
  return `/types/${urlPart(name)}${query({ kernel })}`;
}

/**
 * The page a member's type spelling leads to: the struct or union it names (in the same kernel), or the enum's
 * page; none for base types, typedefs and unnamed types.
 */
export function memberTypeHref(type: string, kernel: string): string | undefined {
  const m = /\b(struct|union|enum) ([A-Za-z_][A-Za-z0-9_]*)/.exec(type);
  if (!m) return undefined;
  return m[1] === 'enum' ? `/enums/${urlPart(m[2])}` : typeHref(m[2], kernel);
}

function typeValueWords(v: TypeValue): string {
  if (v.status !== 'present') return 'not defined';
  return v.values !== undefined ? `${v.size} bytes/${v.values} values` : `${v.size} bytes/${v.members} members`;
}

/** Member names that appear and vanish between two kernels of a history (by the members each kernel lists). */
/**
 * The kernels on either side of each change point of a history's timeline where the type is defined on both sides:
 * the layouts the page names appeared and vanished members from.
 */
export function changePointKernels(h: Pick<TypeHistory, 'timeline'>): string[] {
  const out = new Set<string>();
  for (const line of h.timeline) {
    for (let i = 1; i < line.spans.length; i++) {
      const before = line.spans[i - 1];
      const after = line.spans[i];
      if (before.value.status === 'present' && after.value.status === 'present') out.add(before.last).add(after.first);
    }
  }
  return [...out];
}

/** The members of the definition a history shows for a kernel (its module's, else the first), from the layout answer. */
export function historyMembers(t: TypeInKernel, entry: TypeHistoryKernel | undefined): TypeMember[] {
  const def = t.types.find((d) => d.module === entry?.module) ?? t.types[0];
  return def?.members ?? [];
}

function memberDelta(a: readonly TypeMember[] | undefined, b: readonly TypeMember[] | undefined): string {
  const names = (k: readonly TypeMember[] | undefined): Set<string> => new Set((k ?? []).map((m) => m.name).filter((n) => n !== ''));
  const x = names(a);
  const y = names(b);
  const added = [...y].filter((n) => !x.has(n));
  const removed = [...x].filter((n) => !y.has(n));
  const parts: string[] = [];
  if (added.length > 0) parts.push(`appeared: ${added.join(', ')}`);
  if (removed.length > 0) parts.push(`vanished: ${removed.join(', ')}`);
  return parts.join('; ');
}

/**
 * `/types/{name}`: the history (summary, per arch the size over kernels with change points naming the members
 * that appeared and vanished, changes within series), and the kernels to pick one layout from.
 */
export function typeHistoryPage(h: TypeHistory, sel: Selection, kernels: readonly KernelRow[], layouts: ReadonlyMap<string, readonly TypeMember[]> = new Map()): string {
  // The members of the kernels at change points: the history's own lists, else the layouts asked for them.
  const membersOf = (kernel: string): readonly TypeMember[] | undefined => layouts.get(kernel) ?? h.kernels.find((k) => k.kernel === kernel)?.members;
  const changeWords = (a: TypeValue, b: TypeValue, before: { last: string }, after: { first: string }): string => {
    if (a.status !== 'present' && b.status === 'present') return `defined: ${typeValueWords(b)}`;
    if (a.status === 'present' && b.status !== 'present') return 'no longer defined';
    const parts: string[] = [];
    if (a.size !== b.size) parts.push(`size ${a.size} → ${b.size}`);
    if (a.members !== b.members) parts.push(`members ${a.members} → ${b.members}`);
    if (a.values !== b.values) parts.push(`values ${a.values} → ${b.values}`);
    const delta = memberDelta(membersOf(before.last), membersOf(after.first));
    if (delta !== '') parts.push(delta);
    if (parts.length === 0) parts.push('other layout (members moved or retyped)');
    return parts.join('; ');
  };
  const present = h.kernels.filter((k) => k.status === 'present');
  return page({
    title: h.type,
    json: `/v1/types/${urlPart(h.type)}/history${query({ arch: sel.arch, distro: sel.distro, release: sel.release })}`,
    cli: cliCommand('type', h.type, '--history', ...selectionFlags(sel)),
    body: html`<p class="summary" id="summary">${h.summary}</p>
${selectionForm(`/types/${urlPart(h.type)}`, kernels, sel)}
${h.not_ingested ? html`<p class="note">Left out (module ${h.not_ingested.modules.join(', ')} not ingested for them): ${h.not_ingested.kernels.map((k) => unameOf(k)).join(', ')}.</p>` : ''}
${timelineCharts(h.type, h.timeline, 'size in bytes', (v) => (v.status === 'present' && v.size !== undefined ? v.size : null), typeValueWords, changeWords)}
<h2>Changes within a series</h2>
${seriesChangesTable(h.changes, seriesChangeWords)}
<h2 id="pick">Layout in one kernel</h2>
<div class="table-wrap" tabindex="0" role="region" aria-label="${h.type} in each kernel"><table id="type-kernels">
<caption class="visually-hidden">${h.type} in each kernel</caption>
<thead><tr><th scope="col">Kernel</th><th scope="col">Series</th><th scope="col">Size</th><th scope="col">Members</th><th scope="col">Module</th></tr></thead>
<tbody>${h.kernels.map((k) => html`<tr><td>${k.status === 'present' ? html`<a href="${typeHref(h.type, k.kernel)}">${unameOf(k.kernel)}</a>` : html`${unameOf(k.kernel)} (not defined)`}</td><td>${k.series}</td><td class="num">${k.size ?? ''}</td><td class="num">${k.members?.length ?? k.member_count ?? ''}</td><td>${k.module ?? ''}</td></tr>`)}</tbody>
</table></div>
${present.length === 0 ? html`<p>No kernel of the selection defines ${h.type}.</p>` : ''}`,
  });
}

function definitionSection(t: TypeDefinition, kernel: string, index: number, count: number): Html {
  const id = `layout-${index}`;
  const heading = html`<h2 id="${id}-h">${t.kind} ${t.name}${t.module ? html` (module ${t.module})` : ''}: ${t.size} bytes${count > 1 ? html`, definition ${index + 1} of ${count}` : ''}</h2>`;
  if (t.values !== undefined) {
    return html`<section aria-labelledby="${id}-h">${heading}
<div class="table-wrap" tabindex="0" role="region" aria-label="Values of ${t.kind} ${t.name}"><table class="enum-values"><thead><tr><th scope="col">Name</th><th scope="col">Value</th></tr></thead>
<tbody>${t.values.map((v) => html`<tr><td>${v.name}</td><td class="num">${v.value}</td></tr>`)}</tbody></table></div></section>`;
  }
  const members = t.members ?? [];
  const bars = layoutBars(t.size, members);
  const gaps = bars.filter((b) => b.kind !== 'member');
  const rows = [
    ...members.map((m) => ({ at: m.bits_offset, cells: html`<tr><td>${m.name || '(anon)'}</td><td class="num">${m.offset}</td><td class="num">${m.bits_offset}</td><td class="num">${m.bitfield_size || ''}</td><td class="num">${m.size}</td><td>${linkedType(m.type, kernel)}</td></tr>` })),
    ...gaps.map((g) => ({ at: g.bitsOffset, cells: html`<tr class="${g.kind}"><td><em>${g.kind}</em></td><td class="num">${Math.floor(g.bitsOffset / 8)}</td><td class="num">${g.bitsOffset}</td><td></td><td class="num">${bitsInWords(g.bits)}</td><td></td></tr>` })),
  ].sort((a, b) => a.at - b.at);
  return html`<section aria-labelledby="${id}-h">${heading}
<figure><div class="chart-scroll" tabindex="0" role="region" aria-label="Layout of ${t.kind} ${t.name}">${layoutChart({ id, title: `Layout of ${t.kind} ${t.name} in ${unameOf(kernel)}`, size: t.size, bars })}</div>
<figcaption>One row per 64-byte cacheline; hatched bars are holes and padding. Overlapping members (unions) stack.</figcaption></figure>
<div class="table-wrap" tabindex="0" role="region" aria-label="Members of ${t.kind} ${t.name}"><table class="members" id="${id}-members">
<caption class="visually-hidden">Members of ${t.kind} ${t.name}, with holes and padding</caption>
<thead><tr><th scope="col">Member</th><th scope="col">Offset</th><th scope="col">Bit offset</th><th scope="col">Bitfield bits</th><th scope="col">Size</th><th scope="col">Type</th></tr></thead>
<tbody>${rows.map((r) => r.cells)}</tbody></table></div>
</section>`;
}

/** A type spelling with the struct, union or enum it names linked to its page. */
function linkedType(type: string, kernel: string): Html {
  const m = /\b(struct|union|enum) ([A-Za-z_][A-Za-z0-9_]*)/.exec(type);
  const href = memberTypeHref(type, kernel);
  if (!m || href === undefined) return html`<code>${type}</code>`;
  const start = m.index;
  const end = start + m[0].length;
  return html`<code>${type.slice(0, start)}<a href="${href}">${m[0]}</a>${type.slice(end)}</code>`;
}

/**
 * `/types/{name}?kernel=KREF`: every definition of the name in that kernel drawn as bars (members at their
 * offsets, holes and padding, cacheline rows) with its member table, then pahole's text of it.
 */
export function typeInKernelPage(t: TypeInKernel, pahole: string | undefined): string {
  const name = t.types[0]?.name ?? '';
  return page({
    title: `${name} in ${unameOf(t.kernel)}`,
    json: `/v1/types/${urlPart(name)}${query({ kernel: t.kernel })}`,
    cli: cliCommand('type', name, '--kernel', t.kernel, '--json'),
    body: html`<p>Kernel <a href="${kernelHref(t.kernel)}">${t.kernel}</a>; <a href="${typeHref(name)}">${name} in every kernel</a>.</p>
${t.types.map((d, i) => definitionSection(d, t.kernel, i, t.types.length))}
${pahole !== undefined ? html`<h2 id="pahole-h">pahole</h2><p class="equivalents"><a href="/v1/types/${urlPart(name)}?kernel=${krefPath(t.kernel)}&amp;format=pahole">text</a> <code class="cli">${cliCommand('type', name, '--kernel', t.kernel)}</code></p><pre id="pahole" tabindex="0">${pahole}</pre>` : ''}`,
  });
}
