/**
 * Issue 13 for packages: one budget per input (bytes decoded over every layer and member, members in total,
 * nesting) enforced while streaming, members decoded and dropped one at a time. Each hostile input is made here
 * (kilobytes on disk), read by the built library in a child process, and its refusal checked with its bounds: the
 * typed error, wall time and the child's peak RSS.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readKernelPackage } from '../src/index.js';
import { cpioHeader, readInChild, tarHeader, xzOfZeros } from './support/bombs.js';
import { ar, bzImage, concat, CONTROL, gzip, le32, tar, zstdBomb } from './support/build.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** A bare `readKernelPackage` of a small package peaks at ~60 MB; a refusal may cost this much at most. */
const RSS_BOUND_MB = 250;
const UNAME = '6.1.0-test-amd64';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-pkg-budget-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, bytes: Uint8Array): string {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

async function debOf(dataName: string, data: Uint8Array): Promise<Uint8Array> {
  return ar([
    { name: 'debian-binary', data: Buffer.from('2.0\n') },
    { name: 'control.tar.gz', data: gzip(await tar([{ path: './control', data: Buffer.from(CONTROL) }])) },
    { name: dataName, data },
  ]);
}

/** An .rpm (as support/build.ts writes one) around an already compressed payload. */
function rpmOf(payload: Uint8Array, compressor: string): Uint8Array {
  const lead = new Uint8Array(96);
  lead.set([0xed, 0xab, 0xee, 0xdb, 3, 0], 0);
  const header = (tags: [number, string][]): Uint8Array => {
    const store = tags.map(([, v]) => Buffer.from(`${v}\0`));
    let off = 0;
    const index = tags.map(([tag], i) => {
      const e = Buffer.alloc(16);
      e.writeUInt32BE(tag, 0);
      e.writeUInt32BE(6, 4);
      e.writeUInt32BE(off, 8);
      e.writeUInt32BE(1, 12);
      off += store[i].length;
      return e;
    });
    const intro = Buffer.alloc(16);
    intro.set([0x8e, 0xad, 0xe8, 0x01], 0);
    intro.writeUInt32BE(tags.length, 8);
    intro.writeUInt32BE(off, 12);
    return Buffer.concat([intro, ...index, ...store]);
  };
  const sig = header([]);
  return concat(lead, sig, new Uint8Array((8 - (sig.length % 8)) % 8), header([[1000, 'kernel-core'], [1124, 'cpio'], [1125, compressor]]), payload);
}

describe('one budget per package, enforced while streaming', () => {
  it('a .deb whose data.tar.xz expands to 3 GiB of zeros stops at the budget, in bounded memory', async () => {
    const xz = await xzOfZeros(tarHeader('./usr/share/doc/zeros', 3 * GiB), 3 * GiB + 4096);
    const file = write('bomb.deb', await debOf('data.tar.xz', xz));
    expect(xz.length).toBeLessThan(1024 * 1024);
    // A budget of 128 MiB keeps the test short (liblzma in wasm decodes zeros at ~50 MB/s here); the default
    // 2 GiB is the same code path.
    const r = await readInChild(file, { limits: { maxDecompressedSize: 128 * MiB } });
    expect(r.code, r.message).toBe('PKG_TOO_LARGE');
    expect(r.message).toMatch(/expands past 128 MiB in total/);
    expect(r.message).toMatch(/data\.tar\.xz:usr\/share\/doc\/zeros/);
    expect(r.peakMb, `peak RSS ${r.peakMb.toFixed(0)} MB`).toBeLessThan(RSS_BOUND_MB);
  }, 120_000);

  it("an .rpm whose cpio payload (zstd) expands past the budget stops inside its decoder, in bounded memory", async () => {
    const payload = zstdBomb(cpioHeader('./usr/share/zeros', 0xffff_fff0), 600 * MiB);
    const file = write('bomb.rpm', rpmOf(payload, 'zstd'));
    const r = await readInChild(file, { limits: { maxDecompressedSize: 256 * MiB } });
    expect(r.code, r.message).toBe('PKG_TOO_LARGE');
    expect(r.message).toMatch(/expands past 256 MiB in total \(member payload\.cpio\.zstd:usr\/share\/zeros, after 1 member\)/);
    expect(r.peakMb, `peak RSS ${r.peakMb.toFixed(0)} MB`).toBeLessThan(RSS_BOUND_MB);
  }, 60_000);

  it('the budget is one over every layer and member: compressed modules each under the member cap add up', async () => {
    // Six .ko.gz of an ELF header and 48 MiB of zeros: each is far under the 512 MiB member cap, and without one
    // budget each would be decoded whole; together they pass 128 MiB at the third.
    const elfHead = new Uint8Array(64);
    elfHead.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
    const member = gzip(concat(elfHead, new Uint8Array(48 * MiB)));
    const files = Array.from({ length: 6 }, (_, i) => ({ path: `./usr/lib/modules/${UNAME}/kernel/m${i}.ko.gz`, data: member }));
    const file = write('modules.deb', await debOf('data.tar.gz', gzip(await tar(files))));
    const r = await readInChild(file, { modules: 'all', limits: { maxDecompressedSize: 128 * MiB } });
    expect(r.code, r.message).toBe('PKG_TOO_LARGE');
    expect(r.message).toMatch(/expands past 128 MiB in total \(member data\.tar\.gz:usr\/lib\/modules\/[^/]+\/kernel\/m2\.ko\.gz, after \d+ members\)/);
    expect(r.peakMb, `peak RSS ${r.peakMb.toFixed(0)} MB`).toBeLessThan(RSS_BOUND_MB + 128);
  }, 60_000);

  it('compressed modules that do not start as ELF objects are skipped after their first chunk, not decoded whole', async () => {
    // 64 MiB of zeros each: decoded whole, the eight would be 512 MiB of work.
    const member = gzip(new Uint8Array(64 * MiB));
    const files = Array.from({ length: 8 }, (_, i) => ({ path: `./usr/lib/modules/${UNAME}/kernel/z${i}.ko.gz`, data: member }));
    const file = write('zeros-modules.deb', await debOf('data.tar.gz', gzip(await tar(files))));
    const r = await readInChild(file, { modules: 'all' });
    expect(r.code, r.message).toBe('ok');
    expect(JSON.parse(r.message)).toMatchObject({ modules: 0, skipped: 8 });
    expect(r.ms).toBeLessThan(20_000);
    expect(r.peakMb, `peak RSS ${r.peakMb.toFixed(0)} MB`).toBeLessThan(RSS_BOUND_MB);
  }, 60_000);

  it('a package of 100,001 tiny members is refused at the members limit', async () => {
    const headers = Buffer.alloc(100_001 * 512 + 1024);
    // One header, renamed per member: its checksum grows by the bytes of the name.
    const blank = tarHeader('', 0);
    const blankSum = Number.parseInt(blank.toString('latin1', 148, 154), 8);
    for (let i = 0; i < 100_001; i++) {
      const h = headers.subarray(i * 512, i * 512 + 512);
      blank.copy(h);
      const n = h.write(`./usr/share/f/${i}`, 0, 100, 'latin1');
      let sum = blankSum;
      for (let j = 0; j < n; j++) sum += h[j];
      h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    }
    const file = write('members.deb', await debOf('data.tar.gz', gzip(headers)));
    const r = await readInChild(file, {});
    expect(r.code, r.message).toBe('PKG_TOO_LARGE');
    expect(r.message).toMatch(/holds more than 100000 archive members in total/);
    expect(r.ms).toBeLessThan(30_000);
    expect(r.peakMb, `peak RSS ${r.peakMb.toFixed(0)} MB`).toBeLessThan(RSS_BOUND_MB);
  }, 60_000);
});

describe('kernel images with huge payloads', () => {
  // Each is told by its head as no kernel: with no size stated (the payload streamed, refused after its first
  // block), with its true size stated (decoded whole in one call: at most that size is held), and with a size the
  // stream does not have (the one-call decode fails; streamed and refused after its first block, not read whole).
  it.each([
    ['whose zstd payload is 4 GiB of zeros, its size not stated', 4 * GiB - 1, 0xffff_ffff, 0],
    ['whose zstd payload of 100 MiB states its size', 100 * MiB, 100 * MiB, 100],
    ['that states a size its 4 GiB zstd payload does not have', 4 * GiB - 1, MiB, 0],
  ])('a vmlinuz %s is refused as no ELF vmlinux, in bounded time and memory', async (_what, zeros, stated, heldMb) => {
    const image = bzImage(concat(zstdBomb(new Uint8Array(0), zeros), le32(stated)));
    const file = write(`vmlinuz-${stated}-${UNAME}`, image);
    const r = await readInChild(file, {});
    expect(r.code, r.message).toBe('PKG_BAD_IMAGE');
    expect(r.message).toMatch(/does not decompress to an elf vmlinux/);
    expect(r.ms).toBeLessThan(10_000);
    expect(r.peakMb, `peak RSS ${r.peakMb.toFixed(0)} MB`).toBeLessThan(RSS_BOUND_MB + heldMb);
  }, 60_000);

  it('a vmlinuz whose payload starts as ELF then expands without end stops at the image cap', async () => {
    const elfHead = new Uint8Array(64);
    elfHead.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
    const image = bzImage(concat(zstdBomb(elfHead, 4 * GiB - 1024), le32(0xffff_ffff)));
    const file = write(`vmlinuz-elf-${UNAME}`, image);
    const r = await readInChild(file, { limits: { maxImageSize: 128 * MiB } });
    expect(r.code, r.message).toBe('PKG_TOO_LARGE');
    expect(r.message).toMatch(/decompresses past the 134217728-byte limit/);
    // What is held is the payload decoded so far: the image cap, not the payload's 4 GiB.
    expect(r.peakMb, `peak RSS ${r.peakMb.toFixed(0)} MB`).toBeLessThan(RSS_BOUND_MB + 128);
  }, 60_000);
});

describe('package files that are not regular files', () => {
  it('a FIFO is refused before anything is read (PKG_INPUT_NOT_REGULAR), without waiting for a writer', async () => {
    const fifo = join(dir, 'pkg.fifo');
    execFileSync('mkfifo', [fifo]);
    const err = await readKernelPackage(fifo).then(() => undefined, (e: unknown) => e as Error & { code: string });
    expect(err?.code).toBe('PKG_INPUT_NOT_REGULAR');
    expect(err?.message).toMatch(/is a fifo, not a regular file/);
  });

  it('a character device is refused too', async () => {
    const err = await readKernelPackage('/dev/zero').then(() => undefined, (e: unknown) => e as Error & { code: string });
    expect(err?.code).toBe('PKG_INPUT_NOT_REGULAR');
  });
});
