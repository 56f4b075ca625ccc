#!/usr/bin/env node
// Writes libs/btf/test/fixtures/bad/: one broken input per file, and expected.json mapping each file to the
// error code it must produce and the stage that must produce it ("parse": Btf.parse, "container": extractBtf,
// "validate": only the kernel-strict validateBtf). Also writes libs/btf/test/fixtures/good/small.btf(.xz).
// Self-contained (imports nothing from src); needs the `xz` command line tool. Run: node scripts/make-bad-inputs.mjs
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const badDir = join(root, 'libs/btf/test/fixtures/bad');
const goodDir = join(root, 'libs/btf/test/fixtures/good');

// ---- raw BTF writer --------------------------------------------------------------------------------------

const KIND = { INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, ENUM: 6, TYPEDEF: 8, CONST: 10, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, DECL_TAG: 17 };
const info = (kind, vlen = 0, kflag = false) => ((kflag ? 0x80000000 : 0) | (kind << 24) | vlen) >>> 0;

/** String table: "" at 0, then each name; returns the bytes and an offset lookup. */
function strtab(names) {
  const off = { '': 0 };
  const parts = [Buffer.from([0])];
  let len = 1;
  for (const n of names) {
    off[n] = len;
    const b = Buffer.from(`${n}\0`, 'latin1');
    parts.push(b);
    len += b.length;
  }
  return { bytes: Buffer.concat(parts), off };
}

/**
 * A BTF blob from records (arrays of u32 words) and a string section, with header overrides: magic, version,
 * flags, hdrLen, typeOff/typeLen/strOff/strLen, gap (bytes between sections), trailing (bytes after), le.
 */
function btf(records, strings, o = {}) {
  const le = o.le ?? true;
  const words = records.flat();
  const types = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => (le ? types.writeUInt32LE(w >>> 0, i * 4) : types.writeUInt32BE(w >>> 0, i * 4)));
  const hdrLen = o.hdrLen ?? 24;
  const gap = o.gap ?? 0;
  const body = Math.max(hdrLen, 24);
  const out = Buffer.alloc(body + types.length + gap + strings.length + (o.trailing ?? 0));
  const u32 = (v, at) => (le ? out.writeUInt32LE(v >>> 0, at) : out.writeUInt32BE(v >>> 0, at));
  if (le) out.writeUInt16LE(o.magic ?? 0xeb9f, 0);
  else out.writeUInt16BE(o.magic ?? 0xeb9f, 0);
  out[2] = o.version ?? 1;
  out[3] = o.flags ?? 0;
  u32(hdrLen, 4);
  u32(o.typeOff ?? 0, 8);
  u32(o.typeLen ?? types.length, 12);
  u32(o.strOff ?? types.length + gap, 16);
  u32(o.strLen ?? strings.length, 20);
  types.copy(out, body);
  strings.copy(out, body + types.length + gap);
  return out;
}

const S = strtab(['int', 'node', 'a', 'b', 'T', 'U', 'f', 'p', '1bad', 'tag', '.data', 'v']);
const o = S.off;
const INT = [o.int, info(KIND.INT), 4, (1 << 24) | 32]; // [1] int: signed 32-bit
const nodeStruct = (size, bOffset) => [o.node, info(KIND.STRUCT, 2), size, o.a, 1, 0, o.b, 1, bOffset];
const good = btf([INT, nodeStruct(8, 32)], S.bytes);

// ---- ELF and tar writers ---------------------------------------------------------------------------------

/** A relocatable ELF64 little-endian object with the given sections (name, data), section headers at the end. */
function elf(sections, lie) {
  const names = Buffer.concat([Buffer.from([0]), ...sections.map((s) => Buffer.from(`${s.name}\0`)), Buffer.from('.shstrtab\0')]);
  const all = [...sections, { name: '.shstrtab', data: names }];
  let off = 64;
  const placed = all.map((s) => {
    const at = off;
    off += s.data.length;
    return { ...s, at };
  });
  const shoff = (off + 7) & ~7;
  const shnum = all.length + 1;
  const out = Buffer.alloc(shoff + shnum * 64);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  out.writeUInt16LE(1, 16);
  out.writeUInt16LE(0xf7, 18); // EM_BPF
  out.writeUInt32LE(1, 20);
  out.writeBigUInt64LE(BigInt(shoff), 40);
  out.writeUInt16LE(64, 52);
  out.writeUInt16LE(64, 58);
  out.writeUInt16LE(shnum, 60);
  out.writeUInt16LE(shnum - 1, 62);
  let nameOff = 1;
  placed.forEach((s, i) => {
    s.data.copy(out, s.at);
    const h = shoff + (i + 1) * 64;
    out.writeUInt32LE(nameOff, h);
    nameOff += s.name.length + 1;
    out.writeUInt32LE(s.name === '.shstrtab' ? 3 : 1, h + 4); // SHT_STRTAB / SHT_PROGBITS
    out.writeBigUInt64LE(BigInt(lie && s.name === lie ? 0x100000 : s.at), h + 0x18);
    out.writeBigUInt64LE(BigInt(s.data.length), h + 0x20);
    out.writeBigUInt64LE(1n, h + 0x30);
  });
  return out;
}

/** A ustar archive of entries { name, data?, type ('0' file, '2' symlink), link }. */
function tar(entries) {
  const blocks = [];
  for (const e of entries) {
    const h = Buffer.alloc(512);
    const data = e.data ?? Buffer.alloc(0);
    h.write(e.name, 0, 100, 'latin1');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write(`${Math.floor(Date.UTC(2024, 0, 1) / 1000).toString(8).padStart(11, '0')}\0`, 136);
    h.write(e.type ?? '0', 156);
    if (e.link) h.write(e.link, 157, 100, 'latin1');
    h.write('ustar\0', 257);
    h.write('00', 263);
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const xz = (bytes) => execFileSync('xz', ['--format=xz', '--check=crc64', '-9', '-c'], { input: bytes, maxBuffer: 64 << 20 });

// ---- the cases ------------------------------------------------------------------------------------------

const cases = {};
function add(file, stage, code, bytes, note) {
  cases[file] = { stage, code, note, bytes };
}
const patched = (bytes, at, values) => {
  const b = Buffer.from(bytes);
  b.set(values, at);
  return b;
};
const STR_START = 24 + 12 + 4 + 12 + 24; // header + INT record + struct record
const deepTypedefs = Array.from({ length: 40 }, (_, i) => [o.T, info(KIND.TYPEDEF), i === 39 ? 1 : i + 3]);

// header and sections: refused by Btf.parse
add('trunc-in-header.btf', 'parse', 'BTF_TRUNCATED', good.subarray(0, 10), 'cut inside the 24-byte header');
add('trunc-at-header-end.btf', 'parse', 'BTF_TRUNCATED', good.subarray(0, 24), 'cut right after the header');
add('trunc-in-types.btf', 'parse', 'BTF_TRUNCATED', good.subarray(0, 24 + 30), 'cut inside the type section');
add('trunc-in-strings.btf', 'parse', 'BTF_TRUNCATED', good.subarray(0, good.length - 3), 'cut inside the string section');
add('bad-magic.btf', 'parse', 'BTF_BAD_MAGIC', patched(good, 0, [0x12, 0x34]), 'magic is neither eb9f nor 9feb');
add('bad-version.btf', 'parse', 'BTF_BAD_VERSION', patched(good, 2, [2]), 'version 2');
add('hdr-len-past-end.btf', 'parse', 'BTF_TRUNCATED', btf([INT], S.bytes, { hdrLen: 0x1000 }).subarray(0, 200), 'hdr_len larger than the blob');
add('hdr-unknown-nonzero.btf', 'parse', 'BTF_BAD_HEADER', patched(btf([INT], S.bytes, { hdrLen: 40 }), 36, [1]), 'hdr_len 40 with a non-zero byte in the unknown tail');
add('sections-overlap.btf', 'parse', 'BTF_BAD_SECTION', btf([INT, nodeStruct(8, 32)], S.bytes, { strOff: 4, strLen: 16 }), 'string section starts inside the type section');
add('section-past-end.btf', 'parse', 'BTF_TRUNCATED', btf([INT], S.bytes, { strLen: S.bytes.length + 100 }), 'str_len runs past the blob');
add('str-unterminated.btf', 'parse', 'BTF_BAD_STRING_SECTION', patched(good, good.length - 1, [0x41]), 'last string byte is not nul');
add('str-no-leading-nul.btf', 'parse', 'BTF_BAD_STRING_SECTION', patched(good, STR_START, [0x41]), 'base string section does not start with nul');
add('vlen-past-section.btf', 'parse', 'BTF_OUT_OF_BOUNDS', btf([INT, [o.node, info(KIND.STRUCT, 100), 8]], S.bytes), 'struct vlen 100 needs more bytes than the type section has');
add('unknown-kind.btf', 'parse', 'BTF_BAD_KIND', btf([INT, [0, info(25), 0]], S.bytes), 'kind 25');

// kernel-only rules: Btf.parse accepts, validateBtf refuses
add('header-flags.btf', 'validate', 'BTF_BAD_HEADER', btf([INT], S.bytes, { flags: 1 }), 'flags must be 0');
add('section-gap.btf', 'validate', 'BTF_BAD_SECTION', btf([INT], S.bytes, { gap: 4 }), '4 bytes between type and string sections');
add('trailing-data.btf', 'validate', 'BTF_BAD_SECTION', btf([INT], S.bytes, { trailing: 4 }), '4 unknown bytes after the string section');
add('str-off-out-of-range.btf', 'validate', 'BTF_BAD_STRING', btf([[9999, info(KIND.INT), 4, 32]], S.bytes), 'type name offset past the string section');
add('info-reserved-bits.btf', 'validate', 'BTF_BAD_TYPE', btf([[o.int, info(KIND.INT) | 0x100000, 4, 32]], S.bytes), 'reserved info bits set');
add('type-id-out-of-range.btf', 'validate', 'BTF_BAD_TYPE_REF', btf([INT, [0, info(KIND.PTR), 99]], S.bytes), 'ptr to type 99 of 2');
add('typedef-cycle.btf', 'validate', 'BTF_TYPE_LOOP', btf([[o.T, info(KIND.TYPEDEF), 2], [o.U, info(KIND.TYPEDEF), 1]], S.bytes), 'typedef T -> U -> T');
add('const-self.btf', 'validate', 'BTF_TYPE_LOOP', btf([INT, [0, info(KIND.CONST), 2]], S.bytes), 'const referring to itself');
add('const-ptr-loop.btf', 'validate', 'BTF_TYPE_LOOP', btf([[0, info(KIND.CONST), 2], [0, info(KIND.PTR), 1]], S.bytes), 'const -> ptr -> const');
add('typedef-chain-too-deep.btf', 'validate', 'BTF_TYPE_LOOP', btf([INT, ...deepTypedefs], S.bytes), '40 typedefs deep, past the resolve depth of 32');
add('be-typedef-cycle.btf', 'validate', 'BTF_TYPE_LOOP', btf([[o.T, info(KIND.TYPEDEF), 2], [o.U, info(KIND.TYPEDEF), 1]], S.bytes, { le: false }), 'big-endian typedef cycle');
add('member-offset-past-struct.btf', 'validate', 'BTF_BAD_MEMBER', btf([INT, nodeStruct(4, 64)], S.bytes), 'member b starts at byte 8 of a 4-byte struct');
add('member-overruns-struct.btf', 'validate', 'BTF_BAD_MEMBER', btf([INT, nodeStruct(6, 32)], S.bytes), 'member b (4 bytes at byte 4) runs past a 6-byte struct');
add('bitfield-too-wide.btf', 'validate', 'BTF_BAD_MEMBER',
  btf([INT, [o.node, info(KIND.STRUCT, 1, true), 8, o.a, 1, ((40 << 24) | 0) >>> 0]], S.bytes), '40-bit bitfield of a 32-bit int');
add('ptr-with-name.btf', 'validate', 'BTF_BAD_TYPE', btf([INT, [o.p, info(KIND.PTR), 1]], S.bytes), 'PTR must be anonymous');
add('func-not-proto.btf', 'validate', 'BTF_BAD_TYPE_REF', btf([INT, [o.f, info(KIND.FUNC, 1), 1]], S.bytes), 'FUNC refers to an INT');
add('array-with-size.btf', 'validate', 'BTF_BAD_TYPE', btf([INT, [0, info(KIND.ARRAY), 16, 1, 1, 4]], S.bytes), 'ARRAY size must be 0');
add('enum-size-3.btf', 'validate', 'BTF_BAD_TYPE', btf([[o.T, info(KIND.ENUM, 1), 3, o.a, 0]], S.bytes), 'ENUM of 3 bytes');
add('func-bad-linkage.btf', 'validate', 'BTF_BAD_TYPE', btf([INT, [0, info(KIND.FUNC_PROTO), 1], [o.f, info(KIND.FUNC, 3), 2]], S.bytes), 'FUNC linkage 3');
add('vararg-not-last.btf', 'validate', 'BTF_BAD_TYPE_REF', btf([INT, [0, info(KIND.FUNC_PROTO, 2), 1, 0, 0, o.a, 1]], S.bytes), 'void parameter before the last');
add('typedef-bad-name.btf', 'validate', 'BTF_BAD_STRING', btf([INT, [o['1bad'], info(KIND.TYPEDEF), 1]], S.bytes), "typedef named '1bad'");
add('decl-tag-bad-component.btf', 'validate', 'BTF_BAD_TYPE', btf([INT, nodeStruct(8, 32), [o.tag, info(KIND.DECL_TAG), 2, 5]], S.bytes), 'component_idx 5 of a 2-member struct');
add('datasec-not-var.btf', 'validate', 'BTF_BAD_TYPE_REF', btf([INT, [o['.data'], info(KIND.DATASEC, 1), 8, 1, 0, 4]], S.bytes), 'DATASEC entry refers to an INT');

// containers: refused by extractBtf
add('garbage.bin', 'container', 'BTF_UNKNOWN_FORMAT', Buffer.from('this is not btf, elf, gzip, xz or tar\n'), 'unknown magic');
add('elf-lying-section.o', 'container', 'BTF_BAD_CONTAINER', elf([{ name: '.BTF', data: good }], '.BTF'), '.BTF section offset past the end of the file');
add('elf-no-btf.o', 'container', 'BTF_NO_BTF_SECTION', elf([{ name: '.text', data: Buffer.alloc(16) }]), 'no .BTF section');
add('tar-dotdot.tar', 'container', 'ARCHIVE_UNSAFE_PATH', tar([{ name: '../evil.btf', data: good }]), "member name climbs out with '..'");
add('tar-symlink.tar', 'container', 'ARCHIVE_UNSAFE_PATH', tar([{ name: 'vmlinux.btf', type: '2', link: '/etc/passwd' }]), 'member is a symlink');
add('gzip-bomb.gz', 'container', 'ARCHIVE_TOO_LARGE', gzipSync(Buffer.alloc(8 << 20), { level: 9 }), '8 MiB of zeros; tests pass maxDecompressedSize 1 MiB');
add('xz-bomb.xz', 'container', 'ARCHIVE_TOO_LARGE', xz(Buffer.alloc(8 << 20)), '8 MiB of zeros; tests pass maxDecompressedSize 1 MiB');
const goodXz = xz(good);
add('xz-truncated.xz', 'container', 'BTF_BAD_CONTAINER', goodXz.subarray(0, Math.floor(goodXz.length / 2)), 'xz stream cut in half');

// ---- write ---------------------------------------------------------------------------------------------

rmSync(badDir, { recursive: true, force: true });
mkdirSync(badDir, { recursive: true });
mkdirSync(goodDir, { recursive: true });
const expected = {};
for (const [file, c] of Object.entries(cases)) {
  writeFileSync(join(badDir, file), c.bytes);
  expected[file] = { stage: c.stage, code: c.code, note: c.note };
}
writeFileSync(join(badDir, 'expected.json'), `${JSON.stringify(expected, null, 2)}\n`);
writeFileSync(join(goodDir, 'small.btf'), good);
writeFileSync(join(goodDir, 'small.btf.xz'), goodXz);
console.log(`wrote ${readdirSync(badDir).length - 1} bad inputs to ${badDir}`);
