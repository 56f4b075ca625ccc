/**
 * Response schemas of the answers about functions, tracepoints, syscalls, enums, enumerators and the name search
 * (libs/diff func-history.ts, tracepoint-history.ts, syscall-history.ts, enum-history.ts; libs/catalog funcs.ts, tracepoints.ts,
 * syscalls.ts, enums.ts, search.ts, in-kernel.ts).
 * As in schemas.ts, property order is the order the catalog builds its objects in: fast-json-stringify writes
 * required keys first, so an object whose optional keys sit between required ones is written as variants, one per
 * set of those keys that occurs ({@link variantsOf}); variants are few, as each costs the serializer a validation.
 */
import { SEARCH_KINDS } from '@btf-atlas/catalog/read';
import {
  changeSide, failedKernelsSchema, kernelFilterQuery, notIngestedSchema, seriesProp, timelineSchema, typeValueSchema,
} from './schemas.js';

type Schema = Record<string, unknown>;
/** A property: name, schema, and whether it may be absent. */
type Prop = [name: string, schema: Schema, optional?: 'optional'];

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const bool = { type: 'boolean' } as const;
const strings = { type: 'array', items: str } as const;

/**
 * An object with keys in this order. Optional keys after the last required one stay optional (fast-json-stringify
 * writes them last anyway, in this order); optional keys between required ones make one variant per entry of
 * `present` (the set of them that occurs), each with those keys required.
 */
function variantsOf(props: Prop[], present: readonly (readonly string[])[] = [[]], description?: string): Schema {
  let lastRequired = -1;
  props.forEach((p, i) => {
    if (p[2] !== 'optional') lastRequired = i;
  });
  const variants = present.map((keys) => {
    const kept = props.filter((p, i) => p[2] !== 'optional' || i > lastRequired || keys.includes(p[0]));
    const required = kept.filter((p) => p[2] !== 'optional' || keys.includes(p[0])).map((p) => p[0]);
    return { type: 'object', required, additionalProperties: false, properties: Object.fromEntries(kept.map((p) => [p[0], p[1]])) };
  });
  const out: Schema = variants.length === 1 ? variants[0] : { anyOf: variants };
  return description ? { ...out, description } : out;
}

/** `?distro=&release=&arch=` of the history routes, as the field and type histories take it. */
export const historyFilterQuery = kernelFilterQuery;

const TYPE_DESC_KINDS = ['void', 'int', 'float', 'ptr', 'array', 'struct', 'union', 'enum', 'fwd', 'typedef', 'func_proto'];

/** libs/catalog `TypeDesc`: what a parameter's or return value's type is, beside its C spelling. */
const typeDescSchema = variantsOf([
  ['kind', { type: 'string', enum: TYPE_DESC_KINDS, description: 'BTF kind once const/volatile/restrict and type tags are skipped' }],
  ['size', { type: 'integer', description: 'bytes behind typedefs (0 for void, functions, incomplete types)' }],
  ['signed', { type: 'boolean', description: 'an integer or enum behind typedefs: whether it is signed' }, 'optional'],
  ['base', { type: 'string', enum: TYPE_DESC_KINDS, description: 'a typedef: the kind behind it' }, 'optional'],
]);

/** A parameter as BTF names and types it. */
const paramSchema = variantsOf([
  ['name', { type: 'string', description: "as BTF has it; '' when unnamed" }],
  ['type', { type: 'string', description: 'C abstract declarator' }],
  ['desc', typeDescSchema],
  ['decl_tags', { ...strings, description: 'values of the DECL_TAGs on this parameter (present only when there are some)' }, 'optional'],
]);

const moduleProp: Prop = ['module', { type: 'string', description: 'the module whose BTF defines it (absent for vmlinux)' }, 'optional'];

const funcProps: Prop[] = [
  ['name', str],
  ['linkage', { type: 'string', enum: ['static', 'global', 'extern'], description: 'BTF_FUNC_STATIC, BTF_FUNC_GLOBAL, BTF_FUNC_EXTERN' }],
  ['kfunc', { type: 'boolean', description: 'a DECL_TAG `bpf_kfunc` (component_idx -1) marks the FUNC' }],
  ['decl_tags', { ...strings, description: 'values of every DECL_TAG on the FUNC itself (`bpf_kfunc`, `bpf_fastcall`, …), sorted' }],
  ['return', { type: 'string', description: 'C type of the return value' }],
  ['return_desc', typeDescSchema],
  ['params', { type: 'array', items: paramSchema }],
  ['variadic', bool],
  moduleProp,
];

const tracepointProps: Prop[] = [
  ['name', str],
  ['raw', {
    type: ['object', 'null'],
    required: ['typedef', 'context', 'params', 'return', 'return_desc'],
    additionalProperties: false,
    properties: {
      typedef: { type: 'string', description: '`btf_trace_NAME`' },
      context: { ...paramSchema, type: ['object', 'null'], description: 'the first parameter as BTF has it: the `void *` context' },
      params: { type: 'array', items: paramSchema, description: "the tracepoint's own arguments, after the context" },
      return: str,
      return_desc: typeDescSchema,
    },
    description: 'the raw tracepoint (`typedef btf_trace_NAME`, a pointer to a FUNC_PROTO); null when the kernel lacks it',
  }],
  ['event', {
    type: ['object', 'null'],
    required: ['struct', 'size', 'members'],
    additionalProperties: false,
    properties: { struct: { type: 'string', description: '`trace_event_raw_NAME`' }, size: int, members: { type: 'array', items: { $ref: 'member#' }, description: 'flattened members' } },
    description: 'the classic event record (`struct trace_event_raw_NAME`, flattened members); null when the kernel lacks it',
  }],
  moduleProp,
];

const syscallProps: Prop[] = [
  ['name', str],
  ['funcs', { ...strings, description: 'its native FUNCs present: `__x64_sys_NAME`, `__ia32_sys_NAME`, `__arm64_sys_NAME`, …, then `sys_NAME`' }],
  ['compat_funcs', { ...strings, description: 'its compat FUNCs present: `__x64_compat_sys_NAME`, `__ia32_compat_sys_NAME`, …' }],
  ['prefixes', { ...strings, description: 'the wrapper prefixes of `funcs` (`x64`, `ia32`, `arm64`…; `sys` for a plain `sys_NAME`)' }],
];

const enumValue = { type: ['integer', 'string'], description: 'a JSON number when it fits in 2^53, else a decimal string' } as const;

const enumProps: Prop[] = [
  ['name', str],
  ['size', int],
  ['signed', bool],
  ['values', { type: 'array', items: { type: 'object', required: ['name', 'value'], additionalProperties: false, properties: { name: str, value: enumValue } } }],
  moduleProp,
];

const enumeratorProps: Prop[] = [
  ['name', str],
  ['value', enumValue],
  ['enum', { type: 'string', description: 'the enum holding it, or `(anon)`' }],
  ['first_enumerator', { type: 'string', description: "the enum's first enumerator: what tells anonymous enums apart" }],
  ['size', int],
  ['signed', bool],
  moduleProp,
];

/** A kernel's answer of one kind: `{ kernel, <key>: [every definition] }`. */
function inKernelSchema(key: string, props: Prop[], description: string) {
  return {
    type: 'object',
    required: ['kernel', key],
    additionalProperties: false,
    properties: { kernel: str, [key]: { type: 'array', items: variantsOf(props), description } },
  };
}

export const funcInKernelSchema = inKernelSchema('funcs', funcProps, 'every definition of the name in the kernel, vmlinux first, then modules by name');
export const tracepointInKernelSchema = inKernelSchema('tracepoints', tracepointProps, 'the tracepoint of vmlinux, then of modules');
export const syscallInKernelSchema = inKernelSchema('syscalls', syscallProps, 'the FUNCs of the syscall the kernel has');
export const enumInKernelSchema = inKernelSchema('enums', enumProps, 'every definition of the enum in the kernel, vmlinux first');
export const enumeratorInKernelSchema = inKernelSchema('enumerators', enumeratorProps, 'every enum of the kernel holding the enumerator, vmlinux first');

/** A kernel's entry of a history: the definition inline, or several in `definitions`, or missing. */
function entrySchema(props: Prop[]): Schema {
  const head: Prop[] = [['kernel', str], ['series', seriesProp]];
  const present: Prop = ['status', { type: 'string', enum: ['present'] }];
  const inline = variantsOf([...head, present, ...props]);
  const several = variantsOf([...head, present, ['definitions', { type: 'array', items: variantsOf(props), description: 'every definition, when the kernel has several (vmlinux first)' }]]);
  const missing = variantsOf([...head, ['status', { type: 'string', enum: ['missing'] }]]);
  const list = (s: Schema): Schema[] => (Array.isArray(s.anyOf) ? (s.anyOf as Schema[]) : [s]);
  return { anyOf: [...list(inline), ...list(several), missing] };
}

/** The stamp and class of a change: both kernels, their series, `what`. */
const changeHead = (whats: readonly string[]): Prop[] => [['from', str], ['to', str], ['series', seriesProp], ['what', { type: 'string', enum: [...whats] }]];
const sides: Prop[] = [['before', changeSide], ['after', changeSide]];
const abiProp: Prop = ['abi', { type: 'string', enum: ['same', 'changed'], description: 'a type change: `same` when the value is passed alike (class, size, signedness), else `changed`' }, 'optional'];
const paramProps: Prop[] = [
  ['param', { type: 'string', description: 'the parameter (its name in the kernel that has it)' }, 'optional'],
  ['index', { type: 'integer', description: 'its position from 0 (-1: the tracepoint context)' }, 'optional'],
];

/** A history answer: NAME under `key`, the kernels, the changes, timeline, summary, and the notes. */
function historySchema(key: string, props: Prop[], change: Schema, value: Schema, description: string) {
  return {
    type: 'object',
    required: [key, 'kernels', 'changes', 'timeline', 'summary'],
    additionalProperties: false,
    description,
    properties: {
      [key]: str,
      kernels: { type: 'array', items: entrySchema(props), description: 'in kernel order' },
      changes: { type: 'array', items: change, description: 'between neighbours in kernel order within each distro/release/arch/flavour series' },
      timeline: timelineSchema(value),
      summary: { type: 'string', description: 'the main lines in one sentence' },
      failed_kernels: failedKernelsSchema,
      not_ingested: notIngestedSchema,
    },
  };
}

const missingValue = { type: 'object', required: ['status'], additionalProperties: false, properties: { status: { type: 'string', enum: ['missing'] } } } as const;

export const funcHistorySchema = historySchema(
  'func',
  funcProps,
  variantsOf(
    [
      ...changeHead(['added', 'removed', 'params', 'return', 'linkage', 'kfunc', 'tags', 'module']),
      ['change', {
        type: 'string',
        enum: ['added', 'removed', 'param_added', 'param_removed', 'param_type', 'param_renamed', 'variadic', 'return_type', 'linkage', 'kfunc', 'tags', 'module'],
        description: 'the finer class of `what`',
      }],
      ...paramProps, ...sides, abiProp,
    ],
    [[], ['param', 'index']],
  ),
  {
    anyOf: [
      variantsOf([['status', { type: 'string', enum: ['present'] }], ['linkage', str], ['kfunc', bool], ['prototype', { type: 'string', description: 'the types of the prototype: `int (struct sock *, int)`' }], ['definitions', int, 'optional']]),
      missingValue,
    ],
  },
  "a function's prototype, linkage, kfunc flag and decl tags per kernel (`func NAME --history --json`)",
);

export const tracepointHistorySchema = historySchema(
  'tracepoint',
  tracepointProps,
  variantsOf(
    [
      ...changeHead(['added', 'removed', 'raw', 'event']),
      ['change', {
        type: 'string',
        enum: ['added', 'removed', 'raw_added', 'raw_removed', 'param_added', 'param_removed', 'param_type', 'param_renamed', 'event_added', 'event_removed', 'event_size', 'member_added', 'member_removed', 'member_offset', 'member_size', 'member_type'],
        description: 'the finer class of `what`',
      }],
      ...paramProps,
      ['member', { type: 'string', description: 'an event record member (a repeated name is NAME#2, …)' }, 'optional'],
      ...sides, abiProp,
      ['probable_rename', { type: 'string', description: 'a removed and an added member that look like a rename: the other one' }, 'optional'],
    ],
    [[], ['param', 'index'], ['member']],
  ),
  {
    anyOf: [
      {
        type: 'object',
        required: ['status', 'raw', 'event'],
        additionalProperties: false,
        properties: {
          status: { type: 'string', enum: ['present'] },
          raw: { type: ['string', 'null'], description: 'the raw prototype\'s types' },
          event: { type: ['object', 'null'], required: ['size', 'members', 'digest'], additionalProperties: false, properties: { size: int, members: int, digest: str } },
        },
      },
      missingValue,
    ],
  },
  "a tracepoint's raw prototype and event record per kernel (`tracepoint NAME --history --json`)",
);

export const syscallHistorySchema = historySchema(
  'syscall',
  syscallProps,
  variantsOf(
    [
      ...changeHead(['added', 'removed', 'funcs']),
      ['change', { type: 'string', enum: ['added', 'removed', 'func_added', 'func_removed'] }],
      ['func', str, 'optional'],
      ['compat', bool, 'optional'],
      ...sides,
    ],
    [[], ['func', 'compat']],
  ),
  {
    anyOf: [
      { type: 'object', required: ['status', 'funcs', 'compat_funcs'], additionalProperties: false, properties: { status: { type: 'string', enum: ['present'] }, funcs: strings, compat_funcs: strings } },
      missingValue,
    ],
  },
  "which of a syscall's FUNCs each kernel has (`syscall NAME --history --json`)",
);

export const enumHistorySchema = historySchema(
  'enum',
  enumProps,
  variantsOf(
    [
      ...changeHead(['added', 'removed', 'kind', 'size', 'offset', 'type', 'value']),
      ['member', { type: 'string', description: 'the enumerator (a repeated name is NAME#2, …)' }, 'optional'],
      ...sides,
      ['probable_rename', { type: 'string', description: 'an enumerator removed and one added with its value (a rename): the other one' }, 'optional'],
    ],
    [[], ['member']],
  ),
  typeValueSchema,
  "an enum's size and values per kernel (`enum NAME --history --json`)",
);

export const enumeratorHistorySchema = historySchema(
  'enumerator',
  enumeratorProps,
  variantsOf([...changeHead(['added', 'removed', 'value', 'moved']), ...sides]),
  {
    anyOf: [
      variantsOf([
        ['status', { type: 'string', enum: ['present'] }], ['value', enumValue], ['enum', str], ['first_enumerator', str], ['definitions', int, 'optional'],
      ]),
      missingValue,
    ],
  },
  "an enumerator's value and enum per kernel (`enumerator NAME --history --json`)",
);

const searchKind = { type: 'string', enum: [...SEARCH_KINDS] } as const;

/** `search TEXT --json` / `GET /v1/search`. */
export const searchSchema = {
  type: 'object',
  required: ['query', 'kinds', 'results'],
  additionalProperties: false,
  properties: {
    query: str,
    kinds: { type: 'array', items: searchKind, description: 'the kinds searched' },
    results: {
      type: 'array',
      description: 'the name itself, names starting with the text (any case), then close names',
      items: {
        type: 'object',
        required: ['name', 'kinds', 'kernels', 'match'],
        additionalProperties: false,
        properties: {
          name: str,
          kinds: { type: 'array', items: searchKind },
          kernels: { type: 'integer', description: 'how many kernels of the catalog have it as one of those kinds' },
          match: { type: 'string', enum: ['exact', 'prefix', 'fuzzy'] },
        },
      },
    },
  },
} as const;
