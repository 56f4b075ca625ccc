import { Btf } from './btf.js';
import { BtfError, BtfErrorCode } from './errors.js';
import { BPFTOOL_KIND_NAMES, BTF_TYPE_WORDS, ENUM64_WORDS, ENUM_WORDS, MEMBER_WORDS, PARAM_WORDS, VAR_SECINFO_WORDS } from './kinds.js';
import { checkLibbpfSanity } from './sanity.js';
import type { StringTable } from './strings.js';

/**
 * `bpftool -j btf dump file FILE format raw` (bpftool 7.5, btf.c dump_btf_type), byte for byte: the same keys in
 * the same order, the same spellings of encodings and linkages, and names copied byte for byte with only the
 * escapes of bpftool's json_writer (\t \n \r \f \b \\ \"). For split BTF only the blob's own types are listed,
 * as bpftool does with `-B`. Refuses, like bpftool, what libbpf refuses when it opens the BTF.
 *
 * Written for speed (a 5 MB vmlinux BTF gives 14 MB of JSON): bytes go straight into one Uint8Array through
 * helpers that take and return the write position, so no intermediate strings are made.
 */
export function dumpRawJson(btf: Btf): Uint8Array {
  // bpftool's JSON runs to about 5.5 bytes per byte of type section on kernels; start above that so the
  // buffer never has to grow (a grow copies everything written so far).
  return dump(btf, undefined, Math.min(Math.max(1 << 16, Math.ceil(btf.header.typeLen * 6)), 1 << 28));
}

/**
 * {@link dumpRawJson} handed out in chunks of about `chunkSize` bytes as it is made, through one reused buffer:
 * `write` must consume each chunk before it returns (a synchronous write), as the next chunk overwrites it.
 * Whoever streams the dump (the CLI to stdout) then touches one chunk of memory instead of the whole 16 MB.
 */
export function writeRawJson(btf: Btf, write: (chunk: Uint8Array) => void, chunkSize = 1 << 20): void {
  dump(btf, write, chunkSize);
}

function dump(btf: Btf, sink: ((chunk: Uint8Array) => void) | undefined, size: number): Uint8Array {
  checkLibbpfSanity(btf);
  // Records are read as host-order words (record.ts); the sanity check refused kinds the table does not know, so
  // every record is of a known kind and starts on a word boundary.
  const w = btf.typeWords;
  const typeStart = btf.header.typeStart;
  const strings = btf.strings;
  // Room for one entry's fixed text and numbers plus one name, escaped (each byte at most doubles).
  const entryRoom = 256 + 2 * longestString(btf);
  let buf: Uint8Array = new Uint8Array(Math.max(size, 2 * entryRoom));
  let pos = put(buf, 0, F.open);
  for (let i = 0; i < btf.ownTypeCount; i++) {
    // The record header read inline (record.ts explains why): every record starts on a word boundary here.
    const r = (btf.offsets[i] - typeStart) >>> 2;
    const info = w[r + 1];
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 !== 0;
    const t = w[r + 2];
    const p = r + BTF_TYPE_WORDS;
    if (pos + entryRoom > buf.length) {
      if (sink) {
        sink(buf.subarray(0, pos));
        pos = 0;
      } else buf = grow(buf, pos, entryRoom);
    }
    if (i > 0) buf[pos++] = COMMA;
    pos = put(buf, pos, F.id);
    pos = putUint(buf, pos, btf.startId + i);
    pos = put(buf, pos, KIND_FIELD[kind] ?? F.kindUnknown);
    pos = putName(buf, pos, strings, w[r]);
    switch (kind) {
      case 1: {
        const v = w[p];
        pos = put(buf, pos, F.size);
        pos = putUint(buf, pos, t);
        pos = put(buf, pos, F.bitsOffset);
        pos = putUint(buf, pos, (v >>> 16) & 0xff);
        pos = put(buf, pos, F.nrBits);
        pos = putUint(buf, pos, v & 0xff);
        pos = put(buf, pos, F.encoding);
        pos = put(buf, pos, INT_ENCODING[(v >>> 24) & 0x0f] ?? F.unkn);
        buf[pos++] = CLOSE;
        break;
      }
      case 2: case 8: case 9: case 10: case 11: case 18:
        pos = put(buf, pos, F.typeId);
        pos = putUint(buf, pos, t);
        buf[pos++] = CLOSE;
        break;
      case 3:
        pos = put(buf, pos, F.typeId);
        pos = putUint(buf, pos, w[p]);
        pos = put(buf, pos, F.indexTypeId);
        pos = putUint(buf, pos, w[p + 1]);
        pos = put(buf, pos, F.nrElems);
        pos = putUint(buf, pos, w[p + 2]);
        buf[pos++] = CLOSE;
        break;
      case 4: case 5: {
        pos = put(buf, pos, F.size);
        pos = putUint(buf, pos, t);
        pos = put(buf, pos, F.vlen);
        pos = putUint(buf, pos, vlen);
        pos = put(buf, pos, F.members);
        for (let j = 0, m = p; j < vlen; j++, m += MEMBER_WORDS) {
          if (pos + entryRoom > buf.length) {
            if (sink) {
              sink(buf.subarray(0, pos));
              pos = 0;
            } else buf = grow(buf, pos, entryRoom);
          }
          const raw = w[m + 2];
          if (j > 0) buf[pos++] = COMMA;
          pos = put(buf, pos, F.nameOpen);
          pos = putName(buf, pos, strings, w[m]);
          pos = put(buf, pos, F.typeId);
          pos = putUint(buf, pos, w[m + 1]);
          pos = put(buf, pos, F.bitsOffset);
          pos = putUint(buf, pos, kflag ? raw & 0xffffff : raw);
          if (kflag && raw >>> 24 !== 0) {
            pos = put(buf, pos, F.bitfieldSize);
            pos = putUint(buf, pos, raw >>> 24);
          }
          buf[pos++] = CLOSE;
        }
        pos = put(buf, pos, F.closeArray);
        break;
      }
      case 6: case 19: {
        pos = put(buf, pos, kflag ? F.encSigned : F.encUnsigned);
        pos = put(buf, pos, F.size);
        pos = putUint(buf, pos, t);
        pos = put(buf, pos, F.vlen);
        pos = putUint(buf, pos, vlen);
        pos = put(buf, pos, F.values);
        const stride = kind === 6 ? ENUM_WORDS : ENUM64_WORDS;
        for (let j = 0, m = p; j < vlen; j++, m += stride) {
          if (pos + entryRoom > buf.length) {
            if (sink) {
              sink(buf.subarray(0, pos));
              pos = 0;
            } else buf = grow(buf, pos, entryRoom);
          }
          if (j > 0) buf[pos++] = COMMA;
          pos = put(buf, pos, F.nameOpen);
          pos = putName(buf, pos, strings, w[m]);
          pos = put(buf, pos, F.val);
          pos = kind === 6 ? putEnumValue(buf, pos, w[m + 1] | 0, kflag) : putEnum64Value(buf, pos, w[m + 1], w[m + 2], kflag);
          buf[pos++] = CLOSE;
        }
        pos = put(buf, pos, F.closeArray);
        break;
      }
      case 7:
        pos = put(buf, pos, kflag ? F.fwdUnion : F.fwdStruct);
        break;
      case 12:
        pos = put(buf, pos, F.typeId);
        pos = putUint(buf, pos, t);
        pos = put(buf, pos, F.linkage);
        pos = put(buf, pos, LINKAGE[vlen] ?? F.linkageUnknown);
        break;
      case 13: {
        pos = put(buf, pos, F.retTypeId);
        pos = putUint(buf, pos, t);
        pos = put(buf, pos, F.vlen);
        pos = putUint(buf, pos, vlen);
        pos = put(buf, pos, F.params);
        for (let j = 0, m = p; j < vlen; j++, m += PARAM_WORDS) {
          if (pos + entryRoom > buf.length) {
            if (sink) {
              sink(buf.subarray(0, pos));
              pos = 0;
            } else buf = grow(buf, pos, entryRoom);
          }
          if (j > 0) buf[pos++] = COMMA;
          pos = put(buf, pos, F.nameOpen);
          pos = putName(buf, pos, strings, w[m]);
          pos = put(buf, pos, F.typeId);
          pos = putUint(buf, pos, w[m + 1]);
          buf[pos++] = CLOSE;
        }
        pos = put(buf, pos, F.closeArray);
        break;
      }
      case 14:
        pos = put(buf, pos, F.typeId);
        pos = putUint(buf, pos, t);
        pos = put(buf, pos, F.linkage);
        pos = put(buf, pos, LINKAGE[w[p]] ?? F.linkageUnknown);
        break;
      case 15: {
        pos = put(buf, pos, F.size);
        pos = putUint(buf, pos, t);
        pos = put(buf, pos, F.vlen);
        pos = putUint(buf, pos, vlen);
        pos = put(buf, pos, F.vars);
        for (let j = 0, m = p; j < vlen; j++, m += VAR_SECINFO_WORDS) {
          if (pos + entryRoom > buf.length) {
            if (sink) {
              sink(buf.subarray(0, pos));
              pos = 0;
            } else buf = grow(buf, pos, entryRoom);
          }
          if (j > 0) buf[pos++] = COMMA;
          pos = put(buf, pos, F.typeIdOpen);
          pos = putUint(buf, pos, w[m]);
          pos = put(buf, pos, F.offset);
          pos = putUint(buf, pos, w[m + 1]);
          pos = put(buf, pos, F.size);
          pos = putUint(buf, pos, w[m + 2]);
          buf[pos++] = CLOSE;
        }
        pos = put(buf, pos, F.closeArray);
        break;
      }
      case 16:
        pos = put(buf, pos, F.size);
        pos = putUint(buf, pos, t);
        buf[pos++] = CLOSE;
        break;
      case 17:
        pos = put(buf, pos, F.typeId);
        pos = putUint(buf, pos, t);
        pos = put(buf, pos, F.componentIdx);
        pos = putInt(buf, pos, w[p] | 0);
        buf[pos++] = CLOSE;
        break;
      default:
        buf[pos++] = CLOSE;
    }
  }
  if (pos + 8 > buf.length) buf = grow(buf, pos, 8);
  pos = put(buf, pos, F.end);
  if (!sink) return buf.subarray(0, pos);
  sink(buf.subarray(0, pos));
  return buf.subarray(0, 0);
}

/** Largest dump produced (typed arrays and strings stop short of this anyway). */
const MAX_OUTPUT = 2 ** 31 - 1;

const COMMA = 0x2c;
const CLOSE = 0x7d;

function grow(buf: Uint8Array, pos: number, need: number): Uint8Array {
  const size = Math.max(buf.length * 2, pos + need);
  if (size > MAX_OUTPUT) {
    throw new BtfError(BtfErrorCode.LimitExceeded, `json dump would exceed ${MAX_OUTPUT} bytes`);
  }
  const next = new Uint8Array(size);
  next.set(buf.subarray(0, pos));
  return next;
}

/** Length of the longest string in the string sections (own and base), which bounds one escaped name. */
function longestString(btf: Btf): number {
  let longest = 0;
  for (let b: Btf | undefined = btf; b; b = b.base) {
    // indexOf on the section's text (a builtin), not on its bytes (a call into C++ per string).
    const text = b.strings.latin1();
    let start = 0;
    for (let i = text.indexOf('\0'); i !== -1; i = text.indexOf('\0', i + 1)) {
      if (i - start > longest) longest = i - start;
      start = i + 1;
    }
    if (text.length - start > longest) longest = text.length - start;
  }
  return longest;
}

function put(buf: Uint8Array, pos: number, b: Uint8Array): number {
  for (let i = 0; i < b.length; i++) buf[pos + i] = b[i];
  return pos + b.length;
}

function putUint(buf: Uint8Array, pos: number, n: number): number {
  if (n < 10) {
    buf[pos] = 48 + n;
    return pos + 1;
  }
  if (n > 0xffffffff) return putAscii(buf, pos, String(n));
  let digits = 1;
  for (let v = n; v >= 10; v = Math.floor(v / 10)) digits++;
  let p = pos + digits;
  for (let v = n; v > 0; v = Math.floor(v / 10)) buf[--p] = 48 + (v % 10);
  return pos + digits;
}

function putInt(buf: Uint8Array, pos: number, n: number): number {
  if (n >= 0) return putUint(buf, pos, n);
  buf[pos] = 0x2d;
  return putUint(buf, pos + 1, -n);
}

function putAscii(buf: Uint8Array, pos: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[pos + i] = s.charCodeAt(i);
  return pos + s.length;
}

/** bpftool hands an unsigned enum's __s32 value to jsonw_uint_field: negative values are sign-extended to u64. */
function putEnumValue(buf: Uint8Array, pos: number, v: number, signed: boolean): number {
  if (signed || v >= 0) return putInt(buf, pos, v);
  return putAscii(buf, pos, String(BigInt.asUintN(64, BigInt(v))));
}

function putEnum64Value(buf: Uint8Array, pos: number, lo: number, hi: number, signed: boolean): number {
  if (hi === 0) return putUint(buf, pos, lo);
  const u = (BigInt(hi) << 32n) | BigInt(lo);
  return putAscii(buf, pos, String(signed ? BigInt.asIntN(64, u) : u));
}

/**
 * The name at string offset `off` as bpftool writes it (btf_str, then jsonw_puts): "(anon)" for offset 0, and
 * otherwise quoted, with \t \n \r \f \b \\ \" escaped and every other byte copied raw.
 */
function putName(buf: Uint8Array, pos: number, strings: StringTable, off: number): number {
  if (off === 0) return put(buf, pos, F.anon);
  const at = strings.locate(off);
  if (at < 0) return put(buf, pos, F.invalid);
  const src = strings.bytesAt(off);
  buf[pos++] = 0x22;
  for (let i = at; ; i++) {
    const c = src[i];
    if (c === 0) break;
    const e = c < ESCAPE.length ? ESCAPE[c] : 0;
    if (e === 0) buf[pos++] = c;
    else {
      buf[pos++] = 0x5c;
      buf[pos++] = e;
    }
  }
  buf[pos++] = 0x22;
  return pos;
}

/** json_writer.c jsonw_puts escapes, byte -> escape letter. */
const ESCAPE = new Uint8Array(0x5d);
ESCAPE[0x09] = 0x74; // \t
ESCAPE[0x0a] = 0x6e; // \n
ESCAPE[0x0d] = 0x72; // \r
ESCAPE[0x0c] = 0x66; // \f
ESCAPE[0x08] = 0x62; // \b
ESCAPE[0x5c] = 0x5c; // \\
ESCAPE[0x22] = 0x22; // \"

const encoder = new TextEncoder();
const ascii = (s: string): Uint8Array => encoder.encode(s);

/** bpftool's btf_kind_str, as the `,"kind":"…","name":` fragment. */
const KIND_FIELD = BPFTOOL_KIND_NAMES.map((k) => ascii(`,"kind":"${k}","name":`));

const F = {
  open: ascii('{"types":['),
  end: ascii(']}\n'),
  closeArray: ascii(']}'),
  id: ascii('{"id":'),
  kindUnknown: ascii(',"kind":"UNKNOWN","name":'),
  anon: ascii('"(anon)"'),
  invalid: ascii('"(invalid)"'),
  nameOpen: ascii('{"name":'),
  size: ascii(',"size":'),
  bitsOffset: ascii(',"bits_offset":'),
  nrBits: ascii(',"nr_bits":'),
  encoding: ascii(',"encoding":'),
  unkn: ascii('"UNKN"'),
  typeId: ascii(',"type_id":'),
  typeIdOpen: ascii('{"type_id":'),
  indexTypeId: ascii(',"index_type_id":'),
  nrElems: ascii(',"nr_elems":'),
  vlen: ascii(',"vlen":'),
  members: ascii(',"members":['),
  bitfieldSize: ascii(',"bitfield_size":'),
  encSigned: ascii(',"encoding":"SIGNED"'),
  encUnsigned: ascii(',"encoding":"UNSIGNED"'),
  values: ascii(',"values":['),
  val: ascii(',"val":'),
  fwdStruct: ascii(',"fwd_kind":"struct"}'),
  fwdUnion: ascii(',"fwd_kind":"union"}'),
  linkage: ascii(',"linkage":'),
  linkageUnknown: ascii('"(unknown)"}'),
  retTypeId: ascii(',"ret_type_id":'),
  params: ascii(',"params":['),
  vars: ascii(',"vars":['),
  offset: ascii(',"offset":'),
  componentIdx: ascii(',"component_idx":'),
};

const INT_ENCODING: Uint8Array[] = [];
INT_ENCODING[0] = ascii('"(none)"');
INT_ENCODING[1] = ascii('"SIGNED"');
INT_ENCODING[2] = ascii('"CHAR"');
INT_ENCODING[4] = ascii('"BOOL"');

/** btf_func_linkage_str / btf_var_linkage_str, with the closing brace. */
const LINKAGE = [ascii('"static"}'), ascii('"global"}'), ascii('"extern"}')];
