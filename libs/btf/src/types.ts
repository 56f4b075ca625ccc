/**
 * The typed BTF model: one interface per kind behind the {@link BtfType} union, discriminated by `kind`
 * (spelled as bpftool spells it). Fields follow include/uapi/linux/btf.h; names are decoded strings,
 * "" for anonymous. Type references are ids; id 0 is void.
 */

interface TypeCommon {
  /** Type id (1-based; split BTF continues its base's numbering). */
  id: number;
  /** Name, "" when anonymous. */
  name: string;
  /** Offset of the name in the string section. */
  nameOff: number;
  /** The kind_flag bit of the info word. */
  kindFlag: boolean;
}

export interface IntType extends TypeCommon {
  kind: 'INT';
  size: number;
  /** BTF_INT_OFFSET: bit offset of the value within `size` (0 in every kernel). */
  bitsOffset: number;
  /** BTF_INT_BITS. */
  nrBits: number;
  /** BTF_INT_ENCODING bits: 1 SIGNED, 2 CHAR, 4 BOOL. */
  encoding: number;
}

/** PTR, TYPEDEF, VOLATILE, CONST, RESTRICT and TYPE_TAG: a name (typedef, type tag) and a referenced type. */
export interface RefType extends TypeCommon {
  kind: 'PTR' | 'TYPEDEF' | 'VOLATILE' | 'CONST' | 'RESTRICT' | 'TYPE_TAG';
  type: number;
}

export interface ArrayType extends TypeCommon {
  kind: 'ARRAY';
  type: number;
  indexType: number;
  nelems: number;
}

export interface Member {
  name: string;
  nameOff: number;
  type: number;
  /** Bit offset from the start of the struct/union. */
  bitsOffset: number;
  /** Bitfield size in bits when the struct's kind_flag is set; 0 otherwise. */
  bitfieldSize: number;
}

export interface CompositeType extends TypeCommon {
  kind: 'STRUCT' | 'UNION';
  size: number;
  members: Member[];
}

export interface EnumValue {
  name: string;
  nameOff: number;
  /** Value as signed (kind_flag set) or unsigned 32-bit. */
  value: number;
}

export interface EnumType extends TypeCommon {
  kind: 'ENUM';
  size: number;
  /** kind_flag: the values are signed. */
  signed: boolean;
  values: EnumValue[];
}

export interface Enum64Value {
  name: string;
  nameOff: number;
  value: bigint;
}

export interface Enum64Type extends TypeCommon {
  kind: 'ENUM64';
  size: number;
  signed: boolean;
  values: Enum64Value[];
}

export interface FwdType extends TypeCommon {
  kind: 'FWD';
  /** kind_flag: forward declaration of a union rather than a struct. */
  fwdKind: 'struct' | 'union';
}

export interface FuncType extends TypeCommon {
  kind: 'FUNC';
  /** The FUNC_PROTO id. */
  type: number;
  /** btf_func_linkage: 0 static, 1 global, 2 extern (stored in vlen). */
  linkage: number;
}

export interface Param {
  name: string;
  nameOff: number;
  /** 0 for the last parameter of a variadic prototype. */
  type: number;
}

export interface FuncProtoType extends TypeCommon {
  kind: 'FUNC_PROTO';
  returnType: number;
  params: Param[];
}

export interface VarType extends TypeCommon {
  kind: 'VAR';
  type: number;
  /** btf_var_linkage: 0 static, 1 global allocated, 2 global extern. */
  linkage: number;
}

export interface VarSecInfo {
  type: number;
  offset: number;
  size: number;
}

export interface DatasecType extends TypeCommon {
  kind: 'DATASEC';
  size: number;
  vars: VarSecInfo[];
}

export interface FloatType extends TypeCommon {
  kind: 'FLOAT';
  size: number;
}

export interface DeclTagType extends TypeCommon {
  kind: 'DECL_TAG';
  type: number;
  /** -1: the tag applies to the type itself; otherwise a member or parameter index. */
  componentIdx: number;
}

export type BtfType =
  | IntType | RefType | ArrayType | CompositeType | EnumType | Enum64Type | FwdType | FuncType
  | FuncProtoType | VarType | DatasecType | FloatType | DeclTagType;

/** The pseudo-type of id 0. */
export interface VoidType {
  kind: 'VOID';
  id: 0;
  name: '';
}
