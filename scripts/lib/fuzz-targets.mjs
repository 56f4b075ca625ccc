// The inputs scripts/fuzz.mjs mutates and the entry points it runs them through.
//
// A target is a chain of layers, innermost first (raw BTF, then the ELF, tar, compressed stream, ar or rpm
// around it), each with the bytes of the unmutated input at that layer and how the next layer wraps it. A case
// mutates one layer with mutators that know its structure and wraps the result back up, so a damaged BTF record
// arrives inside a well-formed .deb and a damaged tar header inside a valid xz stream. The wrappers are the test
// suite's own builders (libs/*/test/support, loaded through scripts/lib/ts-import.mjs), not copies of them.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { importTs } from './ts-import.mjs';
import { elfSections, mutateAr, mutateBtfExt, mutateElf, mutateRecords, mutateSection, mutateStrings, mutateTar, spliceInputs } from './fuzz-mutate.mjs';

const CORPUS = 'fixtures/corpus/archive/debian/12/x86_64';
const UNAME = '6.1.0-fuzz-amd64';

/** The libraries, support builders and the seed inputs, loaded once per process. */
export async function loadWorld(root) {
  const btf = await import('@btf-atlas/btf');
  const pkg = await import('@btf-atlas/pkg');
  const core = await import('@btf-atlas/core');
  const catalog = await import('@btf-atlas/catalog');
  const fz = await importTs(join(root, 'libs/btf/test/support/fuzz-inputs.ts'));
  const build = await importTs(join(root, 'libs/pkg/test/support/build.ts'));
  const { writeElf } = await importTs(join(root, 'libs/btf/test/support/elf-writer.ts'));

  // The real kernel: CO-RE relocations resolve against it, the real module BTF is split on it, slices come from it.
  const [vmlinuxBlob] = await btf.extractBtf(readFileSync(join(root, `${CORPUS}/6.1.0-50-amd64.btf.tar.xz`)), '6.1.0-50-amd64.btf.tar.xz');
  const kernel = btf.Btf.parse(vmlinuxBlob.bytes);
  kernel.ownTypes();
  btf.validateBtf(kernel);
  const world = { root, btf, pkg, core, catalog, fz, build, writeElf, kernel };
  world.targets = await makeTargets(world);
  return world;
}

/** One layer: its unmutated bytes, what kind of structure it has, and how the next layer wraps it. */
const layer = (kind, bytes, extra = {}) => ({ kind, bytes, ...extra });

/** Builds the chain from the innermost bytes outwards: `wraps` are [kind, fn] pairs. */
function chain(inner, wraps) {
  const layers = [inner];
  let bytes = inner.bytes;
  for (const [kind, wrap] of wraps) {
    bytes = wrap(bytes);
    layers[layers.length - 1].wrap = wrap;
    layers.push(layer(kind, bytes));
  }
  return layers;
}

async function makeTargets(w) {
  const { btf, fz, build, writeElf, kernel, root } = w;
  const parse = (bytes, base) => btf.Btf.parse(bytes, { base });
  const btfLayer = (bytes, base) => layer('btf', bytes, { btf: parse(bytes, base) });
  const s48 = fz.sliceBase(kernel, 48);
  const s160 = fz.sliceBase(kernel, 160);
  const s400 = fz.sliceBase(kernel, 400);
  const sBe = btf.swapBtfEndianness(parse(s160));
  const sLayout = fz.withLayoutSection(s160);
  const tinyBase = build.baseBtf();
  const tinyBaseBtf = parse(tinyBase);
  const tinyModule = build.moduleBtf();
  const nfConntrack = readFileSync(join(root, `${CORPUS}/6.1.0-50-amd64/modules/nf_conntrack.btf`));
  const elf64 = (b) => writeElf({ bits: 64, littleEndian: true, sections: [{ name: '.text', data: new Uint8Array(8) }, { name: '.BTF', data: b }] });
  const elf32be = (b) => writeElf({ bits: 32, littleEndian: false, sections: [{ name: '.BTF', data: b }] });
  const tarOf = (name, others = []) => (b) => fz.writeTar([{ name, data: b }, ...others]);
  const xzStored = (b) => fz.writeXzStored(b);

  const T = [];
  const add = (name, entry, weight, layers, opts = {}) => T.push({ name, entry, weight, layers, ...opts });

  // Raw BTF through decode, validate, vmlinux.h, normalize (and a real ingest for a sample).
  add('raw: 48 types of 6.1', 'raw', 10, [btfLayer(s48)], { ingest: true, file: 'vmlinux.btf' });
  add('raw: 160 types of 6.1', 'raw', 10, [btfLayer(s160)], { ingest: true, file: 'vmlinux.btf' });
  add('raw: 400 types of 6.1', 'raw', 2, [btfLayer(s400)], { file: 'vmlinux.btf' });
  add('raw: 160 types, big-endian', 'raw', 5, [btfLayer(sBe)], { file: 'vmlinux.btf' });
  add('raw: 160 types, 32-byte header + layout section', 'raw', 4, [btfLayer(sLayout)], { file: 'vmlinux.btf' });
  add('raw: tiny base', 'raw', 4, [btfLayer(tinyBase)], { ingest: true, file: 'vmlinux.btf' });
  // Split BTF on its base: a tiny module on a tiny base, and a real module on the real kernel.
  add('split: tiny module on tiny base', 'raw', 6, [btfLayer(tinyModule, tinyBaseBtf)], { base: tinyBaseBtf });
  add('split: 6.1 nf_conntrack on 6.1', 'raw', 0.3, [btfLayer(nfConntrack, kernel)], { base: kernel });

  // Containers through extractBtf, then each blob through the raw pipeline (modules on the vmlinux blob).
  const modMember = { name: `${UNAME}/modules/ext4.btf`, data: tinyModule };
  add('container: gzip', 'container', 1.5, chain(btfLayer(s160), [['bytes', gzipSync]]), { file: 'k.btf.gz', ingest: true });
  add('container: xz', 'container', 1, chain(btfLayer(s160), [['bytes', xzStored]]), { file: 'k.btf.xz' });
  add('container: tar (vmlinux + module)', 'container', 1.5, chain(btfLayer(tinyBase), [['tar', tarOf(`${UNAME}.btf`, [modMember])]]), { file: 'k.btf.tar', ingest: true });
  add('container: tar, module layer', 'container', 1, chain(btfLayer(tinyModule, tinyBaseBtf), [['tar', (b) => fz.writeTar([{ name: `${UNAME}.btf`, data: tinyBase }, { name: `${UNAME}/modules/ext4.btf`, data: b }])]]), { file: 'k.btf.tar' });
  add('container: tar.xz', 'container', 1.5, chain(btfLayer(s48), [['tar', tarOf(`${UNAME}.btf`, [modMember])], ['bytes', xzStored]]), { file: 'k.btf.tar.xz', ingest: true });
  add('container: tar.gz', 'container', 1, chain(btfLayer(s48), [['tar', tarOf(`${UNAME}.btf`)], ['bytes', gzipSync]]), { file: 'k.btf.tar.gz' });
  add('container: gzip in xz around tar', 'container', 0.7, chain(btfLayer(tinyBase), [['tar', tarOf(`${UNAME}.btf`, [modMember])], ['bytes', gzipSync], ['bytes', xzStored]]), { file: 'k.btf.tar.gz.xz' });
  add('container: tar of gzipped members', 'container', 0.7, chain(btfLayer(tinyBase), [['bytes', gzipSync], ['tar', tarOf(`${UNAME}.btf.gz`, [{ name: `${UNAME}/modules/ext4.btf.gz`, data: gzipSync(tinyModule) }])]]), { file: 'k.tar' });
  add('container: tar of 64 members', 'container', 0.3, chain(btfLayer(tinyModule, tinyBaseBtf), [['tar', (b) => fz.writeTar([{ name: `${UNAME}.btf`, data: tinyBase }, ...Array.from({ length: 63 }, (_, i) => ({ name: `${UNAME}/modules/m${i}.btf`, data: b }))])]]), { file: 'k.btf.tar' });
  add('container: ELF64 .BTF', 'container', 1.5, chain(btfLayer(s160), [['elf', elf64]]), { file: 'vmlinux', ingest: true });
  add('container: ELF32 big-endian .BTF', 'container', 1, chain(btfLayer(sBe), [['elf', elf32be]]), { file: 'vmlinux' });
  const realXz = await build.xz(fz.writeTar([{ name: `${UNAME}.btf`, data: s48 }]));
  add('container: tar.xz (real LZMA2)', 'container', 0.5, [layer('bytes', realXz)], { file: 'k.btf.tar.xz' });

  // Packages through readKernelPackage, then the BTF found through the raw pipeline.
  const koPath = `./usr/lib/modules/${UNAME}/kernel/fs/ext4/ext4.ko`;
  const vmlinuzPath = `./usr/lib/modules/${UNAME}/vmlinuz`;
  const control = gzipSync(fz.writeTar([{ name: './control', data: Buffer.from(build.CONTROL) }]));
  const debOf = (kind) => (data) => build.ar([{ name: 'debian-binary', data: Buffer.from('2.0\n') }, { name: 'control.tar.gz', data: control }, { name: `data.tar.${kind}`, data }]);
  const dataTar = (vmlinuz) => fz.writeTar([{ name: vmlinuzPath, data: vmlinuz }, { name: koPath, data: elf64(tinyModule) }]);
  add('package: .deb (gz), vmlinux layer', 'package', 1, chain(btfLayer(tinyBase), [['elf', elf64], ['tar', dataTar], ['bytes', gzipSync], ['ar', debOf('gz')]]));
  add('package: .deb (zst), bzImage', 'package', 0.6, chain(btfLayer(s48), [['elf', elf64], ['bytes', (b) => build.bzImage(gzipSync(b))], ['tar', dataTar], ['bytes', (b) => build.zstdRaw(b)], ['ar', debOf('zst')]]));
  add('package: .deb (gz), module layer', 'package', 0.6, chain(btfLayer(tinyModule, tinyBaseBtf), [['elf', elf64], ['tar', (ko) => fz.writeTar([{ name: vmlinuzPath, data: elf64(tinyBase) }, { name: koPath, data: ko }])], ['bytes', gzipSync], ['ar', debOf('gz')]]));
  const debXz = await build.deb([{ path: vmlinuzPath, data: elf64(tinyBase) }, { path: koPath, data: elf64(tinyModule) }], { data: 'xz' });
  add('package: .deb (xz, real LZMA2)', 'package', 0.6, [layer('ar', debXz)]);
  const rpmFiles = (vmlinuz) => [{ path: `./lib/modules/${UNAME}/vmlinuz`, data: vmlinuz }, { path: `./lib/modules/${UNAME}/kernel/fs/ext4/ext4.ko`, data: elf64(tinyModule) }];
  const rpmGz = await build.rpm(rpmFiles(elf64(tinyBase)), 'gzip');
  const rpmPrefix = rpmGz.subarray(0, rpmGz.length - gzipSync(build.cpio(rpmFiles(elf64(tinyBase)))).length);
  add('package: .rpm (gzip)', 'package', 1, chain(btfLayer(tinyBase), [['elf', elf64], ['bytes', (b) => build.cpio(rpmFiles(b))], ['bytes', (b) => Buffer.concat([rpmPrefix, gzipSync(b)])]]));
  add('package: .rpm (xz, real LZMA2)', 'package', 0.4, [layer('bytes', await build.rpm(rpmFiles(elf64(tinyBase)), 'xz'))]);
  add('package: arm64 Image', 'package', 0.5, chain(btfLayer(s48), [['bytes', (b) => build.arm64Image(b)]]));
  add('package: EFI zboot', 'package', 0.4, chain(btfLayer(tinyBase), [['elf', elf64], ['bytes', gzipSync], ['bytes', (b) => build.zboot(b)]]));

  // BPF objects through readBpfObject and the CO-RE resolver against the real 6.1 kernel.
  const objects = [
    ...readdirSync(join(root, 'fixtures/core/objects')).filter((f) => f.endsWith('.o')).map((f) => join(root, 'fixtures/core/objects', f)),
    join(root, 'libs/core/test/fixtures/objects/core_kinds.bpfel.o'),
    join(root, 'libs/core/test/fixtures/objects/core_kinds.bpfeb.o'),
  ];
  for (const path of objects) {
    const bytes = new Uint8Array(readFileSync(path));
    const e = elfSections(bytes);
    const s = e.sections.find((x) => x.name === '.BTF');
    add(`object: ${path.slice(path.lastIndexOf('/') + 1)}`, 'object', 2, [layer('obj', bytes, { btf: parse(bytes.subarray(s.offset, s.offset + s.size)) })]);
  }
  return T;
}

// ---------------------------------------------------------------------------------------------------------------
// Mutation.

/** One structure-aware mutation of a layer's bytes (`seed` is the layer as built: record offsets hold for it). */
export function mutateLayer(w, rng, L, bytes, others) {
  const { fz } = w;
  const generic = () => fz.mutateBytes(rng, bytes, true);
  // A structure-aware mutator that finds no structure to work on (a header already cut away) gives way to a
  // generic one; so does one that trips over bytes an earlier step damaged.
  const pickAndTry = (fns) => {
    const fn = fns[rng.int(fns.length)];
    try {
      return fn() ?? generic();
    } catch {
      return generic();
    }
  };
  switch (L.kind) {
    case 'btf':
      return pickAndTry([
        () => fz.mutateBtf(rng, L.btf, bytes),
        () => fz.mutateBtf(rng, L.btf, bytes),
        () => mutateStrings(rng, bytes),
        () => mutateRecords(rng, L.btf, bytes),
        generic,
        () => spliceInputs(rng, bytes, rng.pick(others.btf)),
      ]);
    case 'tar':
      return pickAndTry([() => mutateTar(rng, bytes), () => mutateTar(rng, bytes), generic]);
    case 'ar':
      return pickAndTry([() => mutateAr(rng, bytes), generic]);
    case 'elf':
      return pickAndTry([() => mutateElf(rng, bytes), generic, () => mutateSection(rng, bytes, '.BTF', (b) => fz.mutateBytes(rng, b, true))]);
    case 'obj':
      return pickAndTry([
        () => mutateElf(rng, bytes),
        () => mutateSection(rng, bytes, '.BTF', (b) => (b.length === L.btf.bytes.length ? fz.mutateBtf(rng, L.btf, b) : undefined)),
        () => mutateSection(rng, bytes, '.BTF', (b) => mutateStrings(rng, b)),
        () => mutateSection(rng, bytes, '.BTF.ext', (b) => mutateBtfExt(rng, b)),
        () => mutateSection(rng, bytes, '.BTF.ext', (b) => mutateBtfExt(rng, b)),
        () => mutateSection(rng, bytes, '.symtab', (b) => fz.mutateBytes(rng, b, true)),
        generic,
      ]);
    default:
      return rng.chance(0.05) ? spliceInputs(rng, bytes, rng.pick(others.bytes)) : generic();
  }
}

/**
 * The input of case `seed`: a target picked by weight, one layer of it mutated 1 to 3 times, wrapped back up,
 * and sometimes a byte-level edit of the outermost layer on top. Deterministic in the seed.
 */
export function makeCase(w, seed) {
  const rng = new w.fz.Rng(seed);
  const total = w.totalWeight ?? (w.totalWeight = w.targets.reduce((a, t) => a + t.weight, 0));
  let x = (rng.u32() / 0x100000000) * total;
  let target = w.targets[w.targets.length - 1];
  for (const t of w.targets) {
    if ((x -= t.weight) < 0) {
      target = t;
      break;
    }
  }
  const others = w.others ?? (w.others = {
    btf: w.targets.flatMap((t) => t.layers.filter((l) => l.kind === 'btf').map((l) => l.bytes)),
    bytes: w.targets.map((t) => t.layers[t.layers.length - 1].bytes),
  });
  const li = rng.int(target.layers.length);
  const L = target.layers[li];
  const steps = [];
  let bytes = L.bytes;
  const n = 1 + rng.int(3);
  for (let j = 0; j < n; j++) {
    const m = mutateLayer(w, rng, L, bytes, others);
    steps.push(`${L.kind}: ${m.what}`);
    bytes = m.bytes;
  }
  const layerBytes = bytes;
  const wrapFrom = (b) => {
    for (let k = li; k < target.layers.length - 1; k++) b = target.layers[k].wrap(b);
    return b;
  };
  bytes = wrapFrom(bytes);
  let outer = false;
  if (li < target.layers.length - 1 && rng.chance(0.1)) {
    const m = w.fz.mutateBytes(rng, bytes, true);
    steps.push(`outer: ${m.what}`);
    bytes = m.bytes;
    outer = true;
  }
  // How to rebuild the input from smaller bytes at the mutated layer (shrinking keeps the layers around it intact).
  return { target, bytes, steps, rng, layer: li, layerBytes: outer ? bytes : layerBytes, rewrap: outer ? (b) => b : wrapFrom };
}

// ---------------------------------------------------------------------------------------------------------------
// Entry points.

export class FuzzFailure extends Error {
  constructor(stage, err) {
    const e = err;
    super(`${stage}: ${e?.name ?? typeof e}: ${e?.message ?? String(e)}`);
    this.stage = stage;
    this.cause = err;
    /** Stable across shrinking: stage, error class, message with its numbers blanked. */
    this.signature = `${stage}|${e?.name}|${String(e?.message ?? e).replace(/\d+/g, 'N').slice(0, 80)}`;
  }
}

/**
 * The outcome of `fn` at `stage`: its value, or the typed error it threw. A typed error is one of the libraries'
 * own (BtfError, PkgError, CoreError, CatalogError, with a `code`) whose cause chain holds only typed errors and
 * that is not a last-resort wrapper (Btf.parse's "unexpected read failure", extractBtf's "cannot unpack",
 * toPkgError's "unexpected failure"): those keep callers safe but mean a check is missing, so they count as crashes.
 */
export function typedOutcome(w, stage, err) {
  const typedClasses = [w.btf.BtfError, w.pkg.PkgError, w.core.CoreError, w.catalog.CatalogError];
  for (let e = err, depth = 0; e !== undefined && depth < 8; e = e.cause, depth++) {
    if (!typedClasses.some((C) => e instanceof C) || typeof e.code !== 'string') throw new FuzzFailure(stage, e === err ? err : Object.assign(e, { message: `${e?.message} (cause of ${err.name} ${err.code}: ${err.message})` }));
    const reason = e.reason ?? e.message;
    if (/^(unexpected read failure|cannot unpack)/.test(reason) || /unexpected failure:/.test(e.message)) throw new FuzzFailure(stage, err);
  }
  return { error: err.code };
}

/** CPU time (user + system, ms) since `cpu0`. */
const cpuSince = (cpu0) => {
  const d = process.cpuUsage(cpu0);
  return (d.user + d.system) / 1000;
};

/**
 * Records one operation on `out`: its outcome (`stage:ok` or `stage:CODE`) and its CPU time since `cpu0` (`out.longest`
 * is the longest: each entry point is an operation a user or the service runs on its own, a container's members
 * each apart). Returns `{ value }`, or the typed error (throws FuzzFailure for any other).
 */
function settle(w, stage, out, cpu0, ok, valueOrError) {
  const ms = cpuSince(cpu0);
  if (!out.longest || ms > out.longest.ms) out.longest = { stage, ms };
  if (ok) {
    out.push(`${stage}:ok`);
    return { value: valueOrError };
  }
  const r = typedOutcome(w, stage, valueOrError);
  out.push(`${stage}:${r.error}`);
  return r;
}

function run(w, stage, fn, out) {
  const cpu0 = process.cpuUsage();
  let v;
  try {
    v = fn();
  } catch (err) {
    return settle(w, stage, out, cpu0, false, err);
  }
  return settle(w, stage, out, cpu0, true, v);
}

async function runAsync(w, stage, fn, out) {
  const cpu0 = process.cpuUsage();
  let v;
  try {
    v = await fn();
  } catch (err) {
    return settle(w, stage, out, cpu0, false, err);
  }
  return settle(w, stage, out, cpu0, true, v);
}

/** Raw BTF: parse, decode every type, bpftool JSON, validate; vmlinux.h for standalone blobs; normalize if valid. */
function rawPipeline(w, bytes, base, out, opts = {}) {
  const p = run(w, 'parse', () => w.btf.Btf.parse(bytes, { base }), out);
  if (!p.value) return undefined;
  const b = p.value;
  run(w, 'types', () => b.ownTypes(), out);
  run(w, 'json', () => w.btf.dumpRawJson(b), out);
  const v = run(w, 'validate', () => w.btf.validateBtf(b), out);
  if (!base && opts.dumpC !== false) run(w, 'dumpC', () => w.btf.dumpC(b), out);
  if (v.value) run(w, 'normalize', () => w.catalog.normalizeBtf(b, base ? 'm' : ''), out);
  return v.value ? b : undefined;
}

/** Runs one input through its target's entry points; returns the stage outcomes. Throws FuzzFailure on a crash. */
export async function runCase(w, target, bytes) {
  const out = [];
  if (target.entry === 'raw') {
    rawPipeline(w, bytes, target.base, out);
  } else if (target.entry === 'container') {
    const r = await runAsync(w, 'extract', () => w.btf.extractBtf(bytes, target.file), out);
    let vmlinux;
    for (const blob of r.value ?? []) {
      if (blob.role === 'vmlinux') vmlinux = rawPipeline(w, blob.bytes, undefined, out) ?? vmlinux;
      else if (vmlinux) rawPipeline(w, blob.bytes, vmlinux, out);
    }
  } else if (target.entry === 'package') {
    const r = await runAsync(w, 'package', () => w.pkg.readKernelPackage(bytes, { modules: 'all' }), out);
    const vmlinux = r.value?.vmlinux ? rawPipeline(w, r.value.vmlinux.btf, undefined, out) : undefined;
    if (vmlinux) for (const m of r.value.modules) rawPipeline(w, m.btf, vmlinux, out);
  } else {
    const o = run(w, 'object', () => w.core.readBpfObject(bytes), out);
    if (o.value) run(w, 'relo', () => w.core.resolveCoreRelos(o.value, { vmlinux: w.kernel }), out);
  }
  return out;
}

/** The real ingest of one input into `sink` (a temp catalog and blob store): prepareKernel, then writeKernel. */
export async function ingestCase(w, sink, target, bytes, n) {
  const out = [];
  const kref = w.catalog.parseKref(`fuzz/1/x86_64/6.1.0-${n}-amd64`);
  const p = await runAsync(w, 'prepare', () => w.catalog.prepareKernel({ kref, file: { source: target.file, bytes } }), out);
  if (p.value) run(w, 'write', () => w.catalog.writeKernel(sink.catalog, sink.blobs, p.value), out);
  return out;
}
