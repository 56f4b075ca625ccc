import { assertNormalizedFor, type Catalog } from './db.js';
import { CatalogError } from './errors.js';
import type { KindDefinitions } from './in-kernel.js';
import { syscallFuncNames, syscallOfFunc } from './kind-names.js';
import { definitionsOfShapes, type Definition } from './queries.js';
import { namesOfKind, syscallShapes } from './search.js';
import { closestNames } from './suggest.js';

/**
 * `syscall NAME`: which of a syscall's BTF functions each kernel has: the arch wrappers
 * (`__x64_sys_NAME`, `__ia32_sys_NAME`, `__arm64_sys_NAME`…, what a `ksyscall`/kprobe program attaches to), the
 * compat wrappers (`__x64_compat_sys_NAME`…) apart, and the plain `sys_NAME` of kernels without wrappers
 * (kind-names.ts).
 */

/** A syscall in one kernel. */
export interface SyscallJson {
  name: string;
  /** Its native FUNCs present, wrappers in {@link SYSCALL_WRAPPER_PREFIXES} order, then `sys_NAME`. */
  funcs: string[];
  /** Its compat FUNCs present (`__x64_compat_sys_NAME`…, then `compat_sys_NAME`). */
  compat_funcs: string[];
  /** The wrapper prefixes of `funcs` (`x64`, `ia32`…; `sys` for a plain `sys_NAME`). */
  prefixes: string[];
}

/** The syscall's FUNCs of one kernel, in {@link syscallFuncNames} order (every copy and module counted once). */
function syscallJson(name: string, defs: Definition[]): SyscallJson[] {
  const order = syscallFuncNames(name);
  const present = [...new Set(defs.map((d) => d.name))].sort((a, b) => order.indexOf(a) - order.indexOf(b));
  const funcs: string[] = [];
  const compat: string[] = [];
  const prefixes: string[] = [];
  for (const fn of present) {
    // Every shape here was chosen for being a wrapper of NAME; the plain form passed its return-type check.
    const s = syscallOfFunc(fn, true);
    if (!s) continue;
    if (s.compat) compat.push(fn);
    else {
      funcs.push(fn);
      prefixes.push(s.prefix === '' ? 'sys' : s.prefix);
    }
  }
  return [{ name, funcs, compat_funcs: compat, prefixes }];
}


/**
 * Where syscall NAME (or one of its FUNCs, `__x64_sys_openat2`) is defined in every kernel, and how one kernel's
 * FUNCs read as a {@link SyscallJson}: what its history and its one-kernel answer share. SYSCALL_NOT_FOUND (close
 * names suggested) when no kernel has any of its FUNCs; CATALOG_NEEDS_REINDEX for a catalog of normalizer version 1.
 */
export function syscallDefinitions(catalog: Catalog, name: string): KindDefinitions<SyscallJson> {
  assertNormalizedFor(catalog, 2, 'syscall');
  const given = name.trim();
  const syscall = syscallOfFunc(given, true)?.syscall ?? given;
  const byKernel = definitionsOfShapes(catalog, syscallShapes(catalog, syscall));
  if (byKernel.size === 0) {
    throw new CatalogError('SYSCALL_NOT_FOUND', `no syscall named ${syscall} in the catalog (no ${syscallFuncNames(syscall).slice(0, 3).join(', ')}… func)`, closestNames(syscall, namesOfKind(catalog, 'syscall')));
  }
  return { name: syscall, byKernel, json: (defs) => syscallJson(syscall, defs) };
}
