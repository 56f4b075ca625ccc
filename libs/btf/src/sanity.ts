import { Btf } from './btf.js';
import { BtfError, BtfErrorCode } from './errors.js';
import { BtfKind as K, ENUM64_WORDS, ENUM_WORDS, KIND_SIZE_TYPE, MEMBER_WORDS, PARAM_WORDS, SizeType, VAR_SECINFO_WORDS } from './kinds.js';

/** {@link SizeType.TYPE}, as a plain number for the loop below. */
const SIZE_IS_TYPE: number = SizeType.TYPE;

/**
 * The checks libbpf makes when it opens BTF (btf.c btf_sanity_check / btf_validate_type): every name offset
 * lies in the string section, every referenced id exists, and a FUNC points at a FUNC_PROTO. This is what
 * bpftool refuses; the kernel's loader is stricter (see validate.ts).
 */
export function checkLibbpfSanity(btf: Btf): void {
  // One pass over the host-order words of the records (Btf.typeWords), with no per-check closures and no calls
  // per record: this runs before every dump, on 100k+ types, mostly before the JIT has warmed up (in the
  // interpreter, a call per field read made it three times slower). So the record header is read inline here, at
  // the word offsets record.ts documents, and vlen entries are walked with the kind table's element sizes. Every
  // record before the first one of an unknown kind (refused below) starts on a word boundary, so its word index
  // is its byte offset in the section / 4.
  const w = btf.typeWords;
  const offsets = btf.offsets;
  const typeStart = btf.header.typeStart;
  const strEnd = btf.strings.endOffset;
  const start = btf.startId;
  const next = btf.nextId;
  const count = btf.ownTypeCount;
  for (let i = 0; i < count; i++) {
    const id = start + i;
    const p = (offsets[i] - typeStart) >>> 2;
    const info = w[p + 1];
    const kind = (info >>> 24) & 0x1f;
    const t = w[p + 2];
    if (w[p] >= strEnd) badString(w[p], 'type name', id);
    // size_type is a type id (the kind table says which kinds): the referenced type, a prototype, a return type.
    if (t >= next && KIND_SIZE_TYPE[kind] === SIZE_IS_TYPE) badRef(t, id);
    switch (kind) {
      case 1: case 2: case 7: case 8: case 9: case 10: case 11: case 14: case 16: case 17: case 18:
        // INT, PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, VAR, FLOAT, DECL_TAG, TYPE_TAG: nothing more to check
        break;
      case 3: // ARRAY: struct btf_array { type, index_type, nelems }
        if (w[p + 3] >= next) badRef(w[p + 3], id);
        if (w[p + 4] >= next) badRef(w[p + 4], id);
        break;
      case 4: case 5: // STRUCT, UNION: struct btf_member { name_off, type, offset }[vlen]
        for (let q = p + 3, end = q + MEMBER_WORDS * (info & 0xffff); q < end; q += MEMBER_WORDS) {
          if (w[q] >= strEnd) badString(w[q], 'field name', id);
          if (w[q + 1] >= next) badRef(w[q + 1], id);
        }
        break;
      case 6: // ENUM: struct btf_enum { name_off, val }[vlen]
        for (let q = p + 3, end = q + ENUM_WORDS * (info & 0xffff); q < end; q += ENUM_WORDS) if (w[q] >= strEnd) badString(w[q], 'enum name', id);
        break;
      case 19: // ENUM64: struct btf_enum64 { name_off, val_lo32, val_hi32 }[vlen]
        for (let q = p + 3, end = q + ENUM64_WORDS * (info & 0xffff); q < end; q += ENUM64_WORDS) if (w[q] >= strEnd) badString(w[q], 'enum name', id);
        break;
      case 12: { // FUNC: its prototype
        const tk = t >= start ? (w[((offsets[t - start] - typeStart) >>> 2) + 1] >>> 24) & 0x1f : btf.kindOf(t);
        if (tk !== K.FUNC_PROTO) throw new BtfError(BtfErrorCode.BadTypeRef, `referenced type [${t}] is not FUNC_PROTO`, { typeId: id });
        break;
      }
      case 13: // FUNC_PROTO: struct btf_param { name_off, type }[vlen]
        for (let q = p + 3, end = q + PARAM_WORDS * (info & 0xffff); q < end; q += PARAM_WORDS) {
          if (w[q] >= strEnd) badString(w[q], 'param name', id);
          if (w[q + 1] >= next) badRef(w[q + 1], id);
        }
        break;
      case 15: // DATASEC: struct btf_var_secinfo { type, offset, size }[vlen]
        for (let q = p + 3, end = q + VAR_SECINFO_WORDS * (info & 0xffff); q < end; q += VAR_SECINFO_WORDS) if (w[q] >= next) badRef(w[q], id);
        break;
      default:
        throw new BtfError(BtfErrorCode.BadKind, `unrecognized kind ${kind}`, { typeId: id, offset: offsets[i] });
    }
  }
}

function badString(off: number, what: string, id: number): never {
  throw new BtfError(BtfErrorCode.BadString, `invalid ${what} (string offset ${off})`, { typeId: id });
}

function badRef(ref: number, id: number): never {
  throw new BtfError(BtfErrorCode.BadTypeRef, `invalid referenced type id ${ref}`, { typeId: id });
}
