/**
 * The `ar` archive a .deb is (deb(5): "!<arch>\n", then members with a 60-byte header: name 16, mtime 12,
 * uid 6, gid 6, mode 8, size 10 in decimal, "`\n"; data padded to an even length).
 */
import type { InputBudget } from '@btf-atlas/btf';
import { PkgError, PkgErrorCode } from './errors.js';
import type { ByteReader, ByteStream } from './reader.js';

export interface ArMember {
  name: string;
  size: number;
  /** Offset of the member's data in the archive. */
  offset: number;
  /** The member's bytes; drained by {@link readAr} if the caller leaves them unread. */
  body: ByteStream;
}

const AR_MAGIC = '!<arch>\n';

/** True when the bytes start with the ar magic. */
export function isAr(b: Uint8Array): boolean {
  return b.length >= 8 && Buffer.from(b.buffer, b.byteOffset, 8).toString('latin1') === AR_MAGIC;
}

/** Yields the members of an ar archive in order; each counts against the input's `budget` before it is read. */
export async function* readAr(r: ByteReader, budget?: InputBudget): AsyncGenerator<ArMember> {
  const magic = await r.read(8, 'the ar magic');
  if (!isAr(magic)) throw new PkgError(PkgErrorCode.BadArchive, 'not an ar archive (bad magic)', { offset: 0 });
  for (;;) {
    if (await r.atEnd()) return;
    const at = r.position;
    const h = Buffer.from(await r.read(60, 'an ar member header'));
    if (h[58] !== 0x60 || h[59] !== 0x0a) throw new PkgError(PkgErrorCode.BadArchive, 'ar member header has a bad end marker', { offset: at + 58 });
    const name = h.toString('latin1', 0, 16).trimEnd().replace(/\/$/, '');
    const sizeText = h.toString('latin1', 48, 58).trim();
    if (!/^\d{1,10}$/.test(sizeText)) throw new PkgError(PkgErrorCode.BadArchive, `ar member ${JSON.stringify(name)} has a bad size ${JSON.stringify(sizeText)}`, { offset: at + 48 });
    const size = Number(sizeText);
    const what = `ar member ${name}`;
    budget?.enterMember(name);
    let consumed = false;
    const body = async function* (): ByteStream {
      consumed = true;
      yield* r.chunks(size, what);
    };
    const start = r.position;
    yield { name, size, offset: start, body: body() };
    const left = size - (r.position - start);
    if (!consumed || left > 0) await r.skip(left, what);
    if (size % 2 === 1 && !(await r.atEnd())) await r.skip(1, 'ar padding');
  }
}
