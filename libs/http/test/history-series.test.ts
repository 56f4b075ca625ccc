import { rmSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCatalog } from '@btf-atlas/catalog';
import { fieldHistory, typeHistory } from '@btf-atlas/diff';
import { buildApp } from '../src/app.js';
import { K, seriesCatalog } from '../../catalog/test/support/series-catalog.js';

let app: FastifyInstance;
let db: string;
let cleanup: () => void;

beforeAll(async () => {
  const made = await seriesCatalog();
  db = made.db;
  // The app opens its own handle; the builder's is closed now, its folder removed after the tests.
  made.catalog.close();
  cleanup = () => rmSync(made.dir, { recursive: true, force: true });
  app = await buildApp({ dbPath: db, adminToken: undefined });
});

afterAll(async () => {
  await app?.close();
  cleanup?.();
});

/** What the library answers (and the CLI prints with --json), serialized. */
function libraryJson(fn: (c: ReturnType<typeof openCatalog>) => unknown): string {
  const catalog = openCatalog(db);
  try {
    return JSON.stringify(fn(catalog));
  } finally {
    catalog.close();
  }
}

describe('histories over the API keep series, timeline, summary, module and renames', () => {
  it('GET /v1/fields/... answers series on kernels and changes, the timeline and the summary', async () => {
    const res = await app.inject({ url: '/v1/fields/task_struct.se.vruntime' });
    expect(res.statusCode).toBe(200);
    const h = res.json<{
      kernels: { kernel: string; series: string }[];
      changes: { from: string; to: string; series: string; what: string }[];
      timeline: { arch: string; flavour: string; main: boolean; spans: { first: string; last: string; count: number; value: { offset?: number } }[]; differs_from_main?: unknown[] }[];
      summary: string;
    }>();
    expect(h.kernels.find((k) => k.kernel === K.deb12rt)?.series).toBe('debian/12/x86_64/rt-amd64');
    expect(h.changes).toEqual([{
      from: K.deb12, to: K.deb12new, series: 'debian/12/x86_64/amd64', what: 'offset',
      before: { offset: 208, bits_offset: 1664 }, after: { offset: 240, bits_offset: 1920 },
    }]);
    expect(h.timeline.map((l) => [l.arch, l.flavour, l.main, l.spans.map((s) => [s.count, s.value.offset])])).toEqual([
      ['x86_64', 'amd64', true, [[3, 208], [2, 240]]],
      ['x86_64', 'rt-amd64', false, [[1, 272], [1, 240]]],
      ['arm64', 'arm64', true, [[1, 208], [1, 240]]],
    ]);
    expect(h.timeline[1].differs_from_main).toEqual([{
      first: K.deb12rt, last: K.deb12rt, count: 1,
      value: { status: 'present', offset: 272, bits_offset: 2176, bitfield_size: 0, size: 8, type: 'u64' },
      main_value: { status: 'present', offset: 208, bits_offset: 1664, bitfield_size: 0, size: 8, type: 'u64' },
    }]);
    expect(h.summary).toBe(
      'task_struct.se.vruntime on x86_64: 208 from 5.10.0-32-amd64 to 6.1.0-50-amd64, 240 from 6.12.95+deb12-amd64 to 6.12.117+deb13-amd64; '
      + 'arm64: 208 at 6.1.0-50-arm64, 240 at 6.12.117+deb13-arm64; rt-amd64 differs: 272 at 6.1.0-50-rt-amd64',
    );
    // Nothing stripped or reordered by the response schema: the very bytes of the library's answer.
    expect(res.body).toBe(libraryJson((c) => fieldHistory(c, 'task_struct.se.vruntime')));
  });

  it('a removed field keeps its probable_rename', async () => {
    const res = await app.inject({ url: '/v1/fields/task_struct.state?arch=x86_64' });
    expect(res.statusCode).toBe(200);
    const h = res.json<{ changes: { what: string; probable_rename?: string }[]; summary: string }>();
    expect(h.changes).toEqual([expect.objectContaining({ what: 'removed', probable_rename: '__state' })]);
    expect(h.summary).toBe('task_struct.state on x86_64: 16 at 5.10.0-32-amd64, removed in 5.14.0-0.bpo.2-amd64: probably renamed to __state');
    expect(res.body).toBe(libraryJson((c) => fieldHistory(c, 'task_struct.state', { arch: 'x86_64' })));
  });

  it('a module field and a module type history carry module, not_ingested and paired renames', async () => {
    const field = await app.inject({ url: '/v1/fields/ext4_sb_info.s_mount_opt' });
    expect(field.statusCode).toBe(200);
    const f = field.json<{ kernels: { module?: string; status: string }[]; not_ingested?: { modules: string[]; kernels: string[] } }>();
    expect(f.kernels.map((k) => k.module ?? k.status)).toEqual(['ext4', 'ext4', 'ext4', 'missing_struct']);
    expect(f.not_ingested).toEqual({ modules: ['ext4'], kernels: [K.deb11, K.deb11bpo, K.arm12, K.deb12rt, K.arm13] });
    expect(field.body).toBe(libraryJson((c) => fieldHistory(c, 'ext4_sb_info.s_mount_opt')));

    const type = await app.inject({ url: '/v1/types/ext4_sb_info/history' });
    expect(type.statusCode).toBe(200);
    const t = type.json<{ kernels: { module?: string }[]; changes: { member?: string; probable_rename?: string }[]; timeline: unknown[]; summary: string }>();
    expect(t.kernels.map((k) => k.module)).toEqual(['ext4', 'ext4', 'ext4', undefined]);
    expect(t.changes.map((c) => [c.member, c.probable_rename])).toEqual([['s_flags', 's_mount_flags'], ['s_mount_flags', 's_flags']]);
    expect(t.timeline).toHaveLength(2);
    expect(t.summary).toMatch(/^ext4_sb_info \(module ext4\) on x86_64: 16 bytes\/2 members at 6\.1\.0-50-amd64, /);
    expect(type.body).toBe(libraryJson((c) => typeHistory(c, 'ext4_sb_info')));
  });

  it('a typo in a nested segment is answered 404 with the corrected path', async () => {
    const res = await app.inject({ url: '/v1/fields/task_struct.se.vruntim' });
    expect(res.statusCode).toBe(404);
    expect(res.json<{ code: string; suggestions: string[] }>()).toMatchObject({ code: 'FIELD_NOT_FOUND', suggestions: ['task_struct.se.vruntime'] });
  });
});
