/**
 * The one reader of BTF type records (include/uapi/linux/btf.h `struct btf_type`; btf.rst, "2.2 Type encoding"):
 * every dump, validator and the byte-order swapper reads the common record through these functions and takes
 * record lengths from the kind table ({@link KINDS}), like cilium/ebpf's `btfType` accessors.
 *
 * Records are read as host-order u32 words ({@link Btf.typeWords}, whatever the blob's byte order): `w` is the
 * index of a record's first word (`btf.recordWordIndex(id)`), which holds name_off; `w + 1` holds info (vlen in
 * bits 0-15, kind in bits 24-28, kind_flag in bit 31) and `w + 2` size_type (a size or a type id, after the kind:
 * {@link KIND_SIZE_TYPE}); kind-specific data starts at {@link recordData}. The functions are tiny and
 * monomorphic (a Uint32Array and small integers in, a small integer out) so the JIT inlines them into hot loops;
 * they make no objects. Bounds are the caller's: {@link Btf.parse} checked that every record fits its section.
 *
 * The loops that run once per record of a whole blob on a cold start (indexing in btf.ts, the libbpf sanity
 * check, the validator's meta and resolve passes, the raw JSON dump, the summary, the `long` size scan) read the
 * same three words inline (`w[p]`, `w[p + 1]`, `w[p + 2]`, `(info >>> 24) & 0x1f`, `info & 0xffff`,
 * `info >>> 31`) with this module's constants and the kind table's element sizes: until the JIT has compiled
 * such a loop, the interpreter pays for every call, and a call per field made them up to three times slower.
 */
import { BTF_TYPE_WORDS, KIND_ELEM_WORDS, KIND_FIXED_WORDS, KIND_KNOWN } from './kinds.js';

/** name_off: the record's name in the string section (0: anonymous). */
export function recordNameOff(words: Uint32Array, w: number): number {
  return words[w];
}

/** The whole info word (vlen, kind, kind_flag). */
export function recordInfo(words: Uint32Array, w: number): number {
  return words[w + 1];
}

/** The kind number (BTF_INFO_KIND: bits 24-28 of info), 0-31. */
export function recordKind(words: Uint32Array, w: number): number {
  return (words[w + 1] >>> 24) & 0x1f;
}

/** vlen (BTF_INFO_VLEN: bits 0-15 of info): members, enumerators, parameters, variables; a FUNC's linkage. */
export function recordVlen(words: Uint32Array, w: number): number {
  return words[w + 1] & 0xffff;
}

/** kind_flag (BTF_INFO_KFLAG: bit 31 of info). */
export function recordKindFlag(words: Uint32Array, w: number): boolean {
  return words[w + 1] >>> 31 !== 0;
}

/** size_type: a size in bytes or a type id, depending on the kind ({@link KIND_SIZE_TYPE}). */
export function recordSizeOrType(words: Uint32Array, w: number): number {
  return words[w + 2];
}

/** Index of the first word of kind-specific data (after the common record) of the record at `w`. */
export function recordData(w: number): number {
  return w + BTF_TYPE_WORDS;
}

/** BTF_INFO_KIND of an info word already read. */
export function infoKind(info: number): number {
  return (info >>> 24) & 0x1f;
}

/** BTF_INFO_VLEN of an info word already read. */
export function infoVlen(info: number): number {
  return info & 0xffff;
}

/** BTF_INFO_KFLAG of an info word already read. */
export function infoKindFlag(info: number): boolean {
  return info >>> 31 !== 0;
}

/**
 * Length in u32 words of a whole record (common part and kind-specific data) of `kind` (0-31, as
 * {@link infoKind} returns it) with `vlen` entries, from the kind table; -1 for kind 0 and kinds the table does
 * not know (only the optional layout section can size those).
 */
export function recordWords(kind: number, vlen: number): number {
  return KIND_KNOWN[kind] !== 1 ? -1 : BTF_TYPE_WORDS + KIND_FIXED_WORDS[kind] + vlen * KIND_ELEM_WORDS[kind];
}
