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
// and prints each figure against its target (>= 5,000 req/s for field history with p99 <= 20 ms, zero errors).
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
//   --json FILE        also write the figures as JSON
/* global fetch */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, changingField, fmtMs, quantile, seriesFor, seriesKey, warnIfStale } from './lib/bench-common.mjs';

const CATALOG_DIST = join(ROOT, 'libs/catalog/dist/index.js');
const DIFF_DIST = join(ROOT, 'libs/diff/dist/index.js');
const API_DIST = join(ROOT, 'libs/http/dist/index.js');
const CLI_BIN = join(ROOT, 'apps/cli/bin/btf-atlas.js');
const CLI_DIST = join(ROOT, 'apps/cli/dist/main.js');
const BASE = join(ROOT, 'fixtures/corpus/archive/debian/12/x86_64/6.1.0-50-amd64.btf.tar.xz');
/** Shared with scripts/bench-ingest.mjs: the same series folders (same key), generated once. */
const CATALOG_CACHE = join(tmpdir(), 'btf-atlas-bench-api');
const XZ_LEVEL = 0;
const FIELD = 'pt_regs.di';

const TARGET = { reqPerSec: 5000, p99Ms: 20, errors: 0 };
const GZIP = { 'accept-encoding': 'gzip' };

const args = process.argv.slice(2);
const KNOWN = new Set(['--kernels', '--db', '--seed', '--duration', '--connections', '--pipelining', '--reps', '--log-level', '--cpu-prof', '--skip-http', '--rebuild', '--json']);
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
const SERIES = { base: BASE, seed: SEED, xzLevel: XZ_LEVEL };
for (const [name, v, min] of [['--kernels', N, 2], ['--duration', DURATION, 1], ['--connections', CONNECTIONS, 1], ['--pipelining', PIPELINING, 1], ['--reps', REPS, 1]]) {
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
const { openCatalog, BlobStore, scanPath, jobDataOf, processIngest, fieldHistory, listKernels } = await import(pathToFileURL(CATALOG_DIST).href);
const { diffKernels } = await import(pathToFileURL(DIFF_DIST).href);


// ---------------------------------------------------------------------------------------------------------------
// The series (as scripts/bench-ingest.mjs keeps it) and the catalog built from it.

/** A hash of the migrations folder: a catalog built under another schema is not reused. */
function migrationsKey() {
  const h = createHash('sha256');
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else h.update(relative(ROOT, p)).update(readFileSync(p));
    }
  };
  walk(join(ROOT, 'migrations'));
  return h.digest('hex').slice(0, 8);
}

/** The cached catalog of the first n kernels of the series (built in process when missing). */
async function catalogFor(n) {
  const series = await seriesFor(n, SERIES);
  const manifest = JSON.parse(readFileSync(join(series.dir, 'manifest.json'), 'utf8'));
  const dir = join(CATALOG_CACHE, `catalog-${seriesKey(SERIES)}-m${migrationsKey()}-n${n}`);
  const dbPath = join(dir, 'catalog.db');
  if (!REBUILD && existsSync(join(dir, '.complete'))) return { dbPath, manifest, series, how: 'cached' };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const items = scanPath(series.dir);
  const num = (it) => Number(/^6\.1\.0-(\d+)-/.exec(it.kref.unameR)?.[1] ?? NaN);
  items.sort((a, b) => num(a) - num(b));
  if (items.length !== n) throw new Error(`${series.dir}: expected ${n} kernels, found ${items.length}`);
  console.log(`building a ${n}-kernel catalog at ${dbPath} from ${series.dir} (${series.how}) ...`);
  const catalog = openCatalog(dbPath);
  const blobs = BlobStore.forCatalog(dbPath);
  const started = performance.now();
  for (let i = 0; i < items.length; i++) {
    const result = await processIngest(jobDataOf(items[i]), { catalog, blobs });
    if (result.status !== 'ingested') throw new Error(`${result.kernel}: ${result.status}`);
    if ((i + 1) % 50 === 0 || i + 1 === items.length) {
      process.stderr.write(`\r  ingested ${i + 1}/${n} (${((performance.now() - started) / 1000).toFixed(0)} s so far)`);
    }
  }
  process.stderr.write('\n');
  catalog.sqlite.pragma('wal_checkpoint(TRUNCATE)');
  catalog.close();
  // The archives the catalog keeps are not read by the routes benchmarked here: drop them (they are large).
  rmSync(blobs.dir, { recursive: true, force: true });
  writeFileSync(join(dir, '.complete'), '');
  return { dbPath, manifest, series, how: `built in ${((performance.now() - started) / 1000).toFixed(0)} s` };
}

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

const started = performance.now();
let dbPath;
let manifest;
let source;
if (DB !== undefined) {
  dbPath = resolve(DB);
  source = `--db ${dbPath}`;
} else {
  const c = await catalogFor(N);
  dbPath = c.dbPath;
  manifest = c.manifest;
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
