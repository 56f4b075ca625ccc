import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobDataOf, openCatalog, scanPath } from '@btf-atlas/catalog';
import { diffKernels } from '@btf-atlas/diff';
import { buildApp } from '../src/app.js';
import { problems } from '../src/schemas.js';
import { ingestInto, problem } from './support.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = join(REPO, 'apps/cli/bin/btf-atlas.js');
const ARCHIVE = join(REPO, 'fixtures/corpus/archive');
const K47 = 'debian/12/x86_64/6.1.0-47-amd64';
const K50 = 'debian/12/x86_64/6.1.0-50-amd64';
const ARM = 'debian/12/arm64/6.1.0-50-arm64';
const K612 = 'debian/13/x86_64/6.12.117+deb13-amd64';
const TOKEN = 'test-admin-token-0123456789';

let dir: string;
let db: string;
let app: FastifyInstance;

/** The built CLI's stdout for the same question (its `--json` output). */
function cli(...args: string[]): string {
  const env = { ...process.env, BTF_ATLAS_DB: db };
  delete env.REDIS_URL;
  const r = spawnSync(process.execPath, [BIN, ...args, '--db', db], { env, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`btf-atlas ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

async function get(url: string) {
  return app.inject({ method: 'GET', url });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-api-'));
  db = join(dir, 'atlas.db');
  await ingestInto(db, scanPath(ARCHIVE).map((item) => jobDataOf(item)));
  app = await buildApp({ dbPath: db, adminToken: TOKEN });
  // Test-only routes: a write route behind the admin check, and one that fails unexpectedly.
  app.post('/test/write', {
    preHandler: app.requireAdmin,
    schema: { response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } }, ...problems(401, 403) } },
  }, async () => ({ ok: true }));
  app.get('/test/boom', async () => {
    throw new Error('secret internals at /home/someone/atlas.db');
  });
  await app.ready();
}, 180_000);

afterAll(async () => {
  await app?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('answers equal the CLI --json output (byte for byte, modulo pretty-printing)', () => {
  const cases: [string, string, string[]][] = [
    ['kernels', '/v1/kernels', ['kernels', '--json']],
    ['kernels of one arch', '/v1/kernels?arch=x86_64&distro=debian', ['kernels', '--arch', 'x86_64', '--distro', 'debian', '--json']],
    ['a field', '/v1/fields/pt_regs.di', ['field', 'pt_regs.di', '--json']],
    ['a moved bitfield', '/v1/fields/task_struct.in_iowait?arch=x86_64', ['field', 'task_struct.in_iowait', '--arch', 'x86_64', '--json']],
    ['a nested field', '/v1/fields/task_struct.se.vruntime?release=12', ['field', 'task_struct.se.vruntime', '--release', '12', '--json']],
    ['a struct', `/v1/types/pt_regs?kernel=${K50}`, ['type', 'pt_regs', '--kernel', K50, '--json']],
    ['a module struct', `/v1/types/ext4_sb_info?kernel=${K50}`, ['type', 'ext4_sb_info', '--kernel', K50, '--json']],
    ['an enum', `/v1/types/enum%20bpf_map_type?kernel=${encodeURIComponent(K50)}`, ['type', 'enum bpf_map_type', '--kernel', K50, '--json']],
    ['a type history', '/v1/types/task_struct/history', ['type', 'task_struct', '--history', '--json']],
    ['a module type history', '/v1/types/ext4_sb_info/history?distro=debian', ['type', 'ext4_sb_info', '--history', '--distro', 'debian', '--json']],
    ['an enum history', '/v1/types/enum%20bpf_map_type/history', ['type', 'enum bpf_map_type', '--history', '--json']],
    ['a module kfunc history', '/v1/funcs/bpf_xdp_ct_lookup/history', ['func', 'bpf_xdp_ct_lookup', '--history', '--json']],
    ['a func history of one series', '/v1/funcs/__bpf_trace_hrtimer_start/history?arch=x86_64&release=12', ['func', '__bpf_trace_hrtimer_start', '--arch', 'x86_64', '--release', '12', '--json']],
    ['a func in one kernel', `/v1/funcs/bpf_xdp_ct_lookup?kernel=${encodeURIComponent(K612)}`, ['func', 'bpf_xdp_ct_lookup', '--kernel', K612, '--json']],
    ['a tracepoint history', '/v1/tracepoints/hrtimer_start/history', ['tracepoint', 'hrtimer_start', '--history', '--json']],
    ['a tracepoint in one kernel', `/v1/tracepoints/sched_switch?kernel=${ARM}`, ['tracepoint', 'sched_switch', '--kernel', ARM, '--json']],
    ['a syscall history', '/v1/syscalls/openat/history', ['syscall', 'openat', '--history', '--json']],
    ['a syscall in one kernel', `/v1/syscalls/openat?kernel=${K50}`, ['syscall', 'openat', '--kernel', K50, '--json']],
    ['an enum history (enum route)', '/v1/enums/bpf_map_type/history?distro=debian', ['enum', 'bpf_map_type', '--history', '--distro', 'debian', '--json']],
    ['an enum in one kernel', `/v1/enums/skb_drop_reason?kernel=${K50}`, ['enum', 'skb_drop_reason', '--kernel', K50, '--json']],
    ['an enumerator history', '/v1/enumerators/SKB_DROP_REASON_NOT_SPECIFIED/history', ['enumerator', 'SKB_DROP_REASON_NOT_SPECIFIED', '--history', '--json']],
    ['an enumerator in one kernel', `/v1/enumerators/BPF_MAP_TYPE_ARENA?kernel=${encodeURIComponent(K612)}`, ['enumerator', 'BPF_MAP_TYPE_ARENA', '--kernel', K612, '--json']],
    ['a search', '/v1/search?q=bpf_map_ty&limit=7', ['search', 'bpf_map_ty', '--limit', '7', '--json']],
    ['a search of some kinds', '/v1/search?q=bpf_ct_&kind=kfunc,func', ['search', 'bpf_ct_', '--kind', 'kfunc,func', '--json']],
  ];
  for (const [what, url, args] of cases) {
    it(what, async () => {
      const res = await get(url);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const fromCli = cli(...args);
      expect(JSON.parse(res.body)).toEqual(JSON.parse(fromCli));
      expect(res.body).toBe(JSON.stringify(JSON.parse(fromCli)));
    });
  }
});

describe('GET /v1/diff', () => {
  it('answers what libs/diff computes and the CLI prints, byte for byte', async () => {
    const res = await get(`/v1/diff?from=${K47}&to=${K50}`);
    expect(res.statusCode).toBe(200);
    const catalog = openCatalog(db);
    let expected: string;
    try {
      expected = JSON.stringify(diffKernels(catalog, K47, K50));
    } finally {
      catalog.close();
    }
    expect(res.body).toBe(expected);
    expect(res.body).toBe(JSON.stringify(JSON.parse(cli('diff', K47, K50, '--json'))));
    const d = JSON.parse(res.body) as { from: string; to: string; changes: { name: string; member?: string; change: string }[]; summary: Record<string, number> };
    expect(d).toMatchObject({ from: K47, to: K50 });
    expect(d.changes.some((c) => c.name === 'task_struct' && c.member === 'in_iowait')).toBe(true);
    expect(Object.keys(d.summary)).toEqual(['breaking', 'layout', 'additive']);
  });

  it('404 for an unknown kernel, 400 for a bad or missing KREF', async () => {
    const p = problem(await get(`/v1/diff?from=${K47}&to=debian/12/x86_64/6.1.0-49-amd64`), 404, 'KERNEL_NOT_FOUND');
    expect(p.suggestions).toEqual(expect.arrayContaining([K50]));
    problem(await get(`/v1/diff?from=nope&to=${K50}`), 400, 'CATALOG_BAD_KREF');
    const missing = problem(await get(`/v1/diff?from=${K47}`), 400, 'BAD_PARAMETER');
    expect(missing.detail).toMatch(/"to" is required/);
  });
});

describe('routes', () => {
  it('GET /healthz is 200 while the catalog is readable', async () => {
    const res = await get('/healthz');
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: 'ok', kernels: 4 });
  });

  it('GET /healthz is 503 problem+json when the catalog cannot be read', async () => {
    const broken = await buildApp({ dbPath: db, adminToken: undefined });
    try {
      broken.catalog.close();
      problem(await broken.inject('/healthz'), 503, 'CATALOG_UNAVAILABLE');
    } finally {
      await broken.close();
    }
  });

  it('GET /v1/kernels lists in kernel order and filters', async () => {
    const all = JSON.parse((await get('/v1/kernels')).body) as { kernels: { kernel: string; uname_r: string; btf_sha256: string }[] };
    expect(all.kernels.map((k) => k.kernel)).toEqual([ARM, K47, K50, 'debian/13/x86_64/6.12.117+deb13-amd64']);
    expect(all.kernels[0].btf_sha256).toMatch(/^[0-9a-f]{64}$/);
    // An arch no kernel has: 404 naming those that exist.
    expect(problem(await get('/v1/kernels?arch=s390x'), 404, 'NO_MATCHING_KERNELS').detail).toBe('no kernels with arch s390x; arches: arm64, x86_64');
  });

  it('GET /v1/fields/{field_path} answers missing_field where the struct lacks it', async () => {
    const h = JSON.parse((await get('/v1/fields/pt_regs.di')).body) as { kernels: { kernel: string; status: string }[] };
    expect(h.kernels.find((k) => k.kernel === ARM)?.status).toBe('missing_field');
    expect(h.kernels.find((k) => k.kernel === K50)).toMatchObject({ status: 'present', offset: 112, bits_offset: 896, size: 8 });
  });

  it('GET /v1/types/{name}/history gives sizes, members and change points per series', async () => {
    const h = JSON.parse((await get('/v1/types/task_struct/history?arch=x86_64&release=12')).body) as {
      type: string;
      kernels: { kernel: string; status: string; size: number; members: { name: string; bits_offset: number }[] }[];
      changes: { from: string; to: string; what: string; member?: string; before: { bits_offset?: number }; after: { bits_offset?: number } }[];
    };
    expect(h.type).toBe('task_struct');
    expect(h.kernels.map((k) => [k.kernel, k.status, k.size])).toEqual([[K47, 'present', 9792], [K50, 'present', 9792]]);
    const moved = h.changes.find((c) => c.member === 'in_iowait');
    expect(moved).toMatchObject({ from: K47, to: K50, what: 'offset' });
    expect(moved!.after.bits_offset! - moved!.before.bits_offset!).toBe(1);
    // The arm64 kernel is its own series: no change is reported across series.
    const all = JSON.parse((await get('/v1/types/task_struct/history')).body) as { changes: { from: string; to: string }[] };
    expect(all.changes.every((c) => c.from.split('/').slice(0, 3).join('/') === c.to.split('/').slice(0, 3).join('/'))).toBe(true);
  });

  it('GET /v1/types/{name}/history?members=false counts each kernel\'s members and values instead of listing them; the rest is the same', async () => {
    for (const name of ['task_struct', 'enum%20bpf_map_type']) {
      const full = JSON.parse((await get(`/v1/types/${name}/history`)).body) as { kernels: Record<string, unknown>[] } & Record<string, unknown>;
      const res = await get(`/v1/types/${name}/history?members=false`);
      expect(res.statusCode).toBe(200);
      const counted = JSON.parse(res.body) as typeof full;
      expect(res.body.length).toBeLessThan(JSON.stringify(full).length / 4);
      const { kernels: fk, ...fRest } = full;
      const { kernels: ck, ...cRest } = counted;
      expect(cRest).toEqual(fRest);
      expect(ck).toEqual(fk.map((k) => {
        const { members, values, ...rest } = k as { members?: unknown[]; values?: unknown[] };
        if (members) return { ...rest, member_count: members.length };
        if (values) return { ...rest, value_count: values.length };
        return rest;
      }));
      expect(ck.some((k) => k.status === 'present')).toBe(true);
    }
    expect((await get('/v1/types/task_struct/history?members=maybe')).statusCode).toBe(400);
  });

  it('GET /v1/types/{name}/history of a module type covers only kernels whose module BTF was ingested', async () => {
    // 6.1.0-47 came without module BTF: ext4_sb_info is not "added" at 6.1.0-50, it was never looked for before.
    const h = JSON.parse((await get('/v1/types/ext4_sb_info/history?release=12&arch=x86_64')).body) as {
      kernels: { kernel: string; status: string; module?: string }[]; changes: unknown[]; not_ingested?: { modules: string[]; kernels: string[] };
    };
    expect(h.kernels.map((k) => [k.kernel, k.status, k.module])).toEqual([[K50, 'present', 'ext4']]);
    expect(h.changes).toEqual([]);
    expect(h.not_ingested).toEqual({ modules: ['ext4'], kernels: [K47] });
  });

  it('echoes the request id', async () => {
    const res = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers['x-request-id']).toBe('abc-123');
  });
});

/** A history answer as these tests read it. */
interface KindHistory {
  kernels: ({ kernel: string; status: string } & Record<string, unknown>)[];
  changes: Record<string, unknown>[];
  not_ingested?: { modules: string[]; kernels: string[] };
}

describe('funcs, tracepoints, syscalls, enums, enumerators', () => {
  const history = async (url: string): Promise<KindHistory> => {
    const res = await get(url);
    expect(res.statusCode, url).toBe(200);
    return JSON.parse(res.body) as KindHistory;
  };
  const entry = (h: KindHistory, kernel: string) => h.kernels.find((k) => k.kernel === kernel);

  it('a module kfunc: a kfunc of nf_conntrack in 6.12, a plain function of it in 6.1; kernels without its module BTF left out', async () => {
    const h = await history('/v1/funcs/bpf_xdp_ct_lookup/history');
    expect(entry(h, K612)).toMatchObject({ status: 'present', kfunc: true, decl_tags: ['bpf_kfunc'], module: 'nf_conntrack', return: 'struct nf_conn *' });
    expect(entry(h, K50)).toMatchObject({ status: 'present', kfunc: false, decl_tags: [], module: 'nf_conntrack' });
    expect(h.not_ingested).toEqual({ modules: ['nf_conntrack'], kernels: [ARM, K47] });
    expect(h.kernels.map((k) => k.kernel)).toEqual([K50, K612]);
  });

  it('a prototype that changed between neighbours of a series: a parameter added', async () => {
    const h = await history('/v1/funcs/__bpf_trace_hrtimer_start/history?arch=x86_64&release=12');
    expect(h.changes).toEqual([{
      from: K47, to: K50, series: 'debian/12/x86_64/amd64', what: 'params', change: 'param_added', param: 'was_armed', index: 3,
      before: {}, after: { name: 'was_armed', type: 'bool', desc: { kind: 'typedef', size: 1, signed: false, base: 'int' } },
    }]);
    // The raw tracepoint and its event record changed alike.
    const t = await history('/v1/tracepoints/hrtimer_start/history?arch=x86_64&release=12');
    expect(t.changes.map((c) => [c.what, c.change, c.param ?? c.member])).toEqual([
      ['raw', 'param_added', ''], ['event', 'member_offset', '__data'], ['event', 'member_added', 'was_armed'],
    ]);
  });

  it('sched_switch: the raw prototype with its void * context, and the event record', async () => {
    const h = await history('/v1/tracepoints/sched_switch/history');
    for (const k of [ARM, K47, K50, K612]) {
      const e = entry(h, k) as { raw: { context: { type: string }; params: { type: string }[] }; event: { size: number } };
      expect(e.raw.context.type).toBe('void *');
      expect(e.raw.params.map((p) => p.type)).toEqual(['bool', 'struct task_struct *', 'struct task_struct *', 'unsigned int']);
      expect(e.event.size).toBe(64);
    }
  });

  it('a syscall per arch, and BPF_MAP_TYPE_ARENA only in 6.12', async () => {
    const s = await history('/v1/syscalls/openat/history');
    expect(entry(s, ARM)).toMatchObject({ funcs: ['__arm64_sys_openat'], prefixes: ['arm64'] });
    expect(entry(s, K50)).toMatchObject({ funcs: ['__x64_sys_openat', '__ia32_sys_openat'], prefixes: ['x64', 'ia32'] });
    const e = await history('/v1/enumerators/BPF_MAP_TYPE_ARENA/history');
    expect(e.kernels.map((k) => [k.kernel, k.status, k.value])).toEqual([[ARM, 'missing', undefined], [K47, 'missing', undefined], [K50, 'missing', undefined], [K612, 'present', 33]]);
  });

  it('404 problem+json with close names for unknown names, and for a kernel without the name', async () => {
    const cases: [string, string, string][] = [
      ['/v1/funcs/bpf_xdp_ct_lookupp/history', 'FUNC_NOT_FOUND', 'bpf_xdp_ct_lookup'],
      [`/v1/funcs/bpf_xdp_ct_lookupp?kernel=${K50}`, 'FUNC_NOT_FOUND', 'bpf_xdp_ct_lookup'],
      ['/v1/tracepoints/sched_swich/history', 'TRACEPOINT_NOT_FOUND', 'sched_switch'],
      ['/v1/syscalls/openatt/history', 'SYSCALL_NOT_FOUND', 'openat'],
      ['/v1/enums/bpf_map_typ/history', 'TYPE_NOT_FOUND', 'bpf_map_type'],
      ['/v1/enumerators/BPF_MAP_TYPE_ARENAA/history', 'ENUMERATOR_NOT_FOUND', 'BPF_MAP_TYPE_ARENA'],
      [`/v1/enumerators/BPF_MAP_TYPE_ARENA?kernel=${K50}`, 'ENUMERATOR_NOT_FOUND', K612],
    ];
    for (const [url, code, suggestion] of cases) {
      const p = problem(await get(url), 404, code);
      expect(p.suggestions, url).toContain(suggestion);
    }
    problem(await get('/v1/syscalls/openat?kernel=debian/12/x86_64/6.1.0-49-amd64'), 404, 'KERNEL_NOT_FOUND');
    expect(problem(await get('/v1/funcs/PageHuge'), 400, 'BAD_PARAMETER').detail).toMatch(/"kernel" is required/);
  });

  it('GET /v1/search: prefix matches first, each with its kinds and kernel count; bad parameters are 400', async () => {
    const s = (await get('/v1/search?q=bpf_xdp_ct_&limit=5')).json<{ results: { name: string; kinds: string[]; kernels: number; match: string }[] }>();
    // The two names that start with the text, then close ones.
    expect(s.results.slice(0, 2).map((r) => [r.name, r.match])).toEqual([['bpf_xdp_ct_alloc', 'prefix'], ['bpf_xdp_ct_lookup', 'prefix']]);
    expect(s.results.slice(2).map((r) => r.match)).toEqual(['fuzzy', 'fuzzy', 'fuzzy']);
    expect(s.results.find((r) => r.name === 'bpf_xdp_ct_lookup')).toEqual({ name: 'bpf_xdp_ct_lookup', kinds: ['func', 'kfunc'], kernels: 2, match: 'prefix' });
    expect(problem(await get('/v1/search?q=x&kind=structs'), 400, 'BAD_SEARCH').detail).toMatch(/structs/);
    expect(problem(await get('/v1/search?kind=func'), 400, 'BAD_PARAMETER').detail).toMatch(/"q" is required/);
    problem(await get('/v1/search?q=x&limit=0'), 400, 'BAD_PARAMETER');
  });

  it('GET /v1/search completes field paths segment by segment and kernels, each with its kernel count', async () => {
    type Search = { kinds: string[]; results: { name: string; kinds: string[]; kernels: number; match: string }[] };
    const fields = (await get('/v1/search?q=task_struct.se.vr')).json<Search>();
    expect(fields.results).toEqual([{ name: 'task_struct.se.vruntime', kinds: ['field'], kernels: 4, match: 'prefix' }]);
    // pt_regs has no di on arm64: the three x86_64 kernels; in name order.
    const regs = (await get('/v1/search?q=pt_regs.d&kind=field')).json<Search>();
    expect(regs.results.map((r) => [r.name, r.kernels])).toEqual([['pt_regs.di', 3], ['pt_regs.dx', 3]]);
    expect((await get('/v1/search?q=pt_regs.di&kind=field')).json<Search>().results[0]).toMatchObject({ name: 'pt_regs.di', match: 'exact' });
    // An unknown struct or member completes nothing.
    expect((await get('/v1/search?q=no_such_struct.x')).json<Search>().results).toEqual([]);
    expect((await get('/v1/search?q=pt_regs.zz&kind=field')).json<Search>().results).toEqual([]);
    // Kernels by uname -r or KREF: exact, then prefix, then those that hold the text.
    const ks = (await get('/v1/search?q=6.1.0-50')).json<Search>();
    expect(ks.results.map((r) => [r.name, r.kinds, r.match])).toEqual([[ARM, ['kernel'], 'prefix'], [K50, ['kernel'], 'prefix']]);
    expect((await get('/v1/search?q=6.1.0-47-amd64&kind=kernel')).json<Search>().results).toEqual([{ name: K47, kinds: ['kernel'], kernels: 1, match: 'exact' }]);
    // Names are not searched for a dotted text, and kinds select as before.
    expect((await get('/v1/search?q=6.1.0-50&kind=struct')).json<Search>().results).toEqual([]);
  });

  it('answers are cached like the other read routes', async () => {
    const url = '/v1/enums/bpf_map_type/history?arch=arm64';
    expect((await get(url)).headers['x-cache']).toBe('miss');
    expect((await get(url)).headers['x-cache']).toBe('hit');
  });
});

describe('filters', () => {
  it('take an arch as uname -m spells it (aarch64, amd64) as the archive folder it names', async () => {
    const arm = (await get('/v1/kernels?arch=arm64')).json<{ kernels: { kernel: string }[] }>();
    expect(arm.kernels.map((k) => k.kernel)).toEqual([ARM]);
    expect((await get('/v1/kernels?arch=aarch64')).json()).toEqual(arm);
    expect((await get('/v1/fields/pt_regs.di?arch=amd64')).json()).toEqual((await get('/v1/fields/pt_regs.di?arch=x86_64')).json());
    problem(await get('/v1/kernels?arch=sparc64'), 404, 'NO_MATCHING_KERNELS');
  });
});

describe('answer cache', () => {
  it('serves a repeated read from the serialized cache with a strong ETag, and 304 for If-None-Match', async () => {
    const url = '/v1/fields/task_struct.se.vruntime?arch=x86_64';
    const first = await app.inject({ method: 'GET', url });
    expect(first.statusCode).toBe(200);
    expect(first.headers['x-cache']).toBe('miss');
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    const second = await app.inject({ method: 'GET', url });
    expect(second.headers['x-cache']).toBe('hit');
    expect(second.headers.etag).toBe(etag);
    expect(second.headers['content-type']).toMatch(/^application\/json/);
    expect(second.body).toBe(first.body);
    const again = await app.inject({ method: 'GET', url, headers: { 'if-none-match': etag } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
  });

  it('keeps a gzip of the answer for clients that accept it (its own ETag, Vary: Accept-Encoding), miss and hit alike', async () => {
    // Layouts of big structs: many KB of JSON each.
    const url = `/v1/types/sk_buff?kernel=${K50}`;
    // A miss asked with gzip is answered compressed too.
    const missUrl = `/v1/types/task_struct?kernel=${K47}`;
    const miss = await app.inject({ method: 'GET', url: missUrl, headers: { 'accept-encoding': 'gzip' } });
    expect(miss.headers['x-cache']).toBe('miss');
    expect(miss.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(miss.rawPayload).toString('utf8')).toBe((await app.inject({ method: 'GET', url: missUrl })).body);

    const plain = await app.inject({ method: 'GET', url });
    const plainEtag = plain.headers.etag as string;
    expect(plain.headers.vary).toBe('accept-encoding');
    for (const [enc, expectGzip] of [['gzip, deflate, br', true], ['gzip;q=0, identity', false], ['*', true], ['identity', false], ['x-gzip', true]] as const) {
      const res = await app.inject({ method: 'GET', url, headers: { 'accept-encoding': enc } });
      expect(res.headers['x-cache'], enc).toBe('hit');
      expect(res.headers.vary).toBe('accept-encoding');
      expect(res.headers['content-encoding'], enc).toBe(expectGzip ? 'gzip' : undefined);
      expect(expectGzip ? gunzipSync(res.rawPayload).toString('utf8') : res.body, enc).toBe(plain.body);
      expect(res.headers.etag, enc).toBe(expectGzip ? `${plainEtag.slice(0, -1)}-gz"` : plainEtag);
    }
    const gz = await app.inject({ method: 'GET', url, headers: { 'accept-encoding': 'gzip' } });
    expect(gz.rawPayload.length * 5).toBeLessThan(plain.rawPayload.length);
    // Either ETag means the client holds the answer.
    for (const etag of [gz.headers.etag as string, plainEtag]) {
      expect((await app.inject({ method: 'GET', url, headers: { 'accept-encoding': 'gzip', 'if-none-match': `W/"x", ${etag}` } })).statusCode).toBe(304);
    }
  });

  it('does not cache errors', async () => {
    const url = '/v1/fields/sk_buf.len';
    expect((await app.inject({ method: 'GET', url })).statusCode).toBe(404);
    const again = await app.inject({ method: 'GET', url });
    expect(again.statusCode).toBe(404);
    expect(again.headers['x-cache']).toBeUndefined();
  });
});

describe('errors are problem+json', () => {
  it("the router's own refusals too: 414 for a path segment over 512 characters, 400 for bad percent-encoding", async () => {
    const long = problem(await get(`/v1/fields/${'a'.repeat(600)}.b`), 414, 'URI_TOO_LONG');
    expect(long.detail).toMatch(/512/);
    problem(await get('/v1/fields/pt_regs.%E0%A4%A'), 400, 'BAD_PARAMETER');
  });

  it('404 for an unknown struct, with close names', async () => {
    const p = problem(await get('/v1/fields/sk_buf.len'), 404, 'TYPE_NOT_FOUND');
    expect(p.suggestions?.[0]).toBe('sk_buff');
    expect(p.detail).toMatch(/sk_buf/);
    const t = problem(await get(`/v1/types/sk_buf?kernel=${K50}`), 404, 'TYPE_NOT_FOUND');
    expect(t.suggestions?.[0]).toBe('sk_buff');
    const h = problem(await get('/v1/types/sk_buf/history'), 404, 'TYPE_NOT_FOUND');
    expect(h.suggestions?.[0]).toBe('sk_buff');
  });

  it('404 for an unknown field, suggesting members (by name, and by the type named instead of the member)', async () => {
    const p = problem(await get('/v1/fields/task_struct.pid_t'), 404, 'FIELD_NOT_FOUND');
    expect(p.suggestions).toEqual(expect.arrayContaining(['pid', 'tgid']));
    const q = problem(await get('/v1/fields/pt_regs.dii'), 404, 'FIELD_NOT_FOUND');
    expect(q.suggestions).toContain('di');
  });

  it('404 for an unknown kernel, with the nearest kernels', async () => {
    const p = problem(await get('/v1/types/pt_regs?kernel=debian/12/x86_64/6.1.0-49-amd64'), 404, 'KERNEL_NOT_FOUND');
    expect(p.suggestions).toEqual(expect.arrayContaining([K47, K50]));
  });

  it('400 for a bad KREF and a bad field path, saying why', async () => {
    const k = problem(await get('/v1/types/pt_regs?kernel=not-a-kref'), 400, 'CATALOG_BAD_KREF');
    expect(k.detail).toMatch(/DISTRO\/RELEASE\/ARCH\/UNAME_R/);
    problem(await get('/v1/types/pt_regs?kernel=debian/12/x86_64/..'), 400, 'CATALOG_BAD_KREF');
    const f = problem(await get('/v1/fields/pt_regs'), 400, 'BAD_FIELD_PATH');
    expect(f.detail).toMatch(/STRUCT\.MEMBER/);
    problem(await get('/v1/fields/pt_regs..di'), 400, 'BAD_FIELD_PATH');
  });

  it('400 for schema failures, naming the parameter', async () => {
    const missing = problem(await get('/v1/types/pt_regs'), 400, 'BAD_PARAMETER');
    expect(missing.detail).toMatch(/"kernel" is required/);
    const unknown = problem(await get('/v1/kernels?arc=x86_64'), 400, 'BAD_PARAMETER');
    expect(unknown.detail).toMatch(/query parameter "arc" is not known/);
    const bad = problem(await get('/v1/fields/pt_regs.di?arch=x86%2064'), 400, 'BAD_PARAMETER');
    expect(bad.detail).toMatch(/query parameter "arch"/);
    const empty = problem(await get('/v1/types/pt_regs/history?distro='), 400, 'BAD_PARAMETER');
    expect(empty.detail).toMatch(/"distro"/);
    const long = problem(await get(`/v1/types/${'x'.repeat(300)}?kernel=${K50}`), 400, 'BAD_PARAMETER');
    expect(long.detail).toMatch(/path parameter "name"/);
  });

  it('404 for an unknown route', async () => {
    problem(await get('/v2/nothing'), 404, 'ROUTE_NOT_FOUND');
    problem(await app.inject({ method: 'DELETE', url: '/v1/kernels' }), 404, 'ROUTE_NOT_FOUND');
  });

  it('500 without internals for anything unexpected', async () => {
    const p = problem(await get('/test/boom'), 500, 'INTERNAL');
    expect(p.detail).not.toMatch(/secret|atlas\.db|Error/);
    expect(p.title).toBe('Internal server error');
  });
});

describe('admin token on write routes', () => {
  const write = (authorization?: string) => app.inject({ method: 'POST', url: '/test/write', headers: authorization === undefined ? {} : { authorization } });

  it('401 without a token', async () => {
    problem(await write(), 401, 'ADMIN_TOKEN_MISSING');
    problem(await write('Basic dXNlcjpwYXNz'), 401, 'ADMIN_TOKEN_MISSING');
  });

  it('401 with a wrong token (of any length)', async () => {
    problem(await write('Bearer wrong'), 401, 'ADMIN_TOKEN_INVALID');
    problem(await write(`Bearer ${TOKEN}x`), 401, 'ADMIN_TOKEN_INVALID');
    problem(await write(`Bearer ${TOKEN.slice(0, -1)}`), 401, 'ADMIN_TOKEN_INVALID');
  });

  it('200 with the token', async () => {
    const res = await write(`Bearer ${TOKEN}`);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ ok: true });
  });

  it('403 for every token while the server has none configured', async () => {
    const off = await buildApp({ dbPath: db, adminToken: undefined });
    try {
      off.post('/test/write', { preHandler: off.requireAdmin }, async () => ({ ok: true }));
      problem(await off.inject({ method: 'POST', url: '/test/write', headers: { authorization: 'Bearer anything-at-all' } }), 403, 'WRITE_ROUTES_DISABLED');
      problem(await off.inject({ method: 'POST', url: '/test/write' }), 403, 'WRITE_ROUTES_DISABLED');
    } finally {
      await off.close();
    }
  });
});

describe('OpenAPI and docs', () => {
  it('/openapi.json describes every route with its parameters and responses', async () => {
    const res = await get('/openapi.json');
    expect(res.statusCode).toBe(200);
    const doc = JSON.parse(res.body) as { openapi: string; paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; responses: Record<string, unknown> }>> };
    expect(doc.openapi).toMatch(/^3\./);
    const kinds = ['funcs', 'tracepoints', 'syscalls', 'enums', 'enumerators'].flatMap((k) => [`/v1/${k}/{name}`, `/v1/${k}/{name}/history`]);
    for (const path of ['/healthz', '/v1/kernels', '/v1/fields/{field_path}', '/v1/types/{name}', '/v1/types/{name}/history', '/v1/diff', '/openapi.json', ...kinds, '/v1/search']) {
      expect(doc.paths[path]?.get, path).toBeDefined();
      expect(doc.paths[path].get.responses['200'], path).toBeDefined();
    }
    const params = (p: string) => (doc.paths[p].get.parameters ?? []).map((x) => `${x.in}:${x.name}`).sort();
    expect(params('/v1/kernels')).toEqual(['query:arch', 'query:distro', 'query:release']);
    expect(params('/v1/fields/{field_path}')).toEqual(['path:field_path', 'query:arch', 'query:distro', 'query:release']);
    expect(params('/v1/types/{name}')).toEqual(['path:name', 'query:all', 'query:format', 'query:kernel']);
    expect(params('/v1/types/{name}/history')).toEqual(['path:name', 'query:arch', 'query:distro', 'query:members', 'query:release']);
    expect(params('/v1/diff')).toEqual(['query:from', 'query:kind', 'query:name', 'query:severity', 'query:summary', 'query:to']);
    expect(doc.paths['/v1/types/{name}'].get.responses['404']).toBeDefined();
    for (const path of kinds) expect(doc.paths[path].get.responses['404'], path).toBeDefined();
    expect(params('/v1/funcs/{name}')).toEqual(['path:name', 'query:kernel']);
    expect(params('/v1/funcs/{name}/history')).toEqual(['path:name', 'query:arch', 'query:distro', 'query:release']);
    expect(params('/v1/search')).toEqual(['query:kind', 'query:limit', 'query:q']);
    // The answers' schemas are typed, not free-form objects.
    const schema = (doc.paths['/v1/funcs/{name}/history'].get.responses['200'] as { content: Record<string, { schema: { required?: string[] } }> }).content['application/json'].schema;
    expect(schema.required).toEqual(['func', 'kernels', 'changes', 'timeline', 'summary']);
  });

  it('/docs serves a browsable page', async () => {
    const res = await app.inject({ url: '/docs', headers: { accept: 'text/html' } });
    const page = res.statusCode === 302 ? await app.inject(String(res.headers.location)) : res;
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toMatch(/swagger/i);
  });
});
