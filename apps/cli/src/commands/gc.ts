import { CommanderError, type Command } from '../commander.js';
import { existingCatalogPath, redisUrl } from '../config.js';
import { CliError } from '../errors.js';

/** `1h`, `30m`, `90s`, `500ms`, `2d`, or a number of seconds; the grace period in ms. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new CommanderError(2, 'usage', `--grace ${JSON.stringify(text)} is not a duration (e.g. 1h, 30m, 90s, 0)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * unit);
}

function human(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}

/**
 * The uploads of ingest jobs still in the queue (REDIS_URL set): kept however old. Without Redis there is no queue
 * to ask; with REDIS_URL set and Redis away, gc does not run (it cannot tell which uploads are still wanted).
 */
async function queuedUploads(blobs: import('@btf-atlas/catalog').BlobStore): Promise<Set<string> | undefined> {
  const url = redisUrl();
  if (url === undefined) return undefined;
  const q = await import('@btf-atlas/queue');
  try {
    return await q.pendingJobBlobs({ redisUrl: url, prefix: process.env.BTF_ATLAS_QUEUE_PREFIX ?? 'btf-atlas' }, blobs);
  } catch (err) {
    if (q.isRedisUnavailable(err)) {
      throw new CliError(`${(err as Error).message}; gc asks the queue which uploads its jobs still need, so it does not run without it (unset REDIS_URL when there is no queue)`, 'REDIS_UNAVAILABLE');
    }
    throw err;
  }
}

/**
 * `btf-atlas gc [--dry-run] [--json] [--grace DURATION]`: removes the blobs of `<db>.blobs/` that no kernel,
 * module or archive row refers to, and temp files of interrupted writes, once older than the grace period
 * (default 1h: a blob an ingest wrote but whose kernel row is not committed yet is young, and stays). With
 * REDIS_URL set, the uploads of ingest jobs still in the queue are kept whatever their age.
 */
export function registerGcCommand(program: Command): void {
  program
    .command('gc')
    .description('remove blobs no kernel refers to (failed uploads and ingests), older than the grace period')
    .option('--db <file>', 'catalog file (default $BTF_ATLAS_DB or ./data/atlas.db)')
    .option('--dry-run', 'list what would be removed, remove nothing')
    .option('--grace <duration>', 'keep files younger than this (1h, 30m, 90s, 0); an ingest in progress writes its blobs before its row', '1h')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { db?: string; dryRun?: boolean; grace: string; json?: boolean }) => {
      const graceMs = parseDuration(opts.grace);
      const path = existingCatalogPath(opts.db);
      const lib = await import('@btf-atlas/catalog');
      const { gcBlobs } = await import('@btf-atlas/catalog/gc');
      const blobs = lib.BlobStore.forCatalog(path);
      const protect = await queuedUploads(blobs);
      const catalog = lib.openCatalog(path);
      let r;
      try {
        r = gcBlobs(catalog, blobs, { dryRun: opts.dryRun === true, graceMs, ...(protect ? { protect } : {}) });
      } finally {
        catalog.close();
      }
      if (opts.json) {
        const out = {
          dry_run: r.dryRun,
          grace_ms: r.graceMs,
          removed: r.removed.map((e) => ({ ...(e.sha256 ? { sha256: e.sha256 } : {}), path: e.path, bytes: e.bytes, kind: e.kind })),
          removed_count: r.removed.length,
          removed_bytes: r.removedBytes,
          referenced: r.referenced,
          referenced_bytes: r.referencedBytes,
          queued_uploads: r.protected,
          young: r.young,
          young_bytes: r.youngBytes,
        };
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      const verb = r.dryRun ? 'would remove' : 'removed';
      for (const e of r.removed) process.stdout.write(`${verb} ${e.path} (${e.kind}, ${e.bytes} bytes)\n`);
      process.stderr.write(
        `gc ${path}.blobs: ${verb} ${r.removed.length} file(s), ${human(r.removedBytes)}; kept ${r.referenced} referenced (${human(r.referencedBytes)}${r.protected > 0 ? `, ${r.protected} of them uploads of queued jobs` : ''}) and ${r.young} younger than ${opts.grace} (${human(r.youngBytes)})\n`,
      );
    });
}
