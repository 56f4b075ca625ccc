/**
 * Builders for the package fixtures the tests make themselves: a tiny vmlinux BTF and a module BTF on it, ELF
 * objects holding them, kernel images (bzImage, arm64 Image, EFI zboot), compressed streams written in JS
 * (gzip, xz, zstd raw/RLE blocks, lz4 legacy literal blocks), and the archives around them (tar, ar/.deb,
 * cpio/.rpm). Formats as documented in the sources' doc comments; nothing here is a general-purpose writer.
 */
import { crc32, gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';
import { xzEncodeWasm } from '../../src/lzma.js';
import { BtfBuilder } from '../../../btf/test/support/builder.js';
import { writeElf } from '../../../btf/test/support/elf-writer.js';

/** A small base BTF: int, long, a struct task with a pointer to itself. */
export function baseBtf(): Uint8Array {
  const b = new BtfBuilder();
  const int = b.int('int', 4, 32, 1);
  const long = b.int('long int', 8, 64, 1);
  b.struct('task_struct', 16, [
    { name: 'pid', type: int, bitsOffset: 0 },
    { name: 'next', type: 4, bitsOffset: 64 },
  ]);
  b.ptr(3);
  void long;
  return b.build();
}

/** Split BTF on {@link baseBtf}: a module's struct that points at task_struct. */
export function moduleBtf(): Uint8Array {
  const base = baseBtf();
  const dv = new DataView(base.buffer, base.byteOffset);
  const strLen = dv.getUint32(20, true);
  const b = new BtfBuilder({ startId: 5, strBase: strLen, leadingNul: false });
  b.struct('ext4_sb_info', 8, [{ name: 'owner', type: 4, bitsOffset: 0 }]);
  return b.build();
}

export function elfWithBtf(btf: Uint8Array, littleEndian = true): Uint8Array {
  return writeElf({ bits: 64, littleEndian, sections: [{ name: '.text', data: new Uint8Array(16) }, { name: '.BTF', data: btf }] });
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

export function le32(n: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

export function gzip(b: Uint8Array): Uint8Array {
  return gzipSync(b);
}

/** A zstd frame (RFC 8878) of Raw blocks: valid zstd that any decoder must read, written without an encoder. */
export function zstdRaw(data: Uint8Array, windowLog = 17): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (windowLog - 10) << 3])];
  const max = 128 * 1024;
  for (let pos = 0; pos < data.length || pos === 0; pos += max) {
    const chunk = data.subarray(pos, Math.min(data.length, pos + max));
    const last = pos + max >= data.length ? 1 : 0;
    parts.push(blockHeader(last, 0, chunk.length), chunk);
    if (data.length === 0) break;
  }
  return concat(...parts);
}

/** A zstd frame whose `prefix` is a Raw block followed by RLE blocks of zeros adding up to `zeros` bytes (a bomb). */
export function zstdBomb(prefix: Uint8Array, zeros: number): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (17 - 10) << 3])];
  parts.push(blockHeader(0, 0, prefix.length), prefix);
  const max = 128 * 1024;
  for (let left = zeros; left > 0; left -= max) {
    const n = Math.min(max, left);
    parts.push(blockHeader(left - n === 0 ? 1 : 0, 1, n), Uint8Array.of(0));
  }
  return concat(...parts);
}

function blockHeader(last: number, type: number, size: number): Uint8Array {
  const v = last | (type << 1) | (size << 3);
  return Uint8Array.of(v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff);
}

/** An lz4 legacy frame of literal-only blocks (lz4's doc/lz4_Block_format.md: one sequence, no match). */
export function lz4Legacy(data: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [le32(0x184c2102)];
  const max = 8 * 1024 * 1024;
  for (let pos = 0; pos < data.length; pos += max) {
    const chunk = data.subarray(pos, Math.min(data.length, pos + max));
    const block: number[] = [];
    let n = chunk.length;
    if (n >= 15) {
      block.push(0xf0);
      n -= 15;
      while (n >= 255) {
        block.push(255);
        n -= 255;
      }
      block.push(n);
    } else block.push(n << 4);
    const b = concat(Uint8Array.from(block), chunk);
    parts.push(le32(b.length), b);
  }
  return concat(...parts);
}

/** xz via liblzma (wasm), the library's own loader. */
export async function xz(data: Uint8Array): Promise<Uint8Array> {
  return xzEncodeWasm(data, 1);
}

/**
 * The one-block .xz `file` with its LZMA2 dictionary size set to 2^`log2` bytes (the filter's property byte; the
 * block header's CRC32 made again): the decoder allocates the whole dictionary when it starts, however small the data.
 */
export function withDictionary(file: Uint8Array, log2: number): Uint8Array {
  const out = Uint8Array.from(file);
  const headerSize = (out[12] + 1) * 4;
  let pos = 14;
  const skipVli = (): void => {
    while (out[pos++] & 0x80);
  };
  if (out[13] & 0x40) skipVli();
  if (out[13] & 0x80) skipVli();
  if (out[pos] !== 0x21 || out[pos + 1] !== 1) throw new Error('not a one-filter LZMA2 block with one property byte');
  out[pos + 2] = (log2 - 12) * 2;
  const crcAt = 12 + headerSize - 4;
  new DataView(out.buffer).setUint32(crcAt, crc32(out.subarray(12, crcAt)), true);
  return out;
}

/** An x86 bzImage: setup header (boot protocol 2.15), `setupSects` sectors, then the payload; `patch` edits it. */
export function bzImage(payload: Uint8Array, opts: { setupSects?: number; banner?: string; patch?: (h: DataView) => void } = {}): Uint8Array {
  const setupSects = opts.setupSects ?? 4;
  const pm = ((setupSects === 0 ? 4 : setupSects) + 1) * 512;
  const head = new Uint8Array(pm + 64);
  const dv = new DataView(head.buffer);
  head[0] = 0x4d;
  head[1] = 0x5a;
  dv.setUint8(0x1f1, setupSects);
  dv.setUint16(0x1fe, 0xaa55, true);
  head.set(Buffer.from('HdrS', 'latin1'), 0x202);
  dv.setUint16(0x206, 0x020f, true);
  const banner = Buffer.from(`${opts.banner ?? '6.1.0-test-amd64 (test@example.org) #1 SMP'}\0`, 'latin1');
  head.set(banner, 0x300);
  dv.setUint16(0x20e, 0x300 - 0x200, true);
  dv.setUint32(0x248, 64, true); // payload_offset, from the protected-mode code
  dv.setUint32(0x24c, payload.length, true); // payload_length
  opts.patch?.(dv);
  return concat(head, payload, new Uint8Array(64));
}

/** An arm64 Image: 64-byte header ("ARM\x64" at 0x38), code, then BTF at a 4 KiB boundary, then more bytes. */
export function arm64Image(btf: Uint8Array): Uint8Array {
  const head = new Uint8Array(0x1000);
  head.set(Buffer.from('ARM\x64', 'latin1'), 0x38);
  // A decoy: a BTF magic with a header that does not add up, before the real one.
  head.set([0x9f, 0xeb, 0x01, 0x00, 0x18, 0, 0, 0], 0x800);
  return concat(head, btf, new Uint8Array(0x1000 - (btf.length % 0x1000)), new Uint8Array(0x800));
}

/** An EFI zboot image (drivers/firmware/efi/libstub/zboot-header.S) around a gzip'd payload. */
export function zboot(inner: Uint8Array): Uint8Array {
  const payload = gzip(inner);
  const head = new Uint8Array(0x200);
  const dv = new DataView(head.buffer);
  head[0] = 0x4d;
  head[1] = 0x5a;
  head.set(Buffer.from('zimg', 'latin1'), 4);
  dv.setUint32(8, head.length, true);
  dv.setUint32(12, payload.length, true);
  head.set(Buffer.from('gzip\0', 'latin1'), 24);
  head.set(Buffer.from('ARM\x64', 'latin1'), 0x38);
  return concat(head, payload, new Uint8Array(128));
}

export interface FileSpec {
  path: string;
  data: Uint8Array;
  type?: 'file' | 'symlink' | 'directory';
  linkname?: string;
}

/** A tar archive (tar-stream's pack: ustar, pax for long names) of the given files. */
export async function tar(files: FileSpec[]): Promise<Uint8Array> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const f of files) {
    if (f.type === 'symlink') pack.entry({ name: f.path, type: 'symlink', linkname: f.linkname ?? 'x' });
    else if (f.type === 'directory') pack.entry({ name: f.path, type: 'directory' });
    else pack.entry({ name: f.path, size: f.data.length }, Buffer.from(f.data));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** An ar archive (deb(5)) of the given members. */
export function ar(members: { name: string; data: Uint8Array; size?: number }[]): Uint8Array {
  const parts: Uint8Array[] = [Buffer.from('!<arch>\n', 'latin1')];
  for (const m of members) {
    const size = m.size ?? m.data.length;
    const h = `${m.name.padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${String(size).padEnd(10)}\`\n`;
    parts.push(Buffer.from(h, 'latin1'), m.data);
    if (m.data.length % 2 === 1) parts.push(Uint8Array.of(0x0a));
  }
  return concat(...parts);
}

export const CONTROL = 'Package: linux-image-6.1.0-test-amd64\nSource: linux-signed-amd64 (6.1.176+1)\nVersion: 6.1.176-1\nArchitecture: amd64\nDescription: test\n multi-line\n';

/** A .deb: debian-binary, control.tar.gz with `control`, data.tar.<kind> with the files. */
export async function deb(files: FileSpec[], opts: { data?: 'xz' | 'gz' | 'zst'; control?: string } = {}): Promise<Uint8Array> {
  const control = gzip(await tar([{ path: './control', data: Buffer.from(opts.control ?? CONTROL) }]));
  const dataTar = await tar(files);
  const kind = opts.data ?? 'xz';
  const data = kind === 'xz' ? await xz(dataTar) : kind === 'gz' ? gzip(dataTar) : zstdRaw(dataTar);
  return ar([
    { name: 'debian-binary', data: Buffer.from('2.0\n') },
    { name: 'control.tar.gz', data: control },
    { name: `data.tar.${kind}`, data },
  ]);
}

/** A newc cpio archive (cpio(5)) of regular files. */
export function cpio(files: { path: string; data: Uint8Array }[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const entry = (name: string, data: Uint8Array, mode: number): void => {
    const nameBytes = Buffer.from(`${name}\0`, 'utf8');
    const hex = (n: number): string => n.toString(16).padStart(8, '0');
    const fields = [1, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0];
    const h = Buffer.from(`070701${fields.map(hex).join('')}`, 'latin1');
    parts.push(h, nameBytes, new Uint8Array((4 - ((h.length + nameBytes.length) % 4)) % 4), data, new Uint8Array((4 - (data.length % 4)) % 4));
  };
  for (const f of files) entry(f.path, f.data, 0o100644);
  entry('TRAILER!!!', new Uint8Array(0), 0);
  return concat(...parts);
}

/** An rpm header structure with string tags (rpm's doc/manual/format.md). */
function rpmHeader(tags: [number, string][], pad: boolean): Uint8Array {
  const store: Uint8Array[] = [];
  let off = 0;
  const index: Uint8Array[] = [];
  for (const [tag, value] of tags) {
    const e = Buffer.alloc(16);
    e.writeUInt32BE(tag, 0);
    e.writeUInt32BE(6, 4); // RPM_STRING_TYPE
    e.writeUInt32BE(off, 8);
    e.writeUInt32BE(1, 12);
    index.push(e);
    const v = Buffer.from(`${value}\0`, 'utf8');
    store.push(v);
    off += v.length;
  }
  const intro = Buffer.alloc(16);
  intro.set([0x8e, 0xad, 0xe8, 0x01], 0);
  intro.writeUInt32BE(tags.length, 8);
  intro.writeUInt32BE(off, 12);
  const h = concat(intro, ...index, ...store);
  return pad ? concat(h, new Uint8Array((8 - (h.length % 8)) % 8)) : h;
}

/** An .rpm: lead, signature header (padded to 8), main header, payload = cpio compressed by `compress`. */
export async function rpm(files: { path: string; data: Uint8Array }[], compress: 'xz' | 'zstd' | 'gzip' = 'xz'): Promise<Uint8Array> {
  const lead = new Uint8Array(96);
  lead.set([0xed, 0xab, 0xee, 0xdb, 3, 0], 0);
  const sig = rpmHeader([], true);
  const main = rpmHeader([[1000, 'kernel-core'], [1001, '6.8.5'], [1002, '301.fc40'], [1022, 'x86_64'], [1044, 'kernel-6.8.5-301.fc40.src.rpm'], [1124, 'cpio'], [1125, compress]], false);
  const archive = cpio(files);
  const payload = compress === 'xz' ? await xz(archive) : compress === 'gzip' ? gzip(archive) : zstdRaw(archive);
  return concat(lead, sig, main, payload);
}
