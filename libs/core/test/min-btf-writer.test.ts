/**
 * The raw BTF encoder (btf-writer.ts): write-then-reparse of a whole real kernel in both byte orders, byte-exact
 * re-encoding of bpftool's own minimized BTF (libbpf lays strings out in first-use order too), and a typed error
 * for each kind of bad record.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { Btf, BtfError, validateBtf } from '@btf-atlas/btf';
import type { BtfType } from '@btf-atlas/btf/types';
import { corpusKernels, firstDifference, loadKernel } from '../../btf/test/support/corpus.js';
import { writeBtf } from '../src/index.js';

const ORACLE = join(dirname(fileURLToPath(import.meta.url)), '../../../fixtures/core/oracle');

/** The types of `btf` with names taken byte for byte (latin1) and string offsets dropped. */
function rawTypes(btf: Btf): BtfType[] {
  const raw = (off: number): string => btf.strings.tryGetRaw(off) ?? '';
  return btf.ownTypes().map((t): BtfType => {
    const name = raw(t.nameOff);
    switch (t.kind) {
      case 'STRUCT': case 'UNION':
        return { ...t, name, nameOff: 0, members: t.members.map((m) => ({ ...m, name: raw(m.nameOff), nameOff: 0 })) };
      case 'ENUM':
        return { ...t, name, nameOff: 0, values: t.values.map((v) => ({ ...v, name: raw(v.nameOff), nameOff: 0 })) };
      case 'ENUM64':
        return { ...t, name, nameOff: 0, values: t.values.map((v) => ({ ...v, name: raw(v.nameOff), nameOff: 0 })) };
      case 'FUNC_PROTO':
        return { ...t, name, nameOff: 0, params: t.params.map((p) => ({ ...p, name: raw(p.nameOff), nameOff: 0 })) };
      default:
        return { ...t, name, nameOff: 0 };
    }
  });
}

/** A compact, order-preserving text of a type list, for one comparison over a whole kernel. */
function fingerprint(types: BtfType[]): string {
  return JSON.stringify(types, (k, v: unknown) => (k === 'nameOff' ? undefined : typeof v === 'bigint' ? `${v}n` : v));
}

describe('a whole kernel, written and read back', () => {
  const kernel = corpusKernels().find((k) => k.kernelRelease === '6.1.0-47-amd64');
  if (!kernel) throw new Error('corpus kernel 6.1.0-47-amd64 missing');
  let vmlinux: Btf;
  let types: BtfType[];
  beforeAll(async () => {
    vmlinux = await loadKernel(kernel);
    types = rawTypes(vmlinux);
  });

  it.each([true, false])('littleEndian=%s: the same types, valid, strings deduplicated', (le) => {
    const bytes = writeBtf(types, { littleEndian: le, nameEncoding: 'latin1' });
    const back = Btf.parse(bytes);
    expect(back.littleEndian).toBe(le);
    expect(back.ownTypeCount).toBe(vmlinux.ownTypeCount);
    expect(fingerprint(rawTypes(back))).toBe(fingerprint(types));
    expect(() => validateBtf(back)).not.toThrow();
    // Kernel BTF is deduplicated by pahole: no string is stored twice there either, so the sections are equal in size.
    expect(back.strings.length).toBeLessThanOrEqual(vmlinux.strings.length);
    expect(back.header.typeLen).toBe(vmlinux.header.typeLen);
  });

  it('is deterministic', () => {
    const once = writeBtf(types, { nameEncoding: 'latin1' });
    expect(Buffer.from(writeBtf(rawTypes(Btf.parse(vmlinux.bytes)), { nameEncoding: 'latin1' })).equals(Buffer.from(once))).toBe(true);
  });
});

describe('bpftool\'s minimized BTF re-encoded byte for byte', () => {
  const files: string[] = [];
  for (const dir of ['debian/12/x86_64/6.1.0-47-amd64', 'debian/13/x86_64/6.12.117+deb13-amd64']) {
    const d = join(ORACLE, dir);
    if (existsSync(d)) for (const f of readdirSync(d).filter((x) => x.endsWith('.min.btf')).sort()) files.push(join(dir, f));
  }
  it('has files to check', () => {
    expect(files.length).toBe(12);
  });
  it.each(files)('%s', (rel) => {
    const want = readFileSync(join(ORACLE, rel));
    const got = writeBtf(rawTypes(Btf.parse(want)), { nameEncoding: 'latin1' });
    const d = firstDifference(got, want);
    expect(d, d).toBeUndefined();
  });
});

describe('bad records: a BtfError naming the type', () => {
  const int: BtfType = { kind: 'INT', id: 1, name: 'int', nameOff: 0, kindFlag: false, size: 4, bitsOffset: 0, nrBits: 32, encoding: 1 };
  const struct = (members: { bitsOffset: number; bitfieldSize: number; type?: number }[], kindFlag = false): BtfType => ({
    kind: 'STRUCT', id: 2, name: 's', nameOff: 0, kindFlag, size: 8,
    members: members.map((m, i) => ({ name: `m${i}`, nameOff: 0, type: m.type ?? 1, bitsOffset: m.bitsOffset, bitfieldSize: m.bitfieldSize })),
  });

  function error(types: BtfType[]): BtfError {
    try {
      writeBtf(types);
    } catch (err) {
      if (err instanceof BtfError) return err;
      throw err;
    }
    throw new Error('expected a BtfError');
  }

  it('writes the good ones', () => {
    const btf = Btf.parse(writeBtf([int, struct([{ bitsOffset: 0, bitfieldSize: 0 }, { bitsOffset: 35, bitfieldSize: 3 }], true)]));
    expect(btf.type(2)).toMatchObject({ kind: 'STRUCT', kindFlag: true, members: [{ name: 'm0', bitsOffset: 0 }, { name: 'm1', bitsOffset: 35, bitfieldSize: 3 }] });
    expect(() => validateBtf(btf)).not.toThrow();
  });

  it.each([
    ['an id that is not the position', [{ ...int, id: 3 }], 'BTF_BAD_TYPE_REF', 1, /carries id 3/],
    ['a reference past the last type', [int, struct([{ bitsOffset: 0, bitfieldSize: 0, type: 9 }])], 'BTF_BAD_TYPE_REF', 2, /member 0 type id 9 \(last is 2\)/],
    ['a bitfield size without kind_flag', [int, struct([{ bitsOffset: 0, bitfieldSize: 3 }])], 'BTF_BAD_MEMBER', 2, /needs kind_flag/],
    ['a kind_flag bit offset past 24 bits', [int, struct([{ bitsOffset: 1 << 24, bitfieldSize: 1 }], true)], 'BTF_BAD_MEMBER', 2, /does not fit a kind_flag member/],
    ['more than 65535 members', [int, struct(Array.from({ length: 0x10000 }, () => ({ bitsOffset: 0, bitfieldSize: 0 })))], 'BTF_BAD_TYPE', 2, /vlen 65536/],
    ['a nul in a name', [{ ...int, name: 'in\0t' }], 'BTF_BAD_STRING', 1, /name contains a nul/],
    ['an enum value past 32 bits', [{ kind: 'ENUM', id: 1, name: 'e', nameOff: 0, kindFlag: false, size: 4, signed: false, values: [{ name: 'A', nameOff: 0, value: 2 ** 32 }] }], 'BTF_BAD_TYPE', 1, /enumerator 0/],
    ['a negative size', [{ ...int, size: -1 }], 'BTF_BAD_TYPE', 1, /size -1 is not a u32/],
  ] as [string, BtfType[], string, number, RegExp][])('%s', (_what, types, code, typeId, message) => {
    const err = error(types);
    expect(err.code).toBe(code);
    expect(err.typeId).toBe(typeId);
    expect(err.message).toMatch(message);
  });
});
