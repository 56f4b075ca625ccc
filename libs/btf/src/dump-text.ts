import { Btf } from './btf.js';
import { BPFTOOL_KIND_NAMES } from './kinds.js';
import { checkLibbpfSanity } from './sanity.js';

const KIND_STR = BPFTOOL_KIND_NAMES;

const INT_ENCODING: Record<number, string> = { 0: '(none)', 1: 'SIGNED', 2: 'CHAR', 4: 'BOOL' };
const LINKAGE = ['static', 'global', 'extern'];

/**
 * `bpftool btf dump file FILE format raw` without `-j` (bpftool btf.c dump_btf_type, plain text): one
 * `[ID] KIND 'NAME' key=value…` line per type, members, values and params on tab-indented lines below it.
 * Names are copied byte for byte (latin1 round trip). Refuses what libbpf refuses, like bpftool.
 */
export function dumpRawText(btf: Btf): Uint8Array {
  checkLibbpfSanity(btf);
  const dv = btf.dv;
  const le = btf.littleEndian;
  const name = (off: number): string => (off === 0 ? '(anon)' : (btf.strings.tryGetRaw(off) ?? '(invalid)'));
  const parts: string[] = [];
  for (let i = 0; i < btf.ownTypeCount; i++) {
    const id = btf.startId + i;
    const off = btf.offsets[i];
    const info = dv.getUint32(off + 4, le);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = (info & 0x80000000) !== 0;
    const t = dv.getUint32(off + 8, le);
    const p = off + 12;
    let s = `[${id}] ${KIND_STR[kind] ?? 'UNKNOWN'} '${name(dv.getUint32(off, le))}'`;
    switch (kind) {
      case 1: {
        const v = dv.getUint32(p, le);
        s += ` size=${t} bits_offset=${(v >>> 16) & 0xff} nr_bits=${v & 0xff} encoding=${INT_ENCODING[(v >>> 24) & 0x0f] ?? 'UNKN'}`;
        break;
      }
      case 2: case 8: case 9: case 10: case 11: case 18:
        s += ` type_id=${t}`;
        break;
      case 3:
        s += ` type_id=${dv.getUint32(p, le)} index_type_id=${dv.getUint32(p + 4, le)} nr_elems=${dv.getUint32(p + 8, le)}`;
        break;
      case 4: case 5:
        s += ` size=${t} vlen=${vlen}`;
        for (let j = 0, m = p; j < vlen; j++, m += 12) {
          const raw = dv.getUint32(m + 8, le);
          const bitSize = kflag ? raw >>> 24 : 0;
          s += `\n\t'${name(dv.getUint32(m, le))}' type_id=${dv.getUint32(m + 4, le)} bits_offset=${kflag ? raw & 0xffffff : raw}`;
          if (bitSize !== 0) s += ` bitfield_size=${bitSize}`;
        }
        break;
      case 6:
        s += ` encoding=${kflag ? 'SIGNED' : 'UNSIGNED'} size=${t} vlen=${vlen}`;
        for (let j = 0, m = p; j < vlen; j++, m += 8) {
          s += `\n\t'${name(dv.getUint32(m, le))}' val=${kflag ? dv.getInt32(m + 4, le) : dv.getUint32(m + 4, le)}`;
        }
        break;
      case 19:
        s += ` encoding=${kflag ? 'SIGNED' : 'UNSIGNED'} size=${t} vlen=${vlen}`;
        for (let j = 0, m = p; j < vlen; j++, m += 12) {
          const u = (BigInt(dv.getUint32(m + 8, le)) << 32n) | BigInt(dv.getUint32(m + 4, le));
          s += `\n\t'${name(dv.getUint32(m, le))}' val=${kflag ? `${BigInt.asIntN(64, u)}LL` : `${u}ULL`}`;
        }
        break;
      case 7:
        s += ` fwd_kind=${kflag ? 'union' : 'struct'}`;
        break;
      case 12:
        s += ` type_id=${t} linkage=${LINKAGE[vlen] ?? '(unknown)'}`;
        break;
      case 13:
        s += ` ret_type_id=${t} vlen=${vlen}`;
        for (let j = 0, m = p; j < vlen; j++, m += 8) s += `\n\t'${name(dv.getUint32(m, le))}' type_id=${dv.getUint32(m + 4, le)}`;
        break;
      case 14:
        s += ` type_id=${t}, linkage=${LINKAGE[dv.getUint32(p, le)] ?? '(unknown)'}`;
        break;
      case 15:
        s += ` size=${t} vlen=${vlen}`;
        for (let j = 0, m = p; j < vlen; j++, m += 12) {
          const vt = dv.getUint32(m, le);
          const vk = btf.kindOf(vt);
          const vname = vt === 0 ? '(anon)' : btf.ownsId(vt) ? name(dv.getUint32(btf.recordOffset(vt), le)) : name(btf.type(vt).nameOff);
          s += `\n\ttype_id=${vt} offset=${dv.getUint32(m + 4, le)} size=${dv.getUint32(m + 8, le)} (${KIND_STR[vk] ?? 'UNKNOWN'} '${vname}')`;
        }
        break;
      case 16:
        s += ` size=${t}`;
        break;
      case 17:
        s += ` type_id=${t} component_idx=${dv.getInt32(p, le)}`;
        break;
      default:
        break;
    }
    parts.push(s);
  }
  parts.push('');
  return Buffer.from(parts.join('\n'), 'latin1');
}
