import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogError, compareKernelVersions, type Catalog, type TimelineKernel } from '@btf-atlas/catalog';
import { fieldHistory, typeHistory } from '@btf-atlas/diff';
import { K, SERIES_KERNELS, seriesCatalog } from '../../catalog/test/support/series-catalog.js';

const present = (offset: number, size = 8, type = 'u64') => ({ status: 'present', offset, bits_offset: offset * 8, bitfield_size: 0, size, type });

let catalog: Catalog;
let close: () => void;

beforeAll(async () => {
  ({ catalog, close } = await seriesCatalog());
});

afterAll(() => close?.());

function codeAndSuggestions(fn: () => unknown): { code: string; suggestions: string[] } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CatalogError);
    return { code: (err as CatalogError).code, suggestions: (err as CatalogError).suggestions ?? [] };
  }
  throw new Error('expected a CatalogError');
}

describe('kernel version order across releases', () => {
  const k = (unameR: string, release = '12', distro = 'debian'): TimelineKernel => ({
    distro, release, arch: 'x86_64', unameR, flavour: 'amd64',
  });

  it('compares the numbers of uname -r part by part, whatever separates them', () => {
    const list = [
      k('6.18.44-amd64', '14'), k('6.12.117+deb13-amd64', '13'), k('5.10.0-32-amd64', '11'), k('6.12.95+deb12-amd64'),
      k('6.1.0-50-amd64'), k('6.1.0-0.deb11.21-amd64', '11'), k('6.1.0-9-amd64'), k('5.14.0-0.bpo.2-amd64', '11'),
    ];
    expect([...list].sort(compareKernelVersions).map((x) => x.unameR)).toEqual([
      '5.10.0-32-amd64', '5.14.0-0.bpo.2-amd64', '6.1.0-0.deb11.21-amd64', '6.1.0-9-amd64', '6.1.0-50-amd64',
      '6.12.95+deb12-amd64', '6.12.117+deb13-amd64', '6.18.44-amd64',
    ]);
  });

  it('breaks ties by distro, then release as numbers, then uname -r', () => {
    const list = [k('5.15.0-91-amd64', '10'), k('5.15.0-91-amd64', '9'), k('5.15.0-91-amd64', '9', 'aaa')];
    expect([...list].sort(compareKernelVersions).map((x) => `${x.distro}/${x.release}`)).toEqual(['aaa/9', 'debian/9', 'debian/10']);
  });
});

describe('field history: series, timeline, summary', () => {
  it('each kernel and change carries its series; changes stay inside a series (no amd64 -> rt-amd64 change)', () => {
    const h = fieldHistory(catalog, 'task_struct.se.vruntime');
    expect(h.kernels.map((k) => [k.kernel, k.series])).toEqual([
      [K.deb11, 'debian/11/x86_64/amd64'],
      [K.deb11bpo, 'debian/11/x86_64/amd64'],
      [K.arm12, 'debian/12/arm64/arm64'],
      [K.deb12, 'debian/12/x86_64/amd64'],
      [K.deb12rt, 'debian/12/x86_64/rt-amd64'],
      [K.deb12new, 'debian/12/x86_64/amd64'],
      [K.arm13, 'debian/13/arm64/arm64'],
      [K.deb13, 'debian/13/x86_64/amd64'],
      [K.deb13rt, 'debian/13/x86_64/rt-amd64'],
    ]);
    expect(h.kernels.find((k) => k.kernel === K.deb12rt)).toEqual({ kernel: K.deb12rt, series: 'debian/12/x86_64/rt-amd64', ...present(272) });
    expect(h.changes).toEqual([{
      from: K.deb12, to: K.deb12new, series: 'debian/12/x86_64/amd64', what: 'offset',
      before: { offset: 208, bits_offset: 1664 }, after: { offset: 240, bits_offset: 1920 },
    }]);
    expect(h.not_ingested).toBeUndefined();
  });

  it('timeline: one line per arch and flavour across releases, in version order, equal values merged', () => {
    const h = fieldHistory(catalog, 'task_struct.se.vruntime');
    expect(h.timeline).toEqual([
      {
        arch: 'x86_64', flavour: 'amd64', main: true, kernels: 5,
        spans: [
          { first: K.deb11, last: K.deb12, count: 3, value: present(208) },
          { first: K.deb12new, last: K.deb13, count: 2, value: present(240) },
        ],
      },
      {
        arch: 'x86_64', flavour: 'rt-amd64', main: false, kernels: 2,
        spans: [
          { first: K.deb12rt, last: K.deb12rt, count: 1, value: present(272) },
          { first: K.deb13rt, last: K.deb13rt, count: 1, value: present(240) },
        ],
        compared_with_main: 2,
        differs_from_main: [{ first: K.deb12rt, last: K.deb12rt, count: 1, value: present(272), main_value: present(208) }],
      },
      {
        arch: 'arm64', flavour: 'arm64', main: true, kernels: 2,
        spans: [
          { first: K.arm12, last: K.arm12, count: 1, value: present(208) },
          { first: K.arm13, last: K.arm13, count: 1, value: present(240) },
        ],
      },
    ]);
    expect(h.summary).toBe(
      'task_struct.se.vruntime on x86_64: 208 from 5.10.0-32-amd64 to 6.1.0-50-amd64, 240 from 6.12.95+deb12-amd64 to 6.12.117+deb13-amd64; '
      + 'arm64: 208 at 6.1.0-50-arm64, 240 at 6.12.117+deb13-arm64; rt-amd64 differs: 272 at 6.1.0-50-rt-amd64',
    );
  });

  it('a filter narrows the timeline too', () => {
    const h = fieldHistory(catalog, 'task_struct.se.vruntime', { arch: 'arm64' });
    expect(h.timeline.map((l) => [l.arch, l.flavour, l.spans.length])).toEqual([['arm64', 'arm64', 2]]);
    expect(h.summary).toBe('task_struct.se.vruntime on arm64: 208 at 6.1.0-50-arm64, 240 at 6.12.117+deb13-arm64');
  });

  it('a field that vanished points to the member that took its place (state -> __state)', () => {
    const h = fieldHistory(catalog, 'task_struct.state');
    expect(h.kernels[0]).toEqual({ kernel: K.deb11, series: 'debian/11/x86_64/amd64', ...present(16, 8, 'long int') });
    expect(h.kernels.slice(1).every((k) => k.status === 'missing_field')).toBe(true);
    expect(h.changes).toEqual([{
      from: K.deb11, to: K.deb11bpo, series: 'debian/11/x86_64/amd64', what: 'removed',
      before: { offset: 16, bits_offset: 128, size: 8, type: 'long int' }, after: { status: 'missing_field' },
      probable_rename: '__state',
    }]);
    expect(h.timeline[0].spans).toEqual([
      { first: K.deb11, last: K.deb11, count: 1, value: present(16, 8, 'long int') },
      { first: K.deb11bpo, last: K.deb13, count: 4, value: { status: 'missing_field' } },
    ]);
    // rt-amd64 lacks it like amd64 at the same versions: no difference to name
    expect(h.timeline[1]).toMatchObject({ flavour: 'rt-amd64', compared_with_main: 2, differs_from_main: [] });
    expect(h.summary).toBe(
      'task_struct.state on x86_64: 16 at 5.10.0-32-amd64, removed in 5.14.0-0.bpo.2-amd64: probably renamed to __state; '
      + 'arm64: no such field from 6.1.0-50-arm64 to 6.12.117+deb13-arm64',
    );
  });

  it('the rename is found across releases too, where no change of a series shows it', async () => {
    const two = await seriesCatalog(SERIES_KERNELS.filter((k) => k.kref === K.deb11 || k.kref === K.deb12));
    try {
      const h = fieldHistory(two.catalog, 'task_struct.state');
      expect(h.changes).toEqual([]);
      expect(h.summary).toBe('task_struct.state on x86_64: 16 at 5.10.0-32-amd64, removed in 6.1.0-50-amd64: probably renamed to __state');
    } finally {
      two.close();
    }
  });

  it('a selection where no kernel has the field: FIELD_NOT_FOUND suggesting the new name', () => {
    expect(codeAndSuggestions(() => fieldHistory(catalog, 'task_struct.state', { release: '12' }))).toEqual({
      code: 'FIELD_NOT_FOUND', suggestions: ['__state'],
    });
  });
});

describe('module types', () => {
  const LEFT_OUT = [K.deb11, K.deb11bpo, K.arm12, K.deb12rt, K.arm13];

  it('a field of a module struct names the module and leaves out kernels that did not ingest it', () => {
    const h = fieldHistory(catalog, 'ext4_sb_info.s_mount_opt');
    expect(h.kernels).toEqual([
      { kernel: K.deb12, series: 'debian/12/x86_64/amd64', ...present(0, 8, 'long unsigned int'), module: 'ext4' },
      { kernel: K.deb12new, series: 'debian/12/x86_64/amd64', ...present(0, 8, 'long unsigned int'), module: 'ext4' },
      { kernel: K.deb13, series: 'debian/13/x86_64/amd64', ...present(0, 8, 'long unsigned int'), module: 'ext4' },
      // its ext4 BTF was ingested, without that struct: really missing
      { kernel: K.deb13rt, series: 'debian/13/x86_64/rt-amd64', status: 'missing_struct' },
    ]);
    expect(h.changes).toEqual([]);
    expect(h.not_ingested).toEqual({ modules: ['ext4'], kernels: LEFT_OUT });
    expect(h.timeline.map((l) => [l.arch, l.flavour, l.kernels])).toEqual([['x86_64', 'amd64', 3], ['x86_64', 'rt-amd64', 1]]);
    expect(h.summary).toBe(
      'ext4_sb_info.s_mount_opt (module ext4) on x86_64: 0 from 6.1.0-50-amd64 to 6.12.117+deb13-amd64; rt-amd64 differs: no such struct at 6.12.117+deb13-rt-amd64',
    );
  });

  it('a module type history: present/missing only where the module was ingested, renames paired both ways', () => {
    const h = typeHistory(catalog, 'ext4_sb_info');
    expect(h.kernels.map((k) => [k.kernel, k.status, 'module' in k ? k.module : undefined])).toEqual([
      [K.deb12, 'present', 'ext4'], [K.deb12new, 'present', 'ext4'], [K.deb13, 'present', 'ext4'], [K.deb13rt, 'missing', undefined],
    ]);
    expect(h.not_ingested).toEqual({ modules: ['ext4'], kernels: LEFT_OUT });
    expect(h.changes).toEqual([
      {
        from: K.deb12, to: K.deb12new, series: 'debian/12/x86_64/amd64', what: 'removed', member: 's_flags',
        before: { offset: 8, bits_offset: 64, bitfield_size: 0, size: 4, type: 'unsigned int' }, after: {}, probable_rename: 's_mount_flags',
      },
      {
        from: K.deb12, to: K.deb12new, series: 'debian/12/x86_64/amd64', what: 'added', member: 's_mount_flags',
        before: {}, after: { offset: 8, bits_offset: 64, bitfield_size: 0, size: 4, type: 'u32' }, probable_rename: 's_flags',
      },
    ]);
    const [amd64, rt] = h.timeline;
    expect(amd64.spans.map((s) => [s.first, s.last, s.count])).toEqual([[K.deb12, K.deb12, 1], [K.deb12new, K.deb13, 2]]);
    const [oldValue, newValue] = amd64.spans.map((s) => s.value);
    expect(oldValue).toEqual({ status: 'present', kind: 'struct', size: 16, members: 2, digest: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(newValue).toMatchObject({ status: 'present', kind: 'struct', size: 16, members: 2 });
    expect(oldValue).not.toEqual(newValue);
    expect(rt).toEqual({
      arch: 'x86_64', flavour: 'rt-amd64', main: false, kernels: 1,
      spans: [{ first: K.deb13rt, last: K.deb13rt, count: 1, value: { status: 'missing' } }],
      compared_with_main: 1,
      differs_from_main: [{ first: K.deb13rt, last: K.deb13rt, count: 1, value: { status: 'missing' }, main_value: newValue }],
    });
    expect(h.summary).toBe(
      'ext4_sb_info (module ext4) on x86_64: 16 bytes/2 members at 6.1.0-50-amd64, 16 bytes/2 members (other layout) from 6.12.95+deb12-amd64 '
      + 'to 6.12.117+deb13-amd64; rt-amd64 differs: not defined at 6.12.117+deb13-rt-amd64',
    );
  });

  it('a selection where no kernel ingested the module has no kernels and says so', () => {
    const h = typeHistory(catalog, 'ext4_sb_info', { arch: 'arm64' });
    expect(h.kernels).toEqual([]);
    expect(h.timeline).toEqual([]);
    expect(h.not_ingested).toEqual({ modules: ['ext4'], kernels: [K.arm12, K.arm13] });
    expect(h.summary).toBe('ext4_sb_info (module ext4): no kernels in the selection');
  });
});

describe('type history: series and renames', () => {
  it('vmlinux type: series on entries and changes, the state -> __state rename paired, no module keys', () => {
    const h = typeHistory(catalog, 'task_struct', { arch: 'x86_64' });
    expect(h.kernels.every((k) => !('module' in k))).toBe(true);
    expect(h.not_ingested).toBeUndefined();
    expect(h.kernels.map((k) => k.series)).toEqual([
      'debian/11/x86_64/amd64', 'debian/11/x86_64/amd64', 'debian/12/x86_64/amd64', 'debian/12/x86_64/rt-amd64', 'debian/12/x86_64/amd64',
      'debian/13/x86_64/amd64', 'debian/13/x86_64/rt-amd64',
    ]);
    expect(h.changes.map((c) => [c.from, c.to, c.series, c.what, c.member, c.probable_rename])).toEqual([
      [K.deb11, K.deb11bpo, 'debian/11/x86_64/amd64', 'removed', 'state', '__state'],
      [K.deb11, K.deb11bpo, 'debian/11/x86_64/amd64', 'added', '__state', 'state'],
    ]);
    expect(h.timeline.map((l) => [l.flavour, l.spans.map((s) => s.count)])).toEqual([['amd64', [1, 4]], ['rt-amd64', [2]]]);
    expect(h.timeline[1]).toMatchObject({ compared_with_main: 2, differs_from_main: [] });
    expect(h.summary).toBe('task_struct on x86_64: 320 bytes/3 members at 5.10.0-32-amd64, 320 bytes/3 members (other layout) from 5.14.0-0.bpo.2-amd64 to 6.12.117+deb13-amd64');
  });

  it('sched_entity: the vruntime move is a change of the debian/12 amd64 series only', () => {
    const h = typeHistory(catalog, 'sched_entity');
    expect(h.changes.map((c) => [c.from, c.to, c.series, c.what, c.member])).toEqual([
      [K.deb12, K.deb12new, 'debian/12/x86_64/amd64', 'offset', 'vruntime'],
    ]);
    expect(h.summary).toBe(
      'sched_entity on x86_64: 128 bytes/2 members from 5.10.0-32-amd64 to 6.1.0-50-amd64, 128 bytes/2 members (other layout) from 6.12.95+deb12-amd64 '
      + 'to 6.12.117+deb13-amd64; arm64: 128 bytes/2 members at 6.1.0-50-arm64, 128 bytes/2 members (other layout) at 6.12.117+deb13-arm64; '
      + 'rt-amd64 differs: 128 bytes/2 members at 6.1.0-50-rt-amd64',
    );
  });
});

describe('suggestions for a nested path', () => {
  it('corrects the segment that does not resolve, not only the first member', () => {
    expect(codeAndSuggestions(() => fieldHistory(catalog, 'task_struct.se.vruntim'))).toEqual({
      code: 'FIELD_NOT_FOUND', suggestions: ['task_struct.se.vruntime'],
    });
    expect(codeAndSuggestions(() => fieldHistory(catalog, 'task_struct.sx.vruntime'))).toEqual({
      code: 'FIELD_NOT_FOUND', suggestions: ['task_struct.se.vruntime'],
    });
  });

  it('one-member paths keep suggesting member names', () => {
    expect(codeAndSuggestions(() => fieldHistory(catalog, 'task_struct.__stat')).suggestions[0]).toBe('__state');
  });
});
