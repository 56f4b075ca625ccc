import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  archiveFileOf, archiveFileReady, archiveFilesReady, archiveKernels, archiveManifest, BlobStore, CatalogError, closestNames, compareUnameR, failedKernel, failureClause, formatKref,
  listArchiveKernels,
  rawBtfFileOf, type ArchiveKernel, type KernelRef,
} from '@btf-atlas/catalog';
import { ApiError } from '../errors.js';
import { problems, SEGMENT, segment } from '../schemas.js';
import { noneMatch, sendFile } from '../send-file.js';

/**
 * The btfhub-archive mirror: every kernel of the catalog at `/archive/DISTRO/RELEASE/ARCH/UNAME_R.btf.tar.xz`
 * (the archive as ingested, or a reproducible tarball) and `UNAME_R.btf` (raw BTF), so tools that download from
 * BTFHub (tracee, inspektor-gadget, the datadog-agent) only need a new base URL. Folders list their entries
 * (JSON, or an nginx-style HTML index for browsers) and `manifest.json` has every file's sha256 in the
 * datadog-agent catalog's shape.
 *
 * Request paths never reach the filesystem: each segment must be a KREF segment (`[A-Za-z0-9][A-Za-z0-9._+~-]*`,
 * so no `..`, slash, backslash or NUL, encoded or not), names are looked up in the catalog, and bytes come from
 * the content-addressed blob store by sha256. These answers bypass the answer cache (no `cacheAnswers`).
 */

const distro = segment('distro, as btfhub-archive names it', 'debian');
const release = segment('distro release', '12');
const arch = segment('architecture, as btfhub-archive spells it', 'x86_64');
const fileName = {
  type: 'string',
  minLength: 1,
  maxLength: 160,
  pattern: SEGMENT,
  description: '`UNAME_R.btf.tar.xz` (the btfhub-archive tarball) or `UNAME_R.btf` (raw BTF)',
  examples: ['6.1.0-50-amd64.btf.tar.xz'],
} as const;

function paramsSchema(props: Record<string, unknown>) {
  return { type: 'object', required: Object.keys(props), additionalProperties: false, properties: props };
}

const listingQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    format: { type: 'string', enum: ['json', 'html'], description: 'the listing as JSON or HTML, whatever Accept says (default: by Accept, JSON unless text/html is preferred)' },
  },
} as const;

const dirEntry = {
  type: 'object',
  required: ['name', 'type', 'url'],
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    type: { type: 'string', enum: ['dir'] },
    url: { type: 'string', description: 'the folder listing' },
  },
} as const;

const fileEntry = {
  type: 'object',
  required: ['name', 'type', 'size', 'sha256', 'url', 'kernel', 'btf_size', 'btf_sha256', 'btf_url'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', description: '`UNAME_R.btf.tar.xz`' },
    type: { type: 'string', enum: ['file'] },
    size: { type: 'integer', description: 'bytes of the .btf.tar.xz' },
    sha256: { type: 'string', description: 'sha256 of the .btf.tar.xz (its ETag)' },
    url: { type: 'string' },
    kernel: { type: 'string', description: 'KREF: DISTRO/RELEASE/ARCH/UNAME_R' },
    btf_size: { type: 'integer', description: 'bytes of the raw BTF (`UNAME_R.btf`)' },
    btf_sha256: { type: 'string' },
    btf_url: { type: 'string', description: 'the raw BTF, served beside the tarball (not listed as an entry of its own, as in btfhub-archive)' },
  },
} as const;

const listingSchema = {
  type: 'object',
  required: ['path', 'entries'],
  additionalProperties: false,
  properties: {
    path: { type: 'string', description: "the folder, relative to /archive/ ('' for the root, else ending in /)", examples: ['debian/12/'] },
    entries: { type: 'array', items: { anyOf: [dirEntry, fileEntry] }, description: 'folders by name (releases by version), files in kernel order' },
  },
} as const;

const listingResponses = {
  200: {
    description: 'the folder listing: JSON by default, an HTML index when Accept prefers text/html',
    content: {
      'application/json': { schema: listingSchema },
      'text/html': { schema: { type: 'string', description: 'an nginx-style autoindex page' } },
    },
  },
  ...problems(400, 404),
};

const redirectResponses = {
  301: { description: 'the folder: the same path with a trailing slash (Location)', type: 'null' },
  ...problems(400, 404),
};

const binary = (type: string, description: string) => ({ description, content: { [type]: { schema: { type: 'string', format: 'binary' } } } });

const manifestSchema = {
  type: 'object',
  description: 'arch → distro → release → uname_r → sha256 of UNAME_R.btf.tar.xz (the datadog-agent BTF catalog shape)',
  additionalProperties: {
    type: 'object',
    additionalProperties: { type: 'object', additionalProperties: { type: 'object', additionalProperties: { type: 'string' } } },
  },
  examples: [{ x86_64: { debian: { '12': { '6.1.0-50-amd64': 'c0ffee…' } } } }],
} as const;

interface Listing {
  path: string;
  entries: ListingEntry[];
}

type ListingEntry =
  | { name: string; type: 'dir'; url: string }
  | { name: string; type: 'file'; size: number; sha256: string; url: string; kernel: string; btf_size: number; btf_sha256: string; btf_url: string };

/** A path segment in a URL: KREF segments need no escaping but `+`, which stays literal in paths (as btfhub's). */
function urlSegment(s: string): string {
  return encodeURIComponent(s).replace(/%2B/g, '+');
}

function folderUrl(parts: string[]): string {
  return `/archive/${parts.map((p) => `${urlSegment(p)}/`).join('')}`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const LEVELS = ['distro', 'release', 'arch'] as const;

/** The distinct names one level below `parts`; releases in version order, others by name. */
function childFolders(rows: ArchiveKernel[], parts: string[]): string[] {
  const level = LEVELS[parts.length];
  const inside = rows.filter((r) => parts.every((p, i) => r[LEVELS[i]] === p));
  const names = [...new Set(inside.map((r) => r[level]))];
  return names.sort(level === 'release' ? (a, b) => compareUnameR(a, b) || cmp(a, b) : cmp);
}

/** ARCHIVE_PATH_NOT_FOUND for a folder, with the closest folders of the same depth. */
function noSuchFolder(rows: ArchiveKernel[], parts: string[]): ApiError {
  const wanted = parts.join('/');
  const known = new Set(rows.map((r) => LEVELS.slice(0, parts.length).map((l) => r[l]).join('/')));
  const close = closestNames(wanted, known).map((p) => folderUrl(p.split('/')));
  return new ApiError('ARCHIVE_PATH_NOT_FOUND', `there is no folder /archive/${wanted}/`, close);
}

/** Whether the client prefers HTML to JSON (a browser's Accept); `?format=` decides first. */
export function prefersHtml(accept: string | undefined, format: string | undefined): boolean {
  if (format !== undefined) return format === 'html';
  if (!accept) return false;
  const ranges = accept.split(',').map((part) => {
    const [range, ...params] = part.trim().toLowerCase().split(';').map((x) => x.trim());
    const q = params.find((p) => p.startsWith('q='));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    return { range, q: Number.isFinite(quality) ? quality : 0 };
  });
  // A type's quality is that of the most specific range matching it (RFC 9110 §12.5.1); none: 0.
  const quality = (type: string): number => {
    let best = 0;
    let q = 0;
    for (const r of ranges) {
      const specificity = r.range === type ? 3 : r.range === `${type.split('/')[0]}/*` ? 2 : r.range === '*/*' ? 1 : 0;
      if (specificity > best) {
        best = specificity;
        q = r.q;
      }
    }
    return q;
  };
  return quality('text/html') > quality('application/json');
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** An nginx-autoindex-like page: one line per entry, relative links, every name escaped. */
export function listingHtml(listing: Listing): string {
  const title = escapeHtml(`Index of /archive/${listing.path}`);
  const lines: string[] = [];
  if (listing.path !== '') lines.push('<a href="../">../</a>');
  for (const e of listing.entries) {
    if (e.type === 'dir') {
      lines.push(`<a href="${escapeHtml(urlSegment(e.name))}/">${escapeHtml(e.name)}/</a>`);
    } else {
      const btfName = e.btf_url.slice(e.btf_url.lastIndexOf('/') + 1);
      lines.push(
        `<a href="${escapeHtml(urlSegment(e.name))}">${escapeHtml(e.name)}</a>${' '.repeat(Math.max(1, 52 - e.name.length))}` +
          `${String(e.size).padStart(12)}  sha256:${e.sha256}  <a href="${escapeHtml(btfName)}">raw .btf</a> ${e.btf_size}`,
      );
    }
  }
  return `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>${title}</title></head>
<body>
<h1>${title}</h1><hr><pre>
${lines.join('\n')}
</pre><hr>
</body>
</html>
`;
}

function sendListing(request: FastifyRequest<{ Querystring: { format?: 'json' | 'html' } }>, reply: FastifyReply, listing: Listing): FastifyReply | Listing {
  reply.header('cache-control', 'no-cache').header('vary', 'Accept');
  if (prefersHtml(request.headers.accept, request.query.format)) return reply.type('text/html; charset=utf-8').send(listingHtml(listing));
  return listing;
}

function redirectToFolder(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const [path, query] = request.url.split(/\?(.*)/s, 2);
  return reply.code(301).header('location', `${path}/${query ? `?${query}` : ''}`).send();
}

/** `UNAME_R.btf.tar.xz` or `UNAME_R.btf`: which file and of what kernel; undefined for any other name. */
function parseFileName(name: string): { unameR: string; kind: 'tar.xz' | 'btf' } | undefined {
  const m = /^(.+?)\.btf(\.tar\.xz)?$/.exec(name);
  if (!m || !new RegExp(SEGMENT).test(m[1])) return undefined;
  return { unameR: m[1], kind: m[2] ? 'tar.xz' : 'btf' };
}

const SUFFIX = { 'tar.xz': '.btf.tar.xz', btf: '.btf' } as const;
const CONTENT_TYPE = { 'tar.xz': 'application/x-xz', btf: 'application/octet-stream' } as const;

/** `/archive/…` routes (registered by app.ts). */
export default async function archiveRoutes(app: FastifyInstance): Promise<void> {
  const blobs = BlobStore.forCatalog(app.catalog.path);
  const tags = ['archive'];
  /** The tarballs of a selection, built on a worker thread where an older catalog or a pruned blob store lacks some. */
  const filesBuilt = async (filter: { distro?: string; release?: string; arch?: string }): Promise<void> => {
    if (!archiveFilesReady(app.catalog, blobs, filter)) await app.work.run('archive-build', { filter });
  };

  app.get('/archive', {
    schema: { summary: 'the mirror root: redirects to /archive/', tags, response: { 301: redirectResponses[301] } },
  }, async (request, reply) => redirectToFolder(request, reply));

  app.get<{ Querystring: { format?: 'json' | 'html' } }>('/archive/', {
    schema: { summary: 'the mirror root: its distros', tags, querystring: listingQuery, response: listingResponses },
  }, async (request, reply) => {
    const rows = listArchiveKernels(app.catalog);
    const entries = childFolders(rows, []).map((name): ListingEntry => ({ name, type: 'dir', url: folderUrl([name]) }));
    return sendListing(request, reply, { path: '', entries });
  });

  app.get('/archive/manifest.json', {
    schema: {
      summary: "every kernel's .btf.tar.xz sha256: arch → distro → release → uname_r → sha256 (the datadog-agent BTF catalog shape)",
      tags,
      response: { 200: manifestSchema, 304: { description: 'not modified (If-None-Match)', type: 'null' } },
    },
  }, async (request, reply) => {
    await filesBuilt({});
    const body = JSON.stringify(await archiveManifest(app.catalog, blobs));
    const etag = `"${createHash('sha256').update(body).digest('hex')}"`;
    reply.header('etag', etag).header('cache-control', 'no-cache');
    if (noneMatch(request.headers['if-none-match'], etag)) return reply.code(304).send();
    return reply.type('application/json; charset=utf-8').send(body);
  });

  const folderRoutes: { url: string; params: Record<string, unknown>; summary: string }[] = [
    { url: '/archive/:distro', params: { distro }, summary: "a distro's releases" },
    { url: '/archive/:distro/:release', params: { distro, release }, summary: "a release's architectures" },
    { url: '/archive/:distro/:release/:arch', params: { distro, release, arch }, summary: "an architecture's kernels: UNAME_R.btf.tar.xz files in kernel order" },
  ];
  for (const route of folderRoutes) {
    const depth = Object.keys(route.params).length;
    const partsOf = (params: Record<string, string>): string[] => LEVELS.slice(0, depth).map((l) => params[l]);

    app.get<{ Params: Record<string, string> }>(route.url, {
      schema: { summary: `${route.summary}: redirects to the folder (trailing slash)`, tags, params: paramsSchema(route.params), response: redirectResponses },
    }, async (request, reply) => {
      const parts = partsOf(request.params);
      const rows = listArchiveKernels(app.catalog);
      if (!rows.some((r) => parts.every((p, i) => r[LEVELS[i]] === p))) throw noSuchFolder(rows, parts);
      return redirectToFolder(request, reply);
    });

    app.get<{ Params: Record<string, string>; Querystring: { format?: 'json' | 'html' } }>(`${route.url}/`, {
      schema: { summary: route.summary, tags, params: paramsSchema(route.params), querystring: listingQuery, response: listingResponses },
    }, async (request, reply) => {
      const parts = partsOf(request.params);
      const path = parts.map((p) => `${p}/`).join('');
      const all = listArchiveKernels(app.catalog);
      if (!all.some((r) => parts.every((p, i) => r[LEVELS[i]] === p))) throw noSuchFolder(all, parts);
      if (depth < LEVELS.length) {
        const entries = childFolders(all, parts).map((name): ListingEntry => ({ name, type: 'dir', url: folderUrl([...parts, name]) }));
        return sendListing(request, reply, { path, entries });
      }
      const [d, r, a] = parts;
      await filesBuilt({ distro: d, release: r, arch: a });
      const kernels = await archiveKernels(app.catalog, blobs, { distro: d, release: r, arch: a });
      const entries = kernels.map((k): ListingEntry => ({
        name: `${k.unameR}.btf.tar.xz`,
        type: 'file',
        size: k.archiveSize,
        sha256: k.archiveSha256,
        url: `${folderUrl(parts)}${urlSegment(k.unameR)}.btf.tar.xz`,
        kernel: k.kernel,
        btf_size: k.btfSize,
        btf_sha256: k.btfSha256,
        btf_url: `${folderUrl(parts)}${urlSegment(k.unameR)}.btf`,
      }));
      return sendListing(request, reply, { path, entries });
    });
  }

  app.route<{ Params: { distro: string; release: string; arch: string; file: string } }>({
    method: ['GET', 'HEAD'],
    url: '/archive/:distro/:release/:arch/:file',
    schema: {
      summary: "a kernel's BTF as btfhub-archive serves it: UNAME_R.btf.tar.xz (the tarball) or UNAME_R.btf (raw BTF); ETag, HEAD, Range",
      tags,
      params: paramsSchema({ distro, release, arch, file: fileName }),
      headers: {
        type: 'object',
        properties: {
          range: { type: 'string', description: 'one byte range: bytes=FIRST-LAST, bytes=FIRST-, bytes=-SUFFIX (several ranges: the whole file)' },
          'if-none-match': { type: 'string', description: 'the ETag ("SHA256") held: 304 when it is current' },
          'if-range': { type: 'string', description: 'the ETag the Range is meant for: the whole file when it is not current' },
        },
      },
      response: {
        200: {
          description: 'the file (streamed); ETag is its sha256',
          content: {
            'application/x-xz': { schema: { type: 'string', format: 'binary', description: 'UNAME_R.btf.tar.xz' } },
            'application/octet-stream': { schema: { type: 'string', format: 'binary', description: 'UNAME_R.btf' } },
          },
        },
        206: binary('application/octet-stream', 'the byte range asked for (Content-Range), in the content type of the file'),
        304: { description: 'not modified (If-None-Match)', type: 'null' },
        ...problems(400, 404, 416),
      },
    },
    handler: async (request, reply) => {
      const { distro: d, release: r, arch: a, file } = request.params;
      const parsed = parseFileName(file);
      if (!parsed) {
        const rows = listArchiveKernels(app.catalog, { distro: d, release: r, arch: a });
        const close = closestNames(file, rows.map((k) => `${k.unameR}.btf.tar.xz`)).map((n) => `${folderUrl([d, r, a])}${urlSegment(n)}`);
        throw new ApiError('ARCHIVE_PATH_NOT_FOUND', `there is no file ${file} in /archive/${d}/${r}/${a}/ (kernels are UNAME_R.btf.tar.xz and UNAME_R.btf)`, close);
      }
      const kref: KernelRef = { distro: d, release: r, arch: a, unameR: parsed.unameR };
      let served;
      try {
        // Files an older catalog or a pruned blob store lacks are built on a worker thread first.
        if (!archiveFileReady(app.catalog, blobs, kref, parsed.kind)) await app.work.run('archive-build', { kref: formatKref(kref), kind: parsed.kind });
        served = parsed.kind === 'tar.xz' ? await archiveFileOf(app.catalog, blobs, kref) : await rawBtfFileOf(app.catalog, blobs, kref);
      } catch (err) {
        if (err instanceof CatalogError && err.code === 'KERNEL_NOT_FOUND') {
          // Suggest files, not KREFs: what a mirror user can fetch instead.
          const close = err.suggestions.map((k) => `/archive/${k.split('/').map(urlSegment).join('/')}${SUFFIX[parsed.kind]}`);
          const failed = failureClause(failedKernel(app.catalog, formatKref(kref)));
          throw new ApiError('KERNEL_NOT_FOUND', `kernel ${d}/${r}/${a}/${parsed.unameR} is not in the catalog, so /archive/ has no ${file}${failed}`, close);
        }
        throw err;
      }
      return sendFile(request, reply, served, CONTENT_TYPE[parsed.kind]);
    },
  });
}
