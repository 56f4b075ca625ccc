import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  coreCheck, MAX_OBJECT_BYTES, coreCheckOffThread, readObjectInput, coreMinBtf, coreMinBtfOffThread, countTargets, minBtfTarXz, selectionKey,
  type BpfObjectInput, type KernelSelection,
} from '@btf-atlas/dryrun';
import { BlobStore, catalogVersion } from '@btf-atlas/catalog';
import { coreCheckJobData, coreJobId } from '@btf-atlas/queue';
import { ApiError, problemOf, problemType } from '../errors.js';
import { problems, segment } from '../schemas.js';

export interface CoreRoutesOptions {
  /** The catalog file (worker threads open it themselves). */
  dbPath: string;
  /** Largest object accepted (default 16 MiB): larger bodies are 413 UPLOAD_TOO_LARGE. */
  maxObjectBytes?: number;
  /** Selections that load more than this many distinct BTFs run in a worker thread (default 2). */
  offThreadMinTargets?: number;
  /** Bytes of answers kept by object sha256 and selection until the catalog changes (default 32 MiB). */
  cacheBytes?: number;
  /**
   * With a queue (REDIS_URL), a dry run over more than this many kernels is a `core-check` job (202; its progress
   * and answer at `GET /v1/jobs/{id}`) instead of an answer held open (default 50). Without a queue, every
   * selection is answered in process.
   */
  jobMinKernels?: number;
}

interface CoreQuery {
  kernel?: string;
  distro?: string;
  release?: string;
  arch?: string;
  modules?: boolean;
  skip_failed?: boolean;
}

const selectionProperties = {
  kernel: { type: 'string', minLength: 1, maxLength: 512, description: 'one kernel: KREF DISTRO/RELEASE/ARCH/UNAME_R (not with distro, release, arch)', examples: ['debian/12/x86_64/6.1.0-50-amd64'] },
  distro: segment('only kernels of this distro', 'debian'),
  release: segment('only kernels of this release', '12'),
  arch: segment('only kernels of this architecture, as btfhub-archive spells it', 'x86_64'),
  modules: { type: 'boolean', description: "also search the kernels' ingested module btf after vmlinux, as libbpf does (default true)" },
} as const;

const checkQuery = { type: 'object', additionalProperties: false, properties: selectionProperties } as const;
const minBtfQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { ...selectionProperties, skip_failed: { type: 'boolean', description: 'leave out kernels the object cannot be relocated on (listed in the x-skipped header) instead of answering 422' } },
} as const;

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const u64 = { type: ['integer', 'string', 'null'], description: 'a number when it fits in 2^53, else its decimal string' } as const;
const spec = {
  type: ['object', 'null'],
  additionalProperties: true,
  properties: { type: str, access: str, spec: str, btf: str, type_id: int, field_path: str, offset: int, bit: int, enumerator: str, enum_value: u64 },
} as const;
const verdict = { type: 'string', enum: ['ok', 'guarded', 'breaks', 'fails'] } as const;
const reason = { type: 'object', additionalProperties: true, properties: { kind: str, verdict, level: str, section: str, function: str, insn: int, relocation: int, extern: str, message: str } } as const;

/** `POST /v1/core/check` (as `core-check --json` for one object); documentation: the body is sent as built. */
const coreCheckSchema = {
  type: 'object',
  required: ['object', 'kernels', 'changes', 'timelines', 'not_checked'],
  properties: {
    object: {
      type: 'object',
      additionalProperties: true,
      properties: {
        sha256: str, name: str, size: int, relocations: int,
        programs: { type: 'array', items: { type: 'object', additionalProperties: true, properties: { name: str, section: str, attach: { type: 'object', additionalProperties: true, properties: { kind: str, target: str } }, loaded: { type: 'boolean' } } } },
      },
    },
    kernels: {
      type: 'array',
      description: 'one entry per selected kernel, in kernel order',
      items: {
        type: 'object',
        additionalProperties: true,
        properties: {
          kernel: str, verdict, reason: str,
          programs: { type: 'array', items: { type: 'object', additionalProperties: true, properties: { name: str, verdict, attach_target: { type: 'string', enum: ['present', 'missing', 'mismatch', 'not_checked', 'none'] }, section: str, loaded: { type: 'boolean' }, reasons: { type: 'array', items: reason } } } },
          relocations: {
            type: 'array',
            description: "every CO-RE relocation libbpf 1.7 looked at, with its decision",
            items: {
              type: 'object',
              additionalProperties: true,
              properties: {
                prog: str, section: str, idx: int, insn: int, kind: { type: 'string', description: 'FIELD_BYTE_OFFSET, TYPE_EXISTS, …' }, local: spec,
                status: { type: 'string', enum: ['resolved', 'defaulted', 'poisoned', 'local', 'error'] }, ambiguous: { type: 'boolean' }, target: spec,
                orig_value: u64, new_value: u64, reachable: { type: 'boolean' },
                field: { type: 'object', description: "a field relocation without a target: the field's history", properties: { path: str, command: str, url: str } },
              },
            },
          },
          series: str, btf_sha256: str, modules: { type: 'array', items: str }, reasons: { type: 'array', items: reason },
          resolved_on: { type: 'string', description: "the kernel whose btf this entry was resolved on: itself, or the first kernel with the catalog's same shapes of everything the object touches (type ids in the entry are that kernel's, but TYPE_ID_TARGET values and target ids, which are the entry's own kernel's)" },
        },
      },
    },
    changes: { type: 'array', description: "a program's verdict changing between neighbours of a series", items: { type: 'object', additionalProperties: true, properties: { from: str, to: str, series: str, program: str, text: str } } },
    timelines: { type: 'array', items: { type: 'object', additionalProperties: true, properties: { program: str, summary: str } } },
    not_checked: { type: 'array', items: str, description: 'what the verdicts do not check' },
  },
} as const;

/** A coded error of libs/core or libs/dryrun: its answer's status and title. */
const CODED: Record<string, { status: number; title: string }> = {
  CoreError: { status: 400, title: 'Bad BPF object' },
  DRYRUN_BAD_SELECTION: { status: 400, title: 'Bad parameter' },
  DRYRUN_NO_OBJECTS: { status: 400, title: 'Bad request body' },
  DRYRUN_NO_KERNELS: { status: 404, title: 'No matching kernels' },
  DRYRUN_MIN_BTF: { status: 422, title: 'No minimized BTF' },
};

/** The problem document of a CoreError or DryRunError (the reader's own code and message); undefined for others. */
function codedProblem(request: FastifyRequest, err: unknown): ReturnType<typeof problemOf> | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as Error & { code?: unknown }).code;
  if (typeof code !== 'string') return undefined;
  const how = err.name === 'CoreError' ? CODED.CoreError : err.name === 'DryRunError' ? CODED[code] : undefined;
  if (!how) return undefined;
  const base = problemOf('BAD_BODY', err.message, { instance: request.url.split('?')[0], requestId: String(request.id) });
  return { ...base, type: problemType(code), title: how.title, status: how.status, code };
}

interface CachedAnswer {
  version: string;
  body: Buffer;
  etag: string;
  headers: Record<string, string>;
}

/** Reads the body into memory, refusing more than `limit` bytes as they arrive (413). */
function readBody(payload: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    payload.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new ApiError('UPLOAD_TOO_LARGE', `the object is larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    payload.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    payload.on('error', (err) => {
      if (failed) return;
      failed = true;
      reject(new ApiError('BAD_BODY', `the upload was cut short before its end (${(err as Error).message})`));
    });
  });
}

/**
 * The CO-RE dry run's read routes (no admin token, like lookup): `POST /v1/core/check` and `POST /v1/core/min-btf`,
 * each with a `.bpf.o` as the body (any content type but JSON; application/octet-stream) and the kernel selection
 * of `field` in the query. Answers are kept by object sha256 and selection until the catalog changes. A selection
 * that loads more than a few distinct BTFs runs in a worker thread, so the event loop keeps answering meanwhile.
 */
export default async function coreRoutes(app: FastifyInstance, opts: CoreRoutesOptions): Promise<void> {
  const limit = opts.maxObjectBytes ?? MAX_OBJECT_BYTES;
  const offThreadMin = opts.offThreadMinTargets ?? 2;
  const jobMinKernels = opts.jobMinKernels ?? 50;
  const blobs = BlobStore.forCatalog(opts.dbPath);
  const maxCache = opts.cacheBytes ?? 32 * 1024 * 1024;
  const cache = new Map<string, CachedAnswer>();
  let cached = 0;
  const version = (): string => catalogVersion(app.catalog);

  function remember(key: string, entry: CachedAnswer): void {
    const old = cache.get(key);
    if (old) cached -= old.body.length;
    cache.delete(key);
    cache.set(key, entry);
    cached += entry.body.length;
    for (const [k, e] of cache) {
      if (cached <= maxCache) break;
      cache.delete(k);
      cached -= e.body.length;
    }
  }

  // Encapsulated in this plugin: every body that is not JSON is the object.
  const parse = (_request: FastifyRequest, payload: NodeJS.ReadableStream, done: (err: Error | null, body?: Buffer) => void): void => {
    readBody(payload, limit).then((b) => done(null, b), (err: Error) => done(err));
  };
  app.addContentTypeParser('*', parse);
  app.addContentTypeParser('application/octet-stream', parse);

  /** The object of a request, and its cache key; 400 for a body that is not one. */
  function objectOf(request: FastifyRequest<{ Querystring: CoreQuery }>, route: string): { input: BpfObjectInput; selection: KernelSelection; key: string } {
    const body = request.body as unknown;
    if (!Buffer.isBuffer(body)) throw new ApiError('BAD_BODY', 'send the BPF object (.bpf.o) as the body, Content-Type application/octet-stream');
    if (body.length === 0) throw new ApiError('BAD_BODY', 'the body is empty: send the BPF object (.bpf.o)');
    const q = request.query;
    const selection: KernelSelection = { kernel: q.kernel, distro: q.distro, release: q.release, arch: q.arch };
    const sha256 = createHash('sha256').update(body).digest('hex');
    const key = `${route}\0${sha256}\0${selectionKey(selection)}\0${q.modules !== false}\0${q.skip_failed === true}`;
    return { input: { name: `upload:${sha256}`, bytes: body }, selection, key };
  }

  /** Sends a cached answer (304 when the client has it). */
  function send(request: FastifyRequest, reply: FastifyReply, e: CachedAnswer, hit: boolean): FastifyReply {
    reply.header('etag', e.etag).header('x-cache', hit ? 'hit' : 'miss');
    for (const [h, v] of Object.entries(e.headers)) reply.header(h, v);
    const inm = request.headers['if-none-match'];
    if (inm !== undefined && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === e.etag)) return reply.code(304).send();
    return reply.send(e.body);
  }

  /**
   * In queue mode, a selection of more than `jobMinKernels` kernels: the object goes into the blob store, the job
   * (one per object, selection and kernel count: a catalog that gained kernels asks again) is enqueued, and the
   * answer is 202 with its URL.
   */
  async function enqueue(reply: FastifyReply, input: BpfObjectInput, selection: KernelSelection, modules: boolean, counts: { kernels: number; targets: number }): Promise<FastifyReply> {
    const data = coreCheckJobData(blobs, { name: input.name, bytes: input.bytes }, selection, modules);
    const jobId = coreJobId(data.object.sha256, JSON.stringify([selectionKey(selection), modules, counts.kernels, counts.targets]));
    const view = await app.jobs.enqueue('core-check', data, { jobId });
    const url = `/v1/jobs/${encodeURIComponent(view.id)}`;
    return reply.code(202).header('location', url).send({ ...view, url });
  }

  /**
   * Runs `work` on this thread or off it, turning the readers' coded errors into problem documents. With `queue`
   * (the check route) and a queue (REDIS_URL), a selection of more than `jobMinKernels` kernels whose answer is not
   * cached becomes a job instead, once the object has been read (a bad object is refused now, not by a job).
   */
  async function answer(
    request: FastifyRequest<{ Querystring: CoreQuery }>,
    reply: FastifyReply,
    route: string,
    make: (o: { input: BpfObjectInput; selection: KernelSelection; offThread: boolean; modules: boolean }) => Promise<Omit<CachedAnswer, 'version' | 'etag'>>,
    opts: { queue?: boolean } = {},
  ): Promise<FastifyReply> {
    const { input, selection, key } = objectOf(request, route);
    const hit = cache.get(key);
    if (hit && hit.version === version()) {
      cache.delete(key);
      cache.set(key, hit);
      return send(request, reply, hit, true);
    }
    const modules = request.query.modules !== false;
    try {
      const at = version();
      const counts = countTargets(app.catalog, selection, { modules });
      if (opts.queue && counts.kernels > jobMinKernels && app.hasDecorator('jobs') && app.jobs.mode === 'queue') {
        readObjectInput(input);
        return await enqueue(reply, input, selection, modules, counts);
      }
      const made = await make({ input, selection, offThread: counts.targets > offThreadMin, modules });
      const entry: CachedAnswer = { ...made, version: at, etag: `"${createHash('sha256').update(made.body).digest('base64url').slice(0, 27)}"` };
      remember(key, entry);
      return send(request, reply, entry, false);
    } catch (err) {
      const problem = codedProblem(request, err);
      if (!problem) throw err;
      request.log.info({ code: problem.code, detail: problem.detail }, 'request refused');
      return reply.code(problem.status).type('application/problem+json').send(problem);
    }
  }

  app.post<{ Querystring: CoreQuery }>('/v1/core/check', {
    bodyLimit: limit,
    schema: {
      summary: "CO-RE dry run of a BPF object (.bpf.o as the body) on the catalog's kernels: libbpf 1.7's relocation decisions and a verdict per program, as `btf-atlas core-check --json`",
      tags: ['core'],
      querystring: checkQuery,
      response: {
        200: { description: 'the dry run (application/json)', content: { 'application/json': { schema: coreCheckSchema } } },
        202: {
          description: 'with a queue, a selection of many kernels: the core-check job (Location: its URL; GET it for progress, then the dry run as its result)',
          type: 'object',
          additionalProperties: true,
          properties: { id: str, name: str, state: str, progress: { type: 'number' }, url: str },
        },
        304: { description: 'not modified (If-None-Match)', type: 'null' },
        ...problems(400, 404, 413, 503),
      },
    },
  }, async (request, reply) => answer(request, reply, 'check', async ({ input, selection, offThread, modules }) => {
    const [a] = offThread
      ? await coreCheckOffThread(opts.dbPath, [input], selection, { modules })
      : await coreCheck(app.catalog, [input], selection, { modules });
    return { body: Buffer.from(JSON.stringify(a), 'utf8'), headers: { 'content-type': 'application/json; charset=utf-8' } };
  }, { queue: true }));

  app.post<{ Querystring: CoreQuery }>('/v1/core/min-btf', {
    bodyLimit: limit,
    schema: {
      summary: "minimized BTF of a BPF object (.bpf.o as the body) for each selected kernel, as `bpftool gen min_core_btf` makes it: a reproducible .tar.xz laid out as btfhub-archive (DISTRO/RELEASE/ARCH/UNAME_R.btf)",
      tags: ['core'],
      querystring: minBtfQuery,
      response: {
        200: { description: 'the tarball (application/x-xz); x-kernels: how many files, x-skipped: kernels left out', content: { 'application/x-xz': { schema: { type: 'string', format: 'binary' } } } },
        304: { description: 'not modified (If-None-Match)', type: 'null' },
        ...problems(400, 404, 413, 422),
      },
    },
  }, async (request, reply) => answer(request, reply, 'min-btf', async ({ input, selection, offThread, modules }) => {
    const skipFailed = request.query.skip_failed === true;
    const { files, failed } = offThread
      ? await coreMinBtfOffThread(opts.dbPath, [input], selection, { modules, skipFailed })
      : await coreMinBtf(app.catalog, [input], selection, { modules, skipFailed });
    const body = Buffer.from(await minBtfTarXz(files));
    const headers: Record<string, string> = {
      'content-type': 'application/x-xz',
      'content-disposition': `attachment; filename="min-btf-${input.name.slice('upload:'.length, 'upload:'.length + 12)}.tar.xz"`,
      'x-kernels': String(files.length),
    };
    if (failed.length > 0) headers['x-skipped'] = failed.map((f) => f.kernel).join(', ');
    return { body, headers };
  }));
}
