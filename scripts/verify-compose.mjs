#!/usr/bin/env node
// Brings the docker-compose stack up and ingests through it (`npm run verify:compose`; never part of `npm test`,
// which checks the compose file and the image's layout without an engine: apps/api/test/compose.test.ts).
//
// Where a Docker engine answers (`docker info`) and a compose client is installed (`docker compose` or
// `docker-compose`): builds the image, starts Redis, the API and two workers as a project of its own (a random name,
// a random admin token, a free port), waits for /readyz, then
//   - asks for a scan of the repository's sample archive (fixtures/corpus/archive, mounted read-only) through
//     POST /v1/ingest, and waits until every kernel of it is listed by /v1/kernels as ingested;
//   - checks answers: pt_regs.di at offset 112 on every x86_64 kernel and absent on arm64, a kernel's .btf.tar.xz
//     served with its sha256, /metrics counting the kernels, /admin/queues refusing a request without the token;
//   - restarts Redis (AOF on) and waits until /readyz is ready again, then ingests once more (nothing new: every
//     kernel is known) to show the workers reconnected;
// and always takes the project down with its volumes. Prints each step with its time; exits 1 on the first
// failed check, 2 where there is no engine or no compose client (nothing was run).
//
// Options: --keep (leave the stack up for a look; `docker compose -p NAME down -v` removes it), --timeout SEC (per
// wait, default 300).
/* global fetch */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import { ROOT } from './lib/bench-common.mjs';

const args = process.argv.slice(2);
const KEEP = args.includes('--keep');
const ti = args.indexOf('--timeout');
const TIMEOUT_MS = (ti >= 0 ? Number(args[ti + 1]) : 300) * 1000;
const started = Date.now();
const log = (msg) => console.log(`[verify:compose ${((Date.now() - started) / 1000).toFixed(0)} s] ${msg}`);

function sh(cmd, argv, opts = {}) {
  return spawnSync(cmd, argv, { encoding: 'utf8', cwd: ROOT, timeout: 30 * 60_000, ...opts });
}

if (sh('docker', ['info', '--format', '{{.ServerVersion}}']).status !== 0) {
  console.error('verify:compose: no Docker engine answers (`docker info` fails): nothing was run. `npm test` checks the compose file and the image layout without one.');
  process.exit(2);
}
const client = [['docker', 'compose'], ['docker-compose']].find(([cmd, ...sub]) => sh(cmd, [...sub, 'version']).status === 0);
if (!client) {
  console.error('verify:compose: neither `docker compose` nor `docker-compose` is installed: nothing was run.');
  process.exit(2);
}

/** A port nobody listens on now. */
async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

const project = `btfatlasverify${randomBytes(4).toString('hex')}`;
const token = randomBytes(16).toString('hex');
const port = await freePort();
const env = { ...process.env, BTF_ATLAS_ADMIN_TOKEN: token, BTF_ATLAS_PORT: String(port), BTF_ARCHIVE: join(ROOT, 'fixtures/corpus/archive') };
const compose = (...argv) => {
  const [cmd, ...sub] = client;
  const r = sh(cmd, [...sub, '-p', project, '-f', join(ROOT, 'docker-compose.yml'), ...argv], { env });
  if (r.status !== 0) throw new Error(`${client.join(' ')} ${argv.join(' ')} failed (exit ${r.status}):\n${(r.stderr || r.stdout).slice(-4000)}`);
  return r.stdout;
};
const base = `http://127.0.0.1:${port}`;
const auth = { authorization: `Bearer ${token}` };

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
  log(`ok: ${what}`);
}

async function waitFor(what, probe) {
  const until = Date.now() + TIMEOUT_MS;
  let last;
  while (Date.now() < until) {
    try {
      last = await probe();
      if (last === true) return;
    } catch (err) {
      last = err.message;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`timed out after ${TIMEOUT_MS / 1000} s waiting for ${what} (last: ${String(last)})`);
}

/** The KREFs of the sample archive: DISTRO/RELEASE/ARCH/UNAME_R of each .btf.tar.xz. */
function sampleKernels() {
  const root = join(ROOT, 'fixtures/corpus/archive');
  const out = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.btf.tar.xz')) out.push(relative(root, p).replace(/\.btf\.tar\.xz$/, ''));
    }
  };
  walk(root);
  return out.sort();
}

let failed = false;
try {
  log(`project ${project}: building the image and starting redis, the api and two workers on port ${port}`);
  compose('up', '-d', '--build');
  await waitFor('/readyz', async () => (await fetch(`${base}/readyz`)).ok || 'not ready');
  check(true, 'the api is ready (catalog migrated, Redis answers)');

  const expected = sampleKernels();
  const ingestAll = async () => {
    const res = await fetch(`${base}/v1/ingest`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ path: '.' }) });
    check(res.status === 202, `POST /v1/ingest of the archive answers 202 (got ${res.status})`);
    const job = await res.json();
    await waitFor(`scan job ${job.id}`, async () => {
      const j = await (await fetch(`${base}/v1/jobs/${encodeURIComponent(job.id)}`, { headers: auth })).json();
      if (j.state === 'failed') throw new Error(`scan failed: ${j.failed_reason ?? JSON.stringify(j)}`);
      return j.state === 'completed' || j.state;
    });
    await waitFor(`${expected.length} kernels ingested`, async () => {
      const k = await (await fetch(`${base}/v1/kernels`)).json();
      const ingested = k.kernels.filter((x) => x.state === undefined || x.state === 'ingested').map((x) => x.kernel).sort();
      return expected.every((e) => ingested.includes(e)) || `${ingested.length} of ${expected.length}`;
    });
  };
  await ingestAll();
  check(true, `the workers ingested every sample kernel (${expected.join(', ')})`);

  const field = await (await fetch(`${base}/v1/fields/pt_regs.di`)).json();
  const x86 = field.kernels.filter((k) => k.kernel.includes('/x86_64/'));
  check(x86.length > 0 && x86.every((k) => k.status === 'present' && k.offset === 112), 'pt_regs.di is at offset 112 in every x86_64 kernel');
  check(field.kernels.filter((k) => k.kernel.includes('/arm64/')).every((k) => k.status !== 'present'), 'arm64 kernels have no pt_regs.di');

  const first = expected[0];
  const tarball = await fetch(`${base}/archive/${first.split('/').map(encodeURIComponent).join('/')}.btf.tar.xz`);
  const bytes = Buffer.from(await tarball.arrayBuffer());
  const sum = createHash('sha256').update(bytes).digest('hex');
  check(tarball.status === 200 && bytes.length > 0, `${first}.btf.tar.xz is served (${bytes.length} bytes, sha256 ${sum.slice(0, 16)}…)`);
  const etag = tarball.headers.get('etag') ?? '';
  check(etag === '' || etag.includes(sum), 'its ETag, where sent, is its sha256');

  const metrics = await (await fetch(`${base}/metrics`)).text();
  check(/btf_atlas_kernels\{state="ingested"\} (\d+)/.test(metrics) && Number(/btf_atlas_kernels\{state="ingested"\} (\d+)/.exec(metrics)[1]) >= expected.length, '/metrics counts the ingested kernels');
  check((await fetch(`${base}/admin/queues`)).status === 401, '/admin/queues answers 401 without the token');

  log('restarting redis (AOF on)');
  compose('restart', 'redis');
  await waitFor('/readyz after the restart', async () => (await fetch(`${base}/readyz`)).ok || 'not ready');
  check(true, 'the api is ready again after Redis restarted');
  await ingestAll();
  check(true, 'the workers took jobs again after the restart');
} catch (err) {
  failed = true;
  console.error(`verify:compose: ${err.message}`);
  try {
    console.error(compose('logs', '--no-color', '--tail', '80'));
  } catch {
    // the logs are a help, not a check
  }
} finally {
  if (KEEP) log(`left up: ${client.join(' ')} -p ${project} down -v removes it (admin token ${token}, port ${port})`);
  else {
    try {
      compose('down', '-v', '--remove-orphans');
      log('taken down with its volumes');
    } catch (err) {
      console.error(`verify:compose: could not take the project down: ${err.message}`);
    }
  }
}
process.exitCode = failed ? 1 : 0;
