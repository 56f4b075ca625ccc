import { Option, type Command } from '../commander.js';
import { catalogPath, redisUrl } from '../config.js';
import { CliError, QuietExit } from '../errors.js';

interface IngestOpts {
  db?: string;
  kernel?: string;
  distro?: string;
  release?: string;
  modules?: string;
  replace?: boolean;
  json?: boolean;
  progress: boolean;
}

/** `ingest PATH...`: archive trees or files into the catalog, one transaction per kernel, with a progress bar. */
export function registerIngestCommand(program: Command): void {
  program
    .command('ingest')
    .description('ingest btfhub-archive trees, BTF files, distro packages (.deb, .rpm) or kernel images into the catalog')
    .argument('<path...>', 'archive folders (DISTRO/RELEASE/ARCH/UNAME_R.btf.tar.xz below), single files, or packages (a folder of them too)')
    .option('--db <file>', 'catalog file (default $BTF_ATLAS_DB or ./data/atlas.db)')
    .option('--kernel <kref>', 'the KREF of a single file whose path or metadata does not name it (raw BTF, a bare kernel image)')
    .option('--distro <distro>', "packages: the distro folder when the package's metadata does not say it (an .el9 rpm: centos, rhel, rocky…)")
    .option('--release <release>', "packages: the release folder when the package's version does not say it (bookworm's 6.1.176-1: 12)")
    .option('--modules <names>', "packages: module BTF to ingest: all (default), none, or NAME[,NAME…] (ext4,kvm,nf_conntrack)")
    .option('--replace', 'replace kernels already in the catalog with different bytes')
    .option('--json', 'print one JSON result per kernel')
    .addOption(new Option('--no-progress', 'no progress bar'))
    .action(async (paths: string[], opts: IngestOpts) => {
      const lib = await import('@btf-atlas/catalog');
      const kref = opts.kernel ? lib.parseKref(opts.kernel) : undefined;
      const items = lib.groupPackages(paths.flatMap((p) => lib.scanPath(p, kref)));
      const pkgOpts = { modules: lib.parseModuleFilter(opts.modules), distro: opts.distro, release: opts.release };
      const jobOf = (it: (typeof items)[number]) => lib.jobDataOf(it, opts.replace, pkgOpts);
      const url = redisUrl();
      if (url) {
        await ingestThroughQueue(url, items.map(jobOf), opts);
        return;
      }
      const dbPath = catalogPath(opts.db);
      const catalog = lib.openCatalog(dbPath);
      const blobs = lib.BlobStore.forCatalog(dbPath);
      const showBar = opts.progress && process.stderr.isTTY === true && !opts.json;
      const { default: progress } = await import('cli-progress');
      const bar = showBar
        ? new progress.SingleBar({ format: 'ingest [{bar}] {value}/{total} kernels | {kernel} {phase}', hideCursor: true, stream: process.stderr }, progress.Presets.shades_classic)
        : undefined;
      bar?.start(items.length, 0, { kernel: '', phase: '' });
      let failed = 0;
      const counts = { ingested: 0, replaced: 0, skipped: 0 };
      // Each kernel's tarball is made after its commit, while the next one is read (what a derive job does).
      const deriver = lib.backgroundDeriver(catalog, blobs);
      try {
        for (const [i, item] of items.entries()) {
          const data = jobOf(item);
          const label = lib.jobLabel(data);
          bar?.update(i, { kernel: label, phase: '' });
          try {
            const r = await lib.processIngest(data, { catalog, blobs, onProgress: (_f, phase) => bar?.update(i, { kernel: label, phase }) });
            counts[r.status]++;
            deriver.add(r.kernel);
            if (opts.json) process.stdout.write(`${JSON.stringify({ ...r, ms: Math.round(r.ms) })}\n`);
            else if (!bar) process.stderr.write(`${r.status} ${r.kernel} (${r.types} types, ${r.newShapes} new shapes)\n`);
          } catch (err) {
            failed++;
            const e = err as Error & { code?: string };
            const line = `failed ${label}: ${e.code ? `${e.code}: ` : ''}${e.message}`;
            if (opts.json) process.stdout.write(`${JSON.stringify({ kernel: data.kernel || null, source: data.source, status: 'failed', code: e.code ?? 'INTERNAL', message: e.message })}\n`);
            bar?.stop();
            process.stderr.write(`${line}\n`);
            bar?.start(items.length, i + 1, { kernel: '', phase: '' });
          }
        }
        bar?.update(items.length, { kernel: '', phase: 'archive files' });
        for (const f of (await deriver.settle()).failed) {
          // The kernel is in the catalog; its mirror file is built again on its first request.
          const e = f.error as Error & { code?: string };
          process.stderr.write(`${f.kernel}: archive file not built: ${e.code ? `${e.code}: ` : ''}${e.message}\n`);
        }
        bar?.update(items.length, { kernel: '', phase: 'done' });
      } finally {
        bar?.stop();
        catalog.close();
      }
      if (!opts.json) {
        process.stderr.write(`${items.length} kernel(s): ${counts.ingested} ingested, ${counts.replaced} replaced, ${counts.skipped} skipped, ${failed} failed (catalog ${dbPath})\n`);
      }
      if (failed > 0) throw new QuietExit(1);
    });
}

type JobData = import('@btf-atlas/catalog').IngestJobData;


/** REDIS_URL mode: enqueue one ingest job per kernel, then wait for the workers to finish them all. */
async function ingestThroughQueue(url: string, jobs: JobData[], opts: IngestOpts): Promise<void> {
  const q = await import('@btf-atlas/queue');
  // Redis not there: one line and exit 1 within seconds, rather than waiting for it without a word.
  await q.pingRedis(url).catch((err: Error) => {
    throw new CliError(err.message, 'REDIS_UNAVAILABLE');
  });
  const cfg = { redisUrl: url, prefix: process.env.BTF_ATLAS_QUEUE_PREFIX ?? 'btf-atlas' };
  const queue = q.createIngestQueue(cfg);
  const events = q.createQueueEvents(cfg);
  const { default: progress } = await import('cli-progress');
  const showBar = opts.progress && process.stderr.isTTY === true && !opts.json;
  const bar = showBar ? new progress.SingleBar({ format: 'ingest [{bar}] {value}/{total} kernels (queue)', stream: process.stderr }, progress.Presets.shades_classic) : undefined;
  let failed = 0;
  try {
    await events.waitUntilReady();
    if ((await queue.getWorkersCount()) === 0) {
      process.stderr.write('btf-atlas: no worker is listening on the queue yet; jobs wait until `btf-atlas worker` runs\n');
    }
    const added = await queue.addBulk(jobs.map((data) => ({ name: 'ingest' as const, data })));
    bar?.start(added.length, 0);
    let done = 0;
    await Promise.all(
      added.map(async (job, i) => {
        try {
          const r = (await job.waitUntilFinished(events)) as { kernel: string; status: string; types: number; newShapes: number };
          if (opts.json) process.stdout.write(`${JSON.stringify({ job: job.id, ...r })}\n`);
          else if (!bar) process.stderr.write(`${r.status} ${r.kernel} (${r.types} types, ${r.newShapes} new shapes, job ${job.id})\n`);
        } catch (err) {
          failed++;
          const msg = (err as Error).message;
          if (opts.json) process.stdout.write(`${JSON.stringify({ job: job.id, kernel: jobs[i].kernel || null, source: jobs[i].source, status: 'failed', message: msg })}\n`);
          else process.stderr.write(`failed ${jobs[i].kernel || jobs[i].source} (job ${job.id}): ${msg}\n`);
        }
        bar?.update(++done);
      }),
    );
  } finally {
    bar?.stop();
    await events.close();
    await queue.close();
  }
  if (!opts.json) process.stderr.write(`${jobs.length} kernel(s) through the queue, ${failed} failed\n`);
  if (failed > 0) throw new QuietExit(1);
}
