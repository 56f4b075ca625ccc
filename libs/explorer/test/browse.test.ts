import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobDataOf, scanPath } from '@btf-atlas/catalog';
import { buildApp } from '../../http/src/app.js';
import { ingestInto } from '../../http/test/support.js';
import { layoutBars, stepChart } from '../src/chart.js';
import { escapeHtml } from '../src/html.js';
import type { FieldAnswer } from '../src/pages/field.js';
import type { TypeHistory, TypeInKernel } from '../src/pages/type.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const ARCHIVE = join(REPO, 'fixtures/corpus/archive');
const K47 = 'debian/12/x86_64/6.1.0-47-amd64';
const K50 = 'debian/12/x86_64/6.1.0-50-amd64';
const K612 = 'debian/13/x86_64/6.12.117+deb13-amd64';

let dir: string;
let app: FastifyInstance;

const get = (url: string) => app.inject({ method: 'GET', url });
async function json<T>(url: string): Promise<T> {
  const res = await get(url);
  expect(res.statusCode).toBe(200);
  return JSON.parse(res.body) as T;
}

/** A page's HTML, asserting its status and that it is an HTML page of the explorer. */
async function pageOf(url: string, status = 200): Promise<string> {
  const res = await get(url);
  expect(res.statusCode, `${url}: ${res.body.slice(0, 300)}`).toBe(status);
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(res.body).toMatch(/^<!doctype html>\n<html lang="en">/);
  expect(res.body.match(/<h1>/g)).toHaveLength(1);
  return res.body;
}

/** The text of an element found by its id (tags stripped, entities left as they are). */
function textOf(body: string, id: string): string {
  const m = new RegExp(`id="${id}"[^>]*>([\\s\\S]*?)</(?:p|ul|table|pre|section|div|dl)>`).exec(body);
  expect(m, `#${id}`).not.toBeNull();
  return m![1].replace(/<[^>]+>/g, '');
}

function hrefs(body: string): string[] {
  return [...body.matchAll(/href="([^"]*)"/g)].map((m) => m[1].replace(/&amp;/g, '&'));
}

/** A form post, as a browser sends the lookup form. */
function postForm(url: string, fields: Record<string, string>) {
  return app.inject({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(fields).toString() });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-explorer-'));
  const db = join(dir, 'atlas.db');
  // The four kernels of the corpus, without their modules (the pages read vmlinux types; this keeps ingest short).
  await ingestInto(db, scanPath(ARCHIVE).map((item) => jobDataOf({ ...item, modules: [] })));
  app = await buildApp({ dbPath: db, adminToken: undefined });
  await app.ready();
}, 180_000);

afterAll(async () => {
  await app?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('start page and search', () => {
  it('/ says what the site answers, focuses the search box, links examples and the kernels', async () => {
    const body = await pageOf('/');
    expect(body).toMatch(/<input id="q" name="q" type="search"[^>]* autofocus/);
    expect(body).toContain('role="combobox"');
    expect(textOf(body, 'catalog-size')).toContain('4 kernels');
    expect(hrefs(body)).toEqual(expect.arrayContaining(['/fields/pt_regs.di', '/types/sk_buff', '/kernels', '/lookup']));
  });

  it('/search groups the search route names by kind, each linked to its page', async () => {
    const api = await json<{ results: { name: string; kinds: string[] }[] }>('/v1/search?q=pt_reg&limit=50');
    const body = await pageOf('/search?q=pt_reg');
    const links = hrefs(body);
    for (const r of api.results) {
      if (r.kinds.includes('struct')) expect(links).toContain(`/types/${r.name}`);
      if (r.kinds.includes('func')) expect(links).toContain(`/funcs/${r.name}`);
    }
    expect(body).toMatch(/<section class="results" aria-labelledby="h-struct" data-kind="struct"><h2 id="h-struct">Structs<\/h2>/);
    expect(links).toContain('/v1/search?q=pt_reg');
  });

  it('an exact name of one kind, a field path and an enumerator go straight to their page', async () => {
    expect((await get('/search?q=pt_regs')).headers.location).toBe('/types/pt_regs');
    expect((await get('/search?q=pt_regs.di')).headers.location).toBe('/fields/pt_regs.di');
    expect((await get('/search?q=task_struct.se.vruntime')).headers.location).toBe('/fields/task_struct.se.vruntime');
    const enumerator = await get('/search?q=BPF_MAP_TYPE_ARRAY');
    expect(enumerator.statusCode).toBe(302);
    expect(enumerator.headers.location).toBe('/enums/bpf_map_type?enumerator=BPF_MAP_TYPE_ARRAY');
    // `list` keeps the list.
    const listed = await pageOf('/search?q=pt_regs&list=1');
    expect(hrefs(listed)).toContain('/types/pt_regs');
  });

  it('kernels are found by their version, and listed with the names', async () => {
    const body = await pageOf('/search?q=6.12.117');
    expect(hrefs(body)).toContain(`/kernels/${K612}`);
    expect(body).toContain('data-kind="kernel"');
  });

  it('a text the search route refuses is a 400 page saying why', async () => {
    const body = await pageOf(`/search?q=${'x'.repeat(300)}`, 400);
    expect(body).toContain('role="alert"');
  });
});

describe('field page', () => {
  it('pt_regs.di: the summary first, the offsets of the JSON in the table, JSON and CLI links, kernel and struct links', async () => {
    const a = await json<FieldAnswer>('/v1/fields/pt_regs.di');
    const body = await pageOf('/fields/pt_regs.di');
    expect(body.indexOf('id="summary"')).toBeLessThan(body.indexOf('<svg'));
    expect(textOf(body, 'summary')).toBe(escapeHtml(a.summary));
    const table = textOf(body, 'field-kernels');
    for (const k of a.kernels) {
      const row = new RegExp(`${escapeRe(k.kernel.slice(k.kernel.lastIndexOf('/') + 1))}\\s*${escapeRe(k.series)}\\s*([\\s\\S]{0,60})`).exec(table);
      expect(row, k.kernel).not.toBeNull();
      if (k.status === 'present') expect(row![1]).toMatch(new RegExp(`^present\\s*${k.offset}\\s*${k.bits_offset}`));
    }
    const links = hrefs(body);
    expect(links).toEqual(expect.arrayContaining(['/v1/fields/pt_regs.di', '/types/pt_regs', ...a.kernels.map((k) => `/kernels/${k.kernel}`)]));
    expect(body).toContain('<code class="cli">btf-atlas field pt_regs.di</code>');
    // One chart per arch of the timeline, each an image with a title.
    const arches = new Set(a.timeline.map((l) => l.arch));
    expect(body.match(/<svg id="chart-\d+" class="chart step-chart"[^>]*role="img"/g)).toHaveLength(arches.size);
  });

  it('task_struct.se.vruntime: the change point between the 6.1 and 6.12 kernels, with the kernels on each side and the offsets', async () => {
    const a = await json<FieldAnswer>('/v1/fields/task_struct.se.vruntime?arch=x86_64');
    const line = a.timeline.find((l) => l.arch === 'x86_64' && l.main)!;
    const at = line.spans.findIndex((s) => s.first === K612);
    expect(at).toBeGreaterThan(0);
    const before = line.spans[at - 1];
    const after = line.spans[at];
    expect(before.last).toBe(K50);
    const body = await pageOf('/fields/task_struct.se.vruntime?arch=x86_64');
    const points = body.slice(body.indexOf('<ul class="change-points" data-arch="x86_64">'));
    const item = /<li>([\s\S]*?)<\/li>/.exec(points)![1].replace(/<[^>]+>/g, '');
    expect(item).toBe(`6.1.0-50-amd64 → 6.12.117+deb13-amd64: offset ${before.value.offset} → ${after.value.offset}`);
    expect(body).toContain(`<g class="change" data-before="6.1.0-50-amd64" data-after="6.12.117+deb13-amd64"><title>6.1.0-50-amd64 → 6.12.117+deb13-amd64: offset ${before.value.offset} → ${after.value.offset}</title>`);
    expect(body).toContain('<code class="cli">btf-atlas field task_struct.se.vruntime --arch x86_64</code>');
    expect(hrefs(body)).toContain('/v1/fields/task_struct.se.vruntime?arch=x86_64');
    expect(body).toMatch(/<option selected>x86_64<\/option>/);
  });

  it('a series change (a moved bitfield) is listed with the kernels on each side', async () => {
    const a = await json<FieldAnswer>('/v1/fields/task_struct.in_iowait');
    expect(a.changes.length).toBeGreaterThan(0);
    const body = await pageOf('/fields/task_struct.in_iowait');
    const table = textOf(body, 'series-changes');
    for (const c of a.changes) expect(table).toContain(`${c.series}${c.from.slice(c.from.lastIndexOf('/') + 1)}${c.to.slice(c.to.lastIndexOf('/') + 1)}${c.what}`);
  });

  it('an unknown member is a 404 page whose suggestions link the corrected field pages', async () => {
    const api = await get('/v1/fields/pt_regs.dii');
    const suggestions = (JSON.parse(api.body) as { suggestions: string[] }).suggestions;
    const body = await pageOf('/fields/pt_regs.dii', 404);
    expect(body).toContain('role="alert"');
    expect(hrefs(body)).toEqual(expect.arrayContaining(suggestions.map((s) => `/fields/pt_regs.${s}`)));
  });
});

describe('type pages', () => {
  it('the layout in one kernel: bars and holes cover the size exactly once, the member table and pahole text', async () => {
    // pt_regs: plain members; sk_buff: unions, bitfields and a hole.
    for (const [name, kref] of [['pt_regs', K50], ['sk_buff', K612]] as const) {
      const t = await json<TypeInKernel>(`/v1/types/${name}?kernel=${kref}`);
      const body = await pageOf(`/types/${name}?kernel=${kref}`);
      const def = t.types[0];
      const bars = [...body.matchAll(/<g class="bar (member|hole|padding)" data-kind="\1" data-bits-offset="(\d+)" data-bits="(\d+)">/g)]
        .map((m) => ({ kind: m[1], start: Number(m[2]), end: Number(m[2]) + Number(m[3]) }));
      expect(bars.filter((b) => b.kind === 'member')).toHaveLength(def.members!.length);
      // Every bit below the size is in a member, a hole or the padding; holes and padding overlap nothing.
      const bits = new Uint8Array(def.size * 8);
      for (const b of bars) for (let i = b.start; i < b.end; i++) bits[i] |= b.kind === 'member' ? 1 : 2;
      expect(bits.every((v) => v === 1 || v === 2), name).toBe(true);
      const gaps = bars.filter((b) => b.kind !== 'member').reduce((c, b) => c + b.end - b.start, 0);
      expect(bits.filter((v) => v === 1).length + gaps).toBe(def.size * 8);
      // One cacheline row per 64 bytes.
      expect(body.match(/<g class="cacheline">/g)).toHaveLength(Math.ceil(def.size / 64));
      const pahole = await get(`/v1/types/${name}?kernel=${kref}&format=pahole&all=true`);
      expect(textOf(body, 'pahole')).toBe(escapeHtml(pahole.body));
      expect(body).toContain(`<code class="cli">btf-atlas type ${name} --kernel ${kref} --json</code>`);
    }
  });

  it('sk_buff has a hole, drawn and listed', async () => {
    const body = await pageOf(`/types/sk_buff?kernel=${K612}`);
    expect(body).toMatch(/<g class="bar hole" data-kind="hole" data-bits-offset="\d+" data-bits="\d+"><title>hole: /);
    expect(body).toMatch(/<tr class="hole"><td><em>hole<\/em>/);
  });

  it('a union is drawn too, and a deep link with an encoded + in its KREF is the same page', async () => {
    const body = await pageOf(`/types/bpf_attr?kernel=${K50}`);
    expect(body).toMatch(/<h2 id="layout-0-h">union bpf_attr: \d+ bytes<\/h2>/);
    const plain = await pageOf(`/types/pt_regs?kernel=${K612}`);
    const encoded = await pageOf(`/types/pt_regs?kernel=${encodeURIComponent(K612)}`);
    expect(encoded).toBe(plain);
  });

  it('member types link to their type pages in the same kernel', async () => {
    const body = await pageOf(`/types/sk_buff?kernel=${K612}`);
    expect(hrefs(body)).toEqual(expect.arrayContaining([`/types/sk_buff?kernel=${K612}`, `/types/net_device?kernel=${K612}`, `/kernels/${K612}`, '/types/sk_buff']));
  });

  it('the history: size chart, members that appeared and vanished at each change point, and the kernels to pick', async () => {
    const h = await json<TypeHistory>('/v1/types/task_struct/history');
    const body = await pageOf('/types/task_struct');
    expect(textOf(body, 'summary')).toBe(escapeHtml(h.summary));
    const names = (kref: string) => new Set(h.kernels.find((k) => k.kernel === kref)!.members!.map((m) => m.name));
    const [a, b] = [names(K47), names(K50)];
    const appeared = [...b].filter((n) => n !== '' && !a.has(n));
    expect(appeared.length).toBeGreaterThan(0);
    const points = body.slice(body.indexOf('<ul class="change-points" data-arch="x86_64">'));
    const first = /<li>([\s\S]*?)<\/li>/.exec(points)![1].replace(/<[^>]+>/g, '');
    expect(first).toContain(`6.1.0-47-amd64 → 6.1.0-50-amd64: `);
    expect(first).toContain(`appeared: ${appeared.join(', ')}`);
    for (const k of h.kernels) expect(hrefs(body)).toContain(`/types/task_struct?kernel=${k.kernel}`);
  });

  it('an unknown type is a 404 page with suggestions linked to type pages', async () => {
    const body = await pageOf('/types/pt_regz', 404);
    expect(hrefs(body)).toContain('/types/pt_regs');
    const inKernel = await pageOf(`/types/pt_regz?kernel=${K50}`, 404);
    expect(hrefs(inKernel)).toContain(`/types/pt_regs?kernel=${K50}`);
  });
});

describe('kernels and the lookup form', () => {
  it('/kernels lists every kernel with its page, filters by GET form, and holds the lookup form', async () => {
    const all = await json<{ kernels: { kernel: string }[] }>('/v1/kernels');
    const body = await pageOf('/kernels');
    for (const k of all.kernels) expect(hrefs(body)).toContain(`/kernels/${k.kernel}`);
    expect(body).toContain('<form id="lookup-form" class="lookup" method="post" action="/lookup">');
    const arm = await pageOf('/kernels?arch=arm64');
    expect(textOf(arm, 'kernel-count')).toBe(`1 kernel of ${all.kernels.length}.`);
    expect(hrefs(arm)).toContain('/v1/kernels?arch=arm64');
  });

  it('a kernel page (its uname -r holds a +, literal or encoded): facts, downloads that answer, neighbours', async () => {
    for (const url of [`/kernels/${K612}`, `/kernels/${K612.replace('+', '%2B')}`]) {
      const body = await pageOf(url);
      expect(body).toContain(`<h1>${K612}</h1>`);
      const links = hrefs(body);
      expect(links).toEqual(expect.arrayContaining([`/archive/${K612}.btf`, `/archive/${K612}.btf.tar.xz`, `/v1/kernels/${K612}/vmlinux.h`, `/v1/kernels/${K612}/summary`]));
    }
    const summary = await json<{ types: number; structs: number }>(`/v1/kernels/${K612}/summary`);
    const body = await pageOf(`/kernels/${K612}`);
    expect(textOf(body, 'kernel-counts')).toContain(`BTF types${summary.types}`);
    for (const path of [`/archive/${K612}.btf`, `/archive/${K612}.btf.tar.xz`]) {
      const res = await app.inject({ method: 'HEAD', url: path });
      expect(res.statusCode, path).toBe(200);
    }
    const k50 = await pageOf(`/kernels/${K50}`);
    expect(hrefs(k50)).toEqual(expect.arrayContaining([`/kernels/${K47}`, `/diff?from=${K47}&to=${K50}`]));
  });

  it('an unknown kernel is a 404 page suggesting the nearest kernels', async () => {
    const body = await pageOf('/kernels/debian/12/x86_64/6.1.0-49-amd64', 404);
    expect(body).toContain('role="alert"');
    expect(hrefs(body)).toEqual(expect.arrayContaining([`/kernels/${K47}`, `/kernels/${K50}`]));
  });

  it('the lookup form posts to a page: the download of the kernel found, the nearest kernels on 404, 400 for bad input', async () => {
    const osRelease = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n';
    const found = await postForm('/lookup', { os_release: osRelease, uname_r: '6.1.0-50-amd64', arch: 'x86_64' });
    expect(found.statusCode).toBe(200);
    expect(found.body).toContain(`<a href="/kernels/${K50}">${K50}</a>`);
    expect(hrefs(found.body)).toContain(`/archive/${K50}.btf.tar.xz`);
    // The form keeps what was posted.
    expect(found.body).toContain(`<textarea id="os_release" name="os_release" rows="6" required spellcheck="false">${escapeHtml(osRelease)}</textarea>`);
    const nearest = await postForm('/lookup', { os_release: osRelease, uname_r: '6.1.0-49-amd64', arch: 'x86_64' });
    expect(nearest.statusCode).toBe(404);
    expect(hrefs(nearest.body)).toEqual(expect.arrayContaining([`/kernels/${K47}`, `/kernels/${K50}`]));
    const bad = await postForm('/lookup', { os_release: osRelease, uname_r: '', arch: 'x86_64' });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('role="alert"');
    const page = await pageOf('/lookup');
    for (const id of ['os_release', 'uname_r', 'arch']) expect(page).toContain(`<label for="${id}">`);
  });
});

describe('escaping and assets', () => {
  it('a hostile name is escaped everywhere it is shown', async () => {
    const hostile = '<script>alert(1)</script>';
    for (const [url, status] of [
      [`/types/${encodeURIComponent(hostile)}`, 404],
      [`/fields/${encodeURIComponent(`${hostile}.x`)}`, 400],
      [`/search?q=${encodeURIComponent(hostile)}`, 200],
      [`/kernels?arch=${encodeURIComponent(hostile)}`, 400],
    ] as const) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(status);
      expect(res.body, url).not.toContain('<script>alert');
      expect(res.body.match(/<script/g), url).toHaveLength(1);
    }
    expect((await get(`/search?q=${encodeURIComponent(hostile)}`)).body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('the script, the stylesheet and the icon are served', async () => {
    for (const [name, type] of [['explorer.js', 'text/javascript'], ['explorer.css', 'text/css'], ['favicon.svg', 'image/svg+xml']]) {
      const res = await get(`/assets/${name}`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain(type);
    }
  });
});

describe('charts', () => {
  it('layoutBars: holes between members and trailing padding, bitfields at bit precision, union members once', () => {
    const bars = layoutBars(24, [
      { name: 'a', bits_offset: 0, bitfield_size: 0, size: 4, type: 'int' },
      { name: 'b', bits_offset: 64, bitfield_size: 3, size: 4, type: 'unsigned int' },
      { name: 'u1', bits_offset: 96, bitfield_size: 0, size: 8, type: 'long' },
      { name: 'u2', bits_offset: 96, bitfield_size: 0, size: 4, type: 'int' },
    ]);
    expect(bars.filter((b) => b.kind !== 'member').map((b) => [b.kind, b.bitsOffset, b.bits, b.label])).toEqual([
      ['hole', 32, 32, 'hole 4 bytes'],
      ['hole', 67, 29, 'hole 3 bytes 5 bits'],
      ['padding', 160, 32, 'padding 4 bytes'],
    ]);
  });

  it('stepChart: labels are escaped, a gap for missing values, a change mark per changed span', () => {
    const svg = stepChart({
      id: 'c',
      title: 'x<y',
      yLabel: 'offset',
      lanes: [{ label: 'a&b', spans: [
        { count: 2, value: 8, label: '8', first: 'k1', last: 'k2' },
        { count: 1, value: null, label: 'no such field', first: 'k3', last: 'k3', change: 'removed' },
        { count: 1, value: 16, label: '16', first: 'k4', last: 'k4', change: 'added at 16' },
      ] }],
    }).text;
    expect(svg).toContain('<title id="c-title">x&lt;y</title>');
    expect(svg).toContain('a&amp;b');
    expect(svg.match(/<g class="change"/g)).toHaveLength(2);
    expect(svg).toContain('<g class="gap"><title>no such field: k3</title>');
    expect(svg).toContain('2 change points; offset from 8 to 16');
  });
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
