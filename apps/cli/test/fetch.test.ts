import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractBtf } from '@btf-atlas/btf';
import { BlobStore, jobDataOf, listKernels, openCatalog, processIngest, scanPath, type KernelInfo } from '@btf-atlas/catalog';
import { buildApp } from '@btf-atlas/http';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = join(REPO, 'apps/cli/bin/btf-atlas.js');
const ARCHIVE = join(REPO, 'fixtures/corpus/archive');
const OS_RELEASES = join(REPO, 'libs/catalog/test/fixtures/os-release');
/** The mirror routes (`GET /archive/...`), built in libs/http alongside this command. */

let dir: string;
let kernels: KernelInfo[];
/** The real API over the corpus catalog; its download URLs point at itself. */
let api: FastifyInstance;
let apiUrl: string;
/** The real API again, with BTF_ATLAS_PUBLIC_URL pointing its download URLs at {@link mirrorUrl}. */
let fronted: FastifyInstance;
let frontedUrl: string;
/** A btfhub-style mirror serving the corpus files, whose behaviour each test picks. */
let mirror: Server;
let mirrorUrl: string;
let mirrorMode: 'raw' | 'tarball-only' | 'corrupt' = 'raw';
const mirrorHits: string[] = [];
/** A port nothing listens on. */
let deadUrl: string;

/** Runs the built CLI without blocking this process (the servers answer it from here). */
function cli(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, REDIS_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function osRelease(name: string): string {
  return join(OS_RELEASES, name);
}

/** A fresh output folder and a --sys-btf path that does not exist. */
function workdir(): { out: string; noSysBtf: string } {
  const d = mkdtempSync(join(dir, 'run-'));
  return { out: join(d, 'out'), noSysBtf: join(d, 'no-such-vmlinux') };
}

function btfOf(kref: string): string {
  return kernels.find((k) => k.kernel === kref)!.btf_sha256;
}

async function listen(app: FastifyInstance): Promise<string> {
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return address.replace('localhost', '127.0.0.1');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-fetch-'));
  const db = join(dir, 'atlas.db');
  const catalog = openCatalog(db);
  try {
    const blobs = BlobStore.forCatalog(db);
    for (const item of scanPath(ARCHIVE)) await processIngest(jobDataOf(item), { catalog, blobs });
    kernels = listKernels(catalog);
  } finally {
    catalog.close();
  }

  mirror = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    mirrorHits.push(path);
    const m = /^\/archive\/(.+?)\.btf(\.tar\.xz)?$/.exec(path);
    const tarball = m ? join(ARCHIVE, `${m[1]}.btf.tar.xz`) : '';
    if (!m || m[1].includes('..') || !existsSync(tarball)) {
      res.writeHead(404).end();
      return;
    }
    const bytes = readFileSync(tarball);
    if (m[2]) {
      res.writeHead(200, { 'content-type': 'application/x-xz', 'content-length': bytes.length }).end(bytes);
      return;
    }
    if (mirrorMode === 'tarball-only') {
      res.writeHead(404).end();
      return;
    }
    void extractBtf(bytes, `${m[1]}.btf.tar.xz`).then((blobs) => {
      const raw = Buffer.from(blobs[0].bytes);
      if (mirrorMode === 'corrupt') raw[raw.length - 1] ^= 0xff;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': raw.length }).end(raw);
    });
  });
  await new Promise<void>((resolve) => mirror.listen(0, '127.0.0.1', resolve));
  mirrorUrl = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}`;

  api = await buildApp({ dbPath: db, adminToken: undefined });
  apiUrl = await listen(api);
  fronted = await buildApp({ dbPath: db, adminToken: undefined, publicUrl: mirrorUrl });
  frontedUrl = await listen(fronted);

  const dead = createServer();
  await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
  deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => dead.close(() => resolve()));
}, 180_000);

afterAll(async () => {
  await api?.close();
  await fronted?.close();
  await new Promise<void>((resolve) => (mirror ? mirror.close(() => resolve()) : resolve()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('btf-atlas fetch', () => {
  it('says the kernel has built-in BTF and downloads nothing when /sys/kernel/btf/vmlinux exists', async () => {
    const { out } = workdir();
    const sysBtf = join(dir, 'vmlinux');
    writeFileSync(sysBtf, 'BTF');
    const r = await cli('fetch', '--server', deadUrl, '--out', out, '--sys-btf', sysBtf, '--uname-r', '6.1.0-50-amd64');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${sysBtf} exists: kernel 6.1.0-50-amd64 has built-in BTF, no download needed (--force downloads anyway)\n`);
    expect(existsSync(out)).toBe(false);
  });

  it('looks the machine up, downloads its raw BTF, checks the sha256 and writes OUT/UNAME_R.btf', async () => {
    mirrorMode = 'raw';
    const { out, noSysBtf } = workdir();
    const r = await cli('fetch', '--server', frontedUrl, '--out', out, '--sys-btf', noSysBtf,
      '--os-release', osRelease('debian-12'), '--uname-r', '6.1.0-50-amd64', '--arch', 'x86_64');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const path = join(out, '6.1.0-50-amd64.btf');
    expect(sha256(readFileSync(path))).toBe(btfOf('debian/12/x86_64/6.1.0-50-amd64'));
    expect(r.stdout).toBe(`wrote ${path}: BTF of debian/12/x86_64/6.1.0-50-amd64 (${readFileSync(path).length} bytes, sha256 ${btfOf('debian/12/x86_64/6.1.0-50-amd64')} checked)\n`);
    expect(readdirSync(out)).toEqual(['6.1.0-50-amd64.btf']);
    expect(mirrorHits).toContain('/archive/debian/12/x86_64/6.1.0-50-amd64.btf');
  });

  it('sends uname -m as it is: aarch64 finds the arm64 kernel', async () => {
    mirrorMode = 'raw';
    const { out, noSysBtf } = workdir();
    const r = await cli('fetch', '--server', frontedUrl, '--out', out, '--sys-btf', noSysBtf,
      '--os-release', osRelease('debian-12'), '--uname-r', '6.1.0-50-arm64', '--arch', 'aarch64', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const answer = JSON.parse(r.stdout) as { kernel: string; path: string; sha256: string; size: number; builtin: boolean };
    expect(answer).toMatchObject({ builtin: false, kernel: 'debian/12/arm64/6.1.0-50-arm64', path: join(out, '6.1.0-50-arm64.btf'), sha256: btfOf('debian/12/arm64/6.1.0-50-arm64') });
    expect(sha256(readFileSync(answer.path))).toBe(answer.sha256);
  });

  it('unpacks the .btf.tar.xz when the mirror has no raw .btf (as btfhub-archive itself)', async () => {
    mirrorMode = 'tarball-only';
    const { out, noSysBtf } = workdir();
    const r = await cli('fetch', '--server', frontedUrl, '--out', out, '--sys-btf', noSysBtf,
      '--os-release', osRelease('debian-13'), '--uname-r', '6.12.117+deb13-amd64', '--arch', 'x86_64');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(sha256(readFileSync(join(out, '6.12.117+deb13-amd64.btf')))).toBe(btfOf('debian/13/x86_64/6.12.117+deb13-amd64'));
    expect(mirrorHits).toContain('/archive/debian/13/x86_64/6.12.117+deb13-amd64.btf.tar.xz');
  });

  it('fails with exit 1 and one line on a sha256 mismatch, writing nothing', async () => {
    mirrorMode = 'corrupt';
    const { out, noSysBtf } = workdir();
    const r = await cli('fetch', '--server', frontedUrl, '--out', out, '--sys-btf', noSysBtf,
      '--os-release', osRelease('debian-12'), '--uname-r', '6.1.0-47-amd64', '--arch', 'x86_64');
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^btf-atlas: FETCH_SHA256_MISMATCH: sha256 mismatch for ${mirrorUrl}/archive/debian/12/x86_64/6\\.1\\.0-47-amd64\\.btf: got [0-9a-f]{64}, expected ${btfOf('debian/12/x86_64/6.1.0-47-amd64')}; nothing written\\n$`));
    expect(existsSync(join(out, '6.1.0-47-amd64.btf'))).toBe(false);
    mirrorMode = 'raw';
  });

  it('fails with exit 1 and the nearest kernels on one line for a kernel the server lacks', async () => {
    const { out, noSysBtf } = workdir();
    const r = await cli('fetch', '--server', apiUrl, '--out', out, '--sys-btf', noSysBtf,
      '--os-release', osRelease('debian-12'), '--uname-r', '6.1.0-48-amd64', '--arch', 'x86_64');
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'btf-atlas: KERNEL_NOT_FOUND: no BTF for debian 12 x86_64 6.1.0-48-amd64 in the catalog (tried debian/12/x86_64, debian/bookworm/x86_64); '
      + 'nearest: debian/12/x86_64/6.1.0-47-amd64 (older), debian/12/x86_64/6.1.0-50-amd64 (newer)\n',
    );
    expect(existsSync(out)).toBe(false);
  });

  it('says what failed on stdout too with --json', async () => {
    const { out, noSysBtf } = workdir();
    const r = await cli('fetch', '--server', apiUrl, '--out', out, '--sys-btf', noSysBtf, '--json',
      '--os-release', osRelease('debian-12'), '--uname-r', '6.1.0-48-amd64', '--arch', 'x86_64');
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'KERNEL_NOT_FOUND' } });
  });

  it('cannot write its file: one line naming the path and why, exit 1, nothing left behind', async () => {
    const { out, noSysBtf } = workdir();
    writeFileSync(out, 'a file where the folder should be');
    const r = await cli('fetch', '--server', apiUrl, '--out', out, '--sys-btf', noSysBtf,
      '--os-release', osRelease('debian-12'), '--uname-r', '6.1.0-50-amd64', '--arch', 'x86_64');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^btf-atlas: FETCH_WRITE: cannot write .*6\.1\.0-50-amd64\.btf: E[A-Z]+ \(--out must be a folder\); nothing written\n$/);
  });

  it('fails with exit 1 and one line naming the URL when the server is unreachable', async () => {
    const { out, noSysBtf } = workdir();
    const r = await cli('fetch', '--server', deadUrl, '--out', out, '--sys-btf', noSysBtf,
      '--os-release', osRelease('debian-12'), '--uname-r', '6.1.0-50-amd64', '--arch', 'x86_64');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`btf-atlas: FETCH_NETWORK: cannot reach ${deadUrl}/v1/btf/lookup: ECONNREFUSED\n`);
  });

  it('passes the server\'s refusal of a bad os-release on in one line', async () => {
    const { out, noSysBtf } = workdir();
    const bad = join(dir, 'bad-os-release');
    writeFileSync(bad, 'Debian GNU/Linux 12 \\n \\l\n');
    const r = await cli('fetch', '--server', apiUrl, '--out', out, '--sys-btf', noSysBtf, '--os-release', bad, '--uname-r', '6.1.0-50-amd64', '--arch', 'x86_64');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^btf-atlas: OS_RELEASE_INVALID: http:\/\/127\.0\.0\.1:\d+\/v1\/btf\/lookup answered 400: os-release line 1: expected NAME=VALUE/);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('says which os-release files it could not read', async () => {
    const { out, noSysBtf } = workdir();
    const r = await cli('fetch', '--server', apiUrl, '--out', out, '--sys-btf', noSysBtf, '--os-release', join(dir, 'missing'), '--uname-r', '6.1.0-50-amd64');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`btf-atlas: cannot read ${join(dir, 'missing')} (ENOENT)\n`);
  });

  it('refuses a --server that is not an http(s) URL as a usage error (exit 2)', async () => {
    const r = await cli('fetch', '--server', 'ftp://example.org', '--sys-btf', join(dir, 'none'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--server must be an http\(s\) URL/);
  });

  it('downloads from the server\'s own /archive mirror routes', async () => {
    const { out, noSysBtf } = workdir();
    const r = await cli('fetch', '--server', apiUrl, '--out', out, '--sys-btf', noSysBtf,
      '--os-release', osRelease('debian-12'), '--uname-r', '6.1.0-50-amd64', '--arch', 'x86_64');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(sha256(readFileSync(join(out, '6.1.0-50-amd64.btf')))).toBe(btfOf('debian/12/x86_64/6.1.0-50-amd64'));
  });

  it('answers a misbehaving server with one line and exit 1 (wrong shapes, oversized answers), never a stack trace', async () => {
    const answers: [number, string, RegExp][] = [
      [200, 'null', /^btf-atlas: FETCH_BAD_ANSWER: .* not a JSON object/],
      [404, 'null', /^btf-atlas: FETCH_BAD_ANSWER: .* not a JSON object/],
      [404, '{"code":"KERNEL_NOT_FOUND","detail":"gone","nearest":"x"}', /^btf-atlas: KERNEL_NOT_FOUND: gone; nearest: none/],
      [404, '{"code":"KERNEL_NOT_FOUND","nearest":[null,{"kernel":"a/b/c/d","relation":"older"}]}', /^btf-atlas: KERNEL_NOT_FOUND: no such kernel; nearest: a\/b\/c\/d \(older\)/],
      [500, '{"code":{"a":1},"detail":"boom"}', /^btf-atlas: FETCH_REFUSED: .* answered 500: boom/],
      [200, '{"kernel":"a/b/c/6.1.0-50-amd64"}', /^btf-atlas: FETCH_BAD_ANSWER: .* answered without kernel/],
      [200, `{"pad":"${'x'.repeat(2 * 1024 * 1024)}"}`, /^btf-atlas: FETCH_TOO_LARGE: /],
    ];
    let next = 0;
    const bad = createServer((req, res) => {
      const [status, body] = answers[next];
      req.resume();
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((resolve) => bad.listen(0, '127.0.0.1', resolve));
    const badUrl = `http://127.0.0.1:${(bad.address() as AddressInfo).port}`;
    try {
      for (; next < answers.length; next++) {
        const { out, noSysBtf } = workdir();
        const r = await cli('fetch', '--server', badUrl, '--out', out, '--sys-btf', noSysBtf,
          '--os-release', osRelease('debian-12'), '--uname-r', '6.1.0-50-amd64', '--arch', 'x86_64');
        expect(r.status, answers[next][1].slice(0, 80)).toBe(1);
        expect(r.stderr, answers[next][1].slice(0, 80)).toMatch(answers[next][2]);
        expect(r.stderr.split('\n').length).toBe(2);
      }
    } finally {
      await new Promise<void>((resolve) => bad.close(() => resolve()));
    }
  });

  it('reads os-release as a bounded regular file: a folder or an endless device is refused in one line', async () => {
    const { out, noSysBtf } = workdir();
    for (const [path, why] of [[dir, /is not a regular file/], ['/dev/zero', /is not a regular file/]] as const) {
      const r = await cli('fetch', '--server', apiUrl, '--out', out, '--sys-btf', noSysBtf, '--os-release', path, '--uname-r', '6.1.0-50-amd64');
      expect(r.status, path).toBe(1);
      expect(r.stderr, path).toMatch(why);
    }
    const big = join(dir, 'big-os-release');
    writeFileSync(big, `ID=debian\n#${'x'.repeat(20_000)}\n`);
    const r = await cli('fetch', '--server', apiUrl, '--out', out, '--sys-btf', noSysBtf, '--os-release', big, '--uname-r', '6.1.0-50-amd64');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/more than the 16384 bytes an os-release may have/);
  });
});
