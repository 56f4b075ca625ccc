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

/** Kind names indexed by kind number ("UNKN" for 0), as bpftool's btf_kind_str spells them. */
export const KIND_NAMES: readonly string[] = [
  'UNKN', 'INT', 'PTR', 'ARRAY', 'STRUCT', 'UNION', 'ENUM', 'FWD', 'TYPEDEF', 'VOLATILE', 'CONST', 'RESTRICT',
  'FUNC', 'FUNC_PROTO', 'VAR', 'DATASEC', 'FLOAT', 'DECL_TAG', 'TYPE_TAG', 'ENUM64',
];

/** bpftool's btf_kind_str: as {@link KIND_NAMES}, but kind 0 is "UNKNOWN". */
export const BPFTOOL_KIND_NAMES: readonly string[] = ['UNKNOWN', ...KIND_NAMES.slice(1)];

/** Size in bytes of the common `struct btf_type` record (name_off, info, size/type). */
export const BTF_TYPE_SIZE = 12;

/**
 * Bytes that follow the common record for a kind with `vlen` entries (btf.rst, "2.2 Type encoding").
 * Returns -1 for an unknown kind.
 */
export function extraSize(kind: number, vlen: number): number {
  switch (kind) {
    case 1: /* INT: u32 encoding/offset/bits */
    case 14: /* VAR: struct btf_var */
    case 17: /* DECL_TAG: struct btf_decl_tag */
      return 4;
    case 3: /* ARRAY: struct btf_array */
      return 12;
    case 4: /* STRUCT */
    case 5: /* UNION: struct btf_member[vlen] */
    case 15: /* DATASEC: struct btf_var_secinfo[vlen] */
    case 19: /* ENUM64: struct btf_enum64[vlen] */
      return 12 * vlen;
    case 6: /* ENUM: struct btf_enum[vlen] */
    case 13: /* FUNC_PROTO: struct btf_param[vlen] */
      return 8 * vlen;
    case 2: case 7: case 8: case 9: case 10: case 11: case 12: case 16: case 18:
      return 0;
    default:
      return -1;
  }
}

/** INT encoding bits (BTF_INT_SIGNED, BTF_INT_CHAR, BTF_INT_BOOL). */
export const BtfIntEncoding = { SIGNED: 1, CHAR: 2, BOOL: 4 } as const;

/** FUNC linkage (enum btf_func_linkage) and VAR linkage (enum btf_var_linkage). */
export const BtfLinkage = { STATIC: 0, GLOBAL: 1, EXTERN: 2 } as const;
