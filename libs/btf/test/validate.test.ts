import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Btf, BtfError, extractBtf, validateBtf, type BtfErrorCode } from '@btf-atlas/btf';
import { BtfBuilder, info, sampleBtf } from './support/builder.js';
import { corpusFile, corpusKernels, loadKernel } from './support/corpus.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const BAD = join(FIXTURES, 'bad');
const SMALL_LIMIT = { maxDecompressedSize: 1024 * 1024 };

interface Expected {
  stage: 'parse' | 'container' | 'validate';
  code: BtfErrorCode;
  note: string;
}
const expected = JSON.parse(readFileSync(join(BAD, 'expected.json'), 'utf8')) as Record<string, Expected>;

/** The error `fn` throws (sync or async); fails the test when it throws nothing or a non-BtfError. */
async function errorOf(fn: () => unknown): Promise<BtfError> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof BtfError)) throw new Error(`expected a BtfError, got ${String(err)}`, { cause: err });
    return err;
  }
  throw new Error('expected a BtfError, nothing was thrown');
}

function validate(bytes: Uint8Array, base?: Btf, opts?: Parameters<typeof validateBtf>[1]): ReturnType<typeof validateBtf> {
  return validateBtf(Btf.parse(bytes, { base }), opts);
}

describe('broken inputs in test/fixtures/bad', () => {
  it('every file has an expectation and every expectation a file', () => {
    const files = readdirSync(BAD).filter((f) => f !== 'expected.json').sort();
    expect(files).toEqual(Object.keys(expected).sort());
    expect(files.length).toBeGreaterThanOrEqual(40);
  });

  for (const [file, exp] of Object.entries(expected)) {
    it(`${file}: ${exp.stage} fails with ${exp.code} (${exp.note})`, async () => {
      const bytes = readFileSync(join(BAD, file));
      let err: BtfError;
      if (exp.stage === 'container') {
        err = await errorOf(() => extractBtf(bytes, file, SMALL_LIMIT));
      } else if (exp.stage === 'parse') {
        err = await errorOf(() => Btf.parse(bytes));
      } else {
        const btf = Btf.parse(bytes); // libbpf-level parsing accepts it: only the kernel's rules refuse it
        err = await errorOf(() => validateBtf(btf));
        expect(err.typeId !== undefined || err.offset !== undefined, err.message).toBe(true);
      }
      expect(err.code, err.message).toBe(exp.code);
      // The validator's messages are lowercase and name where (libbpf style); other stages keep their own wording.
      if (exp.stage === 'validate') expect(err.reason).toMatch(/^[a-z0-9_'.[]/);
      expect(err.reason).not.toMatch(/undefined|NaN|\[object/);
    });
  }

  it('a corrupt xz stream does not block the next one (xz-decompress holds a global lock)', async () => {
    const bad = readFileSync(join(BAD, 'xz-truncated.xz'));
    expect((await errorOf(() => extractBtf(bad, 'bad.xz'))).code).toBe('BTF_BAD_CONTAINER');
    expect((await errorOf(() => extractBtf(readFileSync(join(BAD, 'xz-bomb.xz')), 'bomb.xz', SMALL_LIMIT))).code).toBe('ARCHIVE_TOO_LARGE');
    const good = readFileSync(join(FIXTURES, 'good/small.btf.xz'));
    const blobs = await Promise.race([
      extractBtf(good, 'small.btf.xz'),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('xz decompression hung')), 10_000)),
    ]);
    expect(Buffer.from(blobs[0].bytes)).toEqual(readFileSync(join(FIXTURES, 'good/small.btf')));
    expect(validateBtf(Btf.parse(blobs[0].bytes)).types).toBe(2);
  });
});

describe('validateBtf accepts real kernel BTF', () => {
  for (const k of corpusKernels()) {
    it(`${k.archive} and its modules`, async () => {
      const base = await loadKernel(k);
      const fresh = Btf.parse(base.bytes);
      const r = validateBtf(fresh);
      expect(r.types).toBe(k.types);
      expect(r.pointerSize).toBe(8);
      // Warm timing on fresh parses (best of 3 after the run above); printed, loosely bounded (machines vary).
      let again = Btf.parse(base.bytes);
      let ms = Infinity;
      for (let i = 0; i < 3; i++) {
        again = Btf.parse(base.bytes);
        const t0 = performance.now();
        validateBtf(again);
        ms = Math.min(ms, performance.now() - t0);
      }
      console.log(`validate ${k.kernelRelease}: ${k.types} types in ${ms.toFixed(1)} ms`);
      expect(ms).toBeLessThan(2000);
      for (const m of k.modules) {
        const mod = Btf.parse(corpusFile(m.archive), { base: again });
        const mr = validateBtf(mod);
        expect(mr.types).toBe(m.types);
        expect(mr.startId).toBe(k.types + 1);
      }
    });
  }
});

describe('validateBtf on synthetic BTF', () => {
  it('accepts a sample using every kind, in both byte orders', () => {
    const le = sampleBtf(true);
    const be = sampleBtf(false);
    expect(be[0]).toBe(0xeb);
    expect(le[0]).toBe(0x9f);
    const rl = validate(le);
    const rb = validate(be);
    expect(rb).toEqual(rl);
    expect(rl.types).toBeGreaterThan(20);
  });

  it('accepts split BTF on its base: ids and string offsets continue the base, no leading nul', () => {
    const base = Btf.parse(sampleBtf());
    const b = new BtfBuilder({ startId: base.nextId, strBase: base.strings.endOffset, leadingNul: false });
    const s = b.struct('mod_state', 16, [{ name: 'n', type: 1, bitsOffset: 0 }, { name: 'node', type: 6, bitsOffset: 64 }]);
    b.ptr(s);
    const bytes = b.build();
    const r = validate(bytes, base);
    expect(r).toMatchObject({ startId: base.nextId, types: 2 });
    // The same blob without its base is refused (string section does not start with nul).
    expect(() => Btf.parse(bytes)).toThrow(BtfError);
  });

  it('names the split type and the bad reference', async () => {
    const base = Btf.parse(sampleBtf());
    const b = new BtfBuilder({ startId: base.nextId, strBase: base.strings.endOffset, leadingNul: false });
    b.int('mod_int', 4);
    b.ptr(base.nextId + 5);
    const err = await errorOf(() => validate(b.build(), base));
    expect(err.code).toBe('BTF_BAD_TYPE_REF');
    expect(err.typeId).toBe(base.nextId + 1);
    expect(err.message).toBe(`type [${base.nextId + 1}]: invalid referenced type id ${base.nextId + 5}`);
  });

  it('refuses a split BTF whose base is invalid with BTF_BAD_BASE', async () => {
    const bb = new BtfBuilder();
    bb.int('int', 4);
    bb.ptr(1);
    bb.raw(bb.str('x'), info(2), 1); // named PTR
    const base = Btf.parse(bb.build());
    const b = new BtfBuilder({ startId: base.nextId, strBase: base.strings.endOffset, leadingNul: false });
    b.int('mod_int', 4);
    const err = await errorOf(() => validate(b.build(), base));
    expect(err.code).toBe('BTF_BAD_BASE');
    expect(err.typeId).toBe(3);
  });

  it('ends every loop with BTF_TYPE_LOOP instead of hanging', async () => {
    const loops: ((b: BtfBuilder) => void)[] = [
      (b) => { b.struct('a', 4, [{ name: 'a', type: 1, bitsOffset: 0 }]); }, // struct a { struct a a; }
      (b) => { b.struct('a', 4, [{ name: 'b', type: 2, bitsOffset: 0 }]); b.struct('b', 4, [{ name: 'a', type: 1, bitsOffset: 0 }]); },
      (b) => { b.array(1, 1, 2); }, // array of itself
      (b) => { b.volatile(2); b.restrict(3); b.const(1); },
      (b) => { b.typeTag('t', 1); },
    ];
    for (const make of loops) {
      const b = new BtfBuilder();
      make(b);
      const err = await errorOf(() => validate(b.build()));
      expect(err.code, err.message).toBe('BTF_TYPE_LOOP');
    }
  });

  it('respects limits.maxResolveDepth', async () => {
    const b = new BtfBuilder();
    b.int('int', 4);
    for (let i = 0; i < 10; i++) b.typedef(`t${i}`, i === 9 ? 1 : i + 3); // [2] -> [3] -> ... -> [11] -> int
    const bytes = b.build();
    expect(validateBtf(Btf.parse(bytes)).types).toBe(11);
    const err = await errorOf(() => validateBtf(Btf.parse(bytes, { limits: { maxResolveDepth: 4 } })));
    expect(err.code).toBe('BTF_TYPE_LOOP');
    expect(err.reason).toContain('depth 4');
  });

  it('handles a 100,000-long typedef chain without recursion', async () => {
    const b = new BtfBuilder();
    b.int('int', 4);
    for (let i = 0; i < 100_000; i++) b.typedef('t', i === 99_999 ? 1 : i + 3); // each refers to the next
    const err = await errorOf(() => validate(b.build()));
    expect(err.code).toBe('BTF_TYPE_LOOP');
  });

  it('accepts a struct pointing to itself and void/fwd/func_proto behind modifiers', () => {
    const b = new BtfBuilder();
    const int = b.int('int', 4, 32, 1);
    const list = b.struct('list', 16, [{ name: 'next', type: int + 2, bitsOffset: 0 }, { name: 'v', type: int, bitsOffset: 64 }]);
    b.ptr(list);
    b.typedef('void_t', 0);
    b.const(b.fwd('later'));
    b.ptr(b.funcProto(0, []));
    expect(validate(b.build()).types).toBe(8);
  });

  it('resolves every var of a datasec defined before its vars, whatever the var before it resolved through', () => {
    // The kernel starts each visit of a DATASEC in mode TBD: after var 1 went through a struct (mode "struct or
    // array"), var 2 and its typedef to a later array must still be resolved, not taken as sinks without a size.
    const b = new BtfBuilder();
    b.datasec('.data', 40, [{ type: 2, offset: 0, size: 8 }, { type: 3, offset: 8, size: 32 }]); // 1
    b.var('a', 4); // 2
    b.var('b', 5); // 3
    b.struct('s', 8, [{ name: 'x', type: 7, bitsOffset: 0 }]); // 4
    b.typedef('vec_t', 6); // 5
    b.array(8, 7, 4); // 6: (struct s *)[4], index and element defined later
    b.int('long', 8, 64, 1); // 7
    b.ptr(4); // 8
    expect(validate(b.build()).types).toBe(8);
  });

  const refused: [string, (b: BtfBuilder) => void, BtfErrorCode, RegExp][] = [
    ['a bitfield in a struct without kind_flag that passes the end', (b) => { b.int('int', 4); b.struct('s', 4, [{ name: 'x', type: 1, bitsOffset: 30 }]); }, 'BTF_BAD_MEMBER', /exceeds the 4-byte struct/],
    ['a union member at a non-zero offset', (b) => { b.int('int', 4); b.union('u', 8, [{ name: 'x', type: 1, bitsOffset: 32 }]); }, 'BTF_BAD_MEMBER', /union member has bits_offset 32/],
    ['members out of order', (b) => { b.int('int', 4); b.struct('s', 8, [{ name: 'x', type: 1, bitsOffset: 32 }, { name: 'y', type: 1, bitsOffset: 0 }]); }, 'BTF_BAD_MEMBER', /below the previous/],
    ['a member of void type', (b) => { b.struct('s', 8, [{ name: 'x', type: 0, bitsOffset: 0 }]); }, 'BTF_BAD_TYPE_REF', /invalid type id 0/],
    ['a member that is a func_proto', (b) => { b.funcProto(0, []); b.struct('s', 8, [{ name: 'x', type: 1, bitsOffset: 0 }]); }, 'BTF_BAD_MEMBER', /invalid member type/],
    ['an int of 40 bits in 4 bytes', (b) => { b.int('int', 4, 40); }, 'BTF_BAD_TYPE', /exceed its size/],
    ['an int with two encodings', (b) => { b.int('int', 4, 32, 3); }, 'BTF_BAD_TYPE', /encoding 3/],
    ['a float of 3 bytes', (b) => { b.float('f', 3); }, 'BTF_BAD_TYPE', /float has size 3/],
    ['an unnamed typedef', (b) => { b.int('int', 4); b.raw(0, info(8), 1); }, 'BTF_BAD_STRING', /typedef needs a name/],
    ['an enumerator without a name', (b) => { b.raw(0, info(6, 1), 4, [0, 1]); }, 'BTF_BAD_STRING', /enumerator 0 needs a name/],
    ['a member name with a dash', (b) => { b.int('int', 4); b.struct('s', 4, [{ name: 'a-b', type: 1, bitsOffset: 0 }]); }, 'BTF_BAD_STRING', /'a-b' is not a valid identifier/],
    ['a var with extern linkage', (b) => { b.int('int', 4); b.var('v', 1, 2); }, 'BTF_BAD_TYPE', /linkage 2/],
    ['a var of void type', (b) => { b.var('v', 0, 1); }, 'BTF_BAD_TYPE_REF', /invalid var type id 0/],
    ['a datasec var past the section', (b) => { b.int('int', 4); const v = b.var('v', 1); b.datasec('.bss', 4, [{ type: v, offset: 2, size: 4 }]); }, 'BTF_BAD_TYPE', /exceeds the section size/],
    ['a datasec var smaller than its type', (b) => { b.int('long', 8); const v = b.var('v', 1); b.datasec('.bss', 8, [{ type: v, offset: 0, size: 4 }]); }, 'BTF_BAD_TYPE', /smaller than its type/],
    ['a func parameter without a name', (b) => { b.int('int', 4); const p = b.funcProto(1, [{ type: 1 }]); b.func('f', p); }, 'BTF_BAD_STRING', /parameter 1 .* has no name/],
    ['a named vararg', (b) => { b.int('int', 4); b.funcProto(1, [{ name: 'a', type: 1 }, { name: 'rest', type: 0 }]); }, 'BTF_BAD_TYPE', /vararg parameter 2 has a name/],
    ['a return type without size', (b) => { b.fwd('f'); b.funcProto(1, []); }, 'BTF_BAD_TYPE_REF', /return type \[1\] \(fwd\) has no size/],
    ['an array indexed by a struct', (b) => { b.struct('s', 0, []); b.int('char', 1); b.array(2, 1, 4); }, 'BTF_BAD_TYPE_REF', /index type \[1\] is not a regular int/],
    ['an array whose size overflows u32', (b) => { b.int('long', 8); b.array(1, 1, 0x40000000); }, 'BTF_BAD_TYPE', /overflows u32/],
    ['a decl_tag on an int', (b) => { b.int('int', 4); b.declTag('t', 1); }, 'BTF_BAD_TYPE_REF', /decl_tag refers to type \[1\] \(int\)/],
    ['a type tag after a const', (b) => { b.int('int', 4); b.typeTag('t', 1); b.const(2); b.typeTag('u', 3); }, 'BTF_BAD_TYPE', /type tags must precede modifiers/],
    ['a const that points at a var', (b) => { b.int('int', 4); b.var('v', 1); b.const(2); }, 'BTF_BAD_TYPE_REF', /referenced type \[2\] is var/],
    ['a kind_flag on an int', (b) => { b.raw(b.str('int'), info(1, 0, true), 4, [32]); }, 'BTF_BAD_TYPE', /kind_flag/],
    ['a struct member that is a 12-bit int, kind_flag set', (b) => { b.int('odd', 2, 12); b.struct('s', 4, [{ name: 'x', type: 1, bitsOffset: 0, bitfieldSize: 4 }], true); }, 'BTF_BAD_MEMBER', /not a regular int/],
  ];
  for (const [what, make, code, message] of refused) {
    it(`refuses ${what}`, async () => {
      const b = new BtfBuilder();
      make(b);
      const err = await errorOf(() => validate(b.build()));
      expect(err.code, err.message).toBe(code);
      expect(err.reason).toMatch(message);
      expect(err.typeId).toBeGreaterThan(0);
    });
  }

  it('accepts tag kind_flag unless told to judge like kernels before 6.14', async () => {
    const b = new BtfBuilder();
    b.int('int', 4);
    b.raw(b.str('attr'), info(18, 0, true), 1);
    const bytes = b.build();
    expect(validate(bytes).types).toBe(2);
    expect((await errorOf(() => validate(bytes, undefined, { tagKindFlag: false }))).code).toBe('BTF_BAD_TYPE');
  });

  it('skipResolve runs only the checks the kernel runs at boot (per-type checks and modifier chains)', () => {
    const b = new BtfBuilder();
    b.int('int', 4);
    b.var('v', 1);
    b.ptr(2); // a pointer to a var: only the resolve pass refuses it
    const bytes = b.build();
    expect(validate(bytes, undefined, { skipResolve: true }).types).toBe(3);
    expect(() => validate(bytes)).toThrow(/referenced type \[2\] is var/);
    // btf_check_type_tags runs at boot too: a typedef cycle is refused without resolving.
    const c = new BtfBuilder();
    c.typedef('a', 2);
    c.typedef('b', 1);
    expect(() => validate(c.build(), undefined, { skipResolve: true })).toThrow(/modifier chain longer than 32 or cyclic/);
  });

  it('lets only BtfErrors out when bytes of a valid blob are flipped', () => {
    const good = sampleBtf();
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    const codes = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const bytes = Uint8Array.from(good);
      for (let f = 1 + rand(3); f > 0; f--) bytes[rand(bytes.length)] ^= 1 << rand(8);
      try {
        validateBtf(Btf.parse(bytes));
      } catch (err) {
        expect(err).toBeInstanceOf(BtfError);
        codes.add((err as BtfError).code);
      }
    }
    expect(codes.size).toBeGreaterThan(5);
  });

  it('guesses a 4-byte pointer from a 4-byte long (32-bit BTF)', () => {
    const b = new BtfBuilder();
    const long = b.int('long int', 4, 32, 1);
    const p = b.ptr(long);
    b.struct('s', 8, [{ name: 'a', type: long, bitsOffset: 0 }, { name: 'p', type: p, bitsOffset: 32 }]);
    expect(validate(b.build()).pointerSize).toBe(4);
  });
});
