/**
 * The cpio "newc" archive of an rpm payload (magic 070701, or 070702 with a checksum; 110-byte header of
 * thirteen 8-digit hex fields, the name with its NUL padded to 4 bytes with the header, the data padded to 4;
 * ends with `TRAILER!!!`), per cpio(5) and rpm's doc/manual/format.md.
 */
import type { InputBudget } from '@btf-atlas/btf';
import { PkgError, PkgErrorCode } from './errors.js';
import { normalizeMemberPath } from './paths.js';
import type { ByteReader } from './reader.js';
import type { ArchiveFile } from './tar.js';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const MAX_NAME = 4096;

/** Yields the regular files of a newc cpio archive; every entry counts against `maxEntries` and the input's `budget`. */
export async function* readCpio(r: ByteReader, what: string, maxEntries: number, budget?: InputBudget): AsyncGenerator<ArchiveFile> {
  for (let entries = 1; ; entries++) {
    if (entries > maxEntries) throw new PkgError(PkgErrorCode.TooLarge, `${what} holds more than ${maxEntries} entries`);
    const at = r.position;
    const h = Buffer.from(await r.read(110, 'a cpio header')).toString('latin1');
    const magic = h.slice(0, 6);
    if (magic !== '070701' && magic !== '070702') {
      throw new PkgError(PkgErrorCode.BadArchive, `${what}: not a cpio newc header (magic ${JSON.stringify(magic)})`, { offset: at });
    }
    const field = (i: number): number => {
      const text = h.slice(6 + i * 8, 14 + i * 8);
      if (!/^[0-9a-fA-F]{8}$/.test(text)) throw new PkgError(PkgErrorCode.BadArchive, `${what}: cpio header field ${i} is not hex`, { offset: at + 6 + i * 8 });
      return parseInt(text, 16);
    };
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    if (nameSize < 1 || nameSize > MAX_NAME) throw new PkgError(PkgErrorCode.BadArchive, `${what}: cpio name size ${nameSize} is out of range`, { offset: at + 94 });
    const nameBytes = await r.read(nameSize, 'a cpio name');
    const name = Buffer.from(nameBytes.subarray(0, nameSize - 1)).toString('utf8');
    await r.skip(pad4(110 + nameSize), 'cpio name padding');
    if (name === 'TRAILER!!!') return;
    const path = normalizeMemberPath(name, what);
    budget?.enterMember(`${what}:${path}`);
    const start = r.position;
    if ((mode & S_IFMT) === S_IFREG && size > 0) {
      yield { path, rawName: name, size, body: r.chunks(size, `cpio member ${path}`) };
    }
    const left = size - (r.position - start);
    if (left > 0) await r.skip(left, `cpio member ${path}`);
    await r.skip(pad4(size), 'cpio data padding');
  }
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}
