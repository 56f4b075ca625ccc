import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { BlobStore, formatKref, rawBtfFileOf, type KernelRef } from '@btf-atlas/catalog';
import { acceptsGzip } from '../plugins/answer-cache.js';
import { kernelPathParams, problems } from '../schemas.js';
import { sendFile } from '../send-file.js';

/**
 * The header's format version: part of the cached file's name and of its ETag, so a change to what dumpC writes
 * must bump it (old files are then simply not used).
 */
export const VMLINUX_H_VERSION = 1;


interface Header {
  path: string;
  gzPath: string;
  tag: string;
}


/**
 * `GET /v1/kernels/{distro}/{release}/{arch}/{uname_r}/vmlinux.h`: the C header of the kernel's types, as
 * `bpftool btf dump file … format c` writes it. Made once per BTF (a few hundred ms for 100k types) and kept
 * beside the blob store, plain and gzip; served like the archive files (strong ETag, HEAD, Range on the plain
 * one), gzip to clients that accept it.
 */
export default async function vmlinuxHRoutes(app: FastifyInstance, opts: { dbPath: string }): Promise<void> {
  const blobs = BlobStore.forCatalog(opts.dbPath);
  const dir = join(blobs.dir, 'derived', 'vmlinux.h');
  // One generation per BTF at a time, whatever the number of requests waiting for it.
  const making = new Map<string, Promise<Header>>();

  async function headerOf(kref: KernelRef): Promise<Header> {
    const raw = await rawBtfFileOf(app.catalog, blobs, kref);
    const tag = `${raw.sha256}-vmlinux-h${VMLINUX_H_VERSION}`;
    const path = join(dir, `${tag}.h`);
    const header = { path, gzPath: `${path}.gz`, tag };
    if (existsSync(header.gzPath)) return header;
    let p = making.get(tag);
    if (!p) {
      // Made on a worker thread (parse + dumpC of 100k types is a few hundred ms of CPU), which writes the header
      // and then its gzip (the gzip's presence means both are there).
      p = app.work.run('vmlinux-h', { sha256: raw.sha256, path, gzPath: header.gzPath }).then(() => header).finally(() => making.delete(tag));
      making.set(tag, p);
    }
    return p;
  }

  app.route<{ Params: KernelRef & { uname_r: string } }>({
    method: ['GET', 'HEAD'],
    url: '/v1/kernels/:distro/:release/:arch/:uname_r/vmlinux.h',
    exposeHeadRoute: false,
    schema: {
      summary: "the C header of the kernel's types (vmlinux.h), like `bpftool btf dump file … format c`",
      tags: ['catalog'],
      params: kernelPathParams,
      response: {
        200: { description: 'the header (text/x-c); gzip-encoded when the client accepts gzip', content: { 'text/x-c': { schema: { type: 'string' } } } },
        206: { description: 'a byte range of the plain header', content: { 'text/x-c': { schema: { type: 'string' } } } },
        304: { description: 'not modified (If-None-Match)', type: 'null' },
        ...problems(400, 404, 416, 503),
      },
    },
    handler: async (request, reply) => {
      const p = request.params;
      const kref: KernelRef = { distro: p.distro, release: p.release, arch: p.arch, unameR: p.uname_r };
      const h = await headerOf(kref);
      // A range is a range of the plain bytes; gzip only for whole answers.
      const gz = request.headers.range === undefined && acceptsGzip(request.headers['accept-encoding']);
      const path = gz ? h.gzPath : h.path;
      reply.header('vary', 'accept-encoding').header('content-disposition', `inline; filename="vmlinux-${p.uname_r}.h"`);
      reply.header('x-kernel', formatKref(kref));
      if (gz) reply.header('content-encoding', 'gzip');
      return sendFile(request, reply, { path, sha256: gz ? `${h.tag}-gz` : h.tag, size: statSync(path).size }, 'text/x-c; charset=utf-8');
    },
  });
}
