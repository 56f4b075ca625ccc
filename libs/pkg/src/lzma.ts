/**
 * Streaming .xz and .lzma ("LZMA alone", what the kernel's CONFIG_KERNEL_LZMA writes) decoding, and one-call .xz
 * encoding, with liblzma compiled to WebAssembly (node-liblzma's wasm build: no native addon). lzma_auto_decoder
 * tells the two formats apart; without LZMA_CONCATENATED it stops at the end of the first stream, so bytes the
 * kernel appends after its payload (the uncompressed size) are left alone.
 *
 * The WebAssembly heap only grows (to 256 MiB at most, the build's limit) and is shared by every stream of one
 * instance, so a process that decodes without end (a worker, the fuzzer) would keep its high-water mark for ever
 * and fragment it until allocations fail. So instances are leased: each stream holds its instance until it ends,
 * and an instance whose heap has grown past {@link RECYCLE_BYTES}, or whose allocator failed, is dropped once no
 * stream holds it (the garbage collector returns its memory); the next stream gets a fresh one. Every call goes to
 * the instance a stream was started on, never to node-liblzma's process-wide module.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { PkgError, PkgErrorCode } from './errors.js';
import type { ByteStream } from './reader.js';

type LzmaWasm = typeof import('node-liblzma/wasm');
type LzmaModule = ReturnType<LzmaWasm['getModule']>;

/** The liblzma exports called directly (the wasm build passes each u64 as two i32 halves: no WASM_BIGINT). */
interface LzmaExports {
  _lzma_auto_decoder(strm: number, memlimitLo: number, memlimitHi: number, flags: number): number;
  _lzma_code(strm: number, action: number): number;
  _lzma_end(strm: number): void;
  _lzma_easy_buffer_encode(preset: number, check: number, allocator: number, inPtr: number, inSize: number, outPtr: number, outPosPtr: number, outSize: number): number;
}

interface Instance {
  readonly m: LzmaModule & LzmaExports;
  /** Streams running on it. */
  leases: number;
  /** Set when its allocator failed: used by no new stream, dropped when the last one ends. */
  spent: boolean;
}

/**
 * A heap grown past this is dropped when idle: what an ordinary stream (a dictionary of up to 64 MiB) or one encode
 * needs fits; the rare 128 MiB dictionary of a kernel image costs its instance.
 */
const RECYCLE_BYTES = 96 * 1024 * 1024;

/** Instances made so far in this process or thread. */
let made = 0;

/**
 * The WebAssembly liblzma of this thread: how many instances it has made and how large the current one's heap is
 * (0 before the first). For tests and metrics.
 */
export function lzmaStats(): { instances: number; heapBytes: number; streams: number } {
  return { instances: made, heapBytes: current ? current.m.HEAPU8.byteLength : 0, streams: current ? current.leases : 0 };
}

let api: Promise<{ mod: LzmaWasm; make: () => Promise<LzmaModule> }> | undefined;
let current: Instance | undefined;
let making: Promise<Instance> | undefined;

/** node-liblzma's wasm module and a factory of fresh liblzma instances (the .wasm read once, by path). */
function lzmaApi(): Promise<{ mod: LzmaWasm; make: () => Promise<LzmaModule> }> {
  api ??= (async () => {
    const mod = await import('node-liblzma/wasm');
    const { default: createModule } = await import('node-liblzma/wasm/liblzma.js');
    // Its own loader fetches the .wasm by URL, which Node cannot do for files: the binary is handed over.
    const wasmBinary = readFileSync(createRequire(import.meta.url).resolve('node-liblzma/wasm/liblzma.wasm'));
    const make = async (): Promise<LzmaModule> => {
      mod.resetModule();
      await mod.initModule(() => createModule({ wasmBinary }));
      made++;
      return mod.getModule();
    };
    return { mod, make };
  })();
  return api;
}

/** Whether an instance may start another stream. */
function usable(inst: Instance): boolean {
  return !inst.spent && inst.m.HEAPU8.byteLength <= RECYCLE_BYTES;
}

/** An instance for one more stream (leased: {@link release} it when the stream ends). */
async function lease(): Promise<Instance> {
  for (;;) {
    if (current && usable(current)) {
      current.leases++;
      return current;
    }
    // Dropped here; streams still on it keep it alive until they end.
    current = undefined;
    making ??= lzmaApi()
      .then(({ make }) => make())
      .then((m) => ({ m: m as LzmaModule & LzmaExports, leases: 0, spent: false }))
      .finally(() => {
        making = undefined;
      });
    const inst = await making;
    current ??= inst;
  }
}

function release(inst: Instance): void {
  inst.leases--;
}

/** A failure inside liblzma's allocator or the wasm runtime, as this package's typed error. */
function wasmFailure(inst: Instance, err: unknown, what: string): PkgError {
  if (err instanceof PkgError) return err;
  inst.spent = true;
  const why = err instanceof Error ? err.message : String(err);
  return new PkgError(PkgErrorCode.TooLarge, `${what}: liblzma ran out of its memory (${why})`);
}

/** liblzma's LZMA_CHECK_CRC64. */
const CHECK_CRC64 = 4;

/**
 * An .xz stream of `data` (LZMA2 at `preset`, CRC64) in one call (lzma_easy_buffer_encode, which writes the block's
 * sizes into its header): the catalog's tarballs where the native addon does not load, and the tests' fixtures.
 */
export async function xzEncodeWasm(data: Uint8Array, preset: number): Promise<Uint8Array> {
  for (let attempt = 0; ; attempt++) {
    const inst = await lease();
    const m = inst.m;
    let inPtr = 0;
    let outPtr = 0;
    let posPtr = 0;
    try {
      // Room for incompressible data: stored LZMA2 chunks add 3 bytes per 64 KiB, the stream's headers and index less than 1 KiB.
      const outSize = data.length + Math.ceil(data.length / 65536) * 3 + 1024;
      inPtr = m._malloc(Math.max(1, data.length));
      outPtr = m._malloc(outSize);
      posPtr = m._malloc(8);
      if (inPtr === 0 || outPtr === 0 || posPtr === 0) throw new Error(`malloc of ${data.length + outSize} bytes failed`);
      m.HEAPU8.set(data, inPtr);
      m.HEAPU8.fill(0, posPtr, posPtr + 8);
      const ret = m._lzma_easy_buffer_encode(preset, CHECK_CRC64, 0, inPtr, data.length, outPtr, posPtr, outSize);
      if (ret !== 0) throw ret === 5 ? new Error('LZMA_MEM_ERROR') : new PkgError(PkgErrorCode.BadCompression, `xz encoder: liblzma error ${ret}`);
      const heap = m.HEAPU8;
      const outPos = heap[posPtr] | (heap[posPtr + 1] << 8) | (heap[posPtr + 2] << 16) | (heap[posPtr + 3] * 2 ** 24);
      return heap.slice(outPtr, outPtr + outPos);
    } catch (err) {
      const failure = wasmFailure(inst, err, 'xz encoder');
      // A heap too full or too fragmented for this input: once more on a fresh instance.
      if (attempt > 0 || failure.code !== PkgErrorCode.TooLarge) throw failure;
    } finally {
      for (const ptr of [inPtr, outPtr, posPtr]) if (ptr) m._free(ptr);
      release(inst);
    }
  }
}

const IN_SIZE = 64 * 1024;
const OUT_SIZE = 1024 * 1024;
/**
 * liblzma's memory limit for one decoder: room for a 128 MiB dictionary and the decoder's own state. dpkg's default
 * is 8 MiB and `xz -9` 64 MiB, but the kernel's own xz (scripts/xz_wrap.sh) sizes the dictionary to the image:
 * Debian's armhf 6.12 and 7.2 zImages declare 128 MiB (their pre-boot decoder needs none, it decodes in one call).
 * A stream that grows its instance's heap this far has that instance dropped once it ends (RECYCLE_BYTES).
 */
const MEMLIMIT = 144 * 1024 * 1024;
const MEMLIMIT_TEXT = `${MEMLIMIT / (1024 * 1024)} MiB`;

/** liblzma's lzma_ret values (lzma/base.h), as a reader reads them. */
const LZMA_REASONS: Readonly<Record<number, string>> = {
  3: 'stream has no integrity check',
  4: 'stream uses an integrity check this decoder does not support',
  5: 'decoder ran out of memory',
  6: `stream needs more memory than the ${MEMLIMIT_TEXT} decoder limit`,
  7: 'not an xz or lzma stream (bad header)',
  8: 'stream uses unsupported options (filters)',
  9: 'corrupt compressed data or checksum',
  10: 'stream ends before its end marker',
};

const LZMA_OK = 0;
const LZMA_STREAM_END = 1;
const LZMA_BUF_ERROR = 10;
const LZMA_RUN = 0;
const LZMA_FINISH = 3;

/** What a decoding stream holds, released by its `finally` or, for a generator dropped unfinished, when it is collected. */
interface Hold {
  inst?: Instance;
  /** The lzma_stream, once its decoder is initialized (lzma_end frees the decoder's state). */
  stream?: { ptr: number; free(): void };
  ptrs: number[];
}

function letGo(hold: Hold): void {
  const inst = hold.inst;
  if (!inst) return;
  hold.inst = undefined;
  if (hold.stream) {
    inst.m._lzma_end(hold.stream.ptr);
    hold.stream.free();
  }
  for (const ptr of hold.ptrs) if (ptr) inst.m._free(ptr);
  release(inst);
}

/** Decoders whose consumer dropped them without `return()` (their `finally` never runs): freed when collected. */
const dropped = new FinalizationRegistry<Hold>(letGo);

/** Decodes one .xz or .lzma stream; `what` names it in errors. Output chunks are copies (the wasm heap is reused). */
export function unlzma(source: ByteStream, what: string): ByteStream {
  const hold: Hold = { ptrs: [] };
  const gen = decode(source, what, hold);
  dropped.register(gen, hold, gen);
  return gen;
}

async function* decode(source: ByteStream, what: string, hold: Hold): ByteStream {
  const { mod } = await lzmaApi();
  const inst = await lease();
  hold.inst = inst;
  const m = inst.m;
  let ended = false;
  let totalIn = 0;
  const fail = (ret: number): PkgError => {
    const code = ret === 10 ? PkgErrorCode.Truncated : ret === 5 || ret === 6 ? PkgErrorCode.TooLarge : PkgErrorCode.BadCompression;
    if (ret === 5) inst.spent = true;
    return new PkgError(code, `${what}: ${LZMA_REASONS[ret] ?? `liblzma error ${ret}`}`, { offset: totalIn });
  };
  try {
    const inPtr = m._malloc(IN_SIZE);
    const outPtr = m._malloc(OUT_SIZE);
    hold.ptrs.push(inPtr, outPtr);
    if (!inPtr || !outPtr) throw new Error('malloc failed');
    const stream = new mod.WasmLzmaStream(m);
    const initRet = m._lzma_auto_decoder(stream.ptr, MEMLIMIT, 0, 0);
    hold.stream = stream;
    if (initRet !== LZMA_OK) throw fail(initRet);
    // Runs the decoder over what is in the input buffer, yielding every full or final output buffer.
    const run = function* (action: number): Generator<Uint8Array> {
      for (;;) {
        stream.setOutput(outPtr, OUT_SIZE);
        const ret = m._lzma_code(stream.ptr, action);
        totalIn = stream.totalIn;
        const produced = OUT_SIZE - stream.availOut;
        if (produced > 0) yield m.HEAPU8.slice(outPtr, outPtr + produced);
        if (ret === LZMA_STREAM_END) {
          ended = true;
          return;
        }
        if (ret !== LZMA_OK) throw fail(action === LZMA_FINISH && ret === LZMA_BUF_ERROR ? 10 : ret);
        if (stream.availIn === 0 && stream.availOut > 0) return;
      }
    };
    for await (const chunk of source) {
      for (let pos = 0; pos < chunk.length && !ended; pos += IN_SIZE) {
        const part = chunk.subarray(pos, Math.min(chunk.length, pos + IN_SIZE));
        m.HEAPU8.set(part, inPtr);
        stream.setInput(inPtr, part.length);
        yield* run(LZMA_RUN);
      }
      if (ended) return;
    }
    stream.setInput(inPtr, 0);
    yield* run(LZMA_FINISH);
    if (!ended) throw fail(10);
  } catch (err) {
    // The source's own errors pass through; the wasm runtime's (a failed allocation, a trap) become a typed one.
    if (err instanceof Error && err.name !== 'RuntimeError' && !/malloc/i.test(err.message)) throw err;
    throw wasmFailure(inst, err, what);
  } finally {
    letGo(hold);
  }
}
