/**
 * Reproducible btfhub-archive files: a ustar tarball holding one `UNAME_R.btf`, in an .xz container. The same BTF
 * always gives the same bytes (mtime 0, mode 0444, uid/gid 0, owner names `root`, no record padding), so a
 * kernel ingested from raw BTF or an ELF object gets a stable sha256 that mirrors can check.
 *
 * Formats: POSIX.1-1988 ustar with pax extended headers (POSIX.1-2001) for names past 100 bytes; the .xz file
 * compressed by liblzma itself: natively where node-liblzma's prebuilt addon loads, else its WebAssembly build, with
 * the same bytes from both (./xz-encoder.ts).
 */
import { Worker } from 'node:worker_threads';
import { wasmEncode, xzEncoder } from './xz-encoder.js';

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
  return Buffer.concat(parts);
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

/**
 * xz preset of the tarballs made here. Preset 1 (LZMA2, 1 MiB dictionary, fast mode) compresses a kernel's 5 MB of
 * BTF five to six times faster than xz's default preset 6 (~0.5 s against ~3 s, in liblzma's WebAssembly build as
 * in native xz), for a file 15% larger: preset 6 alone took more than the whole ingest's budget. Any xz decoder
 * reads any preset; what mirrors rely on is that the same BTF always gives the same bytes, which a fixed preset
 * (and the pinned liblzma release, whichever of its two builds runs) keeps.
 */
export const XZ_PRESET = 1;

/**
 * Presets of tarballs made by earlier versions (6: xz's default, before {@link XZ_PRESET}). A catalog row that
 * recorded such a tarball's sha256 gets the very same bytes back when its blob must be made again.
 */
export const EARLIER_XZ_PRESETS: readonly number[] = [6];

/**
 * An .xz stream of `data` (LZMA2, preset {@link XZ_PRESET} unless told, CRC64 check, as `xz` writes by default).
 * The same bytes in give the same bytes out with the same liblzma and preset, natively or in WebAssembly; the
 * catalog stores the result and its sha256 once, so what it serves never changes afterwards.
 */
export async function writeXz(data: Uint8Array, preset = XZ_PRESET): Promise<Uint8Array> {
  return (await xzEncoder()).encode(data, preset);
}

/** The btfhub-archive file of a kernel: `UNAME_R.btf.tar.xz` holding `UNAME_R.btf`, reproducibly. */
export async function buildBtfTarXz(unameR: string, btf: Uint8Array, preset = XZ_PRESET): Promise<Uint8Array> {
  return writeXz(writeReproducibleTar(`${unameR}.btf`, btf), preset);
}

/** BTF from which size on {@link buildBtfTarXzAside} uses a worker thread: below it, starting one costs more than it saves. */
const ASIDE_MIN_BYTES = 1024 * 1024;

/** The tarball with liblzma's WebAssembly build on this thread (what the worker below runs). */
export async function buildBtfTarXzWasm(unameR: string, btf: Uint8Array): Promise<Uint8Array> {
  return wasmEncode(writeReproducibleTar(`${unameR}.btf`, btf), XZ_PRESET);
}

/** The worker: this very module (compiled), building one tarball in WebAssembly and handing its bytes back. */
const ASIDE_SOURCE = `const { parentPort, workerData: d } = require('node:worker_threads');
import(d.url).then((m) => m.buildBtfTarXzWasm(d.unameR, d.btf)).then((b) => parentPort.postMessage(b, [b.buffer]));`;

/**
 * {@link buildBtfTarXz} off the caller's thread, so that it goes on (ingest normalizes the kernel meanwhile): the
 * native encoder runs on libuv's thread pool by itself; the WebAssembly one (where the addon does not load) runs on a
 * worker thread. The same bytes either way. Small BTF, a module that is not compiled JavaScript (under a test runner),
 * or a worker that fails or cannot start: built on this thread.
 */
export async function buildBtfTarXzAside(unameR: string, btf: Uint8Array): Promise<Uint8Array> {
  if ((await xzEncoder()).kind === 'native' || btf.length < ASIDE_MIN_BYTES || !import.meta.url.endsWith('.js')) {
    return buildBtfTarXz(unameR, btf);
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    const here = (): void => {
      if (settled) return;
      settled = true;
      buildBtfTarXz(unameR, btf).then(resolve, reject);
    };
    let worker: Worker;
    try {
      worker = new Worker(ASIDE_SOURCE, { eval: true, workerData: { url: import.meta.url, unameR, btf } });
    } catch {
      here();
      return;
    }
    worker.once('message', (bytes: Uint8Array) => {
      if (settled) return;
      settled = true;
      resolve(bytes);
    });
    worker.once('error', here);
    worker.once('exit', here);
  });
}
