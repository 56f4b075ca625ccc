import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BlobStore, checkUploadTarget, formatKref, isPackageFile, parseKref, parseModuleFilter, type IngestJobData } from '@btf-atlas/catalog';

interface IngestQuery {
  kernel?: string;
  replace?: boolean;
  modules?: string;
  distro?: string;
  release?: string;
}
import { isCoreJobId, type JobView } from '@btf-atlas/queue';
import { ApiError } from '../errors.js';
import { problems } from '../schemas.js';

/** An upload written to the blob store: its content address and size. */
interface StoredUpload {
  sha256: string;
  size: number;
}

export interface IngestRouteOptions {
  dbPath: string;
  /** Largest upload accepted, in bytes. */
  maxUploadBytes: number;
  /** Folder under which `{ "path": … }` bodies may name archive trees; unset: path ingest is off. */
  ingestRoot?: string;
}

const jobViewSchema = {
  type: 'object',
  required: ['id', 'name', 'state', 'progress', 'attempts_made', 'created_at'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string', enum: ['ingest', 'scan', 'sync', 'core-check'] },
    state: { type: 'string', description: 'waiting, delayed, active, completed, failed (BullMQ states)' },
    progress: { type: 'number', minimum: 0, maximum: 100 },
    kernel: { type: 'string', description: 'KREF of an ingest job (the package file until its metadata is read)' },
    path: { type: 'string', description: 'archive tree of a scan job' },
    object: {
      type: 'object',
      description: 'the BPF object of a core-check job',
      properties: { name: { type: 'string' }, sha256: { type: 'string' }, size: { type: 'integer' } },
    },
    attempts_made: { type: 'integer' },
    created_at: { type: 'string', format: 'date-time' },
    finished_at: { type: 'string', format: 'date-time' },
    result: { description: 'the ingest result (kernel, status new/skipped/replaced, types, modules, new shapes), the scan result, or the dry run of a core-check job (as POST /v1/core/check answers)', additionalProperties: true },
    failed_reason: { type: 'string', description: 'CODE: reason, for bad input' },
    url: { type: 'string', description: 'where to ask for this job again' },
  },
} as const;

/**
 * Streams the request body into the blob store (temp file, sha256 on the way, rename), never holding it in
 * memory; refuses bodies over the limit as they arrive (413).
 */
async function storeUpload(payload: NodeJS.ReadableStream, blobs: BlobStore, limit: number): Promise<StoredUpload> {
  const incoming = join(blobs.dir, 'incoming');
  mkdirSync(incoming, { recursive: true });
  const tmp = join(incoming, `${Date.now()}-${randomBytes(8).toString('hex')}.part`);
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > limit) {
        cb(new ApiError('UPLOAD_TOO_LARGE', `the upload is larger than ${limit} bytes (BTF_ATLAS_MAX_UPLOAD_BYTES)`));
        return;
      }
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  try {
    try {
      await pipeline(payload, meter, createWriteStream(tmp, { mode: 0o444 }));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // The client went away mid-upload: its request, not this server, failed.
      if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'ECONNABORTED') {
        throw new ApiError('BAD_BODY', 'the upload was cut short before its end');
      }
      throw err;
    }
    if (size === 0) throw new ApiError('BAD_BODY', 'the upload is empty: send the kernel\'s .btf.tar.xz, .btf, vmlinux or .ko as the body');
    const sha256 = hash.digest('hex');
    const dest = blobs.pathOf(sha256);
    mkdirSync(join(blobs.dir, sha256.slice(0, 2)), { recursive: true });
    renameSync(tmp, dest);
    return { sha256, size };
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Resolves a body's `path` inside the ingest root (given as its real path), refusing anything that leaves it
 * (`..`, absolute, symlinks out).
 */
function pathInRoot(realRoot: string, given: string): string {
  if (given.includes('\0')) throw new ApiError('BAD_BODY', 'body field "path" has a nul byte');
  if (isAbsolute(given)) throw new ApiError('INGEST_PATH_REFUSED', `body field "path" must be relative to the ingest root, not ${JSON.stringify(given)}`);
  let real: string;
  try {
    real = realpathSync(resolve(realRoot, given));
  } catch {
    throw new ApiError('INGEST_PATH_NOT_FOUND', `no file or folder ${JSON.stringify(given)} under the ingest root`);
  }
  const rel = relative(realRoot, real);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new ApiError('INGEST_PATH_REFUSED', `body field "path" leaves the ingest root: ${JSON.stringify(given)}`);
  }
  return real;
}

/**
 * Write routes: `POST /v1/ingest` (an upload of one kernel's BTF, or a path below the ingest root to scan) and
 * `GET /v1/jobs/{id}`. Both need the admin token, checked before the body is read.
 */
export default async function ingestRoutes(app: FastifyInstance, opts: IngestRouteOptions): Promise<void> {
  const blobs = BlobStore.forCatalog(opts.dbPath);
  // The ingest root as a real path, once (loadConfig checked that it is a folder).
  const root = opts.ingestRoot !== undefined ? realpathSync(opts.ingestRoot) : undefined;
  /** A job as answered: a scan's path relative to the ingest root (the server's own folders are not shown). */
  function shown<T extends JobView | undefined>(view: T): T {
    if (view?.path !== undefined && root !== undefined) {
      const rel = relative(root, view.path);
      view.path = rel === '' ? '.' : rel;
    }
    return view;
  }

  // With REDIS_URL: while Redis is known to be unreachable, a write is refused before its body is read (503 with
  // Retry-After; the connection is closed), not after a whole upload.
  const queueReachable = async (): Promise<void> => {
    const probe = app.redisProbe;
    if (probe && !probe.connected) {
      throw new ApiError('REDIS_UNAVAILABLE', `${probe.unavailable().message}: jobs cannot be enqueued or read now; try again later`, [], 5);
    }
  };

  // The KREF of an upload is checked before its body is read (a bad one is 400 without storing anything).
  const krefFirst = async (request: FastifyRequest): Promise<void> => {
    const kernel = (request.query as { kernel?: unknown }).kernel;
    if (typeof kernel === 'string') checkUploadTarget(app.catalog, kernel);
  };

  // Every body that is not JSON is the upload, whatever it is labelled (curl --data-binary says
  // application/x-www-form-urlencoded; the bytes are recognized by their magic, not by this header). It is parsed
  // by streaming it into the blob store; the handler gets where it went.
  app.removeContentTypeParser(['text/plain']);
  app.addContentTypeParser('*', (request: FastifyRequest, payload, done) => {
    storeUpload(payload, blobs, opts.maxUploadBytes).then((u) => done(null, u), (err: Error) => done(err, undefined));
  });

  app.post<{ Querystring: IngestQuery; Body: StoredUpload | { path: string; replace?: boolean } }>('/v1/ingest', {
    onRequest: [app.requireAdmin, queueReachable, krefFirst],
    bodyLimit: opts.maxUploadBytes,
    schema: {
      summary: "enqueue an ingest: the body is one kernel's BTF (.btf.tar.xz, raw .btf, vmlinux/.ko ELF, gzip/xz of them; any content type but JSON, e.g. application/octet-stream) with ?kernel=KREF, or a distro package (.deb, .rpm) or kernel image, named by its own metadata; or JSON { \"path\" } of an archive tree below BTF_ATLAS_INGEST_ROOT",
      tags: ['write'],
      security: [{ adminToken: [] }],
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          kernel: { type: 'string', minLength: 1, maxLength: 512, description: 'KREF of an uploaded file (DISTRO/RELEASE/ARCH/UNAME_R); optional for a .deb/.rpm, whose metadata names it', examples: ['debian/12/x86_64/6.1.0-50-amd64'] },
          replace: { type: 'boolean', description: 'replace the kernel when the catalog holds it with other bytes' },
          modules: { type: 'string', maxLength: 4096, pattern: '^[A-Za-z0-9_,-]+$', description: 'packages: module BTF to ingest: all (default), none, or NAME[,NAME…]' },
          distro: { type: 'string', maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description: 'packages: the distro folder when the package does not say it' },
          release: { type: 'string', maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._+~-]*$', description: "packages: the release folder when the package's version does not say it" },
        },
      },
      response: {
        202: { description: 'the job, queued', ...jobViewSchema },
        ...problems(400, 401, 403, 408, 413, 415, 503),
      },
    },
  }, async (request, reply) => {
    const body = request.body as unknown;
    const replace = request.query.replace === true;
    let view;
    if (body !== null && typeof body === 'object' && 'sha256' in body) {
      const upload = body as StoredUpload;
      const path = blobs.pathOf(upload.sha256);
      const source = `upload:${upload.sha256}`;
      const q = request.query;
      const kernel = q.kernel === undefined ? '' : formatKref(parseKref(q.kernel));
      let data: IngestJobData;
      if (isPackageFile(path)) {
        // A .deb, .rpm or kernel image: its own metadata names the kernel when the job reads it.
        const modules = parseModuleFilter(q.modules);
        data = { kernel, path, source, modules: [], replace, packages: [{ path, source }], packageOptions: { modules, distro: q.distro, release: q.release } };
      } else {
        if (!kernel) throw new ApiError('BAD_PARAMETER', 'query parameter "kernel" is required with an upload of BTF: the KREF DISTRO/RELEASE/ARCH/UNAME_R of the uploaded BTF (a .deb or .rpm names its kernel itself)');
        data = { kernel, path, source, modules: [], replace };
      }
      view = await app.jobs.enqueue('ingest', data);
    } else if (body !== null && typeof body === 'object' && typeof (body as { path?: unknown }).path === 'string') {
      if (request.query.kernel !== undefined) throw new ApiError('BAD_PARAMETER', 'query parameter "kernel" goes with an upload, not with a JSON path');
      if (root === undefined) throw new ApiError('INGEST_PATH_REFUSED', 'path ingest is off: the server has no BTF_ATLAS_INGEST_ROOT; upload the file instead');
      const b = body as { path: string; replace?: unknown };
      const path = pathInRoot(root, b.path);
      view = shown(await app.jobs.enqueue('scan', { path, replace: replace || b.replace === true }));
    } else {
      throw new ApiError('BAD_BODY', 'send the BTF file as the body (Content-Type application/octet-stream) with ?kernel=KREF, or JSON { "path": "DISTRO/RELEASE/…" }');
    }
    const url = `/v1/jobs/${encodeURIComponent(view.id)}`;
    return reply.code(202).header('location', url).send({ ...view, url });
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id', {
    // A core-check job's id holds its object's sha256 (see routes/core.ts): whoever has the object may ask for
    // its dry run, as they may post it; every other job needs the admin token.
    onRequest: [
      async (request, reply) => {
        if (!isCoreJobId(request.params.id)) await app.requireAdmin(request, reply);
      },
      queueReachable,
    ],
    schema: {
      summary: "a job's state, progress, result, and failure reason if any (the admin token, except for a core-check job: its id is its key)",
      tags: ['write'],
      security: [{ adminToken: [] }],
      params: {
        type: 'object',
        required: ['id'],
        additionalProperties: false,
        properties: { id: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9:_-]+$' } },
      },
      response: { 200: jobViewSchema, ...problems(400, 401, 403, 404, 503) },
    },
  }, async (request) => {
    const view = shown(await app.jobs.get(request.params.id));
    if (!view) throw new ApiError('JOB_NOT_FOUND', `no job ${request.params.id} (finished jobs are kept 7 days, failed ones 30)`);
    return view;
  });
}
