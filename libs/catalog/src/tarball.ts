/**
 * Reproducible btfhub-archive files: a ustar tarball holding one `UNAME_R.btf`, in an .xz container. The same BTF
 * always gives the same bytes (mtime 0, mode 0444, uid/gid 0, owner names `root`, no record padding), so a
 * kernel ingested from raw BTF or an ELF object gets a stable sha256 that mirrors can check.
 *
 * Formats: POSIX.1-1988 ustar with pax extended headers (POSIX.1-2001) for names past 100 bytes; the .xz file
 * format 1.2.0 (tukaani.org/xz/xz-file-format.txt) with one block, one LZMA2 filter and a CRC32 check.
 */

const BLOCK = 512;

/** The ustar archive of one regular file `name` holding `data`, byte for byte the same for the same input. */
export function writeReproducibleTar(name: string, data: Uint8Array): Uint8Array {
  const nameBytes = Buffer.from(name, 'utf8');
  const parts: Uint8Array[] = [];
  if (nameBytes.length > 100) {
    // A pax `path` record carries the long name; the ustar header keeps a truncated one for old readers.
    const pax = paxRecord('path', name);
    parts.push(ustarHeader(Buffer.from('PaxHeader', 'latin1'), pax.length, 'x'), pax, zeroPad(pax.length));
  }
  parts.push(ustarHeader(nameBytes.subarray(0, 100), data.length, '0'), data, zeroPad(data.length));
  parts.push(new Uint8Array(2 * BLOCK));
  return concat(parts);
}

/** One pax record: `LEN KEY=VALUE\n`, where LEN counts the whole record including its own digits. */
function paxRecord(key: string, value: string): Uint8Array {
  const body = Buffer.byteLength(` ${key}=${value}\n`, 'utf8');
  let len = body + String(body).length;
  if (String(len).length !== String(body).length) len = body + String(len).length;
  return Buffer.from(`${len} ${key}=${value}\n`, 'utf8');
}

function ustarHeader(name: Uint8Array, size: number, type: '0' | 'x'): Uint8Array {
  const h = new Uint8Array(BLOCK);
  const put = (off: number, s: string): void => h.set(Buffer.from(s, 'latin1'), off);
  h.set(name, 0);
  put(100, '0000444\0'); // mode r--r--r--
  put(108, '0000000\0'); // uid
  put(116, '0000000\0'); // gid
  put(124, `${size.toString(8).padStart(11, '0')}\0`);
  put(136, '00000000000\0'); // mtime: the epoch
  put(148, '        '); // checksum field counts as spaces while summing
  put(156, type);
  put(257, 'ustar\0');
  put(263, '00');
  put(265, 'root');
  put(297, 'root');
  put(329, '0000000\0'); // devmajor
  put(337, '0000000\0'); // devminor
  let sum = 0;
  for (const b of h) sum += b;
  put(148, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

function zeroPad(length: number): Uint8Array {
  return new Uint8Array((BLOCK - (length % BLOCK)) % BLOCK);
}

/** Largest LZMA2 uncompressed chunk (its size field holds size - 1 in 16 bits). */
const LZMA2_CHUNK = 0x10000;

/**
 * An .xz stream holding `data`. The LZMA2 filter carries it in uncompressed chunks (xz's own encoder does the
 * same for incompressible data): valid for every xz decoder, deterministic, and free of a native dependency,
 * at the cost of no size reduction. One block with a CRC32 check of the data.
 */
export function writeXz(data: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  const streamFlags = Uint8Array.of(0x00, 0x01); // check type 1: CRC32
  parts.push(Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00), streamFlags, le32(crc32(streamFlags)));
  // Block header: its size / 4 - 1, block flags (one filter, no size fields), the LZMA2 filter (id 0x21, one
  // property byte: dictionary size 64 KiB = 8), zero padding to a multiple of four, CRC32 of all that.
  const header = Uint8Array.of(0x02, 0x00, 0x21, 0x01, 0x08, 0x00, 0x00, 0x00);
  parts.push(header, le32(crc32(header)));
  let packed = 0;
  for (let off = 0; off < data.length; off += LZMA2_CHUNK) {
    const chunk = data.subarray(off, Math.min(data.length, off + LZMA2_CHUNK));
    // Control 1: uncompressed chunk with a dictionary reset (the first one), 2: without.
    parts.push(Uint8Array.of(off === 0 ? 0x01 : 0x02, (chunk.length - 1) >>> 8, (chunk.length - 1) & 0xff), chunk);
    packed += 3 + chunk.length;
  }
  parts.push(Uint8Array.of(0x00)); // end of LZMA2 data
  packed += 1;
  parts.push(new Uint8Array((4 - (packed % 4)) % 4), le32(crc32(data)));
  const unpaddedSize = header.length + 4 + packed + 4;
  const index = concat([Uint8Array.of(0x00), varint(1), varint(unpaddedSize), varint(data.length)]);
  const indexPadded = concat([index, new Uint8Array((4 - (index.length % 4)) % 4)]);
  parts.push(indexPadded, le32(crc32(indexPadded)));
  const footer = concat([le32((indexPadded.length + 4) / 4 - 1), streamFlags]);
  parts.push(le32(crc32(footer)), footer, Uint8Array.of(0x59, 0x5a));
  return concat(parts);
}

/** The btfhub-archive file of a kernel: `UNAME_R.btf.tar.xz` holding `UNAME_R.btf`, reproducibly. */
export function buildBtfTarXz(unameR: string, btf: Uint8Array): Uint8Array {
  return writeXz(writeReproducibleTar(`${unameR}.btf`, btf));
}

function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
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

/** CRC32 (IEEE 802.3, as xz uses it). */
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function concat(parts: Uint8Array[]): Uint8Array {
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
