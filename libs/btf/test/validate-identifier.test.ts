import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Btf } from '../src/btf.js';
import { KSYM_NAME_LEN, ValidationContext } from '../src/validate-meta.js';
import { BtfBuilder } from './support/builder.js';

/**
 * btf_name_valid_identifier read straight from the kernel source, one offset at a time: the first character is
 * a letter (the kernel's ctype: ASCII and Latin-1 letters), `_` or `.`; the others may also be digits; a NUL
 * ends it within KSYM_NAME_LEN characters. The validator answers every offset from one scan of the section;
 * this checks that scan against the plain rule at every offset, middles of strings included.
 */
function kernelIdentifier(bytes: Uint8Array, at: number): boolean {
  const alpha = (c: number) => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0xc0 && c !== 0xd7 && c !== 0xf7);
  const digit = (c: number) => c >= 0x30 && c <= 0x39;
  let c = bytes[at];
  if (!(alpha(c) || c === 0x5f || c === 0x2e)) return false;
  let p = at + 1;
  for (; p < bytes.length && bytes[p] !== 0; p++) {
    c = bytes[p];
    if (!(alpha(c) || digit(c) || c === 0x5f || c === 0x2e)) return false;
    if (p - at >= KSYM_NAME_LEN) return false;
  }
  return p - at <= KSYM_NAME_LEN;
}

/** A parsed blob whose string section is `strings` after the leading NUL, and its validation context. */
function contextOf(strings: Uint8Array): { ctx: ValidationContext; section: Uint8Array } {
  const b = new BtfBuilder();
  b.int('int', 4);
  b.rawStrings(strings);
  const btf = Btf.parse(b.build());
  const h = btf.header;
  return { ctx: new ValidationContext(btf, undefined), section: btf.bytes.subarray(h.strStart, h.strEnd) };
}

// Bytes that matter: letters (ASCII, Latin-1, and the two Latin-1 non-letters), digits, `_`, `.`, and bytes that
// may not be in an identifier at all.
const interesting = fc.constantFrom(0x61, 0x5a, 0x30, 0x39, 0x5f, 0x2e, 0x2d, 0x20, 0x01, 0x7f, 0x80, 0xa0, 0xc0, 0xd7, 0xe9, 0xf7, 0xff);

describe('identifier rule at every string offset', () => {
  it('equals the kernel rule for random strings, and for names around KSYM_NAME_LEN', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.array(interesting, { maxLength: 12 }), fc.integer({ min: KSYM_NAME_LEN - 2, max: KSYM_NAME_LEN + 2 }).map((n) => new Array<number>(n).fill(0x61))), { maxLength: 8 }),
        (parts) => {
          const strings = Uint8Array.from(parts.flatMap((p) => [...p, 0]));
          const { ctx, section } = contextOf(strings);
          for (let off = 0; off < section.length; off++) {
            expect(ctx.validIdentifier(off), `offset ${off}`).toBe(kernelIdentifier(section, off));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('takes a name of exactly KSYM_NAME_LEN characters and refuses one more', () => {
    const name = (n: number) => new Array<number>(n).fill(0x61);
    const { ctx } = contextOf(Uint8Array.from([...name(KSYM_NAME_LEN), 0, ...name(KSYM_NAME_LEN + 1), 0]));
    const at = 'int'.length + 2;
    expect(ctx.validIdentifier(at)).toBe(true);
    expect(ctx.validIdentifier(at + KSYM_NAME_LEN + 1)).toBe(false);
    expect(ctx.validIdentifier(at + KSYM_NAME_LEN + 2)).toBe(true);
  });
});
