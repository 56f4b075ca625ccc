import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Btf, BtfError, BtfErrorCode, type BtfType, dumpRawJson, extractBtf, swapBtfEndianness } from '@btf-atlas/btf';
import { corpusFile, corpusKernels, firstDifference, loadKernel, type CorpusKernel } from './support/corpus.js';
import { writeElf } from './support/elf-writer.js';
import { sliceBase } from './support/fuzz-inputs.js';

// The corpus has no big-endian kernel (s390x ships big-endian BTF), so every corpus blob is swapped to
// big-endian and must decode to the same model and dump to the same bpftool JSON (bpftool prints host-order
// numbers whatever the blob's order).

/** A cheap canonical digest of a decoded type list (bigints spelled as decimal strings). */
function digest(types: BtfType[]): string {
  const json = JSON.stringify(types, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  return createHash('sha256').update(json).digest('hex');
}

const swappedKernels = new Map<string, Promise<Btf>>();
/** The kernel's BTF swapped to big-endian and parsed (cached: modules need it as base). */
function loadSwappedKernel(k: CorpusKernel): Promise<Btf> {
  let p = swappedKernels.get(k.archive);
  if (!p) {
    p = loadKernel(k).then((le) => Btf.parse(swapBtfEndianness(le)));
    swappedKernels.set(k.archive, p);
  }
  return p;
}

function expectSameBtf(le: Btf, be: Btf): void {
  expect(le.littleEndian).toBe(true);
  expect(be.littleEndian).toBe(false);
  expect(Array.from(be.bytes.subarray(0, 2))).toEqual([0xeb, 0x9f]);
  expect(be.bytes.length).toBe(le.bytes.length);
  expect(be.startId).toBe(le.startId);
  expect(be.ownTypeCount).toBe(le.ownTypeCount);
  const { littleEndian: _a, ...leHeader } = le.header;
  const { littleEndian: _b, ...beHeader } = be.header;
  expect(beHeader).toEqual(leHeader);
  const offsets = (b: Btf): Buffer => Buffer.from(b.offsets.buffer, b.offsets.byteOffset, 4 * b.ownTypeCount);
  expect(Buffer.compare(offsets(be), offsets(le))).toBe(0);
  expect(digest(be.ownTypes())).toBe(digest(le.ownTypes()));
  const diff = firstDifference(dumpRawJson(be), dumpRawJson(le));
  expect(diff, diff).toBeUndefined();
  // Swapping back gives the original bytes.
  expect(Buffer.compare(Buffer.from(swapBtfEndianness(be)), Buffer.from(le.bytes))).toBe(0);
}

describe('swapBtfEndianness on the corpus', () => {
  for (const k of corpusKernels()) {
    it(`${k.archive} swapped to big-endian decodes and dumps the same`, async () => {
      expectSameBtf(await loadKernel(k), await loadSwappedKernel(k));
    });
    for (const m of k.modules) {
      it(`${m.archive} swapped, on its swapped kernel`, async () => {
        const le = Btf.parse(corpusFile(m.archive), { base: await loadKernel(k) });
        const beBytes = swapBtfEndianness(le);
        const be = Btf.parse(beBytes, { base: await loadSwappedKernel(k) });
        expectSameBtf(le, be);
        // A big-endian module cannot sit on a little-endian base.
        expect(() => Btf.parse(beBytes, { base: le.base })).toThrowError(expect.objectContaining({ code: BtfErrorCode.BadBase }));
      });
    }
  }
});

/** A base blob with a 32-byte header (layout_off, layout_len) and a layout section after the strings. */
function withLayoutSection(btf: Btf, extraLayout: (layout: DataView) => void = () => undefined): Uint8Array {
  const h = btf.header;
  const types = btf.bytes.subarray(h.typeStart, h.typeEnd);
  const strs = btf.bytes.subarray(h.strStart, h.strEnd);
  const layoutLen = 4 * 21; // kinds 0..20
  const strOff = types.length;
  const layoutOff = (strOff + strs.length + 3) & ~3;
  const out = new Uint8Array(32 + layoutOff + layoutLen);
  const dv = new DataView(out.buffer);
  const le = btf.littleEndian;
  dv.setUint16(0, 0xeb9f, le);
  out[2] = 1;
  dv.setUint32(4, 32, le);
  dv.setUint32(8, 0, le);
  dv.setUint32(12, types.length, le);
  dv.setUint32(16, strOff, le);
  dv.setUint32(20, strs.length, le);
  dv.setUint32(24, layoutOff, le);
  dv.setUint32(28, layoutLen, le);
  out.set(types, 32);
  out.set(strs, 32 + strOff);
  const layout = new DataView(out.buffer, 32 + layoutOff, layoutLen);
  // A few plausible entries: INT {4, 0}, STRUCT {0, 12}, with a flag so the u16 swap is visible.
  layout.setUint8(4, 4);
  layout.setUint16(4 + 2, 0x0102, le);
  layout.setUint8(16 + 1, 12);
  layout.setUint16(16 + 2, 0x0304, le);
  extraLayout(layout);
  return out;
}

describe('swapBtfEndianness on headers and layout sections', () => {
  it('swaps a 32-byte header and the layout section flags', async () => {
    const k = corpusKernels()[0];
    const le = Btf.parse(withLayoutSection(Btf.parse(sliceBase(await loadKernel(k), 3000))));
    expect(le.header.hdrLen).toBe(32);
    expect(le.kindLayouts[1]).toEqual({ infoSize: 4, elemSize: 0, flags: 0x0102 });
    const be = Btf.parse(swapBtfEndianness(le));
    expect(be.kindLayouts).toEqual(le.kindLayouts);
    expectSameBtf(le, be);
  });

  it('refuses to swap a kind it can only skip (described by the layout section)', () => {
    // One record of kind 20 with a 4-byte info, as a newer kernel might write, described by the layout section.
    const bytes = new Uint8Array(32 + 16 + 4 + 84);
    const dv = new DataView(bytes.buffer);
    dv.setUint16(0, 0xeb9f, true);
    bytes[2] = 1;
    dv.setUint32(4, 32, true);
    dv.setUint32(12, 16, true); // type_len
    dv.setUint32(16, 16, true); // str_off
    dv.setUint32(20, 4, true); // str_len: "\0a\0\0"
    dv.setUint32(24, 20, true); // layout_off
    dv.setUint32(28, 84, true); // layout_len
    dv.setUint32(32 + 4, 20 << 24, true); // kind 20, vlen 0
    bytes.set([0, 0x61, 0, 0], 32 + 16);
    bytes[32 + 20 + 20 * 4] = 4; // layout[20].info_sz = 4
    const btf = Btf.parse(bytes);
    expect(btf.ownTypeCount).toBe(1);
    let err: unknown;
    try {
      swapBtfEndianness(btf);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BtfError);
    expect((err as BtfError).code).toBe(BtfErrorCode.BadKind);
    expect((err as BtfError).typeId).toBe(1);
  });
});

describe('big-endian BTF inside big-endian ELF objects', () => {
  const k = corpusKernels().find((x) => x.modules.length > 0) ?? corpusKernels()[0];
  const m = k.modules.find((x) => x.name === 'nf_conntrack') ?? k.modules[0];
  for (const bits of [32, 64] as const) {
    it(`extractBtf finds .BTF in an ELF${bits} big-endian object`, async () => {
      const base = await loadKernel(k);
      const le = Btf.parse(corpusFile(m.archive), { base });
      const beBytes = swapBtfEndianness(le);
      const elf = writeElf({
        bits,
        littleEndian: false,
        sections: [
          { name: '.text', data: new Uint8Array([0x07, 0x07, 0x07, 0x07]) },
          { name: '.BTF', data: beBytes },
          { name: '.BTF.ext', data: new Uint8Array(8) },
        ],
      });
      expect(elf[5]).toBe(2); // ELFDATA2MSB
      const blobs = await extractBtf(elf, `${m.name}.ko`);
      expect(blobs).toHaveLength(1);
      expect(blobs[0].formats).toEqual(['elf']);
      expect(Buffer.compare(Buffer.from(blobs[0].bytes), Buffer.from(beBytes))).toBe(0);
      const be = Btf.parse(blobs[0].bytes, { base: await loadSwappedKernel(k) });
      expect(be.littleEndian).toBe(false);
      expect(firstDifference(dumpRawJson(be), dumpRawJson(le))).toBeUndefined();
    });
  }

  it('extractBtf reports an ELF without .BTF as BTF_NO_BTF_SECTION', async () => {
    const elf = writeElf({ bits: 64, littleEndian: false, sections: [{ name: '.text', data: new Uint8Array(4) }] });
    await expect(extractBtf(elf, 'x.o')).rejects.toMatchObject({ code: BtfErrorCode.NoBtfSection });
  });
});
