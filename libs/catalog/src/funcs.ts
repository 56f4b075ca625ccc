import { assertNormalizedFor, type Catalog } from './db.js';
import { withCopies, perShape } from './definition-json.js';
import { CatalogError } from './errors.js';
import type { KindDefinitions } from './in-kernel.js';
import { KFUNC_TAG } from './kind-names.js';
import { readTypeDesc, spelled, type FuncBody, type FuncLinkage, type ProtoBody, type TypeDesc } from './normalize.js';
import { definitionsByKernel, findKernel, type Definition } from './queries.js';
import { namesOfKind } from './search.js';
import { closestNames } from './suggest.js';

/**
 * `func NAME [--kernel KREF | --history]`: a kernel function as BTF describes it (the FUNC record, its
 * FUNC_PROTO and the DECL_TAGs on it), in one kernel or across the catalog's kernels.
 */

/** A parameter as the answers show it: its name ('' when BTF has none), C spelling, description and decl tags. */
export interface ParamJson {
  name: string;
  type: string;
  desc: TypeDesc;
  /** Values of the DECL_TAGs on this parameter (component_idx = its index); present only when there are some. */
  decl_tags?: string[];
}

/** One definition of a func (`func NAME --kernel KREF --json`, and each kernel of its history). */
export interface FuncJson {
  name: string;
  linkage: FuncLinkage;
  /** True when a DECL_TAG `bpf_kfunc` (component_idx -1) marks the FUNC: a kfunc BPF programs may call. */
  kfunc: boolean;
  /** Values of every DECL_TAG with component_idx -1 on the FUNC (`bpf_kfunc`, `bpf_fastcall`…), sorted. */
  decl_tags: string[];
  return: string;
  return_desc: TypeDesc;
  params: ParamJson[];
  /** The prototype ends in `...`. */
  variadic: boolean;
  /** The module whose BTF defines it; absent for vmlinux. */
  module?: string;
}

/** `func NAME --kernel KREF --json`: every definition of the name in that kernel (vmlinux's first). */
export interface FuncInKernelJson {
  kernel: string;
  funcs: FuncJson[];
}

/** A kernel's entry in a func history. */
/** The parameters of a prototype as JSON. */
export function paramsJson(p: ProtoBody, tags?: string[][]): ParamJson[] {
  return p.params.map(([name, type], i): ParamJson => {
    const out: ParamJson = { name, type: spelled(type), desc: readTypeDesc(p.paramDescs[i]) };
    const t = tags?.[i];
    if (t && t.length > 0) out.decl_tags = t;
    return out;
  });
}

/** The prototype's types in C: `int (struct sock *, int)`, `void (void)`, `int (const char *, ...)`. */
export function prototypeText(ret: string, params: { type: string }[], variadic: boolean): string {
  const list = params.map((p) => p.type);
  if (variadic) list.push('...');
  return `${ret} (${list.length > 0 ? list.join(', ') : 'void'})`;
}

/** A func definition as JSON. */
export function funcJson(name: string, d: Definition): FuncJson {
  const body = JSON.parse(d.body) as FuncBody;
  const tags = body.tags ?? [];
  return {
    name, linkage: body.linkage, kfunc: tags.includes(KFUNC_TAG), decl_tags: tags,
    return: spelled(body.ret), return_desc: readTypeDesc(body.retDesc), params: paramsJson(body, body.paramTags), variadic: body.variadic,
    ...(d.module !== '' ? { module: d.module } : {}),
  };
}

export function funcNotFound(catalog: Catalog, name: string, where: string): CatalogError {
  return new CatalogError('FUNC_NOT_FOUND', `no func named ${name} in ${where}`, closestNames(name, namesOfKind(catalog, 'func')));
}

/**
 * Every definition of func NAME in kernel KREF (`func NAME --kernel KREF --json`), vmlinux's first, then the
 * modules' by name. KERNEL_NOT_FOUND for an unknown kernel, FUNC_NOT_FOUND (close names suggested) when that
 * kernel has no FUNC of the name; CATALOG_NEEDS_REINDEX for a catalog of normalizer version 1.
 */
export function funcInKernel(catalog: Catalog, name: string, kref: string): FuncInKernelJson {
  assertNormalizedFor(catalog, 2, 'func');
  const kernel = findKernel(catalog, kref);
  const defs = definitionsByKernel(catalog, name.trim(), ['func']).get(kernel.id);
  if (!defs) throw funcNotFound(catalog, name.trim(), kernel.kernel);
  return { kernel: kernel.kernel, funcs: withCopies(defs, (d) => funcJson(name.trim(), d)) };
}

/**
 * Where func NAME is defined in every kernel, and how one kernel's definitions read as {@link FuncJson}s (each as
 * many times as the kernel has copies of it, vmlinux's first): what its history and its one-kernel answer share.
 * FUNC_NOT_FOUND (close names suggested) when no kernel has a FUNC of the name; CATALOG_NEEDS_REINDEX for a
 * catalog of normalizer version 1.
 */
export function funcDefinitions(catalog: Catalog, name: string): KindDefinitions<FuncJson> {
  assertNormalizedFor(catalog, 2, 'func');
  const fname = name.trim();
  const byKernel = definitionsByKernel(catalog, fname, ['func']);
  if (byKernel.size === 0) throw funcNotFound(catalog, fname, 'the catalog');
  const json = perShape((d) => funcJson(fname, d));
  return { name: fname, byKernel, json: (defs) => withCopies(defs, json) };
}
