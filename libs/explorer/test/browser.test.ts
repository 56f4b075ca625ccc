import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobDataOf, scanPath } from '@btf-atlas/catalog';
import { buildApp } from '@btf-atlas/http';
import { ingestInto } from '../../http/test/support.js';
import { AXE_SCRIPT, chromiumFor, horizontalOverflow, launchChromium, screenshot, seriousViolations } from './browser-support.js';

// The explorer as a user sees it: chromium (headless) on the API serving the corpus kernels, one browser and one
// app for the whole file. Every page visited is kept as a screenshot in test-artifacts/explorer/ and checked by
// axe-core; what a page shows is compared with the API's JSON answer for the same question.

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const ARCHIVE = join(REPO, 'fixtures/corpus/archive');
const K47 = 'debian/12/x86_64/6.1.0-47-amd64';
const K50 = 'debian/12/x86_64/6.1.0-50-amd64';
const K612 = 'debian/13/x86_64/6.12.117+deb13-amd64';
const q = encodeURIComponent;

const CHROMIUM = chromiumFor('the explorer browser tests');

let dir: string;
let app: FastifyInstance;
let base: string;
let browser: Browser;
const contexts: BrowserContext[] = [];

/** A new page in a context of its own (colour scheme, viewport, downloads), closed with the browser. */
async function newPage(options: BrowserContextOptions = {}): Promise<Page> {
  const context = await browser.newContext({ baseURL: base, acceptDownloads: true, ...options });
  contexts.push(context);
  await context.addInitScript({ path: AXE_SCRIPT });
  const page = await context.newPage();
  const errors: ConsoleError[] = [];
  page.on('pageerror', (err) => errors.push({ text: `${page.url()}: ${err.message}` }));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push({ text: `${page.url()}: console: ${m.text()}`, source: m.location().url });
  });
  scriptErrors.set(page, errors);
  return page;
}

interface ConsoleError {
  text: string;
  /** The resource the message is about (a failed load names it). */
  source?: string;
}
const scriptErrors = new WeakMap<Page, ConsoleError[]>();

interface VisitOptions {
  /** The status the page answers (default 200). */
  status?: number;
  /** Run axe-core (default true). */
  axe?: boolean;
  /** Screenshot the whole page, not only the viewport (default true). */
  fullPage?: boolean;
}

/** Rows of a long table after its first 25 (the same markup again) are left out of axe-core's check. */
const LONG_TABLES = ['#diff-changes', '#field-kernels', '#kernels', '#type-kernels'].map((t) => `${t} tbody tr:nth-child(n+26)`);

/**
 * Opens `url` and expects its status and an HTML page without script errors; keeps a screenshot named `name` and
 * asserts that axe-core finds no serious or critical violation.
 */
async function visit(page: Page, url: string, name: string, opts: VisitOptions = {}): Promise<void> {
  const res = await page.goto(url);
  expect(res?.status(), `GET ${url}`).toBe(opts.status ?? 200);
  expect(res?.headers()['content-type']).toMatch(/^text\/html/);
  await checked(page, name, opts);
}

/** The page as it is now: a screenshot, no script errors, no serious accessibility violation. */
async function checked(page: Page, name: string, opts: VisitOptions = {}): Promise<void> {
  await screenshot(page, name, opts.fullPage ?? true);
  // A page answered with an error status (a 404 page) is logged as a failed load of the page itself: not a script error.
  const errors = (scriptErrors.get(page) ?? []).filter((e) => !(e.source === page.url() && /Failed to load resource/.test(e.text)));
  expect(errors.map((e) => e.text), `script errors on ${page.url()}`).toEqual([]);
  if (opts.axe === false) return;
  const violations = await seriousViolations(page, LONG_TABLES);
  expect(violations, `axe-core on ${name} (${page.url()}):\n${violations.join('\n')}`).toEqual([]);
}

/** The JSON answer of the API for `url` (what the page's JSON link gives). */
async function api<T>(url: string): Promise<T> {
  const res = await app.inject({ method: 'GET', url });
  expect(res.statusCode, `GET ${url}: ${res.body.slice(0, 300)}`).toBe(200);
  return JSON.parse(res.body) as T;
}

/** The text of the cells of a table's body, row by row. */
async function tableRows(page: Page, selector: string): Promise<string[][]> {
  return page.locator(`${selector} tbody tr`).evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td, th')).map((c) => (c.textContent ?? '').trim())));
}

const unameOf = (kref: string) => kref.slice(kref.lastIndexOf('/') + 1);

/** Opens the home page and types `text` into its search box: the box and the completion list. */
async function typeInSearch(page: Page, text: string, delay: number) {
  await visit(page, '/', 'home');
  const box = page.getByRole('combobox', { name: /search/i });
  await box.click();
  await box.pressSequentially(text, { delay });
  return { box, listbox: page.getByRole('listbox') };
}

// Generous per-test deadlines: CI runs other test files on the same cores, and chromium pays for it.
describe.skipIf(CHROMIUM === undefined)('the explorer in chromium', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'btf-atlas-explorer-browser-'));
    const db = join(dir, 'atlas.db');
    // The ingest keeps the event loop busy: chromium is launched after it (its start-up handshake needs the loop).
    await ingestInto(db, scanPath(ARCHIVE).map((item) => jobDataOf(item)));
    // Diffs run on the API's worker threads; on a machine busy with other test files a diff can wait longer for
    // one than the production default (10 s, then 503), so the wait is generous here.
    app = await buildApp({ dbPath: db, adminToken: undefined, limits: { workWaitMs: 120_000 } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    browser = await launchChromium(CHROMIUM!);
  }, 180_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('search completes a name as it is typed; arrow down and Enter open it', async () => {
    const page = await newPage();
    const { box, listbox } = await typeInSearch(page, 'pt_re', 30);
    const option = listbox.getByRole('option', { name: 'pt_regs', exact: false }).first();
    await option.waitFor({ state: 'visible' });
    await expect(box.getAttribute('aria-expanded')).resolves.toBe('true');
    await screenshot(page, 'search-completion');
    // Down to pt_regs (the first option is taken by the first arrow press), then Enter.
    const names = (await listbox.getByRole('option').allTextContents()).map((t) => t.trim());
    const at = names.findIndex((n) => /^pt_regs\b/.test(n));
    expect(at, `pt_regs among the suggestions ${JSON.stringify(names)}`).toBeGreaterThanOrEqual(0);
    for (let i = 0; i <= at; i++) await box.press('ArrowDown');
    await expect(listbox.getByRole('option').nth(at).getAttribute('aria-selected')).resolves.toBe('true');
    await Promise.all([page.waitForURL((u) => u.pathname !== '/'), box.press('Enter')]);
    await expect(page.locator('h1').textContent()).resolves.toMatch(/pt_regs/);
    await checked(page, 'search-completion-target');
  });

  it('search completes a field path segment by segment, and a kernel by its uname -r', async () => {
    const page = await newPage();
    const { box, listbox } = await typeInSearch(page, 'task_struct.se.vr', 20);
    await listbox.getByRole('option', { name: /task_struct\.se\.vruntime/ }).first().waitFor({ state: 'visible' });
    await box.press('ArrowDown');
    await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/fields/')), box.press('Enter')]);
    expect(decodeURIComponent(new URL(page.url()).pathname)).toBe('/fields/task_struct.se.vruntime');
    await visit(page, '/', 'home');
    await box.click();
    await box.pressSequentially('6.1.0-47', { delay: 20 });
    await listbox.getByRole('option', { name: /debian\/12\/x86_64\/6\.1\.0-47-amd64/ }).first().waitFor({ state: 'visible' });
  });

  it('the search page lists names by kind, each linked to its page', async () => {
    const page = await newPage();
    await visit(page, '/search?q=sched_sw', 'search');
    const answer = await api<{ results: { name: string }[] }>('/v1/search?q=sched_sw');
    expect(answer.results.length).toBeGreaterThan(0);
    const shown = (await page.locator('section.results li .name').allTextContents()).map((t) => t.trim());
    for (const r of answer.results) expect(shown, `search result ${r.name}`).toContain(r.name);
  });

  it('the pt_regs.di page shows the timeline values of every kernel and a change point of a field that moved', async () => {
    const page = await newPage();
    await visit(page, '/fields/pt_regs.di', 'field-pt_regs.di');
    const answer = await api<{ summary: string; kernels: { kernel: string; status: string; offset?: number }[] }>('/v1/fields/pt_regs.di');
    await expect(page.locator('#summary').textContent()).resolves.toBe(answer.summary);
    // The table under the chart: one row per kernel with the API's offset.
    const rows = await tableRows(page, '#field-kernels');
    expect(rows.map((r) => [r[0], r[3]])).toEqual(answer.kernels.map((k) => [unameOf(k.kernel), k.offset === undefined ? '' : String(k.offset)]));
    expect(answer.kernels.filter((k) => k.status === 'present').map((k) => k.offset)).toContain(112);
    // The step chart is an image with a text alternative, drawn per arch.
    const chart = page.locator('section.arch svg[role="img"]').first();
    await expect(chart.getAttribute('aria-labelledby').then(async (id) => id ?? (await chart.getAttribute('aria-label')))).resolves.toBeTruthy();

    // task_struct.se.vruntime moves between 6.1 and 6.12: the change point names both kernels and the offsets.
    await visit(page, '/fields/task_struct.se.vruntime', 'field-task_struct.se.vruntime');
    const moved = await api<{ timeline: { arch: string; spans: { first: string; last: string; value: { offset?: number } }[] }[] }>('/v1/fields/task_struct.se.vruntime');
    const x86 = moved.timeline.find((l) => l.arch === 'x86_64')!;
    expect(x86.spans.length).toBeGreaterThan(1);
    const [a, b] = x86.spans;
    const point = page.locator('ul.change-points[data-arch="x86_64"] li').first();
    const text = (await point.textContent()) ?? '';
    expect(text).toContain(`${unameOf(a.last)} → ${unameOf(b.first)}`);
    expect(text).toContain(`${a.value.offset} → ${b.value.offset}`);
    // A change point links to the kernels on each side.
    await expect(point.locator('a').first().getAttribute('href')).resolves.toBe(`/kernels/${a.last}`);
  });

  it('the diff page shows counts first, and a filter narrows the list (and is a deep link that reloads the same)', async () => {
    const page = await newPage();
    await visit(page, `/diff?from=${q(K47)}&to=${q(K50)}`, 'diff');
    const whole = await api<{ summary: Record<string, number>; changes: unknown[] }>(`/v1/diff?from=${q(K47)}&to=${q(K50)}`);
    const total = whole.changes.length;
    expect(total).toBeGreaterThan(0);
    // Counts: the table's total cell is the number of changes.
    const counts = await tableRows(page, '#diff-counts');
    expect(counts.at(-1)?.at(-1)).toBe(String(total));
    const before = await page.locator('#diff-changes tbody tr').count();
    expect(before).toBeGreaterThan(0);

    // Filter as a user does: type a name glob, then tick a severity. The list narrows as the form changes (diff.js;
    // without it the Filter button submits the same GET form), each view pushed as its own URL.
    const diffUrl = `/v1/diff?from=${q(K47)}&to=${q(K50)}`;
    const glob = 'cxl_*';
    const byName = await api<{ changes: { name: string; severity: string }[] }>(`${diffUrl}&name=${q(glob)}`);
    expect(byName.changes.length).toBeGreaterThan(0);
    expect(byName.changes.length).toBeLessThan(total);
    await page.getByLabel(/type name/i).fill(glob);
    await page.locator('#diff-shown').filter({ hasText: `${byName.changes.length} of ${total} changes` }).waitFor();
    expect(page.url()).toContain('name=cxl_');
    const names = await page.locator('#diff-changes tbody tr td:nth-child(3)').allTextContents();
    expect(names.length).toBe(Math.min(byName.changes.length, 200));
    for (const n of names) expect(n.trim()).toMatch(/^cxl_/);

    const sev = byName.changes[0].severity;
    const both = byName.changes.filter((c) => c.severity === sev);
    await page.locator('#diff-filters').getByRole('checkbox', { name: sev }).check();
    await page.locator('#diff-shown').filter({ hasText: `${both.length} of ${total} changes` }).waitFor();
    expect(page.url()).toContain(`severity=${sev}`);
    const severities = await page.locator('#diff-changes tbody tr td:nth-child(1)').allTextContents();
    expect(severities.length).toBe(Math.min(both.length, 200));
    for (const v of severities) expect(v.trim()).toBe(sev);
    await checked(page, 'diff-filtered');
    const url = page.url();
    const shown = await page.locator('main').innerText();
    await page.reload();
    expect(page.url()).toBe(url);
    await expect(page.locator('main').innerText()).resolves.toBe(shown);
  });

  it('the kernel page downloads its raw BTF and its .btf.tar.xz, whose sha256 match the catalog', async () => {
    const page = await newPage();
    await visit(page, `/kernels/${K50}`, 'kernel');
    const { kernels } = await api<{ kernels: { kernel: string; btf_sha256: string }[] }>('/v1/kernels');
    const want = kernels.find((k) => k.kernel === K50)!.btf_sha256;
    const sha256 = async (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

    const [btf] = await Promise.all([page.waitForEvent('download'), page.locator('#dl-btf').click()]);
    expect(btf.suggestedFilename()).toMatch(/\.btf$/);
    await expect(sha256(await btf.path())).resolves.toBe(want);

    // The tarball as the corpus has it (the catalog keeps the archive as ingested).
    const [tarball] = await Promise.all([page.waitForEvent('download'), page.locator('#dl-tarball').click()]);
    expect(tarball.suggestedFilename()).toBe(`${unameOf(K50)}.btf.tar.xz`);
    const corpus = createHash('sha256').update(readFileSync(join(ARCHIVE, `${K50}.btf.tar.xz`))).digest('hex');
    await expect(sha256(await tarball.path())).resolves.toBe(corpus);
  });

  it('the lookup form turns a pasted os-release and uname -r into the download link', async () => {
    const page = await newPage();
    await visit(page, '/lookup', 'lookup');
    await page.getByLabel(/os-release/).fill('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n');
    await page.getByLabel('uname -r').fill(unameOf(K50));
    await page.getByLabel('uname -m').selectOption('x86_64');
    await page.getByRole('button', { name: /find its btf/i }).click();
    // The form posts to /lookup, which answers with the same form and the result above it.
    const result = page.locator('#lookup-result');
    await expect(result.locator('h2').textContent()).resolves.toContain(K50);
    await expect(result.locator('#dl-tarball').getAttribute('href')).resolves.toBe(`/archive/${K50}.btf.tar.xz`);
    await expect(result.locator('#dl-btf').getAttribute('href')).resolves.toBe(`/archive/${K50}.btf`);
    await checked(page, 'lookup-found');

    // A kernel the catalog lacks: a 404 page offering the nearest ones instead.
    await page.getByLabel('uname -r').fill('6.1.0-49-amd64');
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/lookup'),
      page.getByRole('button', { name: /find its btf/i }).click(),
    ]);
    expect(answer.status()).toBe(404);
    await result.locator('[role="alert"]').waitFor();
    await expect(page.locator('#nearest li').first().textContent()).resolves.toMatch(/6\.1\.0-(47|50)-amd64/);
    await checked(page, 'lookup-not-found');
  });

  it('a deep link reloaded shows the same page (a struct in one kernel)', async () => {
    const page = await newPage();
    const url = `/types/sk_buff?kernel=${q(K612)}`;
    await visit(page, url, 'type-in-kernel');
    const before = await page.locator('main').innerText();
    expect(before).toContain('sk_buff');
    await page.reload();
    await expect(page.locator('main').innerText()).resolves.toBe(before);
  });

  it('the CO-RE page checks an uploaded object; a failed cell leads to the field\'s timeline', async () => {
    const page = await newPage();
    await visit(page, '/core', 'core');
    const object = join(REPO, 'fixtures/core/objects/core_chain.bpf.o');
    const res = await app.inject({ method: 'POST', url: '/v1/core/check', headers: { 'content-type': 'application/octet-stream' }, payload: readFileSync(object) });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
    const answer = JSON.parse(res.body) as { kernels: { kernel: string; programs: { name: string; verdict: string }[] }[] };
    // The x86 object reads pt_regs.di, which arm64's pt_regs lacks: a program breaks there.
    const broken = answer.kernels.flatMap((k) => k.programs.filter((p) => p.verdict === 'breaks').map((p) => ({ kernel: k.kernel, program: p.name })));
    expect(broken.length).toBeGreaterThan(0);

    await page.locator('#core-object').setInputFiles(object);
    await page.getByRole('button', { name: 'Check' }).click();
    const matrix = page.locator('#core-matrix');
    await matrix.waitFor();
    // One row per kernel, one verdict per program, as the API answered.
    const rows = await tableRows(page, '#core-matrix');
    expect(rows.length).toBe(answer.kernels.length);
    const cells = matrix.locator('td[data-verdict="breaks"]');
    await expect(cells.count()).resolves.toBe(broken.length);
    await checked(page, 'core-result');

    const field = cells.first().locator('a.field').first();
    const path = ((await field.textContent()) ?? '').trim();
    expect(path).toMatch(/^pt_regs\./);
    await Promise.all([page.waitForURL(`**/fields/${path}`), field.click()]);
    await expect(page.locator('h1').textContent()).resolves.toBe(path);
    await expect(page.locator('ul.change-points, p.no-change').count()).resolves.toBeGreaterThan(0);
  });

  it('every other page renders and passes axe-core', async () => {
    const page = await newPage();
    const pages: [string, string, number?][] = [
      ['/kernels', 'kernels'],
      ['/types/task_struct', 'type-history'],
      ['/funcs/vfs_read', 'func'],
      ['/enums/bpf_map_type', 'enum'],
      ['/tracepoints/sched_switch', 'tracepoint'],
      ['/diff', 'diff-pick'],
      ['/fields/pt_regs.no_such_member', 'problem-404', 404],
    ];
    for (const [url, name, status] of pages) {
      await visit(page, url, name, { status });
      await expect(page.locator('h1').count(), `${url}: one h1`).resolves.toBe(1);
    }
  });

  it('renders in a dark colour scheme when the browser prefers one', async () => {
    const page = await newPage({ colorScheme: 'dark' });
    for (const [url, name] of [['/', 'home-dark'], ['/fields/task_struct.se.vruntime', 'field-dark'], [`/diff?from=${q(K47)}&to=${q(K50)}&severity=breaking`, 'diff-dark']] as const) {
      await visit(page, url, name, { fullPage: false });
      const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      const [r, g, b] = (bg.match(/\d+/g) ?? []).map(Number);
      expect(r + g + b, `${url}: body background ${bg} in the dark scheme`).toBeLessThan(3 * 64);
    }
  });

  it('fits a phone screen (390 × 844) without sideways scrolling', async () => {
    const page = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    for (const [url, name] of [
      ['/', 'home-phone'],
      ['/fields/pt_regs.di', 'field-phone'],
      [`/types/sk_buff?kernel=${q(K50)}`, 'type-in-kernel-phone'],
      [`/diff?from=${q(K47)}&to=${q(K50)}`, 'diff-phone'],
      [`/kernels/${K50}`, 'kernel-phone'],
    ] as const) {
      await visit(page, url, name, { axe: false, fullPage: false });
      const o = await horizontalOverflow(page);
      expect(o.scrollWidth, `${url} on a phone: the page is ${o.scrollWidth} px wide in a ${o.clientWidth} px viewport; ${o.widest ?? ''}`).toBeLessThanOrEqual(o.clientWidth);
    }
  });
});
