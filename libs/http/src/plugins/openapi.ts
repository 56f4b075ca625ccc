import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/** The OpenAPI description of every route (built from the route schemas), at `/openapi.json`; browsable at `/docs`. */
async function openapiPlugin(app: FastifyInstance, opts: { version: string }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'btf-atlas',
        version: opts.version,
        description: 'Linux kernel struct layouts across kernels, from BTF. Errors are application/problem+json (RFC 9457).',
      },
      tags: [
        { name: 'catalog', description: "the catalog's answers" },
        { name: 'archive', description: 'the btfhub-archive mirror: DISTRO/RELEASE/ARCH/UNAME_R.btf.tar.xz, listings, manifest' },
        { name: 'health', description: 'probes' },
        { name: 'meta', description: 'this description' },
        { name: 'write', description: 'routes that change the catalog (Bearer BTF_ATLAS_ADMIN_TOKEN)' },
      ],
      components: {
        securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'BTF_ATLAS_ADMIN_TOKEN, for write routes' } },
      },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true }, staticCSP: true });

  app.get('/openapi.json', {
    schema: {
      summary: 'the OpenAPI 3.1 description of every route',
      tags: ['meta'],
      response: { 200: { type: 'object', additionalProperties: true } },
    },
  }, async () => app.swagger());
}

export default fp(openapiPlugin, { name: 'btf-atlas-openapi', fastify: '5.x' });
