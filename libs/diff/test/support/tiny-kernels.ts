import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlobStore, jobDataOf, openCatalog, processIngest, scanPath } from '@btf-atlas/catalog';
import { BtfBuilder } from '../../../btf/test/support/builder.js';

/** The two tiny kernels, old and new (one series: their KREFs sort in this order). */
export const TINY_OLD = 'debian/12/x86_64/1.0.0-1-amd64';
export const TINY_NEW = 'debian/12/x86_64/1.0.0-2-amd64';

const SIGNED = 1;

/**
 * A tiny kernel BTF with one change of every kind between its `old` and `new` versions, and names defined
 * twice: `dup_gone` (two definitions, old only), `dup_new` (two identical copies, new only), `dup_both` (two
 * definitions in both, one of them changed) and `dup_grows` (one definition, then two).
 */
export function tinyKernelBtf(version: 'old' | 'new'): Uint8Array {
  const old = version === 'old';
  const b = new BtfBuilder();
  const int = b.int('int', 4, 32, SIGNED);
  const long = b.int('long int', 8, 64, SIGNED);
  const char = b.int('char', 1, 8, SIGNED);

  // sk_buff: grows, `mark` moves, `hash` appears (size layout, offset layout, added additive).
  if (old) b.struct('sk_buff', 8, [{ name: 'len', type: int, bitsOffset: 0 }, { name: 'mark', type: int, bitsOffset: 32 }]);
  else b.struct('sk_buff', 16, [{ name: 'len', type: int, bitsOffset: 0 }, { name: 'hash', type: int, bitsOffset: 32 }, { name: 'mark', type: int, bitsOffset: 64 }]);
  // sock: `sk_flags` goes (removed breaking).
  if (old) b.struct('sock', 16, [{ name: 'sk_flags', type: int, bitsOffset: 0 }, { name: 'sk_prot', type: long, bitsOffset: 64 }]);
  else b.struct('sock', 16, [{ name: 'sk_prot', type: long, bitsOffset: 64 }]);
  // union sk_addr: grows, gains `v6` (size layout, added additive).
  if (old) b.union('sk_addr', 4, [{ name: 'v4', type: int, bitsOffset: 0 }]);
  else b.union('sk_addr', 8, [{ name: 'v4', type: int, bitsOffset: 0 }, { name: 'v6', type: long, bitsOffset: 0 }]);
  // task_struct: `pid` int → long (size layout, type breaking).
  b.struct('task_struct', old ? 4 : 8, [{ name: 'pid', type: old ? int : long, bitsOffset: 0 }]);
  // Only in the old kernel: a struct (removed breaking), in the new one another (added additive).
  if (old) b.struct('old_only', 4, [{ name: 'x', type: int, bitsOffset: 0 }]);
  else b.struct('new_only', 1, [{ name: 'c', type: char, bitsOffset: 0 }]);
  // Names defined twice.
  if (old) {
    b.struct('dup_gone', 4, [{ name: 'a', type: int, bitsOffset: 0 }]);
    b.struct('dup_gone', 8, [{ name: 'a', type: long, bitsOffset: 0 }]);
  } else {
    b.struct('dup_new', 4, [{ name: 'b', type: int, bitsOffset: 0 }]);
    b.struct('dup_new', 4, [{ name: 'b', type: int, bitsOffset: 0 }]);
  }
  b.struct('dup_both', 4, [{ name: 'a', type: int, bitsOffset: 0 }]);
  b.struct('dup_both', 8, [{ name: old ? 'a' : 'b', type: long, bitsOffset: 0 }]);
  b.struct('dup_grows', 4, [{ name: 'a', type: int, bitsOffset: 0 }]);
  if (!old) b.struct('dup_grows', 8, [{ name: 'a', type: long, bitsOffset: 0 }]);
  // enum sk_state: TCP_B's value changes, TCP_C appears (value layout, added additive).
  b.enum('sk_state', 4, old ? [['TCP_A', 1], ['TCP_B', 2]] : [['TCP_A', 1], ['TCP_B', 3], ['TCP_C', 4]]);
  // typedef sk_len_t: int → long (type breaking).
  b.typedef('sk_len_t', old ? int : long);
  // func sk_alloc gains a parameter (signature breaking); sk_gone goes (removed breaking).
  const proto = old ? b.funcProto(int, [{ name: 'prio', type: int }]) : b.funcProto(int, [{ name: 'prio', type: int }, { name: 'flags', type: long }]);
  b.func('sk_alloc', proto);
  if (old) b.func('sk_gone', b.funcProto(int, []));
  return b.build();
}

/** Writes both tiny kernels as a btfhub-archive tree under `dir` and returns the tree's root. */
export function writeTinyArchive(dir: string): string {
  const root = join(dir, 'archive');
  const tree = join(root, 'debian/12/x86_64');
  mkdirSync(tree, { recursive: true });
  writeFileSync(join(tree, '1.0.0-1-amd64.btf'), tinyKernelBtf('old'));
  writeFileSync(join(tree, '1.0.0-2-amd64.btf'), tinyKernelBtf('new'));
  return root;
}

/** Ingests both tiny kernels into the catalog file `db` (in this process), then closes it. */
export async function ingestTinyKernels(dir: string, db: string): Promise<void> {
  const root = writeTinyArchive(dir);
  const catalog = openCatalog(db);
  try {
    const blobs = BlobStore.forCatalog(db);
    for (const item of scanPath(root)) await processIngest(jobDataOf(item), { catalog, blobs });
  } finally {
    catalog.close();
  }
}

/** What the diff TINY_OLD -> TINY_NEW holds (checked by the library, CLI and HTTP tests alike). */
export const TOTAL = { breaking: 7, layout: 5, additive: 5 };
/** Its counts per kind and severity (`--summary`, `summary=true`). */
export const KIND_COUNTS = {
  struct: { breaking: 4, layout: 3, additive: 3 },
  union: { breaking: 0, layout: 1, additive: 1 },
  enum: { breaking: 0, layout: 1, additive: 1 },
  func: { breaking: 2, layout: 0, additive: 0 },
  typedef: { breaking: 1, layout: 0, additive: 0 },
};
/** The names defined more than once in both kernels: not compared. */
export const AMBIGUOUS = [
  { kind: 'struct', name: 'dup_both', old_count: 2, new_count: 2 },
  { kind: 'struct', name: 'dup_grows', old_count: 1, new_count: 2 },
];
