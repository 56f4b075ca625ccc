import type { FastifyInstance } from 'fastify';
import {
  DEFAULT_SEARCH_LIMIT, enumeratorInKernel, enumInKernel, funcInKernel, MAX_SEARCH_LIMIT, MAX_SEARCH_TEXT, SEARCH_KINDS, searchNames,
  syscallInKernel, tracepointInKernel, type Catalog, type KernelFilter,
} from '@btf-atlas/catalog/read';
import { enumeratorHistory, enumHistory, funcHistory, syscallHistory, tracepointHistory } from '@btf-atlas/diff';
import {
  enumeratorHistorySchema, enumeratorInKernelSchema, enumHistorySchema, enumInKernelSchema, funcHistorySchema, funcInKernelSchema,
  historyFilterQuery, searchSchema, syscallHistorySchema, syscallInKernelSchema, tracepointHistorySchema, tracepointInKernelSchema,
} from '../kinds-schemas.js';
import { problems } from '../schemas.js';

/** One kind's routes: `GET /v1/{plural}/{name}?kernel=KREF` and `GET /v1/{plural}/{name}/history`. */
interface KindRoutes {
  /** The path segment: `funcs`, `tracepoints`, … */
  plural: string;
  /** The CLI command answering the same (`func`, `tracepoint`, …). */
  command: string;
  name: { description: string; example: string };
  kernelExample: string;
  inKernel: { summary: string; schema: unknown; answer: (catalog: Catalog, name: string, kref: string) => unknown };
  history: { summary: string; schema: unknown; answer: (catalog: Catalog, name: string, f: KernelFilter) => unknown };
}

const K612 = 'debian/13/x86_64/6.12.117+deb13-amd64';

const KINDS: readonly KindRoutes[] = [
  {
    plural: 'funcs',
    command: 'func',
    name: { description: 'function name', example: 'bpf_arena_alloc_pages' },
    kernelExample: K612,
    inKernel: { summary: 'every definition of a function in one kernel: prototype, linkage, kfunc, decl tags, module', schema: funcInKernelSchema, answer: funcInKernel },
    history: { summary: "a function's prototype, linkage, kfunc flag and decl tags over kernel order, with what changed", schema: funcHistorySchema, answer: funcHistory },
  },
  {
    plural: 'tracepoints',
    command: 'tracepoint',
    name: { description: 'tracepoint name (or `btf_trace_NAME`)', example: 'sched_switch' },
    kernelExample: K612,
    inKernel: { summary: "a tracepoint in one kernel: its raw prototype (typedef btf_trace_NAME) and event record (struct trace_event_raw_NAME)", schema: tracepointInKernelSchema, answer: tracepointInKernel },
    history: { summary: "a tracepoint's raw prototype (the `void *` context first, as BTF has it) and event record over kernel order, with what changed", schema: tracepointHistorySchema, answer: tracepointHistory },
  },
  {
    plural: 'syscalls',
    command: 'syscall',
    name: { description: 'syscall name (or one of its FUNCs, `__x64_sys_NAME`)', example: 'openat' },
    kernelExample: 'debian/12/arm64/6.1.0-50-arm64',
    inKernel: { summary: "which of a syscall's FUNCs one kernel has", schema: syscallInKernelSchema, answer: syscallInKernel },
    history: { summary: "which kernels and arches have the syscall's FUNCs (`__x64_sys_NAME`, `__arm64_sys_NAME`, …, compat wrappers apart)", schema: syscallHistorySchema, answer: syscallHistory },
  },
  {
    plural: 'enums',
    command: 'enum',
    name: { description: 'enum name (`NAME` or `enum NAME`)', example: 'bpf_map_type' },
    kernelExample: K612,
    inKernel: { summary: 'every definition of an enum in one kernel: size, signedness, values', schema: enumInKernelSchema, answer: enumInKernel },
    history: { summary: "an enum's size and values over kernel order, with what changed", schema: enumHistorySchema, answer: enumHistory },
  },
  {
    plural: 'enumerators',
    command: 'enumerator',
    name: { description: 'enumerator name', example: 'BPF_MAP_TYPE_ARENA' },
    kernelExample: K612,
    inKernel: { summary: "an enumerator's value in one kernel and the enum holding it", schema: enumeratorInKernelSchema, answer: enumeratorInKernel },
    history: { summary: "an enumerator's value over kernel order and the enum it lives in (anonymous enums too), with what changed", schema: enumeratorHistorySchema, answer: enumeratorHistory },
  },
];

function registerKind(app: FastifyInstance, k: KindRoutes): void {
  const params = {
    type: 'object',
    required: ['name'],
    additionalProperties: false,
    properties: { name: { type: 'string', minLength: 1, maxLength: 256, description: k.name.description, examples: [k.name.example] } },
  } as const;

  app.get<{ Params: { name: string }; Querystring: { kernel: string } }>(`/v1/${k.plural}/:name`, {
    config: { cacheAnswers: true },
    schema: {
      summary: `${k.inKernel.summary} (as \`btf-atlas ${k.command} NAME --kernel KREF --json\`)`,
      tags: ['catalog'],
      params,
      querystring: {
        type: 'object',
        required: ['kernel'],
        additionalProperties: false,
        properties: { kernel: { type: 'string', minLength: 1, maxLength: 512, description: 'KREF: DISTRO/RELEASE/ARCH/UNAME_R', examples: [k.kernelExample] } },
      },
      response: { 200: k.inKernel.schema, ...problems(400, 404) },
    },
  }, async (request) => k.inKernel.answer(app.catalog, request.params.name, request.query.kernel));

  app.get<{ Params: { name: string }; Querystring: KernelFilter }>(`/v1/${k.plural}/:name/history`, {
    config: { cacheAnswers: true },
    schema: {
      summary: `${k.history.summary} (as \`btf-atlas ${k.command} NAME --history --json\`)`,
      tags: ['catalog'],
      params,
      querystring: historyFilterQuery,
      response: { 200: k.history.schema, ...problems(400, 404) },
    },
  }, async (request) => k.history.answer(app.catalog, request.params.name, request.query));
}

/**
 * The answers about kinds other than structs: functions, tracepoints, syscalls, enums and enumerators (one kernel,
 * and history), and the name search of every kind, for completion. Each answer is the CLI's `--json` output of the
 * same question (modulo pretty-printing), cached per URL until the catalog changes.
 */
export default async function kindRoutes(app: FastifyInstance): Promise<void> {
  for (const k of KINDS) registerKind(app, k);

  app.get<{ Querystring: { q: string; kind?: string; limit?: number } }>('/v1/search', {
    config: { cacheAnswers: true },
    schema: {
      summary: 'names of every kind matching the text: the name itself, names starting with it (any case), then close names; each with its kinds and how many kernels have it (as `btf-atlas search TEXT --json`)',
      tags: ['catalog'],
      querystring: {
        type: 'object',
        required: ['q'],
        additionalProperties: false,
        properties: {
          q: { type: 'string', minLength: 1, maxLength: MAX_SEARCH_TEXT, description: 'the start of a name, or a name with a typo', examples: ['bpf_map_'] },
          kind: { type: 'string', minLength: 1, maxLength: 256, description: `only names of these kinds, comma-separated: ${SEARCH_KINDS.join(', ')}`, examples: ['func,kfunc'] },
          limit: { type: 'integer', minimum: 1, maximum: MAX_SEARCH_LIMIT, default: DEFAULT_SEARCH_LIMIT, description: 'at most this many names' },
        },
      },
      response: { 200: searchSchema, ...problems(400) },
    },
  }, async (request) => {
    const { q, kind, limit } = request.query;
    return searchNames(app.catalog, q, { kinds: kind?.split(',').map((s) => s.trim()).filter((s) => s !== ''), limit });
  });
}
