import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = join(REPO, 'apps/cli/bin/btf-atlas.js');
const KERNEL_DIR = join(REPO, 'fixtures/corpus/archive/debian/12/x86_64');
const OLD = 'debian/12/x86_64/6.1.0-47-amd64';
const NEW = 'debian/12/x86_64/6.1.0-50-amd64';

let dir: string;
let db: string;

/** Runs the built CLI as a user would, without REDIS_URL; the catalog is given with --db. */
function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.REDIS_URL;
  delete env.BTF_ATLAS_DB;
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 28 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-diff-cli-'));
  db = join(dir, 'atlas.db');
  const r = cli('ingest', join(KERNEL_DIR, '6.1.0-47-amd64.btf.tar.xz'), join(KERNEL_DIR, '6.1.0-50-amd64.btf.tar.xz'), '--db', db);
  expect(r.status, r.stderr).toBe(0);
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('btf-atlas diff', () => {
  it('--json answers in the contract shape', () => {
    const r = cli('diff', OLD, NEW, '--json', '--db', db);
    expect(r.status, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as { from: string; to: string; changes: Record<string, unknown>[]; summary: Record<string, number> };
    expect(d.from).toBe(OLD);
    expect(d.to).toBe(NEW);
    expect(Object.keys(d.summary)).toEqual(['breaking', 'layout', 'additive']);
    expect(d.summary.breaking + d.summary.layout + d.summary.additive).toBe(d.changes.length);
    const kinds = new Set(['struct', 'union', 'enum', 'func', 'typedef']);
    const changeKinds = new Set(['added', 'removed', 'size', 'offset', 'type', 'bitfield', 'value', 'signature']);
    for (const c of d.changes) {
      expect(kinds.has(c.kind as string)).toBe(true);
      expect(changeKinds.has(c.change as string)).toBe(true);
      expect(['breaking', 'layout', 'additive']).toContain(c.severity);
      expect(typeof c.name).toBe('string');
      expect(typeof c.before).toBe('object');
      expect(typeof c.after).toBe('object');
    }
    // The corpus' CO-RE note: task_struct.in_iowait moves one bit; fwnode_handle.flags grows from u8.
    const moved = d.changes.find((c) => c.name === 'task_struct' && c.member === 'in_iowait' && c.change === 'offset') as { before: { bits_offset: number }; after: { bits_offset: number }; severity: string };
    expect(Math.abs(moved.after.bits_offset - moved.before.bits_offset)).toBe(1);
    expect(moved.severity).toBe('layout');
    expect(d.changes.find((c) => c.name === 'fwnode_handle' && c.member === 'flags')).toMatchObject({
      kind: 'struct', change: 'type', before: { type: 'u8' }, after: { type: 'long unsigned int' }, severity: 'breaking',
    });
    expect(d.changes.find((c) => c.name === 'padata_instance' && c.member === 'cpu_online_node')).toMatchObject({ change: 'removed', probable_rename: 'cpuhp_node' });
  });

  it('prints text grouped by severity, one line per change', () => {
    const r = cli('diff', OLD, NEW, '--db', db);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^debian\/12\/x86_64\/6\.1\.0-47-amd64 → debian\/12\/x86_64\/6\.1\.0-50-amd64: \d+ breaking, \d+ layout, \d+ additive$/);
    const headers = lines.filter((l) => /^(breaking|layout|additive) \(\d+\):$/.test(l));
    expect(headers.map((h) => h.split(' ')[0])).toEqual(['breaking', 'layout', 'additive']);
    expect(r.stdout).toMatch(/^ {2}struct fwnode_handle\.flags {2}type: u8 \(1 bytes\) → long unsigned int \(8 bytes\) {2}-- /m);
  });

  it('unknown kernels exit 1 with one line and suggestions; missing arguments exit 2', () => {
    const r = cli('diff', OLD, 'debian/12/x86_64/6.1.0-49-amd64', '--db', db);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/KERNEL_NOT_FOUND.*6\.1\.0-49-amd64.*did you mean.*6\.1\.0-4[07]-amd64|KERNEL_NOT_FOUND.*did you mean.*6\.1\.0-50-amd64/);
    expect(cli('diff', 'not-a-kref', NEW, '--db', db).status).toBe(1);
    expect(cli('diff', OLD, '--db', db).status).toBe(2);
    expect(cli('diff').status).toBe(2);
  });
});
