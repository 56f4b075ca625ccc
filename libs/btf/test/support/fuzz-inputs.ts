/**
 * Inputs and tools for the fuzz tests: a seeded PRNG, byte-level mutators, a slice of a real vmlinux BTF small
 * enough to mutate thousands of times, and tiny writers for the containers extractBtf reads (ustar, xz with
 * stored LZMA2 chunks; ELF is in elf-writer.ts, gzip comes from node:zlib).
 */
import type { Btf } from '@btf-atlas/btf';

// ---------------------------------------------------------------------------------------------------------------
// PRNG

/** mulberry32: a small, fast, seeded PRNG; the same seed replays the same cases. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform u32. */
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Mutators: each returns a new array (the input is never changed) and a short description for failure reports.

/**
 * A fresh copy. (Not `.slice()`: on a Node Buffer, as readFileSync returns, `slice` is a view, and mutating it
 * would corrupt the shared original.)
 */
export function copy(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

export interface Mutation {
  bytes: Uint8Array;
  what: string;
}

/** Values that break length and offset arithmetic. */
export function interestingU32(rng: Rng, len: number): number {
  const sizeish = [len, len - 1, len + 1, len >>> 1, len * 2, 12, 16, 24, 32, 0x10000, 0xffff, 0xfffff, 0x100000];
  const fixed = [0, 1, 2, 3, 4, 8, 0xff, 0x7f, 0x80, 0x7fff, 0x8000, 0xffffffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xfffffff4];
  return (rng.chance(0.5) ? rng.pick(sizeish) : rng.chance(0.8) ? rng.pick(fixed) : rng.u32()) >>> 0;
}

/** A position, biased toward the first `hot` bytes (headers) a quarter of the time. */
function position(rng: Rng, len: number, hot = 64): number {
  return rng.chance(0.25) ? rng.int(Math.min(hot, len)) : rng.int(len);
}

function flipBits(rng: Rng, src: Uint8Array): Mutation {
  const out = copy(src);
  const n = 1 + rng.int(8);
  const at: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = position(rng, out.length);
    out[p] ^= 1 << rng.int(8);
    at.push(p);
  }
  return { bytes: out, what: `flip bits at ${at.join(',')}` };
}

function randomBytes(rng: Rng, src: Uint8Array): Mutation {
  const out = copy(src);
  const p = position(rng, out.length);
  const n = 1 + rng.int(16);
  for (let i = p; i < Math.min(out.length, p + n); i++) out[i] = rng.int(256);
  return { bytes: out, what: `random bytes at ${p}+${n}` };
}

function overwriteWord(rng: Rng, src: Uint8Array, le: boolean): Mutation {
  const out = copy(src);
  if (out.length < 4) return { bytes: out, what: 'none (too short)' };
  const p = rng.chance(0.8) ? position(rng, out.length - 3) & ~3 : position(rng, out.length - 3);
  const v = interestingU32(rng, src.length);
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(p, v, rng.chance(0.9) ? le : !le);
  return { bytes: out, what: `u32 at ${p} := 0x${v.toString(16)}` };
}

function truncate(rng: Rng, src: Uint8Array): Mutation {
  const n = rng.chance(0.3) ? rng.int(Math.min(64, src.length)) : rng.int(src.length);
  return { bytes: copy(src.subarray(0, n)), what: `truncate to ${n}` };
}

function splice(rng: Rng, src: Uint8Array): Mutation {
  const out = copy(src);
  const len = 1 + rng.int(Math.min(256, src.length));
  const from = rng.int(src.length - len + 1);
  const to = rng.int(src.length - len + 1);
  out.copyWithin(to, from, from + len);
  return { bytes: out, what: `splice [${from}, +${len}) over ${to}` };
}

function insertOrDelete(rng: Rng, src: Uint8Array): Mutation {
  const p = rng.int(src.length);
  let n = 1 + rng.int(16);
  if (rng.chance(0.5)) {
    const out = new Uint8Array(src.length + n);
    out.set(src.subarray(0, p));
    for (let i = 0; i < n; i++) out[p + i] = rng.int(256);
    out.set(src.subarray(p), p + n);
    return { bytes: out, what: `insert ${n} bytes at ${p}` };
  }
  n = Math.min(n, src.length - p);
  const out = new Uint8Array(src.length - n);
  out.set(src.subarray(0, p));
  out.set(src.subarray(p + n), p);
  return { bytes: out, what: `delete ${n} bytes at ${p}` };
}

/** One generic mutation of any byte string (containers included). */
export function mutateBytes(rng: Rng, src: Uint8Array, le = true): Mutation {
  if (src.length === 0) return { bytes: src, what: 'none (empty)' };
  switch (rng.int(7)) {
    case 0: return flipBits(rng, src);
    case 1: return randomBytes(rng, src);
    case 2: case 3: return overwriteWord(rng, src, le);
    case 4: return truncate(rng, src);
    case 5: return splice(rng, src);
    default: return insertOrDelete(rng, src);
  }
}

/** BTF-aware mutations: header fields, and the info/size/type words of type records. */
export function mutateBtf(rng: Rng, btf: Btf, src: Uint8Array): Mutation {
  const le = btf.littleEndian;
  const out = copy(src);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const choice = rng.int(5);
  if (out.length < 24) return mutateBytes(rng, src, le);
  if (choice === 0) {
    // Header: magic, version, flags, hdr_len and the section offsets/lengths.
    const field = rng.pick([0, 2, 3, 4, 8, 12, 16, 20]);
    if (field === 0) {
      out[rng.int(2)] ^= 1 << rng.int(8);
      return { bytes: out, what: 'corrupt magic' };
    }
    if (field === 2 || field === 3) {
      out[field] = rng.pick([0, 1, 2, 0xff, rng.int(256)]);
      return { bytes: out, what: `header byte ${field} := ${out[field]}` };
    }
    const v = interestingU32(rng, src.length);
    dv.setUint32(field, v, le);
    return { bytes: out, what: `header u32 at ${field} := 0x${v.toString(16)}` };
  }
  if (btf.ownTypeCount === 0) return mutateBytes(rng, src, le);
  const i = rng.int(btf.ownTypeCount);
  const off = btf.offsets[i];
  if (off + 12 > out.length) return mutateBytes(rng, src, le);
  const id = btf.startId + i;
  if (choice === 1) {
    // info: kind (any of 0..31), vlen (edge values), kind_flag.
    const info = dv.getUint32(off + 4, le);
    const kind = rng.chance(0.7) ? rng.int(20) : rng.int(32);
    const vlen = rng.chance(0.5) ? info & 0xffff : rng.pick([0, 1, 2, 0xffff, 0x8000, rng.int(64)]);
    const kflag = rng.chance(0.5) ? info >>> 31 : rng.int(2);
    const v = ((kflag << 31) | (kind << 24) | (rng.chance(0.1) ? rng.int(256) << 16 : 0) | vlen) >>> 0;
    dv.setUint32(off + 4, v, le);
    return { bytes: out, what: `type [${id}] info := 0x${v.toString(16)}` };
  }
  if (choice === 2) {
    // name_off or size/type: out-of-range strings and type ids.
    const field = rng.chance(0.5) ? 0 : 8;
    const v = rng.chance(0.5) ? interestingU32(rng, src.length) : btf.nextId + rng.int(4) - 2;
    dv.setUint32(off + field, v >>> 0, le);
    return { bytes: out, what: `type [${id}] word ${field} := 0x${(v >>> 0).toString(16)}` };
  }
  if (choice === 3) {
    // A word inside the record's trailing data (members, params, enum values, array info, ...).
    const next = i + 1 < btf.ownTypeCount ? btf.offsets[i + 1] : btf.header.typeEnd;
    const words = Math.max(1, (next - off - 12) >>> 2);
    const p = off + 12 + 4 * rng.int(words);
    if (p + 4 > out.length) return mutateBytes(rng, src, le);
    const v = rng.chance(0.5) ? interestingU32(rng, src.length) : btf.nextId + rng.int(4) - 2;
    dv.setUint32(p, v >>> 0, le);
    return { bytes: out, what: `type [${id}] data word at ${p} := 0x${(v >>> 0).toString(16)}` };
  }
  // Swap two records' bytes (types in the wrong place), same length window.
  const j = rng.int(btf.ownTypeCount);
  const len = 12 * (1 + rng.int(3));
  const from = btf.offsets[j];
  if (from + len <= out.length && off + len <= out.length) out.copyWithin(off, from, from + len);
  return { bytes: out, what: `copy ${len} bytes of type [${btf.startId + j}] over type [${id}]` };
}

// ---------------------------------------------------------------------------------------------------------------
// A small standalone base BTF cut from a real vmlinux.

const REF_KINDS = new Set([2, 8, 9, 10, 11, 12, 14, 17, 18]);

/**
 * The first `n` types of a little-endian base BTF as a standalone blob: the same records, a string section
 * holding only the strings they use, and references to types past `n` turned into void (0). A FUNC whose
 * prototype is cut off gets the nearest earlier FUNC_PROTO, so the slice stays valid for bpftool's checks.
 */
export function sliceBase(btf: Btf, n: number): Uint8Array {
  if (btf.base || !btf.littleEndian) throw new Error('sliceBase takes little-endian base btf');
  n = Math.min(n, btf.ownTypeCount);
  const end = n < btf.ownTypeCount ? btf.offsets[n] : btf.header.typeEnd;
  const start = btf.offsets[0];
  const types = copy(btf.bytes.subarray(start, end));
  const dv = new DataView(types.buffer);
  const strIds = new Map<number, number>([[0, 0]]);
  const strParts: number[] = [0];
  const str = (p: number): void => {
    const old = dv.getUint32(p, true);
    let now = strIds.get(old);
    if (now === undefined) {
      now = strParts.length;
      for (const c of Buffer.from(btf.strings.tryGetRaw(old) ?? '', 'latin1')) strParts.push(c);
      strParts.push(0);
      strIds.set(old, now);
    }
    dv.setUint32(p, now, true);
  };
  const ref = (p: number): void => {
    if (dv.getUint32(p, true) > n) dv.setUint32(p, 0, true);
  };
  let lastProto = 0;
  for (let i = 0; i < n; i++) {
    const o = btf.offsets[i] - start;
    const info = dv.getUint32(o + 4, true);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const p = o + 12;
    str(o);
    if (kind === 12 && dv.getUint32(o + 8, true) > n) dv.setUint32(o + 8, lastProto, true);
    else if (REF_KINDS.has(kind)) ref(o + 8);
    switch (kind) {
      case 3: ref(p); ref(p + 4); break;
      case 4: case 5: for (let j = 0; j < vlen; j++) { str(p + 12 * j); ref(p + 12 * j + 4); } break;
      case 6: for (let j = 0; j < vlen; j++) str(p + 8 * j); break;
      case 19: for (let j = 0; j < vlen; j++) str(p + 12 * j); break;
      case 13: ref(o + 8); lastProto = i + 1; for (let j = 0; j < vlen; j++) { str(p + 8 * j); ref(p + 8 * j + 4); } break;
      case 15: for (let j = 0; j < vlen; j++) ref(p + 12 * j); break;
    }
  }
  const strs = Uint8Array.from(strParts);
  const out = new Uint8Array(24 + types.length + strs.length);
  const h = new DataView(out.buffer);
  h.setUint16(0, 0xeb9f, true);
  out[2] = 1;
  h.setUint32(4, 24, true);
  h.setUint32(8, 0, true);
  h.setUint32(12, types.length, true);
  h.setUint32(16, types.length, true);
  h.setUint32(20, strs.length, true);
  out.set(types, 24);
  out.set(strs, 24 + types.length);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Containers.

/** A ustar archive of regular files (POSIX.1-1988 header, 512-byte blocks, two zero blocks at the end). */
export function writeTar(entries: { name: string; data: Uint8Array }[]): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const e of entries) {
    const h = new Uint8Array(512);
    const put = (off: number, s: string): void => h.set(Buffer.from(s, 'latin1'), off);
    put(0, e.name);
    put(100, '0000644\0');
    put(108, '0000000\0');
    put(116, '0000000\0');
    put(124, `${e.data.length.toString(8).padStart(11, '0')}\0`);
    put(136, '00000000000\0');
    put(148, '        ');
    h[156] = 0x30; // '0': regular file
    put(257, 'ustar\0');
    put(263, '00');
    let sum = 0;
    for (const b of h) sum += b;
    put(148, `${sum.toString(8).padStart(6, '0')}\0 `);
    blocks.push(h, e.data, new Uint8Array((512 - (e.data.length % 512)) % 512));
  }
  blocks.push(new Uint8Array(1024));
  return concat(blocks);
}

/**
 * An .xz stream (tukaani xz file format 1.0.4) holding `data` in stored (uncompressed) LZMA2 chunks, with no
 * integrity check: a valid input for xz decoders without needing an xz encoder.
 */
export function writeXzStored(data: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  const flags = Uint8Array.of(0x00, 0x00); // check type none
  parts.push(Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00), flags, le32(crc32(flags)));
  // Block header: size byte, block flags (one filter, no sizes), LZMA2 filter (id 0x21, 1 property byte:
  // dictionary size 8 MiB = 0x16), padding to a multiple of 4, CRC32.
  const hdr = Uint8Array.of(0x02, 0x00, 0x21, 0x01, 0x16, 0x00, 0x00, 0x00);
  parts.push(hdr, le32(crc32(hdr)));
  const chunks: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += 0x10000) {
    const c = data.subarray(off, Math.min(data.length, off + 0x10000));
    chunks.push(Uint8Array.of(off === 0 ? 0x01 : 0x02, (c.length - 1) >>> 8, (c.length - 1) & 0xff), c);
  }
  chunks.push(Uint8Array.of(0x00));
  const compressed = concat(chunks);
  parts.push(compressed, new Uint8Array((4 - (compressed.length % 4)) % 4));
  const unpadded = 12 + compressed.length;
  const index = concat([Uint8Array.of(0x00, 0x01), varint(unpadded), varint(data.length)]);
  const indexPadded = concat([index, new Uint8Array((4 - (index.length % 4)) % 4)]);
  parts.push(indexPadded, le32(crc32(indexPadded)));
  const backward = le32((indexPadded.length + 4) / 4 - 1);
  const footer = concat([backward, flags]);
  parts.push(le32(crc32(footer)), footer, Uint8Array.of(0x59, 0x5a));
  return concat(parts);
}

function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Uint8Array.from(out);
}

function le32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/**
 * The same little-endian base blob with a 32-byte header and a kind-layout section (kinds 0..21) after the
 * strings: known kinds described as the kernel would, kinds 20 and 21 made up ({4, 12} and {0, 8}), so that
 * mutated records of those kinds take the skip-by-layout path.
 */
export function withLayoutSection(bytes: Uint8Array): Uint8Array {
  const src = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hdrLen = src.getUint32(4, true);
  const typeLen = src.getUint32(12, true);
  const strOff = src.getUint32(16, true);
  const strLen = src.getUint32(20, true);
  const types = bytes.subarray(hdrLen, hdrLen + typeLen);
  const strs = bytes.subarray(hdrLen + strOff, hdrLen + strOff + strLen);
  const kinds = 22;
  const layoutOff = (typeLen + strLen + 3) & ~3;
  const out = new Uint8Array(32 + layoutOff + 4 * kinds);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, 0xeb9f, true);
  out[2] = 1;
  dv.setUint32(4, 32, true);
  dv.setUint32(12, typeLen, true);
  dv.setUint32(16, typeLen, true);
  dv.setUint32(20, strLen, true);
  dv.setUint32(24, layoutOff, true);
  dv.setUint32(28, 4 * kinds, true);
  out.set(types, 32);
  out.set(strs, 32 + typeLen);
  const info = [0, 4, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 4, 0, 0, 4, 0];
  const elem = [0, 0, 0, 0, 12, 12, 8, 0, 0, 0, 0, 0, 0, 8, 0, 12, 0, 0, 0, 12, 12, 8];
  for (let k = 0; k < kinds; k++) {
    out[32 + layoutOff + 4 * k] = info[k];
    out[32 + layoutOff + 4 * k + 1] = elem[k];
  }
  return out;
}
