import { describe, expect, it } from 'vitest';
import { Btf, BtfError, dumpRawJson } from '@btf-atlas/btf';
import { BtfBuilder, info } from './support/builder.js';

const K = { INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, ENUM: 6, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, ENUM64: 19 } as const;

/** The BtfError dumpRawJson throws for a blob (which Btf.parse accepts: these are libbpf's checks, made at dump). */
function refusal(build: (b: BtfBuilder) => void, both = true): { code: string; message: string } | undefined {
  const b = new BtfBuilder();
  build(b);
  const bytes = b.build();
  const results = [bytes, ...(both ? [b.build({ littleEndian: false })] : [])].map((x) => {
    try {
      dumpRawJson(Btf.parse(x));
      return undefined;
    } catch (err) {
      if (!(err instanceof BtfError)) throw err;
      return { code: err.code, message: err.message };
    }
  });
  // The same verdict in either byte order.
  if (both) expect(results[1]).toEqual(results[0]);
  return results[0];
}

describe('the libbpf checks a dump makes first (btf_sanity_check), as bpftool refuses', () => {
  it('accepts a well-formed blob of every checked kind', () => {
    expect(refusal((b) => {
      const int = b.int('int', 4);
      b.ptr(int);
      b.array(int, int, 4);
      b.struct('s', 8, [{ name: 'a', type: int, bitsOffset: 0 }, { name: 'b', type: int, bitsOffset: 32 }]);
      b.enum('e', 4, [['A', 1]]);
      const proto = b.funcProto(int, [{ name: 'x', type: int }]);
      b.func('f', proto);
      const v = b.var('v', int);
      b.datasec('.data', 4, [{ type: v, offset: 0, size: 4 }]);
    })).toBeUndefined();
  });

  it.each([
    ['a type name offset past the strings', (b: BtfBuilder) => { b.raw(1 << 20, info(K.INT), 4, [32]); }, 'BTF_BAD_STRING', 'type [1]: invalid type name (string offset 1048576)'],
    ['a member name offset past the strings', (b: BtfBuilder) => { const i = b.int('int', 4); b.raw(b.str('s'), info(K.STRUCT, 1), 4, [999_999, i, 0]); }, 'BTF_BAD_STRING', 'type [2]: invalid field name (string offset 999999)'],
    ['a member of a type that does not exist', (b: BtfBuilder) => { b.int('int', 4); b.struct('s', 4, [{ name: 'a', type: 7, bitsOffset: 0 }]); }, 'BTF_BAD_TYPE_REF', 'type [2]: invalid referenced type id 7'],
    ['an array index type that does not exist', (b: BtfBuilder) => { const i = b.int('int', 4); b.array(i, 9, 2); }, 'BTF_BAD_TYPE_REF', 'type [2]: invalid referenced type id 9'],
    ['a pointer to a type that does not exist', (b: BtfBuilder) => { b.ptr(5); }, 'BTF_BAD_TYPE_REF', 'type [1]: invalid referenced type id 5'],
    ['an enumerator name offset past the strings', (b: BtfBuilder) => { b.raw(b.str('e'), info(K.ENUM, 1), 4, [77_777, 1]); }, 'BTF_BAD_STRING', 'type [1]: invalid enum name (string offset 77777)'],
    ['an enum64 value name offset past the strings', (b: BtfBuilder) => { b.raw(b.str('e'), info(K.ENUM64, 1), 8, [77_777, 1, 0]); }, 'BTF_BAD_STRING', 'type [1]: invalid enum name (string offset 77777)'],
    ['a func whose type is not a func_proto', (b: BtfBuilder) => { const i = b.int('int', 4); b.func('f', i); }, 'BTF_BAD_TYPE_REF', 'type [2]: referenced type [1] is not FUNC_PROTO'],
    ['a func_proto parameter of a type that does not exist', (b: BtfBuilder) => { const i = b.int('int', 4); b.funcProto(i, [{ name: 'x', type: 40 }]); }, 'BTF_BAD_TYPE_REF', 'type [2]: invalid referenced type id 40'],
    ['a func_proto parameter name offset past the strings', (b: BtfBuilder) => { const i = b.int('int', 4); b.raw(0, info(K.FUNC_PROTO, 1), i, [88_888, i]); }, 'BTF_BAD_STRING', 'type [2]: invalid param name (string offset 88888)'],
    ['a datasec entry of a type that does not exist', (b: BtfBuilder) => { b.int('int', 4); b.datasec('.data', 4, [{ type: 12, offset: 0, size: 4 }]); }, 'BTF_BAD_TYPE_REF', 'type [2]: invalid referenced type id 12'],
  ])('refuses %s', (_what, build, code, message) => {
    expect(refusal(build)).toEqual({ code, message });
  });

  it('judges a split blob on its base: base types may be referenced, a func may point at a base func_proto', () => {
    const base = new BtfBuilder();
    const int = base.int('int', 4);
    const proto = base.funcProto(int, [{ name: 'x', type: int }]);
    const baseBtf = Btf.parse(base.build());
    const split = new BtfBuilder({ startId: baseBtf.nextId, strBase: baseBtf.strings.endOffset, leadingNul: false });
    split.func('f', proto);
    split.func('g', int);
    const err = (() => {
      try {
        dumpRawJson(Btf.parse(split.build(), { base: baseBtf }));
      } catch (e) {
        return e as BtfError;
      }
      return undefined;
    })();
    expect(err?.message).toBe(`type [${baseBtf.nextId + 1}]: referenced type [1] is not FUNC_PROTO`);
  });
});
