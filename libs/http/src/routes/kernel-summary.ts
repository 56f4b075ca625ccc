import type { FastifyInstance } from 'fastify';
import type { KernelRef } from '@btf-atlas/catalog';
import { BPFTOOL_KIND_NAMES, BTF_KIND_MAX } from '@btf-atlas/btf';
import { kernelPathParams, problems } from '../schemas.js';

const int = { type: 'integer' } as const;
const counts = { type: 'object', additionalProperties: int } as const;

/** An object of integer counts with exactly these keys, in this order. */
function countsOf(keys: readonly string[], description?: string): Record<string, unknown> {
  return {
    type: 'object',
    required: [...keys],
    additionalProperties: false,
    properties: Object.fromEntries(keys.map((k) => [k, int])),
    ...(description ? { description } : {}),
  };
}

const KIND_KEYS = BPFTOOL_KIND_NAMES.slice(1, BTF_KIND_MAX + 1);

/** The counts of one BTF (libs/btf `BtfSummary`), key by key in its order. */
const summaryProperties = {
  types: { type: 'integer', description: 'type records (of a module: its own, not its base\'s)' },
  kinds: {
    type: 'object',
    description: 'records per kind, by bpftool\'s kind names (every kind INT…ENUM64; UNKNOWN only for kinds the decoder does not know)',
    required: KIND_KEYS,
    additionalProperties: false,
    properties: { ...Object.fromEntries(KIND_KEYS.map((k) => [k, int])), UNKNOWN: int },
  },
  structs: int,
  unions: int,
  enums: countsOf(['total', 'named', 'anonymous'], 'ENUM and ENUM64 records'),
  enumerators: { type: 'integer', description: 'values of every ENUM and ENUM64' },
  typedefs: int,
  funcs: countsOf(['total', 'static', 'global', 'extern'], 'FUNC records, by linkage'),
  kfuncs: { type: 'integer', description: 'FUNCs a DECL_TAG `bpf_kfunc` (component_idx -1) targets' },
  fastcall: { type: 'integer', description: 'FUNCs a DECL_TAG `bpf_fastcall` (component_idx -1) targets' },
  tracepoints: { type: 'integer', description: 'raw tracepoints: distinct NAMEs of `typedef btf_trace_NAME`' },
  trace_events: { type: 'integer', description: 'distinct NAMEs of `struct trace_event_raw_NAME`' },
  syscalls: {
    type: 'object',
    description: 'distinct NAMEs of FUNCs `__<arch>_sys_NAME` (total, and per arch prefix); `plain`: of FUNCs `sys_NAME`, the total when no prefixed one exists',
    required: ['total', 'by_prefix', 'plain'],
    additionalProperties: false,
    properties: { total: int, by_prefix: counts, plain: int },
  },
  datasecs: {
    type: 'array',
    items: { type: 'object', required: ['name', 'size', 'vars'], additionalProperties: false, properties: { name: { type: 'string' }, size: int, vars: int } },
  },
  decl_tags: { type: 'object', required: ['total', 'values'], additionalProperties: false, properties: { total: int, values: counts } },
  type_tags: { type: 'object', required: ['total', 'values'], additionalProperties: false, properties: { total: int, values: counts } },
  pointer_size: { type: 'integer', enum: [4, 8] },
  byte_order: { type: 'string', enum: ['little', 'big'] },
} as const;

const summaryKeys = Object.keys(summaryProperties);

/** `GET /v1/kernels/…/summary`, as `btf-atlas kernel KREF --summary --json`. */
export const kernelSummarySchema = {
  type: 'object',
  required: ['kernel', 'distro', 'release', 'arch', 'uname_r', ...summaryKeys, 'modules'],
  additionalProperties: false,
  properties: {
    kernel: { type: 'string' },
    distro: { type: 'string' },
    release: { type: 'string' },
    arch: { type: 'string' },
    uname_r: { type: 'string' },
    ...summaryProperties,
    modules: {
      type: 'array',
      description: "the kernel's ingested modules by name, each counting its own types (split BTF on the vmlinux BTF)",
      items: {
        type: 'object',
        required: ['name', ...summaryKeys],
        additionalProperties: false,
        properties: { name: { type: 'string' }, ...summaryProperties },
      },
    },
  },
} as const;

/**
 * `GET /v1/kernels/{distro}/{release}/{arch}/{uname_r}/summary`: counts of what the kernel's BTF holds, vmlinux and
 * each ingested module (as `btf-atlas kernel KREF --summary --json`). Read from the stored BTF, every blob decoded:
 * computed on a worker thread (503 SERVER_BUSY with Retry-After when none is free in time); answers are cached per
 * URL until the catalog changes, and a cached answer is served on the event loop.
 */
export default async function kernelSummaryRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: { distro: string; release: string; arch: string; uname_r: string } }>('/v1/kernels/:distro/:release/:arch/:uname_r/summary', {
    config: { cacheAnswers: true },
    schema: {
      summary: "counts of what the kernel's BTF holds: kinds, funcs, kfuncs, tracepoints, syscalls, … for vmlinux and each module (as `btf-atlas kernel KREF --summary --json`)",
      tags: ['catalog'],
      params: kernelPathParams,
      response: { 200: kernelSummarySchema, ...problems(400, 404, 503) },
    },
  }, async (request) => {
    const p = request.params;
    const kref: KernelRef = { distro: p.distro, release: p.release, arch: p.arch, unameR: p.uname_r };
    return app.work.run('kernel-summary', { kref });
  });
}
