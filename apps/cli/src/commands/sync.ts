import { Option, type Command } from '../commander.js';
import { catalogPath, redisUrl } from '../config.js';
import { CliError, QuietExit } from '../errors.js';

interface SyncOpts {
  suite: string;
  arch: string;
  mirror?: string;
  modules?: string;
  db?: string;
  json?: boolean;
  dryRun?: boolean;
  every?: number;
  limit?: number;
  progress: boolean;
}

const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);


/**
 * `sync debian|ubuntu --suite S[,S] --arch A[,A] [--mirror URL]`: reads the suites' indexes and enqueues the kernels
 * the catalog lacks; their packages are downloaded (size and sha256 checked against the index) and ingested.
 * Without REDIS_URL all of it runs here, one kernel at a time; with it, a `sync` job plans and the workers fetch
 * and ingest (`--every H` makes the sync a repeating job).
 */
export function registerSyncCommand(program: Command): void {
  program
    .command('sync')
    .description("enqueue the kernels of a distribution's repository that the catalog lacks, then download and ingest them")
    .argument('<distro>', 'debian or ubuntu (a repository in Debian format)')
    .requiredOption('--suite <suites>', 'suites, comma-separated (bookworm,bookworm-backports,trixie,sid; jammy,jammy-updates)')
    .requiredOption('--arch <archs>', 'architectures, comma-separated, as Debian spells them (amd64,arm64,s390x,ppc64el) or btfhub does (x86_64)')
    .option('--mirror <url>', 'archive root (default $BTF_ATLAS_DEBIAN_MIRROR, else the Debian archive of this machine\'s apt sources)')
    .option('--modules <names>', 'module BTF to ingest with each kernel: all (default), none, or NAME[,NAME…]')
    .option('--db <file>', 'catalog file (default $BTF_ATLAS_DB or ./data/atlas.db)')
    .option('--limit <n>', 'at most this many kernels per suite and arch, the newest first', (v) => Number(v))
    .option('--dry-run', 'only say which kernels would be fetched')
    .option('--every <hours>', 'with REDIS_URL: repeat the sync every this many hours (a BullMQ job scheduler)', (v) => Number(v))
    .option('--json', 'JSON output')
    .addOption(new Option('--no-progress', 'no progress bar'))
    .action(async (distro: string, opts: SyncOpts) => {
      if (distro !== 'debian' && distro !== 'ubuntu') throw new CliError(`unknown distro ${JSON.stringify(distro)}: sync reads debian or ubuntu repositories`, 'SYNC_BAD_CONFIG');
      if (distro === 'ubuntu' && !opts.mirror) throw new CliError('sync ubuntu needs --mirror (the apt sources name a Debian archive only)', 'SYNC_BAD_CONFIG');
      if (opts.every !== undefined && !(opts.every > 0)) throw new CliError(`--every must be a number of hours > 0, not ${String(opts.every)}`, 'SYNC_BAD_CONFIG');
      if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit > 0)) throw new CliError(`--limit must be a whole number > 0, not ${String(opts.limit)}`, 'SYNC_BAD_CONFIG');
      const data = { distro, suites: list(opts.suite), archs: list(opts.arch), mirror: opts.mirror, modules: (await import('@btf-atlas/catalog')).parseModuleFilter(opts.modules), limit: opts.limit } as const;
      const url = redisUrl();
      if (url && !opts.dryRun) return syncThroughQueue(url, { ...data, modules: data.modules }, opts);
      if (opts.every !== undefined) throw new CliError('--every needs REDIS_URL: a repeating sync is a job of the queue', 'SYNC_BAD_CONFIG');
      await syncInProcess({ ...data, modules: data.modules }, opts);
    });
}

type SyncJobData = import('@btf-atlas/queue').SyncJobData;
type IngestJobData = import('@btf-atlas/catalog').IngestJobData;

async function syncInProcess(data: SyncJobData, opts: SyncOpts): Promise<void> {
  const lib = await import('@btf-atlas/catalog');
  const q = await import('@btf-atlas/queue');
  const dbPath = catalogPath(opts.db);
  const catalog = lib.openCatalog(dbPath);
  const blobs = lib.BlobStore.forCatalog(dbPath);
  const jobs: IngestJobData[] = [];
  let failed = 0;
  try {
    const plan = await q.runSync(data, { catalog, downloadDir: q.downloadDirOf(catalog), enqueue: async (j) => void jobs.push(j) });
    for (const e of plan.errors) process.stderr.write(`btf-atlas: ${e.code}: ${e.message}\n`);
    if (!opts.json) {
      process.stderr.write(`${plan.mirror}: ${plan.enqueued.length} kernel(s) to fetch, ${plan.known} already in the catalog${plan.errors.length ? `, ${plan.errors.length} suite/arch error(s)` : ''}\n`);
    }
    if (opts.dryRun) {
      if (opts.json) process.stdout.write(`${JSON.stringify(plan)}\n`);
      else for (const k of plan.enqueued) process.stdout.write(`${k}\n`);
      return;
    }
    const { default: progress } = await import('cli-progress');
    const showBar = opts.progress && process.stderr.isTTY === true && !opts.json;
    const bar = showBar ? new progress.SingleBar({ format: 'sync [{bar}] {value}/{total} kernels | {kernel}', stream: process.stderr }, progress.Presets.shades_classic) : undefined;
    bar?.start(jobs.length, 0, { kernel: '' });
    // An ingest's derive job runs beside the next ingest (as a worker would take it from the queue).
    const deriver = lib.backgroundDeriver(catalog, blobs);
    const queue = { add: async (name: string, data: unknown) => void (name === 'derive' && deriver.add((data as { kernel: string }).kernel)) };
    for (const [i, job] of jobs.entries()) {
      bar?.update(i, { kernel: job.kernel });
      try {
        const r = (await q.runJob({ id: `sync-${i}`, name: 'ingest', data: job, updateProgress: async () => undefined }, { catalog, blobs, queue })) as { kernel: string; status: string; types: number };
        if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
        else if (!bar) process.stderr.write(`${r.status} ${r.kernel} (${r.types} types)\n`);
      } catch (err) {
        failed++;
        const e = err as Error & { code?: string };
        if (opts.json) process.stdout.write(`${JSON.stringify({ kernel: job.kernel, status: 'failed', message: e.message })}\n`);
        bar?.stop();
        process.stderr.write(`failed ${job.kernel}: ${e.code ? `${e.code}: ` : ''}${e.message}\n`);
        bar?.start(jobs.length, i + 1, { kernel: '' });
      }
    }
    for (const f of (await deriver.settle()).failed) process.stderr.write(`${f.kernel}: archive file not built: ${f.error.message}\n`);
    bar?.stop();
    if (plan.errors.length > 0) failed++;
  } finally {
    catalog.close();
  }
  if (failed > 0) throw new QuietExit(1);
}

async function syncThroughQueue(url: string, data: SyncJobData, opts: SyncOpts): Promise<void> {
  const q = await import('@btf-atlas/queue');
  const cfg = { redisUrl: url, prefix: process.env.BTF_ATLAS_QUEUE_PREFIX ?? 'btf-atlas' };
  const queue = q.createIngestQueue(cfg);
  const events = q.createQueueEvents(cfg);
  try {
    await events.waitUntilReady();
    if (opts.every !== undefined) {
      const id = `sync:${data.distro}:${data.suites.join(',')}:${data.archs.join(',')}` as 'sync';
      await queue.upsertJobScheduler(id, { every: Math.round(opts.every * 3600_000) }, { name: 'sync', data });
      process.stdout.write(opts.json ? `${JSON.stringify({ scheduler: id, every_hours: opts.every })}\n` : `sync scheduled every ${opts.every} h (${id})\n`);
      return;
    }
    if ((await queue.getWorkersCount()) === 0) process.stderr.write('btf-atlas: no worker is listening on the queue yet; the sync waits until `btf-atlas worker` runs\n');
    const job = await queue.add('sync', data);
    const r = (await job.waitUntilFinished(events)) as { mirror: string; enqueued: string[]; known: number; errors: { code: string; message: string }[] };
    if (opts.json) process.stdout.write(`${JSON.stringify({ job: job.id, ...r })}\n`);
    else {
      for (const e of r.errors) process.stderr.write(`btf-atlas: ${e.code}: ${e.message}\n`);
      process.stderr.write(`${r.mirror}: ${r.enqueued.length} kernel(s) enqueued for the workers, ${r.known} already in the catalog (job ${job.id})\n`);
      for (const k of r.enqueued) process.stdout.write(`${k}\n`);
    }
    if (r.errors.length > 0) throw new QuietExit(1);
  } finally {
    await events.close();
    await queue.close();
  }
}
