#!/usr/bin/env node
// Web explorer page benchmark (`npm run bench:explorer`; never part of `npm test`).
//
// Target: every page renders in <= 300 ms on a 1,000-kernel catalog. On the cached catalog of the synthetic
// patch-release series (the one `npm run bench:api` builds and keeps under the OS temp folder; built here when
// missing, about 15 minutes on 2 cores) or on --db FILE, it builds the API app in process (buildApp, as `btf-atlas
// serve` does) and times each page kind through fastify's inject: the server's whole render (the page's own calls
// of the JSON API, then the HTML), without the network. For each kind:
//   - cold: the first request of each of --cold distinct URLs (other fields, kernels, kernel pairs…), so neither
//     the answer cache nor SQLite's page cache has seen that question yet (the very first page of the process
//     also pays for JIT warm-up and is one of them);
//   - warm: --reps requests of one URL after a first one (the answer cache and page cache hold it);
// median and p90 of each, the HTML size, and pass/fail against the target (both p90s must be within it).
// Pages that do not exist yet (404 without HTML) are listed as missing, not timed.
//
// Imports the built libraries (libs/*/dist): run `npm run build` (or `npx tsc -b`) first.
// Options:
//   --kernels N   series size (default 1000)
//   --db FILE     benchmark this catalog instead (its kernels come from its list; names from a fixed list)
//   --cold C      distinct URLs per page kind for the cold figures (default 10)
//   --reps R      warm requests per page kind (default 30)
//   --only KINDS  comma-separated page kinds (default all; see the table for their names)
//   --json FILE   also write the figures as JSON
import { existsSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, DEFAULT_BASE, catalogFor, changingField, fmtMs, quantile, warnIfStale } from './lib/bench-common.mjs';

const API_DIST = join(ROOT, 'libs/http/dist/index.js');
const TARGET_MS = 300;

const args = process.argv.slice(2);
const KNOWN = new Set(['--kernels', '--db', '--cold', '--reps', '--only', '--json']);
for (const a of args) {
  if (a.startsWith('--') && !KNOWN.has(a)) {
    console.error(`bench-explorer: unknown option ${a} (options: ${[...KNOWN].join(', ')})`);
    process.exit(2);
  }
}
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const N = Number(opt('--kernels', 1000));
const DB = opt('--db', undefined);
const COLD = Number(opt('--cold', 10));
const REPS = Number(opt('--reps', 30));
const ONLY = opt('--only', undefined)?.split(',');
const JSON_OUT = opt('--json', undefined);
for (const [name, v, min] of [['--kernels', N, 2], ['--cold', COLD, 1], ['--reps', REPS, 1]]) {
  if (!Number.isInteger(v) || v < min) {
    console.error(`bench-explorer: ${name} wants an integer >= ${min}`);
    process.exit(2);
  }
}
if (DB !== undefined && !existsSync(DB)) {
  console.error(`bench-explorer: --db ${DB}: no such file`);
  process.exit(2);
}
if (!existsSync(API_DIST)) {
  console.error(`bench-explorer: ${relative(ROOT, API_DIST)} is missing; run \`npm run build\` (or \`npx tsc -b\`) first`);
  process.exit(1);
}
warnIfStale('bench-explorer', ['libs/btf', 'libs/catalog', 'libs/diff', 'libs/explorer', 'libs/http']);

const started = performance.now();
let dbPath;
let manifest;
let source;
if (DB !== undefined) {
  dbPath = resolve(DB);
  source = `--db ${dbPath}`;
} else {
  const c = await catalogFor(N, { base: DEFAULT_BASE, seed: 1, xzLevel: 0 });
  dbPath = c.dbPath;
  manifest = c.manifest;
  source = `synthetic series ${c.series.dir} (${c.series.how}); catalog ${c.dbPath} (${c.how})`;
}

const { buildApp } = await import(pathToFileURL(API_DIST).href);
const app = await buildApp({ dbPath, adminToken: undefined, logger: false });
await app.ready();

async function getJson(url) {
  const res = await app.inject({ method: 'GET', url, headers: { accept: 'application/json' } });
  if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${res.body.slice(0, 300)}`);
  return JSON.parse(res.body);
}

const rows0 = (await getJson('/v1/kernels')).kernels.filter((k) => k.state !== 'failed');
const kernels = rows0.map((k) => k.kernel);
// Diffs compare kernels of one series (distro, release, arch), as people do: neighbours, and the series' first
// kernel with later ones.
const series = new Map();
for (const k of rows0) {
  const key = `${k.distro}/${k.release}/${k.arch}`;
  series.set(key, [...(series.get(key) ?? []), k.kernel]);
}
const neighbourPairs = [...series.values()].flatMap((ks) => ks.slice(1).map((k, i) => [ks[i], k]));
const farPairs = [...series.values()].flatMap((ks) => ks.slice(2).map((k) => [ks[0], k]));
if (neighbourPairs.length === 0) throw new Error(`${dbPath}: no two kernels of one distro, release and arch; the diff pages need them`);
/** `count` items spread evenly over `list`. */
const spreadOf = (list, count) => [...new Set(Array.from({ length: count }, (_, i) => list[Math.floor((i * (list.length - 1)) / Math.max(1, count - 1))]))];
const seg = (s) => encodeURIComponent(s).replace(/%2B/g, '+');
const kernelPath = (kref) => kref.split('/').map(seg).join('/');
const spread = (count) => spreadOf(kernels, count);

// Names every 6.x x86_64 kernel has (the synthetic series is one real kernel patched); the series' moved members
// (with change points) first when its manifest is known.
const moved = [];
if (manifest) {
  const top = changingField(manifest);
  if (top) moved.push(top.field);
  for (const k of manifest.kernels) {
    for (const c of k.changes) {
      const field = c.member ? `${c.struct}.${c.member}` : undefined;
      if (field && !moved.includes(field)) moved.push(field);
    }
  }
}
const FIELDS = [...moved.slice(0, 5), 'pt_regs.di', 'task_struct.__state', 'sk_buff.len', 'task_struct.se.vruntime', 'inode.i_mode', 'file.f_pos', 'mm_struct.pgd', 'sock.sk_state', 'net_device.ifindex', 'bpf_map.max_entries'];
const STRUCTS = [...new Set([...moved.slice(0, 3).map((f) => f.split('.')[0]), 'task_struct', 'sk_buff', 'pt_regs', 'inode', 'file', 'mm_struct', 'sock', 'net_device', 'bpf_map', 'super_block'])];
const FUNCS = ['vfs_read', 'tcp_v4_connect', 'do_sys_openat2', 'schedule', 'kfree', 'ksys_write', 'tcp_rcv_established', 'security_file_open', 'inet_csk_accept', 'tcp_sendmsg'];
const ENUMS = ['bpf_map_type', 'bpf_prog_type', 'bpf_attach_type', 'bpf_func_id', 'tcp_ca_state', 'pid_type', 'migratetype', 'zone_type', 'node_states', 'lru_list'];
const TRACEPOINTS = ['sched_switch', 'sched_process_exec', 'sys_enter', 'sys_exit', 'hrtimer_start', 'kfree', 'kmalloc', 'netif_receive_skb', 'block_rq_issue', 'sched_wakeup'];
const SYSCALLS = ['openat', 'read', 'write', 'close', 'mmap', 'execve', 'clone', 'bpf', 'ioctl', 'connect'];
const SEARCHES = ['task_', 'pt_re', 'sk_buff', 'bpf_map', 'tcp_v4', 'sched_sw', 'kmalloc', 'vfs_', 'inode.i_', '6.1.0-5'];

const pick = (list) => (i) => list[i % list.length];
const diffHref = ([from, to]) => `/diff?from=${seg(from)}&to=${seg(to)}`;
const PAGES = [
  ['home', () => '/'],
  ['search', (i) => `/search?q=${seg(pick(SEARCHES)(i))}`],
  ['field history', (i) => `/fields/${seg(pick(FIELDS)(i))}`],
  ['type history', (i) => `/types/${seg(pick(STRUCTS)(i))}`],
  ['type in one kernel', (i) => `/types/${seg(pick(STRUCTS)(i))}?kernel=${seg(pick(spread(COLD))(i))}`],
  ['kernel list', () => '/kernels'],
  ['kernel', (i) => `/kernels/${kernelPath(pick(spread(COLD))(i))}`],
  ['diff of neighbours', (i) => diffHref(pick(spreadOf(neighbourPairs, COLD))(i))],
  ['diff far apart', (i) => diffHref(pick(spreadOf(farPairs.length > 0 ? farPairs : neighbourPairs, COLD))(i))],
  ['func history', (i) => `/funcs/${seg(pick(FUNCS)(i))}`],
  ['enum history', (i) => `/enums/${seg(pick(ENUMS)(i))}`],
  ['tracepoint history', (i) => `/tracepoints/${seg(pick(TRACEPOINTS)(i))}`],
  ['syscall history', (i) => `/syscalls/${seg(pick(SYSCALLS)(i))}`],
  ['lookup form', () => '/lookup'],
  ['CO-RE dry run', () => '/core'],
].filter(([kind]) => ONLY === undefined || ONLY.includes(kind));

/** One page request: milliseconds, status, bytes; `html` false when the answer is not a page (a route not written yet). */
async function render(url) {
  const t0 = performance.now();
  const res = await app.inject({ method: 'GET', url, headers: { accept: 'text/html' } });
  const ms = performance.now() - t0;
  return { ms, status: res.statusCode, bytes: res.rawPayload.length, html: /^text\/html/.test(String(res.headers['content-type'] ?? '')) };
}

console.log(`bench-explorer: ${kernels.length} kernels; ${source}`);
console.log(`node ${process.version}, ${availableParallelism()} CPUs, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} at start`);

const rows = [];
for (const [kind, urlOf] of PAGES) {
  const cold = [];
  const coldUrls = [];
  const statuses = new Map();
  const seen = new Set();
  let missing = false;
  let bytes = 0;
  for (let i = 0; i < COLD; i++) {
    const url = urlOf(i);
    if (seen.has(url)) break; // a page kind with one URL (home, kernel list, CO-RE) has one cold figure
    seen.add(url);
    const r = await render(url);
    if (!r.html && r.status === 404) {
      missing = true;
      break;
    }
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    cold.push(r.ms);
    coldUrls.push({ url, ms: r.ms, status: r.status });
    bytes = Math.max(bytes, r.bytes);
  }
  if (missing) {
    rows.push({ kind, url: urlOf(0), missing: true });
    console.log(`${kind}: ${urlOf(0)} answers 404 without a page (not written yet?)`);
    continue;
  }
  const warmUrl = urlOf(0);
  await render(warmUrl);
  const warm = [];
  for (let r = 0; r < REPS; r++) warm.push((await render(warmUrl)).ms);
  const row = {
    kind,
    url: warmUrl,
    statuses: Object.fromEntries(statuses),
    cold: { n: cold.length, median: quantile(cold, 0.5), p90: quantile(cold, 0.9), max: Math.max(...cold) },
    warm: { n: warm.length, median: quantile(warm, 0.5), p90: quantile(warm, 0.9) },
    bytes,
    slowest: coldUrls.reduce((a, b) => (b.ms > a.ms ? b : a)),
    coldUrls,
  };
  row.ok = row.cold.p90 <= TARGET_MS && row.warm.p90 <= TARGET_MS;
  rows.push(row);
  console.log(`${kind}: cold ${fmtMs(row.cold.median)} (p90 ${fmtMs(row.cold.p90)}, ${cold.length} URLs), warm ${fmtMs(row.warm.median)} (p90 ${fmtMs(row.warm.p90)}); slowest cold ${fmtMs(row.slowest.ms)} ${row.slowest.url}`);
}
await app.close();

const header = ['page', 'cold median', 'cold p90', 'warm median', 'warm p90', 'HTML', 'statuses', 'target', 'verdict'];
const table = rows.map((r) => r.missing
  ? [r.kind, '-', '-', '-', '-', '-', '404', `<= ${TARGET_MS} ms`, 'missing']
  : [
    r.kind, `${fmtMs(r.cold.median)} (${r.cold.n})`, fmtMs(r.cold.p90), fmtMs(r.warm.median), fmtMs(r.warm.p90),
    `${(r.bytes / 1024).toFixed(0)} KB`, Object.entries(r.statuses).map(([s, n]) => `${s}×${n}`).join(' '), `<= ${TARGET_MS} ms`, r.ok ? 'pass' : 'FAIL',
  ]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => String(r[i]).length)));
const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
console.log(`\n${line(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n${table.map(line).join('\n')}`);
console.log(`N = ${kernels.length} kernels; cold: first request of each distinct URL (count in brackets), warm: ${REPS} repeats of one URL; ` +
  `in process (inject), no network; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} at end (other work on the machine skews the figures)`);
console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
if (JSON_OUT) writeFileSync(JSON_OUT, `${JSON.stringify({ kernels: kernels.length, dbPath, node: process.version, targetMs: TARGET_MS, cold: COLD, reps: REPS, rows }, null, 1)}\n`);
const failed = rows.filter((r) => r.ok === false).map((r) => r.kind);
if (failed.length > 0) {
  console.error(`bench-explorer: over ${TARGET_MS} ms: ${failed.join(', ')}`);
  process.exitCode = 1;
}
