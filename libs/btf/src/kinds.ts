/**
 * BTF kinds, as numbered in the kernel's include/uapi/linux/btf.h (Documentation/bpf/btf.rst, "BTF Type Encoding").
 * The kernel version that introduced each kind is noted; bpftool prints the names below.
 */
export const BtfKind = {
  UNKN: 0,
  /** Linux 4.18 */
  INT: 1,
  /** Linux 4.18 */
  PTR: 2,
  /** Linux 4.18 */
  ARRAY: 3,
  /** Linux 4.18 */
  STRUCT: 4,
  /** Linux 4.18 */
  UNION: 5,
  /** Linux 4.18 */
  ENUM: 6,
  /** Linux 4.18 */
  FWD: 7,
  /** Linux 4.18 */
  TYPEDEF: 8,
  /** Linux 4.18 */
  VOLATILE: 9,
  /** Linux 4.18 */
  CONST: 10,
  /** Linux 4.18 */
  RESTRICT: 11,
  /** Linux 5.0 */
  FUNC: 12,
  /** Linux 5.0 */
  FUNC_PROTO: 13,
  /** Linux 5.2 */
  VAR: 14,
  /** Linux 5.2 */
  DATASEC: 15,
  /** Linux 5.13 */
  FLOAT: 16,
  /** Linux 5.16 */
  DECL_TAG: 17,
  /** Linux 5.17 */
  TYPE_TAG: 18,
  /** Linux 6.0 */
  ENUM64: 19,
} as const;

export type BtfKindName = Exclude<keyof typeof BtfKind, 'UNKN'>;

/** The highest kind number this decoder knows. */
export const BTF_KIND_MAX = 19;

/** Size in bytes of the common `struct btf_type` record (name_off, info, size/type). */
export const BTF_TYPE_SIZE = 12;

/** The common record in 32-bit words: every record starts with name_off, info and size/type. */
export const BTF_TYPE_WORDS = 3;

// Sizes of the structs that follow the common record (include/uapi/linux/btf.h), each a whole number of u32 words.
/** INT: one u32 of encoding (bits 24-27), bit offset (16-23) and bit count (0-7). */
export const BTF_INT_DATA_SIZE = 4;
/** ARRAY: struct btf_array { u32 type, index_type, nelems; }. */
export const BTF_ARRAY_SIZE = 12;
/** STRUCT/UNION: struct btf_member { u32 name_off, type, offset; }, one per vlen. */
export const BTF_MEMBER_SIZE = 12;
/** ENUM: struct btf_enum { u32 name_off; s32 val; }, one per vlen. */
export const BTF_ENUM_SIZE = 8;
/** FUNC_PROTO: struct btf_param { u32 name_off, type; }, one per vlen. */
export const BTF_PARAM_SIZE = 8;
/** VAR: struct btf_var { u32 linkage; }. */
export const BTF_VAR_SIZE = 4;
/** DATASEC: struct btf_var_secinfo { u32 type, offset, size; }, one per vlen. */
export const BTF_VAR_SECINFO_SIZE = 12;
/** DECL_TAG: struct btf_decl_tag { s32 component_idx; }. */
export const BTF_DECL_TAG_SIZE = 4;
/** ENUM64: struct btf_enum64 { u32 name_off, val_lo32, val_hi32; }, one per vlen. */
export const BTF_ENUM64_SIZE = 12;

/** What the third word of a record (`size_type`) holds for a kind. */
export const SizeType = {
  /** Nothing: must be 0 (ARRAY, FWD). */
  NONE: 0,
  /** The type's size in bytes (INT, STRUCT, UNION, ENUM, ENUM64, DATASEC, FLOAT). */
  SIZE: 1,
  /** A type id: the referenced type, a FUNC's prototype, a prototype's return type, a tag's target. */
  TYPE: 2,
} as const;
export type SizeType = (typeof SizeType)[keyof typeof SizeType];

/** Whether a kind's record may carry a name (btf.rst, "2.2 Type encoding", the `name_off` of each kind). */
export const NameRule = {
  /** name_off must be 0 (PTR, ARRAY, VOLATILE, CONST, RESTRICT, FUNC_PROTO). */
  NONE: 0,
  /** Named or anonymous (INT, STRUCT, UNION, ENUM, ENUM64, FLOAT). */
  OPTIONAL: 1,
  /** name_off must name something (FWD, TYPEDEF, FUNC, VAR, DATASEC, DECL_TAG, TYPE_TAG). */
  REQUIRED: 2,
} as const;
export type NameRule = (typeof NameRule)[keyof typeof NameRule];

/** One row of the kind table: what every reader of the wire format needs to know about a kind. */
export interface KindInfo {
  /** The kind number (BtfKind). */
  readonly kind: number;
  /** The name bpftool prints ("INT", "FUNC_PROTO"). */
  readonly name: BtfKindName;
  /** Bytes of kind-specific data after the common record, whatever the vlen (INT, ARRAY, VAR, DECL_TAG). */
  readonly fixedSize: number;
  /** Bytes of kind-specific data per vlen entry (members, enumerators, parameters, section variables). */
  readonly elemSize: number;
  /** What `size_type` holds ({@link SizeType}). */
  readonly sizeType: SizeType;
  /** Whether the record may have a name ({@link NameRule}). */
  readonly nameRule: NameRule;
}

const { NONE: N, SIZE: S, TYPE: T } = SizeType;
const { NONE: ANON, OPTIONAL: OPT, REQUIRED: REQ } = NameRule;

/**
 * The kind table, indexed by kind number (index 0 is undefined: no record has kind 0). A record of kind k with
 * vlen v is {@link BTF_TYPE_SIZE} + fixedSize + v * elemSize bytes long (btf.rst, "2.2 Type encoding"). Every
 * reader of records (decoder, dumps, validators, the byte-order swapper) takes sizes and rules from here.
 */
export const KINDS: readonly (KindInfo | undefined)[] = [
  undefined,
  { kind: BtfKind.INT, name: 'INT', fixedSize: BTF_INT_DATA_SIZE, elemSize: 0, sizeType: S, nameRule: OPT },
  { kind: BtfKind.PTR, name: 'PTR', fixedSize: 0, elemSize: 0, sizeType: T, nameRule: ANON },
  { kind: BtfKind.ARRAY, name: 'ARRAY', fixedSize: BTF_ARRAY_SIZE, elemSize: 0, sizeType: N, nameRule: ANON },
  { kind: BtfKind.STRUCT, name: 'STRUCT', fixedSize: 0, elemSize: BTF_MEMBER_SIZE, sizeType: S, nameRule: OPT },
  { kind: BtfKind.UNION, name: 'UNION', fixedSize: 0, elemSize: BTF_MEMBER_SIZE, sizeType: S, nameRule: OPT },
  { kind: BtfKind.ENUM, name: 'ENUM', fixedSize: 0, elemSize: BTF_ENUM_SIZE, sizeType: S, nameRule: OPT },
  { kind: BtfKind.FWD, name: 'FWD', fixedSize: 0, elemSize: 0, sizeType: N, nameRule: REQ },
  { kind: BtfKind.TYPEDEF, name: 'TYPEDEF', fixedSize: 0, elemSize: 0, sizeType: T, nameRule: REQ },
  { kind: BtfKind.VOLATILE, name: 'VOLATILE', fixedSize: 0, elemSize: 0, sizeType: T, nameRule: ANON },
  { kind: BtfKind.CONST, name: 'CONST', fixedSize: 0, elemSize: 0, sizeType: T, nameRule: ANON },
  { kind: BtfKind.RESTRICT, name: 'RESTRICT', fixedSize: 0, elemSize: 0, sizeType: T, nameRule: ANON },
  // FUNC's vlen is its linkage, not a count: no trailing data.
  { kind: BtfKind.FUNC, name: 'FUNC', fixedSize: 0, elemSize: 0, sizeType: T, nameRule: REQ },
  { kind: BtfKind.FUNC_PROTO, name: 'FUNC_PROTO', fixedSize: 0, elemSize: BTF_PARAM_SIZE, sizeType: T, nameRule: ANON },
  { kind: BtfKind.VAR, name: 'VAR', fixedSize: BTF_VAR_SIZE, elemSize: 0, sizeType: T, nameRule: REQ },
  { kind: BtfKind.DATASEC, name: 'DATASEC', fixedSize: 0, elemSize: BTF_VAR_SECINFO_SIZE, sizeType: S, nameRule: REQ },
  { kind: BtfKind.FLOAT, name: 'FLOAT', fixedSize: 0, elemSize: 0, sizeType: S, nameRule: OPT },
  { kind: BtfKind.DECL_TAG, name: 'DECL_TAG', fixedSize: BTF_DECL_TAG_SIZE, elemSize: 0, sizeType: T, nameRule: REQ },
  { kind: BtfKind.TYPE_TAG, name: 'TYPE_TAG', fixedSize: 0, elemSize: 0, sizeType: T, nameRule: REQ },
  { kind: BtfKind.ENUM64, name: 'ENUM64', fixedSize: 0, elemSize: BTF_ENUM64_SIZE, sizeType: S, nameRule: OPT },
];

/** Kind names indexed by kind number ("UNKN" for 0), as bpftool's btf_kind_str spells them (from {@link KINDS}). */
export const KIND_NAMES: readonly string[] = ['UNKN', ...KINDS.slice(1).map((k) => (k as KindInfo).name)];

/** bpftool's btf_kind_str: as {@link KIND_NAMES}, but kind 0 is "UNKNOWN". */
export const BPFTOOL_KIND_NAMES: readonly string[] = ['UNKNOWN', ...KIND_NAMES.slice(1)];

/** A column of {@link KINDS} as a 32-entry typed array (every 5-bit kind), for hot loops: `dflt` for unknown kinds. */
function column(get: (k: KindInfo) => number, dflt: number): Uint8Array {
  const out = new Uint8Array(32).fill(dflt);
  for (const k of KINDS) if (k) out[k.kind] = get(k);
  return out;
}

/** 1 for the kinds of {@link KINDS}, 0 for kind 0 and kinds this decoder does not know. Indexed by kind (0-31). */
export const KIND_KNOWN: Uint8Array = column(() => 1, 0);
/** {@link KindInfo.fixedSize} in u32 words, by kind (0 for unknown kinds). */
export const KIND_FIXED_WORDS: Uint8Array = column((k) => k.fixedSize >>> 2, 0);
/** {@link KindInfo.elemSize} in u32 words, by kind (0 for unknown kinds). */
export const KIND_ELEM_WORDS: Uint8Array = column((k) => k.elemSize >>> 2, 0);
/** {@link KindInfo.sizeType}, by kind ({@link SizeType.NONE} for unknown kinds). */
export const KIND_SIZE_TYPE: Uint8Array = column((k) => k.sizeType, SizeType.NONE);
/** {@link KindInfo.nameRule}, by kind ({@link NameRule.OPTIONAL} for unknown kinds: nothing is known). */
export const KIND_NAME_RULE: Uint8Array = column((k) => k.nameRule, NameRule.OPTIONAL);

/** u32 words of a struct/union member (name_off, type, offset). */
export const MEMBER_WORDS = BTF_MEMBER_SIZE >>> 2;
/** u32 words of an ENUM enumerator (name_off, val). */
export const ENUM_WORDS = BTF_ENUM_SIZE >>> 2;
/** u32 words of an ENUM64 enumerator (name_off, val_lo32, val_hi32). */
export const ENUM64_WORDS = BTF_ENUM64_SIZE >>> 2;
/** u32 words of a FUNC_PROTO parameter (name_off, type). */
export const PARAM_WORDS = BTF_PARAM_SIZE >>> 2;
/** u32 words of a DATASEC variable (type, offset, size). */
export const VAR_SECINFO_WORDS = BTF_VAR_SECINFO_SIZE >>> 2;

/**
 * Bytes that follow the common record for a kind with `vlen` entries (btf.rst, "2.2 Type encoding"), from
 * {@link KINDS}. Returns -1 for an unknown kind.
 */
export function extraSize(kind: number, vlen: number): number {
  if ((kind & 0x1f) !== kind || KIND_KNOWN[kind] === 0) return -1;
  return 4 * (KIND_FIXED_WORDS[kind] + vlen * KIND_ELEM_WORDS[kind]);
}

/** INT encoding bits (BTF_INT_SIGNED, BTF_INT_CHAR, BTF_INT_BOOL). */
export const BtfIntEncoding = { SIGNED: 1, CHAR: 2, BOOL: 4 } as const;

/** FUNC linkage (enum btf_func_linkage) and VAR linkage (enum btf_var_linkage). */
export const BtfLinkage = { STATIC: 0, GLOBAL: 1, EXTERN: 2 } as const;
