import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore, groupPackages, jobDataOf, NORMALIZER_VERSION, openCatalog, parseKref, processIngest, scanPath } from '@btf-atlas/catalog';
import { cliOn, REPO } from './support.js';

/** The small input of the catalog-v1 fixture (libs/catalog/test/fixtures/catalog-v1/README.md). */
const INPUT = join(REPO, 'libs/catalog/test/fixtures/catalog-v1/input');
const K1 = 'synthetic/1/x86_64/5.10.0-1-amd64';

let dir: string;
let db: string;
let a: string;
let b: string;
let conflicting: string;
let n = 0;

const cli = cliOn(() => db);

async function build(path: string, jobs: Parameters<typeof processIngest>[0][]): Promise<void> {
  const catalog = openCatalog(path);
  try {
    for (const job of jobs) await processIngest(job, { catalog, blobs: BlobStore.forCatalog(path) }).catch(() => undefined);
  } finally {
    catalog.close();
  }
}

/** A private copy of a catalog and its blobs. */
function copy(path: string): string {
  const to = join(dir, `copy-${++n}`);
  mkdirSync(to);
  cpSync(path, join(to, 'atlas.db'));
  cpSync(`${path}.blobs`, join(to, 'atlas.db.blobs'), { recursive: true });
  return join(to, 'atlas.db');
}

/** The one line a failed command prints. */
function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  return lines[0];
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-maint-cli-'));
  a = join(dir, 'a/atlas.db');
  await build(a, groupPackages(scanPath(join(INPUT, 'archive'))).map((it) => jobDataOf(it)));
  b = join(dir, 'b/atlas.db');
  await build(b, groupPackages(scanPath(join(INPUT, 'packages'))).map((it) => jobDataOf(it, false, { modules: 'all', distro: 'synthetic', release: '1' })));
  conflicting = join(dir, 'c/atlas.db');
  await build(conflicting, scanPath(join(INPUT, 'archive/synthetic/1/x86_64/5.10.0-2-amd64.btf'), parseKref(K1)).map((it) => jobDataOf(it)));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('btf-atlas reindex', () => {
  it('rebuilds the catalog: exit 0, progress on stderr, the old file kept as <db>.v<N>.bak', () => {
    db = copy(a);
    const r = cli('reindex');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toBe(`reindex ${db}: 3 kernel(s), 1 failure(s), from normalizer version ${NORMALIZER_VERSION} to ${NORMALIZER_VERSION}`);
    expect(lines.slice(1, 4).map((l) => l.replace(/ \(.*/, ''))).toEqual([
      'reindex 1/3 synthetic/1/arm64/5.10.0-2-arm64', `reindex 2/3 ${K1}`, 'reindex 3/3 synthetic/1/x86_64/5.10.0-2-amd64',
    ]);
    expect(lines[4]).toBe(`swapped in the new catalog; the old one is ${db}.v${NORMALIZER_VERSION}.bak`);
    expect(lines[5]).toBe(`3 kernel(s) reindexed, 0 dropped, 1 failure(s) carried over (catalog ${db})`);
    expect(existsSync(`${db}.v${NORMALIZER_VERSION}.bak`)).toBe(true);
    const kernels = JSON.parse(cli('kernels', '--json').stdout) as { kernels: { kernel: string; state: string }[] };
    expect(kernels.kernels.map((k) => k.state)).toEqual(['ingested', 'ingested', 'ingested', 'failed']);
  });

  it('--json prints the result on stdout; --db overrides BTF_ATLAS_DB', () => {
    const path = copy(b);
    db = join(dir, 'elsewhere.db');
    const r = cli('reindex', '--db', path, '--json', '--no-backup');
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ path, backup: null, kernels: ['synthetic/1/x86_64/5.10.0-4-amd64'], dropped: [], failures: 0 });
    expect(existsSync(db)).toBe(false);
  });

  it('a missing blob: exit 1 with one BLOB_MISSING line; --drop-missing leaves the kernel out', () => {
    db = copy(a);
    const sqlite = new Database(db, { readonly: true });
    const source = sqlite.prepare("SELECT source_sha256 FROM kernels WHERE uname_r = '5.10.0-1-amd64'").pluck().get() as string;
    sqlite.close();
    rmSync(new BlobStore(`${db}.blobs`).pathOf(source));
    const r = cli('reindex');
    expect(r.status).toBe(1);
    expect(oneLine(r.stderr)).toBe(
      `btf-atlas: BLOB_MISSING: 1 kernel(s) of ${db} cannot be ingested again, their blobs are gone from ${db}.blobs: ` +
        `${K1}: source synthetic/1/x86_64/5.10.0-1-amd64.btf.tar.xz (sha256 ${source}); pass --drop-missing to leave them out`,
    );
    const dropped = cli('reindex', '--drop-missing');
    expect(dropped.status, dropped.stderr).toBe(0);
    expect(dropped.stderr).toContain(`dropped ${K1}: missing source`);
    const kernels = JSON.parse(cli('kernels', '--json').stdout) as { kernels: { kernel: string; state: string; failure?: { code: string } }[] };
    expect(kernels.kernels.find((k) => k.kernel === K1)).toMatchObject({ state: 'failed', failure: { code: 'BLOB_MISSING' } });
  });

  it('no catalog, or a file that is not one: exit 1 with one line, nothing created', () => {
    db = join(dir, 'none/atlas.db');
    const missing = cli('reindex');
    expect(missing.status).toBe(1);
    expect(oneLine(missing.stderr)).toMatch(/^btf-atlas: CATALOG_MISSING: no catalog at .*none\/atlas\.db/);
    expect(existsSync(db)).toBe(false);
    db = join(dir, 'notes.txt');
    writeFileSync(db, 'these are notes, not a catalog\n'.repeat(20));
    const text = cli('reindex');
    expect(text.status).toBe(1);
    expect(oneLine(text.stderr)).toMatch(new RegExp(`^btf-atlas: NOT_A_CATALOG: ${db} is not a btf-atlas catalog: `));
    expect(existsSync(`${db}.reindex.tmp`)).toBe(false);
  });
});

describe('btf-atlas merge', () => {
  it("adds B's kernels to A: exit 0, a line per kernel and a summary", () => {
    const target = copy(a);
    const r = cli('merge', target, b);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('merge 1/1 synthetic/1/x86_64/5.10.0-4-amd64: added (');
    expect(r.stderr.trim().split('\n').at(-1)).toBe(`1 kernel(s) added, 0 replaced, 0 skipped, 0 kept; ${r.stderr.match(/; (\d+) new shapes/)?.[1]} new shapes (catalog ${target})`);
    db = target;
    const kernels = JSON.parse(cli('kernels', '--json').stdout) as { kernels: { kernel: string }[] };
    expect(kernels.kernels.map((k) => k.kernel)).toContain('synthetic/1/x86_64/5.10.0-4-amd64');
  });

  it('--into OUT --json: both into a new catalog, A and B untouched', () => {
    const out = join(dir, 'out/merged.db');
    const r = cli('merge', a, b, '--into', out, '--json');
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { target: string; merged: { source: string; kernels: { status: string }[] }[] };
    expect(result.target).toBe(out);
    expect(result.merged.map((m) => [m.source, m.kernels.length])).toEqual([[a, 3], [b, 1]]);
    db = out;
    expect((JSON.parse(cli('kernels', '--json').stdout) as { kernels: unknown[] }).kernels).toHaveLength(5);
  });

  it('a conflict: exit 1 with one KERNEL_CONFLICT line; --prefer b takes B\'s; --prefer c is a usage error (exit 2)', () => {
    const target = copy(a);
    const r = cli('merge', target, conflicting);
    expect(r.status).toBe(1);
    expect(oneLine(r.stderr)).toMatch(new RegExp(`^btf-atlas: KERNEL_CONFLICT: 1 kernel\\(s\\) are in both catalogs with different btf: ${K1} .*; pass --prefer a or --prefer b$`));
    const preferB = cli('merge', target, conflicting, '--prefer', 'b');
    expect(preferB.status, preferB.stderr).toBe(0);
    expect(preferB.stderr).toContain(`merge 1/1 ${K1}: replaced`);
    const usage = cli('merge', target, conflicting, '--prefer', 'c');
    expect(usage.status).toBe(2);
  });

  it('a catalog of another normalizer version: exit 1 with one CATALOG_NEEDS_REINDEX line naming it', () => {
    const stale = copy(b);
    const sqlite = new Database(stale);
    sqlite.prepare("UPDATE catalog_meta SET value = ? WHERE key = 'normalizer_version'").run(String(NORMALIZER_VERSION + 1));
    sqlite.close();
    const r = cli('merge', copy(a), stale);
    expect(r.status).toBe(1);
    expect(oneLine(r.stderr)).toContain(`btf-atlas: CATALOG_NEEDS_REINDEX: cannot merge: the source (${stale}) was made by normalizer version ${NORMALIZER_VERSION + 1}`);
  });

  it('a missing catalog or a file that is not one: exit 1 with one line', () => {
    const missing = cli('merge', a, join(dir, 'nope.db'));
    expect(missing.status).toBe(1);
    expect(oneLine(missing.stderr)).toBe(`btf-atlas: CATALOG_MISSING: no catalog at ${join(dir, 'nope.db')} (B): no such file`);
    const notes = join(dir, 'notes2.txt');
    writeFileSync(notes, 'not sqlite\n'.repeat(50));
    const text = cli('merge', notes, b);
    expect(text.status).toBe(1);
    expect(oneLine(text.stderr)).toMatch(new RegExp(`^btf-atlas: NOT_A_CATALOG: ${notes} is not a btf-atlas catalog: `));
    const usage = cli('merge', a);
    expect(usage.status).toBe(2);
  });
});
