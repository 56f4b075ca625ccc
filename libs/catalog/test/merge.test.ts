import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  archiveFileOf, archiveManifest, BlobStore, formatKref, groupPackages, jobDataOf, listArchiveKernels, listFailures, searchNames, listKernels, listKernelStates, loadKernelBtf, NORMALIZER_VERSION, openCatalog, parseKref, prepareKernel, processIngest, rawBtfFileOf, scanPath, sha256Hex, typeLayout, typeText, writeKernel, type ScanItem,
} from '@btf-atlas/catalog';
import { enumeratorHistory, enumHistory, fieldHistory, funcHistory, syscallHistory, tracepointHistory, typeHistory } from '@btf-atlas/diff';
import { mergeCatalog, mergeCatalogs } from '@btf-atlas/catalog/merge';
import { diffKernels } from '@btf-atlas/diff';
import { CORPUS_DIR } from '../../btf/test/support/corpus.js';
import { answer, expectSameAnswers, timeless } from './support/answers.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The small input of fixtures/catalog-v1 (see its README). */
const INPUT = join(HERE, 'fixtures/catalog-v1/input');

let dir: string;
let n = 0;

/** A fresh folder in the test's temp dir. */
function folder(name: string): string {
  const d = join(dir, `${name}-${++n}`);
  mkdirSync(d, { recursive: true });
  return d;
}

/** A copy of a catalog and its blob store (merging writes into its target). */
function copyCatalog(path: string, name: string): string {
  const to = join(folder(name), 'atlas.db');
  cpSync(path, to);
  cpSync(`${path}.blobs`, `${to}.blobs`, { recursive: true });
  return to;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-merge-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('merging catalogs of the corpus kernels', () => {
  const A_HALF = ['debian/12/x86_64/6.1.0-47-amd64', 'debian/13/x86_64/6.12.117+deb13-amd64'];
  const B_HALF = ['debian/12/x86_64/6.1.0-50-amd64', 'debian/12/arm64/6.1.0-50-arm64'];
  const ALL = [...A_HALF, ...B_HALF];
  const FIELDS = ['task_struct.se.vruntime', 'task_struct.__state', 'sk_buff.len', 'pt_regs.di', 'file.f_mode', 'inode.i_ino', 'ext4_sb_info.s_mount_opt', 'kvm_vcpu.vcpu_id'];
  const TYPES = ['task_struct', 'sk_buff', 'pt_regs', 'ext4_sb_info', 'nf_conn', 'enum bpf_func_id'];
  /** Kernels from different halves: a patch release (A to B) and a new release with modules (B to A). */
  const DIFFS: [string, string][] = [[A_HALF[0], B_HALF[0]], [B_HALF[0], A_HALF[1]]];

  let a: string;
  let b: string;
  let full: string;
  let want: Record<string, unknown>;

  /** The answers compared: read API and diff answers, the archive mirror's files and listings. */
  async function answers(path: string): Promise<Record<string, unknown>> {
    const catalog = openCatalog(path, { readonly: true });
    const blobs = BlobStore.forCatalog(path);
    try {
      const out: Record<string, unknown> = {};
      out.kernels = listKernelStates(catalog);
      out['kernels x86_64'] = listKernels(catalog, { arch: 'x86_64' });
      out['kernels debian/12'] = listKernels(catalog, { distro: 'debian', release: '12' });
      for (const f of FIELDS) {
        out[`field ${f}`] = answer(() => fieldHistory(catalog, f));
        out[`field ${f} x86_64`] = answer(() => fieldHistory(catalog, f, { arch: 'x86_64' }));
      }
      for (const t of TYPES) {
        out[`history ${t}`] = answer(() => typeHistory(catalog, t));
        for (const k of ALL) out[`type ${t} ${k}`] = answer(() => typeLayout(catalog, t, k));
      }
      for (const [x, y] of DIFFS) out[`diff ${x} ${y}`] = diffKernels(catalog, x, y);
      for (const f of ['tcp_sendmsg', 'ext4_fill_super', 'bpf_obj_new_impl']) out[`func ${f}`] = answer(() => funcHistory(catalog, f));
      out['enum bpf_map_type'] = answer(() => enumHistory(catalog, 'bpf_map_type'));
      out['enumerator BPF_MAP_TYPE_RINGBUF'] = answer(() => enumeratorHistory(catalog, 'BPF_MAP_TYPE_RINGBUF'));
      out['syscall openat2'] = answer(() => syscallHistory(catalog, 'openat2'));
      out['tracepoint sched_switch'] = answer(() => tracepointHistory(catalog, 'sched_switch'));
      // The search index (names, enumerators) is derived per inserted shape: a merge must fill it as ingest does.
      out['search task_stru'] = answer(() => searchNames(catalog, 'task_stru'));
      out['search bpf_obj kfunc'] = answer(() => searchNames(catalog, 'bpf_obj', { kinds: ['kfunc'] }));
      out['search sched_sw'] = answer(() => searchNames(catalog, 'sched_sw', { kinds: ['tracepoint', 'enumerator', 'syscall'] }));
      // Names only the arm64 kernel (half B) has.
      out['search user_pt_reg'] = answer(() => searchNames(catalog, 'user_pt_reg'));
      out['search AARCH64_INSN_CLS'] = answer(() => searchNames(catalog, 'AARCH64_INSN_CLS', { kinds: ['enumerator'] }));
      out['enumerator AARCH64_INSN_CLS_UNKNOWN'] = answer(() => enumeratorHistory(catalog, 'AARCH64_INSN_CLS_UNKNOWN'));
      for (const k of ALL) {
        const archive = await archiveFileOf(catalog, blobs, k);
        const raw = await rawBtfFileOf(catalog, blobs, k);
        out[`archive ${k}`] = { sha256: archive.sha256, size: archive.size, bytes: sha256Hex(readFileSync(archive.path)) };
        out[`raw ${k}`] = { sha256: raw.sha256, size: raw.size, bytes: sha256Hex(readFileSync(raw.path)) };
        // What vmlinux.h is made from.
        out[`vmlinux btf ${k}`] = sha256Hex(await loadKernelBtf(catalog, blobs, k));
        out[`text pt_regs ${k}`] = await typeText(catalog, 'pt_regs', k);
      }
      // Each kernel's recorded type ids (what the dry run reads for TYPE_ID_TARGET), by kernel.
      out['type ids'] = Object.fromEntries((catalog.sqlite.prepare(`SELECT k.distro || '/' || k.release || '/' || k.arch || '/' || k.uname_r AS kernel, l.ids
          FROM kernel_type_ids t JOIN kernels k ON k.id = t.kernel_id JOIN type_id_lists l ON l.id = t.list_id ORDER BY kernel`).all() as { kernel: string; ids: Buffer }[]).map((r) => [r.kernel, sha256Hex(r.ids)]));
      out.listing = listArchiveKernels(catalog);
      out.manifest = await archiveManifest(catalog, blobs);
      out.failures = listFailures(catalog);
      return timeless(out) as Record<string, unknown>;
    } finally {
      catalog.close();
    }
  }

  beforeAll(async () => {
    a = join(folder('a'), 'atlas.db');
    b = join(folder('b'), 'atlas.db');
    full = join(folder('full'), 'atlas.db');
    const catalogs = { a: openCatalog(a), b: openCatalog(b), full: openCatalog(full) };
    try {
      const items: ScanItem[] = scanPath(join(CORPUS_DIR, 'archive'));
      expect(items.map((it) => formatKref(it.kref!)).sort()).toEqual([...ALL].sort());
      // Each kernel decoded and normalized once, written to its half and to the catalog of all of them.
      for (const it of items) {
        const kref = formatKref(it.kref!);
        const prepared = await prepareKernel({
          kref: parseKref(kref),
          file: { source: it.source, bytes: readFileSync(it.path) },
          modules: it.modules.map((m) => ({ name: m.name, source: m.source, bytes: readFileSync(m.path) })),
        });
        const half = A_HALF.includes(kref) ? 'a' : 'b';
        writeKernel(catalogs[half], BlobStore.forCatalog(half === 'a' ? a : b), prepared);
        writeKernel(catalogs.full, BlobStore.forCatalog(full), prepared);
      }
    } finally {
      for (const c of Object.values(catalogs)) c.close();
    }
    want = await answers(full);
    expect(Object.keys(want['type ids'] as object)).toHaveLength(ALL.length);
  }, 600_000);

  it('B merged into A answers every question as the catalog built from all four kernels', async () => {
    const target = copyCatalog(a, 'ab');
    const source = copyCatalog(b, 'b-copy');
    const result = await mergeCatalog(target, source);
    expect(result.kernels.map((k) => `${k.kernel} ${k.status}`).sort()).toEqual(B_HALF.map((k) => `${k} added`).sort());
    expect(result.newShapes).toBeGreaterThan(0);
    expect(result.missingBlobs).toEqual([]);
    // B's blobs came along: B can go.
    rmSync(dirname(source), { recursive: true });
    expectSameAnswers(await answers(target), want);
  }, 600_000);

  it('A merged into B (the other order) gives the same answers', async () => {
    const target = copyCatalog(b, 'ba');
    const result = await mergeCatalog(target, a);
    expect(result.kernels.map((k) => `${k.kernel} ${k.status}`).sort()).toEqual(A_HALF.map((k) => `${k} added`).sort());
    expectSameAnswers(await answers(target), want);
  }, 600_000);

  it('both into a new catalog (--into), and merging B again changes nothing', async () => {
    const out = join(folder('out'), 'atlas.db');
    const results = await mergeCatalogs(a, b, { into: out });
    expect(results.map((r) => r.kernels.map((k) => k.status))).toEqual([['added', 'added'], ['added', 'added']]);
    expectSameAnswers(await answers(out), want);
    const again = await mergeCatalog(out, b);
    expect(again).toMatchObject({ newShapes: 0, newSets: 0, failures: 0 });
    expect(again.kernels.map((k) => k.status)).toEqual(['skipped', 'skipped']);
  }, 600_000);
});

describe('merge: conflicts, failures, versions and bad catalogs (the small synthetic input)', () => {
  const K1 = 'synthetic/1/x86_64/5.10.0-1-amd64';
  const K2 = 'synthetic/1/x86_64/5.10.0-2-amd64';
  const K4 = 'synthetic/1/x86_64/5.10.0-4-amd64';
  let a: string;
  let b: string;

  /** Ingests jobs into a new catalog at path (failures are recorded, as ingest does). */
  async function build(path: string, jobs: Parameters<typeof processIngest>[0][]): Promise<void> {
    const catalog = openCatalog(path);
    try {
      for (const job of jobs) await processIngest(job, { catalog, blobs: BlobStore.forCatalog(path) }).catch(() => undefined);
    } finally {
      catalog.close();
    }
  }

  /** Row counts: what a refused merge must leave as it was. */
  function counts(path: string): Record<string, number> {
    const db = new Database(path, { readonly: true });
    try {
      const out: Record<string, number> = {};
      for (const t of ['kernels', 'modules', 'shapes', 'shape_sets', 'kernel_sets', 'kernel_type_ids', 'type_id_lists', 'ingest_failures']) out[t] = db.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number;
      return out;
    } finally {
      db.close();
    }
  }

  function layout(path: string, type: string, kref: string): unknown {
    const catalog = openCatalog(path, { readonly: true });
    try {
      return typeLayout(catalog, type, kref);
    } finally {
      catalog.close();
    }
  }

  /** Sets a catalog's recorded normalizer version (a catalog another btf-atlas made). */
  function recordNormalizer(path: string, version: number): void {
    const db = new Database(path);
    db.prepare("UPDATE catalog_meta SET value = ? WHERE key = 'normalizer_version'").run(String(version));
    db.close();
  }

  beforeAll(async () => {
    // A: the archive tree (arm64 5.10.0-2, 5.10.0-1 with its module, 5.10.0-2, and the failing 5.10.0-3).
    a = join(folder('small-a'), 'atlas.db');
    await build(a, groupPackages(scanPath(join(INPUT, 'archive'))).map((it) => jobDataOf(it)));
    // B: 5.10.0-2 as in A, 5.10.0-4 from its package, and 5.10.0-2's BTF filed as 5.10.0-1: a conflict.
    b = join(folder('small-b'), 'atlas.db');
    const raw2 = join(INPUT, 'archive/synthetic/1/x86_64/5.10.0-2-amd64.btf');
    await build(b, [
      ...scanPath(join(INPUT, 'archive/synthetic/1/x86_64')).filter((it) => it.kref && formatKref(it.kref) === K2).map((it) => jobDataOf(it)),
      ...groupPackages(scanPath(join(INPUT, 'packages'))).map((it) => jobDataOf(it, false, { modules: 'all', distro: 'synthetic', release: '1' })),
      ...scanPath(raw2, parseKref(K1)).map((it) => jobDataOf(it)),
    ]);
  });

  it('a kernel in both with other btf: KERNEL_CONFLICT naming it and --prefer, nothing written', async () => {
    const target = copyCatalog(a, 'conflict');
    const before = counts(target);
    const err = await mergeCatalog(target, b).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'CatalogError', code: 'KERNEL_CONFLICT' });
    expect((err as Error).message).toMatch(new RegExp(`^1 kernel\\(s\\) are in both catalogs with different btf: ${K1} \\(a: btf sha256 [0-9a-f]{12}…, b: [0-9a-f]{12}…\\); pass --prefer a or --prefer b$`));
    expect(counts(target)).toEqual(before);
  });

  it('--prefer a keeps A\'s kernel, --prefer b takes B\'s; the same kernel in both is skipped', async () => {
    const keepA = copyCatalog(a, 'prefer-a');
    const r = await mergeCatalog(keepA, b, { prefer: 'a' });
    expect(r.kernels).toEqual([{ kernel: K2, status: 'skipped' }, { kernel: K4, status: 'added' }, { kernel: K1, status: 'kept' }]);
    expect(r.conflicts).toEqual([expect.objectContaining({ kernel: K1 })]);
    expect(layout(keepA, 'task_struct', K1)).toEqual(layout(a, 'task_struct', K1));
    expect(layout(keepA, 'demo_sb_info', K4)).toEqual(layout(b, 'demo_sb_info', K4));

    const takeB = copyCatalog(a, 'prefer-b');
    const rb = await mergeCatalog(takeB, b, { prefer: 'b' });
    expect(rb.kernels.map((k) => k.status)).toEqual(['skipped', 'added', 'replaced']);
    expect(layout(takeB, 'task_struct', K1)).toEqual(layout(b, 'task_struct', K1));
    expect(layout(takeB, 'task_struct', K1)).not.toEqual(layout(a, 'task_struct', K1));
    // B's 5.10.0-1 has no module: A's module row went with A's kernel.
    expect(layout(takeB, 'demo_sb_info', K1)).toEqual(layout(b, 'demo_sb_info', K1));
  });

  it("copies the source's recorded failures once, with their times", async () => {
    const target = copyCatalog(b, 'failures');
    const r = await mergeCatalog(target, a, { prefer: 'a' });
    expect(r.failures).toBe(1);
    const catalog = openCatalog(target, { readonly: true });
    const source = openCatalog(a, { readonly: true });
    try {
      expect(listFailures(catalog)).toEqual(listFailures(source));
      expect(listKernelStates(catalog).find((k) => k.state === 'failed')).toMatchObject({ kernel: 'synthetic/1/x86_64/5.10.0-3-amd64', failure: { code: 'BTF_UNKNOWN_FORMAT' } });
    } finally {
      catalog.close();
      source.close();
    }
    expect((await mergeCatalog(target, a, { prefer: 'a' })).failures).toBe(0);
  });

  it('refuses catalogs of another normalizer version with CATALOG_NEEDS_REINDEX naming which, before writing', async () => {
    const stale = copyCatalog(b, 'stale-b');
    recordNormalizer(stale, NORMALIZER_VERSION + 1);
    const target = copyCatalog(a, 'stale-target');
    const before = counts(target);
    await expect(mergeCatalog(target, stale)).rejects.toMatchObject({
      code: 'CATALOG_NEEDS_REINDEX',
      message: expect.stringContaining(`the source (${stale}) was made by normalizer version ${NORMALIZER_VERSION + 1}, this btf-atlas writes version ${NORMALIZER_VERSION}`),
    });
    expect(counts(target)).toEqual(before);

    const staleA = copyCatalog(a, 'stale-a');
    recordNormalizer(staleA, NORMALIZER_VERSION + 1);
    const out = join(folder('stale-out'), 'atlas.db');
    const err = await mergeCatalogs(staleA, stale, { into: out }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CATALOG_NEEDS_REINDEX' });
    expect((err as Error).message).toContain(`A (${staleA}) was made by normalizer version ${NORMALIZER_VERSION + 1} and B (${stale})`);
    expect((err as Error).message).toContain(`btf-atlas reindex --db ${staleA}; btf-atlas reindex --db ${stale}`);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a source set whose members do not give its hash (CATALOG_CORRUPT), and what is not a catalog (NOT_A_CATALOG)', async () => {
    const broken = copyCatalog(b, 'broken');
    const db = new Database(broken);
    db.prepare('UPDATE shape_sets SET hash = randomblob(16) WHERE id = (SELECT min(id) FROM shape_sets WHERE count > 0)').run();
    db.close();
    await expect(mergeCatalog(join(folder('into-broken'), 'atlas.db'), broken)).rejects.toMatchObject({
      code: 'CATALOG_CORRUPT',
      message: expect.stringMatching(/: shape set \d+ \(bucket \d+\) has hash [0-9a-f]{32}, its members give [0-9a-f]{32}$/),
    });
    const missing = join(dir, 'no-such.db');
    await expect(mergeCatalogs(a, missing)).rejects.toMatchObject({ code: 'NOT_A_CATALOG', message: `no catalog at ${missing}: no such file` });
    await expect(mergeCatalogs(join(INPUT, 'archive/synthetic/1/x86_64/5.10.0-2-amd64.btf'), b)).rejects.toMatchObject({ code: 'NOT_A_CATALOG' });
    expect(existsSync(missing)).toBe(false);
  });
});
