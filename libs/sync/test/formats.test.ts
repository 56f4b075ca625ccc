import { describe, expect, it } from 'vitest';
import {
  classifyKernelPackage,
  compareDebVersions,
  KernelStanzaScanner,
  parseDeb822,
  parseRelease,
  releaseFolder,
  selectKernels,
  stripClearsign,
  SyncError,
  toPackageRecord,
  type ReleaseInfo,
} from '@btf-atlas/sync';
import { clearsign, fixtureText, packagesText, stanza } from './support/repo.js';

describe('deb822', () => {
  it('parses fields case-insensitively, continuation lines and the lone-dot blank line', () => {
    const [a, b] = parseDeb822('Package: x\nversion: 1\nDescription: short\n long\n .\n more\n\n\nPackage: y\n');
    expect(a.get('package')).toBe('x');
    expect(a.get('version')).toBe('1');
    expect(a.get('description')).toBe('short\nlong\n\nmore');
    expect(b.get('package')).toBe('y');
  });

  it('names the line of a malformed one', () => {
    expect(() => parseDeb822('Package: x\nno colon here\n', { source: 'Packages' })).toThrow(new SyncError('SYNC_BAD_INDEX', 'Packages: line 2: line is not "Field: value"'));
    expect(() => parseDeb822(' leading continuation\n')).toThrow(/line 1: continuation line outside a field/);
  });

  it('keeps the first of a repeated field, like apt', () => {
    expect(parseDeb822('A: 1\nA: 2\n two\nB: 3\n')[0]).toEqual(new Map([['a', '1'], ['b', '3']]));
  });
});

describe('InRelease and Release', () => {
  const release = ['Origin: Debian', 'Suite: unstable', 'Codename: sid', 'Date: Fri, 30 Oct 2026 08:08:01 UTC', 'Architectures: all amd64 arm64', 'Components: main contrib', 'Acquire-By-Hash: yes', 'SHA256:', ` ${'ab'.repeat(32)}  1234 main/binary-amd64/Packages.xz`, ` ${'CD'.repeat(32)} 99 main/binary-arm64/Packages.gz`, '-dash line'].join('\n');

  it('strips the clearsign armour and undoes dash-escaping', () => {
    expect(stripClearsign(clearsign(release))).toBe(release);
  });

  it('refuses text around the signed message and unterminated signatures', () => {
    const signed = clearsign('A: 1\n');
    expect(() => stripClearsign(`junk\n${signed}`)).toThrow(/is not a clearsigned message/);
    expect(() => stripClearsign(`${signed}Origin: evil\n`)).toThrow(/has text after its signature/);
    expect(() => stripClearsign(signed.replace('-----END PGP SIGNATURE-----', ''))).toThrow(/unterminated signature block/);
    expect(() => stripClearsign(signed.replace(/-----BEGIN PGP SIGNATURE-----[^]*/, ''))).toThrow(/has no signature block/);
    expect(() => stripClearsign('-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n-bad\n-----BEGIN PGP SIGNATURE-----\n-----END PGP SIGNATURE-----\n')).toThrow(/not dash-escaped/);
  });

  it('parses the fields and the SHA256 list', () => {
    const info = parseRelease(release.replace('\n-dash line', ''));
    expect(info).toMatchObject({ origin: 'Debian', suite: 'unstable', codename: 'sid', version: undefined, architectures: ['all', 'amd64', 'arm64'], components: ['main', 'contrib'], acquireByHash: true });
    expect(info.dateMs).toBe(Date.UTC(2026, 9, 30, 8, 8, 1));
    expect([...info.files.values()]).toEqual([
      { path: 'main/binary-amd64/Packages.xz', size: 1234, sha256: 'ab'.repeat(32) },
      { path: 'main/binary-arm64/Packages.gz', size: 99, sha256: 'cd'.repeat(32) },
    ]);
  });

  it('refuses a Release without SHA256 list or with a bad entry', () => {
    expect(() => parseRelease('Origin: x\nMD5Sum:\n 0 1 a\n', 'R')).toThrow(new SyncError('SYNC_BAD_INDEX', 'R has no SHA256 file list'));
    expect(() => parseRelease('SHA256:\n zz 1 a\n', 'R')).toThrow(/R has a bad SHA256 entry "zz 1 a" \(entry 1\)/);
    expect(() => parseRelease('A: 1\n\nB: 2\n', 'R')).toThrow(/R has 2 paragraphs, expected 1/);
  });
});

describe('release folders', () => {
  const info = (f: Partial<ReleaseInfo>): ReleaseInfo => ({
    origin: undefined,
    label: undefined,
    suite: undefined,
    codename: undefined,
    version: undefined,
    date: undefined,
    dateMs: undefined,
    architectures: [],
    components: [],
    acquireByHash: false,
    files: new Map(),
    ...f,
  });
  it.each([
    ['bullseye', { version: '11.11', codename: 'bullseye' }, '11'],
    ['bookworm', { version: '12.15', codename: 'bookworm' }, '12'],
    ['bookworm-updates', { version: '12-updates', codename: 'bookworm-updates' }, '12'],
    ['bookworm-security', { version: '12', codename: 'bookworm-security', suite: 'oldstable-security' }, '12'],
    ['bookworm-backports', { codename: 'bookworm-backports', suite: 'oldstable-backports' }, '12'],
    ['trixie', { version: '13.8', codename: 'trixie' }, '13'],
    ['forky', { codename: 'forky', suite: 'testing' }, '14'],
    ['sid', { codename: 'sid', suite: 'unstable' }, '14'],
    ['unstable', { codename: 'sid', suite: 'unstable' }, '14'],
    ['experimental', { codename: 'rc-buggy', suite: 'experimental' }, '14'],
    ['nosuch', { codename: 'nosuch' }, undefined],
  ] as const)('debian %s → %s', (suite, f, want) => {
    expect(releaseFolder('debian', info(f), { requestedSuite: suite, newestStable: 13 })).toBe(want);
  });
  it('sid follows the newest stable the mirror names', () => {
    expect(releaseFolder('debian', info({ codename: 'sid', suite: 'unstable' }), { requestedSuite: 'sid', newestStable: 14 })).toBe('15');
  });
  it.each([
    ['jammy-updates', { version: '22.04', codename: 'jammy' }, '22.04'],
    ['noble-security', { version: '24.04.1', codename: 'noble' }, '24.04'],
    ['focal', { codename: 'focal' }, '20.04'],
  ] as const)('ubuntu %s → %s', (suite, f, want) => {
    expect(releaseFolder('ubuntu', info(f), { requestedSuite: suite })).toBe(want);
  });
});

describe('kernel package names', () => {
  it.each([
    ['linux-image-6.1.0-50-amd64', 'image', '6.1.0-50-amd64'],
    ['linux-image-6.1.0-50-cloud-amd64-unsigned', 'image-unsigned', '6.1.0-50-cloud-amd64'],
    ['linux-image-6.12.117+deb13-arm64-16k', 'image', '6.12.117+deb13-arm64-16k'],
    ['linux-binary-7.2.13+deb14-s390x', 'binary', '7.2.13+deb14-s390x'],
    ['linux-binary-unsigned-7.2.13+deb14-amd64', 'binary-unsigned', '7.2.13+deb14-amd64'],
    ['linux-modules-7.2.13+deb14-amd64', 'modules', '7.2.13+deb14-amd64'],
    ['linux-image-unsigned-5.15.0-91-generic', 'image-unsigned', '5.15.0-91-generic'],
    ['linux-modules-5.15.0-91-generic', 'modules', '5.15.0-91-generic'],
    ['linux-image-6.1.0-50-amd64-dbg', 'debug', '6.1.0-50-amd64'],
  ])('%s is %s of %s', (name, kind, unameR) => {
    expect(classifyKernelPackage(name)).toEqual({ kind, unameR });
  });
  it.each([
    'linux-image-amd64',
    'linux-image-arm64-16k',
    'linux-image-cloud-amd64-dbg',
    'linux-image-5.15.0-91-generic-dbgsym',
    'linux-image-amd64-signed-template',
    'linux-headers-6.1.0-50-amd64',
    'linux-modules-extra-5.15.0-91-generic',
    'linux-modules-nvidia-535-5.15.0-91-generic',
    'linux-image-generic-hwe-22.04',
    'linux-base-7.2.13+deb14-amd64',
    'linux-image-',
    'linux-image-6.1.0-',
  ])('%s is not a kernel package', (name) => {
    expect(classifyKernelPackage(name)).toBeUndefined();
  });

  it('keeps the highest version of a package listed twice', () => {
    const recs = [stanza({ name: 'linux-image-6.1.0-9-amd64', version: '6.1.27-1' }), stanza({ name: 'linux-image-6.1.0-9-amd64', version: '6.1.27-1+b1' }), stanza({ name: 'linux-image-6.1.0-9-amd64', version: '6.1.27~rc1-1' })]
      .flatMap((t) => parseDeb822(t))
      .map((s) => toPackageRecord(s)!);
    expect(selectKernels(recs, 'amd64').kernels.map((k) => k.packages[0].record.version)).toEqual(['6.1.27-1+b1']);
  });
});

describe('Debian version order', () => {
  it.each([
    ['1.0', '1.0', 0],
    ['1.0-1', '1.0-2', -1],
    ['1:0.1', '2.0', 1],
    ['1.0~rc1', '1.0', -1],
    ['1.0~rc1', '1.0~rc1~1', 1],
    ['6.1.27-1', '6.1.27-1+b1', -1],
    ['6.1.27-1+deb12u1', '6.1.27-1', 1],
    ['1.0a', '1.0+', -1],
    ['1.10', '1.9', 1],
    ['1.010', '1.10', 0],
    ['5.15.0-91.101', '5.15.0-91.101', 0],
    ['5.15.0-1037.44.1', '5.15.0-1037.44', 1],
    ['12345678901234567890.1', '12345678901234567891', -1],
  ])('%s vs %s = %i', (a, b, want) => {
    expect(Math.sign(compareDebVersions(a, b))).toBe(want);
    expect(Math.sign(compareDebVersions(b, a))).toBe(-want || 0);
  });
});

describe('KernelStanzaScanner', () => {
  const text = [fixtureText('debian-sid-amd64.txt'), fixtureText('debian-bookworm-amd64.txt'), packagesText([stanza({ name: 'zzz' }), stanza({ name: 'linux-libc-dev' })])].join('\n');

  it('finds the same stanzas however the text is cut into chunks', () => {
    const whole = new KernelStanzaScanner('x');
    whole.push(Buffer.from(text));
    const expected = whole.end();
    expect(expected.map((r) => r.package).sort()).toEqual(
      parseDeb822(text)
        .map((s) => s.get('package')!)
        .filter((n) => /^linux-(image|binary|modules)-/.test(n))
        .sort(),
    );
    let seed = 7;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 20; round++) {
      const s = new KernelStanzaScanner('x');
      const bytes = Buffer.from(text);
      for (let i = 0; i < bytes.length; ) {
        const n = 1 + Math.floor(rand() * (round < 5 ? 3 : 700));
        s.push(bytes.subarray(i, i + n));
        i += n;
      }
      expect(s.end()).toEqual(expected);
    }
  });

  it('refuses a stanza larger than its limit', () => {
    const s = new KernelStanzaScanner('Packages', 100);
    expect(() => s.push(Buffer.from(`Package: linux-image-1\nDescription: ${'x'.repeat(200)}`))).toThrow(new SyncError('SYNC_BAD_INDEX', 'Packages has a stanza longer than 100 bytes'));
  });

  it('only typed errors come out of the parsers for random input', () => {
    let seed = 12345;
    const rand = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const alphabet = 'Package: linux-image-1\n \t:-.#abcSHA256\r';
    for (let i = 0; i < 2000; i++) {
      const len = rand(300);
      let t = '';
      for (let j = 0; j < len; j++) t += alphabet[rand(alphabet.length)];
      for (const f of [() => parseDeb822(t), () => parseRelease(t), () => stripClearsign(t), () => { const s = new KernelStanzaScanner('f'); s.push(Buffer.from(t)); s.end(); }]) {
        try {
          f();
        } catch (err) {
          expect(err).toBeInstanceOf(SyncError);
        }
      }
    }
  });
});
