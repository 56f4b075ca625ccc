/**
 * JSON schemas of the API: the shared shapes (added once with `$id`, referenced as `NAME#`) and per-route
 * params/query. Property order is the order the catalog builds its objects in, so that fastify's serializer
 * writes the very bytes the CLI's `--json` prints (modulo pretty-printing).
 */

/** A KREF segment (distro, release, arch, uname -r), as libs/catalog accepts it. */
export const SEGMENT = '^[A-Za-z0-9][A-Za-z0-9._+~-]*$';

/** The JSON schema of one KREF segment (a path or query parameter). */
export const segment = (what: string, example: string) => ({ type: 'string', minLength: 1, maxLength: 128, pattern: SEGMENT, description: what, examples: [example] }) as const;

/** The path parameters of a kernel's own routes (`/v1/kernels/{distro}/{release}/{arch}/{uname_r}/…`). */
export const kernelPathParams = {
  type: 'object',
  required: ['distro', 'release', 'arch', 'uname_r'],
  additionalProperties: false,
  properties: {
    distro: segment('distro', 'debian'),
    release: segment('release', '12'),
    arch: segment('architecture, as btfhub-archive spells it', 'x86_64'),
    uname_r: segment('uname -r', '6.1.0-50-amd64'),
  },
} as const;

/** `?distro=&release=&arch=`: the kernel filter of list routes; unknown parameters are refused. */
export const kernelFilterQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    distro: segment('only kernels of this distro', 'debian'),
    release: segment('only kernels of this release', '12'),
    arch: segment('only kernels of this architecture, as btfhub-archive spells it', 'x86_64'),
  },
} as const;

export const problemSchema = {
  $id: 'problem',
  type: 'object',
  description: 'RFC 9457 problem details (application/problem+json)',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string', description: 'URI naming the kind of problem' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string', description: 'what is wrong, naming the parameter and the reason' },
    code: { type: 'string', description: 'stable error code (KERNEL_NOT_FOUND, BAD_PARAMETER, …)' },
    instance: { type: 'string', description: 'the request path' },
    suggestions: { type: 'array', items: { type: 'string' }, description: 'close names, for an unknown kernel, type or field' },
    request_id: { type: 'string' },
  },
} as const;

export const memberSchema = {
  $id: 'member',
  type: 'object',
  required: ['name', 'bits_offset', 'offset', 'bitfield_size', 'size', 'type'],
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    bits_offset: { type: 'integer', description: 'absolute within the outermost struct' },
    offset: { type: 'integer', description: 'bits_offset / 8, rounded down' },
    bitfield_size: { type: 'integer' },
    size: { type: 'integer' },
    type: { type: 'string', description: 'C abstract declarator' },
  },
} as const;

const enumValue = {
  type: 'object',
  required: ['name', 'value'],
  additionalProperties: false,
  properties: { name: { type: 'string' }, value: { type: 'string', description: 'decimal, exact for 64-bit values' } },
} as const;

/** Free-form before/after of a change (the keys depend on `what`). */
export const changeSide = { type: 'object', additionalProperties: true } as const;

export const kernelInfoSchema = {
  $id: 'kernelInfo',
  type: 'object',
  required: ['kernel', 'distro', 'release', 'arch', 'uname_r', 'btf_sha256', 'types'],
  additionalProperties: false,
  properties: {
    kernel: { type: 'string', description: 'KREF: DISTRO/RELEASE/ARCH/UNAME_R' },
    distro: { type: 'string' },
    release: { type: 'string' },
    arch: { type: 'string' },
    uname_r: { type: 'string' },
    btf_sha256: { type: 'string' },
    types: { type: 'integer', description: 'number of BTF types' },
    pointer_size: {
      type: ['integer', 'null'], enum: [4, 8, null],
      description: 'bytes of a pointer (and of `long`), from the kernel\'s own BTF; null until an older catalog\'s next ingest fills it, and for a failed kernel',
    },
    byte_order: {
      type: ['string', 'null'], enum: ['little', 'big', null],
      description: 'the byte order of the kernel\'s BTF; null until an older catalog\'s next ingest fills it, and for a failed kernel',
    },
  },
} as const;

/** A kernel of `GET /v1/kernels`: ingested (kernelInfo's fields), or refused at ingest with its reason. */
const kernelListEntry = {
  type: 'object',
  required: ['kernel', 'distro', 'release', 'arch', 'uname_r', 'state', 'btf_sha256', 'types', 'pointer_size', 'byte_order'],
  additionalProperties: false,
  properties: {
    ...kernelInfoSchema.properties,
    state: { type: 'string', enum: ['ingested', 'failed'], description: '`failed`: its ingest was refused; `failure` says why' },
    btf_sha256: { type: ['string', 'null'] },
    types: { type: ['integer', 'null'], description: 'number of BTF types (null for a failed kernel)' },
    failure: {
      type: 'object',
      required: ['code', 'message', 'source', 'failed_at'],
      additionalProperties: false,
      properties: { code: { type: 'string' }, message: { type: 'string' }, source: { type: 'string' }, failed_at: { type: 'string' } },
    },
  },
} as const;

export const kernelListSchema = {
  type: 'object',
  required: ['kernels'],
  additionalProperties: false,
  properties: { kernels: { type: 'array', items: kernelListEntry } },
} as const;

/** Kernels of a history's selection that failed to ingest (present only when some did). */
export const failedKernelsSchema = {
  type: 'array',
  description: 'kernels of the selection that failed to ingest, so are missing from the answer, with the reason',
  items: {
    type: 'object',
    required: ['kernel', 'code', 'message', 'failed_at'],
    additionalProperties: false,
    properties: { kernel: { type: 'string' }, code: { type: 'string' }, message: { type: 'string' }, failed_at: { type: 'string' } },
  },
} as const;

/** A kernel's series: DISTRO/RELEASE/ARCH/FLAVOUR. */
export const seriesProp = { type: 'string', description: 'DISTRO/RELEASE/ARCH/FLAVOUR (flavour from uname -r: amd64, rt-amd64, generic; empty when none)' } as const;

/** Kernels left out of a module type's history: the module's BTF was not ingested with them (present only then). */
export const notIngestedSchema = {
  type: 'object',
  description: "kernels of the selection left out because the BTF of the module(s) defining the type was not ingested with them",
  required: ['modules', 'kernels'],
  additionalProperties: false,
  properties: { modules: { type: 'array', items: { type: 'string' } }, kernels: { type: 'array', items: { type: 'string' } } },
} as const;

/** A history's `timeline`: per arch and flavour, across distros and releases, spans of equal value. */
export function timelineSchema(value: Record<string, unknown>) {
  const span = {
    type: 'object',
    required: ['first', 'last', 'count', 'value'],
    additionalProperties: false,
    properties: { first: { type: 'string' }, last: { type: 'string' }, count: { type: 'integer' }, value },
  };
  const difference = {
    type: 'object',
    required: ['first', 'last', 'count', 'value', 'main_value'],
    additionalProperties: false,
    properties: { ...span.properties, main_value: value },
  };
  return {
    type: 'array',
    description: "one line per arch and flavour across every distro and release, in kernel version order; the arch's main flavour first",
    items: {
      type: 'object',
      required: ['arch', 'flavour', 'main', 'kernels', 'spans'],
      additionalProperties: false,
      properties: {
        arch: { type: 'string' },
        flavour: { type: 'string' },
        main: { type: 'boolean', description: "the arch's main flavour (most kernels)" },
        kernels: { type: 'integer' },
        spans: { type: 'array', items: span, description: 'consecutive kernels with equal value' },
        compared_with_main: { type: 'integer', description: 'other flavours: kernels with a main-flavour kernel of the same distro, release and version' },
        differs_from_main: { type: 'array', items: difference, description: 'other flavours: runs of those whose value differs from the main flavour at the same version' },
      },
    },
  };
}

/** Where a present field is (field history entries and timeline values). */
const fieldPlace = {
  offset: { type: 'integer' },
  bits_offset: { type: 'integer' },
  bitfield_size: { type: 'integer' },
  size: { type: 'integer' },
  type: { type: 'string' },
} as const;

const fieldValueSchema = {
  anyOf: [
    {
      type: 'object',
      required: ['status', 'offset', 'bits_offset', 'bitfield_size', 'size', 'type'],
      additionalProperties: false,
      properties: { status: { type: 'string', enum: ['present'] }, ...fieldPlace },
    },
    {
      type: 'object',
      required: ['status'],
      additionalProperties: false,
      properties: { status: { type: 'string', enum: ['missing_field', 'missing_struct'] } },
    },
  ],
};

export const fieldHistorySchema = {
  type: 'object',
  required: ['field', 'kernels', 'changes', 'timeline', 'summary'],
  additionalProperties: false,
  properties: {
    field: { type: 'string' },
    failed_kernels: failedKernelsSchema,
    kernels: {
      type: 'array',
      items: {
        anyOf: [
          {
            type: 'object',
            required: ['kernel', 'series', 'status', 'offset', 'bits_offset', 'bitfield_size', 'size', 'type'],
            additionalProperties: false,
            properties: {
              kernel: { type: 'string' },
              series: seriesProp,
              status: { type: 'string', enum: ['present'] },
              ...fieldPlace,
              module: { type: 'string', description: 'the module whose struct it is (absent for vmlinux)' },
            },
          },
          {
            type: 'object',
            required: ['kernel', 'series', 'status'],
            additionalProperties: false,
            properties: { kernel: { type: 'string' }, series: seriesProp, status: { type: 'string', enum: ['missing_field', 'missing_struct'] } },
          },
        ],
      },
    },
    changes: {
      type: 'array',
      items: {
        type: 'object',
        required: ['from', 'to', 'series', 'what', 'before', 'after'],
        additionalProperties: false,
        properties: {
          from: { type: 'string' },
          to: { type: 'string' },
          series: seriesProp,
          what: { type: 'string', enum: ['offset', 'size', 'type', 'added', 'removed'] },
          before: changeSide,
          after: changeSide,
          probable_rename: { type: 'string', description: 'on removed: the member that took its place in the same kernel (same offset, compatible type)' },
        },
      },
    },
    timeline: timelineSchema(fieldValueSchema),
    summary: { type: 'string', description: 'the main lines in one sentence' },
    not_ingested: notIngestedSchema,
  },
} as const;

/*
 * fast-json-stringify writes required properties first: an optional property in the middle of an object (a
 * definition's `module`, a change's `member`) is expressed as two variants, each with all its keys required.
 */

/** One definition of `type --json`: struct/union with members or enum with values, from vmlinux or a module. */
function definitionSchema(kind: 'composite' | 'enum', inModule: boolean) {
  const head = {
    kind: kind === 'enum' ? { type: 'string', enum: ['enum'] } : { type: 'string', enum: ['struct', 'union'] },
    name: { type: 'string' },
    size: { type: 'integer' },
    ...(inModule ? { module: { type: 'string', description: 'the module defining it (absent for vmlinux)' } } : {}),
  };
  const tail = kind === 'enum'
    ? { signed: { type: 'boolean' }, values: { type: 'array', items: enumValue } }
    : { members: { type: 'array', items: { $ref: 'member#' }, description: 'flattened members' } };
  const properties = { ...head, ...tail };
  return { type: 'object', required: Object.keys(properties), additionalProperties: false, properties };
}

export const typeLayoutSchema = {
  type: 'object',
  required: ['kernel', 'types'],
  additionalProperties: false,
  properties: {
    kernel: { type: 'string' },
    types: {
      type: 'array',
      description: 'every definition of the name in the kernel (BTF may hold several)',
      items: {
        anyOf: [definitionSchema('composite', false), definitionSchema('composite', true), definitionSchema('enum', false), definitionSchema('enum', true)],
      },
    },
  },
} as const;

export const typeValueSchema = {
  anyOf: [
    {
      type: 'object',
      required: ['status', 'kind', 'size', 'members', 'digest'],
      additionalProperties: false,
      properties: {
        status: { type: 'string', enum: ['present'] },
        kind: { type: 'string', enum: ['struct', 'union'] },
        size: { type: 'integer' },
        members: { type: 'integer', description: 'how many flattened members' },
        digest: { type: 'string', description: 'first 8 bytes (hex) of the layout content hash: equal digests, equal layouts' },
      },
    },
    {
      type: 'object',
      required: ['status', 'kind', 'size', 'values', 'digest'],
      additionalProperties: false,
      properties: {
        status: { type: 'string', enum: ['present'] },
        kind: { type: 'string', enum: ['enum'] },
        size: { type: 'integer' },
        values: { type: 'integer', description: 'how many values' },
        digest: { type: 'string' },
      },
    },
    { type: 'object', required: ['status'], additionalProperties: false, properties: { status: { type: 'string', enum: ['missing'] } } },
  ],
};

/** A type history's entry for a kernel that defines the type: its kind, size, definitions and `key` (the lists, or their counts). */
function presentEntry(kinds: string[], key: string, schema: Record<string, unknown>, description?: string): Record<string, unknown> {
  return {
    type: 'object',
    ...(description ? { description } : {}),
    required: ['kernel', 'series', 'status', 'kind', 'size', 'definitions', key],
    additionalProperties: false,
    properties: {
      kernel: { type: 'string' },
      series: seriesProp,
      status: { type: 'string', enum: ['present'] },
      kind: { type: 'string', enum: kinds },
      size: { type: 'integer' },
      definitions: { type: 'integer', description: 'how many definitions of the name the kernel holds' },
      [key]: schema,
      module: { type: 'string', description: 'the module of the definition shown (absent for vmlinux)' },
    },
  };
}

export const typeHistorySchema = {
  type: 'object',
  required: ['type', 'kernels', 'changes', 'timeline', 'summary'],
  additionalProperties: false,
  properties: {
    type: { type: 'string' },
    failed_kernels: failedKernelsSchema,
    kernels: {
      type: 'array',
      description: 'the type in each kernel, in kernel order (the vmlinux definition when modules define the name too)',
      items: {
        anyOf: [
          presentEntry(['struct', 'union'], 'members', { type: 'array', items: { $ref: 'member#' } }),
          presentEntry(['enum'], 'values', { type: 'array', items: enumValue }),
          presentEntry(['struct', 'union'], 'member_count', { type: 'integer', description: 'how many members the definition has (its `members` with members=true)' }, 'with members=false: a struct or union with its member count'),
          presentEntry(['enum'], 'value_count', { type: 'integer', description: 'how many values the enum has (its `values` with members=true)' }, 'with members=false: an enum with its value count'),
          {
            type: 'object',
            required: ['kernel', 'series', 'status'],
            additionalProperties: false,
            properties: { kernel: { type: 'string' }, series: seriesProp, status: { type: 'string', enum: ['missing'] } },
          },
        ],
      },
    },
    changes: {
      type: 'array',
      description: 'between neighbours in kernel order within each distro/release/arch/flavour series',
      items: {
        anyOf: [
          {
            type: 'object',
            description: 'a change of the whole type',
            required: ['from', 'to', 'series', 'what', 'before', 'after'],
            additionalProperties: false,
            properties: {
              from: { type: 'string' },
              to: { type: 'string' },
              series: seriesProp,
              what: { type: 'string', enum: ['added', 'removed', 'kind', 'size'] },
              before: changeSide,
              after: changeSide,
            },
          },
          {
            type: 'object',
            description: 'a change of one member (enum: one value)',
            required: ['from', 'to', 'series', 'what', 'member', 'before', 'after'],
            additionalProperties: false,
            properties: {
              from: { type: 'string' },
              to: { type: 'string' },
              series: seriesProp,
              what: { type: 'string', enum: ['added', 'removed', 'offset', 'size', 'type', 'value'] },
              member: { type: 'string', description: 'the member (or enum value); a repeated name is NAME#2, NAME#3, …' },
              before: changeSide,
              after: changeSide,
              probable_rename: { type: 'string', description: 'a removed and an added member that look like a rename: the other one' },
            },
          },
        ],
      },
    },
    timeline: timelineSchema(typeValueSchema),
    summary: { type: 'string', description: 'the main lines in one sentence' },
    not_ingested: notIngestedSchema,
  },
} as const;

export const healthSchema = {
  type: 'object',
  required: ['status', 'kernels'],
  additionalProperties: false,
  properties: { status: { type: 'string', enum: ['ok'] }, kernels: { type: 'integer' } },
} as const;

/** Response entries for the problem statuses a route can answer with. */
export function problems(...statuses: number[]): Record<number, unknown> {
  const out: Record<number, unknown> = {};
  for (const s of statuses) {
    out[s] = { description: 'problem details', content: { 'application/problem+json': { schema: { $ref: 'problem#' } } } };
  }
  return out;
}

/** Every shared schema, added once to the instance. */
export const SHARED_SCHEMAS = [problemSchema, memberSchema, kernelInfoSchema];

/** A property of {@link orderedObject}: name, schema, and whether it may be absent. */
type Prop = [name: string, schema: Record<string, unknown>, optional?: 'optional'];

/**
 * An object whose keys keep their order while some may be absent: fast-json-stringify writes required keys
 * first, so each combination of present optional keys is its own variant with every key required (2^k variants
 * for k optional keys; keep k small).
 */
export function orderedObject(props: Prop[], description?: string): Record<string, unknown> {
  const optional = props.filter((p) => p[2] === 'optional').map((p) => p[0]);
  const variants: Record<string, unknown>[] = [];
  for (let mask = 0; mask < 1 << optional.length; mask++) {
    const present = props.filter((p) => p[2] !== 'optional' || (mask & (1 << optional.indexOf(p[0]))) !== 0);
    variants.push({
      type: 'object',
      required: present.map((p) => p[0]),
      additionalProperties: false,
      properties: Object.fromEntries(present.map((p) => [p[0], p[1]])),
    });
  }
  const out = variants.length === 1 ? variants[0] : { anyOf: variants };
  return description ? { ...out, description } : out;
}

const str = { type: 'string' };
const kindOfType = { type: 'string', enum: ['struct', 'union', 'enum', 'func', 'typedef'] };

const diffCounts = {
  type: 'object',
  required: ['breaking', 'layout', 'additive'],
  additionalProperties: false,
  properties: { breaking: { type: 'integer' }, layout: { type: 'integer' }, additive: { type: 'integer' } },
} as const;

/** `summary` of a diff answer: counts of the changes shown; `kinds` with summary=true, `total` with a filter. */
const diffSummarySchema = {
  type: 'object',
  required: ['breaking', 'layout', 'additive'],
  additionalProperties: false,
  properties: {
    ...diffCounts.properties,
    kinds: {
      type: 'object',
      description: 'with summary=true: the changes shown, counted per kind of type',
      required: ['struct', 'union', 'enum', 'func', 'typedef'],
      additionalProperties: false,
      properties: { struct: diffCounts, union: diffCounts, enum: diffCounts, func: diffCounts, typedef: diffCounts },
    },
    total: { ...diffCounts, description: 'with a filter: the counts of the whole, unfiltered diff' },
  },
} as const;

const diffAmbiguousSchema = {
  type: 'array',
  description: 'names with several definitions in both kernels (more than one in either): not compared',
  items: orderedObject([
    ['kind', kindOfType],
    ['name', str],
    ['module', str, 'optional'],
    ['old_count', { type: 'integer' }],
    ['new_count', { type: 'integer' }],
  ]),
} as const;

/** The filters of a diff answer, echoed (only those given). */
const diffFiltersSchema = {
  type: 'object',
  description: 'with a filter: the filters applied',
  additionalProperties: false,
  properties: {
    severity: { type: 'array', items: { type: 'string', enum: ['breaking', 'layout', 'additive'] } },
    kind: { type: 'array', items: kindOfType },
    name: { type: 'string', description: 'shell glob on the type name' },
  },
} as const;

/** `diff --json` / `GET /v1/diff` (libs/diff `KernelDiff`, or its filtered `DiffView`). */
export const kernelDiffSchema = {
  type: 'object',
  required: ['from', 'to', 'changes', 'summary', 'ambiguous'],
  additionalProperties: false,
  properties: {
    from: str,
    to: str,
    changes: {
      type: 'array',
      items: orderedObject([
        ['kind', kindOfType],
        ['name', str],
        ['module', { type: 'string', description: 'the module of the type; absent for vmlinux' }, 'optional'],
        ['member', { type: 'string', description: 'the member or enum constant; absent for a change of the type itself' }, 'optional'],
        ['change', { type: 'string', enum: ['added', 'removed', 'size', 'offset', 'type', 'bitfield', 'value', 'signature', 'linkage', 'kfunc', 'tags'] }],
        ['before', changeSide],
        ['after', changeSide],
        ['severity', { type: 'string', enum: ['breaking', 'layout', 'additive'] }],
        ['probable_rename', { type: 'string', description: 'on a removed and an added member that look like a rename: the other one' }, 'optional'],
        ['reason', { type: 'string', description: 'why this severity' }],
      ], 'one classified change'),
    },
    summary: diffSummarySchema,
    ambiguous: diffAmbiguousSchema,
    filters: diffFiltersSchema,
  },
} as const;

/** `diff --summary --json` / `GET /v1/diff?summary=true`: the counts only, no `changes`. */
export const kernelDiffSummarySchema = {
  type: 'object',
  required: ['from', 'to', 'summary', 'ambiguous'],
  additionalProperties: false,
  properties: { from: str, to: str, summary: diffSummarySchema, ambiguous: diffAmbiguousSchema, filters: diffFiltersSchema },
} as const;
