import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCatalog } from '@btf-atlas/catalog';
import {
  chunked, DiffFilterError, diffKernels, filterDiff, globToRegExp, ndjsonLines, parseDiffFilter, type DiffChange, type DiffFilterInput,
  type DiffView, type KernelDiff,
} from '@btf-atlas/diff';
import { AMBIGUOUS, ingestTinyKernels, KIND_COUNTS, TINY_NEW, TINY_OLD, TOTAL } from './support/tiny-kernels.js';

/** The changes as compact tuples. */
const brief = (changes: DiffChange[] | undefined): string[] =>
  (changes ?? []).map((c) => `${c.kind} ${c.name}${c.member !== undefined ? `.${c.member}` : ''} ${c.change} ${c.severity}`);

/** Every change between the two tiny kernels, in the diff's order (kind, name, then within a type). */
const ALL = [
  'enum sk_state.TCP_B value layout',
  'enum sk_state.TCP_C added additive',
  'func sk_alloc signature breaking',
  'func sk_gone removed breaking',
  'struct dup_gone removed breaking',
  'struct dup_new added additive',
  'struct new_only added additive',
  'struct old_only removed breaking',
  'struct sk_buff size layout',
  'struct sk_buff.hash added additive',
  'struct sk_buff.mark offset layout',
  'struct sock.sk_flags removed breaking',
  'struct task_struct size layout',
  'struct task_struct.pid type breaking',
  'typedef sk_len_t type breaking',
  'union sk_addr size layout',
  'union sk_addr.v6 added additive',
];

let dir: string;
let diff: KernelDiff;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-diff-filters-'));
  const db = join(dir, 'atlas.db');
  await ingestTinyKernels(dir, db);
  const catalog = openCatalog(db);
  try {
    diff = diffKernels(catalog, TINY_OLD, TINY_NEW);
  } finally {
    catalog.close();
  }
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const view = (input: DiffFilterInput, summary = false): DiffView => filterDiff(diff, parseDiffFilter(input), { summary });

describe('the tiny kernels', () => {
  it('differ in every kind of change, and the duplicate names that appear or vanish are added/removed', () => {
    expect(diff.from).toBe(TINY_OLD);
    expect(diff.to).toBe(TINY_NEW);
    expect(brief(diff.changes)).toEqual(ALL);
    expect(diff.summary).toEqual(TOTAL);
    expect(diff.ambiguous).toEqual(AMBIGUOUS);
    expect(diff.changes.find((c) => c.name === 'dup_gone')).toEqual({
      kind: 'struct', name: 'dup_gone', change: 'removed', before: { size: 4, count: 2, definitions: [{ size: 4 }, { size: 8 }] }, after: {},
      severity: 'breaking', reason: 'type removed: a CO-RE relocation finds no candidate of that name and fails',
    });
    expect(diff.changes.find((c) => c.name === 'dup_new')).toMatchObject({ change: 'added', before: {}, after: { size: 4, count: 2, definitions: [{ size: 4 }, { size: 4 }] }, severity: 'additive' });
  });
});

describe('filterDiff', () => {
  it('without filters and summary gives the diff itself', () => {
    expect(filterDiff(diff, {})).toBe(diff);
    expect(filterDiff(diff, parseDiffFilter({}))).toBe(diff);
    expect(Object.keys(filterDiff(diff, {}))).toEqual(['from', 'to', 'changes', 'summary', 'ambiguous']);
  });

  it('--severity keeps those severities; summary counts what is shown, total the whole diff', () => {
    const v = view({ severity: 'breaking' });
    expect(brief(v.changes)).toEqual(ALL.filter((c) => c.endsWith(' breaking')));
    expect(brief(v.changes)).toHaveLength(7);
    expect(v.summary).toEqual({ breaking: 7, layout: 0, additive: 0, total: TOTAL });
    expect(v.filters).toEqual({ severity: ['breaking'] });
    // Not-compared names have no severity: the severity filter leaves them.
    expect(v.ambiguous).toEqual(AMBIGUOUS);
    expect(Object.keys(v)).toEqual(['from', 'to', 'changes', 'summary', 'ambiguous', 'filters']);
    const two = view({ severity: 'additive, layout' });
    expect(brief(two.changes)).toEqual(ALL.filter((c) => !c.endsWith(' breaking')));
    expect(two.summary).toEqual({ breaking: 0, layout: 5, additive: 5, total: TOTAL });
    expect(two.filters).toEqual({ severity: ['layout', 'additive'] });
  });

  it('--kind keeps those kinds, changes and not-compared names alike', () => {
    const v = view({ kind: 'union' });
    expect(brief(v.changes)).toEqual(['union sk_addr size layout', 'union sk_addr.v6 added additive']);
    expect(v.summary).toEqual({ breaking: 0, layout: 1, additive: 1, total: TOTAL });
    expect(v.ambiguous).toEqual([]);
    const v2 = view({ kind: 'func,typedef,func' });
    expect(brief(v2.changes)).toEqual(['func sk_alloc signature breaking', 'func sk_gone removed breaking', 'typedef sk_len_t type breaking']);
    expect(v2.filters).toEqual({ kind: ['func', 'typedef'] });
  });

  it('--name is a shell glob on the type name', () => {
    const sk = view({ name: 'sk_*' });
    expect(brief(sk.changes)).toEqual([
      'enum sk_state.TCP_B value layout',
      'enum sk_state.TCP_C added additive',
      'func sk_alloc signature breaking',
      'func sk_gone removed breaking',
      'struct sk_buff size layout',
      'struct sk_buff.hash added additive',
      'struct sk_buff.mark offset layout',
      'typedef sk_len_t type breaking',
      'union sk_addr size layout',
      'union sk_addr.v6 added additive',
    ]);
    expect(sk.summary).toEqual({ breaking: 3, layout: 4, additive: 3, total: TOTAL });
    expect(sk.ambiguous).toEqual([]);
    expect(brief(view({ name: 'task_struct' }).changes)).toEqual(['struct task_struct size layout', 'struct task_struct.pid type breaking']);
    // The type name only: a member is not part of it.
    expect(view({ name: 'task_struct.pid' })).toMatchObject({ changes: [], summary: { breaking: 0, layout: 0, additive: 0, total: TOTAL }, ambiguous: [] });
    expect(brief(view({ name: '[!s]*' }).changes)).toEqual([
      'struct dup_gone removed breaking',
      'struct dup_new added additive',
      'struct new_only added additive',
      'struct old_only removed breaking',
      'struct task_struct size layout',
      'struct task_struct.pid type breaking',
    ]);
    expect(brief(view({ name: 's?c?' }).changes)).toEqual(['struct sock.sk_flags removed breaking']);
    expect(brief(view({ name: '*_only' }).changes)).toEqual(['struct new_only added additive', 'struct old_only removed breaking']);
    const dup = view({ name: 'dup_*' });
    expect(brief(dup.changes)).toEqual(['struct dup_gone removed breaking', 'struct dup_new added additive']);
    expect(dup.ambiguous).toEqual(AMBIGUOUS);
  });

  it('combines filters (all must pass)', () => {
    const v = view({ severity: 'layout,breaking', kind: 'union,struct', name: 's?_*' });
    expect(brief(v.changes)).toEqual(['struct sk_buff size layout', 'struct sk_buff.mark offset layout', 'union sk_addr size layout']);
    expect(v.summary).toEqual({ breaking: 0, layout: 3, additive: 0, total: TOTAL });
    expect(v.filters).toEqual({ severity: ['breaking', 'layout'], kind: ['struct', 'union'], name: 's?_*' });
    const dupAdded = view({ severity: 'additive', name: 'dup_*' });
    expect(brief(dupAdded.changes)).toEqual(['struct dup_new added additive']);
    expect(dupAdded.ambiguous).toEqual(AMBIGUOUS);
  });

  it('--summary counts per severity and per kind, without a change list', () => {
    const s = view({}, true);
    expect(s).toEqual({
      from: TINY_OLD,
      to: TINY_NEW,
      summary: {
        ...TOTAL,
        kinds: KIND_COUNTS,
      },
      ambiguous: AMBIGUOUS,
    });
    expect(Object.keys(s)).toEqual(['from', 'to', 'summary', 'ambiguous']);
    const f = view({ kind: 'struct', severity: 'breaking' }, true);
    expect(f.changes).toBeUndefined();
    expect(f.summary).toEqual({
      breaking: 4, layout: 0, additive: 0,
      kinds: {
        struct: { breaking: 4, layout: 0, additive: 0 },
        union: { breaking: 0, layout: 0, additive: 0 },
        enum: { breaking: 0, layout: 0, additive: 0 },
        func: { breaking: 0, layout: 0, additive: 0 },
        typedef: { breaking: 0, layout: 0, additive: 0 },
      },
      total: TOTAL,
    });
    expect(f.filters).toEqual({ severity: ['breaking'], kind: ['struct'] });
  });
});

describe('parseDiffFilter', () => {
  const fails = (input: DiffFilterInput): DiffFilterError => {
    try {
      parseDiffFilter(input);
    } catch (err) {
      expect(err).toBeInstanceOf(DiffFilterError);
      return err as DiffFilterError;
    }
    throw new Error(`${JSON.stringify(input)} was accepted`);
  };

  it('refuses unknown, empty and unreadable values, naming the allowed ones', () => {
    expect(fails({ severity: 'fatal' })).toMatchObject({ param: 'severity', message: '"fatal" is not one of breaking, layout, additive', allowed: ['breaking', 'layout', 'additive'] });
    expect(fails({ severity: 'breaking,' })).toMatchObject({ param: 'severity', message: 'empty item in "breaking,": one or more of breaking, layout, additive, comma-separated' });
    expect(fails({ severity: 'Breaking' }).param).toBe('severity');
    expect(fails({ kind: 'class' })).toMatchObject({ param: 'kind', message: '"class" is not one of struct, union, enum, func, typedef', allowed: ['struct', 'union', 'enum', 'func', 'typedef'] });
    expect(fails({ kind: '' })).toMatchObject({ param: 'kind', message: 'no value given: one or more of struct, union, enum, func, typedef, comma-separated' });
    expect(fails({ name: '' })).toMatchObject({ param: 'name', message: 'no value given: a type name or a shell glob (*, ?, [abc])' });
    expect(fails({ name: 'sk_[ab' })).toMatchObject({ param: 'name', message: '"sk_[ab" is not a usable glob: "[" without its "]"' });
    expect(fails({ name: '[z-a]*' })).toMatchObject({ param: 'name', message: '"[z-a]*" is not a usable glob: reversed range z-a' });
    expect(fails({ name: 'x'.repeat(257) }).param).toBe('name');
  });

  it('normalizes lists: deduplicated, in the contract order', () => {
    expect(parseDiffFilter({ severity: ' additive ,breaking,additive', kind: 'typedef,struct' })).toEqual({ severity: ['breaking', 'additive'], kind: ['struct', 'typedef'] });
    expect(parseDiffFilter({})).toEqual({});
  });
});

describe('globToRegExp', () => {
  const m = (glob: string, name: string): boolean => globToRegExp(glob).test(name);
  it('matches as the shell does', () => {
    expect(m('sk_*', 'sk_buff')).toBe(true);
    expect(m('sk_*', 'sk_')).toBe(true);
    expect(m('sk_*', 'sock')).toBe(false);
    expect(m('sk_*', 'xsk_buff')).toBe(false);
    expect(m('*', '')).toBe(true);
    expect(m('task_struct', 'task_struct')).toBe(true);
    expect(m('task_struct', 'task_struct2')).toBe(false);
    expect(m('?', 'a')).toBe(true);
    expect(m('?', 'ab')).toBe(false);
    expect(m('[abc]x', 'bx')).toBe(true);
    expect(m('[abc]x', 'dx')).toBe(false);
    expect(m('[a-c]*', 'cred')).toBe(true);
    expect(m('[a-c]*', 'dentry')).toBe(false);
    expect(m('[!a-c]*', 'dentry')).toBe(true);
    expect(m('[^a-c]*', 'cred')).toBe(false);
    expect(m('[]]', ']')).toBe(true);
    expect(m('[-a]', '-')).toBe(true);
    expect(m('a\\*', 'a*')).toBe(true);
    expect(m('a\\*', 'ab')).toBe(false);
    // RegExp syntax means nothing in a glob.
    expect(m('a.b', 'axb')).toBe(false);
    expect(m('a.b', 'a.b')).toBe(true);
    expect(m('a+', 'aa')).toBe(false);
    expect(m('(x)|y', 'y')).toBe(false);
    expect(m('**_ops', 'bpf_ops')).toBe(true);
  });
});

describe('NDJSON', () => {
  const lines = (v: DiffView): string[] => {
    const text = [...ndjsonLines(v)].join('');
    expect(text.endsWith('\n')).toBe(true);
    return text.slice(0, -1).split('\n');
  };

  it('is a header line, one line per change equal to the JSON answer, and a summary line', () => {
    const out = lines(filterDiff(diff, {}));
    expect(out).toHaveLength(ALL.length + 2);
    const parsed = out.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed[0]).toEqual({ from: TINY_OLD, to: TINY_NEW, filters: {} });
    expect(Object.keys(parsed[0])).toEqual(['from', 'to', 'filters']);
    expect(parsed.slice(1, -1)).toEqual(diff.changes);
    // Each change line is the change exactly as the JSON answer writes it.
    expect(out.slice(1, -1)).toEqual(diff.changes.map((c) => JSON.stringify(c)));
    expect(parsed.at(-1)).toEqual({ summary: TOTAL, ambiguous: AMBIGUOUS });
  });

  it('carries the filters in the header and the filtered summary last; --summary has no change lines', () => {
    const v = view({ severity: 'breaking', kind: 'func' });
    const out = lines(v).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(out).toEqual([
      { from: TINY_OLD, to: TINY_NEW, filters: { severity: ['breaking'], kind: ['func'] } },
      ...v.changes!,
      { summary: { breaking: 2, layout: 0, additive: 0, total: TOTAL }, ambiguous: [] },
    ]);
    expect(out).toHaveLength(4);
    const s = lines(view({ name: 'sock' }, true)).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(s).toHaveLength(2);
    expect(s[0]).toEqual({ from: TINY_OLD, to: TINY_NEW, filters: { name: 'sock' } });
    expect(s[1]).toMatchObject({ summary: { breaking: 1, layout: 0, additive: 0, kinds: { struct: { breaking: 1, layout: 0, additive: 0 } }, total: TOTAL }, ambiguous: [] });
  });

  it('is made lazily, and chunked joins lines into chunks of about the asked size', () => {
    const gen = ndjsonLines(filterDiff(diff, {}));
    expect(JSON.parse(gen.next().value as string)).toEqual({ from: TINY_OLD, to: TINY_NEW, filters: {} });
    const all = [...ndjsonLines(diff)];
    const chunks = [...chunked(all, 500)];
    expect(chunks.join('')).toBe(all.join(''));
    expect(chunks.length).toBeGreaterThan(1);
    // Each chunk but the last reaches the size, and holds whole lines.
    for (const c of chunks.slice(0, -1)) {
      expect(c.length).toBeGreaterThanOrEqual(500);
      expect(c.endsWith('\n')).toBe(true);
    }
    expect([...chunked([], 10)]).toEqual([]);
  });
});
