import type { FastifyInstance } from 'fastify';
import { askApi, PAGE_ROUTE, type ApiProblem, type SeriesChange, type TimelineLine } from '../api.js';
import { stepChart, type StepLane } from '../chart.js';
import { html, query, raw, unameOf, urlPart, type Html } from '../html.js';
import { cliCommand, page } from '../layout.js';
import { bodyOr, declText, kernelLink, namedHref, oneParam, sendHtml, table, type QueryValues } from './parts.js';

/**
 * The pages of functions, tracepoints, enums and syscalls: `/{plural}/{name}` is the history over the catalog's
 * kernels (`GET /v1/{plural}/{name}/history`: its summary, timeline spans, changes and kernels), and
 * `/{plural}/{name}?kernel=KREF` the definitions in one kernel (`GET /v1/{plural}/{name}?kernel=`).
 */

type Def = Record<string, unknown> & { name: string; module?: string };

interface Param {
  name: string;
  type: string;
}

interface HistoryEntry {
  kernel: string;
  series: string;
  status: 'present' | 'missing';
  definitions?: Def[];
  [key: string]: unknown;
}

type Value = Record<string, unknown>;
type Line = TimelineLine<Value>;

/** A change of these histories: the finer class (`change`) and where (a parameter, a member, a FUNC). */
interface HistoryChange extends SeriesChange {
  change?: string;
  param?: string;
  index?: number;
  func?: string;
  abi?: string;
}

interface History {
  kernels: HistoryEntry[];
  changes: HistoryChange[];
  timeline: Line[];
  summary: string;
  failed_kernels?: { kernel: string; code: string; message: string }[];
  not_ingested?: { modules: string[]; kernels: string[] };
  [key: string]: unknown;
}

/** What differs between the kinds' pages. */
interface KindPage {
  /** The path segment of the page and of its API route. */
  plural: string;
  /** The CLI command and the key of the history's name. */
  command: string;
  /** What a thing of this kind is called in titles. */
  noun: string;
  /** A timeline span's value in words. */
  valueText: (value: Record<string, unknown>) => string;
  /** A definition in one line (the history's kernel table). */
  brief: (def: Def) => string;
  /** A definition in full (the one-kernel page). */
  full: (def: Def, kernel: string, q: QueryValues) => Html;
  /** What the timeline's step chart plots (a span's number, null where the kind is missing), when it has one. */
  chart?: { yLabel: string; value: (value: Value) => number | null; label: (n: number) => string };
}

/** A parameter list as C writes it. */
function paramsText(params: readonly Param[], variadic = false): string {
  const list = params.map((p) => declText(p.type, p.name));
  if (variadic) list.push('...');
  return `(${list.length === 0 ? 'void' : list.join(', ')})`;
}

function paramsTable(id: string, caption: string, params: readonly Param[], first = 0): Html {
  return table(id, caption, ['#', 'name', 'type'], params.map((p, i) => html`<tr><td class="num">${i + first}</td><td class="mono">${p.name || '(unnamed)'}</td><td class="mono">${p.type}</td></tr>`));
}

const missingText = (value: Record<string, unknown>): string | undefined => (value.status === 'missing' ? 'not defined' : undefined);

const FUNC: KindPage = {
  plural: 'funcs',
  command: 'func',
  noun: 'Function',
  valueText: (v) => missingText(v) ?? `${String(v.linkage)}${v.kfunc === true ? ' kfunc' : ''} ${String(v.prototype)}${v.definitions ? ` (${String(v.definitions)} definitions)` : ''}`,
  brief: (d) => `${String(d.linkage)}${d.kfunc === true ? ' kfunc' : ''} ${String(d.return)} ${d.name}${paramsText(d.params as Param[], d.variadic === true)}`,
  full: (d) => html`<pre class="decl"><code>${FUNC.brief(d)};</code></pre>
<dl class="facts">
<dt>linkage</dt><dd>${String(d.linkage)}</dd>
<dt>kfunc</dt><dd>${d.kfunc === true ? 'yes (tagged bpf_kfunc)' : 'no'}</dd>
<dt>decl tags</dt><dd>${(d.decl_tags as string[]).length === 0 ? 'none' : (d.decl_tags as string[]).join(', ')}</dd>
<dt>returns</dt><dd class="mono">${String(d.return)}</dd>
<dt>defined in</dt><dd>${d.module ?? 'vmlinux'}</dd>
</dl>
${paramsTable(`params-${d.module ?? 'vmlinux'}`, 'Parameters', d.params as Param[])}`,
};

interface TracepointDef extends Def {
  raw: { typedef: string; context: Param | null; params: Param[]; return: string } | null;
  event: { struct: string; size: number; members: { name: string; offset: number; bits_offset: number; bitfield_size: number; size: number; type: string }[] } | null;
}

const TRACEPOINT: KindPage = {
  plural: 'tracepoints',
  command: 'tracepoint',
  noun: 'Tracepoint',
  chart: {
    yLabel: 'event record size in bytes',
    value: (v) => (v.status === 'missing' || v.event === null ? null : (v.event as { size: number }).size),
    label: (n) => `${n} B`,
  },
  valueText: (v) => {
    const m = missingText(v);
    if (m) return m;
    const ev = v.event as { size: number; members: number } | null;
    return `raw ${v.raw === null ? 'none' : String(v.raw)}; event ${ev === null ? 'none' : `${ev.size} bytes, ${ev.members} members`}`;
  },
  brief: (def) => {
    const d = def as TracepointDef;
    return `raw ${d.raw ? paramsText(d.raw.params) : 'none'}; event ${d.event ? `${d.event.size} bytes, ${d.event.members.length} members` : 'none'}`;
  },
  full: (def, kernel) => {
    const d = def as TracepointDef;
    const id = d.module ?? 'vmlinux';
    return html`<h3>Raw tracepoint</h3>
${d.raw === null ? html`<p>No <code>btf_trace_${d.name}</code> typedef in this kernel.</p>` : html`<p class="mono">typedef ${d.raw.return} (*${d.raw.typedef})${paramsText(d.raw.context ? [d.raw.context, ...d.raw.params] : d.raw.params)};</p>
${paramsTable(`raw-${id}`, 'Arguments after the context', d.raw.params, 1)}`}
<h3>Event record</h3>
${d.event === null ? html`<p>No <code>trace_event_raw_${d.name}</code> struct in this kernel.</p>` : html`<p><a href="/types/${urlPart(d.event.struct)}${query({ kernel })}" class="mono">struct ${d.event.struct}</a>, ${d.event.size} bytes.</p>
${table(`event-${id}`, `Members of struct ${d.event.struct}`, ['offset', 'size', 'name', 'type'], d.event.members.map((m) => html`<tr><td class="num">${m.offset}${m.bitfield_size ? `:${m.bits_offset % 8}` : ''}</td><td class="num">${m.bitfield_size ? `${m.bitfield_size} bits` : m.size}</td><td class="mono">${m.name}</td><td class="mono">${m.type}</td></tr>`))}`}`;
  },
};

const ENUM: KindPage = {
  plural: 'enums',
  command: 'enum',
  noun: 'Enum',
  chart: { yLabel: 'number of values', value: (v) => (v.status === 'missing' ? null : Number(v.values)), label: (n) => `${n} values` },
  valueText: (v) => missingText(v) ?? `${String(v.kind)}, ${String(v.size)} bytes, ${String(v.values)} values`,
  brief: (d) => `${String(d.size)} bytes, ${d.signed === true ? 'signed' : 'unsigned'}, ${(d.values as unknown[]).length} values`,
  full: (d, kernel, q) => {
    const marked = oneParam(q, 'enumerator');
    const values = d.values as { name: string; value: number | string }[];
    return html`<p>enum <span class="mono">${d.name}</span>: ${ENUM.brief(d)}, in ${d.module ?? 'vmlinux'}
(<a href="/types/${urlPart(d.name)}${query({ kernel })}">as pahole prints it</a>).</p>
${table(`values-${d.module ?? 'vmlinux'}`, 'Values', ['name', 'value'], values.map((v) => {
  const on = v.name === marked;
  return html`<tr id="enumerator-${v.name}"${raw(on ? ' class="marked" aria-current="true"' : '')}><td class="mono">${on ? html`<mark>${v.name}</mark>` : v.name}</td><td class="num mono">${String(v.value)}</td></tr>`;
}))}`;
  },
};

const SYSCALL: KindPage = {
  plural: 'syscalls',
  command: 'syscall',
  noun: 'Syscall',
  valueText: (v) => missingText(v) ?? [...(v.funcs as string[]), ...(v.compat_funcs as string[])].join(' '),
  brief: (d) => [...(d.funcs as string[]), ...(d.compat_funcs as string[])].join(' '),
  full: (d, kernel) => html`<ul>${[...(d.funcs as string[]), ...(d.compat_funcs as string[])].map((f) => html`<li><a class="mono" href="${namedHref('funcs', f, { kernel })}">${f}</a></li>`)}</ul>`,
};

export const KIND_PAGES: readonly KindPage[] = [FUNC, TRACEPOINT, ENUM, SYSCALL];

/** A change's side in a few words: a parameter `type name`, a value, an offset. */
function sideText(side: Record<string, unknown> | undefined): string {
  if (side === undefined || Object.keys(side).length === 0) return '';
  if (typeof side.type === 'string') return declText(side.type, typeof side.name === 'string' ? side.name : '');
  return Object.entries(side)
    .filter(([, v]) => v === null || typeof v !== 'object')
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ');
}

function changesTable(changes: readonly HistoryChange[]): Html {
  if (changes.length === 0) return html`<p>No change between neighbouring kernels of a series.</p>`;
  return table('history-changes', `${changes.length} changes between neighbouring kernels of a series`, ['from', 'to', 'what', 'change', 'where', 'before', 'after'], changes.map((c) => {
    const where = c.param !== undefined ? `param ${c.index === undefined ? '' : `#${c.index} `}${c.param}` : c.member ?? c.func ?? '';
    return html`<tr><td>${kernelLink(c.from)}</td><td>${kernelLink(c.to)}</td><td>${c.what}</td><td>${c.change ?? ''}${c.abi ? ` (ABI ${c.abi})` : ''}</td>
<td class="mono">${where}${c.probable_rename ? ` (probably renamed: ${c.probable_rename})` : ''}</td><td class="mono">${sideText(c.before)}</td><td class="mono">${sideText(c.after)}</td></tr>`;
  }));
}

/** The timeline as a step chart (for kinds with a number to plot); the span tables under it hold the same data. */
function timelineChart(k: KindPage, name: string, timeline: readonly Line[]): Html {
  const chart = k.chart;
  if (chart === undefined || timeline.length === 0) return html``;
  const lanes: StepLane[] = timeline.map((line) => ({
    label: `${line.arch}${line.flavour ? ` ${line.flavour}` : ''}${line.main ? '' : ' (other flavour)'}, ${line.kernels} kernels`,
    spans: line.spans.map((s, i) => {
      const value = chart.value(s.value);
      return {
        count: s.count,
        value,
        label: value === null ? 'not defined' : chart.label(value),
        first: unameOf(s.first),
        last: unameOf(s.last),
        change: i === 0 ? undefined : `${k.valueText(line.spans[i - 1].value)} → ${k.valueText(s.value)}`,
      };
    }),
  }));
  return stepChart({ id: 'timeline-chart', title: `${k.noun} ${name}: ${chart.yLabel} over kernels in version order`, yLabel: chart.yLabel, lanes });
}

function timelineTables(k: KindPage, timeline: readonly Line[]): Html {
  return html`${timeline.map((line) => {
    const id = `timeline-${line.arch}-${line.flavour || 'none'}`;
    return html`<h3 id="${id}-h">${line.arch}${line.flavour ? ` ${line.flavour}` : ''}${line.main ? '' : ' (other flavour)'}: ${line.kernels} kernels</h3>
${table(id, html`Spans of kernels with the same ${k.noun.toLowerCase()}, in kernel order`, ['first', 'last', 'kernels', 'value'], line.spans.map((s) => html`<tr class="${s.value.status === 'missing' ? 'missing' : 'present'}">
<td>${kernelLink(s.first)}</td><td>${kernelLink(s.last)}</td><td class="num">${s.count}</td><td class="mono">${k.valueText(s.value)}</td></tr>`))}
${line.differs_from_main && line.differs_from_main.length > 0 ? html`<p>Differs from the main flavour at the same version in ${line.differs_from_main.length} runs of the ${line.compared_with_main ?? 0} kernels compared.</p>` : ''}`;
  })}`;
}

function entryText(k: KindPage, e: HistoryEntry): string {
  if (e.status === 'missing') return 'not defined';
  if (e.definitions) return e.definitions.map((d) => `${d.module ?? 'vmlinux'}: ${k.brief(d)}`).join(' | ');
  return k.brief(e as unknown as Def);
}

/** The history page of a name. `extra` is shown after the summary (the enumerator of `?enumerator=`). */
function historyPage(k: KindPage, name: string, h: History, extra: Html = html``): string {
  const api = `/v1/${k.plural}/${urlPart(name)}/history`;
  return page({
    title: `${k.noun} ${name}`,
    json: api,
    cli: cliCommand(k.command, name, '--history', '--json'),
    styles: ['/assets/compare.css'],
    body: html`<p id="history-summary" class="summary">${h.summary}</p>
${extra}
<section aria-labelledby="timeline-h"><h2 id="timeline-h">Timeline</h2>${timelineChart(k, name, h.timeline)}${timelineTables(k, h.timeline)}</section>
<section aria-labelledby="changes-h"><h2 id="changes-h">Changes</h2>${changesTable(h.changes)}</section>
<section aria-labelledby="kernels-h"><h2 id="kernels-h">Kernels</h2>
${table('history-kernels', `${h.kernels.length} kernels in kernel order`, ['kernel', 'series', 'definition'], h.kernels.map((e) => html`<tr class="${e.status}">
<td>${e.status === 'present' ? html`<a href="${namedHref(k.plural, name, { kernel: e.kernel })}" title="${name} in ${e.kernel}">${unameOf(e.kernel)}</a>` : html`<span title="${e.kernel}">${unameOf(e.kernel)}</span>`}</td>
<td>${e.series}</td><td class="mono">${entryText(k, e)}</td></tr>`))}
</section>
${h.failed_kernels && h.failed_kernels.length > 0 ? html`<section aria-labelledby="failed-h"><h2 id="failed-h">Kernels that failed to ingest</h2>
<ul>${h.failed_kernels.map((f) => html`<li>${f.kernel}: ${f.code}, ${f.message}</li>`)}</ul></section>` : ''}
${h.not_ingested ? html`<p>Left out: ${h.not_ingested.kernels.length} kernels whose module BTF (${h.not_ingested.modules.join(', ')}) was not ingested.</p>` : ''}`,
  });
}

/** The page of a name in one kernel: every definition (vmlinux first, then modules). */
function inKernelPage(k: KindPage, name: string, kernel: string, defs: readonly Def[], q: QueryValues): string {
  return page({
    title: `${k.noun} ${name} in ${unameOf(kernel)}`,
    json: `/v1/${k.plural}/${urlPart(name)}${query({ kernel })}`,
    cli: cliCommand(k.command, name, '--kernel', kernel, '--json'),
    styles: ['/assets/compare.css'],
    body: html`<p>In ${kernelLink(kernel, kernel)}; <a href="${namedHref(k.plural, name)}">history over every kernel</a>.</p>
${defs.map((d) => html`<section class="definition" aria-labelledby="def-${d.module ?? 'vmlinux'}">
<h2 id="def-${d.module ?? 'vmlinux'}">${d.module ? `In module ${d.module}` : 'In vmlinux'}</h2>
${k.full(d, kernel, q)}
</section>`)}`,
  });
}

/** The enumerator `?enumerator=` asks about, over the catalog's kernels (its value per span). */
function enumeratorSection(name: string, h: History | undefined): Html {
  if (h === undefined) return html`<p class="problem">The catalog has no enumerator named <span class="mono">${name}</span>.</p>`;
  return html`<section id="enumerator" aria-labelledby="enumerator-h"><h2 id="enumerator-h">Enumerator <mark class="mono">${name}</mark></h2>
<p>${h.summary} (<a href="/v1/enumerators/${urlPart(name)}/history">JSON</a>)</p>
${h.timeline.map((line) => table(`enumerator-${line.arch}-${line.flavour || 'none'}`, `${line.arch} ${line.flavour}`, ['first', 'last', 'kernels', 'value'], line.spans.map((s) => html`<tr>
<td>${kernelLink(s.first)}</td><td>${kernelLink(s.last)}</td><td class="num">${s.count}</td><td class="mono">${s.value.status === 'missing' ? 'not defined' : `${String(s.value.value)} (enum ${String(s.value.enum)})`}</td></tr>`)))}
</section>`;
}

/** Registers `/funcs/:name`, `/tracepoints/:name`, `/enums/:name` and `/syscalls/:name`. */
export function registerKindPages(app: FastifyInstance): void {
  for (const k of KIND_PAGES) {
    app.get<{ Params: { name: string }; Querystring: QueryValues }>(`/${k.plural}/:name`, PAGE_ROUTE, async (request, reply) => {
      const name = request.params.name;
      const kernel = oneParam(request.query, 'kernel');
      // What the API suggests links to this kind's pages: a close name's, or this name's in a close kernel.
      const suggested = (other: string, problem: ApiProblem): string =>
        problem.code === 'KERNEL_NOT_FOUND' ? namedHref(k.plural, name, { kernel: other }) : namedHref(k.plural, other, { kernel });
      if (kernel !== undefined) {
        const answer = bodyOr(reply, await askApi<Record<string, unknown>>(app, `/v1/${k.plural}/${urlPart(name)}${query({ kernel })}`), suggested);
        if (answer === undefined) return reply;
        return sendHtml(reply, inKernelPage(k, name, String(answer.kernel), answer[k.plural] as Def[], request.query));
      }
      const enumerator = k === ENUM ? oneParam(request.query, 'enumerator') : undefined;
      const [history, ofEnumerator] = await Promise.all([
        askApi<History>(app, `/v1/${k.plural}/${urlPart(name)}/history`),
        enumerator === undefined ? undefined : askApi<History>(app, `/v1/enumerators/${urlPart(enumerator)}/history`),
      ]);
      const h = bodyOr(reply, history, suggested);
      if (h === undefined) return reply;
      const extra = enumerator === undefined ? undefined : enumeratorSection(enumerator, ofEnumerator?.ok ? ofEnumerator.body : undefined);
      return sendHtml(reply, historyPage(k, name, h, extra));
    });
  }
}
