import { describe, expect, it } from 'vitest';
import { Btf, dumpC } from '@btf-atlas/btf';
import { BtfBuilder, info } from './support/builder.js';

/** struct arena_ref { void TAG *p; int __tag *q; } with an attribute tag (kind_flag) and a plain type tag. */
function taggedBtf(): Btf {
  const b = new BtfBuilder();
  const int = b.int('int', 4, 32, 1); // 1
  const attr = b.raw(b.str('address_space(1)'), info(18, 0, true), 0); // 2: TYPE_TAG, kind_flag, on void
  const p = b.ptr(attr); // 3
  const rcu = b.typeTag('rcu', int); // 4
  const q = b.ptr(rcu); // 5
  b.struct('arena_ref', 16, [{ name: 'p', type: p, bitsOffset: 0 }, { name: 'q', type: q, bitsOffset: 64 }]);
  return Btf.parse(b.build());
}

describe('vmlinux.h: type tags', () => {
  it('spells an attribute tag (kind_flag) as bpftool 7.5 does by default: btf_type_tag("…")', () => {
    const h = dumpC(taggedBtf());
    expect(h).toContain('\tvoid __attribute__((btf_type_tag("address_space(1)"))) *p;\n');
    expect(h).toContain('\tint __attribute__((btf_type_tag("rcu"))) *q;\n');
    expect(h).not.toContain('__attribute__((address_space(1)))');
  });

  it('spells it as the attribute itself (libbpf 1.6+) with typeTagAttributes', () => {
    const h = dumpC(taggedBtf(), { typeTagAttributes: true });
    expect(h).toContain('\tvoid __attribute__((address_space(1))) *p;\n');
    // a tag without kind_flag stays a btf_type_tag either way
    expect(h).toContain('\tint __attribute__((btf_type_tag("rcu"))) *q;\n');
  });
});
