import type { Btf } from './btf.js';
import { BtfKind } from './kinds.js';

/** Names a C compiler may give `long` / `unsigned long` in debug info (libbpf `determine_ptr_size`). */
const LONG_NAMES = new Set([
  'long', 'long int', 'int long', 'unsigned long', 'long unsigned', 'unsigned long int', 'unsigned int long',
  'long unsigned int', 'long int unsigned', 'int unsigned long', 'int long unsigned',
]);

/**
 * libbpf's `determine_ptr_size` rule: the size of the first INT of size 4 or 8 named like `long`, over the base's
 * types then the BTF's own; undefined when there is none. What libbpf's btf_dump (vmlinux.h) and the validator's
 * member checks go by; layout.ts's detectPointerSize also looks at pointer-sized DATASEC variables.
 */
export function longSizeOf(btf: Btf): number | undefined {
  if (btf.base) {
    const fromBase = longSizeOf(btf.base);
    if (fromBase !== undefined) return fromBase;
  }
  // Read from the records, not through btf.type(): no decoded-type cache is made for this (validation asks it).
  const { typeWords: w, strings } = btf;
  for (let id = btf.startId; id < btf.nextId; id++) {
    // The record header read inline (record.ts explains why): validation asks this of every record.
    const r = btf.recordWordIndex(id);
    if (((w[r + 1] >>> 24) & 0x1f) !== BtfKind.INT) continue;
    const size = w[r + 2];
    if ((size === 4 || size === 8) && LONG_NAMES.has(strings.tryGetRaw(w[r]) ?? '')) return size;
  }
  return undefined;
}
