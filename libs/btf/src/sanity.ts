import { Btf } from './btf.js';
import { BtfError, BtfErrorCode } from './errors.js';

/**
 * The checks libbpf makes when it opens BTF (btf.c btf_sanity_check / btf_validate_type): every name offset
 * lies in the string section, every referenced id exists, and a FUNC points at a FUNC_PROTO. This is what
 * bpftool refuses; the kernel's loader is stricter (see validate.ts).
 */
export function checkLibbpfSanity(btf: Btf): void {
  // One pass over the host-order words of the records (Btf.typeWords), with no per-check closures: this runs
  // before every dump, on 100k+ types, mostly before the JIT has warmed up.
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
    const vlen = info & 0xffff;
    const t = w[p + 2];
    if (w[p] >= strEnd) badString(w[p], 'type name', id);
    switch (kind) {
      case 1: case 7: case 16:
        break;
      case 2: case 8: case 9: case 10: case 11: case 14: case 17: case 18:
        if (t >= next) badRef(t, id);
        break;
      case 3:
        if (w[p + 3] >= next) badRef(w[p + 3], id);
        if (w[p + 4] >= next) badRef(w[p + 4], id);
        break;
      case 4: case 5:
        for (let q = p + 3, end = p + 3 + 3 * vlen; q < end; q += 3) {
          if (w[q] >= strEnd) badString(w[q], 'field name', id);
          if (w[q + 1] >= next) badRef(w[q + 1], id);
        }
        break;
      case 6:
        for (let q = p + 3, end = p + 3 + 2 * vlen; q < end; q += 2) if (w[q] >= strEnd) badString(w[q], 'enum name', id);
        break;
      case 19:
        for (let q = p + 3, end = p + 3 + 3 * vlen; q < end; q += 3) if (w[q] >= strEnd) badString(w[q], 'enum name', id);
        break;
      case 12: {
        if (t >= next) badRef(t, id);
        const tk = t >= start ? (w[((offsets[t - start] - typeStart) >>> 2) + 1] >>> 24) & 0x1f : btf.kindOf(t);
        if (tk !== 13) throw new BtfError(BtfErrorCode.BadTypeRef, `referenced type [${t}] is not FUNC_PROTO`, { typeId: id });
        break;
      }
      case 13:
        if (t >= next) badRef(t, id);
        for (let q = p + 3, end = p + 3 + 2 * vlen; q < end; q += 2) {
          if (w[q] >= strEnd) badString(w[q], 'param name', id);
          if (w[q + 1] >= next) badRef(w[q + 1], id);
        }
        break;
      case 15:
        for (let q = p + 3, end = p + 3 + 3 * vlen; q < end; q += 3) if (w[q] >= next) badRef(w[q], id);
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
