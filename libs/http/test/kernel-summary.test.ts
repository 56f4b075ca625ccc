import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unxz } from '@btf-atlas/btf';
import { formatKref, jobDataOf, openCatalog, scanPath } from '@btf-atlas/catalog';
import { kernelSummary } from '@btf-atlas/catalog/kernel-summary';
import { buildApp } from '../src/app.js';
import { ingestInto, problem } from './support.js';

// GET /v1/kernels/{distro}/{release}/{arch}/{uname_r}/summary on a catalog of two corpus kernels: Debian 6.12 (its
// uname -r has a `+`; four modules) and the arm64 6.1. Counts are checked against bpftool's JSON of the same BTF.

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const CORPUS = join(REPO, 'fixtures/corpus');
const PLUS_UNAME = '6.12.117+deb13-amd64';
const PLUS = `debian/13/x86_64/${PLUS_UNAME}`;
const ARM = 'debian/12/arm64/6.1.0-50-arm64';

interface ManifestKernel {
  distro: string;
  release: string;
  arch: string;
  kernel_release: string;
  oracle_prefix: string;
  modules: { name: string; oracle_prefix: string }[];
}
const manifest = JSON.parse(readFileSync(join(CORPUS, 'manifest.json'), 'utf8')) as { kernels: ManifestKernel[] };
const manifestKernel = (kref: string): ManifestKernel =>
  manifest.kernels.find((k) => `${k.distro}/${k.release}/${k.arch}/${k.kernel_release}` === kref) as ManifestKernel;

interface OracleType {
  id: number;
  kind: string;
  name: string;
  type_id?: number;
  component_idx?: number;
  linkage?: string;
}

/** Counts of one BTF from its bpftool JSON. */
async function expected(prefix: string): Promise<Record<string, unknown>> {
  const json = Buffer.from(await unxz(readFileSync(join(CORPUS, `${prefix}.raw.json.xz`)))).toString('utf8');
  const types = (JSON.parse(json) as { types: OracleType[] }).types;
  const byId = new Map(types.map((t) => [t.id, t]));
  const kinds: Record<string, number> = {};
  for (const t of types) kinds[t.kind] = (kinds[t.kind] ?? 0) + 1;
  const funcs = types.filter((t) => t.kind === 'FUNC');
  const distinct = (list: OracleType[], prefix: string): number => new Set(list.filter((t) => t.name.startsWith(prefix)).map((t) => t.name)).size;
  return {
    types: types.length,
    kinds,
    funcs: {
      total: funcs.length,
      static: funcs.filter((t) => t.linkage === 'static').length,
      global: funcs.filter((t) => t.linkage === 'global').length,
      extern: funcs.filter((t) => t.linkage === 'extern').length,
    },
    kfuncs: new Set(types.filter((t) => t.kind === 'DECL_TAG' && t.name === 'bpf_kfunc' && t.component_idx === -1
      && byId.get(t.type_id as number)?.kind === 'FUNC').map((t) => t.type_id)).size,
    tracepoints: distinct(types.filter((t) => t.kind === 'TYPEDEF'), 'btf_trace_'),
    trace_events: distinct(types.filter((t) => t.kind === 'STRUCT'), 'trace_event_raw_'),
    x64: distinct(funcs, '__x64_sys_'),
    arm64: distinct(funcs, '__arm64_sys_'),
  };
}

/** The same counts picked from an answer (kinds without the zero ones). */
function picked(s: Record<string, unknown>): Record<string, unknown> {
  const by = (s.syscalls as { by_prefix: Record<string, number> }).by_prefix;
  return {
    types: s.types,
    kinds: Object.fromEntries(Object.entries(s.kinds as Record<string, number>).filter(([, n]) => n > 0)),
    funcs: s.funcs,
    kfuncs: s.kfuncs,
    tracepoints: s.tracepoints,
    trace_events: s.trace_events,
    x64: by.x64 ?? 0,
    arm64: by.arm64 ?? 0,
  };
}

let dir: string;
let db: string;
let app: FastifyInstance;
const get = (url: string) => app.inject({ method: 'GET', url });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-kernel-summary-'));
  db = join(dir, 'atlas.db');
  const wanted = new Set([PLUS, ARM]);
  const items = scanPath(join(CORPUS, 'archive')).filter((item) => item.kref !== undefined && wanted.has(formatKref(item.kref)));
  expect(items).toHaveLength(2);
  await ingestInto(db, items.map((item) => jobDataOf(item)));
  app = await buildApp({ dbPath: db, adminToken: undefined });
  await app.ready();
}, 180_000);

afterAll(async () => {
  await app?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('GET /v1/kernels/{distro}/{release}/{arch}/{uname_r}/summary', () => {
  it('a literal + in uname_r: the counts of vmlinux and of each module, as bpftool\'s JSON has them', async () => {
    const res = await get(`/v1/kernels/${PLUS}/summary`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(res.body) as Record<string, unknown> & { modules: (Record<string, unknown> & { name: string })[] };
    expect(body).toMatchObject({ kernel: PLUS, distro: 'debian', release: '13', arch: 'x86_64', uname_r: PLUS_UNAME, pointer_size: 8, byte_order: 'little' });
    const k = manifestKernel(PLUS);
    expect(picked(body)).toEqual(await expected(k.oracle_prefix));
    expect(body.kfuncs).toBeGreaterThan(100);
    expect(body.modules.map((m) => m.name)).toEqual(k.modules.map((m) => m.name).sort());
    for (const m of body.modules) {
      const prefix = (k.modules.find((x) => x.name === m.name) as { oracle_prefix: string }).oracle_prefix;
      expect(picked(m), m.name).toEqual(await expected(prefix));
    }
    // The answer is the library's (and so the CLI's --json), every key kept by the response schema, in order.
    const catalog = openCatalog(db);
    try {
      const lib = await kernelSummary(catalog, PLUS);
      expect(body).toEqual(JSON.parse(JSON.stringify(lib)));
      expect(Object.keys(body)).toEqual(Object.keys(lib));
      expect(Object.keys(body.modules[0])).toEqual(Object.keys(lib.modules[0]));
    } finally {
      catalog.close();
    }
    // %2B means the same kernel; a second request is served from the answer cache.
    const encoded = await get(`/v1/kernels/${PLUS.replace('+', '%2B')}/summary`);
    expect(encoded.statusCode).toBe(200);
    expect(JSON.parse(encoded.body)).toEqual(body);
    const again = await get(`/v1/kernels/${PLUS}/summary`);
    expect(again.headers['x-cache']).toBe('hit');
    expect(JSON.parse(again.body)).toEqual(body);
  });

  it('arm64: __arm64_sys_ syscalls, no modules', async () => {
    const res = await get(`/v1/kernels/${ARM}/summary`);
    expect(res.statusCode).toBe(200);
    const body = JSON.parse(res.body) as Record<string, unknown> & { syscalls: { by_prefix: Record<string, number> } };
    expect(picked(body)).toEqual(await expected(manifestKernel(ARM).oracle_prefix));
    expect(Object.keys(body.syscalls.by_prefix)).toEqual(['arm64']);
    expect(body.modules).toEqual([]);
  });

  it('404 problem+json with the nearest kernels for an unknown kernel; 400 for a bad segment', async () => {
    const p = problem(await get(`/v1/kernels/debian/13/x86_64/6.12.117+deb13-amd6/summary`), 404, 'KERNEL_NOT_FOUND');
    expect(p.suggestions).toContain(PLUS);
    problem(await get('/v1/kernels/debian/13/x86_64/..bad/summary'), 400, 'BAD_PARAMETER');
  });

  it('is in the OpenAPI description', async () => {
    const res = await get('/openapi.json');
    expect(res.statusCode).toBe(200);
    const paths = (JSON.parse(res.body) as { paths: Record<string, unknown> }).paths;
    expect(Object.keys(paths)).toContain('/v1/kernels/{distro}/{release}/{arch}/{uname_r}/summary');
  });
});
