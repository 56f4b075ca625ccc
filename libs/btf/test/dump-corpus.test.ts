import { describe, expect, it } from 'vitest';
import { dumpRawJson, writeRawJson } from '@btf-atlas/btf';
import { corpusKernels, corpusOracle, firstDifference, loadKernel, loadModule } from './support/corpus.js';

// `btf-atlas dump --json` must print exactly what `bpftool -j btf dump file … format raw` printed for every
// corpus file: vmlinux BTF of every kernel, and module BTF read on its kernel (bpftool -B).
describe('dumpRawJson equals bpftool 7.5 on every corpus blob', () => {
  for (const k of corpusKernels()) {
    it(`${k.archive}`, async () => {
      const btf = await loadKernel(k);
      expect(btf.ownTypeCount).toBe(k.types);
      const oracle = await corpusOracle(`${k.oraclePrefix}.raw.json.xz`);
      const diff = firstDifference(dumpRawJson(btf), oracle);
      expect(diff, diff).toBeUndefined();
      // Streamed through one reused buffer (the CLI's path): the chunks copied out as they come add up to the same.
      const chunks: Buffer[] = [];
      let sizes = 0;
      writeRawJson(btf, (c) => {
        chunks.push(Buffer.from(c));
        sizes = Math.max(sizes, c.length);
      }, 4096);
      expect(chunks.length).toBeGreaterThan(100);
      expect(sizes).toBeLessThan(4096 * 2);
      const streamed = firstDifference(Buffer.concat(chunks), oracle);
      expect(streamed, streamed).toBeUndefined();
    });
    for (const m of k.modules) {
      it(`${m.archive} on its kernel`, async () => {
        const btf = await loadModule(k, m);
        expect(btf.ownTypeCount).toBe(m.types);
        const diff = firstDifference(dumpRawJson(btf), await corpusOracle(`${m.oraclePrefix}.raw.json.xz`));
        expect(diff, diff).toBeUndefined();
      });
    }
  }
});
