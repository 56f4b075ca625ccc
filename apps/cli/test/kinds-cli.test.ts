import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, cliOn } from './support.js';

// `btf-atlas func|tracepoint|syscall|enum|enumerator NAME` and `search TEXT` on a catalog of three corpus kernels
// (vmlinux BTF only): Debian 12's 6.1 for x86_64 and arm64, and Debian 13's 6.12 for x86_64. The facts checked
// were read from the same BTF with `bpftool btf dump file`.

const ARCHIVE = join(REPO, 'fixtures/corpus/archive/debian');
const X61 = 'debian/12/x86_64/6.1.0-50-amd64';
const ARM = 'debian/12/arm64/6.1.0-50-arm64';
const X612 = 'debian/13/x86_64/6.12.117+deb13-amd64';

let dir: string;
let db: string;
const cli = cliOn(() => db);

/** `--json` output of a command that must succeed. */
function json<T>(...args: string[]): T {
  const r = cli(...args, '--json');
  expect(r.stderr, args.join(' ')).toBe('');
  expect(r.status, args.join(' ')).toBe(0);
  return JSON.parse(r.stdout) as T;
}

/** Text output of a command that must succeed. */
function text(...args: string[]): string {
  const r = cli(...args);
  expect(r.stderr, args.join(' ')).toBe('');
  expect(r.status, args.join(' ')).toBe(0);
  return r.stdout;
}

interface Entry {
  kernel: string;
  series: string;
  status: 'present' | 'missing';
  [k: string]: unknown;
}

interface History {
  kernels: Entry[];
  changes: { from: string; to: string; series: string; what: string }[];
  timeline: { arch: string; spans: unknown[] }[];
  summary: string;
}

const byKernel = (h: History): Map<string, Entry> => new Map(h.kernels.map((k) => [k.kernel, k]));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-kinds-cli-'));
  db = join(dir, 'atlas.db');
  const r = cli('ingest', join(ARCHIVE, '12/x86_64/6.1.0-50-amd64.btf.tar.xz'), join(ARCHIVE, '12/arm64/6.1.0-50-arm64.btf.tar.xz'), join(ARCHIVE, '13/x86_64/6.12.117+deb13-amd64.btf.tar.xz'));
  expect(r.stderr).toMatch(/3 kernel\(s\): 3 ingested/);
  expect(r.status).toBe(0);
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('func', () => {
  it('a kfunc of 6.12 (bpf_kfunc decl tag) that 6.1 lacks: history JSON, its text, and the 6.12 declaration', () => {
    const h = json<History & { func: string }>('func', 'bpf_arena_alloc_pages', '--history');
    expect(h.func).toBe('bpf_arena_alloc_pages');
    const k = byKernel(h);
    expect(k.get(X61)?.status).toBe('missing');
    expect(k.get(ARM)?.status).toBe('missing');
    expect(k.get(X612)).toMatchObject({
      series: 'debian/13/x86_64/amd64', status: 'present', name: 'bpf_arena_alloc_pages', kfunc: true, return: 'void *',
      params: [
        { name: 'p__map', type: 'void *' }, { name: 'addr__ign', type: 'void *' }, { name: 'page_cnt', type: 'u32' },
        { name: 'node_id', type: 'int' }, { name: 'flags', type: 'u64' },
      ],
    });
    expect(k.get(X612)?.decl_tags).toContain('bpf_kfunc');
    expect(k.get(X612)?.linkage).toMatch(/^(static|global|extern)$/);

    // Without --history it is the history too; the summary comes first, then the table.
    const lines = text('func', 'bpf_arena_alloc_pages').split('\n');
    expect(lines[0]).toBe(h.summary);
    expect(lines[1]).toBe('');
    expect(lines[2]).toMatch(/^KERNEL\s+LINKAGE\s+KFUNC\s+PROTOTYPE$/);
    expect(lines.find((l) => l.startsWith(X612))).toMatch(/\bkfunc\s+void \*bpf_arena_alloc_pages\(void \*p__map, void \*addr__ign, u32 page_cnt, int node_id, u64 flags\)$/);
    expect(lines.find((l) => l.startsWith(X61))).toMatch(/\(not defined\)$/);

    const decl = text('func', 'bpf_arena_alloc_pages', '--kernel', X612);
    expect(decl).toMatch(new RegExp(`^/\\* ${X612.replace(/[+]/g, '\\+')} \\*/\n`));
    expect(decl).toMatch(/void \*bpf_arena_alloc_pages\(void \*p__map, void \*addr__ign, u32 page_cnt, int node_id, u64 flags\) __attribute__\(\(btf_decl_tag\("bpf_kfunc"\)\)\); \/\* kfunc \*\//);
    const one = json<{ kernel: string; funcs: Record<string, unknown>[] }>('func', 'bpf_arena_alloc_pages', '--kernel', X612);
    expect(one.kernel).toBe(X612);
    const { kernel: _kernel, series: _series, status: _status, ...definition } = k.get(X612) as Entry;
    expect(one.funcs).toEqual([definition]);
  });

  it('a function whose prototype differs between 6.1 and 6.12: PageHuge returned int of a struct page *, now bool of a const one', () => {
    const h = json<History>('func', 'PageHuge', '--history');
    const k = byKernel(h);
    expect(k.get(X61)).toMatchObject({ status: 'present', return: 'int', params: [{ name: 'page', type: 'struct page *' }] });
    expect(k.get(X612)).toMatchObject({ status: 'present', return: 'bool', params: [{ name: 'page', type: 'const struct page *' }] });
    const out = text('func', 'PageHuge');
    expect(out.split('\n').find((l) => l.startsWith(X61))).toMatch(/ int PageHuge\(struct page \*page\)$/);
    expect(out.split('\n').find((l) => l.startsWith(X612))).toMatch(/ bool PageHuge\(const struct page \*page\)$/);
    // The three kernels are three series: nothing to compare between neighbours.
    expect(h.changes).toEqual([]);
    expect(out).toMatch(/\nPageHuge: no changes between neighbouring kernels of a series/);
  });

  it('--arch and --release narrow the history; --kernel names one kernel', () => {
    const arm = json<History>('func', 'PageHuge', '--arch', 'arm64');
    expect(arm.kernels.map((e) => e.kernel)).toEqual([ARM]);
    expect(json<History>('func', 'PageHuge', '--release', '13').kernels.map((e) => e.kernel)).toEqual([X612]);
    const r = cli('func', 'bpf_arena_alloc_pages', '--kernel', X61);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^btf-atlas: FUNC_NOT_FOUND: no func named bpf_arena_alloc_pages in debian\/12\/x86_64\/6\.1\.0-50-amd64/);
    expect(r.stderr.split('\n')).toHaveLength(2);
  });
});

describe('tracepoint', () => {
  it('sched_switch: the raw prototype as BTF has it (the void * context first) and the event record', () => {
    const h = json<History & { tracepoint: string }>('tracepoint', 'sched_switch', '--history');
    expect(h.tracepoint).toBe('sched_switch');
    for (const kernel of [X61, ARM, X612]) {
      const e = byKernel(h).get(kernel) as Entry & {
        raw: { typedef: string; context: { type: string }; params: { type: string }[] };
        event: { struct: string; size: number; members: { name: string; type: string; offset: number }[] };
      };
      expect(e.status, kernel).toBe('present');
      expect(e.raw.typedef).toBe('btf_trace_sched_switch');
      expect(e.raw.context.type).toBe('void *');
      expect(e.raw.params.map((p) => p.type)).toEqual(['bool', 'struct task_struct *', 'struct task_struct *', 'unsigned int']);
      expect(e.event.struct).toBe('trace_event_raw_sched_switch');
      expect(e.event.size).toBe(64);
      expect(e.event.members.find((m) => m.name === 'prev_comm')).toMatchObject({ type: 'char[16]', offset: 8 });
    }
    const lines = text('tracepoint', 'sched_switch').split('\n');
    expect(lines[0]).toBe(h.summary);
    expect(lines.find((l) => l.startsWith(X612))).toMatch(/\(void \*, bool, struct task_struct \*, struct task_struct \*, unsigned int\)\s+64 bytes, 9 members$/);
    const c = text('tracepoint', 'sched_switch', '--kernel', ARM);
    expect(c).toContain('typedef void (*btf_trace_sched_switch)(void *, bool, struct task_struct *, struct task_struct *, unsigned int);');
    expect(c).toContain('\tchar prev_comm[16]; /* 8 16 */');
  });
});

describe('syscall', () => {
  it('openat: __x64_sys_openat on x86_64, __arm64_sys_openat on arm64, compat wrappers apart', () => {
    const h = json<History & { syscall: string }>('syscall', 'openat', '--history');
    expect(h.syscall).toBe('openat');
    const k = byKernel(h);
    expect(k.get(X61)).toMatchObject({ status: 'present', funcs: ['__x64_sys_openat', '__ia32_sys_openat'], compat_funcs: ['__x64_compat_sys_openat', '__ia32_compat_sys_openat'] });
    expect(k.get(X612)).toMatchObject({ funcs: ['__x64_sys_openat', '__ia32_sys_openat'] });
    expect(k.get(ARM)).toMatchObject({ status: 'present', funcs: ['__arm64_sys_openat'], compat_funcs: ['__arm64_compat_sys_openat'] });
    expect(h.timeline.map((l) => l.arch).sort()).toEqual(['arm64', 'x86_64']);
    const lines = text('syscall', 'openat').split('\n');
    expect(lines[0]).toBe(h.summary);
    expect(lines.find((l) => l.startsWith(ARM))).toMatch(/\s__arm64_sys_openat\s+__arm64_compat_sys_openat$/);
    expect(json<{ kernel: string; syscalls: { funcs: string[] }[] }>('syscall', 'openat', '--kernel', ARM).syscalls[0].funcs).toEqual(['__arm64_sys_openat']);
  });
});

describe('enum and enumerator', () => {
  it('BPF_MAP_TYPE_ARENA: absent in 6.1, 33 in enum bpf_map_type of 6.12', () => {
    const h = json<History & { enumerator: string }>('enumerator', 'BPF_MAP_TYPE_ARENA', '--history');
    const k = byKernel(h);
    expect(k.get(X61)?.status).toBe('missing');
    expect(k.get(ARM)?.status).toBe('missing');
    expect(k.get(X612)).toMatchObject({ status: 'present', name: 'BPF_MAP_TYPE_ARENA', value: 33, enum: 'bpf_map_type', first_enumerator: 'BPF_MAP_TYPE_UNSPEC' });
    const lines = text('enumerator', 'BPF_MAP_TYPE_ARENA').split('\n');
    expect(lines[0]).toBe(h.summary);
    expect(lines.find((l) => l.startsWith(X612))).toMatch(/\s33\s+enum bpf_map_type$/);
    expect(text('enumerator', 'BPF_MAP_TYPE_ARENA', '--kernel', X612)).toBe(`/* ${X612} */\nBPF_MAP_TYPE_ARENA = 33; /* enum bpf_map_type */\n`);
    const r = cli('enumerator', 'BPF_MAP_TYPE_ARENA', '--kernel', X61);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`btf-atlas: ENUMERATOR_NOT_FOUND: no enumerator named BPF_MAP_TYPE_ARENA in ${X61} (did you mean ${X612}?)\n`);
  });

  it('enum --history: the enum of every kernel with its values; --kernel prints it in C', () => {
    const h = json<History & { enum: string }>('enum', 'bpf_map_type', '--history');
    expect(h.enum).toBe('bpf_map_type');
    const values = (kernel: string) => (byKernel(h).get(kernel) as Entry & { values: { name: string; value: number }[] }).values;
    expect(values(X61).some((v) => v.name === 'BPF_MAP_TYPE_ARENA')).toBe(false);
    expect(values(X612).find((v) => v.name === 'BPF_MAP_TYPE_ARENA')?.value).toBe(33);
    expect(text('enum', 'bpf_map_type').split('\n')[0]).toBe(h.summary);
    expect(text('enum', 'enum bpf_map_type', '--kernel', X612)).toContain('\tBPF_MAP_TYPE_ARENA = 33,\n');
  });
});

describe('search', () => {
  it('prefix matches first (any case), with their kinds and how many kernels have them', () => {
    const s = json<{ query: string; results: { name: string; kinds: string[]; kernels: number; match: string }[] }>('search', 'bpf_map_ty', '--limit', '5');
    expect(s.query).toBe('bpf_map_ty');
    expect(s.results).toHaveLength(5);
    expect(s.results.every((r) => r.match === 'prefix' && r.name.toLowerCase().startsWith('bpf_map_ty'))).toBe(true);
    expect(s.results.find((r) => r.name === 'bpf_map_type')).toEqual({ name: 'bpf_map_type', kinds: ['enum'], kernels: 3, match: 'prefix' });
    expect(s.results.find((r) => r.name === 'BPF_MAP_TYPE_ARENA')).toMatchObject({ kinds: ['enumerator'], kernels: 1 });
    const lines = text('search', 'bpf_map_ty', '--limit', '5').split('\n');
    expect(lines[0]).toMatch(/^NAME\s+KINDS\s+KERNELS\s+MATCH$/);
    expect(lines.slice(1, 6).map((l) => l.split(/\s+/)[0])).toEqual(s.results.map((r) => r.name));
  });

  it('--kind keeps those kinds; a typo is found by closeness', () => {
    const s = json<{ results: { name: string; kinds: string[]; match: string }[] }>('search', 'sched_swich', '--kind', 'tracepoint');
    expect(s.results[0]).toMatchObject({ name: 'sched_switch', kinds: ['tracepoint'], match: 'fuzzy' });
    const k = json<{ results: { name: string; kinds: string[] }[] }>('search', 'bpf_arena_', '--kind', 'kfunc');
    expect(k.results.map((r) => r.name)).toEqual(expect.arrayContaining(['bpf_arena_alloc_pages', 'bpf_arena_free_pages']));
    expect(k.results.every((r) => r.kinds.join() === 'kfunc')).toBe(true);
  });
});

describe('errors', () => {
  it('unknown names: one line with the code and close names, exit 1', () => {
    const cases: [string[], string, string][] = [
      [['func', 'bpf_arena_alloc_page'], 'FUNC_NOT_FOUND', 'bpf_arena_alloc_pages'],
      [['tracepoint', 'sched_swich'], 'TRACEPOINT_NOT_FOUND', 'sched_switch'],
      [['syscall', 'openatt'], 'SYSCALL_NOT_FOUND', 'openat'],
      [['enum', 'bpf_map_typ'], 'TYPE_NOT_FOUND', 'bpf_map_type'],
      [['enumerator', 'BPF_MAP_TYPE_ARENAA'], 'ENUMERATOR_NOT_FOUND', 'BPF_MAP_TYPE_ARENA'],
    ];
    for (const [args, code, suggestion] of cases) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr, args.join(' ')).toMatch(new RegExp(`^btf-atlas: ${code}: .*\\(did you mean [^)]*\\b${suggestion}\\b[^)]*\\?\\)\\n$`));
    }
  });

  it('usage errors exit 2; a bad search exits 1 naming the problem', () => {
    expect(cli('func', 'PageHuge', '--kernel', X61, '--history').status).toBe(2);
    expect(cli('syscall', 'openat', '--kernel', X61, '--arch', 'x86_64').status).toBe(2);
    expect(cli('search', 'x', '--limit', 'many').status).toBe(2);
    const bad = cli('search', 'x', '--kind', 'structs');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^btf-atlas: BAD_SEARCH: unknown search kind "structs"/);
    const kernel = cli('tracepoint', 'sched_switch', '--kernel', 'debian/12/x86_64/6.1.0-49-amd64');
    expect(kernel.status).toBe(1);
    expect(kernel.stderr).toMatch(/^btf-atlas: KERNEL_NOT_FOUND: .*6\.1\.0-50-amd64/);
  });
});
