import fp from 'fastify-plugin';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { ApiError, isApiErrorCode, problemOf, type ApiErrorCode, type Problem } from '../errors.js';

/** Where a schema validation failed, as a user reads it. */
const PLACES: Record<string, string> = { querystring: 'query parameter', params: 'path parameter', body: 'body field', headers: 'header' };

/** One readable sentence per validation failure: which parameter, and why. */
export function describeValidation(errors: FastifySchemaValidationError[], context: string | undefined): string {
  const place = PLACES[context ?? ''] ?? 'parameter';
  const parts = errors.map((e) => {
    const name = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'additionalProperties') {
      return `${place} ${JSON.stringify(params.additionalProperty)} is not known here`;
    }
    if (e.keyword === 'required') return `${place} ${JSON.stringify(params.missingProperty)} is required`;
    if (e.keyword === 'pattern') return `${place} ${JSON.stringify(name)} has characters other than letters, digits and ._+~- (or is empty)`;
    return `${place} ${JSON.stringify(name)} ${e.message ?? 'is not valid'}`;
  });
  return parts.join('; ');
}

/** A CatalogError (or any error carrying one of our codes and `suggestions`), recognised by shape. */
function codedError(err: unknown): { code: ApiErrorCode; message: string; suggestions: string[]; retryAfter?: number } | undefined {
  if (err instanceof ApiError) return { code: err.code, message: err.message, suggestions: err.suggestions, retryAfter: err.retryAfterSeconds };
  if (err instanceof Error && err.name === 'CatalogError') {
    const e = err as Error & { code: unknown; suggestions?: unknown };
    if (isApiErrorCode(e.code)) return { code: e.code, message: e.message, suggestions: Array.isArray(e.suggestions) ? (e.suggestions as string[]) : [] };
  }
  return undefined;
}

function send(reply: FastifyReply, problem: Problem): FastifyReply {
  return reply.code(problem.status).type('application/problem+json').send(problem);
}

/**
 * Every error becomes `application/problem+json`: coded errors with their status, detail and suggestions;
 * schema validation failures as 400 BAD_PARAMETER naming the parameter; unknown routes as 404; anything
 * unexpected as 500 with only the request id (the error itself goes to the log).
 */
async function problemsPlugin(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const base = { instance: request.url.split('?')[0], requestId: String(request.id) };
    const coded = codedError(err);
    if (coded) {
      const problem = problemOf(coded.code, coded.message, { ...base, suggestions: coded.suggestions });
      if (coded.retryAfter !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(coded.retryAfter))));
      if (problem.status >= 500) request.log.error({ err }, 'request failed');
      else request.log.info({ code: coded.code, detail: coded.message }, 'request refused');
      return send(reply, problem);
    }
    if (err.validation) {
      return send(reply, problemOf('BAD_PARAMETER', describeValidation(err.validation, err.validationContext), base));
    }
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      // fastify's own client errors (bad JSON body, unsupported media type, …): say what, without internals.
      const problem = problemOf('BAD_BODY', err.message, base);
      problem.status = err.statusCode;
      return send(reply, problem);
    }
    request.log.error({ err }, 'unexpected error');
    return send(reply, problemOf('INTERNAL', `an unexpected error occurred (request id ${request.id})`, base));
  });

  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0];
    return send(reply, problemOf('ROUTE_NOT_FOUND', `no route ${request.method} ${path}; see /openapi.json`, { instance: path, requestId: String(request.id) }));
  });
}

export default fp(problemsPlugin, { name: 'btf-atlas-problems', fastify: '5.x' });
