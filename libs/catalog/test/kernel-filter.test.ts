import { describe, expect, it } from 'vitest';
import { CatalogError, checkKernelFilter, filterKernels } from '../src/index.js';

const row = (distro: string, release: string, arch: string) => ({ distro, release, arch });
const ROWS = [
  row('debian', '12', 'arm64'),
  row('debian', '12', 'x86_64'),
  row('debian', '13', 'x86_64'),
  row('ubuntu', '22.04', 's390x'),
  row('ubuntu', '22.04', 'x86_64'),
];

/** The CatalogError a call throws. */
function thrown(f: () => unknown): CatalogError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(CatalogError);
    return err as CatalogError;
  }
  throw new Error('did not throw');
}

describe('filterKernels and checkKernelFilter', () => {
  it('select as before when the values match', () => {
    expect(filterKernels(ROWS, {})).toBe(ROWS);
    expect(filterKernels(ROWS, { arch: 'x86_64' })).toHaveLength(3);
    expect(filterKernels(ROWS, { distro: 'ubuntu', release: '22.04' })).toHaveLength(2);
    // uname -m spellings mean the archive's folder.
    expect(filterKernels(ROWS, { arch: 'aarch64' })).toEqual([ROWS[0]]);
    expect(filterKernels(ROWS, { arch: 'amd64', distro: 'debian' })).toEqual([ROWS[1], ROWS[2]]);
    for (const f of [{}, { arch: 'x86_64' }, { arch: 'aarch64' }, { distro: 'ubuntu', release: '22.04', arch: 's390x' }]) {
      expect(() => checkKernelFilter(ROWS, f)).not.toThrow();
    }
  });

  it('NO_MATCHING_KERNELS naming the arches that exist, closest first', () => {
    const e = thrown(() => checkKernelFilter(ROWS, { arch: 'x86-64' }));
    expect(e.code).toBe('NO_MATCHING_KERNELS');
    expect(e.message).toBe('no kernels with arch x86-64; arches: x86_64, arm64, s390x');
    expect(e.suggestions).toEqual(['x86_64']);
  });

  it('a distro, and a release or arch among the kernels the values before it select', () => {
    const d = thrown(() => checkKernelFilter(ROWS, { distro: 'Debian' }));
    expect(d.message).toBe('no kernels with distro Debian; distros: debian, ubuntu');
    expect(d.suggestions).toEqual(['debian']);
    const r = thrown(() => checkKernelFilter(ROWS, { distro: 'debian', release: '22.04', arch: 'x86_64' }));
    expect(r.code).toBe('NO_MATCHING_KERNELS');
    expect(r.message).toBe('no kernels with release 22.04 (distro debian); releases: 12, 13');
    const a = thrown(() => checkKernelFilter(ROWS, { distro: 'ubuntu', release: '22.04', arch: 'arm64' }));
    expect(a.message).toBe('no kernels with arch arm64 (distro ubuntu, release 22.04); arches: s390x, x86_64');
  });

  it('suggests nothing when nothing is close, and names at most 20 values', () => {
    const many = Array.from({ length: 25 }, (_, i) => row('debian', String(i + 1), 'x86_64'));
    const e = thrown(() => checkKernelFilter(many, { release: 'trixie' }));
    expect(e.suggestions).toEqual([]);
    expect(e.message).toMatch(/^no kernels with release trixie; releases: 1, 2, 3, .*, 20, … \(5 more\)$/);
  });

  it('an empty catalog answers no kernels, never an error', () => {
    expect(() => checkKernelFilter([], { arch: 'x86-64', distro: 'nope', release: '0' })).not.toThrow();
    expect(filterKernels([], { arch: 'x86-64' })).toEqual([]);
  });

  it('filterKernels itself never throws: the rows it is given may lack kernels the filter rightly names', () => {
    // A release whose only kernel failed to ingest selects no ingested kernel; the check is on every known kernel.
    expect(filterKernels(ROWS, { release: '14' })).toEqual([]);
    expect(() => checkKernelFilter([...ROWS, row('debian', '14', 'x86_64')], { release: '14' })).not.toThrow();
  });
});
