#!/usr/bin/env node
// Chaos run of the queue (`npm run chaos`; never part of `npm test`).
//
// 100 kernels (the fixture kernels of fixtures/corpus/archive plus synthetic patch releases of
// scripts/make-synthetic-archive.mjs, cached as the benchmarks cache them) are ingested through BullMQ by --workers
// `apps/worker` processes on a Redis of this run's own (redis-server on a free port, AOF on and fsync'd on every
// write as docker-compose.yml runs it, in a temp folder, so it can be killed without touching anyone's Redis),
// into a temp catalog, while this script:
//   - SIGKILLs a worker with its sandbox children (its process group) or only a sandbox child, at random moments
//     (--kills times spread over the run by the jobs done, half of them while a job is running), restarting killed
//     workers at once;
//   - once, when about 40% of the jobs are done, SIGKILLs Redis and restarts it on the same files.
// Then it checks: every job completed exactly once (completed = N, none failed or left over, each kernel's job
// once), no kernel twice in the catalog, `PRAGMA integrity_check` ok, no failure recorded, and every answer equal
// to a clean catalog's built in process from the same inputs (scanPath + jobDataOf + processIngest, as
// `btf-atlas ingest` without REDIS_URL): the kernel list, field histories, type layouts in sampled kernels, type
// histories and table row counts. Prints the figures; exits 1 when a check fails.
//
// Options:
//   --kernels N     kernels to ingest (default 100: 4 fixture kernels + N - 4 synthetic)
//   --workers W     worker processes (default 2)
//   --kills K       SIGKILLs (default 20)
//   --seed S        seed of the kill schedule (default 1)
//   --timeout SEC   give up after SEC seconds of chaos (default 900)
//   --rebuild       rebuild the cached clean catalog
//   --keep          keep the temp folder (catalogs, Redis files, worker logs)
//
// Imports the built libraries: `npm run chaos` builds them first (tsc -b).
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { ROOT, changingField, seriesFor } from './lib/bench-common.mjs';

const args = process.argv.slice(2);
const KNOWN = new Set(['--kernels', '--workers', '--kills', '--seed', '--timeout', '--rebuild', '--keep']);
for (const a of args) {
  if (a.startsWith('--') && !KNOWN.has(a)) {
    console.error(`chaos: unknown option ${a}`);
    process.exit(2);
  }
}
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const N = Number(opt('--kernels', 100));
const WORKERS = Number(opt('--workers', 2));
const KILLS = Number(opt('--kills', 20));
const SEED = Number(opt('--seed', 1));
const TIMEOUT_S = Number(opt('--timeout', 900));
const REBUILD = args.includes('--rebuild');
const KEEP = args.includes('--keep');
for (const [name, v, min] of [['--kernels', N, 5], ['--workers', WORKERS, 1], ['--kills', KILLS, 0], ['--seed', SEED, 0], ['--timeout', TIMEOUT_S, 10]]) {
  if (!Number.isInteger(v) || v < min) {
    console.error(`chaos: ${name} wants an integer >= ${min}`);
    process.exit(2);
  }
}
for (const dist of ['libs/catalog/dist/index.js', 'libs/queue/dist/index.js', 'apps/worker/dist/main.js']) {
  if (!existsSync(join(ROOT, dist))) {
    console.error(`chaos: ${dist} is missing; run \`npm run build\` (or \`npx tsc -b\`) first`);
    process.exit(1);
  }
}
if (spawnSync('redis-server', ['--version']).status !== 0) {
  console.error('chaos: redis-server is not installed (apt-get install redis-server): the run starts a Redis of its own');
  process.exit(1);
}

const catalogLib = await import('@btf-atlas/catalog');
const { openCatalog, BlobStore, scanPath, jobDataOf, processIngest, listKernels, listKernelStates, typeLayout, listFailures } = catalogLib;
const { fieldHistory, typeHistory } = await import('@btf-atlas/diff');
const { createIngestQueue, pingRedis } = await import('@btf-atlas/queue');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** mulberry32: the kill schedule replays with the same --seed (what the machine does in between does not). */
let rngState = SEED >>> 0;
const rnd = () => {
  let t = (rngState = (rngState + 0x6d2b79f5) >>> 0);
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 0x100000000;
};
const started = Date.now();
const secs = () => ((Date.now() - started) / 1000).toFixed(0);
const log = (msg) => console.log(`[chaos ${secs()} s] ${msg}`);

// ---------------------------------------------------------------------------------------------------------------
// Inputs: the fixture kernels (with their module folders) and synthetic patch releases, in one archive tree.

const FIXTURES = join(ROOT, 'fixtures/corpus/archive');
function fixtureFiles(dir = FIXTURES) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...fixtureFiles(p));
    else out.push(p);
  }
  return out;
}
const fixtureKernels = scanPath(FIXTURES).length;
const series = await seriesFor(N - fixtureKernels, {});
const manifest = JSON.parse(readFileSync(join(series.dir, 'manifest.json'), 'utf8'));

const work = mkdtempSync(join(tmpdir(), 'btf-atlas-chaos-'));
const tree = join(work, 'archive');
const place = (from, rel) => {
  const to = join(tree, rel);
  mkdirSync(dirname(to), { recursive: true });
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
};
for (const f of fixtureFiles()) place(f, relative(FIXTURES, f));
for (const k of manifest.kernels) place(join(series.dir, `${k.kernel}.btf.tar.xz`), `${k.kernel}.btf.tar.xz`);
const items = scanPath(tree);
if (items.length !== N) throw new Error(`${tree}: expected ${N} kernels, found ${items.length}`);
const moving = changingField(manifest);
console.log(`chaos: ${N} kernels (${fixtureKernels} fixture kernels, ${N - fixtureKernels} synthetic from ${series.dir}, ${series.how}), ${WORKERS} workers, ${KILLS} kills, seed ${SEED}; work folder ${work}`);

// ---------------------------------------------------------------------------------------------------------------
// The clean catalog: in-process ingest of the same items (cached per input set and schema).

function inputsKey() {
  const h = createHash('sha256');
  for (const it of items) {
    h.update(it.source).update(String(statSync(it.path).size));
    for (const m of it.modules) h.update(m.source).update(String(statSync(m.path).size));
  }
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else h.update(relative(ROOT, p)).update(readFileSync(p));
    }
  };
  walk(join(ROOT, 'migrations'));
  return h.digest('hex').slice(0, 12);
}

async function cleanCatalog() {
  const dir = join(tmpdir(), 'btf-atlas-chaos-clean', `clean-${inputsKey()}`);
  const dbPath = join(dir, 'catalog.db');
  if (!REBUILD && existsSync(join(dir, '.complete'))) return { dbPath, how: 'cached' };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const t0 = Date.now();
  const catalog = openCatalog(dbPath);
  const blobs = BlobStore.forCatalog(dbPath);
  for (const [i, it] of items.entries()) {
    const r = await processIngest(jobDataOf(it), { catalog, blobs });
    if (r.status !== 'ingested') throw new Error(`clean catalog: ${r.kernel}: ${r.status}`);
    if ((i + 1) % 20 === 0) log(`clean catalog: ${i + 1}/${N} ingested in process`);
  }
  catalog.close();
  writeFileSync(join(dir, '.complete'), '');
  return { dbPath, how: `built in process in ${((Date.now() - t0) / 1000).toFixed(0)} s` };
}

const clean = await cleanCatalog();
log(`clean catalog ${clean.dbPath} (${clean.how})`);

// ---------------------------------------------------------------------------------------------------------------
// Redis of our own.

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

const redisPort = await freePort();
const redisUrl = `redis://127.0.0.1:${redisPort}`;
const redisDir = join(work, 'redis');
mkdirSync(redisDir);
let redis;
async function startRedis() {
  redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', redisDir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], { stdio: 'ignore' });
  const until = Date.now() + 15_000;
  for (;;) {
    try {
      await pingRedis(redisUrl, 500);
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await sleep(50);
    }
  }
}
function killRedis() {
  const r = redis;
  return new Promise((resolveP) => {
    if (r.exitCode !== null || r.signalCode !== null) return resolveP();
    r.once('exit', resolveP);
    r.kill('SIGKILL');
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Workers: `apps/worker` in its own process group (SIGKILL of the group takes its sandbox children along).

const dbPath = join(work, 'chaos.db');
const prefix = `chaos-${randomUUID()}`;
const workers = new Array(WORKERS);
let workerStarts = 0;
function startWorker(slot) {
  workerStarts++;
  const logFile = join(work, `worker-${slot}-${workerStarts}.log`);
  const child = spawn(process.execPath, [join(ROOT, 'apps/worker/dist/main.js')], {
    env: { ...process.env, REDIS_URL: redisUrl, BTF_ATLAS_DB: dbPath, BTF_ATLAS_QUEUE_PREFIX: prefix, BTF_ATLAS_WORKER_LOCK_MS: '2000', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const w = { slot, child, log: () => out, logFile, exited: new Promise((r) => child.once('exit', r)) };
  child.once('exit', () => writeFileSync(logFile, out));
  workers[slot] = w;
  return w;
}
/** Pids in a worker's process group other than the worker itself: its sandbox child and job processes. */
function groupChildren(pgid) {
  const r = spawnSync('ps', ['-o', 'pid=', '-g', String(pgid)], { encoding: 'utf8' });
  return r.stdout.split('\n').map((x) => Number(x.trim())).filter((p) => p > 0 && p !== pgid);
}
function killGroup(w) {
  try {
    process.kill(-w.child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The run.

const failures = [];
const check = (ok, what) => {
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};

await startRedis();
for (let s = 0; s < WORKERS; s++) startWorker(s);
const queue = createIngestQueue({ redisUrl, prefix });
queue.on('error', () => undefined);
const added = await queue.addBulk(items.map((it) => ({ name: 'ingest', data: jobDataOf(it) })));
const jobIds = added.map((j) => j.id);
log(`${jobIds.length} jobs queued on ${redisUrl} (prefix ${prefix})`);

const counts = async () => {
  try {
    return await queue.getJobCounts('completed', 'failed', 'active', 'waiting', 'delayed', 'prioritized', 'waiting-children', 'paused');
  } catch {
    return undefined;
  }
};
let kills = 0;
let groupKills = 0;
let childKills = 0;
let killsWhileActive = 0;
let redisRestarts = 0;
let redisRestartedAt;
let last = { completed: 0 };
const deadline = Date.now() + TIMEOUT_S * 1000;
// Kill i comes once about i / KILLS of 90% of the jobs are done (a random point within its share), at least a
// second after the previous one: the kills spread over the whole run, however fast the machine is.
const killAt = Array.from({ length: KILLS }, (_, i) => Math.floor(((i + rnd()) * N * 0.9) / KILLS));
let nextKill = Date.now() + 1000;
let lastReport = 0;
for (;;) {
  const c = await counts();
  if (c) last = c;
  const finished = (last.completed ?? 0) + (last.failed ?? 0);
  if (c && finished >= N && c.active + c.waiting + c.delayed + c.prioritized === 0) break;
  if (Date.now() > deadline) {
    log(`timed out after ${TIMEOUT_S} s: ${JSON.stringify(last)}`);
    failures.push(`the run did not finish within ${TIMEOUT_S} s`);
    break;
  }
  if (Date.now() - lastReport > 15_000) {
    lastReport = Date.now();
    log(`completed ${last.completed ?? '?'}/${N}, active ${last.active ?? '?'}, waiting ${last.waiting ?? '?'}, delayed ${last.delayed ?? '?'}, failed ${last.failed ?? '?'}; ${kills} kills, ${redisRestarts} Redis restarts; load average ${loadavg()[0].toFixed(1)}`);
  }
  // The Redis restart, once, when about 40% are done.
  if (redisRestarts === 0 && finished >= Math.floor(N * 0.4)) {
    log(`SIGKILL Redis (${finished} jobs finished)`);
    await killRedis();
    await sleep(1000 + rnd() * 2000);
    await startRedis();
    redisRestarts++;
    redisRestartedAt = finished;
    log('Redis restarted on its AOF');
  }
  if (kills < KILLS && finished >= killAt[kills] && Date.now() >= nextKill) {
    // Half the kills wait for a running job, so they land mid-decode or mid-write more often than by chance.
    const wantActive = rnd() < 0.5;
    if (!wantActive || (last.active ?? 0) > 0) {
      const w = workers[Math.floor(rnd() * WORKERS)];
      const kids = groupChildren(w.child.pid);
      if (rnd() < 0.3 && kids.length > 0) {
        const pid = kids[Math.floor(rnd() * kids.length)];
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
        childKills++;
        log(`SIGKILL sandbox child ${pid} of worker ${w.slot} (active jobs ${last.active ?? '?'})`);
      } else {
        killGroup(w);
        await w.exited;
        groupKills++;
        log(`SIGKILL worker ${w.slot} and its ${kids.length} children (active jobs ${last.active ?? '?'}); restarted`);
        startWorker(w.slot);
      }
      if ((last.active ?? 0) > 0) killsWhileActive++;
      kills++;
      nextKill = Date.now() + 1000 + rnd() * 2000;
    }
  }
  // A worker that died on its own (not by our hand) is restarted as well, and said so.
  for (const w of workers) {
    if (w.child.exitCode !== null || w.child.signalCode !== null) {
      log(`worker ${w.slot} exited on its own (${w.child.exitCode ?? w.child.signalCode}); restarting`);
      startWorker(w.slot);
    }
  }
  await sleep(200);
}
const chaosSeconds = (Date.now() - started) / 1000;

// What the jobs say.
console.log('\nchecks:');
const final = await counts();
const completedJobs = await queue.getJobs(['completed'], 0, N * 2);
const failedJobs = await queue.getJobs(['failed'], 0, N * 2);
check(final?.completed === N, `completed jobs: ${final?.completed} of ${N}`);
check(final?.failed === 0, `failed jobs: ${final?.failed}${failedJobs.length ? ` (${failedJobs.slice(0, 3).map((j) => `${j.id}: ${j.failedReason}`).join('; ')})` : ''}`);
check(new Set(completedJobs.map((j) => j.id)).size === completedJobs.length && completedJobs.every((j) => jobIds.includes(j.id)), 'each completed job is one of ours, once');
const statuses = {};
const kernelsDone = new Map();
for (const j of completedJobs) {
  const r = j.returnvalue ?? {};
  statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  kernelsDone.set(r.kernel, (kernelsDone.get(r.kernel) ?? 0) + 1);
}
check(kernelsDone.size === N && [...kernelsDone.values()].every((n) => n === 1), `each kernel's job completed once (${kernelsDone.size} kernels; job results: ${Object.entries(statuses).map(([s, n]) => `${s} ${n}`).join(', ')}: "skipped" is a retried job whose killed attempt had already committed)`);
const attempts = completedJobs.reduce((a, j) => a + (j.attemptsMade ?? 0), 0);
const retried = completedJobs.filter((j) => (j.attemptsMade ?? 0) > 1 || (j.stalledCounter ?? 0) > 0).length;

// Stop everything of ours.
await queue.close();
for (const w of workers) w.child.kill('SIGTERM');
await Promise.race([Promise.all(workers.map((w) => w.exited)), sleep(15_000)]);
for (const w of workers) killGroup(w);
await killRedis();

// The catalog.
const chaos = openCatalog(dbPath, { readonly: true });
const cleanDb = openCatalog(clean.dbPath, { readonly: true });
try {
  const integrity = chaos.sqlite.pragma('integrity_check', { simple: true });
  check(integrity === 'ok', `PRAGMA integrity_check: ${integrity}`);
  const dups = chaos.sqlite.prepare('SELECT distro, release, arch, uname_r, count(*) AS n FROM kernels GROUP BY 1, 2, 3, 4 HAVING n > 1').all();
  check(dups.length === 0, `no kernel twice in the catalog${dups.length ? `: ${JSON.stringify(dups.slice(0, 3))}` : ''}`);
  const failuresRecorded = listFailures(chaos);
  check(failuresRecorded.length === 0, `no ingest failure recorded${failuresRecorded.length ? `: ${failuresRecorded.slice(0, 3).map((f) => f.message ?? JSON.stringify(f)).join('; ')}` : ''}`);
  const same = (what, f) => {
    let a;
    let b;
    try {
      a = JSON.stringify(f(chaos));
    } catch (err) {
      a = `error ${err.code ?? ''} ${err.message}`;
    }
    try {
      b = JSON.stringify(f(cleanDb));
    } catch (err) {
      b = `error ${err.code ?? ''} ${err.message}`;
    }
    check(a === b, `${what} equals the clean catalog's (${a.length} bytes)${a === b ? '' : `\n         chaos: ${a.slice(0, 200)}\n         clean: ${b.slice(0, 200)}`}`);
  };
  same('kernel list', (c) => listKernels(c));
  same('kernel states', (c) => listKernelStates(c));
  const kernels = listKernels(cleanDb).map((k) => k.kernel);
  const sample = [...new Set([...kernels.filter((k) => !k.startsWith('synthetic/')), kernels[Math.floor(kernels.length / 2)], kernels[kernels.length - 1]])];
  for (const field of ['pt_regs.di', 'task_struct.pid', 'sk_buff.len', moving?.field].filter(Boolean)) same(`field history ${field}`, (c) => fieldHistory(c, field));
  for (const type of ['pt_regs', 'task_struct', moving?.field.split('.')[0]].filter(Boolean)) {
    same(`type history ${type}`, (c) => typeHistory(c, type));
    for (const k of sample) same(`type ${type} in ${k}`, (c) => typeLayout(c, type, k));
  }
  // Row counts of every table (ids may differ with the order kernels arrived in, the contents may not).
  const tables = cleanDb.sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__drizzle%' ORDER BY name").all().map((r) => r.name);
  same(`row counts of ${tables.length} tables`, (c) => Object.fromEntries(tables.map((t) => [t, c.sqlite.prepare(`SELECT count(*) AS n FROM "${t}"`).get().n])));
  const blobCount = (p) => {
    const dir = BlobStore.forCatalog(p).dir;
    let n = 0;
    const walk = (d) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else n++;
      }
    };
    if (existsSync(dir)) walk(dir);
    return n;
  };
  const blobsChaos = blobCount(dbPath);
  const blobsClean = blobCount(clean.dbPath);
  check(blobsChaos === blobsClean, `blob store files: ${blobsChaos} (clean catalog: ${blobsClean}; more would be leftovers of killed jobs, for \`btf-atlas gc\`)`);
} finally {
  chaos.close();
  cleanDb.close();
}

console.log(`\nchaos: ${N} jobs through ${WORKERS} workers in ${chaosSeconds.toFixed(0)} s; ${kills} SIGKILLs (${groupKills} of a worker with its children, ${childKills} of a sandbox child; ${killsWhileActive} while a job was running), ${workerStarts - WORKERS} worker restarts, ${redisRestarts} Redis restart (SIGKILL, AOF, at ${redisRestartedAt ?? '-'} jobs finished); ${attempts} attempts for ${completedJobs.length} completed jobs (${retried} retried or taken over after a stall)`);
console.log(`node ${process.version}, ${availableParallelism()} CPUs, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} at end; total ${secs()} s`);
if (failures.length > 0) {
  console.log(`FAILED: ${failures.length} check(s); worker logs in ${work}`);
  process.exitCode = 1;
} else {
  console.log('all checks passed');
}
if (!KEEP && failures.length === 0) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
