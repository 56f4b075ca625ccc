import { describe, expect, it } from 'vitest';
import { dumpRawJson } from '@btf-atlas/btf';
import { corpusKernels, corpusOracle, firstDifference, loadKernel, loadModule } from './support/corpus.js';

// `btf-atlas dump --json` must print exactly what `bpftool -j btf dump file … format raw` printed for every
// corpus file: vmlinux BTF of every kernel, and module BTF read on its kernel (bpftool -B).
describe('dumpRawJson equals bpftool 7.5 on every corpus blob', () => {
  for (const k of corpusKernels()) {
    it(`${k.archive}`, async () => {
      const btf = await loadKernel(k);
      expect(btf.ownTypeCount).toBe(k.types);
      const diff = firstDifference(dumpRawJson(btf), await corpusOracle(`${k.oraclePrefix}.raw.json.xz`));
      expect(diff, diff).toBeUndefined();
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
