import { beforeAll, describe, expect, it } from 'vitest';
import { Btf, BtfError, paholeByName, paholeByNames, paholeDefinitions, paholeType } from '@btf-atlas/btf';
import { BtfBuilder } from './support/builder.js';
import { corpusFile, corpusKernels, corpusOracle, firstDifference, loadKernel, type CorpusKernel } from './support/corpus.js';

// Format (c) of the corpus README: `pahole -F btf -C NAME KREL.btf` (pahole v1.30) for five structs of every
// kernel, each section headed by a `### pahole …` line. Our text must equal pahole's stdout byte for byte.

interface OracleSection {
  name: string;
  text: string;
}

/**
 * The sections of a `.pahole.txt` oracle. Each holds pahole's stdout (ending in `};\n\n`); the file joins them
 * with one more newline, which is not part of any output.
 */
function oracleSections(file: string): OracleSection[] {
  const header = /^### pahole v[\d.]+ -F btf -C (\S+) \S+ +\(exit 0, \d+ stderr lines dropped\)\n/gm;
  const heads = [...file.matchAll(header)];
  expect(heads.length).toBeGreaterThan(0);
  expect(heads[0].index).toBe(0);
  return heads.map((h, i) => {
    const start = (h.index ?? 0) + h[0].length;
    const end = i + 1 < heads.length ? heads[i + 1].index ?? file.length : file.length;
    let text = file.slice(start, end);
    if (i + 1 < heads.length) {
      expect(text.endsWith('\n\n\n')).toBe(true);
      text = text.slice(0, -1);
    }
    return { name: h[1], text };
  });
}

const kernels = corpusKernels();

describe('pahole -C text (corpus oracles, pahole v1.30)', () => {
  it('covers the four corpus kernels', () => {
    expect(kernels.map((k) => k.kernelRelease).sort()).toEqual(['6.1.0-47-amd64', '6.1.0-50-amd64', '6.1.0-50-arm64', '6.12.117+deb13-amd64']);
  });

  describe.each(kernels.map((k) => [k.kernelRelease, k] as [string, CorpusKernel]))('%s', (_name, kernel) => {
    let btf: Btf;
    let sections: OracleSection[];

    beforeAll(async () => {
      btf = await loadKernel(kernel);
      sections = oracleSections(Buffer.from(corpusFile(`${kernel.oraclePrefix}.pahole.txt`)).toString('utf8'));
    });

    it('prints every oracle struct byte for byte', () => {
      expect(sections.map((s) => s.name)).toEqual(['pt_regs', 'task_struct', 'sk_buff', 'file', 'inode']);
      for (const s of sections) {
        const got = paholeByName(btf, s.name);
        const diff = firstDifference(Buffer.from(got), Buffer.from(s.text));
        expect(diff, `${kernel.kernelRelease} ${s.name}: ${diff}`).toBeUndefined();
      }
    });

    it('prints the same when all five come from one run (pahole -C a,b,c)', () => {
      expect(paholeByNames(btf, sections.map((s) => s.name))).toBe(sections.map((s) => s.text).join(''));
    });
  });
});

// Format (b): the flattened member offsets of every named struct/union. Every `/* offset size */` comment pahole
// prints (nested anonymous members included; pahole prints them at absolute offsets) must give the oracle's
// bits_offset, in the oracle's order: a byte offset for plain members, storage-unit byte offset * 8 plus the bit
// number for bitfields.

interface OracleMember {
  name: string;
  bits_offset: number;
  bitfield_size: number;
}

interface OracleStruct {
  id: number;
  kind: 'struct' | 'union';
  name: string;
  size: number;
  members: OracleMember[];
}

interface PrintedMember {
  name: string;
  bitsOffset: number;
  bitfieldSize: number;
}

/** `__attribute__((…))` suffixes, one level of inner parentheses. */
const ATTRIBUTE = /\s*__attribute__\(\((?:[^()]|\([^()]*\))*\)\)/g;
/** A member comment: `/* OFFSET SIZE *\/` or, for a bitfield, `/* OFFSET:BIT SIZE *\/`. */
const OFFSET_COMMENT = /\/\*\s+(\d+)(?::\s*(\d+))?\s+\d+ \*\/$/;

/** The declared name in a member declaration (without `;`), or undefined for an unnamed member. */
function declaredName(decl: string): { name?: string; bitfieldSize: number } {
  let d = decl.replace(ATTRIBUTE, '').trim();
  let bitfieldSize = 0;
  const bf = /\s*:(\d+)$/.exec(d);
  if (bf) {
    bitfieldSize = Number(bf[1]);
    d = d.slice(0, bf.index);
  }
  const fn = /\(\*\s*(\w+)\)\s*\(/.exec(d);
  if (fn) return { name: fn[1], bitfieldSize };
  d = d.replace(/(\[\d*\])+$/, '');
  const m = /(?:^|[\s*])(\w+)$/.exec(d);
  return { name: m && !/^(struct|union|enum)$/.test(m[1]) ? m[1] : undefined, bitfieldSize };
}

/**
 * The flattened members of pahole's text for one struct/union, as format (b) lists them: a nested type without a
 * member name contributes its own members in its place; a named one (`} headers;`) is one member.
 */
function printedMembers(text: string): { kind: string; name: string; size?: number; members: PrintedMember[] } {
  const lines = text.split('\n');
  const head = /^(struct|union) (\S+) \{$/.exec(lines[0]);
  if (!head) throw new Error(`unexpected first line ${JSON.stringify(lines[0])}`);
  const stack: PrintedMember[][] = [[]];
  let size: number | undefined;
  for (const line of lines.slice(1)) {
    const s = line.trim();
    const sizeLine = /^\/\* size: (\d+), cachelines/.exec(s);
    if (sizeLine && stack.length === 1) size = Number(sizeLine[1]);
    if (s === '' || s.startsWith('/*')) continue;
    if (s.endsWith('{')) {
      stack.push([]);
      continue;
    }
    const comment = OFFSET_COMMENT.exec(s);
    if (s.startsWith('}')) {
      if (stack.length === 1) break;
      const inner = stack.pop() as PrintedMember[];
      if (!comment) throw new Error(`nested type closed without an offset: ${JSON.stringify(line)}`);
      const decl = s.slice(1, s.lastIndexOf(';', comment.index));
      const { name, bitfieldSize } = declaredName(decl.replace(/^\s*\*\s*/, ''));
      if (name) stack[stack.length - 1].push({ name, bitsOffset: Number(comment[1]) * 8 + Number(comment[2] ?? 0), bitfieldSize });
      else stack[stack.length - 1].push(...inner);
      continue;
    }
    if (!comment) continue; // enumerators, `unsigned int :0;` alignment fillers
    const { name, bitfieldSize } = declaredName(s.slice(0, s.lastIndexOf(';', comment.index)));
    if (!name) continue;
    stack[stack.length - 1].push({ name, bitsOffset: Number(comment[1]) * 8 + Number(comment[2] ?? 0), bitfieldSize });
  }
  return { kind: head[1], name: head[2], size, members: stack[0] };
}

describe('pahole member offsets agree with the flattened-field oracle (every named struct/union)', () => {
  const kernel = kernels.find((k) => k.kernelRelease === '6.1.0-50-amd64') as CorpusKernel;
  let btf: Btf;
  let structs: OracleStruct[];

  beforeAll(async () => {
    btf = await loadKernel(kernel);
    const fields = JSON.parse(Buffer.from(await corpusOracle(`${kernel.oraclePrefix}.fields.json.xz`)).toString('utf8')) as { structs: OracleStruct[] };
    structs = fields.structs;
  });

  it('parses the oracle structs of sk_buff the way the test expects (guards the parser)', () => {
    const skb = structs.find((s) => s.name === 'sk_buff') as OracleStruct;
    const printed = printedMembers(paholeType(btf, skb.id));
    expect(printed.members.map((m) => m.name)).toContain('headers');
    expect(printed.members.find((m) => m.name === 'pkt_type')).toEqual({ name: 'pkt_type', bitsOffset: 128 * 8, bitfieldSize: 3 });
    expect(printed.members.find((m) => m.name === 'ooo_okay')).toEqual({ name: 'ooo_okay', bitsOffset: 128 * 8 + 7, bitfieldSize: 1 });
  });

  it('every printed offset is the oracle offset, in bits, member by member', () => {
    expect(structs.length).toBeGreaterThan(7000);
    let compared = 0;
    let bitfields = 0;
    const failures: string[] = [];
    for (const s of structs) {
      const printed = printedMembers(paholeType(btf, s.id));
      const want = s.members.map((m) => ({ name: m.name, bitsOffset: m.bits_offset, bitfieldSize: m.bitfield_size }));
      if (printed.kind !== s.kind || printed.name !== s.name || (s.kind === 'struct' && printed.size !== s.size)) {
        failures.push(`${s.kind} ${s.name} [${s.id}]: header says ${printed.kind} ${printed.name} size ${printed.size}`);
      }
      try {
        expect(printed.members).toEqual(want);
      } catch {
        const i = printed.members.findIndex((m, j) => JSON.stringify(m) !== JSON.stringify(want[j]));
        failures.push(`${s.kind} ${s.name} [${s.id}] member ${i}: printed ${JSON.stringify(printed.members[i])}, oracle ${JSON.stringify(want[i])}`);
      }
      compared += want.length;
      bitfields += want.filter((m) => m.bitfieldSize !== 0).length;
    }
    expect(failures.slice(0, 10)).toEqual([]);
    expect(compared).toBeGreaterThan(50_000);
    expect(bitfields).toBeGreaterThan(1000);
  });
});

describe('pahole lookup by name', () => {
  let btf: Btf;
  beforeAll(async () => {
    btf = await loadKernel(kernels.find((k) => k.kernelRelease === '6.1.0-50-amd64') as CorpusKernel);
  });

  it('prints only the first of several definitions, as pahole -C does, and every one with `all`', () => {
    // BTF defines `struct slot` three times (three drivers); pahole prints the first in type-id order.
    const ids = paholeDefinitions(btf, 'slot');
    expect(ids.length).toBeGreaterThan(1);
    expect(paholeByName(btf, 'slot')).toBe(paholeType(btf, ids[0]));
    expect(paholeByName(btf, 'slot', { all: true })).toBe(ids.map((id) => paholeType(btf, id)).join(''));
  });

  it('finds typedefs and enums like pahole, and kinds can be narrowed', () => {
    expect(paholeByName(btf, 'u32')).toBe('typedef __u32 u32;\n\n');
    const both = paholeDefinitions(btf, 'irte');
    expect(both.map((id) => btf.kindNameOf(id))).toEqual(['STRUCT', 'UNION']);
    expect(paholeByName(btf, 'irte', { kinds: ['union'] })).toBe(paholeType(btf, both[1]));
    expect(paholeByName(btf, 'irte', { kinds: ['union'] }).startsWith('union irte {\n')).toBe(true);
  });

  it('prints nothing for a name BTF does not define', () => {
    expect(paholeByName(btf, 'no_such_struct_anywhere')).toBe('');
    expect(paholeDefinitions(btf, 'no_such_struct_anywhere')).toEqual([]);
  });
});

describe('pahole on small and hostile BTF', () => {
  it('prints holes, bitfields and padding of a hand-made struct', () => {
    const b = new BtfBuilder();
    const int = b.int('int', 4, 32, 1);
    const char = b.int('char', 1, 8, 2);
    const uint = b.int('unsigned int', 4);
    const ulong = b.int('long unsigned int', 8);
    b.struct('demo', 24, [
      { name: 'c', type: char, bitsOffset: 0 },
      { name: 'i', type: int, bitsOffset: 32 },
      { name: 'a', type: uint, bitsOffset: 64, bitfieldSize: 3 },
      { name: 'b', type: uint, bitsOffset: 67, bitfieldSize: 5 },
      { name: 'l', type: ulong, bitsOffset: 128 },
    ], true);
    const btf = Btf.parse(b.build());
    expect(paholeByName(btf, 'demo')).toBe([
      'struct demo {',
      '\tchar                       c;                    /*     0     1 */',
      '',
      '\t/* XXX 3 bytes hole, try to pack */',
      '',
      '\tint                        i;                    /*     4     4 */',
      '\tunsigned int               a:3;                  /*     8: 0  4 */',
      '\tunsigned int               b:5;                  /*     8: 3  4 */',
      '',
      '\t/* XXX 24 bits hole, try to pack */',
      '\t/* XXX 4 bytes hole, try to pack */',
      '',
      '\tlong unsigned int          l;                    /*    16     8 */',
      '',
      '\t/* size: 24, cachelines: 1, members: 5 */',
      '\t/* sum members: 13, holes: 2, sum holes: 7 */',
      '\t/* sum bitfield members: 8 bits, bit holes: 1, sum bit holes: 24 bits */',
      '\t/* last cacheline: 24 bytes */',
      '};',
      '',
      '',
    ].join('\n'));
  });

  it('prints what pahole v1.30 prints for members of many kinds (text recorded from pahole -F btf -C on this BTF)', () => {
    const b = new BtfBuilder();
    const int = b.int('int', 4, 32, 1);
    const char = b.int('char', 1, 8, 2);
    const u16 = b.int('short unsigned int', 2);
    const ulong = b.int('long unsigned int', 8);
    const boolT = b.int('_Bool', 1, 8, 4);
    const pcchar = b.ptr(b.const(char));
    const matrix = b.array(b.array(int, int, 3), int, 2); // BTF for int[2][3]: pahole writes m[3][2]
    const fptr = b.ptr(b.funcProto(int, [{ type: pcchar }, { type: 0 }]));
    const smallEnum = b.enum(undefined, 1, [['E_A', 0], ['E_LONGER', 200]]);
    const inner = b.struct('inner', 5, [{ name: 'x', type: int, bitsOffset: 0 }, { name: 'y', type: char, bitsOffset: 32 }]);
    const rcuPtr = b.ptr(b.typeTag('rcu', inner));
    const anonUnion = b.union(undefined, 8, [{ name: 'u', type: ulong, bitsOffset: 0 }, { name: 'h', type: u16, bitsOffset: 0 }]);
    const flex = b.array(char, int, 0);
    const vol = b.volatile(int);
    const constPtr = b.const(b.ptr(char));
    const fnType = b.typedef('my_fn_t', fptr);
    b.struct('zoo', 128, [
      { name: 'flag', type: boolT, bitsOffset: 0 },
      { name: 's', type: pcchar, bitsOffset: 64 },
      { name: 'm', type: matrix, bitsOffset: 128 },
      { name: 'fn', type: fptr, bitsOffset: 320 },
      { name: 'kind', type: smallEnum, bitsOffset: 384 },
      { name: 'in', type: inner, bitsOffset: 392 },
      { name: 'rp', type: rcuPtr, bitsOffset: 448 },
      { type: anonUnion, bitsOffset: 512 },
      { name: 'v', type: vol, bitsOffset: 576 },
      { name: 'cp', type: constPtr, bitsOffset: 640 },
      { name: 'cb', type: fnType, bitsOffset: 704 },
      { name: 'aligned', type: ulong, bitsOffset: 768 },
      { name: 'tail', type: flex, bitsOffset: 832 },
    ]);
    b.typedef('zoo_anon_t', b.struct(undefined, 4, [{ name: 'a', type: u16, bitsOffset: 0 }, { name: 'b', type: u16, bitsOffset: 16 }]));
    const btf = Btf.parse(b.build());
    const got = ['zoo', 'inner', 'zoo_anon_t', 'my_fn_t'].map((n) => paholeByName(btf, n)).join('');
    expect(got).toBe([
      "struct zoo {",
      "\t_Bool                      flag;                 /*     0     1 */",
      "",
      "\t/* XXX 7 bytes hole, try to pack */",
      "",
      "\tconst char  *              s;                    /*     8     8 */",
      "\tint                        m[3][2];              /*    16    24 */",
      "\tint                        (*fn)(const char  *, ...); /*    40     8 */",
      "\tenum {",
      "\t\tE_A      = 0,",
      "\t\tE_LONGER = 200,",
      "\t} __attribute__((__packed__)) kind;                                          /*    48     1 */",
      "\tstruct inner               in;                   /*    49     5 */",
      "",
      "\t/* XXX 2 bytes hole, try to pack */",
      "",
      "\tstruct inner *             rp;                   /*    56     8 */",
      "\t/* --- cacheline 1 boundary (64 bytes) --- */",
      "\tunion {",
      "\t\tlong unsigned int  u;                    /*    64     8 */",
      "\t\tshort unsigned int h;                    /*    64     2 */",
      "\t};                                               /*    64     8 */",
      "\tvolatile int               v;                    /*    72     4 */",
      "",
      "\t/* XXX 4 bytes hole, try to pack */",
      "",
      "\tconst char *               cp;                   /*    80     8 */",
      "\tmy_fn_t                    cb;                   /*    88     8 */",
      "\tlong unsigned int          aligned;              /*    96     8 */",
      "\tchar                       tail[];               /*   104     0 */",
      "",
      "\t/* size: 128, cachelines: 2, members: 13 */",
      "\t/* sum members: 91, holes: 3, sum holes: 13 */",
      "\t/* padding: 24 */",
      "} __attribute__((__aligned__(64)));",
      "",
      "struct inner {",
      "\tint                        x;                    /*     0     4 */",
      "\tchar                       y;                    /*     4     1 */",
      "",
      "\t/* size: 5, cachelines: 1, members: 2 */",
      "\t/* last cacheline: 5 bytes */",
      "} __attribute__((__packed__));",
      "",
      "typedef struct {",
      "\tshort unsigned int a;                    /*     0     2 */",
      "\tshort unsigned int b;                    /*     2     2 */",
      "",
      "\t/* size: 4, cachelines: 1, members: 2 */",
      "\t/* last cacheline: 4 bytes */",
      "} zoo_anon_t;",
      "",
      "typedef int (*my_fn_t)(const char  *, ...);",
      "",
      "",
    ].join('\n'));
  });

  it('refuses a typedef cycle with BTF_TYPE_LOOP instead of overflowing the stack', () => {
    const b = new BtfBuilder();
    const int = b.int('int', 4, 32, 1);
    // [2] typedef loop_a -> [3] typedef loop_b -> [2]
    b.typedef('loop_a', 3);
    b.typedef('loop_b', 2);
    b.struct('holder', 8, [{ name: 'x', type: 2, bitsOffset: 0 }, { name: 'y', type: int, bitsOffset: 32 }]);
    const btf = Btf.parse(b.build());
    expect(() => paholeByName(btf, 'holder')).toThrow(BtfError);
    try {
      paholeByName(btf, 'holder');
    } catch (e) {
      expect((e as BtfError).code).toBe('BTF_TYPE_LOOP');
    }
  });

  it('refuses ids that are not a struct, union, enum or typedef', () => {
    const b = new BtfBuilder();
    const int = b.int('int', 4, 32, 1);
    const btf = Btf.parse(b.build());
    expect(() => paholeType(btf, int)).toThrow(BtfError);
    expect(() => paholeType(btf, 99)).toThrow(BtfError);
  });
});
