#!/usr/bin/env node
// Mutation fuzzing of every input parser (`npm run fuzz`; never part of `npm test`).
//
// Runs --inputs mutated inputs (default 1,000,000) made from real blobs by structure-aware mutations (see
// scripts/lib/fuzz-targets.mjs: raw BTF, split BTF on its base, gzip / xz / tar / ELF containers, .deb / .rpm /
// kernel images, BPF objects with .BTF and .BTF.ext) through decode, validate, vmlinux.h, normalize, extractBtf,
// readKernelPackage, readBpfObject and the CO-RE resolver against the real 6.1 kernel, and a real ingest
// (prepareKernel + writeKernel into a temp catalog) for a sample of them. It checks, per input:
//   - only typed errors (BtfError, PkgError, CoreError, CatalogError with a code, no last-resort wrapper);
//   - no operation over --bound-ms (default 100 ms) of CPU time (user + system of the process: the machine's other
//     work does not count, work the input causes on other threads does). An operation is one entry point run on
//     one input, as a user or the service runs it on its own: parse, decode, JSON dump, validate, vmlinux.h,
//     normalize, extract, package read, BPF object read, CO-RE resolution; a container's members are each parsed,
//     validated… apart. An input with an operation over it is run again, and fails only when it is slow twice (a GC
//     pause is counted apart). The whole input's CPU time (up to six entry points on each of 64 members) and the
//     longest wall time are reported beside it;
//   - peak RSS of each fuzzing process under --max-rss-mib (default 512);
//   - no hang (a process silent for 60 s is killed; the input it was on is reported).
// Work is split over --workers child processes (default 2), each a seeded slice of the case numbers. A crash is
// shrunk (greedy chunk removal, then zeroing, while the same failure persists) and saved with its description
// under --out (default: a new folder under the OS temp folder); copy it into the crashing package's test fixtures.
// Prints throughput, the slowest inputs (with the command that replays each), peak RSS and the failures; exits
// 1 when any check failed.
//
// Options:
//   --inputs N         inputs to run (default 1000000)
//   --seed S           base seed (default 1); case i's input depends only on (S, i)
//   --time-limit SEC   stop after SEC seconds (figures cover the inputs run)
//   --workers W        fuzzing processes (default 2)
//   --ingest-every K   one in K (on average) of the inputs of an ingestable target (a standalone kernel) also
//                      runs a real ingest (default 30: about 1% of all inputs; 0: never)
//   --bound-ms MS      per-input time bound (default 100)
//   --max-rss-mib MB   per-process RSS bound (default 512)
//   --out DIR          where crashers and the JSON summary go
//   --replay CASE      run case CASE (of --seed) in this process and print what it did; with --shrink, minimize it
//
// Imports the built libraries: `npm run fuzz` builds them first (tsc -b).
/* global setInterval, clearInterval */
import { fork } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from './lib/bench-common.mjs';
import { FuzzFailure, ingestCase, loadWorld, makeCase, runCase } from './lib/fuzz-targets.mjs';

const args = process.argv.slice(2);
const KNOWN = new Set(['--inputs', '--seed', '--time-limit', '--workers', '--ingest-every', '--bound-ms', '--max-rss-mib', '--out', '--replay', '--shrink', '--child', '--start', '--deadline']);
for (const a of args) {
  if (a.startsWith('--') && !KNOWN.has(a)) {
    console.error(`fuzz: unknown option ${a}`);
    process.exit(2);
  }
}
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const INPUTS = Number(opt('--inputs', 1_000_000));
const SEED = Number(opt('--seed', 1));
const TIME_LIMIT = Number(opt('--time-limit', 0));
const WORKERS = Number(opt('--workers', 2));
const INGEST_EVERY = Number(opt('--ingest-every', 30));
const BOUND_MS = Number(opt('--bound-ms', 100));
const MAX_RSS_MIB = Number(opt('--max-rss-mib', 512));
const REPLAY = opt('--replay', undefined);
for (const [name, v, min] of [['--inputs', INPUTS, 1], ['--seed', SEED, 0], ['--time-limit', TIME_LIMIT, 0], ['--workers', WORKERS, 1], ['--ingest-every', INGEST_EVERY, 0], ['--bound-ms', BOUND_MS, 1], ['--max-rss-mib', MAX_RSS_MIB, 16]]) {
  if (!Number.isInteger(v) || v < min) {
    console.error(`fuzz: ${name} wants an integer >= ${min}`);
    process.exit(2);
  }
}
for (const pkg of ['btf', 'pkg', 'core', 'catalog']) {
  if (!existsSync(join(ROOT, `libs/${pkg}/dist/index.js`))) {
    console.error(`fuzz: libs/${pkg}/dist is missing; run \`npm run build\` (or \`npx tsc -b\`) first`);
    process.exit(1);
  }
}

/** Case i's seed: a mix of the base seed and i (murmur3's finalizer), so neighbouring cases are unrelated. */
function caseSeed(seed, i) {
  let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const replayCmd = (i) => `node scripts/fuzz.mjs --seed ${SEED} --replay ${i}`;
const fmtN = (n) => n.toLocaleString('en-US');
const mib = (b) => Math.round(b / 1048576);

// ---------------------------------------------------------------------------------------------------------------
// Shrinking: greedy chunk removal, then zeroing, while the same failure (stage, class, message shape) persists.

async function shrink(w, target, bytes, rewrap, signature, budgetMs = 30_000) {
  const started = performance.now();
  const fails = async (b) => {
    try {
      await runCase(w, target, rewrap(b));
      return false;
    } catch (err) {
      return err instanceof FuzzFailure && err.signature === signature;
    }
  };
  let cur = bytes;
  let tries = 0;
  for (const op of ['remove', 'zero']) {
    for (let chunk = 2 ** Math.floor(Math.log2(Math.max(1, cur.length / 2))); chunk >= 1; chunk >>= 1) {
      for (let i = 0; i < cur.length; ) {
        if (performance.now() - started > budgetMs) return { bytes: cur, tries, complete: false };
        let cand;
        if (op === 'remove') {
          cand = new Uint8Array(cur.length - Math.min(chunk, cur.length - i));
          cand.set(cur.subarray(0, i));
          cand.set(cur.subarray(i + chunk), i);
        } else {
          if (cur.subarray(i, i + chunk).every((x) => x === 0)) {
            i += chunk;
            continue;
          }
          cand = new Uint8Array(cur);
          cand.fill(0, i, i + chunk);
        }
        tries++;
        if (await fails(cand)) cur = cand;
        else i += chunk;
      }
    }
  }
  return { bytes: cur, tries, complete: true };
}

// ---------------------------------------------------------------------------------------------------------------
// One case, timed.

async function timedCase(w, i) {
  const c = makeCase(w, caseSeed(SEED, i));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let outcome;
  let failure;
  try {
    outcome = await runCase(w, c.target, c.bytes);
  } catch (err) {
    failure = err;
  }
  const cpu = process.cpuUsage(cpu0);
  // The longest single operation (what the bound applies to), and the whole input's CPU time.
  const longest = outcome?.longest ?? { stage: '-', ms: 0 };
  return { c, ms: (cpu.user + cpu.system) / 1000, opMs: longest.ms, opStage: longest.stage, wallMs: performance.now() - t0, outcome, failure };
}

/** The innermost cause of an error (where the untyped error was thrown). */
function innermost(err) {
  let e = err;
  for (let depth = 0; e?.cause !== undefined && depth < 8; depth++) e = e.cause;
  return e;
}

function failureRecord(i, c, err, extra = {}) {
  return {
    case: i,
    seed: SEED,
    kind: err instanceof FuzzFailure ? 'crash' : 'harness',
    target: c.target.name,
    entry: c.target.entry,
    steps: c.steps,
    stage: err?.stage,
    error: err instanceof FuzzFailure ? err.message : `${err?.name}: ${err?.message}`,
    stack: innermost(err)?.stack?.split('\n').slice(0, 8).join('\n'),
    replay: replayCmd(i),
    ...extra,
  };
}

async function saveCrasher(w, out, i, c, err) {
  const dir = join(out, 'crashers');
  mkdirSync(dir, { recursive: true });
  // Shrink the layer the case mutated, wrapped back up each time; then the whole input, byte by byte.
  const inner = await shrink(w, c.target, c.layerBytes, c.rewrap, err.signature, 20_000);
  const s = await shrink(w, c.target, c.rewrap(inner.bytes), (b) => b, err.signature, 20_000);
  s.tries += inner.tries;
  const slug = c.target.name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();
  const file = join(dir, `${slug}-case${i}.bin`);
  writeFileSync(file, s.bytes);
  writeFileSync(`${file}.json`, `${JSON.stringify({ ...failureRecord(i, c, err), file: c.target.file, bytes: c.bytes.length, minimized: s.bytes.length, shrinkTries: s.tries, shrinkComplete: s.complete }, null, 1)}\n`);
  return { file, minimized: s.bytes.length };
}

// ---------------------------------------------------------------------------------------------------------------
// A fuzzing process: cases start, start + W, start + 2W, … below --inputs, until the deadline.

async function child() {
  const [k, W] = opt('--child').split('/').map(Number);
  const start = Number(opt('--start', k));
  const deadline = Number(opt('--deadline', 0));
  const out = opt('--out');
  const w = await loadWorld(ROOT);
  const status = openSync(join(out, `status-${k}`), 'w');
  const statusBuf = Buffer.alloc(16);
  const sinkDir = mkdtempSync(join(tmpdir(), 'btf-atlas-fuzz-catalog-'));
  const sink = { catalog: w.catalog.openCatalog(join(sinkDir, 'catalog.db')), blobs: w.catalog.BlobStore.forCatalog(join(sinkDir, 'catalog.db')) };
  const st = {
    k, done: 0, ms: 0, wallMs: 0, wallMax: { ms: 0 }, slowest: [], transientSlow: 0, rssPeak: process.memoryUsage.rss(), rssRises: [], failures: [], outcomes: {}, entries: {},
    ingests: 0, ingestsWritten: 0, ingestMaxMs: 0, ingestOutcomes: {},
  };
  const keepSlowest = (rec) => {
    st.slowest.push(rec);
    st.slowest.sort((a, b) => b.ms - a.ms);
    st.slowest.length = Math.min(st.slowest.length, 5);
  };
  let lastSend = Date.now();
  const send = (final) => {
    process.send({ type: final ? 'final' : 'progress', st });
    lastSend = Date.now();
  };
  let ingestN = 0;
  for (let i = start; i < INPUTS; i += W) {
    if (deadline && Date.now() > deadline) break;
    statusBuf.writeDoubleLE(i, 0);
    writeSync(status, statusBuf, 0, 8, 0);
    let r = await timedCase(w, i);
    if (r.opMs > BOUND_MS && !r.failure) {
      // Once more: a slow input is slow every time; a busy machine is not.
      const again = await timedCase(w, i);
      if (again.opMs <= BOUND_MS) st.transientSlow++;
      r = again.opMs < r.opMs ? again : r;
    }
    if (!st.slowestOp || r.opMs > st.slowestOp.ms) st.slowestOp = { case: i, ms: r.opMs, stage: r.opStage, target: r.c.target.name };
    st.done++;
    st.ms += r.ms;
    st.wallMs += r.wallMs;
    if (r.wallMs > st.wallMax.ms) st.wallMax = { case: i, ms: r.wallMs, target: r.c.target.name };
    st.entries[r.c.target.entry] = (st.entries[r.c.target.entry] ?? 0) + 1;
    if (st.slowest.length < 5 || r.ms > st.slowest[st.slowest.length - 1].ms) keepSlowest({ case: i, ms: r.ms, target: r.c.target.name, steps: r.c.steps.join('; ') });
    if (r.failure) {
      const rec = failureRecord(i, r.c, r.failure);
      // Shrink and save the first two inputs of each distinct failure (the rest are counted, with their replay).
      const same = st.failures.filter((f) => f.signature === r.failure.signature).length;
      if (r.failure instanceof FuzzFailure && same < 2) Object.assign(rec, await saveCrasher(w, out, i, r.c, r.failure));
      rec.signature = r.failure.signature;
      st.failures.push(rec);
    } else {
      for (const o of r.outcome) st.outcomes[o] = (st.outcomes[o] ?? 0) + 1;
      if (r.opMs > BOUND_MS) st.failures.push({ case: i, seed: SEED, kind: 'slow', ms: Math.round(r.opMs), stage: r.opStage, target: r.c.target.name, steps: r.c.steps, replay: replayCmd(i) });
    }
    if (INGEST_EVERY > 0 && r.c.target.ingest && caseSeed(SEED + 1, i) % INGEST_EVERY === 0 && !r.failure) {
      // The real ingest, into this process's temp catalog (unique KREF per input).
      const n = `${k}${ingestN++}`;
      const cpu0 = process.cpuUsage();
      try {
        const o = await ingestCase(w, sink, r.c.target, r.c.bytes, n);
        const cpu = process.cpuUsage(cpu0);
        const ms = (cpu.user + cpu.system) / 1000;
        st.ingests++;
        if (o.includes('write:ok')) st.ingestsWritten++;
        for (const x of o) st.ingestOutcomes[x] = (st.ingestOutcomes[x] ?? 0) + 1;
        st.ingestMaxMs = Math.max(st.ingestMaxMs, ms);
        if (ms > BOUND_MS) keepSlowest({ case: i, ms, target: `${r.c.target.name} (ingest)`, steps: r.c.steps.join('; ') });
      } catch (err) {
        st.failures.push({ ...failureRecord(i, r.c, err), kind: 'ingest crash' });
      }
    }
    if ((st.done & 15) === 0 || r.ms > 20) {
      const rss = process.memoryUsage.rss();
      // Where the peak rose by 16 MiB or more: the inputs that make the process keep memory.
      if (rss > st.rssPeak + 16 * 1048576) {
        const m = process.memoryUsage();
        st.rssRises.push({ case: i, target: r.c.target.name, from: mib(st.rssPeak), to: mib(rss), heap: mib(m.heapTotal), external: mib(m.external) });
        if (st.rssRises.length > 12) st.rssRises.shift();
      }
      st.rssPeak = Math.max(st.rssPeak, rss);
    }
    if (Date.now() - lastSend > 1000) send(false);
  }
  // The ingest sink must be a sound catalog holding every kernel written.
  const integrity = sink.catalog.sqlite.pragma('integrity_check', { simple: true });
  const kernels = sink.catalog.sqlite.prepare('SELECT count(*) AS n FROM kernels').get().n;
  st.catalog = { integrity, kernels };
  if (integrity !== 'ok') st.failures.push({ kind: 'catalog', error: `integrity_check: ${integrity}` });
  if (kernels !== st.ingestsWritten) st.failures.push({ kind: 'catalog', error: `the ingest catalog holds ${kernels} kernels, ${st.ingestsWritten} were written` });
  sink.catalog.close();
  rmSync(sinkDir, { recursive: true, force: true });
  closeSync(status);
  send(true);
}

// ---------------------------------------------------------------------------------------------------------------
// Replay of one case.

async function replay() {
  const i = Number(REPLAY);
  const w = await loadWorld(ROOT);
  const r = await timedCase(w, i);
  console.log(`case ${i} (seed ${SEED}): ${r.c.target.name}, ${r.c.bytes.length} bytes\n  ${r.c.steps.join('\n  ')}`);
  console.log(`${r.ms.toFixed(1)} ms in all; longest operation: ${r.opStage} ${r.opMs.toFixed(1)} ms`);
  if (!r.failure) {
    console.log(`outcomes: ${r.outcome.join(' ')}`);
    return;
  }
  console.log(`FAILED: ${r.failure.message}\n${innermost(r.failure)?.stack}`);
  if (args.includes('--shrink') && r.failure instanceof FuzzFailure) {
    const out = opt('--out', mkdtempSync(join(tmpdir(), 'btf-atlas-fuzz-')));
    const saved = await saveCrasher(w, out, i, r.c, r.failure);
    console.log(`minimized to ${saved.minimized} bytes: ${saved.file}`);
  }
  process.exitCode = 1;
}

// ---------------------------------------------------------------------------------------------------------------
// The coordinator.

async function main() {
  const out = opt('--out', mkdtempSync(join(tmpdir(), 'btf-atlas-fuzz-')));
  mkdirSync(out, { recursive: true });
  const started = Date.now();
  const deadline = TIME_LIMIT > 0 ? started + TIME_LIMIT * 1000 : 0;
  console.log(`fuzz: ${fmtN(INPUTS)} inputs, seed ${SEED}, ${WORKERS} processes, bound ${BOUND_MS} ms and ${MAX_RSS_MIB} MiB RSS${TIME_LIMIT ? `, time limit ${TIME_LIMIT} s` : ''}; output in ${out}`);
  const self = fileURLToPath(import.meta.url);
  const finals = [];
  const hangs = [];
  const live = new Map();
  const spawnChild = (k, start) =>
    new Promise((resolveP) => {
      const passArgs = ['--inputs', INPUTS, '--seed', SEED, '--workers', WORKERS, '--ingest-every', INGEST_EVERY, '--bound-ms', BOUND_MS, '--max-rss-mib', MAX_RSS_MIB].map(String);
      const cp = fork(self, ['--child', `${k}/${WORKERS}`, '--start', String(start), '--deadline', String(deadline), '--out', out, ...passArgs], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const entry = { cp, st: undefined, last: Date.now() };
      live.set(k, entry);
      cp.on('message', (m) => {
        entry.st = m.st;
        entry.last = Date.now();
        if (m.type === 'final') finals.push(m.st);
      });
      cp.on('exit', async (code, signal) => {
        live.delete(k);
        if (finals.some((f) => f.k === k && f === entry.st)) return resolveP();
        // Killed as hung, or died: the case it was on comes from its status file; go on after it.
        let at = NaN;
        try {
          at = readFileSync(join(out, `status-${k}`)).readDoubleLE(0);
        } catch {
          // no status yet
        }
        hangs.push({ kind: entry.hung ? 'hang' : 'died', case: at, seed: SEED, error: entry.hung ? 'no progress for 60 s' : `exit ${code ?? signal}`, replay: replayCmd(at), st: entry.st });
        if (Number.isFinite(at) && at + WORKERS < INPUTS && hangs.length < 10) await spawnChild(k, at + WORKERS);
        resolveP();
      });
    });
  const watchdog = setInterval(() => {
    let done = 0;
    let rss = 0;
    for (const [, e] of live) {
      if (Date.now() - e.last > 60_000 && !e.hung) {
        e.hung = true;
        e.cp.kill('SIGKILL');
      }
    }
    for (const e of [...live.values()].map((x) => x.st).filter(Boolean).concat(finals)) {
      done += e.done;
      rss = Math.max(rss, e.rssPeak);
    }
    const secs = (Date.now() - started) / 1000;
    console.log(`[fuzz ${secs.toFixed(0)} s] ${fmtN(done)} inputs, ${fmtN(Math.round(done / secs))}/s, peak RSS ${mib(rss)} MiB, failures ${[...live.values()].concat(finals.map((st) => ({ st }))).reduce((a, e) => a + (e.st?.failures.length ?? 0), 0) + hangs.length}`);
  }, 15_000);
  await Promise.all(Array.from({ length: WORKERS }, (_, k) => spawnChild(k, k)));
  clearInterval(watchdog);

  // Children restarted after a hang report only their own slice; the dead ones' progress is in the hang records.
  const all = [...finals, ...hangs.map((h) => h.st).filter(Boolean)];
  const secs = (Date.now() - started) / 1000;
  const sum = (f) => all.reduce((a, s) => a + f(s), 0);
  const done = sum((s) => s.done);
  const failures = [...all.flatMap((s) => s.failures), ...hangs.map(({ st: _st, ...h }) => h)];
  const slowest = all.flatMap((s) => s.slowest).sort((a, b) => b.ms - a.ms).slice(0, 5);
  const rssPeak = Math.max(0, ...all.map((s) => s.rssPeak));
  if (rssPeak > MAX_RSS_MIB * 1048576) failures.push({ kind: 'rss', error: `peak RSS ${mib(rssPeak)} MiB over ${MAX_RSS_MIB} MiB` });
  const merge = (key) => {
    const m = {};
    for (const s of all) for (const [o, n] of Object.entries(s[key])) m[o] = (m[o] ?? 0) + n;
    return m;
  };
  const outcomes = merge('outcomes');
  const entries = merge('entries');
  const ingestOutcomes = merge('ingestOutcomes');

  console.log(`\nfuzz: ${fmtN(done)} inputs in ${secs.toFixed(0)} s: ${fmtN(Math.round(done / secs))} inputs/s over ${WORKERS} processes (${availableParallelism()} CPUs, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} at end)`);
  console.log(`by entry point: ${Object.entries(entries).map(([e, n]) => `${e} ${fmtN(n)}`).join(', ')}`);
  // How deep the mutants got: per stage, how many passed it and how many it refused (top codes).
  const stages = {};
  for (const [o, n] of Object.entries(outcomes)) {
    const [stage, code] = o.split(':');
    const s = (stages[stage] ??= { ok: 0, refused: 0, codes: {} });
    if (code === 'ok') s.ok += n;
    else {
      s.refused += n;
      s.codes[code] = (s.codes[code] ?? 0) + n;
    }
  }
  for (const [stage, s] of Object.entries(stages)) {
    const top = Object.entries(s.codes).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([c, n]) => `${c} ${fmtN(n)}`).join(', ');
    console.log(`  ${stage.padEnd(10)} ok ${fmtN(s.ok).padStart(9)}   typed errors ${fmtN(s.refused).padStart(9)}${top ? ` (${top})` : ''}`);
  }
  const ingests = sum((s) => s.ingests);
  console.log(`real ingests (prepareKernel + writeKernel into a temp catalog): ${fmtN(ingests)} (${fmtN(sum((s) => s.ingestsWritten))} written, the rest refused with typed errors: ${Object.entries(ingestOutcomes).filter(([o]) => !o.endsWith(':ok')).map(([o, n]) => `${o} ${n}`).join(', ') || 'none'}); slowest ${Math.max(0, ...all.map((s) => s.ingestMaxMs)).toFixed(0)} ms CPU; catalogs: ${all.filter((s) => s.catalog).map((s) => `integrity_check ${s.catalog.integrity}, ${s.catalog.kernels} kernels`).join('; ')}`);
  const wallMax = all.map((s) => s.wallMax).sort((a, b) => b.ms - a.ms)[0] ?? { ms: 0 };
  console.log(`CPU time per input: mean ${(sum((s) => s.ms) / Math.max(1, done)).toFixed(2)} ms; over ${BOUND_MS} ms once but not when run again: ${sum((s) => s.transientSlow)}; wall time per input: mean ${(sum((s) => s.wallMs) / Math.max(1, done)).toFixed(2)} ms, longest ${wallMax.ms.toFixed(0)} ms (case ${wallMax.case}, ${wallMax.target}; wall time includes waiting for a CPU on a shared machine)`);
  const op = all.map((s) => s.slowestOp).filter(Boolean).sort((a, b) => b.ms - a.ms)[0];
  if (op) console.log(`longest operation (the bound's measure): ${op.stage} ${op.ms.toFixed(1)} ms CPU, case ${op.case} (${op.target}); replay: ${replayCmd(op.case)}`);
  console.log('slowest inputs by CPU time, every operation of the input together (the lower of two runs when over the bound):');
  for (const s of slowest) console.log(`  ${s.ms.toFixed(1)} ms  case ${s.case}  ${s.target}  [${s.steps.slice(0, 160)}]  replay: ${replayCmd(s.case)}`);
  console.log(`peak RSS: ${all.map((s) => `${mib(s.rssPeak)} MiB`).join(', ')} (bound ${MAX_RSS_MIB} MiB per process)`);
  for (const s of all) {
    if (s.rssRises?.length) console.log(`  process ${s.k}: peak rose at ${s.rssRises.map((x) => `case ${x.case} (${x.target}) ${x.from}→${x.to} MiB [V8 heap ${x.heap}, external ${x.external}]`).join('; ')}`);
  }
  if (failures.length === 0) console.log('failures: none');
  else {
    console.log(`FAILURES: ${failures.length}`);
    const bySignature = new Map();
    for (const f of failures) bySignature.set(f.signature ?? f.kind, (bySignature.get(f.signature ?? f.kind) ?? 0) + 1);
    console.log(`distinct: ${[...bySignature].map(([sig, n]) => `${n} x ${sig}`).join('\n          ')}`);
    for (const f of failures.filter((x) => x.file || !x.signature).slice(0, 30)) console.log(`  [${f.kind}] case ${f.case ?? '-'} ${f.target ?? ''}: ${f.error ?? `${f.stage ?? ''} ${f.ms} ms`}${f.file ? `\n    minimized to ${f.minimized} bytes: ${f.file}` : ''}${f.replay ? `\n    replay: ${f.replay}` : ''}`);
  }
  writeFileSync(join(out, 'summary.json'), `${JSON.stringify({ inputs: done, seconds: secs, perSecond: done / secs, seed: SEED, entries, stages, ingests, slowest, rssPeak: all.map((s) => s.rssPeak), failures }, null, 1)}\n`);
  console.log(`summary: ${join(out, 'summary.json')}`);
  if (failures.length > 0) process.exitCode = 1;
}

if (args.includes('--child')) await child();
else if (REPLAY !== undefined) await replay();
else await main();
