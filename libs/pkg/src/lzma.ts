/**
 * Streaming .xz and .lzma ("LZMA alone", what the kernel's CONFIG_KERNEL_LZMA writes) decoding with liblzma
 * compiled to WebAssembly (node-liblzma's wasm build: no native addon). lzma_auto_decoder tells the two apart;
 * without LZMA_CONCATENATED it stops at the end of the first stream, so bytes the kernel appends after its
 * payload (the uncompressed size) are left alone.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { PkgError, PkgErrorCode } from './errors.js';
import type { ByteStream } from './reader.js';

type LzmaWasm = typeof import('node-liblzma/wasm');
let lzma: Promise<LzmaWasm> | undefined;

/**
 * liblzma compiled to WebAssembly (node-liblzma's wasm build: no native addon, nothing to compile at install),
 * loaded once. Its own loader fetches the .wasm by URL, which Node cannot do for files, so the binary is read here
 * and handed to the Emscripten factory. Shared with the catalog's tarball writer.
 */
export async function loadLzma(): Promise<LzmaWasm> {
  lzma ??= (async () => {
    const mod = await import('node-liblzma/wasm');
    const { default: createModule } = await import('node-liblzma/wasm/liblzma.js');
    const wasmBinary = readFileSync(createRequire(import.meta.url).resolve('node-liblzma/wasm/liblzma.wasm'));
    await mod.initModule(() => createModule({ wasmBinary }));
    return mod;
  })();
  return lzma;
}

const IN_SIZE = 64 * 1024;
const OUT_SIZE = 1024 * 1024;
/**
 * liblzma's memory limit for one decoder: room for a 64 MiB dictionary (`xz -9`, the most any real package or
 * kernel image uses: dpkg's default is 8 MiB, the kernel's xz_wrap.sh 32 MiB) and the decoder's own state. The
 * WebAssembly heap never shrinks, so this also bounds what one hostile stream can make the process keep (with
 * 256 MiB, a million fuzzed inputs grew it past 512 MiB and fragmented it until allocations failed).
 */
const MEMLIMIT = 80 * 1024 * 1024;

/** liblzma's lzma_ret values (lzma/base.h), as a reader reads them. */
const LZMA_REASONS: Readonly<Record<number, string>> = {
  3: 'stream has no integrity check',
  4: 'stream uses an integrity check this decoder does not support',
  5: 'decoder ran out of memory',
  6: 'stream needs more memory than the 80 MiB decoder limit',
  7: 'not an xz or lzma stream (bad header)',
  8: 'stream uses unsupported options (filters)',
  9: 'corrupt compressed data or checksum',
  10: 'stream ends before its end marker',
};

/** Decodes one .xz or .lzma stream; `what` names it in errors. Output chunks are copies (the wasm heap is reused). */
export async function* unlzma(source: ByteStream, what: string): ByteStream {
  const mod = await loadLzma();
  const m = mod.getModule();
  const stream = new mod.WasmLzmaStream(m);
  const inPtr = m._malloc(IN_SIZE);
  const outPtr = m._malloc(OUT_SIZE);
  let ended = false;
  const fail = (ret: number): PkgError => {
    const code = ret === 10 ? PkgErrorCode.Truncated : ret === 6 ? PkgErrorCode.TooLarge : PkgErrorCode.BadCompression;
    return new PkgError(code, `${what}: ${LZMA_REASONS[ret] ?? `liblzma error ${ret}`}`, { offset: stream.totalIn });
  };
  try {
    // The wasm build passes the u64 memlimit as two i32 halves (no WASM_BIGINT); the package's own wrapper hands
    // it a BigInt and fails, so the export is called directly.
    const init = (m as unknown as { _lzma_auto_decoder(strm: number, lo: number, hi: number, flags: number): number })._lzma_auto_decoder;
    const initRet = init(stream.ptr, MEMLIMIT, 0, 0);
    if (initRet !== mod.LZMA_OK) throw fail(initRet);
    // Runs the decoder over what is in the input buffer, yielding every full or final output buffer.
    const run = function* (action: number): Generator<Uint8Array> {
      for (;;) {
        stream.setOutput(outPtr, OUT_SIZE);
        const ret = mod.code(stream, action);
        const produced = OUT_SIZE - stream.availOut;
        if (produced > 0) yield m.HEAPU8.slice(outPtr, outPtr + produced);
        if (ret === mod.LZMA_STREAM_END) {
          ended = true;
          return;
        }
        if (ret !== mod.LZMA_OK) throw fail(action === mod.LZMA_FINISH && ret === mod.LZMA_BUF_ERROR ? 10 : ret);
        if (stream.availIn === 0 && stream.availOut > 0) return;
      }
    };
    for await (const chunk of source) {
      for (let pos = 0; pos < chunk.length && !ended; pos += IN_SIZE) {
        const part = chunk.subarray(pos, Math.min(chunk.length, pos + IN_SIZE));
        m.HEAPU8.set(part, inPtr);
        stream.setInput(inPtr, part.length);
        yield* run(mod.LZMA_RUN);
      }
      if (ended) return;
    }
    stream.setInput(inPtr, 0);
    yield* run(mod.LZMA_FINISH);
    if (!ended) throw fail(10);
  } finally {
    mod.end(stream);
    stream.free();
    m._free(inPtr);
    m._free(outPtr);
  }
}
