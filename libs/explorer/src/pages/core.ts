import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { askApi, PAGE_ROUTE, type ApiAnswer, type ApiProblem, type KernelRow } from '../api.js';
import { html, query, raw, unameOf, urlPart, type Html } from '../html.js';
import { page } from '../layout.js';
import { boundaryOf, MultipartError, parseMultipart } from '../multipart.js';
import { pickable } from './diff.js';
import { kernelLink, oneParam, pageProblem, sendHtml, table, type QueryValues } from './parts.js';

/**
 * `/core`: the CO-RE dry run of a `.bpf.o` on the catalog's kernels. `GET` is the upload form; `POST` takes the form
 * (multipart/form-data, so it works without JavaScript) or the object's raw bytes with the selection in the query
 * (what core.js sends), asks `POST /v1/core/check` with the object, and shows its answer as a kernels × programs
 * matrix of verdicts, each failing cell linked to the fields whose relocations failed and to the reasons.
 */

/** The dry run's object limit (libs/dryrun MAX_OBJECT_BYTES, 16 MiB): the API refuses larger objects with 413. */
export const OBJECT_LIMIT = 16 * 1024 * 1024;
/** What the page route reads: the object and the form around it (boundaries, the selection's fields). */
const FORM_LIMIT = OBJECT_LIMIT + 64 * 1024;

const VERDICTS = ['ok', 'guarded', 'breaks', 'fails'] as const;
/** A mark beside each verdict's word (colour is never the only signal). */
const MARKS: Record<string, string> = { ok: '✓', guarded: '◐', breaks: '✗', fails: '⊘' };
const MEANING: Record<string, string> = {
  ok: 'every relocation resolved; the program loads as far as CO-RE goes',
  guarded: 'a relocation failed, but only on a path the patched constants rule out (bpf_core_field_exists and friends)',
  breaks: 'a failed relocation is reached: the verifier refuses the program',
  fails: 'the object does not load on this kernel at all (libbpf stops before the verifier)',
};

export interface Selection {
  kernel?: string;
  distro?: string;
  release?: string;
  arch?: string;
  /** Search ingested module BTF after vmlinux (the API's default: true). */
  modules: boolean;
}

interface Reason {
  kind?: string;
  verdict?: string;
  level?: string;
  message?: string;
  function?: string;
  relocation?: number;
}

interface Relocation {
  prog: string;
  idx: number;
  kind: string;
  status: string;
  local?: { spec?: string } | null;
  field?: { path: string; command: string; url: string };
}

interface ProgramVerdict {
  name: string;
  verdict: string;
  attach_target?: string;
  reasons?: Reason[];
}

interface KernelVerdict {
  kernel: string;
  verdict: string;
  reason?: string;
  programs: ProgramVerdict[];
  relocations: Relocation[];
  reasons?: Reason[];
}

export interface CoreAnswer {
  object: { sha256: string; size?: number; relocations?: number; programs: { name: string; section: string; attach?: { kind?: string; target?: string } }[] };
  kernels: KernelVerdict[];
  changes: { from: string; to: string; series: string; program: string; text: string }[];
  timelines: { program: string; summary: string }[];
  not_checked: string[];
}

export function verdictBadge(verdict: string): Html {
  return html`<span class="verdict verdict-${verdict}" title="${MEANING[verdict] ?? verdict}"><span aria-hidden="true">${MARKS[verdict] ?? '?'}</span> ${verdict}</span>`;
}

/** The relocation a reason names (`relocation` is its index in the object; the program tells its copies apart). */
function relocationOf(k: KernelVerdict, r: Reason, program?: string): Relocation | undefined {
  if (r.relocation === undefined) return undefined;
  const prog = r.function ?? program;
  return k.relocations.find((x) => x.idx === r.relocation && x.prog === prog) ?? k.relocations.find((x) => x.idx === r.relocation);
}

/** The field paths whose relocations a program's failing reasons name, in order, once each. */
function failedFields(k: KernelVerdict, p: ProgramVerdict): string[] {
  const out = new Set<string>();
  for (const r of p.reasons ?? []) {
    if (r.verdict !== 'breaks' && r.verdict !== 'fails') continue;
    const field = relocationOf(k, r, p.name)?.field;
    if (field) out.add(field.path);
  }
  return [...out];
}

const failing = (verdict: string): boolean => verdict === 'breaks' || verdict === 'fails';

function matrix(a: CoreAnswer): Html {
  const programs = a.object.programs.map((p) => p.name);
  const rows = a.kernels.map((k, i) => {
    const cells = programs.map((name, j) => {
      const p = k.programs.find((x) => x.name === name);
      if (p === undefined) return html`<td id="cell-${i}-${j}" data-verdict="none">not loaded</td>`;
      const fields = failing(p.verdict) ? failedFields(k, p) : [];
      const why = p.verdict !== 'ok' ? html` <a href="#why-${i}" aria-label="why ${p.verdict}: ${name} on ${k.kernel}">why</a>` : '';
      return html`<td id="cell-${i}-${j}" data-verdict="${p.verdict}">${verdictBadge(p.verdict)}${fields.map((f) => html`<br><a class="field mono" href="/fields/${urlPart(f)}" title="the history of ${f}">${f}</a>`)}${why}</td>`;
    });
    return html`<tr><th scope="row">${kernelLink(k.kernel)}</th><td>${verdictBadge(k.verdict)}</td>${cells}</tr>`;
  });
  return table('core-matrix', html`Verdicts of ${a.kernels.length} kernels × ${programs.length} programs`, ['kernel', 'overall', ...programs], rows);
}

function reasonItem(k: KernelVerdict, r: Reason, program?: string): Html {
  const relo = relocationOf(k, r, program);
  return html`<li>${r.verdict ? verdictBadge(r.verdict) : ''} ${r.message ?? r.kind ?? ''}${relo?.field ? html` (<a href="/fields/${urlPart(relo.field.path)}">${relo.field.path} over every kernel</a>)` : ''}</li>`;
}

/** Why each kernel with a program not ok got its verdicts: the reasons, with the failed fields' timelines. */
function reasons(a: CoreAnswer): Html {
  const items = a.kernels.map((k, i) => ({ k, i })).filter(({ k }) => k.verdict !== 'ok' || k.programs.some((p) => p.verdict !== 'ok'));
  if (items.length === 0) return html`<p>Every program is ok on every kernel checked.</p>`;
  return html`${items.map(({ k, i }) => html`<section class="why" id="why-${i}" aria-labelledby="why-${i}-h">
<h4 id="why-${i}-h">${unameOf(k.kernel)}: ${verdictBadge(k.verdict)}</h4>
${k.reason ? html`<p>${k.reason}</p>` : ''}
${(k.reasons ?? []).length > 0 ? html`<ul>${(k.reasons ?? []).map((r) => reasonItem(k, r))}</ul>` : ''}
${k.programs.filter((p) => p.verdict !== 'ok').map((p) => html`<h5>${p.name}: ${p.verdict}${p.attach_target && p.attach_target !== 'present' ? ` (attach target ${p.attach_target})` : ''}</h5>
<ul>${(p.reasons ?? []).map((r) => reasonItem(k, r, p.name))}</ul>`)}
</section>`)}`;
}

/** The dry run's answer: the matrix, why, what changes along a series, and what the verdicts do not check. */
function result(a: CoreAnswer, sel: Selection, server: string): Html {
  const counts = VERDICTS.map((v) => [v, a.kernels.filter((k) => k.verdict === v).length] as const).filter(([, n]) => n > 0);
  return html`<h2 id="core-result-h" tabindex="-1">Verdicts</h2>
<p>Object <span class="mono" title="sha256">${a.object.sha256.slice(0, 16)}…</span>${a.object.size !== undefined ? `, ${a.object.size} bytes` : ''}:
${a.object.programs.length} programs, ${a.object.relocations ?? 0} CO-RE relocations; ${a.kernels.length} kernels:
${counts.map(([v, n], i) => html`${i > 0 ? ', ' : ''}${n} ${v}`)}.</p>
<p class="equivalents">The same answer as JSON: <code class="cli">curl --data-binary @OBJECT.bpf.o -H 'content-type: application/octet-stream' '${server}/v1/core/check${checkQuery(sel)}'</code></p>
${matrix(a)}
<ul class="legend">${VERDICTS.map((v) => html`<li>${verdictBadge(v)}: ${MEANING[v]}</li>`)}</ul>
${a.timelines.length > 0 ? html`<h3>Timelines</h3><ul id="core-timelines">${a.timelines.map((t) => html`<li>${t.summary}</li>`)}</ul>` : ''}
${a.changes.length > 0 ? html`<h3>Where a verdict changes</h3><ul id="core-changes">${a.changes.map((c) => html`<li>${c.text} (${unameOf(c.from)} → ${unameOf(c.to)}, ${c.series})</li>`)}</ul>` : ''}
<h3 id="why-h">Why</h3>
${reasons(a)}
<h3 id="not-checked-h">Not checked</h3>
<p>These verdicts come from libbpf's relocation decisions; they do not check:</p>
<ul id="core-not-checked">${a.not_checked.map((n) => html`<li>${n}</li>`)}</ul>`;
}

/** The selection as the API's query (`?kernel=` or `?arch=&distro=&release=`, `modules=false` when asked). */
function checkQuery(sel: Selection): string {
  return query({ kernel: sel.kernel, distro: sel.distro, release: sel.release, arch: sel.arch, modules: sel.modules ? undefined : 'false' });
}

function options(values: readonly string[], selected: string | undefined, any: string): Html {
  return html`<option value="">${any}</option>${values.map((v) => html`<option value="${v}"${raw(v === selected ? ' selected' : '')}>${v}</option>`)}`;
}

function form(all: readonly KernelRow[], sel: Selection): Html {
  const kernels = pickable(all);
  const distinct = (key: 'arch' | 'distro' | 'release'): string[] => [...new Set(kernels.map((k) => k[key]))].sort();
  return html`<form id="core-form" action="/core" method="post" enctype="multipart/form-data" data-max-bytes="${OBJECT_LIMIT}">
<p><label for="core-object">BPF object (<code>.bpf.o</code>, up to ${OBJECT_LIMIT / 1024 / 1024} MiB)</label>
<input id="core-object" name="object" type="file" accept=".o,application/octet-stream,application/x-object" required></p>
<fieldset><legend>Kernels to check</legend>
<p><label for="core-kernel">One kernel</label>
<select id="core-kernel" name="kernel">${options(kernels.map((k) => k.kernel), sel.kernel, 'every kernel of the filters below')}</select></p>
<p>or every kernel of
<label for="core-arch">arch</label> <select id="core-arch" name="arch">${options(distinct('arch'), sel.arch, 'any arch')}</select>
<label for="core-distro">distro</label> <select id="core-distro" name="distro">${options(distinct('distro'), sel.distro, 'any distro')}</select>
<label for="core-release">release</label> <select id="core-release" name="release">${options(distinct('release'), sel.release, 'any release')}</select></p>
<p><input type="hidden" name="modules" value="false"><input id="core-modules" name="modules" type="checkbox" value="true"${raw(sel.modules ? ' checked' : '')}>
<label for="core-modules">also search the kernels' module BTF (as libbpf does)</label></p>
</fieldset>
<p><button type="submit">Check</button> <span id="core-status" role="status"></span></p>
</form>`;
}

/** The page: the form, then the answer or the problem of the last check. */
export function corePage(kernels: readonly KernelRow[], sel: Selection, outcome?: { answer: CoreAnswer; server: string } | { problem: ApiProblem }): string {
  let shown: Html = html``;
  if (outcome && 'answer' in outcome) shown = result(outcome.answer, sel, outcome.server);
  else if (outcome) shown = html`<h2 id="core-result-h" tabindex="-1">${outcome.problem.title}</h2><p class="problem" role="alert">${outcome.problem.detail}</p>`;
  return page({
    title: 'CO-RE dry run',
    cli: 'btf-atlas core-check OBJECT.bpf.o [--kernel KREF | --arch A --distro D --release R] --json',
    styles: ['/assets/compare.css'],
    scripts: ['/assets/core.js'],
    body: html`<p>Upload a compiled BPF object: each kernel's BTF is searched for its CO-RE relocations as libbpf 1.7 does, and each
program gets a verdict per kernel. Nothing is loaded into a kernel.</p>
${form(kernels, sel)}
<section id="core-result" aria-live="polite"${raw(outcome ? ' aria-labelledby="core-result-h"' : ' aria-label="Verdicts"')}>
${shown}
</section>`,
  });
}

/** A form field's text (the last one when repeated, as the hidden/checkbox pair of `modules` needs). */
function field(fields: Map<string, string>, key: string): string | undefined {
  const v = fields.get(key)?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function selectionOf(get: (key: string) => string | undefined): Selection {
  return { kernel: get('kernel'), distro: get('distro'), release: get('release'), arch: get('arch'), modules: get('modules') !== 'false' };
}

/** The object and selection of a request: a browser's form, or the raw object with the selection in the query. */
function uploadOf(request: FastifyRequest<{ Querystring: QueryValues }>): { bytes: Buffer; sel: Selection } | { problem: ApiProblem; sel: Selection } {
  const body = request.body;
  const boundary = boundaryOf(request.headers['content-type']);
  if (boundary !== undefined && Buffer.isBuffer(body)) {
    const fields = new Map<string, string>();
    let bytes: Buffer | undefined;
    try {
      for (const part of parseMultipart(body, boundary)) {
        if (part.name === 'object') bytes = part.data;
        else fields.set(part.name, part.data.toString('utf8'));
      }
    } catch (err) {
      if (!(err instanceof MultipartError)) throw err;
      return { problem: pageProblem(400, 'Bad form', err.message), sel: { modules: true } };
    }
    const sel = selectionOf((k) => field(fields, k));
    if (bytes === undefined || bytes.length === 0) return { problem: pageProblem(400, 'No object', 'choose a BPF object (.bpf.o) to upload'), sel };
    return { bytes, sel };
  }
  const sel = selectionOf((k) => oneParam(request.query, k));
  if (!Buffer.isBuffer(body) || body.length === 0) {
    return { problem: pageProblem(400, 'No object', 'send the form, or the BPF object (.bpf.o) as an application/octet-stream body'), sel };
  }
  return { bytes: body, sel };
}

/** Asks `POST /v1/core/check` (in process, as askApi asks the GET routes) with the object as the body. */
async function checkObject(app: FastifyInstance, bytes: Buffer, sel: Selection): Promise<ApiAnswer<CoreAnswer>> {
  const res = await app.inject({ method: 'POST', url: `/v1/core/check${checkQuery(sel)}`, payload: bytes, headers: { 'content-type': 'application/octet-stream', accept: 'application/json' } });
  const body = JSON.parse(res.body) as unknown;
  if (res.statusCode === 200) return { ok: true, status: 200, body: body as CoreAnswer };
  return { ok: false, status: res.statusCode, problem: body as ApiProblem };
}

/** An error of a page route (an upload over the limit, a content type the page does not take) as a page. */
function pageError(app: FastifyInstance) {
  return async (err: FastifyError, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) request.log.error({ err }, 'page failed');
    const detail = status === 413 ? `the upload is larger than ${FORM_LIMIT} bytes (objects up to ${OBJECT_LIMIT} bytes)`
      : status === 500 ? 'the page could not be made; the server log has the error' : err.message;
    const kernels = await askApi<{ kernels: KernelRow[] }>(app, '/v1/kernels');
    const problem = pageProblem(status, status === 413 ? 'Upload too large' : status === 500 ? 'Internal error' : 'Bad request', detail);
    return sendHtml(reply, corePage(kernels.ok ? kernels.body.kernels : [], { modules: true }, { problem }), status);
  };
}

/** Registers `GET /core` and `POST /core` (in their own scope: the upload parsers and error page are theirs). */
export async function registerCorePages(parent: FastifyInstance): Promise<void> {
  await parent.register(async (app) => {
    const asBuffer = { parseAs: 'buffer' as const, bodyLimit: FORM_LIMIT };
    app.addContentTypeParser('multipart/form-data', asBuffer, (_request, body, done) => done(null, body));
    app.addContentTypeParser('application/octet-stream', asBuffer, (_request, body, done) => done(null, body));
    app.setErrorHandler(pageError(app));

    const kernelsOr = async (): Promise<KernelRow[]> => {
      const k = await askApi<{ kernels: KernelRow[] }>(app, '/v1/kernels');
      return k.ok ? k.body.kernels : [];
    };

    app.get<{ Querystring: QueryValues }>('/core', PAGE_ROUTE, async (request, reply) => {
      const sel = selectionOf((k) => oneParam(request.query, k));
      return sendHtml(reply, corePage(await kernelsOr(), sel));
    });

    app.post<{ Querystring: QueryValues }>('/core', { ...PAGE_ROUTE, bodyLimit: FORM_LIMIT }, async (request, reply) => {
      const upload = uploadOf(request);
      const kernels = await kernelsOr();
      if ('problem' in upload) return sendHtml(reply, corePage(kernels, upload.sel, { problem: upload.problem }), upload.problem.status);
      const answer = await checkObject(app, upload.bytes, upload.sel);
      if (!answer.ok) return sendHtml(reply, corePage(kernels, upload.sel, { problem: answer.problem }), answer.status);
      return sendHtml(reply, corePage(kernels, upload.sel, { answer: answer.body, server: `${request.protocol}://${request.host}` }));
    });
  });
}
