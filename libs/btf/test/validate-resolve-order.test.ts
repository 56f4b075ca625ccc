import { describe, expect, it } from 'vitest';
import { Btf, BtfError, validateBtf, type ValidateOptions } from '@btf-atlas/btf';
import { BtfBuilder, info } from './support/builder.js';

/**
 * Loader parity with kernel/bpf/btf.c: forward references of every kind (the kernel resolves a type when its
 * depth-first walk first reaches it, whatever the id order), the resolve modes, the rules only the resolve pass
 * applies, and kind_flag per kind. Each case states the kernel's verdict; where a kernel selftest
 * (tools/testing/selftests/bpf/prog_tests/btf.c, `raw_tests`) builds the same BTF, its `descr` is quoted in the
 * test name so the verdict can be checked against it.
 */

const K = {
  INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9, CONST: 10, RESTRICT: 11,
  FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19,
} as const;

/** 'valid', or the code of the BtfError the validator throws (parsing must succeed). */
function verdict(bytes: Uint8Array, opts?: ValidateOptions): string {
  const btf = Btf.parse(bytes);
  try {
    validateBtf(btf, opts);
    return 'valid';
  } catch (err) {
    if (err instanceof BtfError) return err.code;
    throw err;
  }
}

function build(make: (b: BtfBuilder) => void): Uint8Array {
  const b = new BtfBuilder();
  make(b);
  return b.build();
}

describe('forward references are resolved when first reached (btf_check_all_types, btf_resolve)', () => {
  const accepted: [string, (b: BtfBuilder) => void][] = [
    ['a DATASEC naming VARs defined after it', (b) => {
      b.datasec('.data', 12, [{ type: 2, offset: 0, size: 4 }, { type: 3, offset: 4, size: 8 }]); // 1
      b.var('a', 4); // 2
      b.var('b', 5); // 3
      b.int('int', 4, 32, 1); // 4
      b.int('long', 8, 64, 1); // 5
    }],
    ['a VAR of a struct defined after it', (b) => {
      b.var('v', 2); // 1
      b.struct('s', 4, [{ name: 'x', type: 3, bitsOffset: 0 }]); // 2
      b.int('int', 4); // 3
    }],
    ['a typedef, a const and a volatile to types defined after them', (b) => {
      b.typedef('t', 2); // 1
      b.const(3); // 2
      b.volatile(4); // 3
      b.int('int', 4); // 4
    }],
    ['a PTR to a struct defined after it', (b) => {
      b.ptr(2); // 1
      b.struct('s', 8, [{ name: 'next', type: 1, bitsOffset: 0 }]); // 2: struct s { struct s *next; }
    }],
    ['a PTR followed by modifiers to a later struct (ptr -> const -> typedef -> struct)', (b) => {
      b.ptr(2); // 1
      b.const(3); // 2
      b.typedef('s_t', 4); // 3
      b.struct('s', 8, [{ name: 'p', type: 1, bitsOffset: 0 }]); // 4
    }],
    ['an ARRAY whose element and index types come after it', (b) => {
      b.array(2, 3, 4); // 1
      b.typedef('u8', 3); // 2
      b.int('unsigned char', 1); // 3
    }],
    ['struct members of types defined after the struct, through typedefs and arrays', (b) => {
      b.struct('outer', 24, [{ name: 'in', type: 2, bitsOffset: 0 }, { name: 'arr', type: 3, bitsOffset: 64 }]); // 1
      b.struct('inner', 8, [{ name: 'p', type: 5, bitsOffset: 0 }]); // 2
      b.typedef('arr_t', 4); // 3
      b.array(6, 6, 4); // 4: int[4]
      b.ptr(1); // 5: struct outer *
      b.int('int', 4); // 6
    }],
    ['a DECL_TAG before the struct member it tags', (b) => {
      b.declTag('tag', 2, 1); // 1
      b.struct('s', 8, [{ name: 'a', type: 3, bitsOffset: 0 }, { name: 'b', type: 3, bitsOffset: 32 }]); // 2
      b.int('int', 4); // 3
    }],
    ['a FUNC before its FUNC_PROTO, which names later parameter and return types', (b) => {
      b.func('f', 2); // 1
      b.funcProto(3, [{ name: 'x', type: 4 }]); // 2
      b.typedef('ret_t', 5); // 3
      b.ptr(5); // 4
      b.int('int', 4); // 5
    }],
    ['"var after datasec": a later VAR through a struct, then one through a later array (each DATASEC visit starts in mode TBD)', (b) => {
      b.datasec('.bss', 40, [{ type: 2, offset: 0, size: 8 }, { type: 3, offset: 8, size: 32 }]); // 1
      b.var('a', 4); // 2
      b.var('b', 5); // 3
      b.struct('s', 8, [{ name: 'p', type: 7, bitsOffset: 0 }]); // 4
      b.typedef('vec_t', 6); // 5
      b.array(7, 8, 4); // 6
      b.ptr(4); // 7
      b.int('long', 8, 64, 1); // 8
    }],
    ['a PTR through a typedef to a FUNC resolved before it (ptr -> typedef -> func, func first)', (b) => {
      b.funcProto(0, []); // 1
      b.func('f', 1); // 2
      b.ptr(4); // 3
      b.typedef('f_t', 2); // 4
    }],
    ['a typedef of a FUNC, walked from the typedef (mode TBD pushes the FUNC)', (b) => {
      b.typedef('f_t', 2); // 1
      b.func('f', 3); // 2
      b.funcProto(0, []); // 3
    }],
    ['a VAR through a const to a later PTR reached while resolving a struct (the VAR continues from the PTR)', (b) => {
      b.struct('s', 8, [{ name: 'c', type: 2, bitsOffset: 0 }]); // 1: in mode STRUCT the const stops at the ptr
      b.const(3); // 2
      b.ptr(1); // 3
      b.var('v', 2); // 4
    }],
  ];
  for (const [what, make] of accepted) {
    it(`accepts ${what}`, () => {
      expect(verdict(build(make))).toBe('valid');
    });
  }

  const refused: [string, (b: BtfBuilder) => void, string][] = [
    ['a PTR through a typedef to a FUNC defined after it (in mode PTR the FUNC is a sink, not yet resolved)', (b) => {
      b.funcProto(0, []); // 1
      b.ptr(3); // 2
      b.typedef('f_t', 4); // 3
      b.func('f', 1); // 4
    }, 'BTF_BAD_TYPE_REF'],
    ['"loop test #1": two arrays of each other', (b) => {
      b.int('int', 4, 32, 1); // 1
      b.array(3, 1, 8); // 2
      b.array(2, 1, 8); // 3
    }, 'BTF_TYPE_LOOP'],
    ['a pointer loop through modifiers (const -> ptr -> const -> ptr)', (b) => {
      b.const(2); // 1
      b.ptr(3); // 2
      b.const(4); // 3
      b.ptr(1); // 4
    }, 'BTF_TYPE_LOOP'],
    ['a pointer loop through a const resolved earlier inside a struct (the PTR continues from the PTR the const stopped at)', (b) => {
      b.struct('s', 8, [{ name: 'm', type: 2, bitsOffset: 0 }]); // 1: in mode STRUCT, const [2] stops at ptr [3]
      b.const(3); // 2
      b.ptr(4); // 3: ptr -> const -> ptr -> const [2] -> ptr [3]
      b.const(5); // 4
      b.ptr(2); // 5
    }, 'BTF_TYPE_LOOP'],
    ['a struct member of a typedef of a FUNC (no size)', (b) => {
      b.funcProto(0, []); // 1
      b.func('f', 1); // 2
      b.typedef('f_t', 2); // 3
      b.struct('s', 8, [{ name: 'm', type: 3, bitsOffset: 0 }]); // 4
    }, 'BTF_BAD_MEMBER'],
    ['a DATASEC entry that is not a VAR', (b) => {
      b.datasec('.data', 4, [{ type: 2, offset: 0, size: 4 }]); // 1
      b.int('int', 4); // 2
    }, 'BTF_BAD_TYPE_REF'],
    ['a DECL_TAG whose target id is past the last type', (b) => {
      b.int('int', 4);
      b.declTag('tag', 0x100000);
    }, 'BTF_BAD_TYPE_REF'],
  ];
  for (const [what, make, code] of refused) {
    it(`refuses ${what}`, () => {
      expect(verdict(build(make))).toBe(code);
    });
  }
});

describe('btf_func_proto_check', () => {
  it('refuses a FUNC_PROTO returning a VAR (resolve-source-only kinds are no return type)', () => {
    expect(verdict(build((b) => {
      b.int('int', 4); // 1
      b.var('v', 1); // 2
      b.funcProto(2, []); // 3
    }))).toBe('BTF_BAD_TYPE_REF');
  });
  it('refuses a FUNC_PROTO returning a DATASEC', () => {
    expect(verdict(build((b) => {
      b.int('int', 4); // 1
      b.var('v', 1); // 2
      b.datasec('.data', 4, [{ type: 2, offset: 0, size: 4 }]); // 3
      b.funcProto(3, []); // 4
    }))).toBe('BTF_BAD_TYPE_REF');
  });
  it('refuses a FUNC_PROTO parameter of kind VAR or DATASEC', () => {
    for (const param of [2, 3]) {
      expect(verdict(build((b) => {
        b.int('int', 4); // 1
        b.var('v', 1); // 2
        b.datasec('.data', 4, [{ type: 2, offset: 0, size: 4 }]); // 3
        b.funcProto(1, [{ name: 'x', type: param }]); // 4
      }))).toBe('BTF_BAD_TYPE_REF');
    }
  });
  it('accepts a vararg only as the last parameter', () => {
    expect(verdict(build((b) => { b.int('int', 4); b.funcProto(1, [{ name: 'a', type: 1 }, { type: 0 }]); }))).toBe('valid');
    expect(verdict(build((b) => { b.int('int', 4); b.funcProto(1, [{ type: 0 }, { name: 'a', type: 1 }]); }))).toBe('BTF_BAD_TYPE_REF');
  });
});

describe('kind_flag, per kind (each check_meta)', () => {
  /** A BTF with an int [1] and one record of `kind` with kind_flag set, otherwise valid. */
  const withKflag: [string, number, (b: BtfBuilder) => void, string][] = [
    ['"invalid int kind_flag"', K.INT, (b) => { b.raw(0, info(K.INT, 0, true), 4, [32]); }, 'BTF_BAD_TYPE'],
    ['"invalid ptr kind_flag"', K.PTR, (b) => { b.raw(0, info(K.PTR, 0, true), 1); }, 'BTF_BAD_TYPE'],
    ['"invalid array kind_flag"', K.ARRAY, (b) => { b.raw(0, info(K.ARRAY, 0, true), 0, [1, 1, 1]); }, 'BTF_BAD_TYPE'],
    ['"valid struct, kind_flag, bitfield_size = 0"', K.STRUCT, (b) => { b.struct('s', 8, [{ name: 'a', type: 1, bitsOffset: 0 }, { name: 'b', type: 1, bitsOffset: 32 }], true); }, 'valid'],
    ['"valid union, kind_flag, int member, bitfield_size != 0"', K.UNION, (b) => { b.union('u', 4, [{ name: 'a', type: 1, bitsOffset: 0, bitfieldSize: 4 }, { name: 'b', type: 1, bitsOffset: 0, bitfieldSize: 4 }], true); }, 'valid'],
    ['a signed enum', K.ENUM, (b) => { b.enum('e', 4, [['A', -1 >>> 0]], true); }, 'valid'],
    ['a signed enum64', K.ENUM64, (b) => { b.enum64('e', 8, [['A', -1n]], true); }, 'valid'],
    ['"valid fwd kind_flag" (a union forward)', K.FWD, (b) => { b.fwd('A', true); }, 'valid'],
    ['"invalid typedef kind_flag"', K.TYPEDEF, (b) => { b.raw(b.str('A'), info(K.TYPEDEF, 0, true), 1); }, 'BTF_BAD_TYPE'],
    ['"invalid volatile kind_flag"', K.VOLATILE, (b) => { b.raw(0, info(K.VOLATILE, 0, true), 1); }, 'BTF_BAD_TYPE'],
    ['"invalid const kind_flag"', K.CONST, (b) => { b.raw(0, info(K.CONST, 0, true), 1); }, 'BTF_BAD_TYPE'],
    ['"invalid restrict kind_flag"', K.RESTRICT, (b) => { b.raw(0, info(K.RESTRICT, 0, true), 1); }, 'BTF_BAD_TYPE'],
    ['"invalid func kind_flag"', K.FUNC, (b) => { b.funcProto(0, []); b.raw(b.str('A'), info(K.FUNC, 0, true), 2); }, 'BTF_BAD_TYPE'],
    ['"invalid func_proto kind_flag"', K.FUNC_PROTO, (b) => { b.raw(0, info(K.FUNC_PROTO, 0, true), 0); }, 'BTF_BAD_TYPE'],
    ['a var', K.VAR, (b) => { b.raw(b.str('v'), info(K.VAR, 0, true), 1, [1]); }, 'BTF_BAD_TYPE'],
    ['a datasec', K.DATASEC, (b) => { const v = b.var('v', 1); b.raw(b.str('.data'), info(K.DATASEC, 1, true), 4, [v, 0, 4]); }, 'BTF_BAD_TYPE'],
    ['a float', K.FLOAT, (b) => { b.raw(b.str('double'), info(K.FLOAT, 0, true), 8); }, 'BTF_BAD_TYPE'],
    ['"decl_tag test #8, tag with kflag" (an attribute, 6.14+)', K.DECL_TAG, (b) => { const v = b.var('local', 1, 0); b.raw(b.str('tag1'), info(K.DECL_TAG, 0, true), v, [-1 >>> 0]); }, 'valid'],
    ['"type_tag test #7, tag with kflag" (an attribute, 6.14+)', K.TYPE_TAG, (b) => { b.raw(b.str('tag'), info(K.TYPE_TAG, 0, true), 1); b.ptr(2); }, 'valid'],
  ];
  it('covers every kind', () => {
    expect(new Set(withKflag.map(([, kind]) => kind)).size).toBe(19);
  });
  for (const [what, , make, code] of withKflag) {
    it(`${what}: ${code === 'valid' ? 'accepted' : 'refused'}`, () => {
      expect(verdict(build((b) => { b.int('int', 4, 32, 1); make(b); }))).toBe(code);
    });
  }

  it('tagKindFlag: false judges as kernels before 6.14 ("decl_tag test #8, invalid kflag"; type tags likewise)', () => {
    const decl = build((b) => { b.int('int', 4, 32, 1); const v = b.var('local', 1, 0); b.raw(b.str('tag1'), info(K.DECL_TAG, 0, true), v, [-1 >>> 0]); });
    const type = build((b) => { b.int('int', 4, 32, 1); b.raw(b.str('tag'), info(K.TYPE_TAG, 0, true), 1); b.ptr(2); });
    expect(verdict(decl, { tagKindFlag: false })).toBe('BTF_BAD_TYPE');
    expect(verdict(type, { tagKindFlag: false })).toBe('BTF_BAD_TYPE');
    expect(verdict(decl, { tagKindFlag: true })).toBe('valid');
  });

  it('a kind_flag struct member bitfield on a pointer is refused (btf_generic_check_kflag_member)', () => {
    expect(verdict(build((b) => {
      b.int('int', 4); // 1
      b.ptr(1); // 2
      b.struct('s', 8, [{ name: 'p', type: 2, bitsOffset: 0, bitfieldSize: 8 }], true); // 3
    }))).toBe('BTF_BAD_MEMBER');
  });
});

describe('type tags and modifier chains (btf_check_type_tags)', () => {
  it('refuses "type_tag test #2, type tag order" (a const before a type tag)', () => {
    expect(verdict(build((b) => { b.int('int', 4, 32, 1); b.const(3); b.typeTag('tag', 1); }))).toBe('BTF_BAD_TYPE');
  });
  it('refuses "type_tag test #3, type tag order" (tag -> const -> tag)', () => {
    expect(verdict(build((b) => { b.int('int', 4, 32, 1); b.typeTag('tag', 3); b.const(4); b.typeTag('tag', 1); }))).toBe('BTF_BAD_TYPE');
  });
  it('accepts type tags before other modifiers (ptr -> tag -> tag -> const -> int)', () => {
    expect(verdict(build((b) => { b.int('int', 4, 32, 1); b.ptr(3); b.typeTag('a', 4); b.typeTag('b', 5); b.const(1); }))).toBe('valid');
  });
  it('refuses a cyclic modifier chain at boot too (skipResolve)', () => {
    expect(verdict(build((b) => { b.typedef('a', 2); b.typedef('b', 1); }), { skipResolve: true })).toBe('BTF_TYPE_LOOP');
  });
});

describe('header, string and layout sections (btf_parse_hdr, btf_check_sec_info, btf_parse_str_sec, btf_parse_layout_sec)', () => {
  const small = (): BtfBuilder => {
    const b = new BtfBuilder();
    b.int('int', 4, 32, 1);
    b.ptr(1);
    return b;
  };

  it('accepts a 28-byte header whatever its last 4 bytes hold (the kernel copies them and uses nothing)', () => {
    const bytes = small().build({ hdrLen: 28 });
    bytes.set([1, 2, 3, 4], 24);
    expect(verdict(bytes)).toBe('valid');
  });

  it('accepts a 32-byte header with layout_len 0 whatever layout_off holds (no layout section)', () => {
    const bytes = small().build({ hdrLen: 32 });
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(24, 12345, true);
    expect(verdict(bytes)).toBe('valid');
  });

  /**
   * A blob with a 32-byte header and a layout section of `entries` 4-byte entries right after the string
   * section, which is padded with NULs to a multiple of 4 (the layout offset must be aligned, with no gap).
   */
  function withLayout(entries: number, layoutOffDelta = 0): Uint8Array {
    const b = small();
    const strLen = b.stringSection().length;
    b.rawStrings(new Uint8Array((4 - (strLen % 4)) % 4));
    const base = b.build({ hdrLen: 32 });
    const out = new Uint8Array(base.length + 4 * entries);
    out.set(base);
    const dv = new DataView(out.buffer);
    const dataLen = base.length - 32;
    dv.setUint32(24, dataLen + layoutOffDelta, true);
    dv.setUint32(28, 4 * entries, true);
    for (let k = 0; k < entries; k++) dv.setUint8(base.length + 4 * k, k === 1 ? 4 : 0); // INT carries 4 bytes
    return out;
  }

  it('accepts a layout section after the string section (the string section need not end the blob then)', () => {
    expect(verdict(withLayout(20))).toBe('valid');
  });

  it('refuses a layout section at an offset that is not 4-byte aligned', () => {
    const b = small();
    if (b.stringSection().length % 4 === 0) b.rawStrings(new Uint8Array([0]));
    const base = b.build({ hdrLen: 32 });
    const bytes = new Uint8Array(base.length + 80);
    bytes.set(base);
    const dv = new DataView(bytes.buffer);
    dv.setUint32(24, base.length - 32, true);
    dv.setUint32(28, 80, true);
    expect(verdict(bytes)).toBe('BTF_BAD_SECTION');
  });

  it('refuses a layout section that leaves a gap (the sections must tile the data)', () => {
    const bytes = withLayout(20);
    const dv = new DataView(bytes.buffer);
    dv.setUint32(28, 4 * 19, true); // one entry short: 4 bytes of unknown data at the end
    expect(verdict(bytes)).toBe('BTF_BAD_SECTION');
  });

  it('refuses a string section that does not end the blob with a short header', () => {
    const bytes = small().build({ trailing: 4 });
    expect(() => validateBtf(Btf.parse(bytes))).toThrow(BtfError);
  });
});

describe('limits', () => {
  it(`refuses a base BTF with ${0xfffff} types (btf_add_type: BTF_MAX_TYPE entries, void included)`, () => {
    const count = 0xfffff;
    const words = new Uint32Array(3 * count);
    const ptr = info(K.PTR);
    for (let i = 0; i < count; i++) words[3 * i + 1] = ptr; // PTR to void
    const strs = 1;
    const bytes = new Uint8Array(24 + words.byteLength + strs);
    const dv = new DataView(bytes.buffer);
    dv.setUint16(0, 0xeb9f, true);
    bytes[2] = 1;
    dv.setUint32(4, 24, true);
    dv.setUint32(8, 0, true);
    dv.setUint32(12, words.byteLength, true);
    dv.setUint32(16, words.byteLength, true);
    dv.setUint32(20, strs, true);
    bytes.set(new Uint8Array(words.buffer), 24);
    expect(verdict(bytes)).toBe('BTF_LIMIT_EXCEEDED');
    // One type fewer is accepted.
    dv.setUint32(12, words.byteLength - 12, true);
    dv.setUint32(16, words.byteLength - 12, true);
    const fewer = new Uint8Array(bytes.length - 12);
    fewer.set(bytes.subarray(0, 24 + words.byteLength - 12));
    fewer[fewer.length - 1] = 0;
    expect(verdict(fewer, { skipResolve: true })).toBe('valid');
  }, 60_000);
});
