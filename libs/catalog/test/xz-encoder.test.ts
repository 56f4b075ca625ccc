import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extract } from 'tar-stream';
import { extractBtf, unxz } from '@btf-atlas/btf';
import { buildBtfTarXz, sha256Hex, writeReproducibleTar, XZ_PRESET } from '@btf-atlas/catalog';
import { loadNativeLzma, selectXzEncoder, singleCallLayout, wasmEncode, xzEncoder, type XzEncoder } from '../src/xz-encoder.js';
import { CORPUS_DIR } from '../../btf/test/support/corpus.js';

const CORPUS_KERNEL = join(CORPUS_DIR, 'archive/debian/12/x86_64/6.1.0-50-amd64.btf.tar.xz');

/**
 * sha256 of tarballs as the WebAssembly-only encoder made them (before the native one): catalogs recorded these, and
 * mirrors serve them as strong ETags, so they must never change.
 */
const EARLIER = {
  corpusPreset1: 'fa5f821ac362e6cdc8d21a625f8bbe32384172654005d8d89d0f79c350b23465',
  corpusHeadPreset6: '60bfab5a70d7cc67ac23d1a653a866d629bb4e545d05d7a5ebecc755f7982fe1',
};

/** Platforms whose node-liblzma package ships a prebuilt addon: there the native encoder must load. */
const PREBUILT = ['linux-x64', 'darwin-arm64', 'win32-x64'].includes(`${process.platform}-${process.arch}`);

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/** The members of a tar (name, mode, mtime, uid, gid, type, bytes), read with tar-stream. */
async function tarMembers(tar: Uint8Array) {
  const out: { name: string; mode?: number; mtime?: Date; uid?: number; gid?: number; uname?: string; type?: string | null; data: Buffer }[] = [];
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      const parts: Buffer[] = [];
      stream.on('data', (c: Buffer) => parts.push(c));
      stream.on('end', () => {
        out.push({ name: h.name, mode: h.mode, mtime: h.mtime, uid: h.uid, gid: h.gid, uname: h.uname, type: h.type, data: Buffer.concat(parts) });
        next();
      });
      stream.resume();
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  Readable.from([Buffer.from(tar)]).pipe(ex);
  await done;
  return out;
}

function hasTool(cmd: string): boolean {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

describe('tarball xz encoder', () => {
  let raw: Uint8Array;
  let native: XzEncoder;
  let wasm: XzEncoder;
  let warnings: { code?: string; message: string }[];
  const onWarning = (w: Error & { code?: string }): void => {
    warnings.push({ code: w.code, message: w.message });
  };

  beforeAll(async () => {
    raw = (await extractBtf(readFileSync(CORPUS_KERNEL), 'corpus'))[0].bytes;
    warnings = [];
    process.on('warning', onWarning);
    native = await selectXzEncoder();
    // The fallback, as a platform without a usable addon gets it: the real loader's failure, injected.
    wasm = await selectXzEncoder(() => Promise.reject(new Error('injected: no prebuilt addon for this platform')));
    // process.emitWarning delivers on the next tick.
    await new Promise((r) => setImmediate(r));
  });

  afterAll(() => {
    process.off('warning', onWarning);
  });

  it('uses the native addon where node-liblzma ships one', async () => {
    if (PREBUILT) {
      expect(native.kind).toBe('native');
      expect((await xzEncoder()).kind).toBe('native');
    }
    expect((await loadNativeLzma().then(() => 'native', () => 'wasm'))).toBe(native.kind);
  });

  it('falls back to the WebAssembly build with one warning line when the addon does not load', () => {
    expect(wasm.kind).toBe('wasm');
    const ours = warnings.filter((w) => w.code === 'BTF_ATLAS_XZ_WASM' && w.message.includes('injected: no prebuilt addon'));
    expect(ours).toHaveLength(1);
    expect(ours[0].message).not.toContain('\n');
    // Where the addon loads, the real selection warned about nothing.
    if (PREBUILT) expect(warnings.filter((w) => w.code === 'BTF_ATLAS_XZ_WASM')).toHaveLength(1);
  });

  it('keeps the bytes of tarballs made before (sha256 recorded by catalogs and served as ETags)', async () => {
    const tar = writeReproducibleTar('6.1.0-50-amd64.btf', raw);
    expect(sha256Hex(await buildBtfTarXz('6.1.0-50-amd64', raw))).toBe(EARLIER.corpusPreset1);
    expect(sha256Hex(await native.encode(tar, XZ_PRESET))).toBe(EARLIER.corpusPreset1);
    expect(sha256Hex(await wasm.encode(tar, XZ_PRESET))).toBe(EARLIER.corpusPreset1);
    // An earlier preset (EARLIER_XZ_PRESETS), as archive.ts rebuilds a pruned blob of such a row.
    const head = writeReproducibleTar('6.1.0-50-amd64.btf', raw.subarray(0, 512 * 1024));
    expect(sha256Hex(await native.encode(head, 6))).toBe(EARLIER.corpusHeadPreset6);
    expect(sha256Hex(await wasm.encode(head, 6))).toBe(EARLIER.corpusHeadPreset6);
  }, 60_000);

  it('gives the same bytes twice, and the same bytes natively as in WebAssembly, whatever the data and preset', async () => {
    const inputs: Record<string, Uint8Array> = {
      btfHead: writeReproducibleTar('k.btf', raw.subarray(0, 300_000)),
      zeros64k: new Uint8Array(65536),
      text: Buffer.from('struct task_struct { int pid; };\n'.repeat(5000)),
      mixed: Buffer.concat([randomBytes(70_000), Buffer.alloc(300_000, 1), randomBytes(1000)]),
      random: randomBytes(150_000),
      tiny: Buffer.from('x'),
    };
    for (const [name, data] of Object.entries(inputs)) {
      for (const preset of [0, 1, 6]) {
        const a = await native.encode(data, preset);
        const b = await native.encode(data.slice(), preset);
        const w = await wasmEncode(data, preset);
        expect(same(a, b), `${name} preset ${preset}: two runs`).toBe(true);
        expect(sha256Hex(a), `${name} preset ${preset}: native vs wasm`).toBe(sha256Hex(w));
        expect(same(await unxz(a), data), `${name} preset ${preset}: round trip`).toBe(true);
      }
    }
  }, 60_000);

  it.skipIf(!PREBUILT)('rewrites the addon stream into the single-call layout (not only falling back to WebAssembly)', async () => {
    const mod = await loadNativeLzma();
    const data = writeReproducibleTar('k.btf', raw.subarray(0, 300_000));
    const stream = await mod.xzAsync(Buffer.from(data), { preset: 1, check: mod.check.CRC64, threads: 1, chunkSize: 1 << 20 });
    // The streaming encoder's own layout differs (block header without sizes, another index)…
    const w = await wasmEncode(data, 1);
    expect(same(stream, w)).toBe(false);
    // …and laid out again it is the single-call encoder's, byte for byte.
    const laid = singleCallLayout(stream, data.length);
    expect(laid).toBeDefined();
    expect(sha256Hex(laid!)).toBe(sha256Hex(w));
    // Incompressible data, a stream of another length, or not an xz stream: left to the WebAssembly build.
    const rnd = randomBytes(100_000);
    expect(singleCallLayout(await mod.xzAsync(rnd, { preset: 1, check: mod.check.CRC64, threads: 1, chunkSize: 1 << 20 }), rnd.length)).toBeUndefined();
    expect(singleCallLayout(stream, data.length + 1)).toBeUndefined();
    expect(singleCallLayout(data, data.length)).toBeUndefined();
  });

  it('makes a tarball tar-stream reads back: one member UNAME_R.btf, mode 0444, mtime 0, uid/gid 0, owner root', async () => {
    for (const enc of [native, wasm]) {
      const xz = await enc.encode(writeReproducibleTar('6.1.0-50-amd64.btf', raw), XZ_PRESET);
      const members = await tarMembers(await unxz(xz));
      expect(members).toHaveLength(1);
      expect(members[0]).toMatchObject({ name: '6.1.0-50-amd64.btf', mode: 0o444, uid: 0, gid: 0, uname: 'root', type: 'file' });
      expect(members[0].mtime!.getTime()).toBe(0);
      expect(sha256Hex(members[0].data)).toBe(sha256Hex(raw));
    }
  });

  it.skipIf(!hasTool('xz') || !hasTool('tar'))('is read by xz -t and tar -tJf (what BTFHub clients run)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'btf-atlas-xz-'));
    try {
      const file = join(dir, '6.1.0-50-amd64.btf.tar.xz');
      writeFileSync(file, await buildBtfTarXz('6.1.0-50-amd64', raw));
      expect(spawnSync('xz', ['-t', file]).status).toBe(0);
      const list = spawnSync('tar', ['-tvJf', file], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
      expect(list.status).toBe(0);
      expect(list.stdout.replace(/ +/g, ' ')).toBe(`-r--r--r-- root/root ${raw.length} 1970-01-01 00:00 6.1.0-50-amd64.btf\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
