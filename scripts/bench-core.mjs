#!/usr/bin/env node
// CO-RE dry-run benchmark (`npm run bench:core`; never part of `npm test`).
//
// The seven objects of fixtures/core/objects against the corpus's x86_64 kernels (those with CO-RE oracles):
// 1. in process: each kernel's vmlinux BTF parsed once (timed apart), then per object × kernel the median of
//    resolve + judge (libs/dryrun `checkObjectOnTarget`: libbpf's relocation decisions, the verdicts and the
//    answer's JSON), against the 50 ms target, after a first run per kernel that reads that BTF's record kinds and
//    name offsets (timed apart: once per distinct BTF); and per object × kernel the median of `minimizeBtf`;
// 2. whole process, on a temp catalog of those kernels: `btf-atlas core-check OBJ --kernel K --json` and
//    `btf-atlas core-min-btf OBJ --kernel K --out X.tar.xz` wall time per object × kernel, and `core-check` of the
//    seven objects against every kernel at once;
// 3. when bpftool is on PATH, `bpftool gen min_core_btf KREL.btf OUT OBJ` per object × kernel in the same run.
//
// Imports the built packages (dist), so the npm script runs `tsc -b` first. Options: --runs N (in-process
// repetitions, default 15), --proc-runs N (process repetitions, default 3), --no-process (skip 2 and 3).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, fmtMs, quantile, warnIfStale } from './lib/bench-common.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const RUNS = Number(opt('--runs', 15));
const PROC_RUNS = Number(opt('--proc-runs', 3));
const WITH_PROCESS = !args.includes('--no-process');

warnIfStale('bench-core', ['libs/btf', 'libs/core', 'libs/catalog', 'libs/dryrun']);
const load = (pkg) => import(pathToFileURL(join(ROOT, pkg, 'dist/index.js')).href);
const { Btf, extractBtf } = await load('libs/btf');
const { minimizeBtf } = await load('libs/core');
const { BlobStore, formatKref, jobDataOf, openCatalog, processIngest, scanPath } = await load('libs/catalog');
const { checkObjectOnTarget, readObjectInput } = await load('libs/dryrun');

const CLI = join(ROOT, 'apps/cli/bin/btf-atlas.js');
const CORE = join(ROOT, 'fixtures/core');
const ARCHIVE = join(ROOT, 'fixtures/corpus/archive');
const OBJECTS = readdirSync(join(CORE, 'objects')).filter((f) => f.endsWith('.bpf.o')).sort();
const KERNELS = ['debian/12/x86_64/6.1.0-47-amd64', 'debian/12/x86_64/6.1.0-50-amd64', 'debian/13/x86_64/6.12.117+deb13-amd64'];
const short = (k) => k.slice(k.lastIndexOf('/') + 1);
const median = (xs) => quantile(xs, 0.5);

function timeIt(fn, runs = RUNS) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** A table: a row per object, a column per kernel, then the object's total. */
function printGrid(title, cell) {
  console.log(`\n${title}`);
  const head = ['object', ...KERNELS.map(short), 'total'];
  const rows = [head];
  let total = 0;
  for (const o of OBJECTS) {
    const xs = KERNELS.map((k) => cell(o, k));
    const sum = xs.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
    total += sum;
    rows.push([o.replace('.bpf.o', ''), ...xs.map(fmtMs), fmtMs(sum)]);
  }
  rows.push(['total', ...KERNELS.map((k) => fmtMs(OBJECTS.reduce((a, o) => a + (Number.isFinite(cell(o, k)) ? cell(o, k) : 0), 0))), fmtMs(total)]);
  const widths = head.map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  for (const r of rows) console.log(r.map((c, i) => String(c).padStart(i === 0 ? 0 : widths[i]).padEnd(i === 0 ? widths[0] : 0)).join('  '));
  return total;
}

// 1. In process.
const raw = new Map();
const targets = new Map();
console.log(`bench-core: ${OBJECTS.length} objects × ${KERNELS.length} kernels, ${RUNS} runs in process`);
for (const k of KERNELS) {
  const [blob] = await extractBtf(readFileSync(join(ARCHIVE, `${k}.btf.tar.xz`)), k);
  raw.set(k, blob.bytes);
  const parse = timeIt(() => Btf.parse(blob.bytes), 5);
  targets.set(k, { vmlinux: Btf.parse(blob.bytes) });
  console.log(`  parse ${short(k)} vmlinux btf (${(blob.bytes.length / 1e6).toFixed(1)} MB): ${fmtMs(parse)} (once per distinct btf)`);
}
const objects = new Map(OBJECTS.map((o) => [o, readObjectInput({ name: o, bytes: readFileSync(join(CORE, 'objects', o)) })]));
const readMs = timeIt(() => OBJECTS.forEach((o) => readObjectInput({ name: o, bytes: readFileSync(join(CORE, 'objects', o)) })));
console.log(`  read + link the ${OBJECTS.length} objects: ${fmtMs(readMs)}`);

// The first dry run on a freshly parsed kernel also reads that BTF's record kinds and name offsets once (what
// candidate and FUNC/VAR/TYPEDEF lookups search): a cost paid once per distinct BTF, shown apart.
for (const k of KERNELS) {
  const fresh = { vmlinux: Btf.parse(raw.get(k)) };
  const t0 = performance.now();
  checkObjectOnTarget(objects.get(OBJECTS[0]).obj, fresh);
  console.log(`  first dry run on ${short(k)} (cold: first lookups): ${fmtMs(performance.now() - t0)}`);
}
const check = new Map();
const minb = new Map();
for (const o of OBJECTS) {
  for (const k of KERNELS) {
    const obj = objects.get(o).obj;
    const target = targets.get(k);
    checkObjectOnTarget(obj, target); // warm-up: the kernel's first lookups
    check.set(`${o}|${k}`, timeIt(() => checkObjectOnTarget(obj, target)));
    let ok = true;
    try {
      minimizeBtf([obj], target);
    } catch {
      ok = false;
    }
    minb.set(`${o}|${k}`, ok ? timeIt(() => minimizeBtf([obj], target)) : NaN);
  }
}
const checkTotal = printGrid('in process: resolve + judge, median per object × kernel (target ≤ 50 ms)', (o, k) => check.get(`${o}|${k}`));
const worst = Math.max(...check.values());
console.log(`worst ${fmtMs(worst)}: ${worst <= 50 ? 'within' : 'OVER'} the 50 ms target`);
printGrid('in process: minimizeBtf, median per object × kernel ("-": libbpf cannot relocate the object there)', (o, k) => minb.get(`${o}|${k}`));
console.log(`\nin process, all ${OBJECTS.length} objects against all ${KERNELS.length} kernels: ${fmtMs(checkTotal)} (+ one parse per kernel)`);

if (!WITH_PROCESS) process.exit(0);

// 2. Whole process, on a temp catalog of the kernels.
const dir = mkdtempSync(join(tmpdir(), 'btf-atlas-bench-core-'));
try {
  const db = join(dir, 'atlas.db');
  const catalog = openCatalog(db);
  const blobs = BlobStore.forCatalog(db);
  const wanted = new Set(KERNELS);
  const t0 = performance.now();
  for (const item of scanPath(ARCHIVE)) {
    if (item.kref && wanted.has(formatKref(item.kref))) await processIngest(jobDataOf(item), { catalog, blobs });
  }
  catalog.close();
  console.log(`\nwhole process (catalog of ${KERNELS.length} kernels ingested in ${fmtMs(performance.now() - t0)}), median of ${PROC_RUNS} runs`);
  const env = { ...process.env, BTF_ATLAS_DB: db };
  delete env.REDIS_URL;
  const wall = (cmd, argv) => {
    const times = [];
    for (let i = 0; i < PROC_RUNS; i++) {
      const s = performance.now();
      const r = spawnSync(cmd, argv, { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
      times.push(performance.now() - s);
      if (r.status !== 0) return { ms: median(times), status: r.status };
    }
    return { ms: median(times), status: 0 };
  };
  const node = wall(process.execPath, ['-e', '0']);
  console.log(`  node -e 0: ${fmtMs(node.ms)}`);
  printGrid('btf-atlas core-check OBJ --kernel K --json', (o, k) => wall(process.execPath, [CLI, 'core-check', join(CORE, 'objects', o), '--kernel', k, '--json']).ms);
  const out = join(dir, 'out.tar.xz');
  printGrid('btf-atlas core-min-btf OBJ --kernel K --out X.tar.xz ("-": exit 1, no minimized btf)', (o, k) => {
    const r = wall(process.execPath, [CLI, 'core-min-btf', join(CORE, 'objects', o), '--kernel', k, '--out', out]);
    return r.status === 0 ? r.ms : NaN;
  });
  const all = wall(process.execPath, [CLI, 'core-check', ...OBJECTS.map((o) => join(CORE, 'objects', o)), '--json']);
  console.log(`\nbtf-atlas core-check (all ${OBJECTS.length} objects, all ${KERNELS.length} kernels, one process): ${fmtMs(all.ms)}`);

  // 3. bpftool, same run.
  const probe = spawnSync('bpftool', ['version'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    console.log('\nbpftool not found: no min_core_btf comparison');
  } else {
    console.log(`\n${probe.stdout.split('\n')[0]}`);
    mkdirSync(join(dir, 'btf'), { recursive: true });
    for (const k of KERNELS) writeFileSync(join(dir, 'btf', `${short(k)}.btf`), raw.get(k));
    printGrid('bpftool gen min_core_btf KREL.btf OUT OBJ ("-": it fails)', (o, k) => {
      const r = wall('bpftool', ['gen', 'min_core_btf', join(dir, 'btf', `${short(k)}.btf`), join(dir, 'min.btf'), join(CORE, 'objects', o)]);
      return r.status === 0 ? r.ms : NaN;
    });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
