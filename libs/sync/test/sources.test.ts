import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultDebianMirror, loadAptSources, loadSyncConfig, parseDeb822Sources, parseOneLineSources, pickDebianMirror } from '@btf-atlas/sync';

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'sync-apt-'));
  mkdirSync(join(root, 'etc/apt/sources.list.d'), { recursive: true });
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const put = (rel: string, text: string): void => writeFileSync(join(root, rel), text);

// Addresses are 127.0.0.1 with made-up ports: nothing is contacted, and no mirror host is written into code.
const DEB822 = `Types: deb
# http://127.0.0.1:8013/archive/debian/20250520T000000Z
URIs: http://127.0.0.1:8001/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://127.0.0.1:8001/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

describe('apt sources', () => {
  it('parses deb822 .sources stanzas, with comments and Enabled', () => {
    const s = parseDeb822Sources(`${DEB822}\nTypes: deb deb-src\nURIs: https://127.0.0.1:8002/debian https://127.0.0.1:8003/debian\nSuites: trixie\nComponents: main contrib\nEnabled: no\n`, 'x.sources');
    expect(s.map((x) => [x.types, x.uris, x.suites, x.components, x.enabled])).toEqual([
      [['deb'], ['http://127.0.0.1:8001/debian'], ['bookworm', 'bookworm-updates'], ['main'], true],
      [['deb'], ['http://127.0.0.1:8001/debian-security'], ['bookworm-security'], ['main'], true],
      [['deb', 'deb-src'], ['https://127.0.0.1:8002/debian', 'https://127.0.0.1:8003/debian'], ['trixie'], ['main', 'contrib'], false],
    ]);
    expect(s[0].options['signed-by']).toBe('/usr/share/keyrings/debian-archive-keyring.gpg');
  });

  it('parses one-line entries with [options], comments and deb-src', () => {
    const s = parseOneLineSources(
      [
        '# a comment',
        'deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/k.gpg] http://127.0.0.1:8001/debian bookworm main contrib # trailing',
        'deb-src http://127.0.0.1:8001/debian bookworm main',
        '  deb http://127.0.0.1:8001/debian-security bookworm-security main',
        'deb [ trusted=yes ] file:/srv/repo ./',
        'not an entry',
      ].join('\n'),
    );
    expect(s.map((x) => [x.types[0], x.uris[0], x.suites[0], x.components])).toEqual([
      ['deb', 'http://127.0.0.1:8001/debian', 'bookworm', ['main', 'contrib']],
      ['deb-src', 'http://127.0.0.1:8001/debian', 'bookworm', ['main']],
      ['deb', 'http://127.0.0.1:8001/debian-security', 'bookworm-security', ['main']],
      ['deb', 'file:/srv/repo', './', []],
    ]);
    expect(s[0].options).toEqual({ arch: 'amd64,arm64', 'signed-by': '/usr/share/keyrings/k.gpg' });
  });

  it('defaultDebianMirror picks the main archive from a deb822 file, not security or third parties', async () => {
    put('etc/apt/sources.list.d/00-nodesource.sources', 'Types: deb\nURIs: https://127.0.0.1:8007/node_20.x\nSuites: nodistro\nComponents: main\n');
    put('etc/apt/sources.list.d/debian.sources', DEB822);
    put('etc/apt/sources.list.d/google.list.disabled', 'deb http://127.0.0.1:8006/debian bookworm main\n');
    expect(await defaultDebianMirror({ rootDir: root })).toBe('http://127.0.0.1:8001/debian');
  });

  it('defaultDebianMirror reads one-line sources.list first, in apt order', async () => {
    put('etc/apt/sources.list', 'deb http://127.0.0.1:8004/debian-security bookworm-security main\ndeb https://127.0.0.1:8005/debian/ trixie main\n');
    put('etc/apt/sources.list.d/debian.sources', DEB822);
    expect(await defaultDebianMirror({ rootDir: root })).toBe('https://127.0.0.1:8005/debian');
    const all = await loadAptSources(root);
    expect(all.map((s) => s.file)).toEqual(['etc/apt/sources.list', 'etc/apt/sources.list', 'etc/apt/sources.list.d/debian.sources', 'etc/apt/sources.list.d/debian.sources']);
  });

  it('an override wins; no archive at all is SYNC_BAD_CONFIG naming the variable', async () => {
    put('etc/apt/sources.list.d/debian.sources', DEB822);
    expect(await defaultDebianMirror({ rootDir: root, override: 'http://127.0.0.1:8080/debian/' })).toBe('http://127.0.0.1:8080/debian');
    rmSync(join(root, 'etc/apt/sources.list.d/debian.sources'));
    await expect(defaultDebianMirror({ rootDir: root })).rejects.toMatchObject({ code: 'SYNC_BAD_CONFIG', message: expect.stringContaining('BTF_ATLAS_DEBIAN_MIRROR') });
  });

  it('a malformed .sources file is SYNC_BAD_CONFIG naming file and line', async () => {
    put('etc/apt/sources.list.d/bad.sources', 'Types: deb\nthis line has no colon\n');
    await expect(loadAptSources(root)).rejects.toMatchObject({ code: 'SYNC_BAD_CONFIG', message: 'apt sources: etc/apt/sources.list.d/bad.sources: line 2: line is not "Field: value"' });
  });

  it('pickDebianMirror skips disabled entries, deb-src only, non-http URIs and credentials', () => {
    const s = parseDeb822Sources(
      [
        'Types: deb\nURIs: http://127.0.0.1:8008/debian\nSuites: bookworm\nComponents: main\nEnabled: no',
        'Types: deb-src\nURIs: http://127.0.0.1:8009/debian\nSuites: bookworm\nComponents: main',
        'Types: deb\nURIs: mirror+file:/etc/apt/mirrors.txt\nSuites: bookworm\nComponents: main',
        'Types: deb\nURIs: http://user:pw@127.0.0.1:8010/debian\nSuites: bookworm\nComponents: main',
        'Types: deb\nURIs: http://127.0.0.1:8011/debian\nSuites: sid\nComponents: main non-free',
      ].join('\n\n'),
    );
    expect(pickDebianMirror(s)).toBe('http://127.0.0.1:8011/debian');
    expect(pickDebianMirror([])).toBeUndefined();
  });

  it('loadSyncConfig reads BTF_ATLAS_DEBIAN_MIRROR from what it is given', () => {
    expect(loadSyncConfig({})).toEqual({ debianMirror: undefined });
    expect(loadSyncConfig({ BTF_ATLAS_DEBIAN_MIRROR: ' https://127.0.0.1:8012/debian/ ' })).toEqual({ debianMirror: 'https://127.0.0.1:8012/debian' });
    expect(() => loadSyncConfig({ BTF_ATLAS_DEBIAN_MIRROR: 'ftp://127.0.0.1:8012/debian' })).toThrow(/^BTF_ATLAS_DEBIAN_MIRROR: mirror "ftp:\/\/127\.0\.0\.1:8012\/debian" is not an http or https url$/);
  });
});
