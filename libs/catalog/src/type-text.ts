import { Btf, extractBtf, paholeByName, paholeDefinitions, paholeType, type PaholeKind } from '@btf-atlas/btf';
import { loadKernelBtf } from './archive.js';
import { BlobStore, sha256Hex } from './blob-store.js';
import type { Catalog } from './db.js';
import { CatalogError } from './errors.js';
import { bucketOf } from './normalize.js';
import { findKernel, parseTypeName } from './queries.js';
import { readSets } from './sets.js';
import { closestNames } from './suggest.js';

/**
 * `type NAME --kernel K` as text: what `pahole -C NAME` prints for the kernel's BTF (libs/btf pahole.ts), read
 * from the catalog's stored BTF. A name the vmlinux BTF does not define is looked for in the kernel's modules,
 * each read as split BTF on the vmlinux BTF (what `pahole --btf_base vmlinux -C NAME MODULE.btf` prints).
 */

export interface TypeTextOptions {
  /** Where the catalog keeps its blobs (default: `<catalog>.blobs/`, {@link BlobStore.forCatalog}). */
  blobs?: BlobStore;
  /**
   * Every definition of the name, in vmlinux then in each module (by module name), each as pahole prints one,
   * instead of only the one `pahole -C NAME` prints (the first in type-id order; BTF may define a name several
   * times). Default false.
   */
  all?: boolean;
}

/** One definition as {@link typeTexts} returns it. */
export interface TypeTextDefinition {
  /** The module that defines it, '' for vmlinux. */
  module: string;
  /** Its type id in that BTF (split BTF ids continue vmlinux's). */
  id: number;
  /** pahole's text for it, ending with `};` and a blank line as pahole's output does. */
  text: string;
}

const ALL_KINDS: readonly PaholeKind[] = ['struct', 'union', 'enum', 'typedef'];

/**
 * The pahole text of NAME in kernel KREF: by default exactly what `pahole -C NAME` prints for the kernel's vmlinux
 * BTF (for a name only modules define: for the first such module by name, on its base); with `all`, every
 * definition. `struct foo` / `union foo` / `enum foo` narrow the kinds looked at. Throws CatalogError:
 * KERNEL_NOT_FOUND, TYPE_NOT_FOUND (with close names) when neither vmlinux nor a module defines it, CATALOG_CORRUPT
 * when stored BTF is missing from the blob store.
 */
export async function typeText(catalog: Catalog, typeName: string, kref: string, opts: TypeTextOptions = {}): Promise<string> {
  return (await typeTexts(catalog, typeName, kref, opts)).map((d) => d.text).join('');
}

/** {@link typeText}, one entry per definition printed (with the module it comes from). */
export async function typeTexts(catalog: Catalog, typeName: string, kref: string, opts: TypeTextOptions = {}): Promise<TypeTextDefinition[]> {
  const kernel = findKernel(catalog, kref);
  // Any kind `pahole -C` prints: struct, union, enum, typedef.
  const { name, kinds } = parseTypeName(typeName, ALL_KINDS);
  const blobs = opts.blobs ?? BlobStore.forCatalog(catalog.path);
  const vmlinux = Btf.parse(await loadKernelBtf(catalog, blobs, kref));
  const out: TypeTextDefinition[] = [];
  const inVmlinux = paholeDefinitions(vmlinux, name, kinds);
  if (inVmlinux.length > 0) {
    if (!opts.all) return [{ module: '', id: inVmlinux[0], text: paholeByName(vmlinux, name, { kinds }) }];
    for (const id of inVmlinux) out.push({ module: '', id, text: paholeType(vmlinux, id) });
  }
  for (const module of modulesDefining(catalog, kernel.id, name, kinds)) {
    const btf = Btf.parse(await moduleBtf(catalog, blobs, kernel, module), { base: vmlinux });
    const own = paholeDefinitions(btf, name, kinds).filter((id) => btf.ownsId(id));
    if (own.length === 0) continue;
    if (!opts.all) return [{ module, id: own[0], text: paholeByName(btf, name, { kinds }) }];
    for (const id of own) out.push({ module, id, text: paholeType(btf, id) });
  }
  if (out.length === 0) {
    const names = catalog.sqlite
      .prepare(`SELECT DISTINCT name FROM shapes WHERE kind IN (${kinds.map(() => '?').join(',')}) AND name <> ''`)
      .pluck()
      .all(...kinds) as string[];
    throw new CatalogError('TYPE_NOT_FOUND', `no ${kindList(kinds)} named ${name} in ${kernel.kernel}`, closestNames(name, names));
  }
  return out;
}

function kindList(kinds: readonly string[]): string {
  return kinds.length === 1 ? kinds[0] : `${kinds.slice(0, -1).join(', ')} or ${kinds[kinds.length - 1]}`;
}

/** The kernel's modules that define NAME with one of these kinds, by name, from the kernel's shape set of NAME's bucket. */
function modulesDefining(catalog: Catalog, kernelId: number, name: string, kinds: readonly PaholeKind[]): string[] {
  const shapeIds = new Set(catalog.sqlite
    .prepare(`SELECT id FROM shapes WHERE name = ? AND kind IN (${kinds.map(() => '?').join(',')})`)
    .pluck()
    .all(name, ...kinds) as number[]);
  if (shapeIds.size === 0) return [];
  const setId = catalog.sqlite
    .prepare('SELECT set_id FROM kernel_sets WHERE kernel_id = ? AND bucket = ?')
    .pluck()
    .get(kernelId, bucketOf(name)) as number | undefined;
  if (setId === undefined) return [];
  const entries = readSets(catalog, [setId]).get(setId) ?? [];
  const modules = new Set(entries.filter((e) => e.module !== '' && shapeIds.has(e.shapeId)).map((e) => e.module));
  return [...modules].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

interface ModuleRow {
  btfSha256: string;
  sourceSha256: string | null;
}

/**
 * A module's raw split BTF: from the blob store, else extracted from where it came from (its own file, or the
 * kernel's source archive) and stored, its sha256 checked against the catalog's.
 */
export async function moduleBtf(catalog: Catalog, blobs: BlobStore, kernel: { id: number; kernel: string }, module: string): Promise<Uint8Array> {
  const row = catalog.sqlite
    .prepare('SELECT btf_sha256 AS btfSha256, source_sha256 AS sourceSha256 FROM modules WHERE kernel_id = ? AND name = ?')
    .get(kernel.id, module) as ModuleRow | undefined;
  if (!row) throw new CatalogError('CATALOG_CORRUPT', `module ${module} of ${kernel.kernel} has types in the catalog but no modules row`);
  if (blobs.has(row.btfSha256)) return blobs.get(row.btfSha256);
  let source: { sha256: string; name: string } | undefined;
  if (row.sourceSha256 !== null) {
    source = { sha256: row.sourceSha256, name: module };
  } else {
    const k = catalog.sqlite
      .prepare('SELECT source_sha256 AS sha256, source AS name FROM kernels WHERE id = ?')
      .get(kernel.id) as { sha256: string; name: string } | undefined;
    source = k;
  }
  if (!source || !blobs.has(source.sha256)) {
    throw new CatalogError('CATALOG_CORRUPT', `the btf of module ${module} of ${kernel.kernel} (sha256 ${row.btfSha256.slice(0, 12)}…) is missing from the blob store`);
  }
  const found = (await extractBtf(blobs.get(source.sha256), source.name)).find((b) => sha256Hex(b.bytes) === row.btfSha256);
  if (!found) {
    throw new CatalogError('CATALOG_CORRUPT', `the source of module ${module} of ${kernel.kernel} does not hold its btf (sha256 ${row.btfSha256.slice(0, 12)}…)`);
  }
  try {
    blobs.put(found.bytes, row.btfSha256);
  } catch {
    // A read-only blob store still answers; the next request extracts again.
  }
  return found.bytes;
}
