import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BlobStore, CatalogError, LookupNotFoundError, archiveArch, archiveCandidates, jobDataOf, listKernels, lookupKernel,
  openCatalog, parseOsRelease, processIngest, scanPath, type Catalog,
} from '../src/index.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const OS_RELEASES = join(HERE, 'fixtures/os-release');
const ARCHIVE = join(HERE, '../../../fixtures/corpus/archive');

/** A real os-release file, as the system ships it. */
function osRelease(name: string): string {
  return readFileSync(join(OS_RELEASES, name), 'utf8');
}

/** The folders tried for a machine, as `DISTRO/RELEASE`. */
function folders(file: string, arch = 'x86_64', unameR = '6.1.0-50-amd64'): string[] {
  return archiveCandidates({ osRelease: osRelease(file), unameR, arch }).candidates.map((c) => `${c.distro}/${c.release}`);
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CatalogError);
    return (err as CatalogError).code;
  }
  return undefined;
}

describe('parseOsRelease reads every real os-release file', () => {
  const expected: Record<string, { ID: string; VERSION_ID?: string; codename?: string }> = {
    'debian-10': { ID: 'debian', VERSION_ID: '10', codename: 'buster' },
    'debian-11': { ID: 'debian', VERSION_ID: '11', codename: 'bullseye' },
    'debian-12': { ID: 'debian', VERSION_ID: '12', codename: 'bookworm' },
    'debian-13': { ID: 'debian', VERSION_ID: '13', codename: 'trixie' },
    'debian-trixie-sid': { ID: 'debian', codename: 'trixie' },
    'ubuntu-18.04': { ID: 'ubuntu', VERSION_ID: '18.04', codename: 'bionic' },
    'ubuntu-20.04': { ID: 'ubuntu', VERSION_ID: '20.04', codename: 'focal' },
    'ubuntu-22.04': { ID: 'ubuntu', VERSION_ID: '22.04', codename: 'jammy' },
    'ubuntu-24.04': { ID: 'ubuntu', VERSION_ID: '24.04', codename: 'noble' },
    'centos-7': { ID: 'centos', VERSION_ID: '7' },
    'centos-8': { ID: 'centos', VERSION_ID: '8' },
    'fedora-38': { ID: 'fedora', VERSION_ID: '38', codename: '' },
    'fedora-40': { ID: 'fedora', VERSION_ID: '40', codename: '' },
    'amzn-2018.03': { ID: 'amzn', VERSION_ID: '2018.03' },
    'amzn-2': { ID: 'amzn', VERSION_ID: '2' },
    'amzn-2023': { ID: 'amzn', VERSION_ID: '2023' },
    'ol-7.9': { ID: 'ol', VERSION_ID: '7.9' },
    'ol-8.9': { ID: 'ol', VERSION_ID: '8.9' },
    'rhel-8.8': { ID: 'rhel', VERSION_ID: '8.8' },
    'rocky-9.3': { ID: 'rocky', VERSION_ID: '9.3' },
    'sles-15.4': { ID: 'sles', VERSION_ID: '15.4' },
    'linuxmint-21.2': { ID: 'linuxmint', VERSION_ID: '21.2', codename: 'victoria' },
  };

  it('has a fixture for each expectation and an expectation for each fixture', () => {
    expect(readdirSync(OS_RELEASES).sort()).toEqual(Object.keys(expected).sort());
  });

  for (const [file, want] of Object.entries(expected)) {
    it(file, () => {
      const os = parseOsRelease(osRelease(file));
      expect(os.ID).toBe(want.ID);
      expect(os.VERSION_ID).toBe(want.VERSION_ID);
      expect(os.VERSION_CODENAME).toBe(want.codename);
      expect(os.NAME.length).toBeGreaterThan(0);
      expect(os.PRETTY_NAME.length).toBeGreaterThan(0);
    });
  }

  it('unquotes double- and single-quoted values and keeps inner spaces', () => {
    const os = parseOsRelease(osRelease('amzn-2018.03'));
    expect(os.PRETTY_NAME).toBe('Amazon Linux AMI 2018.03');
    expect(os.ID_LIKE).toBe('rhel fedora');
    expect(parseOsRelease("NAME='Some OS'\n").NAME).toBe('Some OS');
  });

  it('reads CRLF files as LF ones', () => {
    const text = osRelease('centos-7');
    expect(parseOsRelease(text.replace(/\n/g, '\r\n'))).toEqual(parseOsRelease(text));
  });

  it('skips comments and blank lines, and lets a later assignment win', () => {
    const os = parseOsRelease('# vendor file\n\n  ID=debian  # trailing comment\nID=ubuntu\n\t\nVERSION_ID="1"\n');
    expect(os).toEqual({ ID: 'ubuntu', VERSION_ID: '1' });
  });

  it('follows shell escapes: inside "" only $ ` " \\ are escaped; \'\' takes everything literally', () => {
    const os = parseOsRelease('A="say \\"hi\\" \\$HOME \\n"\nB=\'no \\escape\'\nC=plain\\ word\nD=""\n');
    expect(os).toEqual({ A: 'say "hi" $HOME \\n', B: 'no \\escape', C: 'plain word', D: '' });
  });

  it('joins a double-quoted value that continues on the next line', () => {
    expect(parseOsRelease('A="one\ntwo"\nB=3\n')).toEqual({ A: 'one\ntwo', B: '3' });
  });

  it('returns a frozen object without a prototype (no __proto__ tricks)', () => {
    const os = parseOsRelease('__proto__=x\nID=debian\n');
    expect(Object.getPrototypeOf(os)).toBe(null);
    expect(os.__proto__).toBe('x');
    expect(Object.isFrozen(os)).toBe(true);
  });

  const bad: [string, string, RegExp][] = [
    ['a line without =', 'ID=debian\nthis is not os-release\n', /line 2: expected NAME=VALUE, found "this is not os-release"/],
    ['a space before =', 'ID =debian\n', /line 1: expected NAME=VALUE, found "ID =debian"/],
    ['an unterminated double quote', 'ID=debian\nNAME="Debian\nVERSION_ID=12\n', /line 2: the double quote of NAME is never closed/],
    ['an unterminated single quote', "NAME='x\n", /line 1: the single quote of NAME is never closed/],
    ['an unquoted value with a space', 'NAME=Debian GNU/Linux\n', /line 1: unexpected text after the value of NAME/],
    ['a NUL byte', 'ID=debian\0\n', /NUL byte/],
    ['a name starting with a digit', '1D=x\n', /line 1: expected NAME=VALUE/],
  ];
  for (const [what, text, message] of bad) {
    it(`refuses ${what} with OS_RELEASE_INVALID naming the line`, () => {
      expect(() => parseOsRelease(text)).toThrow(message);
      expect(codeOf(() => parseOsRelease(text))).toBe('OS_RELEASE_INVALID');
    });
  }

  it('refuses text over the size limit', () => {
    const big = `ID=debian\n# ${'x'.repeat(16 * 1024)}\n`;
    expect(() => parseOsRelease(big)).toThrow(/more than the 16384 accepted/);
    expect(parseOsRelease('ID=debian\n', 10).ID).toBe('debian');
    expect(() => parseOsRelease('ID=debian\n', 5)).toThrow(/OS|more than the 5/);
  });

  it('throws only OS_RELEASE_INVALID on arbitrary text (fuzz)', () => {
    const alphabet = fc.constantFrom('A', 'B', '_', '=', '"', "'", '\\', '#', ' ', '\t', '\n', '\r', 'x', '1', '$');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 200 }).map((cs) => cs.join('')), (text) => {
        try {
          const os = parseOsRelease(text);
          for (const v of Object.values(os)) expect(typeof v).toBe('string');
        } catch (err) {
          expect(err).toBeInstanceOf(CatalogError);
          expect((err as CatalogError).code).toBe('OS_RELEASE_INVALID');
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('archiveCandidates maps os-release to btfhub-archive folders', () => {
  const table: [string, string[]][] = [
    // Debian: numbered folders (btfhub-archive debian/10), then the codename btfhub's generator once used.
    ['debian-10', ['debian/10', 'debian/buster']],
    ['debian-11', ['debian/11', 'debian/bullseye']],
    ['debian-12', ['debian/12', 'debian/bookworm']],
    ['debian-13', ['debian/13', 'debian/trixie']],
    ['debian-trixie-sid', ['debian/13', 'debian/trixie']],
    // Ubuntu keeps its dotted VERSION_ID (ubuntu/20.04), then the codename.
    ['ubuntu-18.04', ['ubuntu/18.04', 'ubuntu/bionic']],
    ['ubuntu-20.04', ['ubuntu/20.04', 'ubuntu/focal']],
    ['ubuntu-22.04', ['ubuntu/22.04', 'ubuntu/jammy']],
    ['ubuntu-24.04', ['ubuntu/24.04', 'ubuntu/noble']],
    // Enterprise Linux: the major version (btfhub#43), then the full VERSION_ID, then the rebuilds of that major.
    ['centos-7', ['centos/7', 'rhel/7', 'rocky/7', 'almalinux/7', 'ol/7']],
    ['centos-8', ['centos/8', 'rhel/8', 'rocky/8', 'almalinux/8', 'ol/8']],
    ['ol-7.9', ['ol/7', 'ol/7.9', 'rhel/7', 'centos/7', 'rocky/7', 'almalinux/7']],
    ['ol-8.9', ['ol/8', 'ol/8.9', 'rhel/8', 'centos/8', 'rocky/8', 'almalinux/8']],
    ['rhel-8.8', ['rhel/8', 'rhel/8.8', 'centos/8', 'rocky/8', 'almalinux/8', 'ol/8']],
    ['rocky-9.3', ['rocky/9', 'rocky/9.3', 'rhel/9', 'centos/9', 'almalinux/9', 'ol/9']],
    ['fedora-38', ['fedora/38']],
    ['fedora-40', ['fedora/40']],
    // Amazon Linux AMI 2018.03 is archived as amzn/2018 (before: amzn/1); AL2 and AL2023 as they are.
    ['amzn-2018.03', ['amzn/2018', 'amzn/1']],
    ['amzn-2', ['amzn/2']],
    ['amzn-2023', ['amzn/2023']],
    ['sles-15.4', ['sles/15.4', 'sles/15']],
    // A derivative: its own folders first, then Ubuntu's by UBUNTU_CODENAME.
    ['linuxmint-21.2', ['linuxmint/21.2', 'linuxmint/21', 'ubuntu/22.04', 'ubuntu/jammy']],
  ];
  for (const [file, want] of table) {
    it(`${file} → ${want[0]}`, () => {
      expect(folders(file)).toEqual(want);
    });
  }

  it('maps uname -m to the archive spelling: aarch64 → arm64', () => {
    expect(archiveCandidates({ osRelease: osRelease('debian-12'), unameR: '6.1.0-50-arm64', arch: 'aarch64' }).arch).toBe('arm64');
    const pairs: [string, string][] = [
      ['x86_64', 'x86_64'], ['amd64', 'x86_64'], ['aarch64', 'arm64'], ['arm64', 'arm64'], ['AARCH64', 'arm64'], ['s390x', 's390x'],
      ['ppc64le', 'ppc64le'], ['i686', 'i386'], ['i386', 'i386'], ['armv7l', 'arm'], ['riscv64', 'riscv64'], ['sparc64', 'sparc64'],
    ];
    for (const [m, a] of pairs) expect(archiveArch(m)).toBe(a);
  });

  it('tells the rule behind each folder', () => {
    const c = archiveCandidates({ osRelease: osRelease('amzn-2018.03'), unameR: '4.14.334-177.552.amzn1.x86_64', arch: 'x86_64' });
    expect(c.candidates[0].reason).toMatch(/Amazon Linux AMI/);
    expect(c.id).toBe('amzn');
    expect(c.versionId).toBe('2018.03');
  });

  it('treats a missing ID as "linux", as os-release(5) says', () => {
    expect(archiveCandidates({ osRelease: 'VERSION_ID=1\n', unameR: '6.1.0', arch: 'x86_64' }).candidates.map((c) => `${c.distro}/${c.release}`)).toEqual(['linux/1']);
  });

  const invalid: [string, { osRelease: string; unameR: string; arch: string }, string, RegExp][] = [
    ['an empty uname -r', { osRelease: 'ID=debian\n', unameR: '', arch: 'x86_64' }, 'UNAME_R_INVALID', /empty/],
    ['a uname -r with a slash', { osRelease: 'ID=debian\n', unameR: '../../etc/passwd', arch: 'x86_64' }, 'UNAME_R_INVALID', /letters, digits/],
    ['a uname -r over 64 characters', { osRelease: 'ID=debian\n', unameR: `6.1.0-${'1'.repeat(64)}`, arch: 'x86_64' }, 'UNAME_R_INVALID', /more than the kernel's 64/],
    ['an empty arch', { osRelease: 'ID=debian\n', unameR: '6.1.0', arch: '' }, 'ARCH_INVALID', /empty/],
    ['an arch with a space', { osRelease: 'ID=debian\n', unameR: '6.1.0', arch: 'x86 64' }, 'ARCH_INVALID', /letters, digits and _/],
    ['an ID with capitals', { osRelease: 'ID=Debian\n', unameR: '6.1.0', arch: 'x86_64' }, 'OS_RELEASE_INVALID', /ID "Debian"/],
    ['an ID with a slash', { osRelease: 'ID=debian/../x\n', unameR: '6.1.0', arch: 'x86_64' }, 'OS_RELEASE_INVALID', /ID /],
    ['a VERSION_ID with a slash', { osRelease: 'ID=debian\nVERSION_ID="1/2"\n', unameR: '6.1.0', arch: 'x86_64' }, 'OS_RELEASE_INVALID', /VERSION_ID/],
  ];
  for (const [what, input, code, message] of invalid) {
    it(`refuses ${what} with ${code}`, () => {
      expect(() => archiveCandidates(input)).toThrow(message);
      expect(codeOf(() => archiveCandidates(input))).toBe(code);
    });
  }
});

describe('lookupKernel against a catalog of the corpus (debian 12/13, x86_64/arm64)', () => {
  let dir: string;
  let catalog: Catalog;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'btf-atlas-lookup-'));
    const db = join(dir, 'atlas.db');
    catalog = openCatalog(db);
    const blobs = BlobStore.forCatalog(db);
    for (const item of scanPath(ARCHIVE)) await processIngest(jobDataOf(item), { catalog, blobs });
  }, 180_000);

  afterAll(() => {
    catalog?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function notFound(input: { osRelease: string; unameR: string; arch: string }): LookupNotFoundError {
    try {
      lookupKernel(catalog, input);
    } catch (err) {
      expect(err).toBeInstanceOf(LookupNotFoundError);
      return err as LookupNotFoundError;
    }
    throw new Error('expected KERNEL_NOT_FOUND');
  }

  it('finds a Debian 12 machine by its os-release and uname', () => {
    const r = lookupKernel(catalog, { osRelease: osRelease('debian-12'), unameR: '6.1.0-50-amd64', arch: 'x86_64' });
    const k = listKernels(catalog).find((x) => x.kernel === 'debian/12/x86_64/6.1.0-50-amd64')!;
    expect(r).toMatchObject({
      kernel: 'debian/12/x86_64/6.1.0-50-amd64', distro: 'debian', release: '12', arch: 'x86_64', uname_r: '6.1.0-50-amd64',
      btf_sha256: k.btf_sha256, types: k.types,
    });
    expect(r.btf_size).toBeGreaterThan(1_000_000);
    // The corpus holds btfhub-archive tarballs: the catalog knows the archive file's sha256.
    expect(r.archive_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.reason).toMatch(/release number/);
  });

  it('finds an arm64 machine that says aarch64', () => {
    const r = lookupKernel(catalog, { osRelease: osRelease('debian-12'), unameR: '6.1.0-50-arm64', arch: 'aarch64' });
    expect(r.kernel).toBe('debian/12/arm64/6.1.0-50-arm64');
  });

  it('finds Debian 13 (a uname -r with "+")', () => {
    expect(lookupKernel(catalog, { osRelease: osRelease('debian-13'), unameR: '6.12.117+deb13-amd64', arch: 'x86_64' }).kernel)
      .toBe('debian/13/x86_64/6.12.117+deb13-amd64');
  });

  it('finds a Debian testing machine (no VERSION_ID) through its codename', () => {
    expect(lookupKernel(catalog, { osRelease: osRelease('debian-trixie-sid'), unameR: '6.12.117+deb13-amd64', arch: 'x86_64' }).kernel)
      .toBe('debian/13/x86_64/6.12.117+deb13-amd64');
  });

  it('answers KERNEL_NOT_FOUND with the closest older and newer kernels of the same series', () => {
    const e = notFound({ osRelease: osRelease('debian-12'), unameR: '6.1.0-48-amd64', arch: 'x86_64' });
    expect(e.code).toBe('KERNEL_NOT_FOUND');
    expect(e.tried).toEqual(['debian/12/x86_64', 'debian/bookworm/x86_64']);
    expect(e.nearest).toEqual([
      { kernel: 'debian/12/x86_64/6.1.0-47-amd64', uname_r: '6.1.0-47-amd64', relation: 'older' },
      { kernel: 'debian/12/x86_64/6.1.0-50-amd64', uname_r: '6.1.0-50-amd64', relation: 'newer' },
    ]);
    expect(e.suggestions).toEqual(['debian/12/x86_64/6.1.0-47-amd64', 'debian/12/x86_64/6.1.0-50-amd64']);
    expect(e.message).toBe(
      'no BTF for debian 12 x86_64 6.1.0-48-amd64 in the catalog (tried debian/12/x86_64, debian/bookworm/x86_64); '
      + 'nearest: debian/12/x86_64/6.1.0-47-amd64 (closest older), debian/12/x86_64/6.1.0-50-amd64 (closest newer)',
    );
  });

  it('orders nearest kernels numerically, not as text (6.1.0-112 is newer than 6.1.0-50)', () => {
    const e = notFound({ osRelease: osRelease('debian-12'), unameR: '6.1.0-112-amd64', arch: 'x86_64' });
    expect(e.nearest.map((n) => [n.uname_r, n.relation])).toEqual([['6.1.0-50-amd64', 'older'], ['6.1.0-47-amd64', 'older']]);
    const old = notFound({ osRelease: osRelease('debian-12'), unameR: '6.1.0-9-amd64', arch: 'x86_64' });
    expect(old.nearest.map((n) => [n.uname_r, n.relation])).toEqual([['6.1.0-47-amd64', 'newer'], ['6.1.0-50-amd64', 'newer']]);
  });

  it('offers same-arch kernels of other releases when the machine\'s folder is empty', () => {
    const e = notFound({ osRelease: osRelease('debian-11'), unameR: '5.10.0-28-amd64', arch: 'x86_64' });
    expect(e.tried).toEqual(['debian/11/x86_64', 'debian/bullseye/x86_64']);
    expect(e.nearest.length).toBeGreaterThan(0);
    for (const n of e.nearest) {
      expect(n.relation).toBe('other-release');
      expect(n.kernel).toMatch(/^debian\/1[23]\/x86_64\//);
    }
    expect(e.message).toMatch(/nearest: debian\/1[23]\/x86_64\/.* \(other release\)/);
  });

  it('says so when the catalog has no kernel of the arch', () => {
    const e = notFound({ osRelease: osRelease('debian-12'), unameR: '6.1.0-50-s390x', arch: 's390x' });
    expect(e.nearest).toEqual([]);
    expect(e.message).toMatch(/the catalog has no kernel of this distro and arch/);
  });

  it('finds nothing for other distros that happen to share a uname -r, and never offers another distro\'s kernels', () => {
    for (const file of ['ubuntu-22.04', 'centos-7', 'fedora-40', 'amzn-2', 'ol-8.9']) {
      const e = notFound({ osRelease: osRelease(file), unameR: '6.1.0-50-amd64', arch: 'x86_64' });
      expect(e.nearest, file).toEqual([]);
      expect(e.message).toMatch(/the catalog has no kernel of this distro and arch/);
    }
  });

  it('reads its tables by own keys only: names like constructor and __proto__ are plain names', () => {
    for (const arch of ['constructor', '__proto__', 'toString']) expect(archiveArch(arch)).toBe(arch.toLowerCase());
    const c = archiveCandidates({ osRelease: 'ID=constructor\nVERSION_ID=1\nVERSION_CODENAME=constructor\nID_LIKE="debian ubuntu"\n', unameR: '6.1.0-50-amd64', arch: '__proto__' });
    expect(c.arch).toBe('__proto__');
    expect(c.candidates.map((x) => `${x.distro}/${x.release}`)).toEqual(['constructor/1']);
  });

  it('validates before looking (typed errors, never a bare TypeError)', () => {
    expect(codeOf(() => lookupKernel(catalog, { osRelease: 'ID=debian\nnonsense\n', unameR: '6.1.0-50-amd64', arch: 'x86_64' }))).toBe('OS_RELEASE_INVALID');
    expect(codeOf(() => lookupKernel(catalog, { osRelease: osRelease('debian-12'), unameR: '6.1.0 50', arch: 'x86_64' }))).toBe('UNAME_R_INVALID');
    expect(codeOf(() => lookupKernel(catalog, { osRelease: osRelease('debian-12'), unameR: '6.1.0-50-amd64', arch: 'x86-64' }))).toBe('ARCH_INVALID');
  });
});
