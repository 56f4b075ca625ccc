import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatKref, jobDataOf, scanPath } from '@btf-atlas/catalog';
import { buildApp, parseQuerystring } from '../src/app.js';
import { ingestInto, problem } from './support.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const ARCHIVE = join(REPO, 'fixtures/corpus/archive');
const K50 = 'debian/12/x86_64/6.1.0-50-amd64';
const ARM = 'debian/12/arm64/6.1.0-50-arm64';
const PLUS_UNAME = '6.12.117+deb13-amd64';
/** A Debian 6.12 kernel: its uname -r, and so its KREF, holds a `+`. */
const PLUS = `debian/13/x86_64/${PLUS_UNAME}`;
const ENCODED = PLUS.replace('+', '%2B');

let dir: string;
let db: string;
let app: FastifyInstance;

const get = (url: string, headers: Record<string, string> = {}) => app.inject({ method: 'GET', url, headers });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-kref-plus-'));
  db = join(dir, 'atlas.db');
  const wanted = new Set([K50, ARM, PLUS]);
  const items = scanPath(ARCHIVE).filter((item) => item.kref !== undefined && wanted.has(formatKref(item.kref)));
  expect(items).toHaveLength(3);
  await ingestInto(db, items.map((item) => jobDataOf(item)));
  app = await buildApp({ dbPath: db, adminToken: undefined });
  await app.ready();
}, 180_000);

afterAll(async () => {
  await app?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the query string parser', () => {
  it('decodes %XX but keeps a literal + (KREFs hold + and never a space)', () => {
    expect(parseQuerystring(`kernel=${PLUS}`)).toEqual({ kernel: PLUS });
    expect(parseQuerystring(`kernel=${ENCODED}`)).toEqual({ kernel: PLUS });
    expect(parseQuerystring('q=a%20b&x=1+2')).toEqual({ q: 'a b', x: '1+2' });
  });

  it('otherwise parses as fastify does: empty values, repeated keys, bad escapes kept as written', () => {
    expect(parseQuerystring('')).toEqual({});
    expect(parseQuerystring('a&b=&&c=1')).toEqual({ a: '', b: '', c: '1' });
    expect(parseQuerystring('a=1&a=2&a=3')).toEqual({ a: ['1', '2', '3'] });
    expect(parseQuerystring('a=%E0%A4%A&b=%zz')).toEqual({ a: '%E0%A4%A', b: '%zz' });
    expect(parseQuerystring('a%3Db=c%26d')).toEqual({ 'a=b': 'c&d' });
    expect(Object.getPrototypeOf(parseQuerystring('__proto__=x'))).toBe(null);
  });
});

describe('a literal + in a kernel reference stays a + on every route', () => {
  for (const [how, kref] of [['literal +', PLUS], ['%2B', ENCODED]] as const) {
    it(`?kernel= (${how})`, async () => {
      const res = await get(`/v1/types/pt_regs?kernel=${kref}`);
      expect(res.statusCode).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ kernel: PLUS });
    });

    it(`?from= and ?to= (${how})`, async () => {
      const res = await get(`/v1/diff?from=${K50}&to=${kref}`);
      expect(res.statusCode).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ from: K50, to: PLUS });
      const back = await get(`/v1/diff?from=${kref}&to=${kref}`);
      expect(back.statusCode).toBe(200);
      expect(JSON.parse(back.body)).toMatchObject({ from: PLUS, to: PLUS, changes: [] });
    });

    it(`/archive/… paths (${how})`, async () => {
      const path = `/archive/${kref}`;
      for (const suffix of ['.btf', '.btf.tar.xz']) {
        const res = await app.inject({ method: 'HEAD', url: `${path}${suffix}` });
        expect(res.statusCode).toBe(200);
        expect(Number(res.headers['content-length'])).toBeGreaterThan(0);
      }
    });

    it(`/v1/kernels/…/vmlinux.h (${how})`, async () => {
      const res = await get(`/v1/kernels/${kref}/vmlinux.h`, { range: 'bytes=0-99' });
      expect(res.statusCode).toBe(206);
      expect(res.headers['x-kernel']).toBe(PLUS);
      expect(res.body).toHaveLength(100);
    });
  }

  it('?release= of a filter may hold a + too, and a space is still no KREF', async () => {
    const res = await get(`/v1/kernels?distro=debian&release=13`);
    expect(JSON.parse(res.body)).toEqual({ kernels: [expect.objectContaining({ kernel: PLUS })] });
    // %20 is a space, which no KREF segment holds: refused as before.
    problem(await get(`/v1/types/pt_regs?kernel=${PLUS.replace('+', '%20')}`), 400, 'CATALOG_BAD_KREF');
  });
});

describe('a filter value that matches no kernel: 404 naming the values that exist', () => {
  it('an arch', async () => {
    for (const url of ['/v1/kernels?arch=x86-64', '/v1/fields/pt_regs.di?arch=x86-64', '/v1/types/pt_regs/history?arch=x86-64']) {
      const p = problem(await get(url), 404, 'NO_MATCHING_KERNELS');
      expect(p.detail).toBe('no kernels with arch x86-64; arches: x86_64, arm64');
      expect(p.suggestions).toEqual(['x86_64']);
    }
  });

  it('a distro and a release, each among the kernels the values before it select', async () => {
    const distro = problem(await get('/v1/kernels?distro=debain'), 404, 'NO_MATCHING_KERNELS');
    expect(distro.detail).toBe('no kernels with distro debain; distros: debian');
    expect(distro.suggestions).toEqual(['debian']);
    const release = problem(await get('/v1/fields/pt_regs.di?distro=debian&release=14'), 404, 'NO_MATCHING_KERNELS');
    expect(release.detail).toBe('no kernels with release 14 (distro debian); releases: 12, 13');
    const arch = problem(await get('/v1/kernels?release=13&arch=arm64'), 404, 'NO_MATCHING_KERNELS');
    expect(arch.detail).toBe('no kernels with arch arm64 (release 13); arches: x86_64');
  });

  it('values that match still answer, uname -m spellings included', async () => {
    expect(JSON.parse((await get('/v1/kernels?arch=aarch64')).body).kernels.map((k: { kernel: string }) => k.kernel)).toEqual([ARM]);
    expect((await get('/v1/fields/pt_regs.di?arch=x86_64&release=12')).statusCode).toBe(200);
  });
});

describe('GET /v1/types/{name}?format=pahole', () => {
  /** The section of a corpus pahole oracle for one struct (pahole 1.30's exact output). */
  const oracleSection = (kref: string, name: string): string => {
    const [, release, arch, uname] = kref.split('/');
    const text = readFileSync(join(REPO, `fixtures/corpus/oracle/debian/${release}/${arch}/${uname}.pahole.txt`), 'latin1');
    return text.split(/^### pahole .*\n/m).find((x) => x.startsWith(`struct ${name} {`))!.replace(/\n$/, '');
  };

  it('answers text/plain, byte for byte what pahole -C NAME prints, for a KREF with a + too', async () => {
    for (const [kref, name] of [[K50, 'sk_buff'], [PLUS, 'task_struct'], [ARM, 'pt_regs']] as const) {
      const res = await get(`/v1/types/${name}?kernel=${kref}&format=pahole`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(res.body).toBe(oracleSection(kref, name));
    }
  });

  it('keeps JSON the default, and the two never mix in the answer cache', async () => {
    const url = `/v1/types/pt_regs?kernel=${K50}`;
    for (let i = 0; i < 2; i++) {
      expect((await get(url)).json()).toMatchObject({ kernel: K50, types: [{ name: 'pt_regs', size: 168 }] });
      expect((await get(`${url}&format=pahole`)).body).toBe(oracleSection(K50, 'pt_regs'));
      expect((await get(`${url}&format=json`)).headers['content-type']).toMatch(/^application\/json/);
    }
    problem(await get(`${url}&format=yaml`), 400, 'BAD_PARAMETER');
    problem(await get(`/v1/types/no_such_struct?kernel=${K50}&format=pahole`), 404, 'TYPE_NOT_FOUND');
  });
});
