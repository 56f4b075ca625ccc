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
// 3. when bpftool is on PATH, `bpftool gen min_core_btf KREL.btf OUT OBJ` per object × kernel in the same run;
// 4. the seven objects against a synthetic archive of --kernels N patch releases (default 1,000; the series of
//    scripts/make-synthetic-archive.mjs and its cached catalog, bench-common `catalogFor`, shared with bench-api,
//    copied with its blob store restored from the series files: the dry run loads representatives' BTF), in
//    process: libs/dryrun `coreCheckObjects` wall time against the 5 s target, cold (each representative's raw
//    BTF extracted from its archive once, as on a catalog's first dry run) and warm, with what the time is spent
//    on: grouping kernels from the catalog's shapes (`planLoads`), BTF loads, and resolving.
//
// Imports the built packages (dist), so the npm script runs `tsc -b` first. Options: --runs N (in-process
// repetitions, default 15), --proc-runs N (process repetitions, default 3), --no-process (skip 2 and 3),
// --kernels N (size of the synthetic archive of 4, default 1000; 0 skips 4), --only-archive (4 only),
// --objects A,B (4 with only these objects, by file name without .bpf.o).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_BASE, ROOT, catalogFor, fmtMs, migrationsKey, quantile, seriesKey, warnIfStale } from './lib/bench-common.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const RUNS = Number(opt('--runs', 15));
const PROC_RUNS = Number(opt('--proc-runs', 3));
const WITH_PROCESS = !args.includes('--no-process');
const ARCHIVE_KERNELS = Number(opt('--kernels', 1000));
const ONLY_ARCHIVE = args.includes('--only-archive');
const ARCHIVE_OBJECTS = opt('--objects', undefined)?.split(',').map((o) => `${o}.bpf.o`);

warnIfStale('bench-core', ['libs/btf', 'libs/core', 'libs/catalog', 'libs/dryrun']);
const load = (pkg) => import(pathToFileURL(join(ROOT, pkg, 'dist/index.js')).href);
const { Btf, extractBtf } = await load('libs/btf');
const { minimizeBtf } = await load('libs/core');
const { BlobStore, formatKref, jobDataOf, openCatalog, processIngest, scanPath } = await load('libs/catalog');
const { checkObjectOnTarget, coreCheckObjects, planLoads, readObjectInput, selectKernels } = await load('libs/dryrun');

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

async function corpusRuns() {
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

if (!WITH_PROCESS) return;

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
}

// 4. The seven objects against a synthetic archive of patch releases.

/** The series' cached catalog (bench-common), copied beside its own blob store, restored from the series files. */
async function archiveCatalog(n) {
  const SERIES = { base: DEFAULT_BASE, seed: 1, xzLevel: 0 };
  const dir = join(tmpdir(), 'btf-atlas-bench-core', `catalog-${seriesKey(SERIES)}-m${migrationsKey()}-n${n}`);
  const dbPath = join(dir, 'catalog.db');
  if (existsSync(join(dir, '.complete'))) return { dbPath, how: 'cached' };
  const shared = await catalogFor(n, SERIES);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(shared.dbPath, dbPath);
  const catalog = openCatalog(dbPath);
  const blobs = BlobStore.forCatalog(dbPath);
  const rows = catalog.sqlite.prepare('SELECT distro, release, arch, uname_r AS unameR, source_sha256 AS sha FROM kernels').all();
  for (const r of rows) {
    const file = join(shared.series.dir, r.distro, r.release, r.arch, `${r.unameR}.btf.tar.xz`);
    const bytes = readFileSync(file);
    if (createHash('sha256').update(bytes).digest('hex') !== r.sha) throw new Error(`${file} is not the file the catalog ingested`);
    // A hard link where the file system allows one (the series is a cache of the same bytes), else a copy.
    const to = blobs.pathOf(r.sha);
    mkdirSync(dirname(to), { recursive: true });
    try {
      if (!existsSync(to)) linkSync(file, to);
    } catch {
      blobs.put(bytes, r.sha);
    }
  }
  catalog.close();
  writeFileSync(join(dir, '.complete'), '');
  return { dbPath, how: `copied from ${shared.dbPath} (${shared.how}), ${rows.length} archive files put back` };
}

async function archiveRuns(n) {
  const t0 = performance.now();
  const { dbPath, how } = await archiveCatalog(n);
  console.log(`\nsynthetic archive: ${n} kernels (${how}, ${fmtMs(performance.now() - t0)})`);
  const names = ARCHIVE_OBJECTS ?? OBJECTS;
  for (const o of names) if (!OBJECTS.includes(o)) throw new Error(`--objects: no ${o} in fixtures/core/objects`);
  const objects = names.map((o) => readObjectInput({ name: o, bytes: readFileSync(join(CORE, 'objects', o)) }));
  const catalog = openCatalog(dbPath, { readonly: true });
  try {
    const kernels = selectKernels(catalog, {});
    let s = performance.now();
    const plan = planLoads(catalog, objects, kernels);
    const planMs = performance.now() - s;
    console.log(`  grouping (planLoads, cold catalog caches): ${fmtMs(planMs)}; ${plan.loads.length} btf loads for ${kernels.length} kernels × ${objects.length} objects`);
    objects.forEach((o, i) => {
      const groups = plan.loads.filter((l) => l.objects.some((x) => x.object === i)).length;
      console.log(`    ${o.name.replace('.bpf.o', '')}: resolved on ${groups} kernel(s)${plan.unprovable[i] ? ` (own btf only: ${plan.unprovable[i]})` : ''}`);
    });
    // Cold means each representative's raw BTF is extracted from its archive on first use; a cached archive catalog
    // may hold some already (from an earlier run): say how many, so the figure is read right.
    const stored = BlobStore.forCatalog(dbPath);
    const extracted = kernels.filter((k) => stored.has(k.row.btfSha256)).length;
    console.log(`  raw btf already extracted before the cold run: ${extracted} of ${kernels.length} kernels${extracted > 0 ? ' (the cold run is then partly warm)' : ''}`);
    for (const label of ['cold', 'warm']) {
      const firsts = [];
      s = performance.now();
      await coreCheckObjects(catalog, objects, {}, { onProgress: () => firsts.push(performance.now() - s) });
      const total = performance.now() - s;
      console.log(`  coreCheckObjects, ${objects.length} objects × ${kernels.length} kernels (${label}): ${fmtMs(total)} (target ≤ 5,000 ms: ${total <= 5000 ? 'within' : 'OVER'})`);
      // The first load comes after the grouping; the rest are loads, resolutions and the answers' assembly.
      if (firsts.length > 1) console.log(`    first load done at ${fmtMs(firsts[0])}, then ${fmtMs((firsts.at(-1) - firsts[0]) / (firsts.length - 1))} a load`);
    }
    // One load: what a load and its resolutions cost.
    const rep = kernels[plan.loads[plan.loads.length - 1].kernel];
    const blobs = BlobStore.forCatalog(dbPath);
    const { loadKernelBtf } = await load('libs/catalog');
    s = performance.now();
    const bytes = await loadKernelBtf(catalog, blobs, rep.row);
    const readMs = performance.now() - s;
    s = performance.now();
    const target = { vmlinux: Btf.parse(bytes), modules: [] };
    const parseMs = performance.now() - s;
    s = performance.now();
    for (const o of objects) checkObjectOnTarget(o.obj, target);
    console.log(`  one load (${short(rep.kernel)}): read ${fmtMs(readMs)}, parse ${fmtMs(parseMs)}, resolve + judge the ${objects.length} objects ${fmtMs(performance.now() - s)} (cold lookups)`);
  } finally {
    catalog.close();
  }
}

if (!ONLY_ARCHIVE) await corpusRuns();
if (ARCHIVE_KERNELS > 0) await archiveRuns(ARCHIVE_KERNELS);
