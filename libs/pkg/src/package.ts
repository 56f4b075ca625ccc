/**
 * Kernel BTF straight out of what distributions ship: a Debian/Ubuntu .deb, a Fedora/RHEL/SUSE .rpm, or a bare
 * kernel image. Archives are read as streams under one {@link InputBudget} per input (libs/btf's): every
 * decoder's output (the data.tar, the rpm payload, a kernel image's payload, each compressed module), every
 * archive member and every level of nesting is charged as it arrives, and decoding stops the moment the budget is
 * spent. Members are read one at a time: a kernel image is read for BTF as soon as it arrives and only its BTF is
 * kept; a module is kept only while its BTF is taken out. Pure (bytes or a file in, typed results out) unless the
 * caller passes an impure DWARF converter (pahole.ts).
 */
import { basename } from 'node:path';
import { isElf, type InputBudget } from '@btf-atlas/btf';
import { isAr, readAr } from './ar.js';
import { readCpio } from './cpio.js';
import { compressionOfName, decompress, decompressBytes, decompressedHead, detectCompression, type Compression } from './decompress.js';
import { PkgError, PkgErrorCode, toPkgError } from './errors.js';
import { detectImage, elfBtf, kernelImageBtf, type ImageBtf } from './image.js';
import { pkgBudget, resolveLimits, type PkgLimits } from './limits.js';
import { parseControl, parseSourceField } from './meta.js';
import { ByteReader, collect, fileStream, streamOf, type ByteStream } from './reader.js';
import { isRpm, readRpmHeaders } from './rpm.js';
import { readTar, type ArchiveFile } from './tar.js';

/** Leading bytes that tell a package or image apart (an s390x image's marker is at 0x10008). */
const IMAGE_SNIFF_BYTES = 0x10100;

/** Which modules to read: names as `modprobe` spells them (`ext4`, `nf_conntrack`; `-` and `_` are the same), all, or none. */
export type ModuleFilter = string[] | 'all' | 'none';

/** Turns an ELF object that has DWARF but no .BTF into raw BTF (pahole.ts's `paholeConverter` does). */
export type DwarfConverter = (elf: Uint8Array, ctx: { role: 'vmlinux' | 'module'; name: string; base?: Uint8Array }) => Promise<Uint8Array>;

export interface ReadKernelOptions {
  /** Modules to read (default 'none': only vmlinux). */
  modules?: ModuleFilter;
  limits?: Partial<PkgLimits>;
  /** Converter for DWARF-only objects; without one they are listed in {@link KernelPackage.dwarfOnly}. */
  dwarf?: DwarfConverter;
  /** The input's budget, when the caller shares one over several reads; by default one per call, from `limits`. */
  budget?: InputBudget;
}

/** One read of a package: its options, limits and budget. */
interface Read {
  opts: ReadKernelOptions;
  lim: PkgLimits;
  budget: InputBudget;
}

/** What the package says about itself, as it spells it (mapping to a KREF is the catalog's job). */
export interface PackageMeta {
  package?: string;
  version?: string;
  /** RPM release (`200.fc40`). */
  release?: string;
  epoch?: number;
  /** Architecture as the package spells it (`amd64`, `x86_64`, `aarch64`); see btfhubArch(). */
  arch?: string;
  /** Source package (`linux-signed-amd64`, or the rpm's SOURCERPM `kernel-6.8.5-301.fc40.src.rpm`). */
  source?: string;
  /** `uname -r`, from the `modules/UNAME_R/` folder inside the package (else a `boot/vmlinuz-UNAME_R` name). */
  unameR?: string;
  /** The version banner of a bzImage, when there is one. */
  banner?: string;
}

export interface BtfFound {
  btf: Uint8Array;
  /** Where it came from, outermost first: `data.tar.xz:usr/lib/modules/X/vmlinuz:bzImage:zstd:elf`. */
  from: string;
  /** True when pahole made it from DWARF. */
  fromDwarf?: boolean;
}

export interface ModuleBtf extends BtfFound {
  /** Module name as the kernel spells it (`nf_conntrack`). */
  name: string;
}

export interface KernelPackage {
  format: 'deb' | 'rpm' | 'image';
  meta: PackageMeta;
  vmlinux?: BtfFound;
  /** Module BTF (split BTF on vmlinux's), in archive order. */
  modules: ModuleBtf[];
  /** ELF objects with DWARF but no BTF that were not converted (no converter given). */
  dwarfOnly: { role: 'vmlinux' | 'module'; name: string; from: string }[];
  /** Modules that were wanted but hold no BTF, with the code that said why. */
  skipped: { name: string; from: string; code: string }[];
}

/**
 * Reads a .deb, an .rpm or a kernel image (bytes, or a file path read as a stream) and returns the BTF in it.
 * Throws PkgError only.
 */
export async function readKernelPackage(input: Uint8Array | string, opts: ReadKernelOptions = {}): Promise<KernelPackage> {
  const lim = resolveLimits(opts.limits);
  const rd: Read = { opts, lim, budget: opts.budget ?? pkgBudget(typeof input === 'string' ? basename(input) : 'package', lim) };
  const r = new ByteReader(typeof input === 'string' ? fileStream(input, lim.maxInputSize) : streamOf(input), 'package');
  try {
    // Enough to tell every format: ar and rpm magics, tar's at 257, a bzImage's setup header at 0x202, an s390x
    // image's marker at 64 KiB.
    const head = await r.peek(IMAGE_SNIFF_BYTES);
    if (isAr(head)) return await readDeb(r, rd);
    if (isRpm(head)) return await readRpm(r, rd);
    if (detectImage(head) !== undefined) {
      const bytes = await collect(r.rest(), lim.maxMemberSize, 'kernel image');
      const img: CollectedImage = { path: '', read: await readImage(bytes, rd, 0) };
      return await fromImages([img], { format: 'image', meta: {}, modules: [], dwarfOnly: [], skipped: [] }, opts);
    }
    throw new PkgError(PkgErrorCode.UnknownFormat, 'not a .deb, an .rpm or a kernel image (unknown magic)', { offset: 0 });
  } catch (err) {
    throw toPkgError(err);
  } finally {
    await r.close();
  }
}

/**
 * A kernel image of an archive, read for BTF as soon as it arrived: what that gave. Its bytes are kept only when
 * it is DWARF only and a converter will make its BTF (`dwarf`); otherwise nothing of it but its BTF stays.
 */
interface CollectedImage {
  path: string;
  read: { found: ImageBtf } | { failed: unknown; dwarf?: Uint8Array };
}

/** Reads an image for BTF; a DWARF-only image keeps its bytes when a converter will need them. */
async function readImage(bytes: Uint8Array, rd: Read, depth: number): Promise<CollectedImage['read']> {
  try {
    const found = await kernelImageBtf(bytes, { limits: rd.lim, budget: rd.budget, depth });
    return { found: { ...found, btf: ownBytes(found.btf) } };
  } catch (failed) {
    const e = toPkgError(failed);
    // A spent budget or a cap is the input's failure, whatever other images hold.
    if (e.code === PkgErrorCode.TooLarge) throw e;
    return e.code === PkgErrorCode.DwarfOnly && rd.opts.dwarf ? { failed, dwarf: bytes } : { failed };
  }
}

/** True when an image decides the package's vmlinux (the first that does wins): BTF found, or DWARF to convert. */
function decides(img: CollectedImage): boolean {
  return 'found' in img.read || img.read.dwarf !== undefined;
}

interface Collected {
  images: CollectedImage[];
  modules: ModuleBtf[];
  dwarfModules: { name: string; from: string; elf: Uint8Array }[];
  skipped: { name: string; from: string; code: string }[];
  unameR?: string;
  bootUnameR?: string;
  files: number;
}

async function readDeb(r: ByteReader, rd: Read): Promise<KernelPackage> {
  const { opts } = rd;
  const pkg: KernelPackage = { format: 'deb', meta: {}, modules: [], dwarfOnly: [], skipped: [] };
  let collected: Collected | undefined;
  for await (const m of readAr(r, rd.budget)) {
    if (m.name === 'debian-binary') {
      const text = Buffer.from(await collect(m.body, 64, 'debian-binary')).toString('latin1');
      if (!text.startsWith('2.')) throw new PkgError(PkgErrorCode.BadArchive, `unsupported .deb format version ${JSON.stringify(text.trim())}`, { source: 'debian-binary' });
    } else if (m.name.startsWith('control.tar')) {
      pkg.meta = { ...pkg.meta, ...(await debControl(m.name, m.body, rd)) };
    } else if (m.name.startsWith('data.tar')) {
      const kind = compressionOfName(m.name);
      collected = await collectMembers(tarFiles(m.name, m.body, rd), m.name, rd, kind === undefined ? 0 : 1);
    }
  }
  if (collected === undefined) throw new PkgError(PkgErrorCode.BadArchive, '.deb has no data.tar member');
  return finish(pkg, collected, opts);
}

/** The data.tar's files, decompressed by the member's suffix (data.tar is stored plain too). */
function tarFiles(name: string, body: ByteStream, rd: Read): AsyncGenerator<ArchiveFile> {
  const kind = compressionOfName(name);
  if (kind !== undefined) rd.budget.enterLevel(1);
  // The input's budget is the data.tar's cap: what it has left is what the stream may produce.
  const plain = kind === undefined ? body : decompress(kind, body, Number.MAX_SAFE_INTEGER, name, rd.budget);
  return readTar(plain, name, rd.lim.maxEntries, rd.budget);
}

async function debControl(name: string, body: ByteStream, rd: Read): Promise<PackageMeta> {
  const { lim } = rd;
  const kind = compressionOfName(name);
  const plain = kind === undefined ? body : decompress(kind, body, lim.maxHeaderSize, name, rd.budget);
  for await (const f of readTar(plain, name, lim.maxEntries, rd.budget)) {
    if (f.path !== 'control') continue;
    const c = parseControl(Buffer.from(await collect(f.body, lim.maxHeaderSize, `${name}:control`)).toString('utf8'));
    const meta: PackageMeta = {};
    if (c.Package) meta.package = c.Package;
    if (c.Version) meta.version = c.Version;
    if (c.Architecture) meta.arch = c.Architecture;
    if (c.Source) meta.source = parseSourceField(c.Source).name;
    else if (c.Package) meta.source = c.Package;
    return meta;
  }
  throw new PkgError(PkgErrorCode.BadArchive, `${name} has no control file`);
}

async function readRpm(r: ByteReader, rd: Read): Promise<KernelPackage> {
  const { lim } = rd;
  const h = await readRpmHeaders(r, lim.maxHeaderSize);
  const meta: PackageMeta = {};
  if (h.name !== undefined) meta.package = h.name;
  if (h.version !== undefined) meta.version = h.version;
  if (h.release !== undefined) meta.release = h.release;
  if (h.epoch !== undefined) meta.epoch = h.epoch;
  if (h.arch !== undefined) meta.arch = h.arch;
  if (h.sourceRpm !== undefined) meta.source = h.sourceRpm;
  if (h.payloadFormat !== undefined && h.payloadFormat !== 'cpio') {
    throw new PkgError(PkgErrorCode.BadArchive, `rpm payload format ${JSON.stringify(h.payloadFormat)} is not cpio`);
  }
  const head = await r.peek(16);
  const kind = detectCompression(head);
  const what = `payload.cpio${kind ? `.${kind}` : ''}`;
  if (kind === undefined && !(head.length >= 6 && Buffer.from(head.subarray(0, 5)).toString('latin1') === '07070')) {
    throw new PkgError(PkgErrorCode.BadArchive, `rpm payload is neither cpio nor a known compression (compressor ${JSON.stringify(h.payloadCompressor ?? '')})`, { offset: r.position });
  }
  if (kind !== undefined) rd.budget.enterLevel(1);
  const plain = kind === undefined ? r.rest() : decompress(kind, r.rest(), Number.MAX_SAFE_INTEGER, what, rd.budget);
  const cpio = new ByteReader(plain, what);
  const collected = await collectMembers(readCpio(cpio, what, lim.maxEntries, rd.budget), what, rd, kind === undefined ? 0 : 1);
  return finish({ format: 'rpm', meta, modules: [], dwarfOnly: [], skipped: [] }, collected, rd.opts);
}

/** `[usr/][lib/debug/]lib/modules/UNAME_R/…`: the folder name is `uname -r`. */
const MODULES_DIR = /^(?:usr\/)?(?:lib\/debug\/)?(?:usr\/)?lib\/modules\/([^/]+)\//;
/** Kernel images: `boot/vmlinuz-X`, `boot/vmlinux-X`, `usr/lib/debug/boot/vmlinux-X`, `…/modules/X/vmlinuz`. */
const BOOT_IMAGE = /^(?:usr\/lib\/debug\/)?boot\/(?:vmlinuz|vmlinux|Image|image)-(.+)$/;
const MODULE_IMAGE = /^(?:vmlinuz|vmlinux)$/;
const MODULE_FILE = /^(.+)\.ko(?:\.(xz|zst|gz)|\.debug)?$/;

/**
 * Reads the archive's members one at a time. A kernel image is read for BTF as soon as it arrives (the first that
 * has BTF, or DWARF a converter will turn into BTF, is vmlinux; later images are neither kept nor read); a wanted
 * module is decompressed, its BTF copied out, and dropped. When no module is wanted, the archive is left unread
 * once vmlinux is decided and the `modules/UNAME_R/` folder has been seen: nothing later can change the result (the
 * first such folder names the kernel), so a package's thousand modules are neither decompressed nor walked.
 * `depth` is the number of compressed streams around the archive.
 */
async function collectMembers(files: AsyncGenerator<ArchiveFile>, what: string, rd: Read, depth: number): Promise<Collected> {
  const { opts, lim } = rd;
  const filter = moduleFilter(opts.modules ?? 'none');
  const early = (opts.modules ?? 'none') === 'none';
  const out: Collected = { images: [], modules: [], dwarfModules: [], skipped: [], files: 0 };
  let decided = false;
  for await (const f of files) {
    out.files++;
    const dir = MODULES_DIR.exec(f.path);
    const base = f.path.slice(f.path.lastIndexOf('/') + 1);
    if (dir && out.unameR === undefined) out.unameR = dir[1];
    const from = `${what}:${f.path}`;
    const boot = BOOT_IMAGE.exec(f.path);
    if (boot || (dir && MODULE_IMAGE.test(base) && f.path === `${dir[0]}${base}`)) {
      if (boot && out.bootUnameR === undefined) out.bootUnameR = boot[1];
      if (decided) {
        if (early && out.unameR !== undefined) break;
        continue;
      }
      if (f.size > lim.maxMemberSize) throw new PkgError(PkgErrorCode.TooLarge, `kernel image of ${f.size} bytes is larger than the ${lim.maxMemberSize}-byte limit`, { source: from });
      const img: CollectedImage = { path: from, read: await readImage(await collect(f.body, lim.maxMemberSize, from), rd, depth) };
      out.images.push(img);
      decided = decides(img);
      if (decided && early && out.unameR !== undefined) break;
      continue;
    }
    if (decided && early && out.unameR !== undefined) break;
    const mod = dir ? MODULE_FILE.exec(base) : null;
    if (!mod) continue;
    const name = mod[1].replace(/-/g, '_');
    if (!filter(name)) continue;
    if (f.size > lim.maxMemberSize) throw new PkgError(PkgErrorCode.TooLarge, `module of ${f.size} bytes is larger than the ${lim.maxMemberSize}-byte limit`, { source: from });
    const bytes = await moduleBytes(await collect(f.body, lim.maxMemberSize, from), mod[2] === undefined ? undefined : compressionOfName(base), from, rd, depth);
    if (bytes === undefined || !isElf(bytes)) {
      out.skipped.push({ name, from, code: PkgErrorCode.BadArchive });
      continue;
    }
    try {
      out.modules.push({ name, btf: elfBtf(bytes).slice(), from: `${from}:elf` });
    } catch (err) {
      const e = toPkgError(err, from);
      if (e.code === PkgErrorCode.DwarfOnly) out.dwarfModules.push({ name, from, elf: opts.dwarf ? bytes : new Uint8Array(0) });
      else if (e.code === PkgErrorCode.NoBtf) out.skipped.push({ name, from, code: e.code });
      else throw e;
    }
  }
  return out;
}

/**
 * A module file's ELF bytes: decompressed (`.ko.xz`, `.ko.zst`) under the member cap and the input's budget, once
 * its first bytes show an ELF object; undefined when they do not (nothing more of it is decoded).
 */
async function moduleBytes(raw: Uint8Array, kind: Compression | undefined, from: string, rd: Read, depth: number): Promise<Uint8Array | undefined> {
  if (kind === undefined) return raw;
  rd.budget.enterLevel(depth + 1);
  if (!isElf(await decompressedHead(kind, raw, 64, rd.lim.maxMemberSize, from, rd.budget))) return undefined;
  return decompressBytes(kind, raw, rd.lim.maxMemberSize, from, undefined, rd.budget);
}

function moduleFilter(f: ModuleFilter): (name: string) => boolean {
  if (f === 'all') return () => true;
  if (f === 'none') return () => false;
  const wanted = new Set(f.map((n) => n.replace(/-/g, '_')));
  return (name) => wanted.has(name);
}

async function finish(pkg: KernelPackage, c: Collected, opts: ReadKernelOptions): Promise<KernelPackage> {
  const unameR = c.unameR ?? c.bootUnameR;
  if (unameR !== undefined) pkg.meta.unameR = unameR;
  pkg.modules = c.modules;
  pkg.skipped = c.skipped;
  if (!opts.dwarf) for (const m of c.dwarfModules) pkg.dwarfOnly.push({ role: 'module', name: m.name, from: m.from });
  // A package of modules only (linux-modules-*, kernel-modules) is a kernel package when its modules/UNAME_R/ folder is there.
  if (c.images.length === 0 && c.modules.length === 0 && c.dwarfModules.length === 0 && c.skipped.length === 0 && c.unameR === undefined) {
    throw new PkgError(PkgErrorCode.NoKernel, `package holds no kernel image and no kernel module (${c.files} files)`);
  }
  await fromImages(c.images, pkg, opts);
  if (opts.dwarf) {
    for (const m of c.dwarfModules) {
      const base = pkg.vmlinux?.btf;
      const btf = await opts.dwarf(m.elf, base === undefined ? { role: 'module', name: m.name } : { role: 'module', name: m.name, base });
      pkg.modules.push({ name: m.name, btf, from: `${m.from}:pahole`, fromDwarf: true });
    }
  }
  return pkg;
}

/** The images in archive order, each read for BTF as it arrived; the first that yields BTF (or DWARF to convert) is vmlinux. */
async function fromImages(images: CollectedImage[], pkg: KernelPackage, opts: ReadKernelOptions): Promise<KernelPackage> {
  let firstError: PkgError | undefined;
  for (const img of images) {
    const where = img.path === '' ? undefined : img.path;
    const read = img.read;
    if ('found' in read) {
      const found = read.found;
      pkg.vmlinux = { btf: found.btf, from: [...(where ? [where] : []), ...found.from].join(':') };
      if (found.bannerVersion !== undefined) {
        pkg.meta.banner = found.bannerVersion;
        pkg.meta.unameR ??= found.bannerVersion.split(' ')[0];
      }
      return pkg;
    }
    const e = toPkgError(read.failed);
    const located = where ? e.within(where) : e;
    if (e.code === PkgErrorCode.DwarfOnly) {
      if (opts.dwarf && read.dwarf) {
        const btf = await opts.dwarf(read.dwarf, { role: 'vmlinux', name: 'vmlinux' });
        pkg.vmlinux = { btf, from: [...(where ? [where] : []), 'elf', 'pahole'].join(':'), fromDwarf: true };
        return pkg;
      }
      pkg.dwarfOnly.push({ role: 'vmlinux', name: 'vmlinux', from: where ?? 'input' });
      continue;
    }
    firstError ??= located;
  }
  if (firstError && pkg.modules.length === 0 && pkg.dwarfOnly.length === 0) throw firstError;
  return pkg;
}

/**
 * The BTF as an array of its own when it is a small view of a large buffer (the decompressed vmlinux it was found
 * in, ten times its size): a copy of a few megabytes lets the rest be collected while the kernel is ingested.
 */
function ownBytes(b: Uint8Array): Uint8Array {
  return b.byteLength * 2 < b.buffer.byteLength ? b.slice() : b;
}
