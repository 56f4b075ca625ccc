import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AMBIGUOUS, ingestTinyKernels, KIND_COUNTS, TINY_NEW, TINY_OLD, TOTAL } from '../../../libs/diff/test/support/tiny-kernels.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = join(REPO, 'apps/cli/bin/btf-atlas.js');
const KERNEL_DIR = join(REPO, 'fixtures/corpus/archive/debian/12/x86_64');
const OLD = 'debian/12/x86_64/6.1.0-47-amd64';
const NEW = 'debian/12/x86_64/6.1.0-50-amd64';

let dir: string;
let db: string;
/** A catalog of the two tiny kernels of libs/diff's tests: every kind of change, and names defined twice. */
let tinyDb: string;

/** Runs the built CLI as a user would, without REDIS_URL; the catalog is given with --db. */
function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.REDIS_URL;
  delete env.BTF_ATLAS_DB;
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 28 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-diff-cli-'));
  db = join(dir, 'atlas.db');
  const r = cli('ingest', join(KERNEL_DIR, '6.1.0-47-amd64.btf.tar.xz'), join(KERNEL_DIR, '6.1.0-50-amd64.btf.tar.xz'), '--db', db);
  expect(r.status, r.stderr).toBe(0);
  tinyDb = join(dir, 'tiny.db');
  await ingestTinyKernels(dir, tinyDb);
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

/** `--json` output of the CLI, parsed. */
function json(...args: string[]): Record<string, unknown> & { changes?: Record<string, unknown>[]; summary: Record<string, unknown> } {
  const r = cli('diff', ...args, '--json');
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown> & { changes?: Record<string, unknown>[]; summary: Record<string, unknown> };
}

/** `--ndjson` output of the CLI: each line parsed (and checked to be one JSON text). */
function ndjson(...args: string[]): Record<string, unknown>[] {
  const r = cli('diff', ...args, '--ndjson');
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout.endsWith('\n')).toBe(true);
  return r.stdout.slice(0, -1).split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

const brief = (changes: Record<string, unknown>[] | undefined): string[] =>
  (changes ?? []).map((c) => `${String(c.kind)} ${String(c.name)}${c.member !== undefined ? `.${String(c.member)}` : ''} ${String(c.change)} ${String(c.severity)}`);


describe('btf-atlas diff filters, --summary and --ndjson', () => {
  it('duplicate-named types that vanish or appear are removed (breaking) / added (additive)', () => {
    const d = json(TINY_OLD, TINY_NEW, '--db', tinyDb);
    expect(d.summary).toEqual(TOTAL);
    expect(d.ambiguous).toEqual(AMBIGUOUS);
    expect(d.changes!.find((c) => c.name === 'dup_gone')).toMatchObject({ kind: 'struct', change: 'removed', before: { size: 4, count: 2 }, severity: 'breaking' });
    expect(d.changes!.find((c) => c.name === 'dup_new')).toMatchObject({ kind: 'struct', change: 'added', after: { size: 4, count: 2 }, severity: 'additive' });
    const r = cli('diff', TINY_OLD, TINY_NEW, '--db', tinyDb, '--name', 'dup_*');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe([
      `${TINY_OLD} → ${TINY_NEW}: 1 breaking, 0 layout, 1 additive  (filtered: name=dup_*; whole diff: 7 breaking, 5 layout, 5 additive)`,
      '',
      'breaking (1):',
      '  struct dup_gone  removed: 4 bytes (2 definitions)  -- type removed: a CO-RE relocation finds no candidate of that name and fails',
      '',
      'additive (1):',
      '  struct dup_new  added: 4 bytes (2 definitions)  -- new type',
      '',
      'not compared, defined more than once (2):',
      '  struct dup_both  2 → 2 definitions',
      '  struct dup_grows  1 → 2 definitions',
      '',
    ].join('\n'));
  });

  it('--severity, --kind and --name filter the changes; summary counts them, summary.total the whole diff', () => {
    const breaking = json(TINY_OLD, TINY_NEW, '--db', tinyDb, '--severity', 'breaking');
    expect(brief(breaking.changes)).toEqual([
      'func sk_alloc signature breaking',
      'func sk_gone removed breaking',
      'struct dup_gone removed breaking',
      'struct old_only removed breaking',
      'struct sock.sk_flags removed breaking',
      'struct task_struct.pid type breaking',
      'typedef sk_len_t type breaking',
    ]);
    expect(breaking.summary).toEqual({ breaking: 7, layout: 0, additive: 0, total: TOTAL });
    expect(breaking.filters).toEqual({ severity: ['breaking'] });
    expect(Object.keys(breaking)).toEqual(['from', 'to', 'changes', 'summary', 'ambiguous', 'filters']);

    const unions = json(TINY_OLD, TINY_NEW, '--db', tinyDb, '--kind', 'union');
    expect(brief(unions.changes)).toEqual(['union sk_addr size layout', 'union sk_addr.v6 added additive']);
    expect(unions.summary).toEqual({ breaking: 0, layout: 1, additive: 1, total: TOTAL });
    expect(unions.ambiguous).toEqual([]);

    const sk = json(TINY_OLD, TINY_NEW, '--db', tinyDb, '--name', 'sk_*', '--kind', 'struct,enum', '--severity', 'layout,additive');
    expect(brief(sk.changes)).toEqual([
      'enum sk_state.TCP_B value layout',
      'enum sk_state.TCP_C added additive',
      'struct sk_buff size layout',
      'struct sk_buff.hash added additive',
      'struct sk_buff.mark offset layout',
    ]);
    expect(sk.summary).toEqual({ breaking: 0, layout: 3, additive: 2, total: TOTAL });
    expect(sk.filters).toEqual({ severity: ['layout', 'additive'], kind: ['struct', 'enum'], name: 'sk_*' });

    const text = cli('diff', TINY_OLD, TINY_NEW, '--db', tinyDb, '--severity', 'breaking', '--kind', 'struct');
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout.split('\n').slice(0, 7)).toEqual([
      `${TINY_OLD} → ${TINY_NEW}: 4 breaking, 0 layout, 0 additive  (filtered: severity=breaking kind=struct; whole diff: 7 breaking, 5 layout, 5 additive)`,
      '',
      'breaking (4):',
      '  struct dup_gone  removed: 4 bytes (2 definitions)  -- type removed: a CO-RE relocation finds no candidate of that name and fails',
      '  struct old_only  removed: 4 bytes  -- type removed: a CO-RE relocation finds no candidate of that name and fails',
      '  struct sock.sk_flags  removed: int at 0, 4 bytes  -- member removed: a CO-RE field relocation finds no member of that name and fails',
      '  struct task_struct.pid  type: int (4 bytes) → long int (8 bytes)  -- integer size changed (4 → 8 bytes): a read of the old size gets the wrong bytes',
    ]);
  });

  it('--summary gives the counts per severity and per kind, no change list', () => {
    const s = json(TINY_OLD, TINY_NEW, '--db', tinyDb, '--summary');
    expect(s).toEqual({
      from: TINY_OLD,
      to: TINY_NEW,
      summary: {
        ...TOTAL,
        kinds: KIND_COUNTS,
      },
      ambiguous: AMBIGUOUS,
    });
    const all = cli('diff', TINY_OLD, TINY_NEW, '--db', tinyDb, '--summary');
    expect(all.status, all.stderr).toBe(0);
    expect(all.stdout).toBe([
      `${TINY_OLD} → ${TINY_NEW}: 7 breaking, 5 layout, 5 additive`,
      '',
      'by kind:',
      '  struct: 4 breaking, 3 layout, 3 additive',
      '  union: 0 breaking, 1 layout, 1 additive',
      '  enum: 0 breaking, 1 layout, 1 additive',
      '  func: 2 breaking, 0 layout, 0 additive',
      '  typedef: 1 breaking, 0 layout, 0 additive',
      '',
      'not compared, defined more than once: 2',
      '',
    ].join('\n'));
    const text = cli('diff', TINY_OLD, TINY_NEW, '--db', tinyDb, '--summary', '--kind', 'func,typedef');
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toBe([
      `${TINY_OLD} → ${TINY_NEW}: 3 breaking, 0 layout, 0 additive  (filtered: kind=func,typedef; whole diff: 7 breaking, 5 layout, 5 additive)`,
      '',
      'by kind:',
      '  struct: 0 breaking, 0 layout, 0 additive',
      '  union: 0 breaking, 0 layout, 0 additive',
      '  enum: 0 breaking, 0 layout, 0 additive',
      '  func: 2 breaking, 0 layout, 0 additive',
      '  typedef: 1 breaking, 0 layout, 0 additive',
      '',
    ].join('\n'));
    // The corpus pair: the counts are those of the full answer.
    const full = json(OLD, NEW, '--db', db);
    const summary = json(OLD, NEW, '--db', db, '--summary');
    expect(summary.changes).toBeUndefined();
    expect(summary.summary).toMatchObject(full.summary);
    const kinds = summary.summary.kinds as Record<string, Record<string, number>>;
    for (const kind of ['struct', 'union', 'enum', 'func', 'typedef']) {
      for (const sev of ['breaking', 'layout', 'additive']) {
        expect(kinds[kind][sev], `${kind} ${sev}`).toBe(full.changes!.filter((c) => c.kind === kind && c.severity === sev).length);
      }
    }
  });

  it('--ndjson: a header line, one line per change equal to --json, a summary line', () => {
    const full = json(OLD, NEW, '--db', db);
    const lines = ndjson(OLD, NEW, '--db', db);
    expect(lines[0]).toEqual({ from: OLD, to: NEW, filters: {} });
    expect(lines.slice(1, -1)).toEqual(full.changes);
    expect(lines.at(-1)).toEqual({ summary: full.summary, ambiguous: full.ambiguous });
    expect(lines.length).toBe(full.changes!.length + 2);

    const filtered = json(OLD, NEW, '--db', db, '--severity', 'breaking', '--kind', 'struct');
    const fl = ndjson(OLD, NEW, '--db', db, '--severity', 'breaking', '--kind', 'struct');
    expect(fl[0]).toEqual({ from: OLD, to: NEW, filters: { severity: ['breaking'], kind: ['struct'] } });
    expect(fl.slice(1, -1)).toEqual(filtered.changes);
    expect(filtered.changes!.length).toBeGreaterThan(0);
    expect(filtered.changes!.every((c) => c.kind === 'struct' && c.severity === 'breaking')).toBe(true);
    expect(fl.at(-1)).toEqual({ summary: filtered.summary, ambiguous: filtered.ambiguous });
    expect((fl.at(-1)!.summary as Record<string, unknown>).total).toEqual(full.summary);

    expect(ndjson(TINY_OLD, TINY_NEW, '--db', tinyDb, '--summary', '--name', 'sock')).toEqual([
      { from: TINY_OLD, to: TINY_NEW, filters: { name: 'sock' } },
      {
        summary: {
          breaking: 1, layout: 0, additive: 0,
          kinds: {
            struct: { breaking: 1, layout: 0, additive: 0 },
            union: { breaking: 0, layout: 0, additive: 0 },
            enum: { breaking: 0, layout: 0, additive: 0 },
            func: { breaking: 0, layout: 0, additive: 0 },
            typedef: { breaking: 0, layout: 0, additive: 0 },
          },
          total: TOTAL,
        },
        ambiguous: [],
      },
    ]);
  });

  it('--ndjson streams: a reader that stops after the first line gets the header, and the CLI exits quietly', () => {
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" diff ${OLD} ${NEW} --ndjson --db "${db}" | head -n 1`], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ from: OLD, to: NEW, filters: {} });
  });

  it('bad filter values exit 2 with one line naming the allowed values', () => {
    const bad: [string[], string][] = [
      [['--severity', 'fatal'], 'btf-atlas: --severity: "fatal" is not one of breaking, layout, additive'],
      [['--severity', 'breaking,'], 'btf-atlas: --severity: empty item in "breaking,": one or more of breaking, layout, additive, comma-separated'],
      [['--kind', 'class'], 'btf-atlas: --kind: "class" is not one of struct, union, enum, func, typedef'],
      [['--name', 'sk_[ab'], 'btf-atlas: --name: "sk_[ab" is not a usable glob: "[" without its "]"'],
      [['--name', ''], 'btf-atlas: --name: no value given: a type name or a shell glob (*, ?, [abc])'],
      [['--json', '--ndjson'], 'btf-atlas: --json and --ndjson do not go together'],
    ];
    for (const [args, message] of bad) {
      const r = cli('diff', TINY_OLD, TINY_NEW, '--db', tinyDb, ...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`${message}\n`);
    }
    expect(cli('diff', TINY_OLD, TINY_NEW, '--db', tinyDb, '--severity').status).toBe(2);
  });
});
