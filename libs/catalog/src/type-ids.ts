/**
 * `@btf-atlas/catalog/type-ids`: each kernel's vmlinux BTF type ids of its named structs, unions, enums and
 * typedefs (tables `type_id_lists`, one row per distinct list, and `kernel_type_ids`; written by ingest; migration
 * 0005).
 *
 * Shapes are shared between kernels, type ids are not: the same `struct task_struct` is id 112 in one build and
 * 118 in the next. The CO-RE dry run needs a kernel's ids only where libbpf writes one into the program
 * (TYPE_ID_TARGET, `bpf_core_type_id_kernel()`); with this table it resolves such an object once per group of
 * kernels whose shapes agree (libs/dryrun shape-key.ts) and reads each kernel's own id here, instead of loading
 * every kernel's BTF.
 *
 * Stored compactly (about 4 bytes a type, 12k types in a 6.12 vmlinux): a version byte, the entry count, then per
 * type in id order the id's distance from the previous one (LEB128) and a 24-bit key of its kind and name
 * ({@link typeIdKey}). A key is not the name: a lookup answers the id when exactly one entry has the key, and says
 * `many` otherwise. The caller knows from the kernel's shapes that the name is there (else it needs no id), so one
 * entry is that name's; two are two definitions, or a collision with another name (about 1 lookup in 1,400 on a
 * 12k-type kernel), and the caller falls back to the kernel's BTF.
 */
import { createHash } from 'node:crypto';
import type { Catalog } from './db.js';
import { CatalogError } from './errors.js';
import { fnv1a, type ShapeKind } from './normalize.js';

/** The kinds whose ids are recorded: what a TYPE_ID_TARGET relocation's candidates can be that the catalog keys. */
export type TypeIdKind = Extract<ShapeKind, 'struct' | 'union' | 'enum' | 'typedef'>;

const FORMAT_VERSION = 1;

/** The 24-bit key of a kind and name ({@link fnv1a} of `kind name`, folded). Part of the stored data. */
export function typeIdKey(kind: TypeIdKind, name: string): number {
  const h = fnv1a(typeIdLabel(kind, name));
  return ((h >>> 24) ^ h) & 0xffffff;
}

/** The stored form of a kernel's ids: entries `[id, kind, name]` in increasing id order. */
export function encodeTypeIds(entries: Iterable<readonly [id: number, kind: TypeIdKind, name: string]>): Buffer {
  const out: number[] = [FORMAT_VERSION];
  const body: number[] = [];
  let count = 0;
  let prev = 0;
  for (const [id, kind, name] of entries) {
    if (!(id > prev)) throw new RangeError(`type ids must increase (${id} after ${prev})`);
    pushVarint(body, id - prev);
    const key = typeIdKey(kind, name);
    body.push(key & 0xff, (key >>> 8) & 0xff, key >>> 16);
    prev = id;
    count++;
  }
  pushVarint(out, count);
  return Buffer.from(out.concat(body));
}

function pushVarint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

/** A stored list with its content hash (the first 16 bytes of its sha256), as table `type_id_lists` keeps it. */
export function typeIdListOf(ids: Buffer): { ids: Buffer; hash: Buffer } {
  return { ids, hash: createHash('sha256').update(ids).digest().subarray(0, 16) };
}

/** What a kernel's ids say of one kind and name: its id, `none` (no entry has its key), or `many`. */
export type TypeIdAnswer = number | 'none' | 'many';

/**
 * The answers of a stored list for these keys (one pass over it). Throws CatalogError (CATALOG_CORRUPT) for a list
 * that does not decode.
 */
export function findTypeIds(stored: Uint8Array, keys: readonly number[]): Map<number, TypeIdAnswer> {
  const out = new Map<number, TypeIdAnswer>(keys.map((k) => [k, 'none']));
  const bad = (why: string): never => {
    throw new CatalogError('CATALOG_CORRUPT', `kernel_type_ids: ${why}`);
  };
  if (stored[0] !== FORMAT_VERSION) bad(`unknown format ${stored[0]}`);
  let p = 1;
  const varint = (): number => {
    let v = 0;
    let scale = 1;
    for (;;) {
      if (p >= stored.length || scale > 2 ** 28) bad('truncated or overlong number');
      const b = stored[p++];
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 128;
    }
  };
  const count = varint();
  let id = 0;
  for (let i = 0; i < count; i++) {
    id += varint();
    if (p + 3 > stored.length) bad('truncated entry');
    const key = stored[p] | (stored[p + 1] << 8) | (stored[p + 2] << 16);
    p += 3;
    const was = out.get(key);
    if (was === undefined) continue;
    out.set(key, was === 'none' ? id : 'many');
  }
  return out;
}

/** `kind name`, how the maps of {@link kernelTypeIds} key a type. */
export function typeIdLabel(kind: TypeIdKind, name: string): string {
  return `${kind} ${name}`;
}

/**
 * The vmlinux type ids of `wanted` in each of these kernels (row ids), keyed by {@link typeIdLabel}. A kernel
 * ingested before ids were recorded has no entry.
 */
export function kernelTypeIds(
  catalog: Catalog, kernelIds: Iterable<number>, wanted: readonly { kind: TypeIdKind; name: string }[],
): Map<number, Map<string, TypeIdAnswer>> {
  const ids = [...new Set(kernelIds)];
  const out = new Map<number, Map<string, TypeIdAnswer>>();
  if (ids.length === 0 || wanted.length === 0) return out;
  const keys = wanted.map((w) => typeIdKey(w.kind, w.name));
  const rows = catalog.sqlite
    .prepare('SELECT kernel_id AS kernelId, list_id AS listId FROM kernel_type_ids WHERE kernel_id IN (SELECT value FROM json_each(?))')
    .all(JSON.stringify(ids)) as { kernelId: number; listId: number }[];
  // Each list read and searched once, however many kernels share it.
  const lists = new Map<number, Map<string, TypeIdAnswer>>();
  const readList = catalog.sqlite.prepare('SELECT ids FROM type_id_lists WHERE id = ?').pluck();
  for (const r of rows) {
    let answers = lists.get(r.listId);
    if (!answers) {
      const stored = readList.get(r.listId) as Buffer | undefined;
      if (!stored) throw new CatalogError('CATALOG_CORRUPT', `kernel_type_ids: kernel ${r.kernelId} refers to type id list ${r.listId}, which is not there`);
      const found = findTypeIds(stored, keys);
      lists.set(r.listId, (answers = new Map(wanted.map((w, i) => [typeIdLabel(w.kind, w.name), found.get(keys[i]) as TypeIdAnswer]))));
    }
    out.set(r.kernelId, answers);
  }
  return out;
}
