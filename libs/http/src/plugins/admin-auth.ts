import { createHash, timingSafeEqual } from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * preHandler of write routes: requires `Authorization: Bearer $BTF_ATLAS_ADMIN_TOKEN`
     * (401 ADMIN_TOKEN_MISSING without one, 403 ADMIN_TOKEN_INVALID with another, or while no token is set).
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

async function adminAuthPlugin(app: FastifyInstance, opts: AdminAuthOptions): Promise<void> {
  const expected = opts.adminToken;
  app.decorate('requireAdmin', async (request: FastifyRequest): Promise<void> => {
    const header = request.headers.authorization;
    if (header === undefined || header.trim() === '') {
      throw new ApiError('ADMIN_TOKEN_MISSING', 'this route needs the admin token: send Authorization: Bearer <BTF_ATLAS_ADMIN_TOKEN>');
    }
    const m = BEARER.exec(header);
    if (!m) throw new ApiError('ADMIN_TOKEN_MISSING', 'the Authorization header is not "Bearer <token>"');
    if (expected === undefined) {
      throw new ApiError('ADMIN_TOKEN_INVALID', 'write routes are off: the server has no BTF_ATLAS_ADMIN_TOKEN');
    }
    if (!sameSecret(m[1], expected)) throw new ApiError('ADMIN_TOKEN_INVALID', 'the admin token is not the one this server expects');
  });
}

export default fp(adminAuthPlugin, { name: 'btf-atlas-admin-auth', fastify: '5.x' });
