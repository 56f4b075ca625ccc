#!/usr/bin/env node
// Synthetic btfhub-style archive generator (for `npm run bench:ingest`; never part of `npm test`).
//
// Writes a series of N kernels derived from one real vmlinux BTF blob, the way patch releases of one distro
// kernel look: kernel 1 is the base blob unchanged, and kernel K is kernel K-1 plus a few (2-4, seeded) struct
// layout changes. Layout:
//
//   OUT/synthetic/12/x86_64/6.1.0-K-amd64.btf.tar.xz    (K = 1..N; the tar holds one file, 6.1.0-K-amd64.btf)
//   OUT/manifest.json                                   (options, base sha256, and every change per kernel)
//
// Usage:
//   node scripts/make-synthetic-archive.mjs --out DIR --count N [options]
//
// Options:
//   --out DIR        output folder (created; existing kernel files in it are overwritten)
//   --count N        number of kernels in the series (required)
//   --base FILE      base kernel: raw BTF or a btfhub .btf.tar.xz
//                    (default fixtures/corpus/archive/debian/12/x86_64/6.1.0-50-amd64.btf.tar.xz)
//   --seed S         PRNG seed (default 1); the same base, seed and count give byte-identical BTF
//   --format F       tar.xz (default: like btfhub) or btf (raw UNAME_R.btf files, no compression)
//   --xz-level L     xz preset for tar.xz (default 0: fastest; btfhub's own archives use a high preset, which
//                    compresses smaller but decompresses at about the same speed)
//   --jobs J         parallel xz processes (default: available CPUs)
//   --check-every C  run the strict validator (validateBtf) on kernel 2, every C-th kernel and the last one
//                    (default 100; 1 checks every kernel; 0 checks only kernel 2 and the last)
//   --quiet          no progress lines
//
// Changes (each on a named STRUCT that nothing holds by value, so no container outgrows its own size; only
// pointers or function prototypes refer to it):
//   insert: size += 8 and the last member moves by 8 bytes (a field added before it); only when that member is
//           not a bitfield (moving it past bitfields after it would break the increasing-offset rule);
//   grow:   size += 8 only (a field added at the end, or padding).
// The raw BTF is patched in place (records are fixed-size; offsets come from the Btf class of libs/btf), so the
// string and type sections keep their lengths and every blob stays valid for the strict validator.
//
// Needs the built libraries (`npx tsc -b`) and, for tar.xz, the `xz` command.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, createWriteStream, renameSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_BASE = join(ROOT, 'fixtures/corpus/archive/debian/12/x86_64/6.1.0-50-amd64.btf.tar.xz');
const BTF_DIST = join(ROOT, 'libs/btf/dist/index.js');

/** The series' fixed KREF parts; K is the patch number. */
export const SERIES = { distro: 'synthetic', release: '12', arch: 'x86_64', uname: (k) => `6.1.0-${k}-amd64` };

function parseArgs(argv) {
  const o = { out: undefined, count: undefined, base: DEFAULT_BASE, seed: 1, format: 'tar.xz', xzLevel: 0, jobs: availableParallelism(), checkEvery: 100, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--out') o.out = val();
    else if (a === '--count') o.count = Number(val());
    else if (a === '--base') o.base = val();
    else if (a === '--seed') o.seed = Number(val());
    else if (a === '--format') o.format = val();
    else if (a === '--xz-level') o.xzLevel = Number(val());
    else if (a === '--jobs') o.jobs = Number(val());
    else if (a === '--check-every') o.checkEvery = Number(val());
    else if (a === '--quiet') o.quiet = true;
    else throw new Error(`unknown option ${a}`);
  }
  if (!o.out) throw new Error('--out DIR is required');
  if (!Number.isInteger(o.count) || o.count < 1) throw new Error('--count N (a positive integer) is required');
  if (o.format !== 'tar.xz' && o.format !== 'btf') throw new Error('--format is tar.xz or btf');
  if (!Number.isInteger(o.xzLevel) || o.xzLevel < 0 || o.xzLevel > 9) throw new Error('--xz-level is 0..9');
  if (!Number.isInteger(o.jobs) || o.jobs < 1) throw new Error('--jobs is a positive integer');
  return o;
}

/** mulberry32: small, seedable, good enough for picking structs. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A ustar tarball holding one regular file. */
function tarOne(name, data) {
  const h = Buffer.alloc(512);
  const put = (s, off, len) => h.write(s, off, len, 'latin1');
  const oct = (n, len) => n.toString(8).padStart(len - 1, '0') + '\0';
  put(name, 0, 100);
  put(oct(0o644, 8), 100, 8);
  put(oct(0, 8), 108, 8);
  put(oct(0, 8), 116, 8);
  put(oct(data.length, 12), 124, 12);
  put(oct(0, 12), 136, 12); // mtime 0: byte-identical output for the same input
  put('        ', 148, 8);
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  put('root', 265, 32);
  put('root', 297, 32);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  const pad = (512 - (data.length % 512)) % 512;
  return Buffer.concat([h, data, Buffer.alloc(pad + 1024)]);
}

/** Compresses `input` with the xz command into `path` (via a temp file and rename). */
function xzTo(path, input, level) {
  return new Promise((resolveP, reject) => {
    const tmp = `${path}.tmp`;
    const out = createWriteStream(tmp);
    const child = spawn('xz', [`-${level}`, '-T1', '-c', '--check=crc32'], { stdio: ['pipe', 'pipe', 'inherit'] });
    child.on('error', reject);
    child.stdout.pipe(out);
    let code;
    let closed = false;
    const done = () => {
      if (code === undefined || !closed) return;
      if (code !== 0) reject(new Error(`xz exited with ${code} for ${path}`));
      else {
        renameSync(tmp, path);
        resolveP();
      }
    };
    out.on('close', () => {
      closed = true;
      done();
    });
    child.on('exit', (c) => {
      code = c;
      done();
    });
    child.stdin.end(input);
  });
}

/**
 * Finds the structs a change may touch: named STRUCTs with members that no member, array, variable, typedef or
 * modifier holds by value (pointers and function prototypes may refer to them).
 */
function candidates(btf) {
  const { dv, offsets, littleEndian: le } = btf;
  const byValue = new Uint8Array(btf.nextId);
  const kinds = new Uint8Array(btf.nextId);
  for (let i = 0; i < offsets.length; i++) {
    const id = btf.startId + i;
    const off = offsets[i];
    const info = dv.getUint32(off + 4, le);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    kinds[id] = kind;
    const ref = dv.getUint32(off + 8, le);
    switch (kind) {
      case 8: case 9: case 10: case 11: case 18: case 14: // TYPEDEF VOLATILE CONST RESTRICT TYPE_TAG VAR
        if (ref < byValue.length) byValue[ref] = 1;
        break;
      case 3: { // ARRAY: element type
        const elem = dv.getUint32(off + 12, le);
        if (elem < byValue.length) byValue[elem] = 1;
        break;
      }
      case 4: case 5: // STRUCT UNION: member types
        for (let m = 0; m < vlen; m++) {
          const t = dv.getUint32(off + 12 + m * 12 + 4, le);
          if (t < byValue.length) byValue[t] = 1;
        }
        break;
      default:
        break;
    }
  }
  const out = [];
  for (let i = 0; i < offsets.length; i++) {
    const id = btf.startId + i;
    if (kinds[id] !== 4 || byValue[id]) continue;
    const t = btf.type(id);
    if (t.name === '' || t.members.length === 0) continue;
    out.push(id);
  }
  return out;
}

/** Applies one change to struct `id` of the raw blob (in place). Returns a description. */
function applyChange(btf, id, kindOfChange) {
  const { dv, littleEndian: le } = btf;
  const off = btf.recordOffset(id);
  const info = dv.getUint32(off + 4, le);
  const vlen = info & 0xffff;
  const kflag = (info & 0x80000000) !== 0;
  const size = dv.getUint32(off + 8, le);
  const t = btf.type(id);
  const change = { struct: t.name, id, change: 'grow', oldSize: size, newSize: size + 8 };
  dv.setUint32(off + 8, size + 8, le);
  if (kindOfChange === 'insert') {
    const q = off + 12 + (vlen - 1) * 12;
    const raw = dv.getUint32(q + 8, le);
    const bitfieldSize = kflag ? raw >>> 24 : 0;
    if (bitfieldSize === 0) {
      const bits = kflag ? raw & 0xffffff : raw;
      const moved = bits + 64;
      if (!kflag || moved <= 0xffffff) {
        dv.setUint32(q + 8, kflag ? moved : moved >>> 0, le);
        change.change = 'insert';
        change.member = btf.strings.get(dv.getUint32(q, le));
        change.oldBitsOffset = bits;
        change.newBitsOffset = moved;
      }
    }
  }
  return change;
}

export async function main(argv = process.argv.slice(2)) {
  const o = parseArgs(argv);
  if (!existsSync(BTF_DIST)) throw new Error(`${BTF_DIST} is missing; run \`npx tsc -b\` (or \`npm run build\`) first`);
  const { Btf, extractBtf, validateBtf } = await import(pathToFileURL(BTF_DIST).href);
  const started = performance.now();
  const baseBytes = readFileSync(o.base);
  const blobs = await extractBtf(baseBytes, o.base);
  if (blobs[0].role !== 'vmlinux') throw new Error(`${o.base}: no vmlinux btf`);
  // One mutable copy; each kernel's bytes are snapshotted before the next changes.
  const raw = Buffer.from(blobs[0].bytes);
  const btf = Btf.parse(raw);
  validateBtf(btf);
  const pool = candidates(btf);
  if (pool.length < 16) throw new Error(`only ${pool.length} structs can change; need a bigger base`);
  const rand = prng(o.seed);
  const outDir = resolve(o.out);
  const seriesDir = join(outDir, SERIES.distro, SERIES.release, SERIES.arch);
  mkdirSync(seriesDir, { recursive: true });
  const kernels = [];
  const pending = new Set();
  let checked = 0;
  let checkMs = 0;
  const log = o.quiet ? () => undefined : (s) => process.stderr.write(s);
  for (let k = 1; k <= o.count; k++) {
    const changes = [];
    if (k > 1) {
      const n = 2 + Math.floor(rand() * 3);
      for (let c = 0; c < n; c++) {
        const id = pool[Math.floor(rand() * pool.length)];
        changes.push(applyChange(btf, id, rand() < 0.6 ? 'insert' : 'grow'));
      }
      if (k === 2 || k === o.count || (o.checkEvery > 0 && k % o.checkEvery === 0)) {
        const t0 = performance.now();
        // A fresh parse: validateBtf caches its verdict per Btf object.
        validateBtf(Btf.parse(Buffer.from(raw)));
        checkMs += performance.now() - t0;
        checked++;
      }
    }
    const uname = SERIES.uname(k);
    const sha256 = createHash('sha256').update(raw).digest('hex');
    kernels.push({ kernel: `${SERIES.distro}/${SERIES.release}/${SERIES.arch}/${uname}`, btfSha256: sha256, changes });
    if (o.format === 'btf') {
      writeFileSync(join(seriesDir, `${uname}.btf`), raw);
    } else {
      while (pending.size >= o.jobs) await Promise.race(pending);
      const p = xzTo(join(seriesDir, `${uname}.btf.tar.xz`), tarOne(`${uname}.btf`, Buffer.from(raw)), o.xzLevel);
      pending.add(p);
      p.finally(() => pending.delete(p)).catch(() => undefined);
    }
    if (k % 50 === 0 || k === o.count) log(`\rmake-synthetic-archive: ${k}/${o.count} kernels`);
  }
  await Promise.all(pending);
  log('\n');
  const seconds = (performance.now() - started) / 1000;
  writeFileSync(join(outDir, 'manifest.json'), `${JSON.stringify({
    format: 'btf-atlas-synthetic/1',
    base: o.base.startsWith(ROOT) ? o.base.slice(ROOT.length + 1) : o.base,
    baseBtfSha256: createHash('sha256').update(blobs[0].bytes).digest('hex'),
    seed: o.seed,
    count: o.count,
    fileFormat: o.format,
    xzLevel: o.format === 'tar.xz' ? o.xzLevel : undefined,
    candidates: pool.length,
    kernels,
  }, null, 1)}\n`);
  const nChanges = kernels.reduce((s, k) => s + k.changes.length, 0);
  console.log(`make-synthetic-archive: ${o.count} kernels (${nChanges} struct changes over ${pool.length} candidate structs) in ${outDir} ` +
    `in ${seconds.toFixed(1)} s (${o.format}${o.format === 'tar.xz' ? `, xz -${o.xzLevel}, ${o.jobs} jobs` : ''}; validated ${checked} blobs in ${(checkMs / 1000).toFixed(1)} s)`);
  return { outDir, seconds };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`make-synthetic-archive: ${err.message}`);
    process.exit(1);
  });
}
