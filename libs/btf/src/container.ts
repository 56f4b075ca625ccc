/**
 * Finding the BTF in an input: raw BTF, an ELF object's `.BTF` section, gzip or xz of those, or a tarball as
 * btfhub-archive ships it. Everything is read as a stream under one {@link InputBudget} per input: every decoder's
 * output, every archive member and every level of nesting is charged to it as it arrives, and the decoder is
 * stopped the moment the budget is spent. Members are decoded one at a time and only what is kept (a BTF blob, the
 * `.BTF` of an ELF object) stays in memory. Pure: bytes or a stream of chunks in, blobs out (no file I/O here).
 */
import { Readable } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { extractElfBtf, isElf } from './elf.js';
import { BtfError, BtfErrorCode } from './errors.js';

/** Limits on unpacking containers. */
export interface ContainerLimits {
  /** Most bytes all decoders of one input may produce together, over every layer and member (default 512 MiB). */
  maxDecompressedSize: number;
  /** Most containers nested in one another (xz around tar around gzip…), default 4. */
  maxNesting: number;
  /** Most archive members in one input, over every tarball in it (default 100,000). */
  maxTarEntries: number;
  /**
   * Largest BTF blob kept from a decoded stream (default 256 MiB; a vmlinux's is a few MiB). A blob whose header
   * declares more is refused before it is read.
   */
  maxBlobSize: number;
  /** Longest one input may take to unpack, in ms (default 120,000). */
  maxMillis: number;
}

export const DEFAULT_CONTAINER_LIMITS: Readonly<ContainerLimits> = {
  maxDecompressedSize: 512 * 1024 * 1024,
  maxNesting: 4,
  maxTarEntries: 100_000,
  maxBlobSize: 256 * 1024 * 1024,
  maxMillis: 120_000,
};

/** What an {@link InputBudget} counts. */
export interface InputBudgetLimits {
  /** Most bytes all decoders of the input may produce together. */
  maxBytes: number;
  /** Most archive members (tar, ar, cpio entries), over every archive of the input. */
  maxMembers: number;
  /** Most containers nested in one another. */
  maxDepth: number;
  /** Longest the input may take to unpack, in ms. */
  maxMillis: number;
}

/** Which limit of an {@link InputBudget} was passed. */
export type BudgetLimit = 'bytes' | 'members' | 'depth' | 'time';

/** What a budget reports when a limit is passed; each layer turns it into its own typed error. */
export interface BudgetExceeded {
  limit: BudgetLimit;
  /** The input's name (a file name, `upload:…`). */
  input: string;
  /** The member being read, as a path inside the input (`modules/ext4.btf.gz`), when there is one. */
  member: string | undefined;
  /** Lowercase, without the input's name: `expands past 512 MiB in total (member m3.btf.gz, after 4 members)`. */
  reason: string;
}

/** Makes the error a layer throws for a passed limit (libs/pkg makes PkgErrors). */
export type BudgetErrorFactory = (e: BudgetExceeded) => Error;

/** A BtfError for a passed limit: ARCHIVE_TOO_LARGE for bytes and members, BTF_BAD_CONTAINER for depth, BTF_LIMIT_EXCEEDED for time. */
export const btfBudgetError: BudgetErrorFactory = (e) => {
  const code = e.limit === 'depth' ? BtfErrorCode.BadContainer : e.limit === 'time' ? BtfErrorCode.LimitExceeded : BtfErrorCode.DecompressedTooLarge;
  return new BtfError(code, e.reason, { source: e.input });
};

/**
 * One budget per input, shared by every layer that reads it (decoders, archives, image unwrapping, ELF
 * extraction): bytes decompressed in total, members in total, nesting depth and elapsed time. A layer charges
 * it as data arrives, so a bomb is stopped inside its decoder, however its expansion is spread over streams and
 * members. Create one per input (a file, an upload, a package) and pass it down.
 */
export class InputBudget {
  readonly limits: InputBudgetLimits;
  /** Bytes decoded so far, over every layer. */
  bytes = 0;
  /** Archive members met so far. */
  members = 0;
  /** The member being read (path inside the input), for messages. */
  member: string | undefined;
  private readonly started = Date.now();

  constructor(
    /** The input's name, as errors show it. */
    readonly input: string,
    limits: Partial<InputBudgetLimits> = {},
    private readonly makeError: BudgetErrorFactory = btfBudgetError,
  ) {
    const d = DEFAULT_CONTAINER_LIMITS;
    this.limits = { maxBytes: d.maxDecompressedSize, maxMembers: d.maxTarEntries, maxDepth: d.maxNesting, maxMillis: d.maxMillis, ...limits };
  }

  /** Bytes the decoders may still produce. */
  get remaining(): number {
    return Math.max(0, this.limits.maxBytes - this.bytes);
  }

  /** Charges `n` decoded bytes; throws once the total passes the limit (the caller stops its decoder). */
  spend(n: number): void {
    this.bytes += n;
    if (this.bytes > this.limits.maxBytes) {
      throw this.fail('bytes', `expands past ${formatSize(this.limits.maxBytes)} in total (${this.where()})`);
    }
    this.tick();
  }

  /** Counts one archive member (`path` inside the input) before it is read. */
  enterMember(path: string): void {
    this.members++;
    this.member = path;
    if (this.members > this.limits.maxMembers) {
      throw this.fail('members', `holds more than ${this.limits.maxMembers} archive members in total (${this.where()})`);
    }
    this.tick();
  }

  /** Checks a nesting depth (1 for the first container inside the input). */
  enterLevel(depth: number): void {
    if (depth > this.limits.maxDepth) throw this.fail('depth', `containers nested deeper than ${this.limits.maxDepth} levels (${this.where()})`);
  }

  /** Throws once the input has taken longer than its time limit. */
  tick(): void {
    if (Date.now() - this.started > this.limits.maxMillis) {
      throw this.fail('time', `takes longer than ${this.limits.maxMillis} ms to unpack (${this.where()}, ${this.bytes} bytes decoded)`);
    }
  }

  private where(): string {
    const n = `${this.members} member${this.members === 1 ? '' : 's'}`;
    return this.member === undefined ? 'not inside an archive member' : `member ${this.member}, after ${n}`;
  }

  private fail(limit: BudgetLimit, reason: string): Error {
    return this.makeError({ limit, input: this.input, member: this.member, reason });
  }
}

/** `512 MiB`, `64 KiB`, `1000 bytes`. */
export function formatSize(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** The formats {@link extractBtf} recognizes, by magic bytes. */
export type InputFormat = 'btf' | 'elf' | 'gzip' | 'xz' | 'tar';

/** One BTF blob found in an input. */
export interface BtfBlob {
  /** Where it was found: the input name, then `:member` for tar members (`x.btf.tar.xz:6.1.0-50-amd64.btf`). */
  name: string;
  /** `vmlinux` for base BTF; `module` for module (split) BTF found beside it in a tarball. */
  role: 'vmlinux' | 'module';
  /** The module's name (file name without `.btf`/`.ko`) for module blobs. */
  module?: string;
  /** The chain of containers the blob came out of, outermost first, ending in `btf` or `elf`. */
  formats: InputFormat[];
  bytes: Uint8Array;
}

/** Identifies an input by its first bytes; `undefined` when it is none of the formats. */
export function detectFormat(bytes: Uint8Array): InputFormat | undefined {
  if (bytes.length >= 2 && ((bytes[0] === 0x9f && bytes[1] === 0xeb) || (bytes[0] === 0xeb && bytes[1] === 0x9f))) return 'btf';
  if (isElf(bytes)) return 'elf';
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) return 'gzip';
  if (bytes.length >= 6 && bytes[0] === 0xfd && bytes[1] === 0x37 && bytes[2] === 0x7a && bytes[3] === 0x58 && bytes[4] === 0x5a && bytes[5] === 0x00) return 'xz';
  if (bytes.length >= 263 && bytes[257] === 0x75 && bytes[258] === 0x73 && bytes[259] === 0x74 && bytes[260] === 0x61 && bytes[261] === 0x72) return 'tar';
  return undefined;
}

/** Options of {@link extractBtf}: the limits of a budget made for this input, or the caller's budget. */
export interface ExtractOptions extends Partial<ContainerLimits> {
  /** The input's budget, when the caller shares one over several reads (a kernel and its module files). */
  budget?: InputBudget;
}

/** Bytes needed to tell every format apart (tar's magic is at 257). */
const SNIFF_BYTES = 263;

/**
 * Finds the BTF in an input: raw BTF, an ELF object's `.BTF` section, gzip or xz of those, or a tarball
 * (`UNAME_R.btf.tar.xz` as btfhub-archive ships it, possibly with module BTF beside vmlinux's). The input is bytes
 * or a stream of chunks (a file read in chunks: it is then never held whole unless it is raw BTF or ELF). The
 * vmlinux blob, when there is one, comes first. Throws {@link BtfError} only, except that an error of the
 * caller's stream (a file too large) passes through as it is.
 */
export async function extractBtf(input: Uint8Array | AsyncIterable<Uint8Array>, name: string, opts: ExtractOptions = {}): Promise<BtfBlob[]> {
  const { budget: given, ...limits } = opts;
  const lim: ContainerLimits = { ...DEFAULT_CONTAINER_LIMITS, ...limits };
  const budget = given ?? new InputBudget(name, { maxBytes: lim.maxDecompressedSize, maxMembers: lim.maxTarEntries, maxDepth: lim.maxNesting, maxMillis: lim.maxMillis });
  const ctx: Ctx = { budget, lim, input: name, xzActive: 0, sourceErrors: new WeakSet() };
  const src = input instanceof Uint8Array ? Chunks.of(input) : Chunks.from(input, ctx.sourceErrors);
  try {
    // Raw BTF and ELF given as bytes are used as they are (no copy): the common case of the CLI and the catalog.
    if (input instanceof Uint8Array && (detectFormat(input) === 'btf' || detectFormat(input) === 'elf')) {
      const format = detectFormat(input)!;
      return [{ name, role: 'vmlinux', formats: [format], bytes: format === 'btf' ? input : extractElfBtf(input) }];
    }
    let root = await walk(src, name, [], 0, ctx, false);
    root = await resolveDeferred(root, ctx);
    const blobs = flatten(root);
    if (blobs.length === 0) throw new BtfError(BtfErrorCode.UnknownFormat, 'tarball holds no btf', { source: name });
    return blobs;
  } catch (err) {
    if (err instanceof BtfError) throw err.withSource(name);
    if (err instanceof Error && ctx.sourceErrors.has(err)) throw err;
    throw new BtfError(BtfErrorCode.BadContainer, `cannot unpack: ${(err as Error)?.message ?? String(err)}`, { source: name });
  } finally {
    await src.close();
  }
}

interface Ctx {
  budget: InputBudget;
  lim: ContainerLimits;
  input: string;
  /** xz streams being decoded around the current point (xz-decompress decodes one stream at a time). */
  xzActive: number;
  /** Errors thrown by the caller's stream: they pass through unchanged. */
  sourceErrors: WeakSet<Error>;
}

/** What reading a stream found, before tar members get their roles. */
type Node =
  | { kind: 'blob'; name: string; formats: InputFormat[]; bytes: Uint8Array }
  | { kind: 'tar'; members: { path: string; node: Node }[] }
  /** An xz stream met inside another: its compressed bytes, decoded once the enclosing one has finished. */
  | { kind: 'deferred'; name: string; formats: InputFormat[]; depth: number; bytes: Uint8Array };

/**
 * Reads one stream: sniffs its format, then keeps it (btf, elf) or decodes it one level further. `decoded` is
 * true when the stream is a decoder's output (or an archive member), false for the input itself.
 */
async function walk(src: Chunks, name: string, formats: InputFormat[], depth: number, ctx: Ctx, decoded: boolean): Promise<Node> {
  const head = await src.peek(SNIFF_BYTES);
  const format = detectFormat(head);
  if (format === undefined) {
    // Inside a decoded stream the rest is decoded (and dropped) first: a bomb or a corrupt stream is the better
    // diagnosis than the unknown bytes it produced, and costs no more than the budget.
    if (decoded) await src.drain();
    throw new BtfError(BtfErrorCode.UnknownFormat, 'not raw btf, an elf object, gzip, xz or tar (unknown magic)', { offset: 0 });
  }
  const chain = [...formats, format];
  if (format === 'btf') return { kind: 'blob', name, formats: chain, bytes: await collectBtf(src, ctx) };
  if (format === 'elf') {
    // Held whole (its section headers are at its end): decoded bytes were charged by their decoder, and the
    // caller's stream caps an object read from a file.
    const elf = await src.collect(Number.MAX_SAFE_INTEGER);
    // A copy of the .BTF section, so the object around it is dropped as soon as it has been read.
    const btf = extractElfBtf(elf);
    return { kind: 'blob', name, formats: chain, bytes: decoded ? btf.slice() : btf };
  }
  ctx.budget.enterLevel(depth + 1);
  if (format === 'tar') return { kind: 'tar', members: await untar(src, name, chain, depth, ctx) };
  if (format === 'xz' && ctx.xzActive > 0) {
    // Its compressed bytes were charged as the enclosing decoder's output; they wait for it to finish.
    return { kind: 'deferred', name, formats, depth, bytes: await src.collect(Number.MAX_SAFE_INTEGER) };
  }
  if (format === 'gzip') {
    const small = await smallGzip(src, name, chain, depth, ctx);
    if (small) return small;
  }
  const inner = new Chunks(format === 'gzip' ? gunzipStream(src, ctx) : unxzStream(src, ctx));
  if (format === 'xz') ctx.xzActive++;
  try {
    return await walk(inner, name, chain, depth + 1, ctx, true);
  } finally {
    if (format === 'xz') ctx.xzActive--;
    await inner.close();
  }
}

/** Decodes the xz streams met inside another, now that no xz stream is being decoded. */
async function resolveDeferred(node: Node, ctx: Ctx): Promise<Node> {
  if (node.kind === 'deferred') {
    const src = Chunks.of(node.bytes);
    try {
      return await resolveDeferred(await walk(src, node.name, node.formats, node.depth, ctx, true), ctx);
    } finally {
      await src.close();
    }
  }
  if (node.kind === 'tar') for (const m of node.members) m.node = await resolveDeferred(m.node, ctx);
  return node;
}

/** The blobs of a node, tar members with their roles; a tarball may hold one top-level (vmlinux) blob. */
function flatten(node: Node): BtfBlob[] {
  if (node.kind === 'blob') return [{ name: node.name, role: 'vmlinux', formats: node.formats, bytes: node.bytes }];
  if (node.kind === 'deferred') throw new Error('an xz stream was left undecoded');
  const blobs: BtfBlob[] = [];
  for (const m of node.members) {
    for (const blob of flatten(m.node)) {
      const moduleName = moduleNameOf(m.path);
      blobs.push(moduleName === undefined ? blob : { ...blob, role: 'module', module: moduleName });
    }
  }
  const vmlinux = blobs.filter((b) => b.role === 'vmlinux');
  if (vmlinux.length > 1) {
    throw new BtfError(BtfErrorCode.BadContainer, `tarball holds ${vmlinux.length} top-level btf files (${vmlinux.map((b) => b.name).join(', ')}); expected one`);
  }
  return [...vmlinux, ...blobs.filter((b) => b.role === 'module')];
}

/**
 * A tar member is module BTF when it sits below a directory (`modules/ext4.btf`, `6.1.0/modules/kvm.ko`) or is
 * a `.ko`; the vmlinux BTF is the top-level `UNAME_R.btf` (or `vmlinux`).
 */
function moduleNameOf(path: string): string | undefined {
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (!path.includes('/') && !base.endsWith('.ko')) return undefined;
  return base.replace(/\.(btf|ko)(\.(gz|xz))?$/, '');
}

/**
 * The length a BTF header declares (Documentation/bpf/btf.rst: hdr_len, then type, string and, from 32-byte
 * headers, layout sections relative to its end), or undefined when the header is too odd to say: the blob is
 * then read whole and Btf.parse says what is wrong.
 */
function declaredBtfLength(head: Uint8Array): number | undefined {
  if (head.length < 24) return undefined;
  const le = head[0] === 0x9f;
  const dv = new DataView(head.buffer, head.byteOffset, Math.min(head.length, 32));
  const hdrLen = dv.getUint32(4, le);
  if (hdrLen < 24 || hdrLen > 4096) return undefined;
  let end = Math.max(dv.getUint32(8, le) + dv.getUint32(12, le), dv.getUint32(16, le) + dv.getUint32(20, le));
  if (hdrLen >= 32 && dv.byteLength >= 32 && dv.getUint32(28, le) > 0) end = Math.max(end, dv.getUint32(24, le) + dv.getUint32(28, le));
  return hdrLen + end;
}

/**
 * Reads a raw BTF blob from a stream. Its header says how long it is, so a blob declared larger than
 * maxBlobSize is refused before it is read, and one with more bytes than declared is refused as soon as they
 * arrive: the kernel (btf_check_sec_info) and Btf.parse refuse unknown data after the last section, and a bomb
 * dressed as BTF is never held.
 */
async function collectBtf(src: Chunks, ctx: Ctx): Promise<Uint8Array> {
  const declared = declaredBtfLength(await src.peek(32));
  const max = ctx.lim.maxBlobSize;
  if (declared !== undefined && declared > max) {
    throw new BtfError(BtfErrorCode.LimitExceeded, `btf header declares a blob of ${declared} bytes, more than the ${formatSize(max)} limit`, { offset: 4 });
  }
  const cap = declared ?? max;
  return src.collect(cap, () => {
    if (declared !== undefined) {
      throw new BtfError(BtfErrorCode.BadSection, `unknown data after the last section (the header declares ${declared} bytes)`, { offset: declared });
    }
    throw new BtfError(BtfErrorCode.LimitExceeded, `btf blob is larger than the ${formatSize(max)} limit`);
  });
}

/** A gzip stream of at most this many bytes is inflated in one call (a module's BTF: tens of kilobytes). */
const SMALL_GZIP = 256 * 1024;
/** Most output of one such call; past it (or past the budget) the stream is inflated chunk by chunk instead. */
const SMALL_GZIP_OUT = 4 * 1024 * 1024;

/**
 * A whole small gzip stream inflated in one call, then read: no stream machinery and one output array, where a
 * tarball of hundreds of gzipped module BTF files spent most of its time. Undefined when the stream is larger, or
 * when its output would pass {@link SMALL_GZIP_OUT} or the budget: the streaming decoder then charges it chunk by
 * chunk and stops where the budget does, as for any other stream.
 */
async function smallGzip(src: Chunks, name: string, chain: InputFormat[], depth: number, ctx: Ctx): Promise<Node | undefined> {
  const whole = await src.peek(SMALL_GZIP + 1);
  if (whole.length > SMALL_GZIP) return undefined;
  let out: Uint8Array;
  try {
    out = gunzipSync(whole, { maxOutputLength: Math.min(SMALL_GZIP_OUT, ctx.budget.remaining + 1) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return undefined;
    throw new BtfError(BtfErrorCode.BadContainer, `corrupt gzip stream: ${(err as Error).message}`);
  }
  await src.drain();
  ctx.budget.spend(out.length);
  const inner = Chunks.of(out);
  try {
    return await walk(inner, name, chain, depth + 1, ctx, true);
  } finally {
    await inner.close();
  }
}

/** A gzip stream's output, charged to the budget chunk by chunk; the decoder stops when the budget does. */
async function* gunzipStream(src: Chunks, ctx: Ctx): AsyncGenerator<Uint8Array> {
  // 64 KiB output buffers: a tarball of hundreds of small gzipped module BTF files would otherwise allocate (and
  // collect) 256 KiB per member, which tripled the CPU time of such an input.
  const z = createGunzip({ chunkSize: 64 * 1024 });
  const input = Readable.from(src.stream(), { objectMode: false });
  let inputError: unknown;
  input.on('error', (err) => {
    inputError = err;
    z.destroy(err);
  });
  input.pipe(z);
  try {
    for await (const chunk of z) {
      ctx.budget.spend((chunk as Uint8Array).length);
      yield chunk as Uint8Array;
    }
  } catch (err) {
    if (inputError !== undefined) throw inputError;
    if (err instanceof BtfError || ctx.sourceErrors.has(err as Error)) throw err;
    throw new BtfError(BtfErrorCode.BadContainer, `corrupt gzip stream: ${(err as Error).message}`);
  } finally {
    input.destroy();
    z.destroy();
  }
}

/** xz-embedded's return codes (xz.h), as a user reads them. */
const XZ_ERRORS: Readonly<Record<string, string>> = {
  '2': 'xz stream uses an integrity check this decoder does not support',
  '3': 'xz decoder ran out of memory',
  '4': 'xz stream needs a larger dictionary than allowed',
  '5': 'not an xz stream (bad header magic)',
  '6': 'xz stream uses unsupported options (filters)',
  '7': 'corrupt xz stream (bad compressed data or checksum)',
  '8': 'truncated xz stream (it ends before its end marker)',
};

/** A readable reason for a failure of the wasm xz decoder ("… failed with error code 8"). */
function xzFailure(message: string): string {
  const code = /error code (\d+)/.exec(message)?.[1];
  return (code !== undefined ? XZ_ERRORS[code] : undefined) ?? `corrupt xz stream: ${message}`;
}

/** An xz stream's output, charged to the budget chunk by chunk; the decoder is cancelled when the budget is spent. */
async function* unxzStream(src: Chunks, ctx: Ctx): AsyncGenerator<Uint8Array> {
  const input = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = await src.next();
      if (chunk === undefined) controller.close();
      else controller.enqueue(chunk);
    },
  });
  // Loaded on first use: raw BTF and ELF inputs (the CLI's common case) never pay for the wasm decoder.
  const { default: xzDecompress } = await import('xz-decompress');
  const reader = new xzDecompress.XzReadableStream(input).getReader();
  try {
    for (;;) {
      let r: { done: boolean; value?: Uint8Array };
      try {
        r = await reader.read();
      } catch (err) {
        if (err instanceof BtfError || ctx.sourceErrors.has(err as Error)) throw err;
        throw new BtfError(BtfErrorCode.BadContainer, xzFailure((err as Error).message));
      }
      if (r.done || r.value === undefined) return;
      ctx.budget.spend(r.value.length);
      yield r.value;
    }
  } finally {
    // xz-decompress serializes every stream behind one module-wide lock; a stream left unfinished would hold it
    // and hang every later decompression, so it is cancelled however this ends.
    await reader.cancel().catch(() => undefined);
  }
}

/** Decompresses an xz stream into one array, refusing output past the size limit (a decompression bomb). */
export async function unxz(bytes: Uint8Array, lim: Pick<ContainerLimits, 'maxDecompressedSize'> = DEFAULT_CONTAINER_LIMITS): Promise<Uint8Array> {
  const budget = new InputBudget('xz stream', { maxBytes: lim.maxDecompressedSize, maxMillis: Number.MAX_SAFE_INTEGER });
  const ctx: Ctx = { budget, lim: { ...DEFAULT_CONTAINER_LIMITS, ...lim }, input: 'xz stream', xzActive: 0, sourceErrors: new WeakSet() };
  const src = new Chunks(unxzStream(Chunks.of(bytes), ctx));
  try {
    return await src.collect(Number.MAX_SAFE_INTEGER);
  } catch (err) {
    if (err instanceof BtfError && err.code === BtfErrorCode.DecompressedTooLarge) {
      throw new BtfError(BtfErrorCode.DecompressedTooLarge, `xz stream inflates past the ${lim.maxDecompressedSize}-byte limit`);
    }
    throw err;
  } finally {
    await src.close();
  }
}

/** What tar-stream hands out per entry (its bundled types do not name it). */
interface TarEntry extends AsyncIterable<Uint8Array> {
  header: { name: string; type?: string | null; size?: number | null };
  resume(): void;
}

/**
 * Reads a tarball's members one at a time, each through {@link walk}; refuses unsafe names and links
 * (btfhub-archive tarballs hold plain files only). A member is read to its end before the next one starts, and
 * nothing of it stays but what walk kept.
 */
async function untar(src: Chunks, name: string, chain: InputFormat[], depth: number, ctx: Ctx): Promise<{ path: string; node: Node }[]> {
  const { default: tarStream } = await import('tar-stream');
  const extract = tarStream.extract();
  const input = Readable.from(src.stream(), { objectMode: false });
  let inputError: unknown;
  input.on('error', (err) => {
    inputError = err;
    extract.destroy(err);
  });
  input.pipe(extract);
  const members: { path: string; node: Node }[] = [];
  const prefix = `${ctx.input}:`;
  try {
    for await (const entry of extract as unknown as AsyncIterable<TarEntry>) {
      const h = entry.header;
      const path = h.name;
      const full = `${name}:${path.replace(/^(\.\/)+/, '')}`;
      ctx.budget.enterMember(full.startsWith(prefix) ? full.slice(prefix.length) : full);
      const unsafe = unsafePathReason(path);
      if (unsafe) throw new BtfError(BtfErrorCode.UnsafeArchivePath, `tar member ${JSON.stringify(path)} ${unsafe}`);
      if (h.type === 'directory') {
        entry.resume();
        continue;
      }
      if (h.type !== 'file' && h.type !== 'contiguous-file') {
        throw new BtfError(BtfErrorCode.UnsafeArchivePath, `tar member ${JSON.stringify(path)} is a ${h.type}, not a regular file`);
      }
      // The entry is read through its own iterator and never closed early: tar-stream destroys the whole archive
      // when an entry is destroyed. resume() drains what the member's reader left.
      const body = new Chunks(entry[Symbol.asyncIterator](), false);
      let node: Node;
      try {
        node = await walk(body, full, chain, depth + 1, ctx, true);
      } catch (err) {
        if (err instanceof BtfError) err.withSource(full);
        throw err;
      }
      entry.resume();
      const member = { path: path.replace(/^(\.\/)+/, ''), node };
      // A second top-level BTF file is refused when it is met, not after every member is decoded (flatten's check).
      if (node.kind === 'blob' && moduleNameOf(member.path) === undefined) {
        const first = members.find((m) => m.node.kind === 'blob' && moduleNameOf(m.path) === undefined);
        if (first) throw new BtfError(BtfErrorCode.BadContainer, `tarball holds more than one top-level btf file (${(first.node as { name: string }).name}, ${node.name}); expected one`);
      }
      members.push(member);
    }
  } catch (err) {
    if (inputError !== undefined) throw inputError;
    if (err instanceof BtfError || ctx.sourceErrors.has(err as Error)) throw err;
    throw new BtfError(BtfErrorCode.BadContainer, `corrupt tarball: ${(err as Error).message}`);
  } finally {
    input.destroy();
    extract.destroy();
  }
  if (inputError !== undefined) throw inputError;
  return members;
}

/** Why a tar member name is unsafe to honour, or undefined when it is a plain relative path. */
export function unsafePathReason(path: string): string | undefined {
  if (path.length === 0) return 'has an empty name';
  if (path.includes('\0')) return 'has a nul byte in its name';
  if (path.startsWith('/')) return 'is an absolute path';
  if (/^[A-Za-z]:[\\/]/.test(path) || path.includes('\\')) return 'has a windows-style path';
  if (path.split('/').some((seg) => seg === '..')) return "climbs out of the archive with '..'";
  return undefined;
}

/**
 * A pull reader over a stream of chunks with a look-ahead: the first bytes can be peeked (to sniff a format)
 * and then read again as part of the stream.
 */
class Chunks {
  private head: Uint8Array[] = [];
  private headLen = 0;
  private done = false;

  constructor(
    private readonly it: AsyncIterator<Uint8Array> | AsyncIterable<Uint8Array>,
    /** Whether close() stops the source (false for tar entries, which must be drained instead). */
    private readonly owned = true,
  ) {}

  /** Bytes already in memory, as a stream of 1 MiB chunks. */
  static of(bytes: Uint8Array): Chunks {
    return new Chunks(
      (async function* () {
        for (let at = 0; at < bytes.length; at += 1 << 20) yield bytes.subarray(at, Math.min(bytes.length, at + (1 << 20)));
      })(),
    );
  }

  /** The caller's stream: its errors are remembered so they pass through unchanged. */
  static from(source: AsyncIterable<Uint8Array>, errors: WeakSet<Error>): Chunks {
    return new Chunks(
      (async function* () {
        try {
          for await (const chunk of source) yield chunk;
        } catch (err) {
          if (err instanceof Error) errors.add(err);
          throw err;
        }
      })(),
    );
  }

  private iterator(): AsyncIterator<Uint8Array> {
    const it = this.it as AsyncIterator<Uint8Array> & Partial<AsyncIterable<Uint8Array>>;
    return typeof it.next === 'function' ? it : (this.it as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  }

  private source: AsyncIterator<Uint8Array> | undefined;

  private async pull(): Promise<Uint8Array | undefined> {
    if (this.done) return undefined;
    this.source ??= this.iterator();
    for (;;) {
      const r = await this.source.next();
      if (r.done) {
        this.done = true;
        return undefined;
      }
      if (r.value.length > 0) return r.value;
    }
  }

  /** Up to `n` bytes from the current position, without consuming them. */
  async peek(n: number): Promise<Uint8Array> {
    while (this.headLen < n) {
      const c = await this.pull();
      if (c === undefined) break;
      this.head.push(c);
      this.headLen += c.length;
    }
    if (this.head.length > 1) this.head = [concat(this.head, this.headLen)];
    return (this.head[0] ?? new Uint8Array(0)).subarray(0, Math.min(n, this.headLen));
  }

  /** The next chunk, or undefined at the end. */
  async next(): Promise<Uint8Array | undefined> {
    const c = this.head.shift();
    if (c !== undefined) {
      this.headLen -= c.length;
      return c;
    }
    return this.pull();
  }

  /** The rest as an async iterable. */
  async *stream(): AsyncGenerator<Uint8Array> {
    for (let c = await this.next(); c !== undefined; c = await this.next()) yield c;
  }

  /** The rest in one array of at most `max` bytes; `over` is called (and must throw) when there is more. */
  async collect(max: number, over?: () => never): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let c = await this.next(); c !== undefined; c = await this.next()) {
      total += c.length;
      if (total > max) {
        if (over) over();
        throw new BtfError(BtfErrorCode.DecompressedTooLarge, `stream is larger than ${max} bytes`);
      }
      parts.push(c);
    }
    return concat(parts, total);
  }

  /** Reads and drops the rest (its decoders still charge the budget). */
  async drain(): Promise<void> {
    for (let c = await this.next(); c !== undefined; c = await this.next()) void c;
  }

  /** Stops the source when this reader owns it. */
  async close(): Promise<void> {
    this.head = [];
    this.headLen = 0;
    if (this.done) return;
    this.done = true;
    if (this.owned && this.source) await this.source.return?.();
  }
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}
