/**
 * liblzma in WebAssembly over a long life: an instance's heap only grows, so one that grew past its limit is
 * dropped when no stream holds it, a decoder dropped unfinished still lets go of its instance, and an allocation
 * that fails is a typed error, never the runtime's.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { lzmaStats } from '../src/index.js';
import { unlzma } from '../src/lzma.js';
import { PkgError } from '../src/errors.js';
import { withDictionary, xz } from './support/build.js';

const MiB = 1024 * 1024;

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

async function drain(stream: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const chunk of stream) n += chunk.length;
  return n;
}

/** The garbage collector, from inside the test process. */
function gc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

describe('liblzma instances', () => {
  it('drops an instance whose heap grew past its limit once its streams end, and decodes on a fresh one', async () => {
    const plain = new TextEncoder().encode('btf-atlas '.repeat(1000));
    const big = withDictionary(await xz(plain), 26); // 64 MiB
    // Two streams held at once: two 64 MiB dictionaries in one heap.
    const a = unlzma(once(big), 'a')[Symbol.asyncIterator]();
    const b = unlzma(once(big), 'b')[Symbol.asyncIterator]();
    expect((await a.next()).value).toEqual(plain);
    expect((await b.next()).value).toEqual(plain);
    const grown = lzmaStats();
    expect(grown.streams).toBe(2);
    expect(grown.heapBytes).toBeGreaterThan(128 * MiB);
    expect((await a.next()).done).toBe(true);
    expect((await b.next()).done).toBe(true);
    // The next stream starts on a fresh instance, whose heap is small again.
    expect(await drain(unlzma(once(await xz(plain)), 'c'))).toBe(plain.length);
    const fresh = lzmaStats();
    expect(fresh.instances).toBe(grown.instances + 1);
    expect(fresh.heapBytes).toBeLessThan(64 * MiB);
    expect(fresh.streams).toBe(0);
  });

  it('lets go of the instance of a decoder dropped unfinished', async () => {
    const plain = new Uint8Array(3 * MiB).fill(7);
    const file = await xz(plain);
    const collect = gc();
    const before = lzmaStats().streams;
    await (async () => {
      const it = unlzma(once(file), 'dropped')[Symbol.asyncIterator]();
      expect((await it.next()).value?.length).toBe(MiB);
      expect(lzmaStats().streams).toBe(before + 1);
    })();
    // The finalizer runs some time after a collection.
    for (let i = 0; i < 50 && lzmaStats().streams > before; i++) {
      collect();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(lzmaStats().streams).toBe(before);
  });

  it("decodes a 128 MiB dictionary (what the kernel's xz_wrap.sh gives Debian's armhf 6.12+ zImages)", async () => {
    const plain = new TextEncoder().encode('btf-atlas '.repeat(1000));
    expect(await drain(unlzma(once(withDictionary(await xz(plain), 27)), 'zimage.xz'))).toBe(plain.length);
  });

  it('refuses a dictionary over the decoder limit with a typed error', async () => {
    const file = withDictionary(await xz(new Uint8Array(100)), 30); // 1 GiB
    const err = await drain(unlzma(once(file), 'huge.xz')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PkgError);
    expect((err as PkgError).code).toBe('PKG_TOO_LARGE');
    expect((err as PkgError).message).toMatch(/huge\.xz: stream needs more memory than the 144 MiB decoder limit/);
  });

  it('answers a heap too full for one more stream with a typed error, and goes on with a fresh instance', async () => {
    const plain = new TextEncoder().encode('btf-atlas '.repeat(1000));
    const big = withDictionary(await xz(plain), 26);
    // Five 64 MiB dictionaries at once do not fit the 256 MiB the build can grow to.
    const streams = Array.from({ length: 5 }, (_, i) => unlzma(once(big), `s${i}.xz`)[Symbol.asyncIterator]());
    const first = await Promise.all(streams.map((s) => s.next().catch((e: unknown) => e)));
    const failed = first.filter((r) => r instanceof Error);
    expect(failed.length).toBeGreaterThan(0);
    for (const err of failed) {
      expect(err).toBeInstanceOf(PkgError);
      expect((err as PkgError).code).toBe('PKG_TOO_LARGE');
    }
    for (const s of streams) await s.return?.(undefined);
    const before = lzmaStats().instances;
    expect(await drain(unlzma(once(await xz(plain)), 'next.xz'))).toBe(plain.length);
    expect(lzmaStats().instances).toBe(before + 1);
  });
});
