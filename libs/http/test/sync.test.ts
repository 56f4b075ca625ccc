import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { problem } from './support.js';
import { baseBtf, bzImage, deb, elfWithBtf, gzip } from '../../pkg/test/support/build.js';
import { packagesText, publish, sha256, stanza } from '../../sync/test/support/repo.js';
import { startServer, type FixtureServer } from '../../sync/test/support/server.js';

const TOKEN = 'test-admin-token-1234';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const UNAME = '9.9.8+deb14-amd64';

async function kernelDeb(): Promise<Uint8Array> {
  return deb(
    [{ path: `./usr/lib/modules/${UNAME}/vmlinuz`, data: bzImage(gzip(elfWithBtf(baseBtf()))) }],
    { control: `Package: linux-binary-${UNAME}\nVersion: 9.9.8-1\nArchitecture: amd64\nMaintainer: Debian Kernel Team <debian-kernel@lists.debian.org>\nDescription: t\n` },
  );
}

async function waitFor<T>(fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('POST /v1/sync and package uploads (in-process jobs)', () => {
  let dir: string;
  let app: FastifyInstance;
  let server: FixtureServer;
  let pkg: Uint8Array;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'btf-atlas-http-sync-'));
    app = await buildApp({ dbPath: join(dir, 'atlas.db'), adminToken: TOKEN });
    server = await startServer();
    pkg = await kernelDeb();
    const file = `pool/main/l/linux-signed-amd64/linux-binary-${UNAME}_9.9.8-1_amd64.deb`;
    server.files.set(`/debian/${file}`, pkg);
    const text = packagesText([stanza({ name: `linux-binary-${UNAME}`, version: '9.9.8-1', filename: file, size: pkg.length, sha256: sha256(pkg) })]);
    await publish(server.files, '/debian', { name: 'sid', fields: { Suite: 'unstable', Codename: 'sid', Architectures: 'amd64' }, indexes: [{ arch: 'amd64', text }] });
  });

  afterAll(async () => {
    await app?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses without the token and with a bad body', async () => {
    expect((await app.inject({ method: 'POST', url: '/v1/sync', payload: { distro: 'debian', suites: ['sid'], archs: ['amd64'] } })).statusCode).toBe(401);
    problem(await app.inject({ method: 'POST', url: '/v1/sync', headers: AUTH, payload: { distro: 'gentoo', suites: ['x'], archs: ['amd64'] } }), 400, 'BAD_PARAMETER');
    problem(await app.inject({ method: 'POST', url: '/v1/sync', headers: AUTH, payload: { distro: 'debian', suites: ['sid'], archs: ['amd64'], every_hours: 6 } }), 400, 'BAD_BODY');
  });

  it('a sync job fetches and ingests the kernels the catalog lacks', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/sync', headers: AUTH, payload: { distro: 'debian', suites: ['sid'], archs: ['amd64'], mirror: `${server.url}/debian` } });
    expect(res.statusCode).toBe(202);
    const { url } = res.json() as { url: string };
    const done = await waitFor(async () => {
      const v = (await app.inject({ url, headers: AUTH })).json() as { state: string; result?: { enqueued: string[] } };
      return v.state === 'completed' || v.state === 'failed' ? v : undefined;
    });
    expect(done).toMatchObject({ state: 'completed', result: { enqueued: [`debian/14/x86_64/${UNAME}`] } });
    const kernels = await waitFor(async () => {
      const k = ((await app.inject({ url: '/v1/kernels' })).json() as { kernels: { kernel: string }[] }).kernels;
      return k.length > 0 ? k : undefined;
    });
    expect(kernels.map((k) => k.kernel)).toEqual([`debian/14/x86_64/${UNAME}`]);
  });

  it('an uploaded .deb is named by its own metadata (no ?kernel)', async () => {
    const other = await deb(
      [{ path: './boot/vmlinuz-9.9.7-1-amd64', data: bzImage(gzip(elfWithBtf(baseBtf()))) }],
      { control: 'Package: linux-image-9.9.7-1-amd64\nVersion: 9.9.7-1~bpo12+1\nArchitecture: amd64\nDescription: t\n' },
    );
    const res = await app.inject({ method: 'POST', url: '/v1/ingest', headers: { ...AUTH, 'content-type': 'application/octet-stream' }, payload: Buffer.from(other) });
    expect(res.statusCode).toBe(202);
    const { url } = res.json() as { url: string };
    const done = await waitFor(async () => {
      const v = (await app.inject({ url, headers: AUTH })).json() as { state: string; result?: { kernel: string }; failed_reason?: string };
      return v.state === 'completed' || v.state === 'failed' ? v : undefined;
    });
    expect(done).toMatchObject({ state: 'completed', result: { kernel: 'debian/12/x86_64/9.9.7-1-amd64' } });
  });
});
