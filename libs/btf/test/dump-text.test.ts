import { describe, expect, it } from 'vitest';
import { Btf, dumpRawText, unxz } from '@btf-atlas/btf';
import { sampleBtf } from './support/builder.js';
import { corpusFile, corpusKernels, firstDifference, loadKernel } from './support/corpus.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CORPUS_DIR } from './support/corpus.js';

const TEXT_DIR = join(CORPUS_DIR, '../bpftool-text');

// `btf-atlas dump FILE` without --json prints bpftool's plain text, byte for byte.
describe('dumpRawText equals `bpftool btf dump file` on the corpus modules', () => {
  for (const k of corpusKernels().filter((x) => x.modules.length > 0)) {
    for (const m of k.modules) {
      it(`${m.archive}`, async () => {
        const base = await loadKernel(k);
        const btf = Btf.parse(corpusFile(m.archive), { base });
        const want = await unxz(readFileSync(join(TEXT_DIR, `${k.kernelRelease}-${m.name}.txt.xz`)));
        const diff = firstDifference(dumpRawText(btf), want);
        expect(diff, diff).toBeUndefined();
      });
    }
  }

  it('spells every kind as bpftool does', () => {
    const text = Buffer.from(dumpRawText(Btf.parse(sampleBtf()))).toString('latin1');
    expect(text).toMatch(/^\[1\] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED$/m);
    expect(text).toMatch(/^\t'mode' type_id=2 bits_offset=67 bitfield_size=5$/m);
    expect(text).toMatch(/^\[\d+\] TYPE_TAG 'rcu' type_id=5$/m);
    expect(text).toMatch(/^\t'BLUE' val=-1$/m);
    expect(text).toMatch(/^\t'HUGE' val=1099511627776ULL$/m);
    expect(text).toMatch(/^\[\d+\] VAR 'counter' type_id=1, linkage=global$/m);
    expect(text).toMatch(/^\ttype_id=\d+ offset=0 size=4 \(VAR 'counter'\)$/m);
    expect(text).toMatch(/^\[\d+\] DECL_TAG 'arg' type_id=\d+ component_idx=0$/m);
    expect(text).toMatch(/^\[\d+\] FWD 'opaque' fwd_kind=struct$/m);
    expect(text.endsWith('\n')).toBe(true);
  });
});
