#!/usr/bin/env node
// Real-kernel verification against Debian's own packages (`npm run verify:debian`; needs the network to a
// Debian mirror, a Redis and bpftool; never part of `npm test`).
//
// 1. Starts a queue worker (apps/worker) on a fresh catalog in a temp folder and a unique queue prefix, and adds
//    ONE `sync` job for the suites and archs asked (default: bullseye, bookworm, bookworm-backports, trixie, sid x
//    amd64, arm64, s390x, ppc64el, i386, armhf, riscv64), keeping the newest --limit kernels of each suite and
//    arch: the worker plans the indexes and enqueues one ingest job per kernel, which downloads the packages
//    (sha256 from the index checked), extracts the BTF and ingests it. That is `btf-atlas sync` through the queue.
// 2. Waits for every ingest job, then checks each kernel the sync enqueued:
//    - accepted: in the catalog (else the job's failure reason);
//    - dump: `btf-atlas dump FILE --json` byte-identical to `bpftool -j btf dump file FILE format raw` of the
//      same raw BTF (the catalog's, as the mirror serves it);
//    - validate: `btf-atlas validate FILE` exits 0;
//    - fields: for pt_regs, task_struct, sk_buff and net_device, every flattened member's bit offset and bitfield
//      size in the catalog's answer (`type NAME --kernel K --json`) equals what bpftool's raw dump says (members
//      of unnamed structs/unions followed to absolute offsets, computed here from bpftool's JSON alone).
// 3. Prints one table row per kernel (Markdown), and totals.
//
// Options: --suites a,b  --archs a,b  --limit N (per suite and arch, default 2)  --mirror URL (default
// BTF_ATLAS_DEBIAN_MIRROR or the apt sources)  --modules none|all|a,b (default none)  --timeout-min M (default 90)
// --keep (keep the catalog)  --json FILE (also write the rows).
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setInterval, clearInterval } from 'node:timers';
import { ROOT } from './lib/bench-common.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const SUITES = opt('--suites', 'bullseye,bookworm,bookworm-backports,trixie,sid').split(',');
const ARCHS = opt('--archs', 'amd64,arm64,s390x,ppc64el,i386,armhf,riscv64').split(',');
const LIMIT = Number(opt('--limit', 2));
const MODULES = opt('--modules', 'none');
const TIMEOUT_MS = Number(opt('--timeout-min', 90)) * 60_000;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const STRUCTS = ['pt_regs', 'task_struct', 'sk_buff', 'net_device'];
const CLI = join(ROOT, 'apps/cli/bin/btf-atlas.js');

const lib = (name) => import(pathToFileURL(join(ROOT, `libs/${name}/dist/index.js`)).href);
const catalogLib = await lib('catalog');
const queueLib = await lib('queue');

if (spawnSync('bpftool', ['version'], { stdio: 'ignore' }).status !== 0) {
  console.error('verify-debian: bpftool is not on PATH (apt-get install bpftool)');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'btf-atlas-verify-'));
const db = join(dir, 'atlas.db');
const prefix = `verify-${randomUUID()}`;
console.error(`verify-debian: catalog ${db}, queue prefix ${prefix}`);

// One worker process with two sandboxed jobs at once (downloads overlap decoding).
const worker = spawn(process.execPath, [join(ROOT, 'apps/worker/dist/main.js')], {
  env: { ...process.env, REDIS_URL, BTF_ATLAS_DB: db, BTF_ATLAS_QUEUE_PREFIX: prefix, BTF_ATLAS_WORKER_CONCURRENCY: '2' },
  stdio: ['ignore', 'pipe', 'pipe'],
  detached: true,
});
let workerOut = '';
worker.stdout.on('data', (d) => (workerOut += d));
worker.stderr.on('data', (d) => (workerOut += d));
await new Promise((resolve, reject) => {
  const t = setInterval(() => workerOut.includes('worker ready') && (clearInterval(t), resolve()), 100);
  worker.once('exit', (c) => reject(new Error(`worker exited (${c}):\n${workerOut}`)));
});

const cfg = { redisUrl: REDIS_URL, prefix };
const queue = queueLib.createIngestQueue(cfg);
const events = queueLib.createQueueEvents(cfg);
await events.waitUntilReady();

const started = Date.now();
const modules = MODULES === 'all' || MODULES === 'none' ? MODULES : MODULES.split(',');
const syncJob = await queue.add('sync', { distro: 'debian', suites: SUITES, archs: ARCHS, mirror: opt('--mirror', undefined), modules, limit: LIMIT });
const plan = await syncJob.waitUntilFinished(events, 10 * 60_000);
console.error(`verify-debian: ${plan.enqueued.length} kernels enqueued from ${plan.mirror} (${plan.errors.length} suite/arch errors) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
for (const e of plan.errors) console.error(`  ${e.code}: ${e.message}`);

// Wait for the ingest jobs.
const failures = new Map();
for (;;) {
  const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
  process.stderr.write(`\r  jobs (sync, ingest, derive): ${counts.completed} completed, ${counts.failed} failed, ${counts.active} active, ${counts.waiting + counts.delayed} waiting   `);
  if (counts.waiting + counts.active + counts.delayed === 0) break;
  if (Date.now() - started > TIMEOUT_MS) {
    console.error('\nverify-debian: timed out');
    break;
  }
  await new Promise((r) => setTimeout(r, 2000));
}
process.stderr.write('\n');
for (const job of await queue.getFailed(0, 10_000)) if (job.name === 'ingest') failures.set(job.data.kernel, job.failedReason);
const ingestSeconds = (Date.now() - started) / 1000;

/** bpftool's view: named members of a struct, flattened through unnamed struct/union members (bits absolute). */
function bpftoolMembers(types, structId) {
  const byId = new Map(types.map((t) => [t.id, t]));
  const strip = (id) => {
    let t = byId.get(id);
    while (t && ['TYPEDEF', 'CONST', 'VOLATILE', 'RESTRICT', 'TYPE_TAG'].includes(t.kind)) t = byId.get(t.type_id);
    return t;
  };
  const out = [];
  const walk = (t, base) => {
    for (const m of t.members) {
      const off = base + m.bits_offset;
      const mt = strip(m.type_id);
      if (m.name === '(anon)' && mt && (mt.kind === 'STRUCT' || mt.kind === 'UNION')) walk(mt, off);
      else if (m.name !== '(anon)') out.push({ name: m.name, bits_offset: off, bitfield_size: m.bitfield_size ?? 0 });
    }
  };
  walk(byId.get(structId), 0);
  return out;
}

const catalog = catalogLib.openCatalog(db);
const blobs = catalogLib.BlobStore.forCatalog(db);
const rows = [];
for (const kref of plan.enqueued) {
  const row = { kernel: kref, accepted: false, types: 0, dump: '-', validate: '-', fields: '-', note: '' };
  rows.push(row);
  const info = catalogLib.listKernels(catalog).find((k) => k.kernel === kref);
  if (!info) {
    row.note = failures.get(kref) ?? 'not ingested';
    continue;
  }
  row.accepted = true;
  row.types = info.types;
  const served = await catalogLib.rawBtfFileOf(catalog, blobs, kref);
  const file = served.path;
  const ours = spawnSync(process.execPath, [CLI, 'dump', file, '--json'], { maxBuffer: 1 << 30 });
  const theirs = spawnSync('bpftool', ['-j', 'btf', 'dump', 'file', file, 'format', 'raw'], { maxBuffer: 1 << 30 });
  row.dump = ours.status === 0 && theirs.status === 0 && Buffer.compare(ours.stdout, theirs.stdout) === 0 ? 'same' : `differs (${ours.stdout.length} vs ${theirs.stdout.length} bytes)`;
  row.validate = spawnSync(process.execPath, [CLI, 'validate', file], { stdio: 'ignore' }).status === 0 ? 'exit 0' : 'FAILED';
  if (theirs.status !== 0) {
    row.fields = 'no bpftool dump';
    continue;
  }
  const types = JSON.parse(theirs.stdout.toString()).types;
  const checked = [];
  const bad = [];
  for (const name of STRUCTS) {
    const t = types.find((x) => x.kind === 'STRUCT' && x.name === name);
    if (!t) continue;
    const want = bpftoolMembers(types, t.id);
    let got;
    try {
      // The vmlinux definition of that size (a kernel may define a name twice).
      const defs = catalogLib.typeLayout(catalog, `struct ${name}`, kref).types.filter((d) => !d.module && d.size === t.size);
      got = defs[0]?.members;
    } catch (err) {
      bad.push(`${name}: ${err.message}`);
      continue;
    }
    if (!got) {
      bad.push(`${name}: no definition of ${t.size} bytes in the catalog`);
      continue;
    }
    const mine = new Map(got.map((m) => [m.name, m]));
    const wrong = want.filter((m) => mine.get(m.name)?.bits_offset !== m.bits_offset || (mine.get(m.name)?.bitfield_size ?? 0) !== m.bitfield_size);
    if (wrong.length > 0 || got.length !== want.length) bad.push(`${name}: ${wrong.length} of ${want.length} members differ${got.length !== want.length ? ` (${got.length} vs ${want.length} members)` : ''}`);
    checked.push(`${name}(${want.length})`);
  }
  row.fields = bad.length === 0 ? `equal: ${checked.join(' ')}` : bad.join('; ');
}
catalog.close();

await events.close();
await queue.obliterate({ force: true }).catch(() => undefined);
await queue.close();
try {
  process.kill(-worker.pid, 'SIGTERM');
} catch {
  // gone
}

console.log(`\n| kernel | accepted | types | dump --json vs bpftool | validate | field offsets vs bpftool |`);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.kernel} | ${r.accepted ? 'yes' : `no: ${r.note}`} | ${r.types} | ${r.dump} | ${r.validate} | ${r.fields} |`);
const ok = rows.filter((r) => r.accepted && r.dump === 'same' && r.validate === 'exit 0' && r.fields.startsWith('equal'));
const archs = new Set(rows.map((r) => r.kernel.split('/')[2]));
const noBtf = rows.filter((r) => !r.accepted && r.note.startsWith('PKG_NO_BTF'));
console.log(`\n${rows.length} kernels (${[...archs].join(', ')}), ${ok.length} fully verified, ${rows.filter((r) => !r.accepted).length} not accepted (${noBtf.length} of them built without BTF: PKG_NO_BTF); sync + ingest ${ingestSeconds.toFixed(0)} s`);
const jsonOut = opt('--json', undefined);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ rows, errors: plan.errors }, null, 2));
if (!args.includes('--keep')) rmSync(dir, { recursive: true, force: true });
process.exit(ok.length === rows.length && rows.length > 0 ? 0 : 1);
