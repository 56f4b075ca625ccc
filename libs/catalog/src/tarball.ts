/**
 * Reproducible btfhub-archive files: a ustar tarball holding one `UNAME_R.btf`, in an .xz container. The same BTF
 * always gives the same bytes (mtime 0, mode 0444, uid/gid 0, owner names `root`, no record padding), so a
 * kernel ingested from raw BTF or an ELF object gets a stable sha256 that mirrors can check.
 *
 * Formats: POSIX.1-1988 ustar with pax extended headers (POSIX.1-2001) for names past 100 bytes; the .xz file
 * compressed by liblzma itself (below).
 */
import { loadLzma } from '@btf-atlas/pkg';

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

/** xz preset of the tarballs made here: xz's own default, what btfhub-archive's files were made with. */
export const XZ_PRESET = 6;

/**
 * An .xz stream of `data` (LZMA2, preset {@link XZ_PRESET}, CRC64 check, as `xz` writes by default). The same
 * bytes in give the same bytes out with the same liblzma; the catalog stores the result and its sha256 once, so
 * what it serves never changes afterwards.
 */
export async function writeXz(data: Uint8Array, preset = XZ_PRESET): Promise<Uint8Array> {
  const mod = await loadLzma();
  return mod.xzAsync(data, { preset });
}

/** The btfhub-archive file of a kernel: `UNAME_R.btf.tar.xz` holding `UNAME_R.btf`, reproducibly. */
export async function buildBtfTarXz(unameR: string, btf: Uint8Array): Promise<Uint8Array> {
  return writeXz(writeReproducibleTar(`${unameR}.btf`, btf));
}
