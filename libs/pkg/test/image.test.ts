import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Btf, swapBtfEndianness, validateBtf } from '@btf-atlas/btf';
import { PkgError, btfFromDwarf, decompressBytes, kernelImageBtf, paholeConverter, readKernelPackage } from '../src/index.js';
import { dwarfToolsFor } from './support/tools.js';
import { arm64Image, baseBtf, bzImage, concat, elfWithBtf, gzip, le32, lz4Legacy, withDictionary, xz, zboot, zstdRaw } from './support/build.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PkgError);
    return (err as PkgError).code;
  }
  throw new Error('expected a PkgError');
}

const same = (a: Uint8Array, b: Uint8Array): void => expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);

describe('kernel images', () => {
  const vmlinux = elfWithBtf(baseBtf());

  it('bzImage with each payload compression, the appended size tolerated', async () => {
    const payloads: [string, Uint8Array][] = [
      ['gzip', gzip(vmlinux)],
      ['zstd', concat(zstdRaw(vmlinux), le32(vmlinux.length))],
      ['xz', concat(await xz(vmlinux), le32(vmlinux.length))],
      ['lz4', concat(lz4Legacy(vmlinux), le32(vmlinux.length))],
      ['lzma', concat(readFileSync(join(FIXTURES, 'vmlinux.lzma')), le32(vmlinux.length))],
      ['bzip2', concat(readFileSync(join(FIXTURES, 'vmlinux.bz2')), le32(vmlinux.length))],
      ['zstd', concat(readFileSync(join(FIXTURES, 'vmlinux.zst')), le32(vmlinux.length))],
      ['lz4', concat(readFileSync(join(FIXTURES, 'vmlinux.lz4')), le32(vmlinux.length))],
    ];
    for (const [kind, payload] of payloads) {
      const r = await kernelImageBtf(bzImage(payload, { setupSects: 0 }));
      expect(r.from).toEqual(['bzImage', kind, 'elf']);
      same(r.btf, baseBtf());
      expect(r.bannerVersion).toMatch(/^6\.1\.0-test-amd64 /);
    }
  });

  it('the committed fixtures are the ELF the builder makes', async () => {
    same(readFileSync(join(FIXTURES, 'vmlinux.elf')), vmlinux);
  });

  it('arm64 Image, Image.gz and EFI zboot: BTF found by its header, decoys refused', async () => {
    const image = arm64Image(baseBtf());
    const plain = await kernelImageBtf(image);
    expect(plain.from).toEqual(['arm64-image', 'btf@0x1000']);
    same(plain.btf, baseBtf());
    expect((await kernelImageBtf(gzip(image))).from).toEqual(['gzip', 'arm64-image', 'btf@0x1000']);
    expect((await kernelImageBtf(zboot(image))).from).toEqual(['zboot', 'gzip', 'arm64-image', 'btf@0x1000']);
  });

  it('big-endian BTF in a raw image (s390x byte order)', async () => {
    const be = swapBtfEndianness(Btf.parse(baseBtf()));
    const r = await kernelImageBtf(arm64Image(be));
    same(r.btf, be);
    expect(Btf.parse(r.btf).littleEndian).toBe(false);
  });

  it('PKG_BAD_IMAGE: a bzImage whose payload offset points past the end', async () => {
    const bad = bzImage(gzip(vmlinux), { patch: (h) => h.setUint32(0x248, 0x7fff0000, true) });
    expect(await codeOf(kernelImageBtf(bad))).toBe('PKG_BAD_IMAGE');
  });

  /** A 32-bit arm zImage: its header (magic 0x016f2818 at 0x24), decompressor code, then the compressed kernel. */
  const zImage = (payload: Uint8Array): Uint8Array => {
    const head = new Uint8Array(0x400).fill(0xe1);
    new DataView(head.buffer).setUint32(0x24, 0x016f2818, true);
    return concat(head, payload, new Uint8Array(32));
  };

  it('an arm zImage: the compressed kernel is found after the decompressor and its BTF by header', async () => {
    const raw = concat(new Uint8Array(4096).fill(7), baseBtf(), new Uint8Array(512));
    const r = await kernelImageBtf(zImage(gzip(raw)));
    same(r.btf, baseBtf());
    expect(r.from[0]).toBe('arm-zimage');
  });

  it('PKG_NO_BTF, not PKG_BAD_IMAGE, for an arm zImage whose kernel decompresses but holds no BTF', async () => {
    const err = await kernelImageBtf(zImage(gzip(new Uint8Array(2 * 1024 * 1024).fill(1)))).then(() => undefined, (e: unknown) => e as Error & { code: string });
    expect(err?.code).toBe('PKG_NO_BTF');
    expect(err?.message).toMatch(/built without CONFIG_DEBUG_INFO_BTF/);
  });

  it("an arm zImage whose kernel stream is over a decoder limit names that failure, not a later false candidate's", async () => {
    const huge = withDictionary(await xz(vmlinux), 30); // a 1 GiB dictionary
    const falseGzip = Uint8Array.from([0x1f, 0x8b, 0x08, 0xe0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4]); // reserved flag bits set
    const err = await kernelImageBtf(zImage(concat(huge, falseGzip))).then(() => undefined, (e: unknown) => e as Error & { code: string });
    expect(err?.code).toBe('PKG_BAD_IMAGE');
    expect(err?.message).toMatch(/\(2 candidates\); the furthest failure: .*needs more memory than the 144 MiB decoder limit/);
  });

  it('PKG_NO_BTF: an Image without BTF', async () => {
    const image = arm64Image(new Uint8Array(64));
    expect(await codeOf(kernelImageBtf(image))).toBe('PKG_NO_BTF');
  });

  it('decoders report truncation and corruption with codes', async () => {
    const z = await xz(vmlinux);
    expect(await codeOf(decompressBytes('xz', z.subarray(0, z.length - 20), 1 << 20, 'x'))).toBe('PKG_TRUNCATED');
    expect(await codeOf(decompressBytes('zstd', zstdRaw(vmlinux).subarray(0, 100), 1 << 20, 'x'))).toBe('PKG_TRUNCATED');
    expect(await codeOf(decompressBytes('gzip', gzip(vmlinux).subarray(0, 50), 1 << 20, 'x'))).toBe('PKG_TRUNCATED');
    expect(await codeOf(decompressBytes('lz4', Uint8Array.from([2, 0x21, 0x4c, 0x18, 5, 0, 0, 0, 0x1f, 1, 2, 3, 4]), 1 << 20, 'x'))).toBe('PKG_BAD_COMPRESSION');
    expect(await codeOf(decompressBytes('gzip', gzip(new Uint8Array(1 << 20)), 1000, 'x'))).toBe('PKG_TOO_LARGE');
  });
});

const haveTools = dwarfToolsFor('the DWARF → BTF tests');

describe.skipIf(!haveTools)('DWARF only: pahole', () => {
  it('an ELF with DWARF and no .BTF is listed, then converted with pahole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pkg-dwarf-'));
    try {
      writeFileSync(join(dir, 'k.c'), 'struct task_struct { int pid; struct task_struct *parent; long flags; };\nstruct task_struct init_task;\n');
      execFileSync('cc', ['-g', '-c', '-o', join(dir, 'k.o'), join(dir, 'k.c')]);
      const elf = readFileSync(join(dir, 'k.o'));
      expect(await codeOf(kernelImageBtf(elf))).toBe('PKG_DWARF_ONLY');
      const listed = await readKernelPackage(elf);
      expect(listed.vmlinux).toBeUndefined();
      expect(listed.dwarfOnly).toEqual([{ role: 'vmlinux', name: 'vmlinux', from: 'input' }]);
      const converted = await readKernelPackage(elf, { dwarf: paholeConverter({ timeoutMs: 60_000 }) });
      expect(converted.vmlinux?.fromDwarf).toBe(true);
      const btf = Btf.parse(converted.vmlinux!.btf);
      validateBtf(btf);
      const names = Array.from({ length: btf.ownTypeCount }, (_, i) => (btf.type(i + 1) as { name?: string }).name);
      expect(names).toContain('task_struct');
      expect(await codeOf(btfFromDwarf(elf, { pahole: join(dir, 'no-such-pahole') }))).toBe('PKG_PAHOLE_MISSING');
      expect(await codeOf(btfFromDwarf(new Uint8Array(10)))).toBe('PKG_PAHOLE_FAILED');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
