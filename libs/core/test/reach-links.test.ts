/**
 * ELF relocations of executable sections as links: BPF-to-BPF calls, callback addresses and extern references
 * (facts from fixtures/verdict/*.objdump.txt), and the typed errors of a damaged relocation table.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CoreError, CoreErrorCode, readBpfObject, readElfObject, readObjectLinks } from '../src/index.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/verdict');
const bytesOf = (name: string): Uint8Array => new Uint8Array(readFileSync(join(FIX, name)));

describe('readObjectLinks', () => {
  it('links static and global calls into .text, and a callback address', () => {
    const bytes = bytesOf('fields.bpf.o');
    const links = readObjectLinks(bytes, readBpfObject(bytes));
    // kp_sub_guarded: `call 0xb` against the .text section (static read_new_guarded at .text #12);
    // kp_sub_unguarded: `call -0x1` against read_new_unguarded (.text #0); kp_callback: `r2 = 0xc8 ll` (loop_cb, #25).
    expect(Object.fromEntries(links.links)).toEqual({
      'kprobe/do_work:74': { kind: 'call', target: { section: '.text', index: 12 } },
      'kprobe/do_work:78': { kind: 'call', target: { section: '.text', index: 0 } },
      'kprobe/do_work:82': { kind: 'func-addr', target: { section: '.text', index: 25 } },
    });
    expect(links.externRefs).toEqual([]);
  });

  it('keeps extern references by name: the address load and the calls of a kfunc', () => {
    const bytes = bytesOf('kfuncs.bpf.o');
    expect(readObjectLinks(bytes, readBpfObject(bytes)).externRefs).toEqual([
      { loc: { section: 'fentry/do_work', index: 1 }, name: 'bpf_kf_weak', use: 'ld64' },
      { loc: { section: 'fentry/do_work', index: 5 }, name: 'bpf_kf_weak', use: 'call' },
      { loc: { section: 'fentry/do_work', index: 8 }, name: 'bpf_kf_weak', use: 'call' },
    ]);
  });

  /** A copy of kfuncs.bpf.o with its first relocation entry changed by `edit(view, entryOffset)`. */
  function damaged(edit: (dv: DataView, at: number) => void): { bytes: Uint8Array; rel: string } {
    const bytes = bytesOf('kfuncs.bpf.o');
    const elf = readElfObject(bytes);
    const rel = elf.sections.find((s) => s.name === '.relfentry/do_work');
    if (!rel) throw new Error('fixture has no .relfentry/do_work');
    edit(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), rel.offset);
    return { bytes, rel: rel.name };
  }

  const cases: [string, (dv: DataView, at: number) => void, CoreErrorCode, RegExp][] = [
    ['an unaligned offset', (dv, at) => dv.setBigUint64(at, 12n, true), CoreErrorCode.BadProgram, /invalid relocation offset 12/],
    ['an offset past the section', (dv, at) => dv.setBigUint64(at, 8000n, true), CoreErrorCode.BadProgram, /invalid relocation offset 8000/],
    ['a symbol past the table', (dv, at) => dv.setUint32(at + 12, 9999, true), CoreErrorCode.BadElf, /symbol 9999, past the symbol table/],
    ['an instruction that is neither call nor ldimm64', (dv, at) => dv.setBigUint64(at, 0n, true), CoreErrorCode.BadProgram, /neither a call nor an ldimm64/],
  ];
  it.each(cases)('rejects %s with a typed error naming the section', (_name, edit, code, message) => {
    const { bytes, rel } = damaged(edit);
    const obj = readBpfObject(bytesOf('kfuncs.bpf.o'));
    let err: unknown;
    try {
      readObjectLinks(bytes, obj);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CoreError);
    expect((err as CoreError).code).toBe(code);
    expect((err as CoreError).section).toBe(rel);
    expect((err as CoreError).message).toMatch(message);
  });
});
