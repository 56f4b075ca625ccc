import { Btf } from './btf.js';
import { BPFTOOL_KIND_NAMES, ENUM64_WORDS, ENUM_WORDS, MEMBER_WORDS, PARAM_WORDS, VAR_SECINFO_WORDS } from './kinds.js';
import { infoKind, infoKindFlag, infoVlen, recordData, recordInfo, recordNameOff, recordSizeOrType } from './record.js';
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
  // Records are read as host-order words (record.ts); the sanity check refused kinds the table does not know.
  const w = btf.typeWords;
  const name = (off: number): string => (off === 0 ? '(anon)' : (btf.strings.tryGetRaw(off) ?? '(invalid)'));
  const parts: string[] = [];
  for (let i = 0; i < btf.ownTypeCount; i++) {
    const id = btf.startId + i;
    const r = btf.recordWordIndex(id);
    const info = recordInfo(w, r);
    const kind = infoKind(info);
    const vlen = infoVlen(info);
    const kflag = infoKindFlag(info);
    const t = recordSizeOrType(w, r);
    const p = recordData(r);
    let s = `[${id}] ${KIND_STR[kind] ?? 'UNKNOWN'} '${name(recordNameOff(w, r))}'`;
    switch (kind) {
      case 1: {
        const v = w[p];
        s += ` size=${t} bits_offset=${(v >>> 16) & 0xff} nr_bits=${v & 0xff} encoding=${INT_ENCODING[(v >>> 24) & 0x0f] ?? 'UNKN'}`;
        break;
      }
      case 2: case 8: case 9: case 10: case 11: case 18:
        s += ` type_id=${t}`;
        break;
      case 3:
        s += ` type_id=${w[p]} index_type_id=${w[p + 1]} nr_elems=${w[p + 2]}`;
        break;
      case 4: case 5:
        s += ` size=${t} vlen=${vlen}`;
        for (let j = 0, m = p; j < vlen; j++, m += MEMBER_WORDS) {
          const raw = w[m + 2];
          const bitSize = kflag ? raw >>> 24 : 0;
          s += `\n\t'${name(w[m])}' type_id=${w[m + 1]} bits_offset=${kflag ? raw & 0xffffff : raw}`;
          if (bitSize !== 0) s += ` bitfield_size=${bitSize}`;
        }
        break;
      case 6:
        s += ` encoding=${kflag ? 'SIGNED' : 'UNSIGNED'} size=${t} vlen=${vlen}`;
        for (let j = 0, m = p; j < vlen; j++, m += ENUM_WORDS) {
          s += `\n\t'${name(w[m])}' val=${kflag ? w[m + 1] | 0 : w[m + 1]}`;
        }
        break;
      case 19:
        s += ` encoding=${kflag ? 'SIGNED' : 'UNSIGNED'} size=${t} vlen=${vlen}`;
        for (let j = 0, m = p; j < vlen; j++, m += ENUM64_WORDS) {
          const u = (BigInt(w[m + 2]) << 32n) | BigInt(w[m + 1]);
          s += `\n\t'${name(w[m])}' val=${kflag ? `${BigInt.asIntN(64, u)}LL` : `${u}ULL`}`;
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
        for (let j = 0, m = p; j < vlen; j++, m += PARAM_WORDS) s += `\n\t'${name(w[m])}' type_id=${w[m + 1]}`;
        break;
      case 14:
        s += ` type_id=${t}, linkage=${LINKAGE[w[p]] ?? '(unknown)'}`;
        break;
      case 15:
        s += ` size=${t} vlen=${vlen}`;
        for (let j = 0, m = p; j < vlen; j++, m += VAR_SECINFO_WORDS) {
          const vt = w[m];
          const vk = btf.kindOf(vt);
          const vname = vt === 0 ? '(anon)' : btf.ownsId(vt) ? name(btf.nameOffOf(vt)) : name(btf.type(vt).nameOff);
          s += `\n\ttype_id=${vt} offset=${w[m + 1]} size=${w[m + 2]} (${KIND_STR[vk] ?? 'UNKNOWN'} '${vname}')`;
        }
        break;
      case 16:
        s += ` size=${t}`;
        break;
      case 17:
        s += ` type_id=${t} component_idx=${w[p] | 0}`;
        break;
      default:
        break;
    }
    parts.push(s);
  }
  parts.push('');
  return Buffer.from(parts.join('\n'), 'latin1');
}
