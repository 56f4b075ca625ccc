import type { FastifyInstance, FastifyReply } from 'fastify';
import { askApi, askApiText, PAGE_ROUTE, type ApiProblem, type KernelRow } from './api.js';
import { krefPath, query, urlPart } from './html.js';
import { kindHref } from './layout.js';
import { fieldPage, type FieldAnswer } from './pages/field.js';
import { homePage } from './pages/home.js';
import { kernelPage, type KernelSummary } from './pages/kernel.js';
import { kernelsPage, type Selection } from './pages/kernels.js';
import { lookupForm, lookupPage, type LookupAnswer, type LookupInput } from './pages/lookup.js';
import { problemPage } from './pages/problem.js';
import { searchPage, type SearchAnswer, type SearchExtras } from './pages/search.js';
import { changePointKernels, historyMembers, typeHistoryPage, typeHref, typeInKernelPage, type TypeHistory, type TypeInKernel, type TypeMember } from './pages/type.js';

/** Names a search page offers at most (the search route's limit). */
const SEARCH_LIMIT = 50;
/** Kernels a search page lists at most. */
const KERNEL_LIMIT = 20;
/** The largest lookup form accepted (os-release is a few hundred bytes). */
const FORM_LIMIT = 64 * 1024;

/** A text that reads as a field path: `STRUCT.MEMBER[.MEMBER…]` (C identifiers, no spaces). */
const FIELD_PATH = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$/;

function html(reply: FastifyReply, status: number, body: string): string {
  reply.code(status).type('text/html; charset=utf-8');
  return body;
}

function problem(reply: FastifyReply, p: ApiProblem, status: number, hrefOf?: (s: string) => string): string {
  return html(reply, status, problemPage(p, hrefOf));
}

/** The selection of a page's query, only its string values (a repeated parameter is not one). */
function selectionOf(q: Record<string, unknown>): Selection {
  const pick = (k: string): string | undefined => (typeof q[k] === 'string' && q[k] !== '' ? (q[k] as string) : undefined);
  return { arch: pick('arch'), distro: pick('distro'), release: pick('release') };
}

/** A kernel the summary route knows but the kernel list does not show (never for a consistent catalog). */
function notListed(kref: string): ApiProblem {
  return { type: 'urn:btf-atlas:problem:kernel-not-found', title: 'Kernel not found', status: 404, detail: `${kref} is not in the kernel list`, code: 'KERNEL_NOT_FOUND' };
}

/** Pages to find and read one thing: the start page, search, fields, types, kernels and the BTF lookup form. */
export default async function browsePages(app: FastifyInstance): Promise<void> {
  /** Every kernel of the catalog (the answer is cached by the API until the catalog changes). */
  const allKernels = async (): Promise<KernelRow[]> => {
    const a = await askApi<{ kernels: KernelRow[] }>(app, '/v1/kernels');
    return a.ok ? a.body.kernels : [];
  };

  app.get('/', PAGE_ROUTE, async (_request, reply) => html(reply, 200, homePage(await allKernels())));

  app.get<{ Querystring: Record<string, unknown> }>('/search', PAGE_ROUTE, async (request, reply) => {
    const q = typeof request.query.q === 'string' ? request.query.q.trim() : '';
    const kind = typeof request.query.kind === 'string' && request.query.kind !== '' ? request.query.kind : undefined;
    if (q === '') return html(reply, 200, searchPage('', kind, undefined, { kernels: [] }));
    // Kernels as the search route completes them (by KREF or uname -r), listed apart from the names.
    let listed: KernelRow[] = [];
    if (!kind) {
      const [k, kernels] = await Promise.all([askApi<SearchAnswer>(app, `/v1/search${query({ q, kind: 'kernel', limit: KERNEL_LIMIT })}`), allKernels()]);
      const byKref = new Map(kernels.map((row) => [row.kernel, row]));
      listed = k.ok ? k.body.results.map((r) => byKref.get(r.name)).filter((row): row is KernelRow => row !== undefined) : [];
    }
    const extras: SearchExtras = { kernels: listed };
    // A `STRUCT.MEMBER` path: the search route knows names, not paths, so look its struct up and offer the field.
    if (!kind && FIELD_PATH.test(q)) {
      const struct = q.slice(0, q.indexOf('.'));
      const s = await askApi<SearchAnswer>(app, `/v1/search${query({ q: struct, kind: 'struct,union', limit: 1 })}`);
      if (s.ok && s.body.results[0]?.match === 'exact') {
        if (extras.kernels.length === 0) return reply.redirect(`/fields/${urlPart(q)}`, 302);
        extras.field = q;
      }
    }
    const a = await askApi<SearchAnswer>(app, `/v1/search${query({ q, kind, limit: SEARCH_LIMIT })}`);
    if (!a.ok) {
      if (a.status !== 400) return problem(reply, a.problem, a.status);
      return html(reply, 400, searchPage(q, kind, undefined, { ...extras, problem: a.problem.detail }));
    }
    // One exact name of one kind that has a page, and nothing else of that name: go there.
    const exact = a.body.results.filter((r) => r.match === 'exact');
    if (exact.length === 1 && exact[0].kinds.length === 1 && extras.kernels.length === 0 && !extras.field && request.query.list === undefined) {
      const [k] = exact[0].kinds;
      if (k === 'enumerator') {
        const target = await enumOfEnumerator(exact[0].name);
        if (target !== undefined) return reply.redirect(target, 302);
      } else {
        const href = kindHref(k, exact[0].name);
        if (href !== undefined) return reply.redirect(href, 302);
      }
    }
    return html(reply, 200, searchPage(q, kind, a.body, extras));
  });

  /**
   * The page of the enum that holds an enumerator (in the last kernel of the history that has it), marking it, if
   * that enum is a named one.
   */
  async function enumOfEnumerator(name: string): Promise<string | undefined> {
    const h = await askApi<{ kernels: { status: string; enum?: string; definitions?: { enum?: string }[] }[] }>(app, `/v1/enumerators/${urlPart(name)}/history`);
    if (!h.ok) return undefined;
    for (const k of [...h.body.kernels].reverse()) {
      const e = k.enum ?? k.definitions?.[0]?.enum;
      if (k.status === 'present' && e !== undefined && e !== '(anon)') return `/enums/${urlPart(e)}${query({ enumerator: name })}`;
    }
    return undefined;
  }

  app.get<{ Params: { path: string }; Querystring: Record<string, unknown> }>('/fields/:path', PAGE_ROUTE, async (request, reply) => {
    const { path } = request.params;
    const sel = selectionOf(request.query);
    const [a, kernels] = await Promise.all([
      askApi<FieldAnswer>(app, `/v1/fields/${urlPart(path)}${query({ arch: sel.arch, distro: sel.distro, release: sel.release })}`),
      allKernels(),
    ]);
    if (!a.ok) {
      const struct = path.includes('.') ? path.slice(0, path.indexOf('.')) : path;
      return problem(reply, a.problem, a.status, (s) => `/fields/${urlPart(s.includes('.') ? s : `${struct}.${s}`)}`);
    }
    return html(reply, 200, fieldPage(a.body, sel, kernels));
  });

  app.get<{ Params: { name: string }; Querystring: Record<string, unknown> }>('/types/:name', PAGE_ROUTE, async (request, reply) => {
    const { name } = request.params;
    const kernel = typeof request.query.kernel === 'string' && request.query.kernel !== '' ? request.query.kernel : undefined;
    if (kernel !== undefined) {
      const url = `/v1/types/${urlPart(name)}${query({ kernel })}`;
      const [t, text] = await Promise.all([askApi<TypeInKernel>(app, url), askApiText(app, `${url}&format=pahole&all=true`)]);
      if (!t.ok) return problem(reply, t.problem, t.status, (s) => (t.problem.code === 'TYPE_NOT_FOUND' ? typeHref(s, kernel) : `/kernels/${krefPath(s)}`));
      return html(reply, 200, typeInKernelPage(t.body, text.ok ? text.body : undefined));
    }
    const sel = selectionOf(request.query);
    // Without each kernel's members (27 MB for task_struct over 1,000 kernels): the layouts on either side of each
    // change point are asked for on their own, to name the members that appeared and vanished there.
    const [h, kernels] = await Promise.all([
      askApi<TypeHistory>(app, `/v1/types/${urlPart(name)}/history${query({ arch: sel.arch, distro: sel.distro, release: sel.release, members: 'false' })}`),
      allKernels(),
    ]);
    if (!h.ok) return problem(reply, h.problem, h.status, (s) => typeHref(s));
    const entries = new Map(h.body.kernels.map((k) => [k.kernel, k]));
    const layouts = new Map<string, TypeMember[]>();
    await Promise.all(changePointKernels(h.body).map(async (k) => {
      const t = await askApi<TypeInKernel>(app, `/v1/types/${urlPart(name)}${query({ kernel: k })}`);
      if (t.ok) layouts.set(k, historyMembers(t.body, entries.get(k)));
    }));
    return html(reply, 200, typeHistoryPage(h.body, sel, kernels, layouts));
  });

  app.get<{ Querystring: Record<string, unknown> }>('/kernels', PAGE_ROUTE, async (request, reply) => {
    const sel = selectionOf(request.query);
    const [a, all] = await Promise.all([
      askApi<{ kernels: KernelRow[] }>(app, `/v1/kernels${query({ distro: sel.distro, release: sel.release, arch: sel.arch })}`),
      allKernels(),
    ]);
    if (!a.ok) return problem(reply, a.problem, a.status);
    return html(reply, 200, kernelsPage(a.body.kernels, all, sel, lookupForm({}, archesOf(all))));
  });

  app.get<{ Params: { distro: string; release: string; arch: string; uname_r: string } }>('/kernels/:distro/:release/:arch/:uname_r', PAGE_ROUTE, async (request, reply) => {
    const { distro, release, arch, uname_r: unameR } = request.params;
    const kref = `${distro}/${release}/${arch}/${unameR}`;
    const a = await askApi<{ kernels: KernelRow[] }>(app, `/v1/kernels${query({ distro, release, arch })}`);
    const series = a.ok ? a.body.kernels : [];
    const at = series.findIndex((k) => k.kernel === kref);
    if (at === -1) {
      // The summary route's 404 (with its suggestions) says what is wrong with the name.
      const s = await askApi<KernelSummary>(app, `/v1/kernels/${krefPath(kref)}/summary`);
      const p = s.ok ? notListed(kref) : s.problem;
      return problem(reply, p, p.status, (k) => `/kernels/${krefPath(k)}`);
    }
    const k = series[at];
    const s = k.state === 'failed' ? undefined : await askApi<KernelSummary>(app, `/v1/kernels/${krefPath(kref)}/summary`);
    const sameFlavour = (o: KernelRow | undefined): KernelRow | undefined => (o && o.state !== 'failed' ? o : undefined);
    return html(reply, 200, kernelPage(k, s?.ok ? s.body : undefined, { older: sameFlavour(series[at - 1]), newer: sameFlavour(series[at + 1]) }));
  });

  // The lookup form posts form fields; read them here (this plugin only), then ask the JSON route.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.get('/lookup', PAGE_ROUTE, async (_request, reply) => html(reply, 200, lookupPage({}, archesOf(await allKernels()))));

  app.post<{ Body: Record<string, unknown> | undefined }>('/lookup', { ...PAGE_ROUTE, bodyLimit: FORM_LIMIT }, async (request, reply) => {
    const body = request.body && typeof request.body === 'object' ? request.body : {};
    const field = (k: keyof LookupInput): string => (typeof body[k] === 'string' ? (body[k] as string) : '');
    const input: LookupInput = { os_release: field('os_release'), uname_r: field('uname_r').trim(), arch: field('arch').trim() };
    const arches = archesOf(await allKernels());
    const a = await askApi<LookupAnswer>(app, '/v1/btf/lookup', { method: 'POST', payload: input });
    return html(reply, a.status, lookupPage(input, arches, a.ok ? { found: a.body } : { problem: a.problem }));
  });
}

function archesOf(kernels: readonly KernelRow[]): string[] {
  return [...new Set(kernels.map((k) => k.arch))].sort();
}
