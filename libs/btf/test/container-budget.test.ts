import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BtfError, extractBtf, InputBudget, type BudgetExceeded } from '@btf-atlas/btf';
import { sampleBtf } from './support/builder.js';
import { writeTar, writeXzStored } from './support/fuzz-inputs.js';

const MiB = 1024 * 1024;

async function errorOf(p: Promise<unknown>): Promise<BtfError> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof BtfError)) throw new Error(`expected a BtfError, got ${String(err)}`, { cause: err });
    return err;
  }
  throw new Error('expected a BtfError, nothing was thrown');
}

describe('one budget per input', () => {
  it('charges every layer and member to one total, and stops the decoder as soon as it is passed', async () => {
    // Four members, each a tarball of one folder and 600 KiB of zero blocks (read and dropped; nothing kept, no
    // error), in a gzip'd tar: each is far under the limit, together they are not.
    const member = gzipSync(Buffer.concat([folderHeader('d/'), new Uint8Array(600 * 1024)]));
    const input = gzipSync(writeTar([0, 1, 2, 3].map((i) => ({ name: `m${i}.gz`, data: member }))));
    const budget = new InputBudget('four.tar.gz', { maxBytes: 2 * MiB });
    const err = await errorOf(extractBtf(input, 'four.tar.gz', { budget }));
    expect(err.code).toBe('ARCHIVE_TOO_LARGE');
    // The outer tar is small; at 600 KiB a member, the fourth member's zero blocks pass 2 MiB (m0, m1, m2 and
    // their folders, then m3 and its folder were counted).
    expect(err.message).toBe('four.tar.gz: expands past 2 MiB in total (member m3.gz:d/, after 8 members)');
    // Stopped within one gzip output chunk (64 KiB) of the limit, not at the end of a stream.
    expect(budget.bytes).toBeGreaterThan(2 * MiB);
    expect(budget.bytes).toBeLessThanOrEqual(2 * MiB + 64 * 1024);
  });

  it('counts members over every tarball of the input, nested ones too', async () => {
    const inner = writeTar([0, 1, 2].map((i) => ({ name: `d/m${i}.btf`, data: sampleBtf() })));
    const outer = writeTar([{ name: 'a.tar', data: inner }, { name: 'b.tar', data: inner }]);
    const err = await errorOf(extractBtf(outer, 'nested.tar', { maxTarEntries: 6 }));
    expect(err.code).toBe('ARCHIVE_TOO_LARGE');
    expect(err.message).toBe('nested.tar: holds more than 6 archive members in total (member b.tar:d/m1.btf, after 7 members)');
    const ok = await extractBtf(outer, 'nested.tar', { maxTarEntries: 8 });
    expect(ok.map((b) => `${b.role}:${b.module}`)).toEqual(Array(6).fill('module:m0').map((_, i) => `module:m${i % 3}`));
  });

  it('one budget shared by the caller spans several reads (a kernel and its module files)', async () => {
    const gz = gzipSync(sampleBtf());
    const budget = new InputBudget('kernel', { maxBytes: sampleBtf().length * 2 + 10 });
    await extractBtf(gz, 'vmlinux.btf.gz', { budget });
    await extractBtf(gz, 'ext4.btf.gz', { budget });
    expect(budget.bytes).toBe(sampleBtf().length * 2);
    const err = await errorOf(extractBtf(gz, 'kvm.btf.gz', { budget }));
    expect(err.code).toBe('ARCHIVE_TOO_LARGE');
    expect(err.source).toBe('kernel');
  });

  it('refuses an input that takes longer than its time limit', async () => {
    const input = gzipSync(writeTar([{ name: 'x.btf', data: sampleBtf() }]));
    const budget = new InputBudget('slow.tar.gz', { maxMillis: -1 });
    const err = await errorOf(extractBtf(input, 'slow.tar.gz', { budget }));
    expect(err.code).toBe('BTF_LIMIT_EXCEEDED');
    expect(err.reason).toMatch(/^takes longer than -1 ms to unpack/);
  });

  it('lets a layer make its own error for a passed limit', async () => {
    const seen: BudgetExceeded[] = [];
    const budget = new InputBudget('pkg.deb', { maxBytes: 100 }, (e) => {
      seen.push(e);
      return new BtfError('ARCHIVE_TOO_LARGE', `custom: ${e.reason}`);
    });
    await expect(extractBtf(gzipSync(sampleBtf()), 'x.gz', { budget })).rejects.toThrow(/custom: expands past 100 bytes in total/);
    expect(seen).toEqual([{ limit: 'bytes', input: 'pkg.deb', member: undefined, reason: 'expands past 100 bytes in total (not inside an archive member)' }]);
  });
});

describe('members are decoded one at a time, and only what is kept stays', () => {
  it('refuses a btf blob whose header declares more than maxBlobSize before reading it', async () => {
    const head = sampleBtf().slice(0, 24);
    const dv = new DataView(head.buffer);
    dv.setUint32(20, 300 * MiB, true); // str_len
    const declared = 24 + dv.getUint32(16, true) + 300 * MiB;
    const err = await errorOf(extractBtf(gzipSync(head), 'big.btf.gz'));
    expect(err.code).toBe('BTF_LIMIT_EXCEEDED');
    expect(err.reason).toBe(`btf header declares a blob of ${declared} bytes, more than the 256 MiB limit`);
  });

  it('refuses data past the length a btf header declares as soon as it arrives, naming the member', async () => {
    const padded = new Uint8Array(sampleBtf().length + 4 * MiB);
    padded.set(sampleBtf());
    const input = writeXzStored(writeTar([{ name: '6.1.0.btf', data: gzipSync(padded) }]));
    const budget = new InputBudget('k.btf.tar.xz');
    const err = await errorOf(extractBtf(input, 'k.btf.tar.xz', { budget }));
    expect(err.code).toBe('BTF_BAD_SECTION');
    expect(err.source).toBe('k.btf.tar.xz:6.1.0.btf');
    expect(err.reason).toBe(`unknown data after the last section (the header declares ${sampleBtf().length} bytes)`);
    // Not decoded to its end: the gzip member stopped after a chunk or two.
    expect(budget.bytes).toBeLessThan(MiB);
  });

  it('refuses a second top-level btf file when it is met, before the members after it are decoded', async () => {
    const blob = gzipSync(sampleBtf());
    // Two top-level BTF files, then a thousand more members that are never read.
    const entries = [{ name: 'a.btf.gz', data: blob }, { name: 'b.btf.gz', data: blob }, ...Array.from({ length: 1000 }, (_, i) => ({ name: `c${i}.btf.gz`, data: blob }))];
    const budget = new InputBudget('two.tar', {});
    const err = await errorOf(extractBtf(writeTar(entries), 'two.tar', { budget }));
    expect(err.code).toBe('BTF_BAD_CONTAINER');
    expect(err.message).toBe('two.tar: tarball holds more than one top-level btf file (two.tar:a.btf.gz, two.tar:b.btf.gz); expected one');
    expect(budget.members).toBe(2);
  });

  it('reads xz members inside an xz tarball (decoded once the outer stream is done), in archive order with roles', async () => {
    const vmlinux = sampleBtf();
    const tar = writeTar([
      { name: 'modules/ext4.btf.xz', data: writeXzStored(vmlinux) },
      { name: '6.1.0.btf', data: vmlinux },
      { name: 'modules/kvm.btf.gz', data: gzipSync(vmlinux) },
    ]);
    const blobs = await extractBtf(writeXzStored(tar), 'k.btf.tar.xz');
    expect(blobs.map((b) => [b.name, b.role, b.module ?? '', b.formats.join('/')])).toEqual([
      ['k.btf.tar.xz:6.1.0.btf', 'vmlinux', '', 'xz/tar/btf'],
      ['k.btf.tar.xz:modules/ext4.btf.xz', 'module', 'ext4', 'xz/tar/xz/btf'],
      ['k.btf.tar.xz:modules/kvm.btf.gz', 'module', 'kvm', 'xz/tar/gzip/btf'],
    ]);
    for (const b of blobs) expect(Buffer.from(b.bytes)).toEqual(Buffer.from(vmlinux));
  });

  it('reads a stream of chunks the same as bytes, and lets the stream\'s own errors through unchanged', async () => {
    const input = gzipSync(writeTar([{ name: '6.1.0.btf', data: sampleBtf() }]));
    async function* chunks(fail?: Error): AsyncGenerator<Uint8Array> {
      for (let at = 0; at < input.length; at += 100) yield input.subarray(at, at + 100);
      if (fail) throw fail;
    }
    const fromStream = await extractBtf(chunks(), 'k.tar.gz');
    expect(fromStream.map((b) => Buffer.from(b.bytes))).toEqual([Buffer.from(sampleBtf())]);
    const own = new Error('input too large');
    // The error is thrown after the last byte: whoever reads past it meets it.
    const padded = input.subarray(0, input.length - 8);
    async function* cut(): AsyncGenerator<Uint8Array> {
      yield padded;
      throw own;
    }
    await expect(extractBtf(cut(), 'k.tar.gz')).rejects.toBe(own);
  });
});

/** The 512-byte ustar header of a folder (typeflag 5). */
function folderHeader(name: string): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0);
  h.write('0000755\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write('00000000000\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write('5', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}
