import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobDataOf, listKernels, openCatalog, scanPath, type KernelInfo } from '@btf-atlas/catalog';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { ingestInto, problem } from './support.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const ARCHIVE = join(REPO, 'fixtures/corpus/archive');
const OS_RELEASES = join(REPO, 'libs/catalog/test/fixtures/os-release');
/** A folder named by codename, as btfhub's generator once named Debian's (the corpus' 6.1.0-47 put there too). */
const CODENAME_KERNEL = 'debian/bullseye/x86_64/6.1.0-47-amd64';

let dir: string;
let db: string;
let app: FastifyInstance;
let kernels: KernelInfo[];

function osRelease(name: string): string {
  return readFileSync(join(OS_RELEASES, name), 'utf8');
}

async function lookup(body: unknown, headers: Record<string, string> = {}, on: FastifyInstance = app) {
  return on.inject({ method: 'POST', url: '/v1/btf/lookup', payload: body as Record<string, unknown>, headers: { host: 'btf.example.org:8080', ...headers } });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-lookup-api-'));
  db = join(dir, 'atlas.db');
  const items = scanPath(ARCHIVE);
  // 6.1.0-47 once more under a codename folder (debian/bullseye), as btfhub's generator once named folders.
  const k47 = items.find((item) => item.kref.unameR === '6.1.0-47-amd64')!;
  await ingestInto(db, [...items.map((item) => jobDataOf(item)), { ...jobDataOf(k47), kernel: CODENAME_KERNEL }]);
  const catalog = openCatalog(db);
  kernels = listKernels(catalog);
  catalog.close();
  app = await buildApp({ dbPath: db, adminToken: undefined });
  await app.ready();
}, 180_000);

afterAll(async () => {
  await app?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('POST /v1/btf/lookup', () => {
  it('answers the KREF and absolute download URLs built from the request', async () => {
    const res = await lookup({ os_release: osRelease('debian-12'), uname_r: '6.1.0-50-amd64', arch: 'x86_64' });
    expect(res.statusCode).toBe(200);
    const k = kernels.find((x) => x.kernel === 'debian/12/x86_64/6.1.0-50-amd64')!;
    const a = JSON.parse(res.body) as Record<string, unknown>;
    expect(a).toMatchObject({
      kernel: 'debian/12/x86_64/6.1.0-50-amd64',
      url: 'http://btf.example.org:8080/archive/debian/12/x86_64/6.1.0-50-amd64.btf.tar.xz',
      btf_url: 'http://btf.example.org:8080/archive/debian/12/x86_64/6.1.0-50-amd64.btf',
      distro: 'debian',
      release: '12',
      arch: 'x86_64',
      uname_r: '6.1.0-50-amd64',
      btf_sha256: k.btf_sha256,
    });
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(a.btf_size).toBeGreaterThan(1_000_000);
    expect(Object.keys(a)).toEqual(['kernel', 'url', 'btf_url', 'distro', 'release', 'arch', 'uname_r', 'btf_sha256', 'btf_size', 'sha256', 'reason']);
  });

  it('answers the sha256 of the corpus tarball, the bytes /archive serves', async () => {
    const res = await lookup({ os_release: osRelease('debian-12'), uname_r: '6.1.0-47-amd64', arch: 'x86_64' });
    const { createHash } = await import('node:crypto');
    const tarball = readFileSync(join(ARCHIVE, 'debian/12/x86_64/6.1.0-47-amd64.btf.tar.xz'));
    expect((JSON.parse(res.body) as { sha256: string }).sha256).toBe(createHash('sha256').update(tarball).digest('hex'));
  });

  it('answers URLs the /archive mirror serves, with the sha256s it answered', async () => {
    const res = await lookup({ os_release: osRelease('debian-12'), uname_r: '6.1.0-50-arm64', arch: 'aarch64' });
    const a = JSON.parse(res.body) as { url: string; btf_url: string; sha256: string; btf_sha256: string };
    const { createHash } = await import('node:crypto');
    for (const [url, sha] of [[a.url, a.sha256], [a.btf_url, a.btf_sha256]]) {
      const file = await app.inject({ method: 'GET', url: new URL(url).pathname });
      expect(file.statusCode).toBe(200);
      expect(createHash('sha256').update(file.rawPayload).digest('hex')).toBe(sha);
    }
  });

  it('maps aarch64 to the archive\'s arm64', async () => {
    const res = await lookup({ os_release: osRelease('debian-12'), uname_r: '6.1.0-50-arm64', arch: 'aarch64' });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ kernel: 'debian/12/arm64/6.1.0-50-arm64', arch: 'arm64', url: 'http://btf.example.org:8080/archive/debian/12/arm64/6.1.0-50-arm64.btf.tar.xz' });
  });

  it('keeps "+" of a uname -r as btfhub URLs have it', async () => {
    const res = await lookup({ os_release: osRelease('debian-13'), uname_r: '6.12.117+deb13-amd64', arch: 'x86_64' });
    expect(JSON.parse(res.body)).toMatchObject({ kernel: 'debian/13/x86_64/6.12.117+deb13-amd64', url: 'http://btf.example.org:8080/archive/debian/13/x86_64/6.12.117+deb13-amd64.btf.tar.xz' });
  });

  it('finds Debian kernels by release number and by codename folder', async () => {
    const byNumber = await lookup({ os_release: osRelease('debian-trixie-sid'), uname_r: '6.12.117+deb13-amd64', arch: 'x86_64' });
    expect(JSON.parse(byNumber.body)).toMatchObject({ kernel: 'debian/13/x86_64/6.12.117+deb13-amd64' });
    const byCodename = await lookup({ os_release: osRelease('debian-11'), uname_r: '6.1.0-47-amd64', arch: 'x86_64' });
    expect(byCodename.statusCode).toBe(200);
    expect(JSON.parse(byCodename.body)).toMatchObject({ kernel: CODENAME_KERNEL, release: 'bullseye', reason: expect.stringMatching(/codename/) as unknown });
  });

  it('accepts CRLF os-release text', async () => {
    const res = await lookup({ os_release: osRelease('debian-12').replace(/\n/g, '\r\n'), uname_r: '6.1.0-50-amd64', arch: 'x86_64' });
    expect(res.statusCode).toBe(200);
  });

  it('uses the configured public URL behind a proxy', async () => {
    const cfg = loadConfig({ BTF_ATLAS_PUBLIC_URL: 'https://mirror.example.org/btf/' }, { dbPath: db });
    expect(cfg.publicUrl).toBe('https://mirror.example.org/btf');
    expect(() => loadConfig({ BTF_ATLAS_PUBLIC_URL: 'ftp://x' })).toThrow(/BTF_ATLAS_PUBLIC_URL/);
    expect(() => loadConfig({ BTF_ATLAS_PUBLIC_URL: 'not a url' })).toThrow(/BTF_ATLAS_PUBLIC_URL/);
    const proxied = await buildApp({ dbPath: db, adminToken: undefined, publicUrl: cfg.publicUrl });
    try {
      const res = await lookup({ os_release: osRelease('debian-12'), uname_r: '6.1.0-50-amd64', arch: 'x86_64' }, {}, proxied);
      expect(JSON.parse(res.body)).toMatchObject({ url: 'https://mirror.example.org/btf/archive/debian/12/x86_64/6.1.0-50-amd64.btf.tar.xz' });
    } finally {
      await proxied.close();
    }
  });

  it('answers 404 KERNEL_NOT_FOUND with the nearest kernels and the folders tried', async () => {
    const res = await lookup({ os_release: osRelease('debian-12'), uname_r: '6.1.0-48-amd64', arch: 'x86_64' });
    const p = problem(res, 404, 'KERNEL_NOT_FOUND');
    expect(p.nearest).toEqual([
      { kernel: 'debian/12/x86_64/6.1.0-47-amd64', uname_r: '6.1.0-47-amd64', relation: 'older' },
      { kernel: 'debian/12/x86_64/6.1.0-50-amd64', uname_r: '6.1.0-50-amd64', relation: 'newer' },
    ]);
    expect(p.tried).toEqual(['debian/12/x86_64', 'debian/bookworm/x86_64']);
    expect(p.suggestions).toEqual(['debian/12/x86_64/6.1.0-47-amd64', 'debian/12/x86_64/6.1.0-50-amd64']);
    expect(p.detail).toMatch(/closest older/);
  });

  it('answers 404 without another distro\'s kernels for a distro the catalog lacks', async () => {
    const res = await lookup({ os_release: osRelease('amzn-2018.03'), uname_r: '4.14.334-177.552.amzn1.x86_64', arch: 'x86_64' });
    const p = problem(res, 404, 'KERNEL_NOT_FOUND');
    expect(p.tried).toEqual(['amzn/2018/x86_64', 'amzn/1/x86_64']);
    expect(p.nearest).toEqual([]);
  });

  it('answers 404 with kernels of the same distro in other releases', async () => {
    const res = await lookup({ os_release: osRelease('debian-10'), uname_r: '4.19.0-26-amd64', arch: 'x86_64' });
    const p = problem(res, 404, 'KERNEL_NOT_FOUND');
    expect((p.nearest as { kernel: string; relation: string }[]).length).toBeGreaterThan(0);
    for (const n of p.nearest as { kernel: string; relation: string }[]) expect(n).toMatchObject({ kernel: expect.stringMatching(/^debian\//), relation: 'other-release' });
  });

  const bad: [string, unknown, string, RegExp][] = [
    ['a missing uname_r', { os_release: 'ID=debian\n', arch: 'x86_64' }, 'BAD_PARAMETER', /body field "uname_r" is required/],
    ['a missing os_release', { uname_r: '6.1.0-50-amd64', arch: 'x86_64' }, 'BAD_PARAMETER', /body field "os_release" is required/],
    ['an unknown field', { os_release: 'ID=debian\n', uname_r: '6.1.0-50-amd64', arch: 'x86_64', distro: 'debian' }, 'BAD_PARAMETER', /body field "distro" is not known/],
    ['a uname_r with a slash', { os_release: 'ID=debian\n', uname_r: '../6.1.0', arch: 'x86_64' }, 'BAD_PARAMETER', /body field "uname_r"/],
    ['a uname_r over 64 characters', { os_release: 'ID=debian\n', uname_r: '6'.repeat(65), arch: 'x86_64' }, 'BAD_PARAMETER', /body field "uname_r"/],
    ['an arch with a dash', { os_release: 'ID=debian\n', uname_r: '6.1.0-50-amd64', arch: 'x86-64' }, 'BAD_PARAMETER', /body field "arch"/],
    ['an os_release over 16 KiB', { os_release: `ID=debian\n#${'x'.repeat(16 * 1024)}`, uname_r: '6.1.0-50-amd64', arch: 'x86_64' }, 'BAD_PARAMETER', /body field "os_release"/],
    ['an os_release that is not text', { os_release: { ID: 'debian' }, uname_r: '6.1.0-50-amd64', arch: 'x86_64' }, 'BAD_PARAMETER', /body field "os_release"/],
    ['os-release text that is not KEY=VALUE', { os_release: 'Debian GNU/Linux 12 \\n \\l\n', uname_r: '6.1.0-50-amd64', arch: 'x86_64' }, 'OS_RELEASE_INVALID', /os-release line 1: expected NAME=VALUE/],
    ['an os-release ID the archive cannot name', { os_release: 'ID="Debian GNU"\n', uname_r: '6.1.0-50-amd64', arch: 'x86_64' }, 'OS_RELEASE_INVALID', /ID "Debian GNU"/],
  ];
  for (const [what, body, code, detail] of bad) {
    it(`answers 400 ${code} for ${what}`, async () => {
      const p = problem(await lookup(body), 400, code);
      expect(p.detail).toMatch(detail);
    });
  }

  it('answers 400 for a body that is not JSON', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/btf/lookup', payload: '{"os_release":', headers: { 'content-type': 'application/json' } });
    problem(res, 400, 'BAD_BODY');
  });

  it('is described in the OpenAPI document', async () => {
    const doc = JSON.parse((await app.inject({ method: 'GET', url: '/openapi.json' })).body) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/v1/btf/lookup'])).toContain('post');
  });
});
