import type { FastifyInstance } from 'fastify';
import { listKernelStates, typeLayout, type KernelFilter } from '@btf-atlas/catalog';
import { fieldHistory, typeHistory } from '@btf-atlas/diff';
import {
  fieldHistorySchema, kernelFilterQuery, kernelListSchema, problems, typeHistorySchema, typeLayoutSchema,
} from '../schemas.js';

const typeName = {
  type: 'string',
  minLength: 1,
  maxLength: 256,
  description: 'struct, union or enum name: `NAME`, or `struct NAME`, `union NAME`, `enum NAME`',
  examples: ['task_struct'],
} as const;

/**
 * The catalog's read routes: the same library calls as the CLI's `kernels`, `field`, `type` and
 * `type --history`, so each answer is the CLI's `--json` output (modulo pretty-printing).
 */
export default async function catalogRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Querystring: KernelFilter }>('/v1/kernels', {
    schema: {
      summary: "the catalog's kernels in kernel order, and those whose ingest failed (`state: failed`, with the reason), as `btf-atlas kernels --json`",
      tags: ['catalog'],
      querystring: kernelFilterQuery,
      response: { 200: kernelListSchema, ...problems(400) },
    },
  }, async (request) => ({ kernels: listKernelStates(app.catalog, request.query) }));

  app.get<{ Params: { field_path: string }; Querystring: KernelFilter }>('/v1/fields/:field_path', {
    config: { cacheAnswers: true },
    schema: {
      summary: "a field's history across kernels and where it changed (as `btf-atlas field FIELD_PATH --json`)",
      tags: ['catalog'],
      params: {
        type: 'object',
        required: ['field_path'],
        additionalProperties: false,
        properties: {
          field_path: {
            type: 'string',
            minLength: 1,
            maxLength: 512,
            description: 'STRUCT.MEMBER[.MEMBER...] (optionally `struct `/`union ` first)',
            examples: ['pt_regs.di', 'task_struct.se.vruntime'],
          },
        },
      },
      querystring: kernelFilterQuery,
      response: { 200: fieldHistorySchema, ...problems(400, 404) },
    },
  }, async (request) => fieldHistory(app.catalog, request.params.field_path, request.query));

  app.get<{ Params: { name: string }; Querystring: { kernel: string; format?: 'json' | 'pahole'; all?: boolean } }>('/v1/types/:name', {
    // The JSON answer is cached per URL; pahole's text is made from the kernel's stored BTF, decoded on a worker
    // thread (503 SERVER_BUSY with Retry-After when none is free in time), each time.
    config: { cacheAnswers: (request) => (request.query as { format?: string }).format !== 'pahole' },
    schema: {
      summary: 'one struct/union/enum layout in one kernel (as `btf-atlas type NAME --kernel KREF --json`), or as pahole prints it',
      description: '`format=pahole` answers `text/plain`: what `pahole -C NAME` prints for the kernel\'s BTF (as `btf-atlas type NAME --kernel KREF`); with `all=true` every definition of the name, vmlinux then modules.',
      tags: ['catalog'],
      params: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: typeName } },
      querystring: {
        type: 'object',
        required: ['kernel'],
        additionalProperties: false,
        properties: {
          kernel: { type: 'string', minLength: 1, maxLength: 512, description: 'KREF: DISTRO/RELEASE/ARCH/UNAME_R', examples: ['debian/12/x86_64/6.1.0-50-amd64'] },
          format: { type: 'string', enum: ['json', 'pahole'], default: 'json', description: 'json (the flattened members) or pahole (text/plain)' },
          all: { type: 'boolean', default: false, description: 'with format=pahole: every definition of the name, where pahole prints the first' },
        },
      },
      response: { 200: typeLayoutSchema, ...problems(400, 404, 503) },
    },
  }, async (request, reply) => {
    const { kernel, format, all } = request.query;
    if (format !== 'pahole') return typeLayout(app.catalog, request.params.name, kernel);
    const text = await app.work.run('type-text', { name: request.params.name, kernel, all: all === true });
    return reply.type('text/plain; charset=utf-8').send(text);
  });

  app.get<{ Params: { name: string }; Querystring: KernelFilter & { members?: boolean } }>('/v1/types/:name/history', {
    config: { cacheAnswers: true },
    schema: {
      summary: "a type's size and members over kernel order, with change points (as `btf-atlas type NAME --history --json`)",
      description: '`members=false`: each kernel with `member_count` (an enum: `value_count`) instead of its `members` (`values`); ' +
        'the timeline, changes and summary are the same, and the answer is a few kilobytes per kernel lighter.',
      tags: ['catalog'],
      params: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: typeName } },
      querystring: {
        ...kernelFilterQuery,
        properties: {
          ...kernelFilterQuery.properties,
          members: { type: 'boolean', default: true, description: 'list each kernel\'s members (default) or only count them (false)' },
        },
      },
      response: { 200: typeHistorySchema, ...problems(400, 404) },
    },
  }, async (request) => {
    const { members, ...filter } = request.query;
    return typeHistory(app.catalog, request.params.name, filter, { members });
  });
}
