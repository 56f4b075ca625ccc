#!/usr/bin/env node
// API benchmark (`npm run bench:api`; never part of `npm test`).
//
// On a catalog of N synthetic patch-release kernels (default 1000; the series of scripts/make-synthetic-archive.mjs,
// cached under the OS temp folder as `npm run bench:ingest` caches it), it measures:
//   - in process: median / p99 of --reps calls of fieldHistory() for `pt_regs.di` (unchanged in the series) and
//     for a member the series moves (read from the series' manifest.json), and of diffKernels() between two
//     neighbouring kernels and between the first and the last kernel;
//   - over HTTP: the real server (`btf-atlas serve`, in a child process so the load generator does not share its
//     event loop) on 127.0.0.1 and a free port, loaded with autocannon for --duration seconds on
//     `GET /v1/fields/pt_regs.di` with `Accept-Encoding: gzip` (req/s, latency p50 / p99 / max, errors, non-2xx),
//     then shorter runs on the same URL without it (plain JSON) and on `GET /v1/diff?from=A&to=B` of two neighbours;
//   - a mix (--mix-duration seconds, default 60, at --connections): field history, one type in one kernel, the
//     diff of two neighbouring kernels, a `Range` request of a kernel's archive (`/archive/….btf.tar.xz`) and a
//     type history, drawn at random per request (weights 30/25/10/20/15), with req/s, latency p50 / p99 / max,
//     errors and non-2xx, the answers per kind, and the server's RSS before and after (and its peak, VmHWM);
// and prints each figure against its target (>= 5,000 req/s for field history with p99 <= 20 ms, zero errors).
//
// The cached catalog drops its blob store (the kernels' archives) to save disk; before the mix, the archives are
// put back as hard links of the series' own files (they are the same bytes: a .btf.tar.xz is stored as given),
// so `Range` requests are served from the 1,000-kernel catalog itself. With --db, the archive requests use the
// catalog's own blob store; when it lacks them, the mix leaves archives out and says so.
//
// The catalog is built once per (series, N) in process (scanPath + jobDataOf + processIngest, as
// `btf-atlas ingest` does without REDIS_URL) and kept under the OS temp folder, so a second run does not
// re-ingest (a 1,000-kernel catalog takes about 15 minutes on 2 cores). --db FILE uses an existing catalog
// instead (its first / last / neighbouring kernels are taken from its kernel list).
//
// Imports the built libraries (libs/*/dist, apps/*/dist): run `npm run build` (or `npx tsc -b`) first.
// Options:
//   --kernels N        series size (default 1000)
//   --db FILE          benchmark this catalog instead of building one
//   --seed S           series seed (default 1)
//   --duration S       seconds of load on field history (default 30); the diff run takes a third of it (>= 5 s)
//   --connections C    autocannon connections (default 50)
//   --pipelining P     requests in flight per connection (default 1)
//   --reps R           in-process calls per query (default 200; the first-to-last diff gets R / 10, >= 10)
//   --log-level L      the server's LOG_LEVEL (default warn; `info` logs two lines per request, to /dev/null here)
//   --cpu-prof DIR     run the server under `node --cpu-prof` and write its profile into DIR
//   --skip-http        in-process figures only
//   --rebuild          rebuild the cached catalog
//   --mix-duration S   seconds of the mixed load (default 60; 0: no mix)
//   --json FILE        also write the figures as JSON
/* global fetch */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, catalogFor, changingField, fmtMs, quantile, warnIfStale } from './lib/bench-common.mjs';

const CATALOG_DIST = join(ROOT, 'libs/catalog/dist/index.js');
const DIFF_DIST = join(ROOT, 'libs/diff/dist/index.js');
const API_DIST = join(ROOT, 'libs/http/dist/index.js');
const CLI_BIN = join(ROOT, 'apps/cli/bin/btf-atlas.js');
const CLI_DIST = join(ROOT, 'apps/cli/dist/main.js');
const BASE = join(ROOT, 'fixtures/corpus/archive/debian/12/x86_64/6.1.0-50-amd64.btf.tar.xz');
const XZ_LEVEL = 0;
const FIELD = 'pt_regs.di';

const TARGET = { reqPerSec: 5000, p99Ms: 20, errors: 0 };
const GZIP = { 'accept-encoding': 'gzip' };

const args = process.argv.slice(2);
const KNOWN = new Set(['--kernels', '--db', '--seed', '--duration', '--connections', '--pipelining', '--reps', '--log-level', '--cpu-prof', '--skip-http', '--rebuild', '--json', '--mix-duration']);
for (const a of args) {
  if (a.startsWith('--') && !KNOWN.has(a)) {
    console.error(`bench-api: unknown option ${a}`);
    process.exit(2);
  }
}
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const N = Number(opt('--kernels', 1000));
const DB = opt('--db', undefined);
const SEED = Number(opt('--seed', 1));
const DURATION = Number(opt('--duration', 30));
const CONNECTIONS = Number(opt('--connections', 50));
const PIPELINING = Number(opt('--pipelining', 1));
const REPS = Number(opt('--reps', 200));
const LOG_LEVEL = opt('--log-level', 'warn');
const CPU_PROF = opt('--cpu-prof', undefined);
const SKIP_HTTP = args.includes('--skip-http');
const REBUILD = args.includes('--rebuild');
const JSON_OUT = opt('--json', undefined);
const MIX_DURATION = Number(opt('--mix-duration', 60));
const SERIES = { base: BASE, seed: SEED, xzLevel: XZ_LEVEL };
for (const [name, v, min] of [['--kernels', N, 2], ['--duration', DURATION, 1], ['--mix-duration', MIX_DURATION, 0], ['--connections', CONNECTIONS, 1], ['--pipelining', PIPELINING, 1], ['--reps', REPS, 1]]) {
  if (!Number.isInteger(v) || v < min) {
    console.error(`bench-api: ${name} wants an integer >= ${min}`);
    process.exit(2);
  }
}
if (DB !== undefined && !existsSync(DB)) {
  console.error(`bench-api: --db ${DB}: no such file`);
  process.exit(2);
}

for (const dist of [CATALOG_DIST, DIFF_DIST, API_DIST, CLI_DIST]) {
  if (!existsSync(dist)) {
    console.error(`bench-api: ${relative(ROOT, dist)} is missing; run \`npm run build\` (or \`npx tsc -b\`) first`);
    process.exit(1);
  }
}
warnIfStale('bench-api', ['libs/btf', 'libs/catalog', 'libs/diff', 'libs/http', 'apps/cli']);
const { openCatalog, BlobStore, listKernels } = await import(pathToFileURL(CATALOG_DIST).href);
const { diffKernels, fieldHistory } = await import(pathToFileURL(DIFF_DIST).href);


// ---------------------------------------------------------------------------------------------------------------
// In process.

function timeIt(fn, reps) {
  for (let i = 0; i < Math.min(5, reps); i++) fn();
  const times = [];
  let last;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    last = fn();
    times.push(performance.now() - t0);
  }
  return { median: quantile(times, 0.5), p99: quantile(times, 0.99), reps, last };
}

// ---------------------------------------------------------------------------------------------------------------
// Over HTTP.

function freePort() {
  return new Promise((resolveP, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolveP(port));
    });
  });
}

/** `btf-atlas serve` in a child process on 127.0.0.1:port; resolves once /healthz answers. */
async function startServer(dbPath, port) {
  const nodeArgs = CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${resolve(CPU_PROF)}`] : [];
  const child = spawn(process.execPath, [...nodeArgs, CLI_BIN, 'serve', '--port', String(port), '--host', '127.0.0.1', '--db', dbPath], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: LOG_LEVEL, BTF_ATLAS_ADMIN_TOKEN: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  let exited;
  child.once('exit', (code, signal) => {
    exited = { code, signal };
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`server exited (${exited.code ?? exited.signal}) before listening: ${stderr.trim()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`server did not answer /healthz within 30 s: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = () =>
    new Promise((resolveP) => {
      if (exited) return resolveP(exited);
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', (code, signal) => {
        clearTimeout(kill);
        resolveP({ code, signal });
      });
      child.kill('SIGTERM');
    });
  return { child, stop, stderr: () => stderr };
}

async function load(autocannon, url, duration, headers = {}) {
  const result = await autocannon({ url, connections: CONNECTIONS, pipelining: PIPELINING, duration, timeout: 10, headers });
  return {
    url,
    headers,
    duration,
    reqPerSec: result.requests.average,
    requests: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    bytesPerResponse: result.requests.total > 0 ? result.throughput.total / result.requests.total : NaN,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The mix.

/**
 * Puts the series' archives back into the catalog's blob store (dropped when the catalog was cached) as hard links
 * (a copy where links do not work): a kernel's archive is its source file, stored under its sha256.
 */
function restoreBlobs(dbPath, seriesDir, kernelsOfManifest) {
  const blobs = BlobStore.forCatalog(dbPath);
  let restored = 0;
  for (const k of kernelsOfManifest) {
    const file = join(seriesDir, `${k.kernel}.btf.tar.xz`);
    const sha = createHash('sha256').update(readFileSync(file)).digest('hex');
    if (blobs.has(sha)) continue;
    const to = blobs.pathOf(sha);
    mkdirSync(dirname(to), { recursive: true });
    try {
      linkSync(file, to);
    } catch {
      copyFileSync(file, to);
    }
    restored++;
  }
  return restored;
}

/** VmRSS and VmHWM (peak) of a process, in MiB, from /proc (undefined where there is no /proc). */
function rssOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/**
 * The mixed load: each request drawn at random by weight from the kinds below (same seed, same sequence), with
 * per-kind answer counts. Every kind is asked once first: a kind that does not answer 2xx is left out, and said.
 */
async function mixLoad(autocannon, base, kinds, duration) {
  const usable = [];
  for (const k of kinds) {
    if (k.weight === 0) {
      k.skipped = 'none in this catalog';
      continue;
    }
    const sample = k.make(0);
    const res = await fetch(`${base}${sample.path}`, { headers: sample.headers });
    await res.arrayBuffer();
    if (res.status >= 200 && res.status < 300) usable.push(k);
    else k.skipped = `GET ${sample.path} answered ${res.status}`;
  }
  const total = usable.reduce((a, k) => a + k.weight, 0);
  let seq = 0x9e3779b9;
  const rand = () => {
    seq = (Math.imul(seq ^ (seq >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return seq / 0x100000000;
  };
  const byKind = Object.fromEntries(kinds.map((k) => [k.name, { sent: 0, statuses: {} }]));
  let n = 0;
  const result = await autocannon({
    url: base,
    connections: CONNECTIONS,
    pipelining: 1,
    duration,
    timeout: 10,
    requests: [
      {
        setupRequest: (req, context) => {
          let x = rand() * total;
          let kind = usable[usable.length - 1];
          for (const k of usable) {
            if ((x -= k.weight) < 0) {
              kind = k;
              break;
            }
          }
          const r = kind.make(++n);
          context.kind = kind.name;
          byKind[kind.name].sent++;
          return { ...req, method: 'GET', path: r.path, headers: { ...GZIP, ...r.headers } };
        },
        onResponse: (status, _body, context) => {
          const s = byKind[context.kind].statuses;
          s[status] = (s[status] ?? 0) + 1;
        },
      },
    ],
  });
  return {
    duration,
    kinds: kinds.map((k) => ({ name: k.name, weight: k.weight, skipped: k.skipped, ...byKind[k.name] })),
    reqPerSec: result.requests.average,
    requests: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  };
}

// ---------------------------------------------------------------------------------------------------------------

const started = performance.now();
let dbPath;
let manifest;
let seriesDir;
let source;
if (DB !== undefined) {
  dbPath = resolve(DB);
  source = `--db ${dbPath}`;
} else {
  const c = await catalogFor(N, SERIES, { rebuild: REBUILD });
  dbPath = c.dbPath;
  manifest = c.manifest;
  seriesDir = c.series.dir;
  source = `synthetic series ${c.series.dir} (${c.series.how}); catalog ${c.dbPath} (${c.how})`;
}

const catalog = openCatalog(dbPath, { readonly: true });
const kernels = listKernels(catalog).map((k) => k.kernel);
if (kernels.length < 2) throw new Error(`${dbPath}: the catalog holds ${kernels.length} kernel(s); the diffs need 2`);
const moving = manifest ? changingField(manifest) : undefined;
const mid = Math.floor((kernels.length - 1) / 2);
const neighbours = [kernels[mid], kernels[mid + 1]];
const ends = [kernels[0], kernels[kernels.length - 1]];

console.log(`bench-api: ${kernels.length} kernels; ${source}`);
console.log(`node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} at start`);

const inproc = {};
inproc.fieldPt = timeIt(() => fieldHistory(catalog, FIELD), REPS);
if (inproc.fieldPt.last.kernels.length !== kernels.length) throw new Error(`fieldHistory(${FIELD}) listed ${inproc.fieldPt.last.kernels.length} kernels, not ${kernels.length}`);
if (moving) inproc.fieldMoving = timeIt(() => fieldHistory(catalog, moving.field), REPS);
inproc.diffNeighbours = timeIt(() => diffKernels(catalog, neighbours[0], neighbours[1]), REPS);
inproc.diffEnds = timeIt(() => diffKernels(catalog, ends[0], ends[1]), Math.max(10, Math.floor(REPS / 10)));
const fieldJsonBytes = Buffer.byteLength(JSON.stringify(inproc.fieldPt.last));
catalog.close();

let http;
if (!SKIP_HTTP) {
  const { default: autocannon } = await import('autocannon');
  const port = await freePort();
  const server = await startServer(dbPath, port);
  const base = `http://127.0.0.1:${port}`;
  try {
    // Check the answers once before loading (a 404 at full speed would be a meaningless figure).
    const fieldUrl = `${base}/v1/fields/${encodeURIComponent(FIELD)}`;
    const diffUrl = `${base}/v1/diff?from=${encodeURIComponent(neighbours[0])}&to=${encodeURIComponent(neighbours[1])}`;
    for (const url of [fieldUrl, diffUrl]) {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    }
    // A short warm-up (JIT, SQLite page cache), not counted.
    await autocannon({ url: fieldUrl, connections: CONNECTIONS, pipelining: PIPELINING, duration: 2, headers: GZIP });
    // The target run asks for gzip, as curl --compressed and Go's, Python's and browsers' HTTP clients do by default.
    console.log(`loading ${fieldUrl} (Accept-Encoding: gzip) for ${DURATION} s with ${CONNECTIONS} connections (pipelining ${PIPELINING}) ...`);
    const field = await load(autocannon, fieldUrl, DURATION, GZIP);
    const shortRun = Math.max(5, Math.round(DURATION / 3));
    console.log(`loading ${fieldUrl} (no Accept-Encoding: plain JSON) for ${shortRun} s ...`);
    const fieldPlain = await load(autocannon, fieldUrl, shortRun);
    console.log(`loading ${diffUrl} (Accept-Encoding: gzip) for ${shortRun} s ...`);
    const diff = await load(autocannon, diffUrl, shortRun, GZIP);
    http = { field, fieldPlain, diff };
    if (MIX_DURATION > 0) {
      if (manifest && seriesDir) {
        const restored = restoreBlobs(dbPath, seriesDir, manifest.kernels.slice(0, kernels.length));
        if (restored > 0) console.log(`restored ${restored} archives into the catalog's blob store (hard links of the series' files)`);
      }
      const pick = (xs, i) => xs[(Math.imul(i, 0x9e3779b1) >>> 0) % xs.length];
      const enc = encodeURIComponent;
      // Neighbour pairs (next in kernel order, same distro/release/arch): twenty spread over the catalog, so the
      // diffs are a mix of first-time and cached answers.
      const seriesOf = (k) => k.split('/').slice(0, 3).join('/');
      const allPairs = kernels.slice(1).map((k, i) => [kernels[i], k]).filter(([a, b]) => seriesOf(a) === seriesOf(b));
      const pairs = Array.from({ length: Math.min(20, allPairs.length) }, (_, i) => allPairs[Math.floor((i * allPairs.length) / Math.min(20, allPairs.length))]);
      const fields = [FIELD, 'task_struct.pid', moving?.field].filter(Boolean);
      const types = ['pt_regs', 'sk_buff', 'file', moving?.field.split('.')[0]].filter(Boolean);
      const historyTypes = ['pt_regs', moving?.field.split('.')[0]].filter(Boolean);
      const kinds = [
        { name: 'field history', weight: 30, make: (i) => ({ path: `/v1/fields/${enc(pick(fields, i))}` }) },
        { name: 'type in a kernel', weight: 25, make: (i) => ({ path: `/v1/types/${enc(pick(types, i))}?kernel=${enc(pick(kernels, i * 7 + 1))}` }) },
        { name: 'diff of neighbours', weight: pairs.length > 0 ? 10 : 0, make: (i) => { const [a, b] = pick(pairs, i); return { path: `/v1/diff?from=${enc(a)}&to=${enc(b)}` }; } },
        {
          name: 'archive Range',
          weight: 20,
          make: (i) => {
            const start = (Math.imul(i, 2654435761) >>> 0) % (256 * 1024);
            return { path: `/archive/${pick(kernels, i * 13 + 5)}.btf.tar.xz`, headers: { range: `bytes=${start}-${start + 65535}` } };
          },
        },
        { name: 'type history', weight: 15, make: (i) => ({ path: `/v1/types/${enc(pick(historyTypes, i))}/history` }) },
      ];
      const before = rssOf(server.child.pid);
      console.log(`loading a mix (${kinds.map((k) => `${k.name} ${k.weight}%`).join(', ')}) for ${MIX_DURATION} s with ${CONNECTIONS} connections ...`);
      const mix = await mixLoad(autocannon, base, kinds, MIX_DURATION);
      const after = rssOf(server.child.pid);
      http.mix = { ...mix, rssStartMiB: before?.rss, rssEndMiB: after?.rss, rssPeakMiB: after?.peak };
    }
  } finally {
    const exit = await server.stop();
    if (exit.code !== 0 && exit.code !== null) console.error(`bench-api: server exited with ${exit.code}: ${server.stderr().trim()}`);
    if (CPU_PROF) console.log(`server CPU profile written into ${resolve(CPU_PROF)}`);
  }
}

// The table.
const ok = (pass) => (pass ? 'ok' : 'MISSED');
const rows = [];
const row = (metric, value, target = '-', verdict = '') => rows.push([metric, value, target, verdict]);
row(`in process: fieldHistory ${FIELD}, median`, fmtMs(inproc.fieldPt.median));
row(`in process: fieldHistory ${FIELD}, p99`, fmtMs(inproc.fieldPt.p99));
if (inproc.fieldMoving) {
  row(`in process: fieldHistory ${moving.field} (moved ${moving.moves}x), median`, fmtMs(inproc.fieldMoving.median));
  row(`in process: fieldHistory ${moving.field}, p99`, fmtMs(inproc.fieldMoving.p99));
}
row('in process: diffKernels neighbours, median', fmtMs(inproc.diffNeighbours.median));
row('in process: diffKernels neighbours, p99', fmtMs(inproc.diffNeighbours.p99));
row('in process: diffKernels first..last, median', fmtMs(inproc.diffEnds.median));
row('in process: diffKernels first..last, p99', fmtMs(inproc.diffEnds.p99));
if (http) {
  const f = http.field;
  const d = http.diff;
  row(`HTTP field history: req/s (mean, ${f.duration} s)`, f.reqPerSec.toFixed(0), `>= ${TARGET.reqPerSec}`, ok(f.reqPerSec >= TARGET.reqPerSec));
  row('HTTP field history: latency p50', `${f.p50} ms`);
  row('HTTP field history: latency p99', `${f.p99} ms`, `<= ${TARGET.p99Ms} ms`, ok(f.p99 <= TARGET.p99Ms));
  row('HTTP field history: latency max', `${f.max} ms`);
  row('HTTP field history: errors (timeouts) / non-2xx', `${f.errors} (${f.timeouts}) / ${f.non2xx}`, '0 / 0', ok(f.errors === 0 && f.non2xx === 0));
  row('HTTP field history: bytes per response (gzip)', (f.bytesPerResponse / 1024).toFixed(1) + ' KB');
  const fp = http.fieldPlain;
  row(`HTTP field history, plain JSON: req/s (mean, ${fp.duration} s)`, fp.reqPerSec.toFixed(0));
  row('HTTP field history, plain JSON: latency p50 / p99 / max', `${fp.p50} / ${fp.p99} / ${fp.max} ms`);
  row('HTTP field history, plain JSON: errors / non-2xx', `${fp.errors} (${fp.timeouts}) / ${fp.non2xx}`, '0 / 0', ok(fp.errors === 0 && fp.non2xx === 0));
  row('HTTP field history, plain JSON: bytes per response', (fp.bytesPerResponse / 1024).toFixed(1) + ' KB');
  row(`HTTP diff neighbours: req/s (mean, ${d.duration} s)`, d.reqPerSec.toFixed(0));
  row('HTTP diff neighbours: latency p50 / p99 / max', `${d.p50} / ${d.p99} / ${d.max} ms`);
  row('HTTP diff neighbours: errors (timeouts) / non-2xx', `${d.errors} (${d.timeouts}) / ${d.non2xx}`, '0 / 0', ok(d.errors === 0 && d.non2xx === 0));
  const m = http.mix;
  if (m) {
    row(`HTTP mix: req/s (mean, ${m.duration} s, ${CONNECTIONS} connections)`, m.reqPerSec.toFixed(0));
    row('HTTP mix: latency p50 / p99 / max', `${m.p50} / ${m.p99} / ${m.max} ms`);
    row('HTTP mix: errors (timeouts) / non-2xx', `${m.errors} (${m.timeouts}) / ${m.non2xx}`, '0 / 0', ok(m.errors === 0 && m.non2xx === 0));
    const mb = (x) => (x === undefined || Number.isNaN(x) ? '-' : `${x.toFixed(0)} MiB`);
    row('HTTP mix: server RSS at start / end (peak)', `${mb(m.rssStartMiB)} / ${mb(m.rssEndMiB)} (${mb(m.rssPeakMiB)})`);
    for (const k of m.kinds) {
      const statuses = Object.entries(k.statuses).map(([st, n]) => `${st}: ${n}`).join(', ');
      row(`HTTP mix: ${k.name}`, k.skipped ? `left out (${k.skipped})` : `${k.sent} sent (${statuses})`);
    }
  }
}
const header = ['metric', `N = ${kernels.length}`, 'target', 'verdict'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
console.log(`\n${line(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n${rows.map(line).join('\n')}`);
console.log(`field history ${FIELD}: ${fieldJsonBytes} bytes of JSON over ${kernels.length} kernels; diffs: neighbours ${neighbours.join(' -> ')}, ends ${ends.join(' -> ')}`);
console.log(`node ${process.version}, ${availableParallelism()} CPUs; autocannon ${CONNECTIONS} connections, pipelining ${PIPELINING}, in this process; server LOG_LEVEL=${LOG_LEVEL}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} at end (other work on the machine skews the figures)`);
console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
if (JSON_OUT) {
  const strip = (t) => t && { median: t.median, p99: t.p99, reps: t.reps };
  writeFileSync(JSON_OUT, `${JSON.stringify({
    kernels: kernels.length, dbPath, node: process.version, cpus: availableParallelism(), connections: CONNECTIONS, pipelining: PIPELINING, logLevel: LOG_LEVEL,
    inProcess: { fieldPt: strip(inproc.fieldPt), fieldMoving: moving && { field: moving.field, ...strip(inproc.fieldMoving) }, diffNeighbours: strip(inproc.diffNeighbours), diffEnds: strip(inproc.diffEnds) },
    http, targets: TARGET,
  }, null, 1)}\n`);
}
