import { Btf } from './btf.js';
import { BtfError, BtfErrorCode } from './errors.js';
import { BTF_HEADER_LAYOUT_LEN } from './header.js';
import { KIND_NAMES } from './kinds.js';
import { recordKind, recordVlen, recordWords } from './record.js';

/**
 * Re-encodes a parsed blob in the other byte order: a little-endian blob comes back big-endian (as s390x
 * kernels ship it) and the other way round. The output has the same length and layout; only multi-byte fields
 * change. Split BTF is swapped on its own (swap its base separately: a split blob and its base must share a
 * byte order). Useful to test the big-endian decoder on little-endian corpora, and to serve BTF in a target's
 * byte order.
 *
 * What is swapped (include/uapi/linux/btf.h; Documentation/bpf/btf.rst "2. BTF Type and String Encoding"):
 * - the header: magic (u16), hdr_len, type_off, type_len, str_off, str_len (u32), and layout_off/layout_len
 *   (u32) when hdr_len covers them; version and flags are single bytes;
 * - the optional layout section: {info_sz u8, elem_sz u8, flags u16} per kind, only `flags` swaps;
 * - each type record, word by word over the length the kind table (kinds.ts KINDS) gives it, since every field is
 *   32 bits wide: struct btf_type (name_off, info, size/type: u32), then per kind: INT's encoding word
 *   (u32), btf_array (3 x u32), btf_member (name_off, type, offset: u32; a bitfield's size lives in the offset
 *   word's top byte, so it moves with it), btf_enum (name_off u32, val s32), btf_enum64 (name_off, val_lo32,
 *   val_hi32: each u32 swapped, their order kept), btf_param (2 x u32), btf_var (linkage u32),
 *   btf_var_secinfo (3 x u32), btf_decl_tag (component_idx s32);
 * - the string section and any bytes outside the sections are copied untouched.
 *
 * Throws {@link BtfError} (BTF_BAD_KIND) for records of a kind this decoder does not know (described only by
 * the layout section): the shape of their fields is unknown, so they cannot be swapped faithfully.
 */
export function swapBtfEndianness(btf: Btf): Uint8Array {
  const src = btf.bytes;
  const out = new Uint8Array(src);
  const h = btf.header;
  // Header: magic is a u16, version and flags are bytes, the rest are u32s.
  swap16(src, out, 0);
  const headerWords = h.hdrLen >= BTF_HEADER_LAYOUT_LEN ? BTF_HEADER_LAYOUT_LEN : 24;
  for (let off = 4; off < headerWords; off += 4) swap32(src, out, off);
  // Bytes of a longer header past the known fields are zero (parseHeader checks), so they need no swap.

  for (let off = h.layoutStart; off + 4 <= h.layoutEnd; off += 4) swap16(src, out, off + 2);

  // Every field of every kind in the table is a u32 or s32 (a bitfield's size rides in its member's offset word;
  // btf_enum64 keeps its two halves in order), so a record swaps word by word, for as many words as the kind
  // table gives its kind and vlen (read from the host-order words, whatever the blob's byte order).
  const w = btf.typeWords;
  for (let id = btf.startId; id < btf.nextId; id++) {
    const r = btf.recordWordIndex(id);
    const kind = recordKind(w, r);
    const n = recordWords(kind, recordVlen(w, r));
    const off = btf.recordOffset(id);
    if (n < 0) {
      throw new BtfError(
        BtfErrorCode.BadKind,
        `cannot swap the byte order of ${KIND_NAMES[kind] ?? `kind ${kind}`}: its field layout is unknown`,
        { typeId: id, offset: off },
      );
    }
    swapWords(src, out, off, n);
  }
  return out;
}

function swap16(src: Uint8Array, out: Uint8Array, off: number): void {
  out[off] = src[off + 1];
  out[off + 1] = src[off];
}

function swap32(src: Uint8Array, out: Uint8Array, off: number): void {
  out[off] = src[off + 3];
  out[off + 1] = src[off + 2];
  out[off + 2] = src[off + 1];
  out[off + 3] = src[off];
}

function swapWords(src: Uint8Array, out: Uint8Array, off: number, n: number): void {
  for (let i = 0, q = off; i < n; i++, q += 4) swap32(src, out, q);
}
