import type { KernelRow } from '../api.js';
import { html, query, raw, unameOf, urlPart, type Html } from '../html.js';
import { cliCommand, page } from '../layout.js';
import { declText, kernelHref, namedHref, table } from './parts.js';

/** Changes per page: a 30,000-change diff is 150 pages of a table small enough to render at once. */
export const DIFF_PAGE_SIZE = 200;

type Counts = Record<string, number>;

export interface DiffChange {
  kind: string;
  name: string;
  module?: string;
  member?: string;
  change: string;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
  severity: string;
  probable_rename?: string;
  reason?: string;
}

export interface DiffAmbiguous {
  kind: string;
  name: string;
  module?: string;
  old_count: number;
  new_count: number;
}

/** `GET /v1/diff` (with or without filters). */
export interface DiffAnswer {
  from: string;
  to: string;
  changes: DiffChange[];
  summary: Counts & { total?: Counts };
  ambiguous?: DiffAmbiguous[];
  filters?: { severity?: string[]; kind?: string[]; name?: string };
}

/** `GET /v1/diff?summary=true`: counts per severity and per kind. */
export interface DiffSummaryAnswer {
  from: string;
  to: string;
  summary: Counts & { kinds: Record<string, Counts> };
  ambiguous?: DiffAmbiguous[];
}

/** The filters of a diff view as the page's query has them (comma-separated lists). */
export interface DiffFilters {
  severity?: string;
  kind?: string;
  name?: string;
}

/**
 * The severities and kinds a diff has, as its summary lists them (`summary=true` counts every severity, and every
 * kind in `kinds`, in the contract's order): the counts table's columns and rows, and the filters' values.
 */
interface Axes {
  severities: string[];
  kinds: string[];
}

function axesOf(whole: DiffSummaryAnswer): Axes {
  return { severities: Object.keys(whole.summary).filter((k) => typeof whole.summary[k] === 'number'), kinds: Object.keys(whole.summary.kinds) };
}

const sum = (counts: Counts, keys: readonly string[]): number => keys.reduce((a, k) => a + (counts[k] ?? 0), 0);

/** `/v1/diff?from&to` with the filters, as the page asks it and links it. */
export function diffApiUrl(from: string, to: string, f: DiffFilters, summary = false): string {
  return `/v1/diff${query({ from, to, severity: f.severity, kind: f.kind, name: f.name, summary: summary ? 'true' : undefined })}`;
}

/** `/diff?...`: a view of the diff (filters and page) as a deep link. */
export function diffHref(from: string, to: string, f: DiffFilters, pageNo?: number): string {
  return `/diff${query({ from, to, severity: f.severity, kind: f.kind, name: f.name, page: pageNo !== undefined && pageNo > 1 ? pageNo : undefined })}`;
}

function diffCli(from: string, to: string, f: DiffFilters): string {
  const flag = (name: string, value: string | undefined): string[] => (value === undefined ? [] : [`--${name}`, value]);
  return cliCommand('diff', from, to, ...flag('severity', f.severity), ...flag('kind', f.kind), ...flag('name', f.name), '--json');
}

/** Kernel pickers: one select per side, kernels grouped by distro/release/arch in kernel order. */
function kernelSelect(id: string, name: string, label: string, kernels: readonly KernelRow[], selected: string | undefined): Html {
  const groups = new Map<string, KernelRow[]>();
  for (const k of kernels) {
    const g = `${k.distro}/${k.release}/${k.arch}`;
    groups.set(g, [...(groups.get(g) ?? []), k]);
  }
  return html`<p><label for="${id}">${label}</label>
<select id="${id}" name="${name}" required>
<option value="">choose a kernel</option>
${[...groups].map(([g, ks]) => html`<optgroup label="${g}">${ks.map((k) => html`<option value="${k.kernel}"${raw(k.kernel === selected ? ' selected' : '')}>${k.kernel}</option>`)}</optgroup>`)}
</select></p>`;
}

/** The kernels a picker offers: those ingested (a failed ingest has no BTF to compare or check). */
export function pickable(kernels: readonly KernelRow[]): KernelRow[] {
  return kernels.filter((k) => k.state === undefined || k.state === 'ingested');
}

/** `/diff` without both kernels: the form to pick them. */
export function diffFormPage(all: readonly KernelRow[], from?: string, to?: string): string {
  const kernels = pickable(all);
  return page({
    title: 'Compare two kernels',
    cli: 'btf-atlas diff KREF_A KREF_B --json',
    styles: ['/assets/compare.css'],
    body: html`<form id="diff-pick" class="pick" action="/diff" method="get">
${kernelSelect('diff-from', 'from', 'From (older) kernel', kernels, from)}
${kernelSelect('diff-to', 'to', 'To (newer) kernel', kernels, to)}
<p><button type="submit">Compare</button></p>
</form>
${kernels.length === 0 ? html`<p>The catalog has no kernels yet.</p>` : ''}`,
  });
}

/** A severity as text with its mark, so colour is never the only signal. */
export function severityBadge(severity: string): Html {
  return html`<span class="sev sev-${severity}">${severity}</span>`;
}

/** The counts table: kinds down, severities across, each count a link to the view filtered to it. */
function countsTable(from: string, to: string, s: DiffSummaryAnswer['summary'], { severities, kinds }: Axes): Html {
  const cell = (n: number, f: DiffFilters): Html => (n === 0 ? html`<td class="num">0</td>` : html`<td class="num"><a href="${diffHref(from, to, f)}">${n}</a></td>`);
  const total = sum(s, severities);
  const rows = kinds.map((kind) => {
    const c = s.kinds[kind];
    return html`<tr><th scope="row">${kind}</th>${severities.map((sev) => cell(c[sev] ?? 0, { severity: sev, kind }))}${cell(sum(c, severities), { kind })}</tr>`;
  });
  rows.push(html`<tr class="total"><th scope="row">all kinds</th>${severities.map((sev) => cell(s[sev] ?? 0, { severity: sev }))}${cell(total, {})}</tr>`);
  return table('diff-counts', html`${total} changes by kind and severity`, ['kind', ...severities, 'all'], rows);
}

/** The filter form: a GET form, so every filtered view is a deep link (diff.js submits it as it changes). */
function filterForm(from: string, to: string, f: DiffFilters, axes: Axes): Html {
  const sev = new Set(f.severity?.split(','));
  const kinds = new Set(f.kind?.split(','));
  const box = (name: string, value: string, checked: boolean): Html =>
    html`<label><input type="checkbox" name="${name}" value="${value}"${raw(checked ? ' checked' : '')}> ${value}</label>`;
  return html`<form id="diff-filters" class="filters" action="/diff" method="get">
<input type="hidden" name="from" value="${from}">
<input type="hidden" name="to" value="${to}">
<fieldset><legend>Severity</legend>${axes.severities.map((s) => box('severity', s, sev.has(s)))}</fieldset>
<fieldset><legend>Kind</legend>${axes.kinds.map((k) => box('kind', k, kinds.has(k)))}</fieldset>
<p><label for="diff-name">Type name (glob)</label> <input id="diff-name" name="name" type="text" value="${f.name ?? ''}" placeholder="sk_*" spellcheck="false" autocomplete="off"></p>
<p><button type="submit">Filter</button> <a href="${diffHref(from, to, {})}">Clear filters</a></p>
</form>`;
}

/** A change's before or after state in a few words (`offset 112`, `int (struct sock *, int)`, `value 39`). */
export function stateText(state: Record<string, unknown>): string {
  if (Object.keys(state).length === 0) return '';
  if ('ret' in state && Array.isArray(state.params)) {
    const params = (state.params as { name?: string; type: string }[]).map((p) => declText(p.type, p.name ?? ''));
    if (state.variadic === true) params.push('...');
    return `${String(state.ret)} (${params.join(', ')})`;
  }
  const parts: string[] = [];
  for (const [k, v] of Object.entries(state)) {
    if (k === 'definitions' && Array.isArray(v)) continue;
    if (v !== null && typeof v === 'object') continue;
    parts.push(`${k} ${String(v)}`);
  }
  return parts.join(', ');
}

const TRACEPOINT_TYPEDEF = 'btf_trace_';

/**
 * Where a change's type lives in one kernel: its struct/union/enum/func page there, and for a typedef
 * `btf_trace_NAME` its tracepoint's; undefined for other typedefs (no page shows one typedef).
 */
function typePage(c: DiffChange, kernel: string): string | undefined {
  if (c.kind === 'func') return namedHref('funcs', c.name, { kernel });
  if (c.kind === 'enum') return namedHref('enums', c.name, { kernel, enumerator: c.member });
  if (c.kind === 'typedef') return c.name.startsWith(TRACEPOINT_TYPEDEF) ? namedHref('tracepoints', c.name.slice(TRACEPOINT_TYPEDEF.length), { kernel }) : undefined;
  return `/types/${urlPart(c.name)}${query({ kernel })}`;
}

function changeRow(from: string, to: string, c: DiffChange): Html {
  const inFrom = c.change !== 'added' || c.member !== undefined;
  const inTo = c.change !== 'removed' || c.member !== undefined;
  const field = (c.kind === 'struct' || c.kind === 'union') && c.member !== undefined ? `${c.name}.${c.member}` : undefined;
  const fromPage = inFrom ? typePage(c, from) : undefined;
  const toPage = inTo ? typePage(c, to) : undefined;
  const links = [
    fromPage ? html`<a href="${fromPage}" title="${c.name} in ${from}">in ${unameOf(from)}</a>` : '',
    toPage ? html`<a href="${toPage}" title="${c.name} in ${to}">in ${unameOf(to)}</a>` : '',
    field ? html`<a href="/fields/${urlPart(field)}" title="the history of ${field}">field history</a>` : '',
  ].filter((l) => l !== '');
  return html`<tr class="change sev-row-${c.severity}">
<td>${severityBadge(c.severity)}</td><td>${c.kind}</td>
<td class="mono name">${c.name}${c.module ? html` <span class="module">[${c.module}]</span>` : ''}</td>
<td class="mono member">${c.member ?? ''}${c.probable_rename ? html` <span class="rename">(probably renamed ${c.change === 'removed' ? 'to' : 'from'} ${c.probable_rename})</span>` : ''}</td>
<td>${c.change}</td>
<td class="mono">${stateText(c.before)}</td><td class="mono">${stateText(c.after)}</td>
<td class="links">${links.map((l, i) => html`${i > 0 ? html`<br>` : ''}${l}`)}</td>
<td class="why">${c.reason ?? ''}</td>
</tr>`;
}

function pager(from: string, to: string, f: DiffFilters, pageNo: number, pages: number): Html {
  if (pages <= 1) return html``;
  return html`<nav class="pager" aria-label="Pages of changes">
${pageNo > 1 ? html`<a id="diff-first" href="${diffHref(from, to, f, 1)}">First</a> <a id="diff-prev" rel="prev" href="${diffHref(from, to, f, pageNo - 1)}">Previous</a>` : ''}
<span aria-current="page">Page ${pageNo} of ${pages}</span>
${pageNo < pages ? html`<a id="diff-next" rel="next" href="${diffHref(from, to, f, pageNo + 1)}">Next</a> <a id="diff-last" href="${diffHref(from, to, f, pages)}">Last</a>` : ''}
</nav>`;
}

export interface DiffView {
  filters: DiffFilters;
  /** The page asked (from 1); beyond the last page shows the last. */
  page: number;
}

/** The number of pages of a diff answer and the page actually shown. */
export function pageOf(total: number, asked: number): { page: number; pages: number } {
  const pages = Math.max(1, Math.ceil(total / DIFF_PAGE_SIZE));
  return { pages, page: Math.min(Math.max(1, asked), pages) };
}

/** `/diff?from&to[&severity][&kind][&name][&page]`: counts first, then the filters, then one page of changes. */
export function diffPage(whole: DiffSummaryAnswer, shown: DiffAnswer, view: DiffView): string {
  const { from, to } = shown;
  const f = view.filters;
  const filtered = f.severity !== undefined || f.kind !== undefined || f.name !== undefined;
  const total = shown.changes.length;
  const { page: pageNo, pages } = pageOf(total, view.page);
  const first = (pageNo - 1) * DIFF_PAGE_SIZE;
  const rows = shown.changes.slice(first, first + DIFF_PAGE_SIZE).map((c) => changeRow(from, to, c));
  const ambiguous = shown.ambiguous ?? [];
  const axes = axesOf(whole);
  const wholeTotal = sum(whole.summary, axes.severities);
  const range = total === 0 ? 'no changes' : html`changes ${first + 1}–${first + rows.length} of ${total}`;
  return page({
    title: `${unameOf(from)} → ${unameOf(to)}`,
    json: diffApiUrl(from, to, f),
    cli: diffCli(from, to, f),
    styles: ['/assets/compare.css'],
    scripts: ['/assets/diff.js'],
    body: html`<p class="kernels">From <a href="${kernelHref(from)}">${from}</a> to <a href="${kernelHref(to)}">${to}</a>
(<a href="${diffHref(to, from, f)}">swap</a>, <a href="/diff${query({ from, to: undefined })}">other kernels</a>)</p>
<section aria-labelledby="counts-h"><h2 id="counts-h">Counts</h2>
${countsTable(from, to, whole.summary, axes)}
</section>
<section aria-labelledby="filters-h"><h2 id="filters-h">Filters</h2>
${filterForm(from, to, f, axes)}
</section>
<section id="diff-results" aria-labelledby="changes-h" aria-live="polite">
<h2 id="changes-h">Changes</h2>
<p id="diff-shown">${filtered ? html`${total} of ${wholeTotal} changes match the filters: ` : ''}${axes.severities.map((s, i) => html`${i > 0 ? ', ' : ''}${shown.summary[s] ?? 0} ${s}`)}.</p>
${pager(from, to, f, pageNo, pages)}
${total === 0 ? html`<p>No change matches.</p>` : table('diff-changes', range, ['severity', 'kind', 'name', 'member', 'change', 'before', 'after', 'pages', 'why'], rows)}
${pager(from, to, f, pageNo, pages)}
${ambiguous.length > 0 ? html`<details id="diff-ambiguous"><summary>${ambiguous.length} names not compared (several definitions in a kernel)</summary>
<ul>${ambiguous.map((a) => html`<li><span class="mono">${a.kind} ${a.name}</span>${a.module ? ` [${a.module}]` : ''}: ${a.old_count} → ${a.new_count} definitions</li>`)}</ul></details>` : ''}
</section>`,
  });
}
