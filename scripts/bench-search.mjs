#!/usr/bin/env node
// Search and kind-history benchmark (`npm run bench:search`; never part of `npm test`).
//
// On a catalog of N kernels (default 1000) it measures, in process and warm (one call first, then --reps calls;
// median and p99 of each):
//   - searchNames() for prefixes that fill a page from the `names` index alone (the prefix lookup: target <= 2 ms),
//     and, apart, texts whose page needs the fuzzy pass (closestNames over every name; no target);
//   - funcHistory() over all N kernels (target <= 5 ms), and the tracepoint, syscall and enumerator histories.
//
// The catalog is made quickly rather than ingested: the corpus kernels (fixtures/corpus, with their modules) are
// decoded and normalized once (prepareKernel), then written N times round-robin under KREFs of one series each
// (writeKernel), each write after the first changing a few func shapes of a few buckets (a new body, so a new
// shape and shape set) so that kernels do not all share one set per bucket, as a real archive's patch releases
// do not. --db FILE benchmarks an existing catalog instead (its names are taken as they come).
//
// Imports the built libraries (libs/*/dist): run `npm run build` (or `npx tsc -b`) first.
// Options:
//   --kernels N     catalog size (default 1000)
//   --reps R        calls per query (default 200)
//   --churn C       buckets changed per written kernel (default 24)
//   --db FILE       benchmark this catalog instead of building one
//   --keep          keep the built catalog (its path is printed)
//   --json FILE     also write the figures as JSON
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, fmtMs, quantile, warnIfStale } from './lib/bench-common.mjs';

const CATALOG_DIST = join(ROOT, 'libs/catalog/dist/index.js');
const DIFF_DIST = join(ROOT, 'libs/diff/dist/index.js');
const TARGET = { prefixMs: 2, funcHistoryMs: 5 };

const args = process.argv.slice(2);
const KNOWN = new Set(['--kernels', '--reps', '--churn', '--db', '--keep', '--json']);
for (const a of args) {
  if (a.startsWith('--') && !KNOWN.has(a)) {
    console.error(`bench-search: unknown option ${a} (options: ${[...KNOWN].join(', ')})`);
    process.exit(2);
  }
}
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const N = Number(opt('--kernels', 1000));
const REPS = Number(opt('--reps', 200));
const CHURN = Number(opt('--churn', 24));
const DB = opt('--db', undefined);
const KEEP = args.includes('--keep');
const JSON_OUT = opt('--json', undefined);
for (const [name, v, min] of [['--kernels', N, 1], ['--reps', REPS, 1], ['--churn', CHURN, 0]]) {
  if (!Number.isInteger(v) || v < min) {
    console.error(`bench-search: ${name} wants an integer >= ${min}`);
    process.exit(2);
  }
}
if (DB !== undefined && !existsSync(DB)) {
  console.error(`bench-search: --db ${DB}: no such file`);
  process.exit(2);
}
if (!existsSync(CATALOG_DIST)) {
  console.error(`bench-search: ${relative(ROOT, CATALOG_DIST)} is missing; run \`npm run build\` (or \`npx tsc -b\`) first`);
  process.exit(1);
}
warnIfStale('bench-search', ['libs/btf', 'libs/catalog']);
const C = await import(pathToFileURL(CATALOG_DIST).href);
const D = await import(pathToFileURL(DIFF_DIST).href);

/** The corpus kernels with their modules, decoded and normalized once. */
async function preparedCorpus() {
  const corpus = join(ROOT, 'fixtures/corpus');
  const manifest = JSON.parse(readFileSync(join(corpus, 'manifest.json'), 'utf8'));
  const out = [];
  for (const k of manifest.kernels) {
    const started = performance.now();
    out.push(await C.prepareKernel({
      kref: { distro: k.distro, release: k.release, arch: k.arch, unameR: k.kernel_release },
      file: { source: k.archive, bytes: readFileSync(join(corpus, k.archive)) },
      modules: k.modules.map((m) => ({ name: m.name, source: m.path, bytes: readFileSync(join(corpus, m.path)) })),
    }));
    console.log(`prepared ${k.distro}/${k.release}/${k.arch}/${k.kernel_release} in ${Math.round(performance.now() - started)} ms`);
  }
  return out;
}

/**
 * Kernel i of the built catalog: corpus kernel i mod 4 under a KREF of its own series (`6.1.0-<i>-amd64`…), with
 * `CHURN` buckets of its sets changed: one func shape of each gets a body of its own (kernel i's parameter name).
 */
function variant(base, i) {
  const { distro, release, arch, unameR } = base.kref;
  const flavour = unameR.slice(unameR.lastIndexOf('-') + 1);
  const kref = { distro, release, arch, unameR: `${/^\d+\.\d+/.exec(unameR)[0]}.0-${1000 + i}-${flavour}` };
  if (i < 4 || CHURN === 0) return { ...base, kref };
  const buckets = base.buckets.slice();
  for (let c = 0; c < CHURN; c++) {
    const b = (i * 7919 + c * 104729) % buckets.length;
    const { entries } = buckets[b];
    const at = entries.findIndex((e) => e.shape.kind === 'func' && e.shape.body.includes('"params":[["'));
    if (at < 0) continue;
    const old = entries[at].shape;
    const body = old.body.replace('"params":[["', `"params":[["k${i}_`);
    const hash = createHash('sha256').update(`func\0${old.name}\0${old.size}\0${body}`).digest().subarray(0, 16);
    const copy = entries.slice();
    copy[at] = { ...entries[at], shape: { ...old, body, hash } };
    buckets[b] = { entries: copy, hash: createHash('sha256').update(`bench\0${i}\0${b}`).digest().subarray(0, 16) };
  }
  return { ...base, kref, buckets };
}

async function buildCatalog() {
  const dir = mkdtempSync(join(tmpdir(), 'btf-atlas-bench-search-'));
  const dbPath = join(dir, 'catalog.db');
  const catalog = C.openCatalog(dbPath);
  const blobs = C.BlobStore.forCatalog(dbPath);
  const corpus = await preparedCorpus();
  const started = performance.now();
  for (let i = 0; i < N; i++) {
    C.writeKernel(catalog, blobs, variant(corpus[i % corpus.length], i));
    if ((i + 1) % 100 === 0) process.stdout.write(`\r  wrote ${i + 1}/${N} kernels (${Math.round((performance.now() - started) / 1000)} s)`);
  }
  process.stdout.write('\n');
  return { dir, dbPath, catalog };
}

function time(fn) {
  fn();
  const xs = [];
  for (let r = 0; r < REPS; r++) {
    const t = performance.now();
    fn();
    xs.push(performance.now() - t);
  }
  return { median: quantile(xs, 0.5), p99: quantile(xs, 0.99) };
}

const built = DB ? { dir: undefined, dbPath: DB, catalog: C.openCatalog(DB, { readonly: true }) } : await buildCatalog();
const catalog = built.catalog;
const kernels = C.listKernels(catalog).length;
console.log(`catalog ${built.dbPath}: ${kernels} kernels, ${catalog.sqlite.prepare('SELECT count(*) FROM shapes').pluck().get()} shapes, ` +
  `${catalog.sqlite.prepare('SELECT count(*) FROM names').pluck().get()} names`);

const rows = [];
const add = (what, r, target) => rows.push({ what, ...r, target, ok: target === undefined ? undefined : r.median <= target });

for (const q of ['bpf_map', 'task_', 'sched_sw', 'tcp_v4', 'BPF_MAP_TYPE_', 'kmalloc', 'x']) {
  const s = C.searchNames(catalog, q);
  if (s.results.some((r) => r.match === 'fuzzy')) continue;
  add(`searchNames "${q}" (prefix, ${s.results.length} results)`, time(() => C.searchNames(catalog, q)), TARGET.prefixMs);
}
for (const q of ['sched_swtich', 'tcp_v4_conect']) add(`searchNames "${q}" (fuzzy fill)`, time(() => C.searchNames(catalog, q)));
for (const [label, fn] of [
  ['funcHistory vfs_read', () => D.funcHistory(catalog, 'vfs_read')],
  ['funcHistory tcp_v4_connect', () => D.funcHistory(catalog, 'tcp_v4_connect')],
]) add(`${label} (${kernels} kernels)`, time(fn), TARGET.funcHistoryMs);
for (const [label, fn] of [
  ['tracepointHistory sched_switch', () => D.tracepointHistory(catalog, 'sched_switch')],
  ['syscallHistory openat', () => D.syscallHistory(catalog, 'openat')],
  ['enumeratorHistory BPF_MAP_TYPE_ARRAY', () => D.enumeratorHistory(catalog, 'BPF_MAP_TYPE_ARRAY')],
  ['fieldHistory pt_regs.di (for scale)', () => D.fieldHistory(catalog, 'pt_regs.di')],
]) add(`${label} (${kernels} kernels)`, time(fn));

const w = Math.max(...rows.map((r) => r.what.length));
console.log(`\n| ${'query'.padEnd(w)} | median   | p99      | target  | verdict |`);
console.log(`|${'-'.repeat(w + 2)}|----------|----------|---------|---------|`);
for (const r of rows) {
  const verdict = r.ok === undefined ? '' : r.ok ? 'ok' : 'MISSED';
  console.log(`| ${r.what.padEnd(w)} | ${fmtMs(r.median).padEnd(8)} | ${fmtMs(r.p99).padEnd(8)} | ${(r.target === undefined ? '-' : `<= ${r.target} ms`).padEnd(7)} | ${verdict.padEnd(7)} |`);
}
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ kernels, reps: REPS, rows }, null, 1));
catalog.close();
if (built.dir && !KEEP) rmSync(built.dir, { recursive: true, force: true });
else if (built.dir) console.log(`catalog kept at ${built.dbPath}`);
