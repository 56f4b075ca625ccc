import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBtfTarXz, listArchiveKernels, openCatalog, sha256Hex } from '@btf-atlas/catalog';
import { sampleBtf } from '../../../libs/btf/test/support/builder.js';
import { REPO, cliOn } from './support.js';

const KERNEL_DIR = join(REPO, 'fixtures/corpus/archive/debian/12/x86_64');

let dir: string;
let db: string;

const cli = cliOn(() => db);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-cli-'));
  db = join(dir, 'atlas.db');
  const r = cli('ingest', join(KERNEL_DIR, '6.1.0-47-amd64.btf.tar.xz'), join(KERNEL_DIR, '6.1.0-50-amd64.btf.tar.xz'));
  expect(r.stderr).toMatch(/2 kernel\(s\): 2 ingested/);
  expect(r.status).toBe(0);
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('catalog commands in-process (no REDIS_URL)', () => {
  it('read commands never create a catalog: a missing one is one line and exit 1', () => {
    const missing = join(dir, 'typo', 'atlas.db');
    for (const args of [['kernels'], ['field', 'pt_regs.di'], ['type', 'pt_regs', '--kernel', 'debian/12/x86_64/6.1.0-50-amd64'], ['diff', 'a/b/c/d', 'a/b/c/e'], ['failures']]) {
      const r = cli(...args, '--db', missing);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr).toBe(`btf-atlas: CATALOG_MISSING: no catalog at ${missing}: ingest kernels first (btf-atlas ingest PATH), or point --db / BTF_ATLAS_DB at one\n`);
    }
    expect(existsSync(join(dir, 'typo'))).toBe(false);
  });

  it('kernels --json lists them in kernel order', () => {
    const r = cli('kernels', '--json');
    expect(r.status).toBe(0);
    const kernels = (JSON.parse(r.stdout) as { kernels: { kernel: string; types: number }[] }).kernels;
    expect(kernels.map((k) => k.kernel)).toEqual(['debian/12/x86_64/6.1.0-47-amd64', 'debian/12/x86_64/6.1.0-50-amd64']);
  });

  it('field --json answers pt_regs.di across the ingested kernels in the contract shape', () => {
    const r = cli('field', 'pt_regs.di', '--json');
    expect(r.status).toBe(0);
    const h = JSON.parse(r.stdout) as { field: string; kernels: Record<string, unknown>[]; changes: unknown[] };
    expect(h.field).toBe('pt_regs.di');
    expect(h.kernels[0]).toEqual({
      kernel: 'debian/12/x86_64/6.1.0-47-amd64', series: 'debian/12/x86_64/amd64', status: 'present', offset: 112, bits_offset: 896, bitfield_size: 0, size: 8,
      type: 'long unsigned int',
    });
    expect(h.changes).toEqual([]);
  });

  it('field prints the summary first, then the kernels; --json has the timeline and the same summary', () => {
    const r = cli('field', 'pt_regs.di');
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('pt_regs.di on x86_64: 112 from 6.1.0-47-amd64 to 6.1.0-50-amd64');
    expect(lines[1]).toBe('');
    expect(lines[2]).toMatch(/^KERNEL\s+OFFSET\s+BITS\s+SIZE\s+TYPE$/);
    const h = JSON.parse(cli('field', 'pt_regs.di', '--json').stdout) as { summary: string; timeline: { arch: string; flavour: string; spans: { count: number }[] }[] };
    expect(h.summary).toBe(lines[0]);
    expect(h.timeline.map((l) => [l.arch, l.flavour, l.spans.map((s) => s.count)])).toEqual([['x86_64', 'amd64', [2]]]);
  });

  it('type --history prints the summary first', () => {
    const r = cli('type', 'task_struct', '--history');
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').slice(0, 2)).toEqual(['task_struct on x86_64: 9792 bytes/251 members at 6.1.0-47-amd64, 9792 bytes/253 members at 6.1.0-50-amd64', '']);
  });

  it('a typo in a nested field path is corrected in that segment', () => {
    const r = cli('field', 'task_struct.se.vruntim');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/FIELD_NOT_FOUND: .*\btask_struct\.se\.vruntime\b/);
  });

  it('field reports where a bitfield moved between neighbouring kernels', () => {
    // The corpus' CO-RE notes: task_struct.in_iowait moves one bit between 6.1.0-47 and 6.1.0-50.
    const r = cli('field', 'task_struct.in_iowait', '--json');
    const h = JSON.parse(r.stdout) as { changes: { what: string; before: { bits_offset: number }; after: { bits_offset: number } }[] };
    expect(h.changes.map((c) => c.what)).toContain('offset');
    const c = h.changes.find((x) => x.what === 'offset')!;
    expect(Math.abs(c.after.bits_offset - c.before.bits_offset)).toBe(1);
  });

  it('type prints what `pahole -C NAME` prints, --flat the flattened members, and --json those members', () => {
    // pahole 1.30's output for these kernels (the corpus oracle), byte for byte.
    const oracle = readFileSync(join(REPO, 'fixtures/corpus/oracle/debian/12/x86_64/6.1.0-50-amd64.pahole.txt'), 'latin1');
    for (const name of ['task_struct', 'sk_buff']) {
      const section = oracle.split(/^### pahole .*$/m).find((x) => x.startsWith(`\nstruct ${name} {`))!;
      const text = cli('type', name, '--kernel', 'debian/12/x86_64/6.1.0-50-amd64');
      expect(text.status).toBe(0);
      expect(`\n${text.stdout}\n`).toBe(section);
    }
    const flat = cli('type', 'pt_regs', '--kernel', 'debian/12/x86_64/6.1.0-50-amd64', '--flat');
    expect(flat.status).toBe(0);
    expect(flat.stdout).toMatch(/struct pt_regs \{/);
    expect(flat.stdout).toMatch(/long unsigned int\s+di;\s+\/\*\s+112\s+8 \*\//);
    expect(cli('type', 'pt_regs', '--history', '--flat').status).toBe(2);
    const json = JSON.parse(cli('type', 'pt_regs', '--kernel', 'debian/12/x86_64/6.1.0-50-amd64', '--json').stdout) as { types: { size: number; members: unknown[] }[] };
    expect(json.types).toHaveLength(1);
    expect(json.types[0].size).toBe(168);
    expect(json.types[0].members).toHaveLength(21);
  });

  it('type --history shows the type across kernels and what moved; --kernel or --history is required', () => {
    const r = cli('type', 'task_struct', '--history');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/6\.1\.0-47-amd64\s+struct\s+9792/);
    expect(r.stdout).toMatch(/in_iowait: offset/);
    const j = JSON.parse(cli('type', 'task_struct', '--history', '--json').stdout) as { type: string; kernels: unknown[]; changes: { member?: string; what: string }[] };
    expect(j.type).toBe('task_struct');
    expect(j.kernels).toHaveLength(2);
    expect(j.changes).toContainEqual(expect.objectContaining({ member: 'in_iowait', what: 'offset' }));
    expect(cli('type', 'task_struct').status).toBe(2);
    expect(cli('type', 'task_struct', '--history', '--kernel', 'debian/12/x86_64/6.1.0-47-amd64').status).toBe(2);
  });

  it('unknown names fail with exit 1, one line and close suggestions', () => {
    const t = cli('field', 'sk_buf.len');
    expect(t.status).toBe(1);
    expect(t.stderr.trim().split('\n')).toHaveLength(1);
    expect(t.stderr).toMatch(/TYPE_NOT_FOUND.*sk_buff/);
    const k = cli('type', 'pt_regs', '--kernel', 'debian/12/x86_64/6.1.0-49-amd64');
    expect(k.status).toBe(1);
    expect(k.stderr).toMatch(/KERNEL_NOT_FOUND.*6\.1\.0-4[07]-amd64|KERNEL_NOT_FOUND.*6\.1\.0-50-amd64/);
    expect(cli('type', 'pt_regs', '--kernel', 'not-a-kref').status).toBe(1);
    expect(cli('field').status).toBe(2);
    // A filter value no kernel has: exit 1, one line naming the values there are.
    const arch = cli('field', 'pt_regs.di', '--arch', 'x86-64');
    expect(arch.status).toBe(1);
    expect(arch.stderr.trim().split('\n')).toHaveLength(1);
    expect(arch.stderr).toMatch(/NO_MATCHING_KERNELS: no kernels with arch x86-64; arches: x86_64/);
  });

  it('re-ingesting the same files is a no-op reported as skipped', () => {
    const r = cli('ingest', join(KERNEL_DIR, '6.1.0-47-amd64.btf.tar.xz'), '--json');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.trim()) as { status: string }).toMatchObject({ status: 'skipped' });
  });
  it("ingest of raw BTF builds each kernel's mirror tarball after its commit, before the command ends", async () => {
    const other = join(dir, 'raw.db');
    const raw = join(dir, 'raw.btf');
    writeFileSync(raw, sampleBtf());
    const kref = 'debian/12/x86_64/1.0.0-9-amd64';
    const r = cli('ingest', raw, '--kernel', kref, '--db', other);
    expect(r.status, r.stderr).toBe(0);
    const expected = await buildBtfTarXz('1.0.0-9-amd64', sampleBtf());
    const c = openCatalog(other, { readonly: true });
    try {
      expect(listArchiveKernels(c)).toMatchObject([{ kernel: kref, archiveSha256: sha256Hex(expected), archiveSize: expected.length }]);
    } finally {
      c.close();
    }
  });

  it('a bad input fails its ingest with exit 1 and its reason is listed by failures', () => {
    const bad = join(REPO, 'libs/btf/test/fixtures/bad/typedef-cycle.btf');
    const r = cli('ingest', bad, '--kernel', 'debian/12/x86_64/6.1.0-99-amd64');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/failed debian\/12\/x86_64\/6\.1\.0-99-amd64: BTF_TYPE_LOOP/);
    const f = JSON.parse(cli('failures', '--json').stdout) as { failures: { kernel: string; code: string }[] };
    expect(f.failures[0]).toMatchObject({ kernel: 'debian/12/x86_64/6.1.0-99-amd64', code: 'BTF_TYPE_LOOP' });
    // …and by kernels, in kernel order among the ingested ones, with state failed and the reason
    const kernels = (JSON.parse(cli('kernels', '--json').stdout) as { kernels: { kernel: string; state: string; failure?: { code: string } }[] }).kernels;
    expect(kernels.map((k) => k.state)).toEqual(['ingested', 'ingested', 'failed']);
    expect(kernels[2]).toMatchObject({ kernel: 'debian/12/x86_64/6.1.0-99-amd64', failure: { code: 'BTF_TYPE_LOOP' } });
    expect(cli('kernels').stdout).toContain('debian/12/x86_64/6.1.0-99-amd64\tfailed: BTF_TYPE_LOOP: ');
    // answers that would have included it say it is missing, and why
    const field = cli('field', 'pt_regs.di', '--release', '12');
    expect(field.stdout).toMatch(/1 kernel of this selection failed to ingest[^\n]*\n {2}debian\/12\/x86_64\/6\.1\.0-99-amd64: BTF_TYPE_LOOP: /);
    const one = cli('type', 'pt_regs', '--kernel', 'debian/12/x86_64/6.1.0-99-amd64');
    expect(one.status).toBe(1);
    expect(one.stderr).toMatch(/KERNEL_NOT_FOUND: .*failed to ingest .*BTF_TYPE_LOOP/);
  });
});
