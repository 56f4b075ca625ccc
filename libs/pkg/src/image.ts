/**
 * BTF out of a kernel image as distributions ship it: an ELF vmlinux (its .BTF section), an x86 bzImage (setup
 * header → compressed payload → ELF vmlinux), an EFI zboot image (arm64, riscv64, loongarch: header → compressed
 * payload → raw Image), an arm64 or riscv64 Image, an s390x image, or any of these gzip'd. A raw image has no
 * sections, so its BTF is found by its header and kept only when libs/btf accepts it.
 */
import { Btf, BtfError, extractElfBtf, isElf, readElfSections, validateBtf, type InputBudget } from '@btf-atlas/btf';
import { detectCompression, decompressBytes, decompressSized, decompressedHead, type Compression } from './decompress.js';
import { PkgError, PkgErrorCode, toPkgError } from './errors.js';
import { pkgBudget, resolveLimits, type PkgLimits } from './limits.js';

/** BTF found in a kernel image. */
export interface ImageBtf {
  btf: Uint8Array;
  /** How it was found, outermost first: `['bzImage', 'zstd', 'elf']`, `['zboot', 'gzip', 'arm64-image', 'btf@0x1c40000']`. */
  from: string[];
  /** The version string a bzImage carries (`6.1.0-47-amd64 (debian-kernel@lists.debian.org) #1 SMP …`). */
  bannerVersion?: string;
}

export interface ImageOptions {
  limits?: Partial<PkgLimits>;
  /** The budget of the input the image is part of (a package's); by default one of its own. */
  budget?: InputBudget;
  /** Compressed streams around the image already (1 inside a data.tar.xz), for the budget's nesting limit. */
  depth?: number;
}

/** Where an image is being unwrapped: its limits, its input's budget and the nesting around it. */
interface Unwrap {
  lim: PkgLimits;
  budget: InputBudget;
  /** Compression levels outside the image. */
  outer: number;
}

/** What kind of kernel image the bytes are, from fixed header fields only; undefined when none. */
export type ImageKind = 'elf' | 'bzImage' | 'zboot' | 'arm64-image' | 'riscv-image' | 's390-image' | 'arm-zimage' | 'btf' | Compression;

export function detectImage(b: Uint8Array): ImageKind | undefined {
  if (isElf(b)) return 'elf';
  if (b.length >= 0x206 && ascii(b, 0x202, 4) === 'HdrS') return 'bzImage';
  if (b.length >= 0x40 && b[0] === 0x4d && b[1] === 0x5a && ascii(b, 4, 4) === 'zimg') return 'zboot';
  if (b.length >= 0x40 && ascii(b, 0x38, 4) === 'ARM\x64') return 'arm64-image';
  if (b.length >= 0x40 && ascii(b, 0x38, 4) === 'RSC\x05') return 'riscv-image';
  if (b.length >= 0x10010 && ascii(b, 0x10008, 6) === 'S390EP') return 's390-image';
  if (b.length >= 0x30 && u32le(b, 0x24) === 0x016f2818) return 'arm-zimage';
  if (b.length >= 4 && ((b[0] === 0x9f && b[1] === 0xeb) || (b[0] === 0xeb && b[1] === 0x9f)) && b[2] === 1) return 'btf';
  return detectCompression(b);
}

/**
 * The BTF of a bare kernel image (or an ELF vmlinux, or raw BTF). Throws PkgError only: PKG_BAD_IMAGE for a
 * header that does not add up, PKG_NO_BTF when the kernel has none, PKG_DWARF_ONLY for an ELF with DWARF only.
 */
export async function kernelImageBtf(bytes: Uint8Array, opts: ImageOptions = {}): Promise<ImageBtf> {
  const lim = resolveLimits(opts.limits);
  try {
    return await unwrap(bytes, [], { lim, budget: opts.budget ?? pkgBudget('kernel image', lim), outer: opts.depth ?? 0 }, 0);
  } catch (err) {
    throw toPkgError(err);
  }
}

/** Bytes of a decoded payload that tell what it is: an ELF header, an image header (s390's is at 64 KiB). */
const PAYLOAD_HEAD = 0x10010;

/**
 * A compressed payload decoded whole under the image cap and the input's budget, after its first bytes said it is
 * what it must be (`accept`): a bomb that does not start as a kernel does is refused after one chunk, not after
 * the cap's worth of zeros.
 */
async function payload(
  kind: Compression,
  bytes: Uint8Array,
  u: Unwrap,
  depth: number,
  what: string,
  accept: (head: Uint8Array) => boolean,
  refuse: () => PkgError,
  sizeHint?: number,
): Promise<Uint8Array> {
  u.budget.enterLevel(u.outer + depth + 1);
  // Decoded whole into a buffer of the stated size where it can be (bounded like any accepted payload), then told
  // by its head: a streaming head decode first would cost as much again. A stream of another size goes on below.
  const sized = await decompressSized(kind, bytes, u.lim.maxImageSize, sizeHint, u.budget);
  if (sized) {
    if (!accept(sized.subarray(0, PAYLOAD_HEAD))) throw refuse();
    return sized;
  }
  const head = await decompressedHead(kind, bytes, PAYLOAD_HEAD, u.lim.maxImageSize, what, u.budget);
  if (!accept(head)) throw refuse();
  // Streamed (the one-call decode was tried above).
  return decompressBytes(kind, bytes, u.lim.maxImageSize, what, undefined, u.budget);
}

const MAX_DEPTH = 4;

async function unwrap(b: Uint8Array, chain: string[], u: Unwrap, depth: number): Promise<ImageBtf> {
  if (depth > MAX_DEPTH) throw new PkgError(PkgErrorCode.BadImage, `kernel image nests more than ${MAX_DEPTH} containers (${chain.join(':')})`);
  const kind = detectImage(b);
  switch (kind) {
    case 'elf':
      return { btf: elfBtf(b), from: [...chain, 'elf'] };
    case 'bzImage':
      return bzImage(b, chain, u, depth);
    case 'zboot':
      return zboot(b, chain, u, depth);
    case 'arm64-image':
    case 'riscv-image':
      return rawImage(b, [...chain, kind]);
    case 's390-image':
      return scannedImage(b, 's390-image', 0x10000, chain, u, depth);
    case 'btf':
      return rawImage(b, [...chain, 'btf']);
    case 'arm-zimage':
      // The 32-bit arm decompressor's header (magic at 0x24) records its start and end, not where the payload is.
      return scannedImage(b, 'arm-zimage', 0x30, chain, u, depth);
    case undefined:
      throw new PkgError(PkgErrorCode.UnknownFormat, `not a kernel image: no elf, bzImage, zboot, arm64/riscv/s390 image or compression magic${chain.length ? ` (inside ${chain.join(':')})` : ''}`, { offset: 0 });
    default: {
      const what = chain.length ? chain.join(':') : 'kernel image';
      const notImage = (): PkgError => new PkgError(PkgErrorCode.UnknownFormat, `${what} (${kind}) does not decompress to a kernel image (unknown magic)`, { offset: 0 });
      const out = await payload(kind, b, u, depth, what, (head) => detectImage(head) !== undefined, notImage);
      return unwrap(out, [...chain, kind], u, depth + 1);
    }
  }
}

/** The .BTF section of an ELF vmlinux or module; PKG_DWARF_ONLY when it has .debug_info instead. */
export function elfBtf(b: Uint8Array): Uint8Array {
  try {
    return extractElfBtf(b);
  } catch (err) {
    if (err instanceof BtfError && err.code === 'BTF_NO_BTF_SECTION') {
      const hasDwarf = readElfSections(b).some((s) => s.name === '.debug_info' || s.name === '.zdebug_info');
      if (hasDwarf) throw new PkgError(PkgErrorCode.DwarfOnly, 'elf object has dwarf (.debug_info) but no .BTF section: pahole can make btf from it');
      throw new PkgError(PkgErrorCode.NoBtf, 'elf object has no .BTF section and no dwarf (built without CONFIG_DEBUG_INFO_BTF)');
    }
    throw err;
  }
}

/**
 * x86 bzImage (Documentation/arch/x86/boot.rst, "The Real-Mode Kernel Header"): setup_sects at 0x1f1 (0 means
 * 4), "HdrS" at 0x202, protocol version at 0x206; from protocol 2.08 payload_offset (0x248) and payload_length
 * (0x24c) locate the compressed vmlinux relative to the protected-mode code at (setup_sects + 1) * 512.
 */
async function bzImage(b: Uint8Array, chain: string[], u: Unwrap, depth: number): Promise<ImageBtf> {
  const version = b[0x206] | (b[0x207] << 8);
  if (version < 0x208) {
    throw new PkgError(PkgErrorCode.BadImage, `bzImage boot protocol ${version >> 8}.${(version & 0xff).toString().padStart(2, '0')} predates payload_offset (2.08)`, { offset: 0x206 });
  }
  if (b.length < 0x250) throw new PkgError(PkgErrorCode.Truncated, `bzImage of ${b.length} bytes ends inside its setup header`, { offset: b.length });
  const setupSects = b[0x1f1] === 0 ? 4 : b[0x1f1];
  const pmStart = (setupSects + 1) * 512;
  const payloadOffset = u32le(b, 0x248);
  const payloadLength = u32le(b, 0x24c);
  const start = pmStart + payloadOffset;
  const end = start + payloadLength;
  if (payloadLength === 0 || end > b.length) {
    throw new PkgError(PkgErrorCode.BadImage, `bzImage payload [${start}, ${end}) lies past the end of the image (${b.length} bytes)`, { offset: 0x248 });
  }
  const compressed = b.subarray(start, end);
  const kind = detectCompression(compressed);
  const banner = bannerOf(b);
  if (kind === undefined) {
    if (isElf(compressed)) return withBanner({ btf: elfBtf(compressed), from: [...chain, 'bzImage', 'elf'] }, banner);
    throw new PkgError(PkgErrorCode.BadImage, 'bzImage payload is neither a known compression nor an elf object', { offset: start });
  }
  // The kernel appends the uncompressed size (le32) after every payload but gzip's, which has it in its trailer.
  const sizeHint = payloadLength >= 4 ? u32le(compressed, payloadLength - 4) : undefined;
  const notElf = (): PkgError => new PkgError(PkgErrorCode.BadImage, `bzImage payload (${kind}) does not decompress to an elf vmlinux`, { offset: start });
  const vmlinux = await payload(kind, compressed, u, depth, [...chain, 'bzImage'].join(':'), isElf, notElf, sizeHint);
  if (!isElf(vmlinux)) throw notElf();
  return withBanner({ btf: elfBtf(vmlinux), from: [...chain, 'bzImage', kind, 'elf'] }, banner);
}

function withBanner(r: ImageBtf, banner: string | undefined): ImageBtf {
  return banner === undefined ? r : { ...r, bannerVersion: banner };
}

/** The kernel_version string of a bzImage (0x20e holds its offset less 0x200), when it is printable. */
function bannerOf(b: Uint8Array): string | undefined {
  const ptr = b[0x20e] | (b[0x20f] << 8);
  if (ptr === 0) return undefined;
  const at = ptr + 0x200;
  if (at >= b.length) return undefined;
  let end = at;
  while (end < b.length && end < at + 512 && b[end] !== 0) end++;
  const s = Buffer.from(b.subarray(at, end)).toString('latin1');
  return /^[\x20-\x7e]+$/.test(s) ? s : undefined;
}

/** EFI zboot names its compression as a NUL-terminated string at offset 24 ("gzip", "zstd22", "xzkern"…). */
const ZBOOT_COMPRESSION: Readonly<Record<string, Compression>> = {
  gzip: 'gzip', zstd: 'zstd', zstd22: 'zstd', lzma: 'lzma', xzkern: 'xz', xz: 'xz', lz4: 'lz4', bzip2: 'bzip2',
};

/**
 * EFI zboot (drivers/firmware/efi/libstub/zboot-header.S): "MZ", "zimg" at 4, payload offset (le32 at 8),
 * payload size (le32 at 12, not counting the appended size), compression name at 24.
 */
async function zboot(b: Uint8Array, chain: string[], u: Unwrap, depth: number): Promise<ImageBtf> {
  const offset = u32le(b, 8);
  const size = u32le(b, 12);
  if (size === 0 || offset + size > b.length) {
    throw new PkgError(PkgErrorCode.BadImage, `zboot payload [${offset}, ${offset + size}) lies past the end of the image (${b.length} bytes)`, { offset: 8 });
  }
  let nameEnd = 24;
  while (nameEnd < 0x38 && b[nameEnd] !== 0) nameEnd++;
  const name = ascii(b, 24, nameEnd - 24);
  const kind = Object.hasOwn(ZBOOT_COMPRESSION, name) ? ZBOOT_COMPRESSION[name] : undefined;
  if (kind === undefined) throw new PkgError(PkgErrorCode.BadImage, `zboot payload compression ${JSON.stringify(name)} is not supported`, { offset: 24 });
  // Hand the decoder the appended size too (when there is room): it tells the zstd fast path the output size.
  const withSize = b.subarray(offset, Math.min(b.length, offset + size + (kind === 'gzip' ? 0 : 4)));
  const sizeHint = withSize.length === size + 4 ? u32le(withSize, size) : undefined;
  const what = [...chain, 'zboot'].join(':');
  const notImage = (): PkgError => new PkgError(PkgErrorCode.BadImage, `zboot payload (${kind}) does not decompress to a kernel image`, { offset });
  const inner = await payload(kind, withSize, u, depth, what, (head) => detectImage(head) !== undefined, notImage, sizeHint);
  return unwrap(inner, [...chain, 'zboot', kind], u, depth + 1);
}

/**
 * s390x images (arch/s390/boot) and 32-bit arm zImages (arch/arm/boot/compressed) are a decompressor followed by the
 * compressed kernel, and no header field says where that starts. The streams after the header (the IPL area on
 * s390) whose first bytes are a compression magic are tried in order (at most {@link S390_TRIES}); the first that
 * decompresses to an image holding valid BTF wins. When one decompresses to a kernel-sized image without any BTF,
 * the kernel was built without it: PKG_NO_BTF.
 */
const S390_TRIES = 16;
/** A decompressed s390 kernel is megabytes; smaller streams in the decompressor are not the kernel. */
const S390_MIN_KERNEL = 1024 * 1024;
async function scannedImage(b: Uint8Array, label: 's390-image' | 'arm-zimage', from: number, chain: string[], u: Unwrap, depth: number): Promise<ImageBtf> {
  u.budget.enterLevel(u.outer + depth + 1);
  const magics: [Compression, number[]][] = [
    ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
    ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
    ['gzip', [0x1f, 0x8b, 0x08]],
    ['lz4', [0x02, 0x21, 0x4c, 0x18]],
    ['bzip2', [0x42, 0x5a, 0x68]],
  ];
  const candidates: { at: number; kind: Compression }[] = [];
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  for (const [kind, magic] of magics) {
    let at = from;
    while ((at = buf.indexOf(Buffer.from(magic), at)) >= 0) {
      if (detectCompression(b.subarray(at, at + 16)) === kind) candidates.push({ at, kind });
      at++;
      if (candidates.length > 256) break;
    }
  }
  candidates.sort((x, y) => x.at - y.at);
  /**
   * The failure the refusal names: of the candidate that got furthest. One that decompressed (its image held no
   * valid BTF) beats one over a decoder limit (a real stream, too big), which beats a false candidate's bad header.
   */
  let last: { err: unknown; rank: number } | undefined;
  const failed = (err: unknown, rank: number): void => {
    if (!last || rank >= last.rank) last = { err, rank };
  };
  /** A candidate that decompressed to a kernel-sized image without any BTF: the kernel was built without it. */
  let withoutBtf: { c: (typeof candidates)[number]; size: number } | undefined;
  for (const c of candidates.slice(0, S390_TRIES)) {
    let inner: Uint8Array;
    try {
      inner = await decompressBytes(c.kind, b.subarray(c.at), u.lim.maxImageSize, [...chain, label].join(':'), undefined, u.budget);
    } catch (err) {
      // The input's budget spent is the input's failure, not this candidate's.
      if (u.budget.remaining === 0) throw err;
      // A false candidate fails in any way (bad header, a window that is not one); each try is capped.
      failed(err, err instanceof PkgError && err.code === PkgErrorCode.TooLarge ? 1 : 0);
      continue;
    }
    try {
      // The payload is vmlinux as a flat binary (objcopy -O binary), so its BTF is found by header.
      return rawImage(inner, [...chain, label, `${c.kind}@0x${c.at.toString(16)}`]);
    } catch (err) {
      failed(err, 2);
      if (err instanceof PkgError && err.code === PkgErrorCode.NoBtf && inner.length >= S390_MIN_KERNEL && (!withoutBtf || inner.length > withoutBtf.size)) {
        withoutBtf = { c, size: inner.length };
      }
    }
  }
  if (withoutBtf) {
    const where = `${withoutBtf.c.kind}@0x${withoutBtf.c.at.toString(16)}`;
    throw new PkgError(PkgErrorCode.NoBtf, `the ${label}'s kernel (${where}, ${withoutBtf.size} bytes decompressed) holds no btf (built without CONFIG_DEBUG_INFO_BTF)`);
  }
  throw new PkgError(PkgErrorCode.BadImage, `${label} holds no compressed kernel that decompresses to btf (${candidates.length} candidates)${last?.err instanceof Error ? `; ${last.rank > 0 ? 'the furthest' : 'last'} failure: ${last.err.message}` : ''}`);
}

/** Most BTF headers tried in one raw image before giving up. */
const RAW_TRIES = 64;

/**
 * Finds the BTF of a raw image by its header (Documentation/bpf/btf.rst, "BTF Type and String Encoding"): magic
 * 0xeb9f in either byte order, version 1, flags 0, hdr_len of at least 24, and type/string (and layout)
 * sections that fit. Each candidate must pass Btf.parse and validateBtf; the first that does is taken.
 */
export function rawImage(b: Uint8Array, chain: string[]): ImageBtf {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const patterns = [Buffer.from([0x9f, 0xeb, 0x01, 0x00]), Buffer.from([0xeb, 0x9f, 0x01, 0x00])];
  const hits: number[] = [];
  for (const p of patterns) {
    for (let at = buf.indexOf(p); at >= 0 && hits.length < 4096; at = buf.indexOf(p, at + 1)) hits.push(at);
  }
  hits.sort((x, y) => x - y);
  let tries = 0;
  let lastError: unknown;
  for (const at of hits) {
    const len = btfLengthAt(b, at);
    if (len === undefined) continue;
    if (++tries > RAW_TRIES) break;
    const blob = b.subarray(at, at + len);
    try {
      validateBtf(Btf.parse(blob), { skipResolve: true });
      return { btf: blob, from: [...chain, `btf@0x${at.toString(16)}`] };
    } catch (err) {
      lastError = err;
    }
  }
  const why = lastError instanceof Error ? ` (last candidate: ${lastError.message})` : '';
  throw new PkgError(PkgErrorCode.NoBtf, `${chain.join(':')} holds no valid btf: ${tries} header candidates tried${why}`);
}

/** The blob length a BTF header at `at` declares, or undefined when the header is not plausible. */
function btfLengthAt(b: Uint8Array, at: number): number | undefined {
  if (at + 24 > b.length) return undefined;
  const le = b[at] === 0x9f;
  const dv = new DataView(b.buffer, b.byteOffset + at, Math.min(32, b.length - at));
  if (dv.getUint8(3) !== 0) return undefined; // flags
  const hdrLen = dv.getUint32(4, le);
  if (hdrLen < 24 || hdrLen > 256 || hdrLen % 4 !== 0) return undefined;
  const typeOff = dv.getUint32(8, le);
  const typeLen = dv.getUint32(12, le);
  const strOff = dv.getUint32(16, le);
  const strLen = dv.getUint32(20, le);
  if (typeOff % 4 !== 0 || typeLen % 4 !== 0 || strLen === 0) return undefined;
  let end = Math.max(typeOff + typeLen, strOff + strLen);
  if (hdrLen >= 32 && dv.byteLength >= 32) {
    const layoutOff = dv.getUint32(24, le);
    const layoutLen = dv.getUint32(28, le);
    if (layoutLen > 0) end = Math.max(end, layoutOff + layoutLen);
  }
  const total = hdrLen + end;
  return at + total <= b.length ? total : undefined;
}

function ascii(b: Uint8Array, at: number, n: number): string {
  return Buffer.from(b.buffer, b.byteOffset + at, Math.min(n, Math.max(0, b.length - at))).toString('latin1');
}

function u32le(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}
