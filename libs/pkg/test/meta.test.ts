import { describe, expect, it } from 'vitest';
import { btfhubArch, parseControl, parseDebianVersion, parseSourceField, PkgError, readKernelPackage } from '../src/index.js';
import { baseBtf, bzImage, deb, elfWithBtf, gzip } from './support/build.js';

describe('Debian versions', () => {
  it.each([
    ['6.12.43-1~bpo12+1', { upstream: '6.12.43', revision: '1~bpo12+1', releaseHint: 12 }],
    ['6.1.176-1', { upstream: '6.1.176', revision: '1' }],
    ['7.2.13-1', { upstream: '7.2.13', revision: '1' }],
    ['6.12.117-1+deb13u1', { upstream: '6.12.117', revision: '1+deb13u1', releaseHint: 13 }],
    ['6.1.158-1+deb12u1', { upstream: '6.1.158', revision: '1+deb12u1', releaseHint: 12 }],
    ['6.12.115-2~deb12u1', { upstream: '6.12.115', revision: '2~deb12u1', releaseHint: 12 }],
    ['1:2.3-4', { epoch: 1, upstream: '2.3', revision: '4' }],
    ['5.10.0', { upstream: '5.10.0' }],
  ])('%s', (v, want) => {
    expect(parseDebianVersion(v)).toEqual(want);
  });

  it('refuses what is not a version', () => {
    expect(parseDebianVersion('')).toBeUndefined();
    expect(parseDebianVersion('abc')).toBeUndefined();
  });
});

describe('architectures in btfhub-archive spelling', () => {
  it.each([
    ['amd64', 'x86_64'], ['x86_64', 'x86_64'], ['arm64', 'arm64'], ['aarch64', 'arm64'], ['i386', 'i386'], ['i686', 'i386'],
    ['armhf', 'arm'], ['ppc64el', 'ppc64le'], ['ppc64le', 'ppc64le'], ['s390x', 's390x'], ['riscv64', 'riscv64'],
  ])('%s → %s', (a, want) => expect(btfhubArch(a)).toBe(want));
  it('unknown and inherited names are undefined', () => {
    expect(btfhubArch('all')).toBeUndefined();
    expect(btfhubArch('constructor')).toBeUndefined();
  });
});

describe('control files', () => {
  it('reads fields and continuation lines; the Source version is split off', () => {
    const c = parseControl('Package: linux-binary-7.2.13+deb14-amd64\nSource: linux-signed-amd64 (7.2.13+1)\nDescription: a\n b\n');
    expect(c.Package).toBe('linux-binary-7.2.13+deb14-amd64');
    expect(c.Description).toBe('a\nb');
    expect(parseSourceField(c.Source)).toEqual({ name: 'linux-signed-amd64', version: '7.2.13+1' });
  });
});

describe('hostile bytes', () => {
  it('byte-flipped packages give PkgErrors or results, never anything else (seeded)', async () => {
    const good = await deb([{ path: './boot/vmlinuz-6.1.0-x', data: bzImage(gzip(elfWithBtf(baseBtf()))) }], { data: 'gz' });
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 150; i++) {
      const bad = Uint8Array.from(good);
      for (let k = 0; k < 1 + rand(4); k++) bad[rand(bad.length)] ^= 1 << rand(8);
      const cut = rand(3) === 0 ? bad.subarray(0, rand(bad.length)) : bad;
      try {
        await readKernelPackage(cut, { limits: { maxDecompressedSize: 1 << 20, maxMemberSize: 1 << 20 } });
      } catch (err) {
        if (!(err instanceof PkgError)) throw new Error(`case ${i}: ${String(err)}`);
      }
    }
  });
});
