import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  archiveFileOf, archiveManifest, BlobStore, deriveKernelFiles, catalogVersions, currentSchemaVersion, funcInKernel, groupPackages, jobDataOf, searchNames, listArchiveKernels, listFailures, listKernelStates, loadKernelBtf, NORMALIZER_VERSION, openCatalog, processIngest, rawBtfFileOf, scanPath, sha256Hex, typeLayout, typeText,
} from '@btf-atlas/catalog';
import { enumeratorHistory, enumHistory, fieldHistory, funcHistory, syscallHistory, tracepointHistory, typeHistory } from '@btf-atlas/diff';
import { kernelSummary } from '@btf-atlas/catalog/kernel-summary';
import { reindexCatalog } from '@btf-atlas/catalog/reindex';
import { diffKernels } from '@btf-atlas/diff';
import { answer, expectSameAnswers, timeless } from './support/answers.js';

/**
 * Catalogs earlier releases made (fixtures/catalog-v1 and catalog-v2, see their READMEs) against this code: each
 * opens (migrations apply), answers as a catalog made now from the same input wherever the normalizer's output is
 * not involved, refuses ingest and kernel diffs while its normalizer version is older, and after `reindex` answers
 * as that fresh catalog on every question.
 */

const FIXTURES_DIR = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
/** What made each fixture, as its README says; both from the same input (catalog-v1/input). */
const FIXTURES = [
  { name: 'catalog-v1', schema: 3, normalizer: 1 },
  { name: 'catalog-v2', schema: 6, normalizer: 2 },
];
const INPUT = join(FIXTURES_DIR, 'catalog-v1/input');

const KERNELS = [
  'synthetic/1/arm64/5.10.0-2-arm64',
  'synthetic/1/x86_64/5.10.0-1-amd64',
  'synthetic/1/x86_64/5.10.0-2-amd64',
  'synthetic/1/x86_64/5.10.0-4-amd64',
];
const FIELDS = [
  'task_struct.se.vruntime', 'task_struct.se.weight', 'task_struct.pid', 'task_struct.state', 'task_struct.__state', 'task_struct.flags',
  'task_struct.lo', 'task_struct.hi', 'task_struct.comm', 'task_struct.prio', 'pt_regs.si', 'pt_regs.di', 'sched_entity.load',
  'list_head.prev', 'demo_sb_info.count', 'demo_sb_info.gen', 'trace_event_raw_sched_switch.prev_state',
];
const STRUCTS = ['task_struct', 'pt_regs', 'sched_entity', 'list_head', 'demo_sb_info', 'trace_event_raw_sched_switch'];
const FUNCS = ['bpf_task_acquire', 'do_exit', '__x64_sys_openat', 'demo_fill'];
const SEARCHES = ['task', 'PF_', 'sched_switch', 'openat', 'bpf_task', 'demo'];
/** Every kind the catalog stores, funcs and enums included: what the normalizer's version decides. */
const ALL_TYPES = [...STRUCTS, 'enum task_state', 'u64', 'btf_trace_sched_switch'];

let dir: string;

/** A copy of a fixture (opening migrates: never in place). */
function fixtureCopy(fixture: string, name: string): string {
  const to = join(dir, fixture, name);
  cpSync(join(FIXTURES_DIR, fixture, 'atlas.db'), join(to, 'atlas.db'));
  cpSync(join(FIXTURES_DIR, fixture, 'atlas.db.blobs'), join(to, 'atlas.db.blobs'), { recursive: true });
  return join(to, 'atlas.db');
}

/** A catalog made now from the fixture's input, as its README says it was made (archive tree, then the package). */
async function freshCatalog(path: string): Promise<void> {
  const catalog = openCatalog(path);
  const blobs = BlobStore.forCatalog(path);
  try {
    const archive = groupPackages(scanPath(join(INPUT, 'archive')));
    const pkg = groupPackages(scanPath(join(INPUT, 'packages/linux-image-5.10.0-4-amd64_5.10.9-1_amd64.deb')));
    const jobs = [
      ...archive.map((it) => jobDataOf(it)),
      ...pkg.map((it) => jobDataOf(it, false, { modules: 'all', distro: 'synthetic', release: '1' })),
    ];
    const failed: string[] = [];
    for (const job of jobs) {
      // Each ingest, then its derive job (the kernel's tarball), as a worker runs them.
      const r = await processIngest(job, { catalog, blobs }).catch(() => void failed.push(job.kernel || job.source));
      if (r) await deriveKernelFiles(catalog, blobs, r.kernel);
    }
    expect(failed).toEqual(['synthetic/1/x86_64/5.10.0-3-amd64']);
  } finally {
    catalog.close();
  }
}

/**
 * Answers that do not depend on the normalizer: struct fields and layouts, kernels, the archive mirror. (Kernel
 * diffs read the type graph, which normalizer version 3 began to store: {@link allAnswers}.)
 */
async function layoutAnswers(path: string): Promise<Record<string, unknown>> {
  const catalog = openCatalog(path, { readonly: true });
  const blobs = BlobStore.forCatalog(path);
  try {
    const out: Record<string, unknown> = {};
    out.kernels = listKernelStates(catalog);
    for (const f of FIELDS) {
      out[`field ${f}`] = answer(() => fieldHistory(catalog, f));
      out[`field ${f} x86_64`] = answer(() => fieldHistory(catalog, f, { arch: 'x86_64' }));
    }
    for (const t of STRUCTS) {
      // A span's digest is the shape's content hash, which the normalizer makes: left out here.
      out[`history ${t}`] = withoutDigests(answer(() => typeHistory(catalog, t)));
      for (const k of KERNELS) {
        out[`type ${t} ${k}`] = answer(() => typeLayout(catalog, t, k));
        out[`text ${t} ${k}`] = await typeText(catalog, t, k).catch((err: Error) => err.message);
      }
    }
    for (const a of KERNELS) {
      const archive = await archiveFileOf(catalog, blobs, a);
      const raw = await rawBtfFileOf(catalog, blobs, a);
      out[`archive ${a}`] = { sha256: archive.sha256, size: archive.size, bytes: sha256Hex(readFileSync(archive.path)) };
      out[`raw ${a}`] = { sha256: raw.sha256, size: raw.size, bytes: sha256Hex(readFileSync(raw.path)) };
      out[`vmlinux btf ${a}`] = sha256Hex(await loadKernelBtf(catalog, blobs, a));
      out[`summary ${a}`] = await kernelSummary(catalog, a, { blobs });
    }
    out.listing = listArchiveKernels(catalog);
    out.manifest = await archiveManifest(catalog, blobs);
    out.failures = listFailures(catalog);
    return timeless(out) as Record<string, unknown>;
  } finally {
    catalog.close();
  }
}

/** Every answer: the layout answers, and those of every stored kind (funcs, enums, typedefs) and whole diffs. */
async function allAnswers(path: string): Promise<Record<string, unknown>> {
  const out = await layoutAnswers(path);
  const catalog = openCatalog(path, { readonly: true });
  try {
    for (const t of ALL_TYPES) {
      out[`history ${t}`] = answer(() => typeHistory(catalog, t));
      for (const k of KERNELS) out[`type ${t} ${k}`] = answer(() => typeLayout(catalog, t, k));
    }
    for (const a of KERNELS) for (const b of KERNELS) if (a !== b) out[`diff ${a} ${b}`] = diffKernels(catalog, a, b);
    for (const f of FUNCS) {
      out[`func ${f}`] = answer(() => funcHistory(catalog, f));
      for (const k of KERNELS) out[`func ${f} ${k}`] = answer(() => funcInKernel(catalog, f, k));
    }
    out['enum task_state'] = answer(() => enumHistory(catalog, 'task_state'));
    for (const e of ['PF_IDLE', 'PF_KTHREAD', 'TASK_DEAD']) out[`enumerator ${e}`] = answer(() => enumeratorHistory(catalog, e));
    out['syscall openat'] = answer(() => syscallHistory(catalog, 'openat'));
    out['tracepoint sched_switch'] = answer(() => tracepointHistory(catalog, 'sched_switch'));
    for (const q of SEARCHES) out[`search ${q}`] = answer(() => searchNames(catalog, q));
    out['search pf kinds'] = answer(() => searchNames(catalog, 'pf', { kinds: ['enumerator', 'kfunc'] }));
    return timeless(out) as Record<string, unknown>;
  } finally {
    catalog.close();
  }
}

/** A copy of an answer without its `digest` keys. */
function withoutDigests(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(withoutDigests);
  if (x === null || typeof x !== 'object') return x;
  return Object.fromEntries(Object.entries(x).filter(([k]) => k !== 'digest').map(([k, v]) => [k, withoutDigests(v)]));
}

/** An answer without its rename guesses (`probable_rename`, and a summary's `: probably renamed to X`). */
function withoutRenames(x: unknown): Record<string, unknown> {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (typeof v === 'string') return v.replace(/: probably renamed to \w+/g, '');
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'probable_rename').map(([k, w]) => [k, strip(w)]));
  };
  return strip(x) as Record<string, unknown>;
}

let freshPath: string;
let fresh: Record<string, unknown>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-migration-'));
  freshPath = join(dir, 'fresh/atlas.db');
  await freshCatalog(freshPath);
  fresh = await allAnswers(freshPath);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.each(FIXTURES)('a catalog made by an earlier release (fixtures/$name)', ({ name: fixture, schema: FIXTURE_SCHEMA, normalizer: FIXTURE_NORMALIZER }) => {
  it(`is what its README says: schema ${FIXTURE_SCHEMA}, normalizer ${FIXTURE_NORMALIZER}, four kernels and one failure`, () => {
    // A copy: even a read-only open of a WAL catalog leaves -wal and -shm files beside it.
    const catalog = openCatalog(fixtureCopy(fixture, 'readme'), { readonly: true });
    try {
      expect(catalogVersions(catalog)).toEqual({ schemaVersion: FIXTURE_SCHEMA, normalizerVersion: FIXTURE_NORMALIZER });
      expect(listKernelStates(catalog).map((k) => `${k.kernel} ${k.state}`)).toEqual([
        'synthetic/1/arm64/5.10.0-2-arm64 ingested',
        'synthetic/1/x86_64/5.10.0-1-amd64 ingested',
        'synthetic/1/x86_64/5.10.0-2-amd64 ingested',
        'synthetic/1/x86_64/5.10.0-3-amd64 failed',
        'synthetic/1/x86_64/5.10.0-4-amd64 ingested',
      ]);
    } finally {
      catalog.close();
    }
  });

  it('opens with this code: the migrations apply, its normalizer version stays recorded', () => {
    const path = fixtureCopy(fixture, 'open');
    const catalog = openCatalog(path);
    try {
      expect(catalogVersions(catalog)).toEqual({ schemaVersion: currentSchemaVersion(), normalizerVersion: FIXTURE_NORMALIZER });
      const applied = catalog.sqlite.prepare('SELECT count(*) FROM __drizzle_migrations').pluck().get();
      expect(applied).toBe(currentSchemaVersion());
    } finally {
      catalog.close();
    }
  });

  it('answers field, layout, kernel and archive questions as a catalog made now from the same input', async () => {
    const path = fixtureCopy(fixture, 'answers');
    openCatalog(path).close();
    // Rename guesses judge the two members' types (the kernel diff's rule), which this catalog stores as C
    // spellings: it only makes those of identical spellings until reindexed. Every other word is the same.
    const answers = await layoutAnswers(path);
    const want = await layoutAnswers(freshPath);
    const got = withoutRenames(answers);
    expectSameAnswers(got, withoutRenames(want));
    expect(want['field task_struct.state']).toMatchObject({ changes: [{ what: 'removed', probable_rename: '__state' }] });
    expect(answers['field task_struct.state']).toMatchObject({ changes: [{ what: 'removed' }] });
    expect(JSON.stringify(answers['field task_struct.state'])).not.toContain('__state');
    // The answers hold what the fixture is about, not only errors.
    expect(got['field task_struct.se.vruntime']).toMatchObject({ changes: [{ what: 'offset', before: { offset: 16 }, after: { offset: 24 } }] });
    expect(got['type demo_sb_info synthetic/1/x86_64/5.10.0-4-amd64']).toMatchObject({ types: [{ size: 24 }] });
  });

  it('refuses a kernel diff until reindexed: its member types are C spellings, not the type graph', () => {
    const catalog = openCatalog(fixtureCopy(fixture, 'diff'), { readonly: true });
    try {
      expect(() => diffKernels(catalog, KERNELS[1], KERNELS[2])).toThrow(expect.objectContaining({ code: 'CATALOG_NEEDS_REINDEX', message: expect.stringContaining(`normalizer version ${FIXTURE_NORMALIZER}`) }));
    } finally {
      catalog.close();
    }
  });

  it('refuses ingest while its normalizer version is older: CATALOG_NEEDS_REINDEX, nothing written', async () => {
    const path = fixtureCopy(fixture, 'refuse');
    const catalog = openCatalog(path);
    try {
      const before = listKernelStates(catalog);
      const [item] = scanPath(join(INPUT, 'archive/synthetic/1/x86_64/5.10.0-2-amd64.btf'), { distro: 'synthetic', release: '1', arch: 'x86_64', unameR: '5.10.0-9-amd64' });
      await expect(processIngest(jobDataOf(item), { catalog, blobs: BlobStore.forCatalog(path) })).rejects.toMatchObject({
        code: 'CATALOG_NEEDS_REINDEX',
        message: expect.stringContaining(`normalizer version ${FIXTURE_NORMALIZER}`),
      });
      expect(listKernelStates(catalog)).toEqual(before);
    } finally {
      catalog.close();
    }
  });

  it('after reindex: the normalizer version is current, the old file is kept, and every answer equals the fresh catalog', async () => {
    const path = fixtureCopy(fixture, 'reindex');
    const result = await reindexCatalog(path);
    expect(result).toMatchObject({ fromNormalizer: FIXTURE_NORMALIZER, toNormalizer: NORMALIZER_VERSION, kernels: [KERNELS[0], KERNELS[1], KERNELS[2], KERNELS[3]], dropped: [], failures: 1 });
    expect(result.backup).toBe(`${path}.v${FIXTURE_NORMALIZER}.bak`);
    expect(existsSync(result.backup as string)).toBe(true);
    const catalog = openCatalog(path);
    try {
      expect(catalogVersions(catalog)).toEqual({ schemaVersion: currentSchemaVersion(), normalizerVersion: NORMALIZER_VERSION });
    } finally {
      catalog.close();
    }
    expectSameAnswers(await allAnswers(path), fresh);
  });

  it('after reindex, ingest works again', async () => {
    const path = fixtureCopy(fixture, 'reingest');
    await reindexCatalog(path, { keepBackup: false });
    const catalog = openCatalog(path);
    try {
      const [item] = scanPath(join(INPUT, 'archive/synthetic/1/x86_64/5.10.0-2-amd64.btf'), { distro: 'synthetic', release: '1', arch: 'x86_64', unameR: '5.10.0-9-amd64' });
      await expect(processIngest(jobDataOf(item), { catalog, blobs: BlobStore.forCatalog(path) })).resolves.toMatchObject({ status: 'ingested' });
    } finally {
      catalog.close();
    }
  });
});
