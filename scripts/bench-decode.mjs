#!/usr/bin/env node
// Decode benchmark for libs/btf (`npm run bench:decode`; never part of `npm test`).
//
// For every corpus blob (each vmlinux out of its .btf.tar.xz, each module on its vmlinux) it prints the
// in-process medians of: parse+index, validate+index (when the library exports validateBtf), full typed decode
// of every type, and dumpRawJson; then, when bpftool is on PATH, the whole-process wall time and peak RSS of
// `btf-atlas dump FILE --json` against `bpftool -j btf dump file FILE format raw` and `node -e 0`, and the
// whole-process time of `btf-atlas validate FILE` on each raw vmlinux .btf against `bpftool btf dump file FILE
// format raw > /dev/null` measured in the same run (the cost of reading every type once, as a reference).
//
// Imports the built library (libs/btf/dist), so run `npx tsc -b` first (the npm script does).
// Options: --runs N (in-process repetitions, default 20), --proc-runs N (process repetitions, default 5),
// --only SUBSTRING (blobs whose name contains it), --no-process (skip the process comparison), --bpftool PATH (the
// bpftool to compare with; default the one on PATH).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CORPUS = join(ROOT, 'fixtures/corpus');

const CLI = join(ROOT, 'apps/cli/bin/btf-atlas.js');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const RUNS = Number(opt('--runs', 20));
const PROC_RUNS = Number(opt('--proc-runs', 5));
const ONLY = opt('--only', '');
const WITH_PROCESS = !args.includes('--no-process');
// --lib PATH: benchmark another build of the library (to compare before/after a change).
const DIST = opt('--lib', join(ROOT, 'libs/btf/dist/index.js'));

if (!existsSync(DIST)) {
  console.error(`bench-decode: ${DIST} is missing; run \`npx tsc -b\` first`);
  process.exit(1);
}
const lib = await import(pathToFileURL(DIST).href);
const { Btf, dumpRawJson, extractBtf } = lib;
const validateBtf = typeof lib.validateBtf === 'function' ? lib.validateBtf : undefined;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const ms = (x) => (x === undefined ? '-' : x < 10 ? x.toFixed(2) : x.toFixed(1));
const mbps = (bytes, t) => (t > 0 ? (bytes / 1e6 / (t / 1e3)).toFixed(0) : '-');

const gc = typeof globalThis.gc === 'function' ? globalThis.gc : () => undefined;

function timeIt(fn, runs = RUNS) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    gc();
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/**
 * Median time of `run` where `setup` (untimed) prepares each repetition. With --expose-gc (the npm script passes
 * it) the garbage of earlier repetitions is collected first, so each run pays only for its own allocations.
 */
function timeWithSetup(setup, run, runs = RUNS) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    gc();
    const x = setup();
    const t0 = performance.now();
    run(x);
    times.push(performance.now() - t0);
  }
  return median(times);
}

function onPath(cmd) {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin'])) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Load the corpus.
const manifest = JSON.parse(readFileSync(join(CORPUS, 'manifest.json'), 'utf8'));
const blobs = [];
for (const k of manifest.kernels) {
  const [vm] = await extractBtf(readFileSync(join(CORPUS, k.archive)), k.archive);
  const kernel = { label: k.kernel_release, kref: [k.distro, k.release, k.arch, k.kernel_release], bytes: vm.bytes, base: undefined, baseLabel: undefined };
  blobs.push(kernel);
  for (const m of k.modules) {
    blobs.push({ label: `${k.kernel_release}/${m.name}`, bytes: readFileSync(join(CORPUS, m.path)), baseOf: kernel, file: m.path });
  }
}
const selected = blobs.filter((b) => b.label.includes(ONLY));

// ---------------------------------------------------------------------------------------------------------------
// In-process figures.
console.log(`btf-atlas decode benchmark — node ${process.version}, medians of ${RUNS} runs in process`);
console.log(typeof globalThis.gc === 'function' ? 'heap collected before each run (--expose-gc)' : 'run with node --expose-gc to collect garbage between runs');
console.log(validateBtf ? 'validateBtf: found (validate+index column)' : 'validateBtf: not exported yet (validate column empty)');
console.log('');
const head = ['blob', 'size MB', 'types', 'parse ms', 'MB/s', 'valid. ms', 'decode ms', 'dump ms', 'dump MB/s', 'JSON MB'];
const rows = [];
for (const b of selected) {
  const base = b.baseOf ? Btf.parse(b.baseOf.bytes) : undefined;
  const parse = () => Btf.parse(b.bytes, { base });
  const btf = parse();
  // Warm up every path once so the medians measure optimized code.
  btf.ownTypes();
  const json = dumpRawJson(btf);
  if (validateBtf) for (let i = 0; i < 3; i++) validateBtf(parse());
  const tParse = timeIt(parse);
  const tValidate = validateBtf ? timeIt(() => validateBtf(parse())) : undefined;
  const tDecode = timeWithSetup(parse, (x) => x.ownTypes());
  const tDump = timeIt(() => dumpRawJson(btf));
  b.types = btf.ownTypeCount;
  rows.push([
    b.label, (b.bytes.length / 1e6).toFixed(2), String(btf.ownTypeCount), ms(tParse), mbps(b.bytes.length, tParse),
    ms(tValidate), ms(tDecode), ms(tDump), mbps(b.bytes.length, tDump), (json.length / 1e6).toFixed(1),
  ]);
}
printTable(head, rows);
console.log('parse = Btf.parse (header, strings, type index); valid. = validateBtf(Btf.parse(...)) when available;');
console.log('decode = ownTypes() on a fresh parse (every type decoded to the typed model, parse excluded);');
console.log('dump = dumpRawJson (bpftool -j raw JSON, byte-exact). Targets (5 MB vmlinux): validate+index <= 20 ms, decode <= 30 ms.');

// ---------------------------------------------------------------------------------------------------------------
// Whole-process comparison with bpftool.
// --bpftool PATH: compare with another bpftool (the contract's reference is 7.5, e.g. from bookworm-backports).
const bpftool = opt('--bpftool', undefined) ?? onPath('bpftool');
if (!WITH_PROCESS) process.exit(0);
if (!bpftool) {
  console.log('\nbpftool is not on PATH: skipping the whole-process comparison.');
  process.exit(0);
}
if (!existsSync(join(ROOT, 'apps/cli/dist/main.js'))) {
  console.log('\napps/cli is not built: skipping the whole-process comparison (run `npx tsc -b`).');
  process.exit(0);
}
const gnuTime = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const bpftoolVersion = spawnSync(bpftool, ['version'], { encoding: 'utf8' }).stdout.split('\n')[0];
const tmp = mkdtempSync(join(tmpdir(), 'btf-atlas-bench-'));
try {
  const devNull = openSync('/dev/null', 'w');
  /** Wall time (ms) of one run, stdout to /dev/null; exits non-zero are reported. */
  const wall = (cmd, argv) => {
    const t0 = performance.now();
    const r = spawnSync(cmd, argv, { stdio: ['ignore', devNull, 'pipe'] });
    const t = performance.now() - t0;
    if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
    return t;
  };
  /** Peak RSS (MiB) of one run, from GNU time's %M, or a node wrapper's child maxRSS. */
  const peakRss = (cmd, argv) => {
    if (gnuTime) {
      const r = spawnSync(gnuTime, ['-f', '%M', cmd, ...argv], { stdio: ['ignore', devNull, 'pipe'], encoding: 'utf8' });
      const lines = r.stderr.trim().split('\n');
      return Number(lines[lines.length - 1]) / 1024;
    }
    const wrapper = `const r=require('child_process').spawnSync(${JSON.stringify(cmd)},${JSON.stringify(argv)},{stdio:['ignore','ignore','ignore']});` +
      "process.stdout.write(String(require('process').resourceUsage().maxRSS))";
    // maxRSS of the wrapper is its own; children's figure needs getrusage(RUSAGE_CHILDREN), not offered by node.
    const r = spawnSync(process.execPath, ['-e', wrapper], { encoding: 'utf8' });
    return Number(r.stdout) / 1024;
  };
  const measure = (cmd, argv) => {
    wall(cmd, argv); // warm the page cache
    const times = [];
    for (let i = 0; i < PROC_RUNS; i++) times.push(wall(cmd, argv));
    return { t: median(times), rss: peakRss(cmd, argv) };
  };

  const nodeNoop = measure(process.execPath, ['-e', '0']);
  console.log(`\nWhole process: medians of ${PROC_RUNS} runs, stdout to /dev/null; ${bpftoolVersion} (${bpftool});`);
  console.log(`peak RSS from ${gnuTime ? '/usr/bin/time -f %M' : 'a wrapper'}. \`node -e 0\`: ${ms(nodeNoop.t)} ms, ${nodeNoop.rss.toFixed(0)} MiB.`);
  console.log('');
  const files = new Map();
  const fileOf = (b) => {
    let f = files.get(b);
    if (!f) {
      f = join(tmp, b.baseOf ? `${b.label.replace(/[/+]/g, '_')}.btf` : `${b.label}.btf`);
      writeFileSync(f, b.bytes);
      files.set(b, f);
    }
    return f;
  };
  const phead = ['blob', 'btf-atlas ms', 'bpftool ms', 'ratio', 'ratio-node', 'atlas MiB', 'bpftool MiB', 'same JSON'];
  const prows = [];
  for (const b of selected) {
    const file = fileOf(b);
    const baseFile = b.baseOf ? fileOf(b.baseOf) : undefined;
    const atlasArgs = [CLI, 'dump', file, '--json', ...(baseFile ? ['--base', baseFile] : [])];
    const bpfArgs = ['-j', 'btf', 'dump', ...(baseFile ? ['-B', baseFile] : []), 'file', file, 'format', 'raw'];
    const atlas = measure(process.execPath, atlasArgs);
    const bpf = measure(bpftool, bpfArgs);
    const same = sameOutput(spawnSync(process.execPath, atlasArgs, { maxBuffer: 1 << 30 }).stdout, spawnSync(bpftool, bpfArgs, { maxBuffer: 1 << 30 }).stdout);
    prows.push([
      b.label, ms(atlas.t), ms(bpf.t), (atlas.t / bpf.t).toFixed(2), ((atlas.t - nodeNoop.t) / bpf.t).toFixed(2),
      atlas.rss.toFixed(0), bpf.rss.toFixed(0), same,
    ]);
  }
  printTable(phead, prows);
  console.log('ratio = btf-atlas / bpftool wall time (target <= 1.3); ratio-node = (btf-atlas - `node -e 0`) / bpftool;');
  console.log(`same JSON: whether the outputs are identical (bpftool here is ${bpftoolVersion}; the corpus oracles are 7.5, whose output`);
  console.log('btf-atlas matches byte for byte: older bpftool versions differ in details). Target: peak RSS < 150 MiB.');

  // Whole-process validation of each raw vmlinux .btf, with bpftool's plain raw dump of the same file as the
  // reference (it reads and prints every type; the kernel-strict checks have no bpftool equivalent).
  const vhead = ['blob', 'validate ms', 'bpftool raw ms', 'ratio', 'validate MiB'];
  const vrows = [];
  for (const b of selected.filter((x) => !x.baseOf)) {
    const file = fileOf(b);
    const v = measure(process.execPath, [CLI, 'validate', file]);
    const raw = measure(bpftool, ['btf', 'dump', 'file', file, 'format', 'raw']);
    vrows.push([b.label, ms(v.t), ms(raw.t), (v.t / raw.t).toFixed(2), v.rss.toFixed(0)]);
  }
  console.log('');
  printTable(vhead, vrows);
  console.log(`validate = \`btf-atlas validate FILE\` (raw .btf, stdout to /dev/null); bpftool raw = \`bpftool btf dump file FILE format raw\`;`);
  console.log(`ratio = validate / bpftool raw. Target: whole-process validate <= 300 ms (\`node -e 0\` here: ${ms(nodeNoop.t)} ms).`);

  // Start-up and a catalog read: `--help`, `--version`, and `field` on a catalog of FIELD_KERNELS kernels (the
  // corpus kernels, then the first one again under other names of the same series, as a catalog of one
  // distribution's point releases looks: mostly shared layouts).
  {
    const db = join(tmp, 'atlas.db');
    const tree = join(tmp, 'archive');
    const vmlinuxes = blobs.filter((b) => !b.baseOf);
    const FIELD_KERNELS = 15;
    for (let i = 0; i < FIELD_KERNELS; i++) {
      const b = i < vmlinuxes.length ? vmlinuxes[i] : vmlinuxes[0];
      const [distro, release, arch, unameR] = b.kref;
      const name = i < vmlinuxes.length ? unameR : unameR.replace(/^(\d+\.\d+\.\d+-)(\d+)/, (_, v, n) => `${v}${Number(n) + 100 + i}`);
      const dir = join(tree, distro, release, arch);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${name}.btf`), b.bytes);
    }
    const ing = spawnSync(process.execPath, [CLI, 'ingest', tree, '--db', db], { encoding: 'utf8' });
    if (ing.status !== 0) throw new Error(`ingest for the field figure failed: ${ing.stderr}`);
    const kernels = JSON.parse(spawnSync(process.execPath, [CLI, 'kernels', '--json', '--db', db], { encoding: 'utf8' }).stdout);
    const count = (kernels.kernels ?? kernels).length;
    const help = measure(process.execPath, [CLI, '--help']);
    const version = measure(process.execPath, [CLI, '--version']);
    const field = measure(process.execPath, [CLI, 'field', 'pt_regs.di', '--db', db]);
    const fieldJson = measure(process.execPath, [CLI, 'field', 'task_struct.se.vruntime', '--json', '--db', db]);
    console.log('');
    printTable(['command', 'ms', 'over `node -e 0`', 'MiB'], [
      ['btf-atlas --help', ms(help.t), ms(help.t - nodeNoop.t), help.rss.toFixed(0)],
      ['btf-atlas --version', ms(version.t), ms(version.t - nodeNoop.t), version.rss.toFixed(0)],
      [`field pt_regs.di (${count} kernels)`, ms(field.t), ms(field.t - nodeNoop.t), field.rss.toFixed(0)],
      [`field task_struct.se.vruntime --json (${count} kernels)`, ms(fieldJson.t), ms(fieldJson.t - nodeNoop.t), fieldJson.rss.toFixed(0)],
    ]);
    console.log(`Targets: start (--help) <= \`node -e 0\` + 60 ms; field on a 15-kernel catalog <= 250 ms (\`node -e 0\` here: ${ms(nodeNoop.t)} ms).`);
  }
  closeSync(devNull);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

function sameOutput(a, b) {
  if (Buffer.compare(a, b) === 0) return 'yes';
  // Compare parsed JSON too, to tell formatting differences from content ones.
  try {
    return JSON.stringify(JSON.parse(a.toString('latin1'))) === JSON.stringify(JSON.parse(b.toString('latin1'))) ? 'same data' : 'differs';
  } catch {
    return 'differs';
  }
}

function printTable(header, body) {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of body) console.log(line(r));
}


