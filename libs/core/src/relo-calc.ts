/**
 * The values a CO-RE relocation puts into an instruction (libbpf relo_core.c `bpf_core_calc_relo` and its field,
 * type and enum helpers): computed once from the local spec (what the compiler wrote, checked against the
 * instruction) and once from the target spec (what the kernel needs). A missing target either yields a default
 * (0 for existence checks and type-based kinds) or asks for the instruction to be poisoned.
 */
import { CoreReloKind } from './types.js';
import {
  Errno, resolveSize, sizeWord, skipModsAndTypedefs, typeById,
} from './relo-btf.js';
import { isEnumvalBased, isFieldBased, isTypeBased, reloKindStr, type Spec } from './relo-spec.js';
import type { WarnSink } from './relo-compat.js';

/** `struct bpf_core_relo_res`: what to patch, and how. Values are u64, as in libbpf. */
export interface ReloRes {
  /** Value the instruction must hold now (checked unless `validate` is false). */
  origVal: bigint;
  /** Value to patch in. */
  newVal: bigint;
  /** No target: replace the instruction by an invalid helper call instead of patching. */
  poison: boolean;
  /** Check the instruction's current value against `origVal` before patching. */
  validate: boolean;
  /** The field's size changed in a way a load/store may not be resized for (checked for LDX/ST/STX only). */
  failMemszAdjust: boolean;
  /** Size in bytes of the local field (element size for arrays) a load/store reads; 0 when not relevant. */
  origSz: number;
  origTypeId: number;
  /** Size of the target field, same rules. */
  newSz: number;
  newTypeId: number;
}

/** A result with every value zero and validation on (libbpf's starting point). */
export function emptyRes(): ReloRes {
  return { origVal: 0n, newVal: 0n, poison: false, validate: true, failMemszAdjust: false, origSz: 0, origTypeId: 0, newSz: 0, newTypeId: 0 };
}

/** Where the relocation is, for warnings (`relo %d at insn #%d`: the kind number and the section's insn index). */
export interface CalcContext {
  progName: string;
  reloIdx: number;
  kind: number;
  /** Byte offset of the instruction in its section. */
  insnOff: number;
  /** Byte order of the machine the program runs on (the target kernel's): decides FIELD_LSHIFT_U64. */
  littleEndian: boolean;
  warn: WarnSink;
}

interface FieldValue {
  err: number;
  val: bigint;
  fieldSz: number;
  typeId: number;
  /** Set only for the local side: whether the instruction's value can be checked. */
  validate: boolean;
}

/** Element size of a (possibly multi-dimensional) array type, or the type's own size: what one load reads. */
function loadSize(spec: Spec, typeId: number): number {
  let r = skipModsAndTypedefs(spec.btf, typeId);
  let elemId = r?.id ?? typeId;
  while (r && r.t.kind === 'ARRAY') {
    r = skipModsAndTypedefs(spec.btf, r.t.type);
    if (r) elemId = r.id;
  }
  return resolveSize(spec.btf, elemId);
}

/**
 * `bpf_core_calc_field_relo`: the value of a field relocation for one spec (undefined spec: no target).
 * FIELD_EXISTS is 1 or 0; the others need a spec (else -EUCLEAN: poison). An array-element access
 * (`arr[3]`) has only a byte offset and a byte size. For a bitfield, the byte size and offset are those of the
 * smallest naturally aligned load (starting from the member type's size, doubling up to 8 bytes) that holds all
 * its bits, and the shifts extract it from a u64; for a plain field they are its own size and offset.
 */
function calcFieldRelo(ctx: CalcContext, spec: Spec | undefined): FieldValue {
  const out: FieldValue = { err: 0, val: 0n, fieldSz: 0, typeId: 0, validate: true };
  if (ctx.kind === CoreReloKind.FIELD_EXISTS) {
    out.val = spec ? 1n : 0n;
    return out;
  }
  if (!spec) return { ...out, err: -Errno.EUCLEAN };

  const acc = spec.accessors[spec.accessors.length - 1];
  const t = typeById(spec.btf, acc.typeId);
  if (!t) return { ...out, err: -Errno.EINVAL };

  if (acc.name === undefined) {
    if (ctx.kind === CoreReloKind.FIELD_BYTE_OFFSET) {
      out.val = BigInt(Math.floor(spec.bitOffset / 8));
      const sz = loadSize(spec, acc.typeId);
      if (sz < 0) return { ...out, err: -Errno.EINVAL };
      out.fieldSz = sz;
      out.typeId = acc.typeId;
    } else if (ctx.kind === CoreReloKind.FIELD_BYTE_SIZE) {
      const sz = resolveSize(spec.btf, acc.typeId);
      if (sz < 0) return { ...out, err: -Errno.EINVAL };
      out.val = BigInt(sz);
    } else {
      ctx.warn(`prog '${ctx.progName}': relo ${ctx.kind} at insn #${Math.floor(ctx.insnOff / 8)} can't be applied to array access`);
      return { ...out, err: -Errno.EINVAL };
    }
    out.validate = true;
    return out;
  }

  if (t.kind !== 'STRUCT' && t.kind !== 'UNION') return { ...out, err: -Errno.EINVAL };
  const m = t.members[acc.idx];
  const mr = skipModsAndTypedefs(spec.btf, m.type);
  if (!mr) return { ...out, err: -Errno.EINVAL };
  const mt = mr.t;
  const fieldTypeId = mr.id;
  const bitOff = spec.bitOffset;
  let bitSz = m.bitfieldSize;
  const bitfield = bitSz > 0;
  let byteSz: number;
  let byteOff: number;
  if (bitfield) {
    byteSz = sizeWord(mt);
    if (byteSz === 0) return { ...out, err: -Errno.EINVAL };
    byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    while (bitOff + bitSz - byteOff * 8 > byteSz * 8) {
      if (byteSz >= 8) {
        ctx.warn(`prog '${ctx.progName}': relo ${ctx.kind} at insn #${Math.floor(ctx.insnOff / 8)} can't be satisfied for bitfield`);
        return { ...out, err: -Errno.E2BIG };
      }
      byteSz *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    }
  } else {
    const sz = resolveSize(spec.btf, fieldTypeId);
    if (sz < 0) return { ...out, err: -Errno.EINVAL };
    byteSz = sz;
    byteOff = Math.floor(bitOff / 8);
    bitSz = byteSz * 8;
  }
  // Bitfield values may legitimately differ from what the compiler assumed: only signedness and the right shift
  // are checked against the instruction.
  out.validate = !bitfield;

  switch (ctx.kind) {
    case CoreReloKind.FIELD_BYTE_OFFSET:
      out.val = BigInt(byteOff);
      if (!bitfield) {
        const sz = loadSize(spec, fieldTypeId);
        if (sz < 0) return { ...out, err: -Errno.EINVAL };
        out.fieldSz = sz;
        out.typeId = fieldTypeId;
      }
      break;
    case CoreReloKind.FIELD_BYTE_SIZE:
      out.val = BigInt(byteSz);
      break;
    case CoreReloKind.FIELD_SIGNED:
      out.val = ((mt.kind === 'ENUM' || mt.kind === 'ENUM64') && mt.kindFlag) || (mt.kind === 'INT' && (mt.encoding & 1) !== 0) ? 1n : 0n;
      out.validate = true;
      break;
    case CoreReloKind.FIELD_LSHIFT_U64:
      // u32 arithmetic as in libbpf. Little-endian: shift the field's top bit up to bit 63; big-endian: shift away the
      // bits before the field, counted from the top of the (right-aligned) load.
      out.val = BigInt.asUintN(32, BigInt(ctx.littleEndian ? 64 - (bitOff + bitSz - byteOff * 8) : (8 - byteSz) * 8 + (bitOff - byteOff * 8)));
      break;
    case CoreReloKind.FIELD_RSHIFT_U64:
      out.val = BigInt.asUintN(32, BigInt(64 - bitSz));
      out.validate = true;
      break;
    default:
      return { ...out, err: -Errno.EOPNOTSUPP };
  }
  return out;
}

/**
 * `bpf_core_calc_type_relo`: TYPE_ID_TARGET is the target id (not checked against the instruction: linking renumbers
 * types), TYPE_EXISTS and TYPE_MATCHES are 1, TYPE_SIZE the type's size. Without a target every one is 0.
 */
function calcTypeRelo(ctx: CalcContext, spec: Spec | undefined): { err: number; val: bigint; validate: boolean } {
  if (!spec) return { err: 0, val: 0n, validate: true };
  switch (ctx.kind) {
    case CoreReloKind.TYPE_ID_TARGET:
      return { err: 0, val: BigInt(spec.rootTypeId), validate: false };
    case CoreReloKind.TYPE_EXISTS:
    case CoreReloKind.TYPE_MATCHES:
      return { err: 0, val: 1n, validate: true };
    case CoreReloKind.TYPE_SIZE: {
      const sz = resolveSize(spec.btf, spec.rootTypeId);
      return sz < 0 ? { err: -Errno.EINVAL, val: 0n, validate: true } : { err: 0, val: BigInt(sz), validate: true };
    }
    default:
      return { err: -Errno.EOPNOTSUPP, val: 0n, validate: true };
  }
}

/**
 * `bpf_core_calc_enumval_relo`: ENUMVAL_EXISTS is 1 or 0; ENUMVAL_VALUE is the enumerator's value (a 32-bit
 * enumerator sign-extended to 64 bits whatever the enum's signedness, as libbpf reads `btf_enum.val`), or poison.
 */
function calcEnumvalRelo(ctx: CalcContext, spec: Spec | undefined): { err: number; val: bigint } {
  switch (ctx.kind) {
    case CoreReloKind.ENUMVAL_EXISTS:
      return { err: 0, val: spec ? 1n : 0n };
    case CoreReloKind.ENUMVAL_VALUE: {
      if (!spec) return { err: -Errno.EUCLEAN, val: 0n };
      const acc = spec.accessors[0];
      const t = typeById(spec.btf, acc.typeId);
      if (t?.kind === 'ENUM') return { err: 0, val: BigInt.asUintN(64, BigInt(t.values[acc.idx].value | 0)) };
      if (t?.kind === 'ENUM64') return { err: 0, val: BigInt.asUintN(64, t.values[acc.idx].value) };
      return { err: -Errno.EINVAL, val: 0n };
    }
    default:
      return { err: -Errno.EOPNOTSUPP, val: 0n };
  }
}

/** `btf_int_encoding(t) != BTF_INT_SIGNED`: libbpf compares the whole encoding, so a signed char counts as unsigned. */
function isUnsignedInt(t: ReturnType<typeof typeById>): boolean {
  return t?.kind === 'INT' && t.encoding !== 1;
}

/**
 * `bpf_core_calc_relo`: original and new values of one relocation for one candidate (`targ` undefined: none
 * matched). For field offsets it also records the load sizes, and marks a size change unsafe unless both sides
 * are pointers or both unsigned integers (zero extension keeps the value). Returns 0 or a negative errno; a
 * poison request is `res.poison`, not an error.
 */
export function calcRelo(ctx: CalcContext, local: Spec, targ: Spec | undefined): { err: number; res: ReloRes } {
  const res = emptyRes();
  let err = -Errno.EOPNOTSUPP;
  if (isFieldBased(ctx.kind)) {
    const o = calcFieldRelo(ctx, local);
    err = o.err;
    res.origVal = o.val;
    res.origSz = o.fieldSz;
    res.origTypeId = o.typeId;
    res.validate = o.validate;
    if (err === 0) {
      const n = calcFieldRelo(ctx, targ);
      err = n.err;
      res.newVal = n.val;
      res.newSz = n.fieldSz;
      res.newTypeId = n.typeId;
    }
    if (err === 0 && res.origSz !== res.newSz && targ) {
      const ot = typeById(local.btf, res.origTypeId);
      const nt = typeById(targ.btf, res.newTypeId);
      const safe = (ot?.kind === 'PTR' && nt?.kind === 'PTR') || (isUnsignedInt(ot) && isUnsignedInt(nt));
      res.failMemszAdjust = !safe;
    }
  } else if (isTypeBased(ctx.kind)) {
    const o = calcTypeRelo(ctx, local);
    err = o.err;
    res.origVal = o.val;
    res.validate = o.validate;
    if (err === 0) {
      const n = calcTypeRelo(ctx, targ);
      err = n.err;
      res.newVal = n.val;
    }
  } else if (isEnumvalBased(ctx.kind)) {
    const o = calcEnumvalRelo(ctx, local);
    err = o.err;
    res.origVal = o.val;
    if (err === 0) {
      const n = calcEnumvalRelo(ctx, targ);
      err = n.err;
      res.newVal = n.val;
    }
  }

  if (err === -Errno.EUCLEAN) {
    res.poison = true;
    err = 0;
  } else if (err === -Errno.EOPNOTSUPP) {
    ctx.warn(`prog '${ctx.progName}': relo #${ctx.reloIdx}: unrecognized CO-RE relocation ${reloKindStr(ctx.kind)} (${ctx.kind}) at insn #${Math.floor(ctx.insnOff / 8)}`);
  }
  return { err, res };
}
