import { createHash, timingSafeEqual } from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * preHandler of write routes: requires `Authorization: Bearer $BTF_ATLAS_ADMIN_TOKEN`. While no token is
     * configured every write route is off: 403 WRITE_ROUTES_DISABLED. With one configured, a request without it
     * (401 ADMIN_TOKEN_MISSING) or with another token (401 ADMIN_TOKEN_INVALID) is refused with
     * `WWW-Authenticate: Bearer` (RFC 6750).
     */
    requireAdmin: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }
}

export interface AdminAuthOptions {
  /** The expected token; undefined turns every write route off (403). */
  adminToken: string | undefined;
}

/** Compares two secrets in constant time whatever their lengths (both are hashed to 32 bytes first). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** The challenge of a 401 (RFC 6750 section 3): the scheme, and `error="invalid_token"` for a refused token. */
const REALM = 'Bearer realm="btf-atlas"';

async function adminAuthPlugin(app: FastifyInstance, opts: AdminAuthOptions): Promise<void> {
  // An empty token is no token: write routes off.
  const expected = opts.adminToken === '' ? undefined : opts.adminToken;
  app.decorate('requireAdmin', async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (expected === undefined) {
      throw new ApiError('WRITE_ROUTES_DISABLED', 'write routes are disabled until BTF_ATLAS_ADMIN_TOKEN is set (start the server with it)');
    }
    const header = request.headers.authorization;
    if (header === undefined || header.trim() === '') {
      reply.header('www-authenticate', REALM);
      throw new ApiError('ADMIN_TOKEN_MISSING', 'this route needs the admin token: send Authorization: Bearer <BTF_ATLAS_ADMIN_TOKEN>');
    }
    const m = BEARER.exec(header);
    if (!m) {
      reply.header('www-authenticate', REALM);
      throw new ApiError('ADMIN_TOKEN_MISSING', 'the Authorization header is not "Bearer <token>"');
    }
    if (!sameSecret(m[1], expected)) {
      reply.header('www-authenticate', `${REALM}, error="invalid_token"`);
      throw new ApiError('ADMIN_TOKEN_INVALID', 'the admin token is not the one this server expects');
    }
  });
}

export default fp(adminAuthPlugin, { name: 'btf-atlas-admin-auth', fastify: '5.x' });
