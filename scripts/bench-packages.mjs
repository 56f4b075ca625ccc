#!/usr/bin/env node
// Package benchmark (`npm run bench:packages`; never part of `npm test`).
//
// 1. From a downloaded .deb to a committed kernel, in process, by phase: read the package (ar, data.tar
//    decompression, the kernel image and its payload: libs/pkg readKernelPackage), decode + validate + normalize
//    (prepareKernel), write one transaction (writeKernel) into a fresh catalog. Target: <= 2.5 s in all.
//    Then, after the commit, what the kernel's derive job does (its btfhub-archive tarball, deriveKernelFiles),
//    timed on its own: the kernel answers before it is done.
//    Reference in the same run: `dpkg-deb --fsys-tarfile X | tar -x` (the system's own unpacking of the package,
//    no image decompression, no BTF) and `bpftool btf dump file vmlinux format raw > /dev/null` on the result.
// 2. Sync plan over a Packages index of 200 kernels of which 199 are known (served on loopback, gzip index, as a
//    mirror would serve it): libs/sync planSync end to end. Target: <= 2 s.
//
// Options: --deb FILE (default: the newest linux-binary-*-amd64 of sid, downloaded once into the OS temp folder
// with libs/sync from BTF_ATLAS_DEBIAN_MIRROR or the apt sources), --runs N (default 3), --modules none|all.
import { execSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pathToFileURL } from 'node:url';
import { ROOT, quantile } from './lib/bench-common.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const RUNS = Number(opt('--runs', 3));
const MODULES = opt('--modules', 'none');
const lib = (name) => import(pathToFileURL(join(ROOT, `libs/${name}/dist/index.js`)).href);
const pkg = await lib('pkg');
const catalogLib = await lib('catalog');
const sync = await lib('sync');
const median = (xs) => quantile(xs, 0.5);
const ms = (x) => `${x.toFixed(0)} ms`;

async function defaultDeb() {
  const cache = join(tmpdir(), 'btf-atlas-bench-packages');
  mkdirSync(cache, { recursive: true });
  const have = readdirSync(cache).filter((f) => f.endsWith('.deb'));
  if (have.length > 0) return join(cache, have[0]);
  const mirror = await sync.defaultDebianMirror({ override: sync.loadSyncConfig(process.env).debianMirror });
  const plan = await sync.planSync({ mirror, suites: ['sid'], archs: ['amd64'], distro: 'debian', isKnown: () => false });
  const k = plan.kernels.find((x) => /-amd64$/.test(x.unameR) && !/cloud|rt/.test(x.unameR)) ?? plan.kernels[0];
  const image = k.packages.find((p) => p.role === 'image');
  const got = await sync.downloadPackage(image.url, { sha256: image.sha256, size: image.size, dest: join(cache, image.filename.split('/').pop()) });
  return got.path;
}

const deb = opt('--deb', undefined) ?? (await defaultDeb());
console.log(`bench-packages — node ${process.version}, ${RUNS} runs, package ${deb.split('/').pop()}\n`);

// 1. .deb → committed kernel, by phase.
const phases = { read: [], prepare: [], write: [], total: [], derive: [] };
let kernelName = '';
for (let i = 0; i < RUNS; i++) {
  const dir = mkdtempSync(join(tmpdir(), 'btf-atlas-bench-pkg-'));
  const db = join(dir, 'atlas.db');
  const catalog = catalogLib.openCatalog(db);
  const blobs = catalogLib.BlobStore.forCatalog(db);
  const t0 = performance.now();
  const p = await pkg.readKernelPackage(deb, { modules: MODULES === 'all' || MODULES === 'none' ? MODULES : MODULES.split(',') });
  const t1 = performance.now();
  const kref = catalogLib.krefFromPackage({ format: p.format, ...p.meta }, {});
  kernelName = catalogLib.formatKref(kref);
  const prepared = await catalogLib.prepareKernel({
    kref,
    file: { source: deb, bytes: p.vmlinux.btf },
    modules: p.modules.map((m) => ({ name: m.name, source: m.from, bytes: m.btf })),
  });
  const t2 = performance.now();
  catalogLib.writeKernel(catalog, blobs, prepared);
  const t3 = performance.now();
  await catalogLib.deriveKernelFiles(catalog, blobs, kernelName);
  phases.derive.push(performance.now() - t3);
  catalog.close();
  rmSync(dir, { recursive: true, force: true });
  phases.read.push(t1 - t0);
  phases.prepare.push(t2 - t1);
  phases.write.push(t3 - t2);
  phases.total.push(t3 - t0);
}
const total = median(phases.total);
console.log(`${kernelName}: .deb -> committed kernel (median of ${RUNS})`);
console.log(`  read package (ar, data.tar, image payload, BTF): ${ms(median(phases.read))}`);
console.log(`  decode + validate + normalize:                  ${ms(median(phases.prepare))}`);
console.log(`  write (one transaction, blobs):                 ${ms(median(phases.write))}`);
console.log(`  total: ${ms(total)} (target <= 2500 ms: ${total <= 2500 ? 'met' : 'NOT met'})`);
console.log(`  then its derive job (btfhub-archive tarball, xz preset 6), after the commit: ${ms(median(phases.derive))}`);

// Reference: the system's own unpacking, and bpftool reading the BTF, in this run.
if (spawnSync('dpkg-deb', ['--version'], { stdio: 'ignore' }).status === 0) {
  const dir = mkdtempSync(join(tmpdir(), 'btf-atlas-bench-dpkg-'));
  const t0 = performance.now();
  execSync(`dpkg-deb --fsys-tarfile '${deb}' | tar -x -C '${dir}'`);
  const unpack = performance.now() - t0;
  console.log(`  reference: dpkg-deb --fsys-tarfile | tar -x: ${ms(unpack)} (ratio ${(total / unpack).toFixed(2)}; it leaves the image compressed and reads no BTF)`);
  rmSync(dir, { recursive: true, force: true });
}
if (spawnSync('bpftool', ['version'], { stdio: 'ignore' }).status === 0) {
  const dir = mkdtempSync(join(tmpdir(), 'btf-atlas-bench-btf-'));
  const p = await pkg.readKernelPackage(deb, { modules: 'none' });
  const f = join(dir, 'vmlinux.btf');
  (await import('node:fs')).writeFileSync(f, p.vmlinux.btf);
  const t0 = performance.now();
  spawnSync('bpftool', ['btf', 'dump', 'file', f, 'format', 'raw'], { stdio: 'ignore' });
  console.log(`  reference: bpftool btf dump file vmlinux.btf format raw > /dev/null: ${ms(performance.now() - t0)}`);
  rmSync(dir, { recursive: true, force: true });
}

// 2. Sync plan: 200 kernels, 199 known.
const sha = (b) => createHash('sha256').update(b).digest('hex');
const stanzas = [];
for (let i = 0; i < 200; i++) {
  const u = `6.1.0-${i + 1}-amd64`;
  stanzas.push(`Package: linux-image-${u}\nSource: linux-signed-amd64\nVersion: 6.1.${100 + i}-1\nArchitecture: amd64\nMaintainer: Debian Kernel Team <debian-kernel@lists.debian.org>\nDescription: Linux for tests\nFilename: pool/main/l/linux-signed-amd64/linux-image-${u}_6.1.${100 + i}-1_amd64.deb\nSize: 70000000\nSHA256: ${sha(u)}\n`);
  // Other packages, as a real index has ~60,000 of them.
  for (let j = 0; j < 100; j++) stanzas.push(`Package: pkg-${i}-${j}\nVersion: 1.0-1\nArchitecture: amd64\nDescription: filler\nFilename: pool/main/p/pkg/pkg-${i}-${j}_1.0-1_amd64.deb\nSize: 1000\nSHA256: ${sha(`${i}-${j}`)}\n`);
}
const plain = Buffer.from(stanzas.join('\n'));
const gz = gzipSync(plain);
const release = `Suite: stable\nCodename: bookworm\nVersion: 12.9\nArchitectures: amd64\nComponents: main\nSHA256:\n ${sha(plain)} ${plain.length} main/binary-amd64/Packages\n ${sha(gz)} ${gz.length} main/binary-amd64/Packages.gz\n`;
const files = new Map([['/debian/dists/bookworm/Release', Buffer.from(release)], ['/debian/dists/bookworm/main/binary-amd64/Packages.gz', gz]]);
const server = createServer((req, res) => {
  const body = files.get(new URL(req.url, 'http://x').pathname);
  if (!body) return res.writeHead(404).end();
  res.writeHead(200, { 'content-length': body.length }).end(body);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const mirror = `http://127.0.0.1:${server.address().port}/debian`;
const times = [];
let planned;
for (let i = 0; i < Math.max(3, RUNS); i++) {
  const t0 = performance.now();
  planned = await sync.planSync({ mirror, suites: ['bookworm'], archs: ['amd64'], distro: 'debian', isKnown: (k) => !k.endsWith('/6.1.0-200-amd64') });
  times.push(performance.now() - t0);
}
server.close();
const planMs = median(times);
console.log(`\nsync plan: index of ${stanzas.length} packages (${(plain.length / 1e6).toFixed(1)} MB, ${(gz.length / 1e6).toFixed(1)} MB gzip), 200 kernels, 199 known`);
console.log(`  ${planned.kernels.length} to fetch, ${planned.known.length} known; median ${ms(planMs)} (target <= 2000 ms: ${planMs <= 2000 ? 'met' : 'NOT met'})`);
if (!existsSync(deb)) process.exit(1);
