import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  ARCH_MAX_LENGTH, LookupNotFoundError, OS_RELEASE_MAX_BYTES, UNAME_R_MAX_LENGTH, lookupKernel, type LookupResult,
} from '@btf-atlas/catalog';
import { problemOf } from '../errors.js';
import { orderedObject, problems } from '../schemas.js';

export interface LookupRoutesOptions {
  /**
   * The server's public base URL (BTF_ATLAS_PUBLIC_URL, e.g. `https://btf.example.org/mirror`), for download
   * URLs behind a proxy; unset: built from the request's protocol and Host header.
   */
  publicUrl?: string;
}

interface LookupBody {
  os_release: string;
  uname_r: string;
  arch: string;
}

const lookupBody = {
  type: 'object',
  required: ['os_release', 'uname_r', 'arch'],
  additionalProperties: false,
  properties: {
    os_release: {
      type: 'string',
      maxLength: OS_RELEASE_MAX_BYTES,
      description: 'the text of /etc/os-release (or /usr/lib/os-release), as the machine has it',
      examples: ['ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'],
    },
    uname_r: {
      type: 'string',
      minLength: 1,
      maxLength: UNAME_R_MAX_LENGTH,
      pattern: '^[A-Za-z0-9][A-Za-z0-9._+~-]*$',
      description: 'uname -r',
      examples: ['6.1.0-50-amd64'],
    },
    arch: {
      type: 'string',
      minLength: 1,
      maxLength: ARCH_MAX_LENGTH,
      pattern: '^[A-Za-z0-9_]+$',
      description: 'uname -m (`aarch64` is the archive\'s `arm64`)',
      examples: ['x86_64', 'aarch64'],
    },
  },
} as const;

const str = { type: 'string' };
const sha256 = { type: 'string', pattern: '^[0-9a-f]{64}$' };

const lookupAnswer = orderedObject([
  ['kernel', { type: 'string', description: 'KREF: DISTRO/RELEASE/ARCH/UNAME_R' }],
  ['url', { type: 'string', description: 'absolute URL of the btfhub-archive style `KREF.btf.tar.xz`' }],
  ['btf_url', { type: 'string', description: 'absolute URL of the raw BTF (`KREF.btf`), what btf_custom_path / bpftool -B read' }],
  ['distro', str],
  ['release', str],
  ['arch', str],
  ['uname_r', str],
  ['btf_sha256', { ...sha256, description: 'sha256 of the raw BTF (what `btf_url` serves)' }],
  ['btf_size', { type: 'integer', description: 'bytes of the raw BTF' }],
  ['sha256', { ...sha256, description: 'sha256 of the `.btf.tar.xz` (`url`), when the catalog knows it' }, 'optional'],
  ['reason', { type: 'string', description: 'why this archive folder (os-release mapping rule)' }],
], 'where the machine\'s BTF is');

const notFoundProblem = {
  type: 'object',
  description: 'problem details (KERNEL_NOT_FOUND) with the nearest kernels the catalog has',
  required: ['type', 'title', 'status', 'detail', 'code', 'nearest', 'tried'],
  properties: {
    type: str,
    title: str,
    status: { type: 'integer' },
    detail: str,
    code: str,
    instance: str,
    suggestions: { type: 'array', items: str },
    request_id: str,
    nearest: {
      type: 'array',
      description: 'same distro/release/arch kernels nearest in kernel order (the first `older` and `newer` are the closest), else same-arch kernels of other releases',
      items: {
        type: 'object',
        required: ['kernel', 'uname_r', 'relation'],
        additionalProperties: false,
        properties: { kernel: str, uname_r: str, relation: { type: 'string', enum: ['older', 'newer', 'other-release'] } },
      },
    },
    tried: { type: 'array', items: str, description: 'the DISTRO/RELEASE/ARCH folders looked in, in order' },
    failed: {
      type: 'object',
      description: 'this very kernel, when its ingest failed: why the catalog lacks it',
      required: ['kernel', 'code', 'message', 'failed_at'],
      properties: { kernel: str, code: str, message: str, failed_at: str },
    },
  },
} as const;

/** A KREF segment in a URL path: KREF segments are URL-safe already; `+` stays as btfhub's URLs have it. */
function pathSegment(s: string): string {
  return encodeURIComponent(s).replace(/%2B/g, '+');
}

/** The base URL downloads are offered under: the configured public URL, else this request's origin. */
function baseUrl(request: FastifyRequest, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  return `${request.protocol}://${request.host}`;
}

/**
 * `POST /v1/btf/lookup`: what a machine knows (os-release text, uname -r, uname -m) → the KREF of its BTF and
 * absolute URLs to download it from this server's `/archive/` mirror; 404 KERNEL_NOT_FOUND with the nearest
 * kernels when the catalog does not have it.
 */
export default async function lookupRoutes(app: FastifyInstance, opts: LookupRoutesOptions): Promise<void> {
  app.post<{ Body: LookupBody }>('/v1/btf/lookup', {
    bodyLimit: 64 * 1024,
    schema: {
      summary: 'find the BTF of a machine from its os-release, uname -r and uname -m (what `btf-atlas fetch` asks)',
      tags: ['catalog'],
      body: lookupBody,
      response: { 200: lookupAnswer, 404: notFoundProblem, ...problems(400) },
    },
  }, async (request, reply) => {
    const { os_release: osRelease, uname_r: unameR, arch } = request.body;
    let found: LookupResult;
    try {
      found = lookupKernel(app.catalog, { osRelease, unameR, arch });
    } catch (err) {
      if (!(err instanceof LookupNotFoundError)) throw err;
      const problem = problemOf('KERNEL_NOT_FOUND', err.message, {
        instance: request.url.split('?')[0],
        requestId: String(request.id),
        suggestions: err.suggestions,
      });
      request.log.info({ code: err.code, tried: err.tried }, 'lookup found no kernel');
      const failed = err.failed ? { failed: { kernel: err.failed.kernel, code: err.failed.code, message: err.failed.message, failed_at: err.failed.failed_at } } : {};
      return reply.code(404).type('application/problem+json').send({ ...problem, nearest: err.nearest, tried: err.tried, ...failed });
    }
    const path = `${baseUrl(request, opts.publicUrl)}/archive/${[found.distro, found.release, found.arch, found.uname_r].map(pathSegment).join('/')}`;
    return {
      kernel: found.kernel,
      url: `${path}.btf.tar.xz`,
      btf_url: `${path}.btf`,
      distro: found.distro,
      release: found.release,
      arch: found.arch,
      uname_r: found.uname_r,
      btf_sha256: found.btf_sha256,
      btf_size: found.btf_size,
      ...(found.archive_sha256 ? { sha256: found.archive_sha256 } : {}),
      reason: found.reason,
    };
  });
}
