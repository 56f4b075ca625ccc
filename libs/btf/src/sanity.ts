import { Btf } from './btf.js';
import { BtfError, BtfErrorCode } from './errors.js';

/**
 * The checks libbpf makes when it opens BTF (btf.c btf_sanity_check / btf_validate_type): every name offset
 * lies in the string section, every referenced id exists, and a FUNC points at a FUNC_PROTO. This is what
 * bpftool refuses; the kernel's loader is stricter (see validate.ts).
 */
export function checkLibbpfSanity(btf: Btf): void {
  const dv = btf.dv;
  const le = btf.littleEndian;
  const strEnd = btf.strings.endOffset;
  const next = btf.nextId;
  const str = (off: number, what: string, id: number): void => {
    if (off >= strEnd) {
      throw new BtfError(BtfErrorCode.BadString, `invalid ${what} (string offset ${off})`, { typeId: id });
    }
  };
  const ref = (ref: number, id: number): void => {
    if (ref >= next) {
      throw new BtfError(BtfErrorCode.BadTypeRef, `invalid referenced type id ${ref}`, { typeId: id });
    }
  };
  for (let i = 0; i < btf.ownTypeCount; i++) {
    const id = btf.startId + i;
    const off = btf.offsets[i];
    const info = dv.getUint32(off + 4, le);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const t = dv.getUint32(off + 8, le);
    const p = off + 12;
    str(dv.getUint32(off, le), 'type name', id);
    switch (kind) {
      case 1: case 7: case 16:
        break;
      case 2: case 8: case 9: case 10: case 11: case 14: case 17: case 18:
        ref(t, id);
        break;
      case 3:
        ref(dv.getUint32(p, le), id);
        ref(dv.getUint32(p + 4, le), id);
        break;
      case 4: case 5:
        for (let j = 0, q = p; j < vlen; j++, q += 12) {
          str(dv.getUint32(q, le), 'field name', id);
          ref(dv.getUint32(q + 4, le), id);
        }
        break;
      case 6:
        for (let j = 0, q = p; j < vlen; j++, q += 8) str(dv.getUint32(q, le), 'enum name', id);
        break;
      case 19:
        for (let j = 0, q = p; j < vlen; j++, q += 12) str(dv.getUint32(q, le), 'enum name', id);
        break;
      case 12:
        ref(t, id);
        if (btf.kindOf(t) !== 13) {
          throw new BtfError(BtfErrorCode.BadTypeRef, `referenced type [${t}] is not FUNC_PROTO`, { typeId: id });
        }
        break;
      case 13:
        ref(t, id);
        for (let j = 0, q = p; j < vlen; j++, q += 8) {
          str(dv.getUint32(q, le), 'param name', id);
          ref(dv.getUint32(q + 4, le), id);
        }
        break;
      case 15:
        for (let j = 0, q = p; j < vlen; j++, q += 12) ref(dv.getUint32(q, le), id);
        break;
      default:
        throw new BtfError(BtfErrorCode.BadKind, `unrecognized kind ${kind}`, { typeId: id, offset: off });
    }
  }
}
