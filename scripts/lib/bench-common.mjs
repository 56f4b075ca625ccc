// What the benchmarks share: the repo root, a stale-build warning, quantiles and formatting, the cached synthetic
// series of scripts/make-synthetic-archive.mjs under the OS temp folder, and the cached catalog built from one.
import { createHash } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const SERIES_CACHE = join(tmpdir(), 'btf-atlas-bench-ingest');
/** The catalogs of the series (bench-api, bench-explorer), one per (series, migrations, N). */
export const CATALOG_CACHE = join(tmpdir(), 'btf-atlas-bench-api');
export const DEFAULT_BASE = join(ROOT, 'fixtures/corpus/archive/debian/12/x86_64/6.1.0-50-amd64.btf.tar.xz');

/** Warns when a package's source is newer than its build (the figures would be of old code). */
export function warnIfStale(label, pkgs) {
  const newest = (dir) => {
    let t = 0;
    if (!existsSync(dir)) return t;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }
    return t;
  };
  for (const pkg of pkgs) {
    const dist = join(ROOT, pkg, 'dist');
    if (existsSync(dist) && newest(join(ROOT, pkg, 'src')) > newest(dist)) {
      console.error(`${label}: warning: ${pkg}/src has files newer than its dist (stale build?); run \`npm run build\` for current figures`);
    }
  }
}

/** The q-quantile of xs (linear interpolation), NaN for none. */
export function quantile(xs, q) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export const fmtMs = (x) => (x === undefined || Number.isNaN(x) ? '-' : x < 10 ? `${x.toFixed(2)} ms` : `${x.toFixed(0)} ms`);

/** The cache key of a series: its base blob, seed and xz level. */
export function seriesKey({ base, seed, xzLevel }) {
  return `series-${createHash('sha256').update(readFileSync(base)).digest('hex').slice(0, 12)}-s${seed}-xz${xzLevel}`;
}

/**
 * The series folder for n kernels: cached; made from a longer cached series of the same key by hard links (a
 * series is a prefix of any longer one), or generated. `regen` ignores and replaces the cache.
 */
export async function seriesFor(n, { base = DEFAULT_BASE, seed = 1, xzLevel = 0, regen = false } = {}) {
  const key = seriesKey({ base, seed, xzLevel });
  const dir = join(SERIES_CACHE, `${key}-n${n}`);
  const done = join(dir, '.complete');
  if (!regen && existsSync(done)) return { dir, how: 'cached' };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(SERIES_CACHE, { recursive: true });
  if (!regen) {
    const longer = readdirSync(SERIES_CACHE)
      .filter((d) => d.startsWith(`${key}-n`) && Number(d.slice(key.length + 2)) > n && existsSync(join(SERIES_CACHE, d, '.complete')))
      .sort((a, b) => Number(a.slice(key.length + 2)) - Number(b.slice(key.length + 2)))[0];
    if (longer) {
      const from = join(SERIES_CACHE, longer);
      const manifest = JSON.parse(readFileSync(join(from, 'manifest.json'), 'utf8'));
      for (const k of manifest.kernels.slice(0, n)) {
        const file = `${k.kernel}.btf.tar.xz`;
        mkdirSync(dirname(join(dir, file)), { recursive: true });
        linkSync(join(from, file), join(dir, file));
      }
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, count: n, kernels: manifest.kernels.slice(0, n) }, null, 1));
      writeFileSync(done, '');
      return { dir, how: `linked from ${longer}` };
    }
  }
  const { main: makeSeries } = await import(pathToFileURL(join(ROOT, 'scripts/make-synthetic-archive.mjs')).href);
  const { seconds } = await makeSeries(['--out', dir, '--count', String(n), '--base', base, '--seed', String(seed), '--xz-level', String(xzLevel)]);
  writeFileSync(done, '');
  return { dir, how: `generated in ${seconds.toFixed(1)} s` };
}

/** The member the series moves most often: `STRUCT.MEMBER` of the struct with the most `insert` changes. */
export function changingField(manifest) {
  const count = new Map();
  for (const k of manifest.kernels) {
    for (const c of k.changes) {
      if (c.change !== 'insert' || !c.member) continue;
      const key = `${c.struct}.${c.member}`;
      count.set(key, (count.get(key) ?? 0) + 1);
    }
  }
  let best;
  for (const [key, n] of count) if (!best || n > best[1] || (n === best[1] && key < best[0])) best = [key, n];
  return best ? { field: best[0], moves: best[1] } : undefined;
}

/** A hash of the migrations folder: a catalog built under another schema is not reused. */
export function migrationsKey() {
  const h = createHash('sha256');
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else h.update(relative(ROOT, p)).update(readFileSync(p));
    }
  };
  walk(join(ROOT, 'migrations'));
  return h.digest('hex').slice(0, 8);
}

/**
 * The cached catalog of the first n kernels of the series (`{ base, seed, xzLevel }`), built in process when
 * missing (scanPath + jobDataOf + processIngest, as `btf-atlas ingest` does without REDIS_URL; about 15 minutes for
 * 1,000 kernels on 2 cores) or when `rebuild`. Its blob store is dropped (large, and the routes benchmarked do not
 * read it). Needs the built libs/catalog.
 */
export async function catalogFor(n, series, { rebuild = false } = {}) {
  const { openCatalog, BlobStore, scanPath, jobDataOf, processIngest } = await import(pathToFileURL(join(ROOT, 'libs/catalog/dist/index.js')).href);
  const made = await seriesFor(n, series);
  const manifest = JSON.parse(readFileSync(join(made.dir, 'manifest.json'), 'utf8'));
  const dir = join(CATALOG_CACHE, `catalog-${seriesKey(series)}-m${migrationsKey()}-n${n}`);
  const dbPath = join(dir, 'catalog.db');
  if (!rebuild && existsSync(join(dir, '.complete'))) return { dbPath, manifest, series: made, how: 'cached' };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const items = scanPath(made.dir);
  const num = (it) => Number(/^6\.1\.0-(\d+)-/.exec(it.kref.unameR)?.[1] ?? NaN);
  items.sort((a, b) => num(a) - num(b));
  if (items.length !== n) throw new Error(`${made.dir}: expected ${n} kernels, found ${items.length}`);
  console.log(`building a ${n}-kernel catalog at ${dbPath} from ${made.dir} (${made.how}) ...`);
  const catalog = openCatalog(dbPath);
  const blobs = BlobStore.forCatalog(dbPath);
  const started = performance.now();
  for (let i = 0; i < items.length; i++) {
    const result = await processIngest(jobDataOf(items[i]), { catalog, blobs });
    if (result.status !== 'ingested') throw new Error(`${result.kernel}: ${result.status}`);
    if ((i + 1) % 50 === 0 || i + 1 === items.length) {
      process.stderr.write(`\r  ingested ${i + 1}/${n} (${((performance.now() - started) / 1000).toFixed(0)} s so far)`);
    }
  }
  process.stderr.write('\n');
  catalog.sqlite.pragma('wal_checkpoint(TRUNCATE)');
  catalog.close();
  rmSync(blobs.dir, { recursive: true, force: true });
  writeFileSync(join(dir, '.complete'), '');
  return { dbPath, manifest, series: made, how: `built in ${((performance.now() - started) / 1000).toFixed(0)} s` };
}
