import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Btf, validateBtf } from '@btf-atlas/btf';
import { PkgError, readKernelPackage, type KernelPackage } from '../src/index.js';
import { ar, baseBtf, bzImage, concat, deb, elfWithBtf, moduleBtf, rpm, tar, xz, zstdBomb, zstdRaw, le32 } from './support/build.js';

const UNAME = '6.1.0-test-amd64';

/** The code of the PkgError `p` rejects with (fails the test on any other error). */
async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PkgError);
    expect((err as Error).message).toMatch(/^[^A-Z]*[a-z]/);
    return (err as PkgError).code;
  }
  throw new Error('expected a PkgError');
}

function expectBase(pkg: KernelPackage): void {
  expect(Buffer.from(pkg.vmlinux!.btf)).toEqual(Buffer.from(baseBtf()));
  validateBtf(Btf.parse(pkg.vmlinux!.btf));
}

describe('.deb', () => {
  it('reads control metadata, a bzImage (zstd payload) and a .ko.zst module', async () => {
    const vmlinux = elfWithBtf(baseBtf());
    const image = bzImage(concat(zstdRaw(vmlinux), le32(vmlinux.length)));
    const ko = zstdRaw(elfWithBtf(moduleBtf()));
    const pkg = await readKernelPackage(
      await deb([
        { path: './usr/share/doc/x/changelog', data: Buffer.from('x') },
        { path: `./boot/vmlinuz-${UNAME}`, data: image },
        { path: `./usr/lib/modules/${UNAME}/kernel/fs/ext4/ext4.ko.zst`, data: ko },
        { path: `./usr/lib/modules/${UNAME}/kernel/virt/kvm/kvm.ko.zst`, data: ko },
        { path: `./usr/lib/modules/${UNAME}/build`, data: new Uint8Array(0), type: 'symlink', linkname: '/usr/src/x' },
      ]),
      { modules: ['ext4'] },
    );
    expect(pkg.format).toBe('deb');
    expect(pkg.meta).toMatchObject({ package: 'linux-image-6.1.0-test-amd64', version: '6.1.176-1', arch: 'amd64', source: 'linux-signed-amd64', unameR: UNAME });
    expectBase(pkg);
    expect(pkg.vmlinux?.from).toBe(`data.tar.xz:boot/vmlinuz-${UNAME}:bzImage:zstd:elf`);
    expect(pkg.modules.map((m) => m.name)).toEqual(['ext4']);
    expect(Buffer.from(pkg.modules[0].btf)).toEqual(Buffer.from(moduleBtf()));
    const base = Btf.parse(pkg.vmlinux!.btf);
    validateBtf(Btf.parse(pkg.modules[0].btf, { base }));
  });

  it('takes uname -r from the modules folder, vmlinuz inside it (Debian sid linux-binary-*)', async () => {
    const pkg = await readKernelPackage(
      await deb([{ path: './usr/lib/modules/7.2.13+deb14-arm64/vmlinuz', data: elfWithBtf(baseBtf()) }], { data: 'zst' }),
    );
    expect(pkg.meta.unameR).toBe('7.2.13+deb14-arm64');
    expectBase(pkg);
    expect(pkg.vmlinux?.from).toBe('data.tar.zst:usr/lib/modules/7.2.13+deb14-arm64/vmlinuz:elf');
  });

  it('reads every module with modules: all, and none by default', async () => {
    const files = [
      { path: `./lib/modules/${UNAME}/kernel/net/nf_conntrack.ko`, data: elfWithBtf(moduleBtf()) },
      { path: `./lib/modules/${UNAME}/kernel/fs/ext4.ko.xz`, data: await xz(elfWithBtf(moduleBtf())) },
    ];
    const all = await readKernelPackage(await deb(files, { data: 'gz' }), { modules: 'all' });
    expect(all.modules.map((m) => m.name)).toEqual(['nf_conntrack', 'ext4']);
    expect(all.vmlinux).toBeUndefined();
    const none = await readKernelPackage(await deb(files, { data: 'gz' }));
    expect(none.modules).toEqual([]);
    expect(none.meta.unameR).toBe(UNAME);
  });

  it('PKG_TRUNCATED: the data member ends early', async () => {
    const full = await deb([{ path: `./boot/vmlinuz-${UNAME}`, data: bzImage(zstdRaw(elfWithBtf(baseBtf()))) }], { data: 'gz' });
    expect(await codeOf(readKernelPackage(full.subarray(0, full.length - 200)))).toBe('PKG_TRUNCATED');
  });

  it('PKG_NO_KERNEL: a package without a kernel', async () => {
    const pkg = await deb([{ path: './usr/share/doc/hello/copyright', data: Buffer.from('free') }]);
    expect(await codeOf(readKernelPackage(pkg))).toBe('PKG_NO_KERNEL');
  });

  it('PKG_UNSAFE_PATH: a data.tar member climbing out with ..', async () => {
    const pkg = await deb([{ path: './usr/../../etc/passwd', data: Buffer.from('x') }], { data: 'gz' });
    expect(await codeOf(readKernelPackage(pkg))).toBe('PKG_UNSAFE_PATH');
  });

  it('PKG_TOO_LARGE: a zstd bomb of just over 2 GiB stops at the 2 GiB default budget', async () => {
    // A tar header for a 2 GiB file, then RLE blocks of zeros: 64 KiB on disk.
    const header = (await tar([{ path: './usr/share/big', data: new Uint8Array(0) }])).subarray(0, 512);
    const h = Buffer.from(header);
    h.write('17777777777\0', 124, 'latin1'); // size: 8 GiB - 1, in octal
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const bomb = zstdBomb(h, 2 * 1024 * 1024 * 1024);
    expect(bomb.length).toBeLessThan(100 * 1024);
    const pkg = ar([{ name: 'debian-binary', data: Buffer.from('2.0\n') }, { name: 'data.tar.zst', data: bomb }]);
    const before = process.memoryUsage().rss;
    expect(await codeOf(readKernelPackage(pkg))).toBe('PKG_TOO_LARGE');
    expect(process.memoryUsage().rss - before).toBeLessThan(512 * 1024 * 1024);
  }, 120_000);

  it('PKG_TOO_LARGE: a member past the member cap', async () => {
    const pkg = await deb([{ path: `./boot/vmlinuz-${UNAME}`, data: new Uint8Array(4096) }], { data: 'gz' });
    expect(await codeOf(readKernelPackage(pkg, { limits: { maxMemberSize: 1024 } }))).toBe('PKG_TOO_LARGE');
  });
});

describe('.rpm', () => {
  it('reads the header tags and a cpio payload (xz, zstd, gzip)', async () => {
    for (const c of ['xz', 'zstd', 'gzip'] as const) {
      const vmlinux = elfWithBtf(baseBtf());
      const pkg = await readKernelPackage(
        await rpm([
          { path: `./lib/modules/6.8.5-301.fc40.x86_64/vmlinuz`, data: bzImage(concat(zstdRaw(vmlinux), le32(vmlinux.length))) },
          { path: `./lib/modules/6.8.5-301.fc40.x86_64/kernel/fs/ext4/ext4.ko.xz`, data: await xz(elfWithBtf(moduleBtf())) },
        ], c),
        { modules: 'all' },
      );
      expect(pkg.format).toBe('rpm');
      expect(pkg.meta).toMatchObject({ package: 'kernel-core', version: '6.8.5', release: '301.fc40', arch: 'x86_64', unameR: '6.8.5-301.fc40.x86_64' });
      expectBase(pkg);
      expect(pkg.modules[0]?.name).toBe('ext4');
    }
  });

  it('PKG_UNSAFE_PATH: a cpio path ../x', async () => {
    expect(await codeOf(readKernelPackage(await rpm([{ path: '../x', data: Buffer.from('x') }])))).toBe('PKG_UNSAFE_PATH');
  });

  it('PKG_TRUNCATED: a payload cut short', async () => {
    const full = await rpm([{ path: './lib/modules/6.8.5/vmlinuz', data: new Uint8Array(5000).fill(7) }], 'gzip');
    expect(await codeOf(readKernelPackage(full.subarray(0, full.length - 100)))).toBe('PKG_TRUNCATED');
  });
});

describe('inputs that are neither', () => {
  it('PKG_UNKNOWN_FORMAT', async () => {
    expect(await codeOf(readKernelPackage(Buffer.from('hello, world, this is not a kernel')))).toBe('PKG_UNKNOWN_FORMAT');
  });
});

describe('inputs found by npm run fuzz (fixtures/fuzz)', () => {
  const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`./fixtures/fuzz/${name}`, import.meta.url)));

  // The cut-short member is noticed while its body is read, outside readTar's loop: the body maps its errors too.
  it('deb-tar-member-cut-short.deb: PKG_TRUNCATED, not the last-resort "unexpected failure"', async () => {
    let err: unknown;
    try {
      await readKernelPackage(fixture('deb-tar-member-cut-short.deb'), { modules: 'all' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PkgError);
    expect((err as PkgError).message).not.toMatch(/unexpected failure/);
    expect((err as PkgError).code).toBe('PKG_TRUNCATED');
  });
});
