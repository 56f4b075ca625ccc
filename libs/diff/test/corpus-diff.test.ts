import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore, CatalogError, bucketOf, jobDataOf, openCatalog, processIngest, scanPath, typeLayout, type Catalog } from '@btf-atlas/catalog';
import { diffKernels, type DiffChange, type KernelDiffStats } from '@btf-atlas/diff';
import { CORPUS_DIR, corpusOracle } from '../../btf/test/support/corpus.js';

/** A change of the corpus oracle, format (d). */
interface OracleChange {
  kind: 'struct' | 'union';
  name: string;
  change: string;
  member?: string;
  size?: number;
  old_size?: number;
  new_size?: number;
  bits_offset?: number;
  bitfield_size?: number;
  type?: string;
  old_bits_offset?: number;
  new_bits_offset?: number;
  old_bitfield_size?: number;
  new_bitfield_size?: number;
  old_type?: string;
  new_type?: string;
}

interface OracleDiff {
  old: string;
  new: string;
  ambiguous: { kind: string; name: string; old_count: number; new_count: number }[];
  changes: OracleChange[];
}

interface ManifestPair {
  arch: string;
  old: string;
  new: string;
  path: string;
}

/** An oracle change in a comparable form. */
function oracleKey(c: OracleChange): string {
  const rest = (() => {
    switch (c.change) {
      case 'struct_added':
      case 'struct_removed':
        return [c.change, c.size];
      case 'size_changed':
        return [c.change, c.old_size, c.new_size];
      case 'member_added':
      case 'member_removed':
        return [c.change, c.member, c.bits_offset, c.bitfield_size, c.type];
      case 'member_offset_changed':
        return [c.change, c.member, c.old_bits_offset, c.new_bits_offset];
      case 'member_bitfield_size_changed':
        return [c.change, c.member, c.old_bitfield_size, c.new_bitfield_size];
      case 'member_type_changed':
        return [c.change, c.member, c.old_type, c.new_type];
      default:
        throw new Error(`unknown oracle change ${c.change}`);
    }
  })();
  return JSON.stringify([c.kind, c.name, ...rest]);
}

/** One of our struct/union changes mapped to the oracle's vocabulary. */
function ourKey(c: DiffChange): string {
  const b = c.before as Record<string, unknown>;
  const a = c.after as Record<string, unknown>;
  const rest = (() => {
    switch (c.change) {
      case 'added':
        return c.member === undefined ? ['struct_added', a.size] : ['member_added', c.member, a.bits_offset, a.bitfield_size, a.type];
      case 'removed':
        return c.member === undefined ? ['struct_removed', b.size] : ['member_removed', c.member, b.bits_offset, b.bitfield_size, b.type];
      case 'size':
        return ['size_changed', b.size, a.size];
      case 'offset':
        return ['member_offset_changed', c.member, b.bits_offset, a.bits_offset];
      case 'bitfield':
        return ['member_bitfield_size_changed', c.member, b.bitfield_size, a.bitfield_size];
      case 'type':
        return ['member_type_changed', c.member, b.type, a.type];
      default:
        throw new Error(`unexpected struct change ${c.change}`);
    }
  })();
  return JSON.stringify([c.kind, c.name, ...rest]);
}

/** Where a list first differs from another, for a readable failure. */
function firstMissing(want: string[], got: string[]): string[] {
  const have = new Set(got);
  return want.filter((x) => !have.has(x)).slice(0, 5);
}

// One catalog of the whole corpus (kernels and modules) for this file, ingested in-process; and one of the two
// 6.1 kernels without their modules, where the buckets of a patch release mostly stay the same.
let dir: string;
let catalog: Catalog;
let bare: Catalog;
const manifest = JSON.parse(readFileSync(join(CORPUS_DIR, 'manifest.json'), 'utf8')) as { kernels: { archive: string; distro: string; release: string; arch: string; kernel_release: string }[]; diffs: ManifestPair[] };
const krefOf = (arch: string, unameR: string): string => {
  const k = manifest.kernels.find((x) => x.arch === arch && x.kernel_release === unameR)!;
  return `${k.distro}/${k.release}/${k.arch}/${k.kernel_release}`;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-diff-'));
  catalog = openCatalog(join(dir, 'atlas.db'));
  const blobs = BlobStore.forCatalog(catalog.path);
  const items = scanPath(join(CORPUS_DIR, 'archive'));
  for (const item of items) await processIngest(jobDataOf(item), { catalog, blobs });
  bare = openCatalog(join(dir, 'bare.db'));
  const bareBlobs = BlobStore.forCatalog(bare.path);
  for (const item of items.filter((i) => i.kref.release === '12' && i.kref.arch === 'x86_64')) {
    await processIngest({ ...jobDataOf(item), modules: [] }, { catalog: bare, blobs: bareBlobs });
  }
}, 300_000);

afterAll(() => {
  catalog?.close();
  bare?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('diff of neighbouring corpus kernels against the oracle, format (d)', () => {
  expect(manifest.diffs.length).toBeGreaterThan(0);
  for (const pair of manifest.diffs) {
    it(`${pair.arch} ${pair.old} → ${pair.new}: every oracle change, no other (struct/union, vmlinux)`, async () => {
      const oracle = JSON.parse(Buffer.from(await corpusOracle(pair.path)).toString('utf8')) as OracleDiff;
      // The oracle compares the vmlinux BTF of the two archives (its `old`/`new`): no module types.
      expect(oracle.old).toMatch(/\.btf\.tar\.xz$/);
      const from = krefOf(pair.arch, pair.old);
      const to = krefOf(pair.arch, pair.new);
      const stats = {} as KernelDiffStats;
      const d = diffKernels(catalog, from, to, { modules: 'none', stats });
      console.log(`diff ${from} → ${to}: ${d.changes.length} changes, ${Math.round(stats.ms)} ms, buckets read ${stats.bucketsRead}/${stats.bucketsRead + stats.bucketsSkipped}, ${stats.shapesLoaded} shapes loaded`);
      expect(d.from).toBe(from);
      expect(d.to).toBe(to);
      expect(d.changes.every((c) => c.module === undefined)).toBe(true);

      const ours = d.changes.filter((c) => c.kind === 'struct' || c.kind === 'union').map(ourKey);
      const theirs = oracle.changes.map(oracleKey);
      expect(firstMissing(theirs, ours), 'oracle changes the diff misses').toEqual([]);
      expect(firstMissing(ours, theirs), 'changes the oracle lacks').toEqual([]);
      expect(ours.length).toBe(theirs.length);
      // Same order too: (kind, name), size, removed, then per new member: added, offset, bitfield, type.
      expect(ours).toEqual(theirs);

      // Ambiguous names: ours are the oracle's; the oracle's others are the same in both kernels (not compared
      // because there is nothing to compare: their bucket, or at least their definitions, did not change).
      const oracleAmbiguous = new Set(oracle.ambiguous.map((a) => JSON.stringify([a.kind, a.name, a.old_count, a.new_count])));
      const ourAmbiguous = d.ambiguous.filter((a) => a.kind === 'struct' || a.kind === 'union').map((a) => JSON.stringify([a.kind, a.name, a.old_count, a.new_count]));
      for (const a of ourAmbiguous) expect(oracleAmbiguous.has(a), a).toBe(true);
      for (const a of oracle.ambiguous) {
        if (ourAmbiguous.includes(JSON.stringify([a.kind, a.name, a.old_count, a.new_count]))) continue;
        const defs = (kref: string) => typeLayout(catalog, `${a.kind} ${a.name}`, kref).types.filter((t) => t.module === undefined);
        expect(defs(to), `${a.kind} ${a.name}`).toEqual(defs(from));
      }

      // The summary counts the changes by severity.
      const count = (s: string) => d.changes.filter((c) => c.severity === s).length;
      expect(d.summary).toEqual({ breaking: count('breaking'), layout: count('layout'), additive: count('additive') });
    });
  }

  it('classifies the FRED change of pt_regs between 6.1 and 6.12 (contract, corpus README)', () => {
    const d = diffKernels(catalog, krefOf('x86_64', '6.1.0-50-amd64'), krefOf('x86_64', '6.12.117+deb13-amd64'));
    const pt = d.changes.filter((c) => c.kind === 'struct' && c.name === 'pt_regs');
    expect(pt.find((c) => c.member === 'cs')).toMatchObject({ change: 'type', before: { type: 'long unsigned int', size: 8 }, after: { type: 'u16', size: 2 }, severity: 'breaking' });
    expect(pt.filter((c) => c.change === 'added').map((c) => c.member)).toEqual(expect.arrayContaining(['csx', 'fred_cs', 'ssx', 'fred_ss']));
    expect(pt.every((c) => c.change !== 'added' || c.severity === 'additive')).toBe(true);
    expect(pt.find((c) => c.member === 'di')).toBeUndefined();
  });

  it('compares the modules ingested with both kernels, keyed by module', () => {
    const d = diffKernels(catalog, krefOf('x86_64', '6.1.0-50-amd64'), krefOf('x86_64', '6.12.117+deb13-amd64'));
    const modules = new Set(d.changes.map((c) => c.module).filter((m) => m !== undefined));
    expect([...modules].sort()).toEqual(['ext4', 'kvm', 'kvm_intel', 'nf_conntrack']);
    // 6.1.0-47 was ingested without modules: none of 6.1.0-50's module types show up as added.
    const patch = diffKernels(catalog, krefOf('x86_64', '6.1.0-47-amd64'), krefOf('x86_64', '6.1.0-50-amd64'));
    expect(patch.changes.filter((c) => c.module !== undefined)).toEqual([]);
    expect(patch.changes).toEqual(diffKernels(catalog, krefOf('x86_64', '6.1.0-47-amd64'), krefOf('x86_64', '6.1.0-50-amd64'), { modules: 'none' }).changes);
  });

  it('skips the buckets whose shape set both kernels share, and loads only the shapes that differ', () => {
    const from = krefOf('x86_64', '6.1.0-47-amd64');
    const to = krefOf('x86_64', '6.1.0-50-amd64');
    const same = {} as KernelDiffStats;
    expect(diffKernels(catalog, to, to, { stats: same })).toMatchObject({ changes: [], ambiguous: [], summary: { breaking: 0, layout: 0, additive: 0 } });
    expect(same).toMatchObject({ bucketsRead: 0, bucketsSkipped: 1024, shapesLoaded: 0 });

    const stats = {} as KernelDiffStats;
    const d = diffKernels(bare, from, to, { stats });
    console.log(`diff ${from} → ${to} without modules: ${Math.round(stats.ms)} ms, buckets read ${stats.bucketsRead}/1024, ${stats.shapesLoaded} shapes loaded, ${stats.typedefLookups} typedef lookups`);
    // Every change lives in a bucket that was read; the others were skipped without reading a member.
    const changedBuckets = new Set([...d.changes.map((c) => bucketOf(c.name)), ...d.ambiguous.map((a) => bucketOf(a.name))]);
    expect(stats.bucketsRead).toBeGreaterThanOrEqual(changedBuckets.size);
    expect(stats.bucketsSkipped).toBeGreaterThan(500);
    expect(stats.shapesLoaded).toBeLessThan(2 * stats.namesCompared + 10);
    // The same answer as with the modules in the catalog.
    expect(d.changes).toEqual(diffKernels(catalog, from, to, { modules: 'none' }).changes);
  });

  it('unknown kernels fail with KERNEL_NOT_FOUND and close suggestions', () => {
    const from = krefOf('x86_64', '6.1.0-47-amd64');
    let err: unknown;
    try {
      diffKernels(catalog, from, 'debian/12/x86_64/6.1.0-49-amd64');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CatalogError);
    expect((err as CatalogError).code).toBe('KERNEL_NOT_FOUND');
    expect((err as CatalogError).suggestions).toContain('debian/12/x86_64/6.1.0-47-amd64');
    expect(() => diffKernels(catalog, 'nonsense', from)).toThrow(CatalogError);
  });
});
