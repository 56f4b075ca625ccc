/**
 * The compare pages on the real app (libs/http buildApp) over two corpus kernels (Debian 12's 6.1.0-47 and 6.1.0-50,
 * vmlinux only: 1,500 changes between them): the diff page's counts, filters and paging against `GET /v1/diff`'s
 * own answers, the function, tracepoint and enum pages against their JSON, problem pages with the API's status, and
 * the CO-RE page's verdict matrix for a real object of fixtures/core, from a browser's multipart form and from raw
 * bytes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobDataOf, scanPath } from '@btf-atlas/catalog';
import { MAX_OBJECT_BYTES } from '@btf-atlas/dryrun';
import { buildApp } from '../../http/src/app.js';
import { ingestInto } from '../../http/test/support.js';
import { query } from '../src/html.js';
import { DIFF_PAGE_SIZE } from '../src/pages/diff.js';
import { OBJECT_LIMIT } from '../src/pages/core.js';
import { boundaryOf, MultipartError, parseMultipart } from '../src/multipart.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const K47 = 'debian/12/x86_64/6.1.0-47-amd64';
const K50 = 'debian/12/x86_64/6.1.0-50-amd64';

let dir: string;
let app: FastifyInstance;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-explorer-compare-'));
  const db = join(dir, 'atlas.db');
  const items = scanPath(join(REPO, 'fixtures/corpus/archive')).filter((i) => i.kref.release === '12' && i.kref.arch === 'x86_64');
  expect(items).toHaveLength(2);
  await ingestInto(db, items.map((i) => ({ ...jobDataOf(i), modules: [] })));
  app = await buildApp({ dbPath: db, adminToken: undefined });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A page: 200-ish HTML, its text. */
async function pageOf(url: string, status = 200): Promise<string> {
  const res = await app.inject({ method: 'GET', url });
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(res.statusCode, res.body.slice(0, 2000)).toBe(status);
  return res.body;
}

async function json<T>(url: string): Promise<T> {
  const res = await app.inject({ method: 'GET', url });
  expect(res.statusCode).toBe(200);
  return JSON.parse(res.body) as T;
}

/** The inside of the element with this id (the first `</tag>` after it: tables and lists here do not nest their own). */
function element(page: string, id: string, tag = 'table'): string {
  const at = page.indexOf(`id="${id}"`);
  expect(at, `#${id}`).toBeGreaterThan(-1);
  return page.slice(at, page.indexOf(`</${tag}>`, at));
}

/** A link's href as the pages write it (query values encoded by html.ts, `&` escaped in the attribute). */
const href = (path: string, params: Record<string, string | number | undefined>): string => `${path}${query(params)}`.replace(/&/g, '&amp;');
const unescape = (s: string): string => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
/** The text of each match of a capture group. */
const all = (text: string, re: RegExp): string[] => [...text.matchAll(re)].map((m) => unescape(m[1]));

interface Change { kind: string; name: string; member?: string; change: string; severity: string }
interface DiffJson { changes: Change[]; summary: Record<string, number> & { kinds?: Record<string, Record<string, number>> } }

const diffUrl = (q = ''): string => `/diff?from=${K47}&to=${K50}${q}`;
const apiUrl = (q = ''): string => `/v1/diff?from=${K47}&to=${K50}${q}`;
const rowsOf = (page: string): string[] => all(page, /<tr class="change sev-row-([a-z]+)">/g);

describe('diff page', () => {
  it('without kernels: a form with both pickers listing the catalog\'s kernels', async () => {
    const page = await pageOf('/diff');
    for (const id of ['diff-from', 'diff-to']) {
      expect(all(element(page, id, 'select'), /<option value="([^"]+)"/g)).toEqual([K47, K50]);
    }
    expect(page).toContain('<form id="diff-pick" class="pick" action="/diff" method="get">');
    // One kernel given: kept selected.
    expect(element(await pageOf(`/diff?from=${K50}`), 'diff-from', 'select')).toContain(`<option value="${K50}" selected>`);
  });

  it('counts by kind and severity come first, from the API\'s summary, each linking to its filtered view', async () => {
    const whole = await json<DiffJson>(apiUrl('&summary=true'));
    const page = await pageOf(diffUrl());
    expect(page.indexOf('id="diff-counts"')).toBeLessThan(page.indexOf('id="diff-filters"'));
    expect(page.indexOf('id="diff-filters"')).toBeLessThan(page.indexOf('id="diff-changes"'));
    const counts = element(page, 'diff-counts');
    for (const [kind, bySeverity] of Object.entries(whole.summary.kinds ?? {})) {
      const row = counts.slice(counts.indexOf(`<th scope="row">${kind}</th>`));
      const cells = all(row.slice(0, row.indexOf('</tr>')), /<td class="num">(?:<a [^>]*>)?([0-9]+)/g).map(Number);
      expect(cells).toEqual([bySeverity.breaking, bySeverity.layout, bySeverity.additive, bySeverity.breaking + bySeverity.layout + bySeverity.additive]);
    }
    const total = whole.summary.breaking + whole.summary.layout + whole.summary.additive;
    expect(total).toBeGreaterThan(DIFF_PAGE_SIZE * 2);
    expect(counts).toContain(`${total} changes by kind and severity`);
    expect(counts).toContain(`<a href="${href('/diff', { from: K47, to: K50, severity: 'breaking', kind: 'struct' })}">${whole.summary.kinds?.struct.breaking}</a>`);
  });

  it('pages the changes in the API\'s order, with previous and next links', async () => {
    const full = await json<DiffJson>(apiUrl());
    const pages = Math.ceil(full.changes.length / DIFF_PAGE_SIZE);
    const first = await pageOf(diffUrl());
    expect(rowsOf(first)).toEqual(full.changes.slice(0, DIFF_PAGE_SIZE).map((c) => c.severity));
    expect(first).toContain(`Page 1 of ${pages}`);
    expect(first).toContain(`<a id="diff-next" rel="next" href="${href('/diff', { from: K47, to: K50, page: 2 })}">Next</a>`);
    expect(first).not.toContain('id="diff-prev"');
    expect(first).toContain(`changes 1–${DIFF_PAGE_SIZE} of ${full.changes.length}`);

    const last = await pageOf(diffUrl(`&page=${pages}`));
    const rest = full.changes.slice((pages - 1) * DIFF_PAGE_SIZE);
    expect(rowsOf(last)).toEqual(rest.map((c) => c.severity));
    expect(all(element(last, 'diff-changes'), /<td class="mono name">([^<]+)/g)).toEqual(rest.map((c) => c.name));
    expect(all(element(last, 'diff-changes'), /<td class="mono member">([^<]*)/g)).toEqual(rest.map((c) => c.member ?? ''));
    expect(last).toContain(`<a id="diff-prev" rel="prev" href="${href('/diff', { from: K47, to: K50, page: pages - 1 })}">Previous</a>`);
    expect(last).not.toContain('id="diff-next"');
    // The same page again (the parsed answer kept, revalidated by ETag) is the same page; past the end is the last.
    expect(await pageOf(diffUrl(`&page=${pages}`))).toBe(last);
    expect(rowsOf(await pageOf(diffUrl(`&page=${pages + 5}`)))).toEqual(rowsOf(last));
  });

  it('filters are the API\'s (severity, kind, name glob); checkboxes and comma lists are the same view', async () => {
    const want = await json<DiffJson>(apiUrl('&severity=breaking,layout&kind=func,enum'));
    const page = await pageOf(diffUrl('&severity=breaking&severity=layout&kind=func&kind=enum'));
    expect(await pageOf(diffUrl('&severity=breaking,layout&kind=func,enum'))).toBe(page);
    expect(rowsOf(page)).toEqual(want.changes.slice(0, DIFF_PAGE_SIZE).map((c) => c.severity));
    expect(new Set(rowsOf(page))).toEqual(new Set(['breaking', 'layout']));
    const form = element(page, 'diff-filters', 'form');
    expect(form).toContain('value="breaking" checked');
    expect(form).toContain('value="func" checked');
    expect(form).not.toContain('value="struct" checked');
    expect(page).toContain(`<a href="${href('/v1/diff', { from: K47, to: K50, severity: 'breaking,layout', kind: 'func,enum' })}">JSON</a>`);
    expect(page).toContain(`btf-atlas diff ${K47} ${K50} --severity breaking,layout --kind func,enum --json`);
    expect(element(page, 'diff-shown', 'p')).toContain(`${want.changes.length} of`);

    const glob = await json<DiffJson>(apiUrl('&name=task_*'));
    expect(glob.changes.length).toBeGreaterThan(0);
    const named = await pageOf(diffUrl('&name=task_*'));
    expect(rowsOf(named)).toHaveLength(Math.min(glob.changes.length, DIFF_PAGE_SIZE));
    expect(element(named, 'diff-name', 'p')).toContain('value="task_*"');
  });

  it('each change links to its type in both kernels, and a member to its field page', async () => {
    const full = await json<DiffJson>(apiUrl());
    const pageWith = (c: Change): Promise<string> => pageOf(diffUrl(`&page=${Math.floor(full.changes.indexOf(c) / DIFF_PAGE_SIZE) + 1}`));
    const c = full.changes.find((x) => x.kind === 'struct' && x.member !== undefined && x.change === 'offset') as Change;
    expect(c).toBeDefined();
    const page = await pageWith(c);
    expect(page).toContain(`<a href="${href(`/types/${c.name}`, { kernel: K47 })}" title="${c.name} in ${K47}">in 6.1.0-47-amd64</a>`);
    expect(page).toContain(`<a href="${href(`/types/${c.name}`, { kernel: K50 })}" title="${c.name} in ${K50}">in 6.1.0-50-amd64</a>`);
    expect(page).toContain(`<a href="/fields/${c.name}.${c.member}"`);
    // A removed function: its page in the older kernel only.
    // A typedef btf_trace_NAME: its tracepoint's page.
    const tp = full.changes.find((x) => x.kind === 'typedef' && x.name.startsWith('btf_trace_')) as Change;
    expect(await pageWith(tp)).toContain(`href="${href(`/tracepoints/${tp.name.slice('btf_trace_'.length)}`, { kernel: K50 })}"`);
    const gone = full.changes.find((x) => x.kind === 'func' && x.change === 'removed') as Change;
    const fpage = await pageWith(gone);
    expect(fpage).toContain(`href="${href(`/funcs/${gone.name}`, { kernel: K47 })}"`);
    expect(fpage).not.toContain(`href="${href(`/funcs/${gone.name}`, { kernel: K50 })}"`);
  });

  it('problems are pages with the API\'s status: a bad filter, an unknown kernel, a bad page number', async () => {
    expect(await pageOf(diffUrl('&kind=class'), 400)).toMatch(/class.*is not one of struct, union, enum, func, typedef/);
    const unknown = await pageOf(`/diff?from=${K47}&to=debian/12/x86_64/6.1.0-99-amd64`, 404);
    expect(unknown).toContain('role="alert"');
    expect(await pageOf(diffUrl('&page=0'), 400)).toContain('is not a page number');
  });
});

interface HistoryJson {
  kernels: { kernel: string; status: string }[];
  changes: { from: string; to: string; what: string; change?: string; param?: string; member?: string }[];
  timeline: { spans: { count: number }[] }[];
  summary: string;
}

describe('function, tracepoint and enum pages', () => {
  it('/funcs/NAME: the history (summary, spans, changes, kernels) as the JSON has it', async () => {
    const h = await json<HistoryJson>('/v1/funcs/enqueue_hrtimer/history');
    expect(h.changes.length).toBeGreaterThan(0);
    const page = await pageOf('/funcs/enqueue_hrtimer');
    expect(element(page, 'history-summary', 'p')).toContain(unescape(h.summary).slice(0, 40));
    expect(page).toContain('<a href="/v1/funcs/enqueue_hrtimer/history">JSON</a>');
    expect(page).toContain('btf-atlas func enqueue_hrtimer --history --json');
    const changes = element(page, 'history-changes');
    for (const c of h.changes) expect(changes).toContain(`<td>${c.what}</td><td>${c.change}`);
    expect(changes).toContain('was_armed');
    const spans = h.timeline.flatMap((l) => l.spans);
    expect(all(element(page, 'timeline-x86_64-amd64'), /<td class="num">([0-9]+)<\/td>/g).map(Number)).toEqual(spans.map((s) => s.count));
    expect(element(page, 'history-kernels')).toContain(`href="${href('/funcs/enqueue_hrtimer', { kernel: K50 })}"`);
  });

  it('/funcs/NAME?kernel=: the prototype and parameters in one kernel', async () => {
    const one = await json<{ funcs: { return: string; params: { name: string; type: string }[] }[] }>(`/v1/funcs/enqueue_hrtimer?kernel=${K50}`);
    const page = await pageOf(`/funcs/enqueue_hrtimer?kernel=${K50}`);
    const f = one.funcs[0];
    expect(page).toContain(unescape('static bool enqueue_hrtimer(struct hrtimer *timer, struct hrtimer_clock_base *base, enum hrtimer_mode mode, bool was_armed);'));
    expect(all(element(page, 'params-vmlinux'), /<td class="mono">([^<]+)<\/td><td class="mono">/g)).toEqual(f.params.map((p) => p.name));
    expect(page).toContain(`btf-atlas func enqueue_hrtimer --kernel ${K50} --json`);
  });

  it('/tracepoints/NAME: the raw prototype and the event record in a kernel, and the history', async () => {
    type Tp = { tracepoints: { raw: { params: { type: string }[] }; event: { struct: string; members: { name: string; offset: number }[] } }[] };
    const one = await json<Tp>(`/v1/tracepoints/sched_switch?kernel=${K50}`);
    const page = await pageOf(`/tracepoints/sched_switch?kernel=${K50}`);
    const ev = one.tracepoints[0].event;
    expect(all(element(page, 'event-vmlinux'), /<td class="mono">([^<]+)<\/td><td class="mono">/g)).toEqual(ev.members.map((m) => m.name));
    expect(page).toContain(`href="${href('/types/trace_event_raw_sched_switch', { kernel: K50 })}"`);
    expect(all(element(page, 'raw-vmlinux'), /<td class="mono">\(unnamed\)<\/td><td class="mono">([^<]+)<\/td>/g)).toEqual(one.tracepoints[0].raw.params.map((p) => p.type));
    const h = await json<HistoryJson>('/v1/tracepoints/sched_switch/history');
    expect(element(await pageOf('/tracepoints/sched_switch'), 'history-summary', 'p')).toContain(unescape(h.summary).slice(0, 30));
  });

  it('/enums/NAME: values in a kernel with ?enumerator= marked; the history with what changed and that enumerator', async () => {
    const h = await json<HistoryJson>('/v1/enums/cpuhp_state/history');
    const removed = h.changes.find((c) => c.what === 'removed' && c.member !== undefined);
    expect(removed?.member).toBe('CPUHP_PADATA_DEAD');
    const page = await pageOf('/enums/cpuhp_state?enumerator=CPUHP_PADATA_DEAD');
    expect(element(page, 'history-changes')).toContain('CPUHP_PADATA_DEAD');
    expect(element(page, 'enumerator', 'section')).toMatch(/6\.1\.0-47-amd64.*39 \(enum cpuhp_state\)/s);
    // The step chart of the number of values: one step per timeline span, a change point between them.
    const spans = h.timeline.flatMap((l) => l.spans);
    const chart = element(page, 'timeline-chart', 'svg');
    expect(chart).toContain('role="img"');
    expect(chart.match(/<g class="step">/g)).toHaveLength(spans.length);
    expect(chart.match(/<g class="change"/g)).toHaveLength(spans.length - 1);
    expect(chart).toContain(`data-before="6.1.0-47-amd64" data-after="6.1.0-50-amd64"`);

    const one = await json<{ enums: { values: { name: string; value: number }[] }[] }>(`/v1/enums/cpuhp_state?kernel=${K47}`);
    const inKernel = await pageOf(`/enums/cpuhp_state?kernel=${K47}&enumerator=CPUHP_PADATA_DEAD`);
    const values = element(inKernel, 'values-vmlinux');
    expect(all(values, /<td class="num mono">([^<]+)<\/td>/g)).toEqual(one.enums[0].values.map((v) => String(v.value)));
    expect(values).toContain('<tr id="enumerator-CPUHP_PADATA_DEAD" class="marked" aria-current="true"><td class="mono"><mark>CPUHP_PADATA_DEAD</mark>');
  });

  it('/syscalls/NAME: which FUNCs each kernel has, each linked to its function page', async () => {
    const h = await json<HistoryJson>('/v1/syscalls/openat/history');
    expect(element(await pageOf('/syscalls/openat'), 'history-summary', 'p')).toContain(unescape(h.summary).slice(0, 30));
    expect(await pageOf(`/syscalls/openat?kernel=${K50}`)).toContain(`<a class="mono" href="${href('/funcs/__x64_sys_openat', { kernel: K50 })}">__x64_sys_openat</a>`);
  });

  it('unknown names and kernels are 404 pages with the API\'s problem; suggested names link to their pages', async () => {
    expect(await pageOf('/funcs/no_such_function_anywhere', 404)).toContain('role="alert"');
    expect(element(await pageOf('/funcs/enqueue_hrtimr', 404), 'suggestions', 'p')).toContain('<a href="/funcs/enqueue_hrtimer">enqueue_hrtimer</a>');
    expect(await pageOf('/enums/no_such_enum_anywhere', 404)).toContain('no enum named no_such_enum_anywhere');
    expect(await pageOf(`/tracepoints/sched_switch?kernel=debian/12/x86_64/6.1.0-99-amd64`, 404)).toContain('role="alert"');
    // An unknown kernel: the nearest kernels, each linked to the same name there.
    expect(element(await pageOf('/funcs/enqueue_hrtimer?kernel=debian/12/x86_64/6.1.0-49-amd64', 404), 'suggestions', 'p'))
      .toContain(`<a href="${href('/funcs/enqueue_hrtimer', { kernel: K50 })}">${K50}</a>`);
  });
});

/** A multipart/form-data body as a browser sends the CO-RE form. */
function formBody(fields: Record<string, string>, object?: Buffer): { payload: Buffer; headers: Record<string, string> } {
  const boundary = '----btfatlasFormBoundary7MA4YWxkTrZu0gW';
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  if (object) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="object"; filename="core_flavors.bpf.o"\r\nContent-Type: application/octet-stream\r\n\r\n`), object, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

interface CoreJson {
  object: { programs: { name: string }[] };
  kernels: { kernel: string; verdict: string; programs: { name: string; verdict: string }[] }[];
  not_checked: string[];
}

describe('CO-RE page', () => {
  const object = readFileSync(join(REPO, 'fixtures/core/objects/core_flavors.bpf.o'));

  it('GET /core: the upload form with the kernel selection', async () => {
    const page = await pageOf('/core');
    const form = element(page, 'core-form', 'form');
    expect(form).toContain('method="post" enctype="multipart/form-data"');
    expect(form).toContain(`data-max-bytes="${MAX_OBJECT_BYTES}"`);
    expect(all(element(page, 'core-kernel', 'select'), /<option value="([^"]+)"/g)).toEqual([K47, K50]);
    expect(element(page, 'core-arch', 'select')).toContain('<option value="x86_64">');
    expect(OBJECT_LIMIT).toBe(MAX_OBJECT_BYTES);
  });

  it('the form posted without JavaScript: the kernels × programs matrix of the API\'s verdicts, failing cells linked to the field', async () => {
    const want = JSON.parse((await app.inject({ method: 'POST', url: '/v1/core/check?distro=debian&release=12', payload: object, headers: { 'content-type': 'application/octet-stream' } })).body) as CoreJson;
    const res = await app.inject({ method: 'POST', url: '/core', ...formBody({ kernel: '', arch: '', distro: 'debian', release: '12', modules: 'false' }, object) });
    expect(res.statusCode, res.body.slice(0, 2000)).toBe(200);
    const page = res.body;
    const matrix = element(page, 'core-matrix');
    const programs = want.object.programs.map((p) => p.name);
    expect(all(matrix.slice(0, matrix.indexOf('</thead>')), /<th scope="col">([^<]+)<\/th>/g)).toEqual(['kernel', 'overall', ...programs]);
    want.kernels.forEach((k, i) => {
      programs.forEach((name, j) => {
        const verdict = k.programs.find((p) => p.name === name)?.verdict;
        expect(matrix).toContain(`<td id="cell-${i}-${j}" data-verdict="${verdict}"><span class="verdict verdict-${verdict}"`);
      });
    });
    // kp_mm_cid breaks on both (task_struct.mm_cid is newer than 6.1): its cell links the field's timeline.
    const j = programs.indexOf('kp_mm_cid');
    const cell = matrix.slice(matrix.indexOf(`id="cell-0-${j}"`));
    expect(cell.slice(0, cell.indexOf('</td>'))).toContain('<a class="field mono" href="/fields/task_struct.mm_cid"');
    expect(cell.slice(0, cell.indexOf('</td>'))).toContain('href="#why-0"');
    expect(element(page, 'why-0', 'section')).toContain('found no target in this kernel');
    expect(all(element(page, 'core-not-checked', 'ul'), /<li>([^<]+)<\/li>/g)).toEqual(want.not_checked);
    // The selection is kept in the form.
    expect(element(page, 'core-release', 'select')).toContain('<option value="12" selected>');
    expect(element(page, 'core-form', 'form')).not.toContain('value="true" checked');
  });

  it('the raw object with the selection in the query (core.js): one kernel, one row', async () => {
    const res = await app.inject({ method: 'POST', url: `/core?kernel=${K50}`, payload: object, headers: { 'content-type': 'application/octet-stream' } });
    expect(res.statusCode).toBe(200);
    const matrix = element(res.body, 'core-matrix');
    expect(all(matrix, /<th scope="row"><a [^>]*>([^<]+)<\/a><\/th>/g)).toEqual(['6.1.0-50-amd64']);
  });

  it('problems: no object, not a BPF object, an unknown kernel, a broken form, an upload over the limit', async () => {
    const none = await app.inject({ method: 'POST', url: '/core', ...formBody({ kernel: K50 }) });
    expect(none.statusCode).toBe(400);
    expect(none.body).toContain('choose a BPF object');
    const junk = await app.inject({ method: 'POST', url: '/core', ...formBody({}, Buffer.from('not an ELF object at all')) });
    expect(junk.statusCode).toBe(400);
    expect(element(junk.body, 'core-result', 'section')).toContain('role="alert"');
    const unknown = await app.inject({ method: 'POST', url: '/core', ...formBody({ kernel: 'debian/12/x86_64/6.1.0-99-amd64' }, object) });
    expect(unknown.statusCode).toBe(404);
    const broken = await app.inject({ method: 'POST', url: '/core', payload: 'no boundary here', headers: { 'content-type': 'multipart/form-data; boundary=xyz' } });
    expect(broken.statusCode).toBe(400);
    expect(broken.body).toContain('its boundary never appears');
    const huge = await app.inject({ method: 'POST', url: '/core', payload: Buffer.alloc(OBJECT_LIMIT + 128 * 1024), headers: { 'content-type': 'application/octet-stream' } });
    expect(huge.statusCode).toBe(413);
    expect(huge.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(huge.body).toContain('Upload too large');
    // Between the object limit and the form's: the API's own 413.
    const over = await app.inject({ method: 'POST', url: '/core', payload: Buffer.alloc(OBJECT_LIMIT + 1), headers: { 'content-type': 'application/octet-stream' } });
    expect(over.statusCode).toBe(413);
    expect(over.body).toContain('role="alert"');
  });
});

describe('multipart/form-data reader', () => {
  it('reads fields and a file whose bytes hold CR LF and dashes; the boundary quoted or not', () => {
    const data = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x0d, 0x0a, 0x2d, 0x2d, 0x0d, 0x0a, 0x00, 0xff]);
    const { payload, headers } = formBody({ kernel: K50, modules: 'true' }, data);
    const boundary = boundaryOf(headers['content-type']) as string;
    expect(boundaryOf(`multipart/form-data; boundary="${boundary}"`)).toBe(boundary);
    expect(boundaryOf('application/octet-stream')).toBeUndefined();
    expect(boundaryOf('multipart/form-data')).toBeUndefined();
    const parts = parseMultipart(payload, boundary);
    expect(parts.map((p) => [p.name, p.filename, p.contentType])).toEqual([
      ['kernel', undefined, undefined], ['modules', undefined, undefined], ['object', 'core_flavors.bpf.o', 'application/octet-stream'],
    ]);
    expect(parts[0].data.toString()).toBe(K50);
    expect(Buffer.compare(parts[2].data, data)).toBe(0);
    // A file name with an escaped quote, and a preamble before the first boundary.
    const odd = Buffer.from(`preamble\r\n--b1\r\nContent-Disposition: form-data; name="object"; filename="a\\"b.o"\r\n\r\nxy\r\n--b1--\r\n`);
    expect(parseMultipart(odd, 'b1').map((p) => [p.filename, p.data.toString()])).toEqual([['a"b.o', 'xy']]);
  });

  it('refuses a body cut short, a part without a name, a boundary never seen', () => {
    const cut = Buffer.from('--b1\r\nContent-Disposition: form-data; name="object"\r\n\r\nxy');
    expect(() => parseMultipart(cut, 'b1')).toThrow(MultipartError);
    expect(() => parseMultipart(cut, 'b1')).toThrow('before its closing boundary');
    expect(() => parseMultipart(Buffer.from('--b1\r\nContent-Type: text/plain\r\n\r\nxy\r\n--b1--'), 'b1')).toThrow('no Content-Disposition name');
    expect(() => parseMultipart(Buffer.from('--b1\r\nContent-Disposition: form-data; name="x"'), 'b1')).toThrow('no end of headers');
    expect(() => parseMultipart(Buffer.from('nothing here'), 'b1')).toThrow('its boundary never appears');
  });
});
