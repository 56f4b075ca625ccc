import { describe, expect, it } from 'vitest';
import { StringTable } from '../src/strings.js';

/** A string section of these strings, each NUL-terminated after a leading NUL, and the offset of each. */
function section(strings: string[]): { bytes: Uint8Array; offsets: number[] } {
  const parts: Buffer[] = [Buffer.from([0])];
  const offsets: number[] = [];
  let at = 1;
  for (const s of strings) {
    const b = Buffer.from(`${s}\0`, 'utf8');
    offsets.push(at);
    parts.push(b);
    at += b.length;
  }
  return { bytes: Buffer.concat(parts), offsets };
}

describe('StringTable', () => {
  // More strings than are read one by one before the section becomes one text, so both ways are compared.
  const names = Array.from({ length: 1500 }, (_, i) => (i % 97 === 0 ? `nom_é_${i}` : `name_${i}`));
  const { bytes, offsets } = section(names);

  it('reads every string the same before and after the section is made into one text', () => {
    const t = new StringTable(bytes, 0, bytes.length);
    const first = offsets.map((o) => [t.tryGet(o), t.tryGetRaw(o), t.isValid(o)]);
    // A suffix of a string is a string too (an offset into its middle).
    const mid = offsets[5] + 2;
    expect(t.tryGet(mid)).toBe(names[5].slice(2));
    const again = offsets.map((o) => [t.tryGet(o), t.tryGetRaw(o), t.isValid(o)]);
    expect(again).toEqual(first);
    expect(first.map((x) => x[0])).toEqual(names);
    // Raw: one char per byte.
    expect(first[0][1]).toBe(Buffer.from(`${names[0]}`, 'utf8').toString('latin1'));
    expect(t.tryGet(bytes.length)).toBeUndefined();
    expect(t.isValid(bytes.length)).toBe(false);
  });

  it('reads a split section: base offsets from the base, the rest from its own bytes', () => {
    const base = new StringTable(bytes, 0, bytes.length);
    const own = section(['mod_a', 'mod_é']);
    // The split section's own part starts with a NUL too in real module BTF; offsets continue after the base.
    const split = new StringTable(own.bytes, 0, own.bytes.length, base);
    expect(split.tryGet(offsets[3])).toBe(names[3]);
    expect(split.tryGet(bytes.length + own.offsets[1])).toBe('mod_é');
    expect(split.tryGetRaw(bytes.length + own.offsets[0])).toBe('mod_a');
    // First bytes, read in place on either side (what name indexes bucket by).
    expect(split.firstByte(offsets[3])).toBe(names[3].charCodeAt(0));
    expect(split.firstByte(bytes.length + own.offsets[1])).toBe('m'.charCodeAt(0));
    expect(split.firstByte(0)).toBe(0);
    expect(split.firstByte(bytes.length + own.bytes.length)).toBe(-1);
  });
});
