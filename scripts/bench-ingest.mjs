#!/usr/bin/env node
// Ingest benchmark for libs/catalog (`npm run bench:ingest`; never part of `npm test`).
//
// For each series size N (default 200 and 1000) it takes a synthetic btfhub-style series of N patch-release
// kernels made by scripts/make-synthetic-archive.mjs from a real corpus blob (cached under the OS temp folder,
// reused across runs), ingests it kernel by kernel into a fresh catalog in a temp folder IN PROCESS
// (scanPath + jobDataOf + processIngest, as `btf-atlas ingest` does without REDIS_URL, minus process start-up),
// and prints against the targets:
//   - ingest time per kernel (from tar.xz, or raw BTF with --format btf): first kernel, then median / p90 / max
//     of the others, with phases; for raw BTF also the tarball its derive job builds after the commit
//     (buildBtfTarXz alone, timed after the series on up to 20 of its kernels; not part of the ingest time);
//   - catalog bytes per additional kernel: (size after N - size after kernel 1) / (N - 1), the SQLite file plus
//     its -wal after PRAGMA wal_checkpoint(TRUNCATE), and where they go (dbstat, per table and index);
//   - blob-store bytes per kernel (the original archives the catalog keeps; not "catalog");
//   - in-process fieldHistory() over all N kernels (in a fresh worker thread, so the ingest heap's garbage
//     collection is not charged to it), median / p99 of --reps calls, for `pt_regs.di` (unchanged in
//     the series), for `task_struct.pid` (a big struct) and for a member the series moves (the struct changed
//     most often).
//
// Imports the built libraries (libs/*/dist): run `npm run build` (or `npx tsc -b`) first.
// Options:
//   --sizes 200,1000  series sizes (e.g. --sizes 20 for a quick run)
//   --seed S          series seed (default 1)
//   --base FILE       base kernel for the series (default: the generator's, debian 6.1.0-50-amd64)
//   --xz-level L      xz preset of the generated archives (default 0)
//   --format F        tar.xz (default: btfhub tarballs, served as ingested) or btf (raw UNAME_R.btf files: the
//                     kernel's reproducible .btf.tar.xz is then its derive job's, after the commit: timed apart)
//   --reps R          fieldHistory calls per field (default 200)
//   --regen           regenerate the series even when cached
//   --keep            keep the catalogs (their paths are printed)
//   --json FILE       also write the figures as JSON
// Profile with: node --cpu-prof --cpu-prof-dir=prof scripts/bench-ingest.mjs --sizes 20
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_BASE, ROOT, SERIES_CACHE, changingField, fmtMs, quantile, seriesFor, seriesKey, warnIfStale } from './lib/bench-common.mjs';
import { Worker } from 'node:worker_threads';

const CATALOG_DIST = join(ROOT, 'libs/catalog/dist/index.js');
const DIFF_DIST = join(ROOT, 'libs/diff/dist/index.js');
const BTF_DIST = join(ROOT, 'libs/btf/dist/index.js');

/** A member of a big struct, timed too (pt_regs is small). */
const BIG_FIELD = 'task_struct.pid';

const TARGET = { ingestMs: 1500, catalogBytesPerKernel: 200 * 1024, fieldMedianMs: 5 };

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const SIZES = String(opt('--sizes', '200,1000')).split(',').map(Number);
const SEED = Number(opt('--seed', 1));
const BASE = opt('--base', DEFAULT_BASE);
const XZ_LEVEL = Number(opt('--xz-level', 0));
const FORMAT = opt('--format', 'tar.xz');
const REPS = Number(opt('--reps', 200));
const REGEN = args.includes('--regen');
const KEEP = args.includes('--keep');
const JSON_OUT = opt('--json', undefined);
if (FORMAT !== 'tar.xz' && FORMAT !== 'btf') {
  console.error('bench-ingest: --format is tar.xz or btf');
  process.exit(2);
}
if (SIZES.some((n) => !Number.isInteger(n) || n < 2)) {
  console.error('bench-ingest: --sizes wants integers >= 2, e.g. --sizes 200,1000');
  process.exit(2);
}

for (const dist of [CATALOG_DIST, DIFF_DIST, BTF_DIST]) {
  if (!existsSync(dist)) {
    console.error(`bench-ingest: ${relative(ROOT, dist)} is missing; run \`npm run build\` (or \`npx tsc -b\`) first`);
    process.exit(1);
  }
}
warnIfStale('bench-ingest', ['libs/btf', 'libs/catalog']);
const { openCatalog, BlobStore, scanPath, jobDataOf, processIngest, buildBtfTarXz } = await import(pathToFileURL(CATALOG_DIST).href);

/** A series of raw `UNAME_R.btf` files (--format btf), cached beside the tar.xz ones (same BTF for the same key). */
async function rawSeriesFor(n) {
  const dir = join(SERIES_CACHE, `${seriesKey({ base: BASE, seed: SEED, xzLevel: 0 })}-btf-n${n}`);
  const done = join(dir, '.complete');
  if (!REGEN && existsSync(done)) return { dir, how: 'cached' };
  rmSync(dir, { recursive: true, force: true });
  const { main: makeSeries } = await import(pathToFileURL(join(ROOT, 'scripts/make-synthetic-archive.mjs')).href);
  const { seconds } = await makeSeries(['--out', dir, '--count', String(n), '--base', BASE, '--seed', String(SEED), '--format', 'btf', '--quiet']);
  writeFileSync(done, '');
  return { dir, how: `generated in ${seconds.toFixed(1)} s` };
}

/** buildBtfTarXz alone on up to 20 kernels of the series, evenly spread (ms each). */
async function tarballTimings(items) {
  const step = Math.max(1, Math.floor(items.length / 20));
  const times = [];
  for (let i = 0; i < items.length && times.length < 20; i += step) {
    const bytes = readFileSync(items[i].path);
    const t0 = performance.now();
    await buildBtfTarXz(items[i].kref.unameR, bytes);
    times.push(performance.now() - t0);
  }
  return times;
}

const fmtKb = (b) => `${(b / 1024).toFixed(1)} KB`;

function dirBytes(dir) {
  let n = 0;
  if (!existsSync(dir)) return 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

function catalogBytes(catalog) {
  catalog.sqlite.pragma('wal_checkpoint(TRUNCATE)');
  const wal = `${catalog.path}-wal`;
  return statSync(catalog.path).size + (existsSync(wal) ? statSync(wal).size : 0);
}

function dbstat(catalog) {
  try {
    const rows = catalog.sqlite.prepare('SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name').all();
    return new Map(rows.map((r) => [r.name, r.bytes]));
  } catch {
    return undefined;
  }
}

/** Times fieldHistory() of each field in a worker thread on the closed catalog (median / p99 of `reps` calls). */
function fieldTimings(dbPath, fields, reps) {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
      const { openCatalog } = await import(workerData.dist);
      const { fieldHistory } = await import(workerData.diff);
      const catalog = openCatalog(workerData.dbPath, { readonly: true });
      const q = (xs, p) => { const s = [...xs].sort((a, b) => a - b); const i = (s.length - 1) * p; const lo = Math.floor(i); const hi = Math.ceil(i); return s[lo] + (s[hi] - s[lo]) * (i - lo); };
      const out = {};
      for (const f of workerData.fields) {
        for (let i = 0; i < 5; i++) fieldHistory(catalog, f);
        const times = [];
        for (let i = 0; i < workerData.reps; i++) {
          const t0 = performance.now();
          fieldHistory(catalog, f);
          times.push(performance.now() - t0);
        }
        const r = fieldHistory(catalog, f);
        out[f] = { median: q(times, 0.5), p99: q(times, 0.99), kernels: r.kernels.length, changes: r.changes.length };
      }
      catalog.close();
      parentPort.postMessage(out);
    })().catch((err) => { throw err; });`;
  return new Promise((resolveP, reject) => {
    const w = new Worker(code, { eval: true, workerData: { dist: pathToFileURL(CATALOG_DIST).href, diff: pathToFileURL(DIFF_DIST).href, dbPath, fields, reps } });
    w.once('message', resolveP);
    w.once('error', reject);
    w.once('exit', (c) => c !== 0 && reject(new Error(`field timing worker exited with ${c}`)));
  });
}

async function runSeries(n) {
  const series = FORMAT === 'btf' ? await rawSeriesFor(n) : await seriesFor(n, { base: BASE, seed: SEED, xzLevel: XZ_LEVEL, regen: REGEN });
  const manifest = JSON.parse(readFileSync(join(series.dir, 'manifest.json'), 'utf8'));
  const items = scanPath(series.dir);
  const num = (it) => Number(/^6\.1\.0-(\d+)-/.exec(it.kref.unameR)?.[1] ?? NaN);
  items.sort((a, b) => num(a) - num(b));
  if (items.length !== n) throw new Error(`${series.dir}: expected ${n} kernels, found ${items.length}`);
  const work = mkdtempSync(join(tmpdir(), 'btf-atlas-bench-cat-'));
  const dbPath = join(work, 'catalog.db');
  const catalog = openCatalog(dbPath);
  const blobs = BlobStore.forCatalog(dbPath);
  console.log(`\nN = ${n}: series ${series.dir} (${series.how}); catalog ${dbPath}`);

  const totals = [];
  const phases = { read: [], unpack: [], decode: [], modules: [], group: [], write: [] };
  let first;
  let afterFirst;
  let statFirst;
  let newShapes = 0;
  let newSets = 0;
  const started = performance.now();
  for (let i = 0; i < items.length; i++) {
    const marks = [];
    const t0 = performance.now();
    const result = await processIngest(jobDataOf(items[i]), {
      catalog,
      blobs,
      onProgress: (_f, phase) => marks.push([phase, performance.now()]),
    });
    const t1 = performance.now();
    if (result.status !== 'ingested') throw new Error(`${result.kernel}: ${result.status}`);
    const at = (p) => marks.find((m) => m[0] === p)?.[1];
    const span = { read: at('unpack') - t0, unpack: at('decode') - at('unpack'), decode: at('normalize') - at('decode'), modules: at('group') - at('normalize'), group: at('write') - at('group'), write: t1 - at('write') };
    if (i === 0) {
      first = { total: t1 - t0, ...span, shapes: result.shapes };
      afterFirst = catalogBytes(catalog);
      statFirst = dbstat(catalog);
    } else {
      totals.push(t1 - t0);
      for (const k of Object.keys(phases)) phases[k].push(span[k]);
      newShapes += result.newShapes;
      newSets += result.newSets;
    }
    if ((i + 1) % 50 === 0 || i + 1 === items.length) {
      process.stderr.write(`\r  ingested ${i + 1}/${n} (last ${(t1 - t0).toFixed(0)} ms, ${((performance.now() - started) / 1000).toFixed(0)} s so far)`);
    }
  }
  process.stderr.write('\n');
  const afterAll = catalogBytes(catalog);
  const statAll = dbstat(catalog);
  const blobBytes = dirBytes(blobs.dir);
  const tarball = FORMAT === 'btf' ? await tarballTimings(items) : undefined;

  const moving = changingField(manifest);
  const perKernel = (afterAll - afterFirst) / (n - 1);
  const byName = [];
  if (statFirst && statAll) {
    for (const [name, bytes] of statAll) byName.push({ name, bytes, perKernel: (bytes - (statFirst.get(name) ?? 0)) / (n - 1) });
    byName.sort((a, b) => b.perKernel - a.perKernel);
  }
  catalog.close();
  // Field histories are timed in a fresh worker thread (its own heap): after N ingests this process's heap is
  // large, and its garbage collection would be charged to the queries.
  const fields = ['pt_regs.di', BIG_FIELD, ...(moving ? [moving.field] : [])];
  const timed = await fieldTimings(dbPath, fields, REPS);
  for (const f of fields) {
    if (timed[f].kernels !== n) throw new Error(`fieldHistory(${f}) listed ${timed[f].kernels} kernels, not ${n}`);
  }
  const pt = timed['pt_regs.di'];
  const big = timed[BIG_FIELD];
  const mv = moving ? timed[moving.field] : undefined;
  if (!KEEP) rmSync(work, { recursive: true, force: true });
  const med = (xs) => quantile(xs, 0.5);
  return {
    n,
    seriesDir: series.dir,
    catalog: KEEP ? dbPath : undefined,
    wallSeconds: (performance.now() - started) / 1000,
    first,
    format: FORMAT,
    ingest: { median: med(totals), p90: quantile(totals, 0.9), max: Math.max(...totals), phasesMedian: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, med(v)])) },
    tarballMs: tarball ? { median: med(tarball), max: Math.max(...tarball), kernels: tarball.length } : undefined,
    newShapesPerKernel: newShapes / (n - 1),
    newSetsPerKernel: newSets / (n - 1),
    bytes: { afterFirst, afterAll, perKernel, byName, blobBytes, blobPerKernel: blobBytes / n },
    field: {
      ptRegsDi: pt,
      big: { field: BIG_FIELD, ...big },
      moving: moving ? { field: moving.field, ...mv } : undefined,
    },
  };
}

const results = [];
for (const n of SIZES) results.push(await runSeries(n));

// The table.
const ok = (pass) => (pass ? 'ok' : 'MISSED');
const rows = [];
const row = (metric, cells, target, verdicts) => rows.push([metric, ...cells, target, verdicts.join(' ')]);
row('ingest, first kernel (empty catalog)', results.map((r) => fmtMs(r.first.total)), '-', []);
row('ingest per new kernel, median', results.map((r) => fmtMs(r.ingest.median)), `<= ${TARGET.ingestMs} ms`, results.map((r) => ok(r.ingest.median <= TARGET.ingestMs)));
row('ingest per new kernel, p90', results.map((r) => fmtMs(r.ingest.p90)), `<= ${TARGET.ingestMs} ms`, results.map((r) => ok(r.ingest.p90 <= TARGET.ingestMs)));
row('ingest per new kernel, max', results.map((r) => fmtMs(r.ingest.max)), '-', []);
for (const p of ['read', 'unpack', 'decode', 'modules', 'group', 'write']) {
  const label = { read: 'read + unchanged check', unpack: FORMAT === 'btf' ? 'read raw btf' : 'unxz + untar', decode: 'parse + validate + normalize', modules: 'modules', group: FORMAT === 'btf' ? 'group + hash' : 'group + hash', write: 'write transaction + blob' }[p];
  row(`  phase: ${label}, median`, results.map((r) => fmtMs(r.ingest.phasesMedian[p])), '-', []);
}
if (FORMAT === 'btf') {
  row('derive job: tarball .btf.tar.xz, after commit, median', results.map((r) => fmtMs(r.tarballMs.median)), '-', []);
  row('derive job: tarball .btf.tar.xz, after commit, max', results.map((r) => fmtMs(r.tarballMs.max)), '-', []);
}
row('new shapes / new sets per kernel', results.map((r) => `${r.newShapesPerKernel.toFixed(1)} / ${r.newSetsPerKernel.toFixed(1)}`), '-', []);
row('catalog after kernel 1 / after N', results.map((r) => `${(r.bytes.afterFirst / 1e6).toFixed(1)} / ${(r.bytes.afterAll / 1e6).toFixed(1)} MB`), '-', []);
row('catalog bytes per additional kernel', results.map((r) => fmtKb(r.bytes.perKernel)), `<= ${TARGET.catalogBytesPerKernel / 1024} KB`, results.map((r) => ok(r.bytes.perKernel <= TARGET.catalogBytesPerKernel)));
row('blob store bytes per kernel (archives)', results.map((r) => fmtKb(r.bytes.blobPerKernel)), '(not catalog)', []);
row('fieldHistory pt_regs.di, median', results.map((r) => fmtMs(r.field.ptRegsDi.median)), `<= ${TARGET.fieldMedianMs} ms`, results.map((r) => ok(r.field.ptRegsDi.median <= TARGET.fieldMedianMs)));
row('fieldHistory pt_regs.di, p99', results.map((r) => fmtMs(r.field.ptRegsDi.p99)), '-', []);
row(`fieldHistory ${BIG_FIELD}, median`, results.map((r) => fmtMs(r.field.big.median)), `<= ${TARGET.fieldMedianMs} ms`, results.map((r) => ok(r.field.big.median <= TARGET.fieldMedianMs)));
row(`fieldHistory ${BIG_FIELD}, p99`, results.map((r) => fmtMs(r.field.big.p99)), '-', []);
row('fieldHistory of a moving member, median', results.map((r) => (r.field.moving ? fmtMs(r.field.moving.median) : '-')), `<= ${TARGET.fieldMedianMs} ms`, results.map((r) => (r.field.moving ? ok(r.field.moving.median <= TARGET.fieldMedianMs) : '-')));
row('fieldHistory of a moving member, p99', results.map((r) => (r.field.moving ? fmtMs(r.field.moving.p99) : '-')), '-', []);
const header = ['metric', ...results.map((r) => `N = ${r.n}`), 'target', 'verdict'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
console.log(`\n${line(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n${rows.map(line).join('\n')}`);
for (const r of results) {
  if (r.field.moving) console.log(`N = ${r.n}: moving member ${r.field.moving.field} (${r.field.moving.changes} changes in its history; pt_regs.di: ${r.field.ptRegsDi.changes})`);
  if (r.bytes.byName.length) {
    console.log(`N = ${r.n}: catalog bytes per additional kernel by table/index (dbstat): ${r.bytes.byName.filter((x) => x.perKernel !== 0).map((x) => `${x.name} ${fmtKb(x.perKernel)}`).join(', ')}`);
  }
  console.log(`N = ${r.n}: ingest of the whole series took ${r.wallSeconds.toFixed(0)} s${r.catalog ? `; catalog kept at ${r.catalog}` : ''}`);
}
if (JSON_OUT) writeFileSync(JSON_OUT, `${JSON.stringify(results, null, 1)}\n`);
