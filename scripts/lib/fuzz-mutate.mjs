// Structure-aware mutators of scripts/fuzz.mjs, for the layers the test suite's mutators (libs/btf/test/support/
// fuzz-inputs.ts: BTF header and type-record words, generic byte edits) do not know: BTF string tables and whole
// records, ustar headers, ar members, ELF section headers and `.BTF.ext` records, and splices between two inputs.
// Each takes the suite's seeded Rng and returns `{ bytes, what }` with a new array (the input is never changed).

const concat = (parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const dvOf = (b) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const latin1 = (s) => Uint8Array.from(Buffer.from(s, 'latin1'));

// ---------------------------------------------------------------------------------------------------------------
// BTF: string table, whole records, splices.

/** The header of a raw BTF blob (offsets absolute), or undefined when it is too short or has no magic. */
export function btfLayout(b) {
  if (b.length < 24) return undefined;
  const le = b[0] === 0x9f && b[1] === 0xeb;
  if (!le && !(b[0] === 0xeb && b[1] === 0x9f)) return undefined;
  const dv = dvOf(b);
  const hdrLen = dv.getUint32(4, le);
  return {
    le,
    hdrLen,
    typeOff: hdrLen + dv.getUint32(8, le),
    typeLen: dv.getUint32(12, le),
    strOff: hdrLen + dv.getUint32(16, le),
    strLen: dv.getUint32(20, le),
  };
}

/** Edits of the string section: a NUL removed or added, a name made invalid, the section cut or grown. */
export function mutateStrings(rng, src) {
  const h = btfLayout(src);
  if (!h || h.strLen === 0 || h.strOff + h.strLen > src.length) return undefined;
  const out = new Uint8Array(src);
  const at = h.strOff + rng.int(h.strLen);
  switch (rng.int(6)) {
    case 0: {
      // Drop the terminating NUL (the last byte of the section), or the leading one.
      const p = rng.chance(0.5) ? h.strOff + h.strLen - 1 : h.strOff;
      out[p] = 0x41;
      return { bytes: out, what: `string byte ${p} := 'A' (NUL removed)` };
    }
    case 1:
      out[at] = rng.pick([0x00, 0x2e, 0x2d, 0x20, 0x7f, 0xff, 0x24, 0x3a]);
      return { bytes: out, what: `string byte ${at} := 0x${out[at].toString(16)}` };
    case 2: {
      // A long run of one character: names longer than KSYM_NAME_LEN.
      const n = Math.min(h.strOff + h.strLen - 1 - at, 64 + rng.int(400));
      out.fill(0x61, at, at + Math.max(0, n));
      return { bytes: out, what: `string bytes ${at}+${n} := 'a'` };
    }
    case 3: {
      const v = rng.pick([0, 1, h.strLen + 1, h.strLen - 1, h.strLen * 2, 0xffffffff, 0x7fffffff, rng.u32()]) >>> 0;
      dvOf(out).setUint32(20, v, h.le);
      return { bytes: out, what: `str_len := 0x${v.toString(16)}` };
    }
    case 4: {
      // Grow the section with extra strings (the header updated), or cut it at a random point.
      if (rng.chance(0.5)) {
        const extra = latin1(`${'x'.repeat(rng.int(40))}\0${rng.chance(0.5) ? 'y' : ''}`);
        const grown = concat([src.subarray(0, h.strOff + h.strLen), extra, src.subarray(h.strOff + h.strLen)]);
        dvOf(grown).setUint32(20, h.strLen + extra.length, h.le);
        return { bytes: grown, what: `${extra.length} bytes appended to the string section` };
      }
      const n = rng.int(h.strLen);
      const cut = concat([src.subarray(0, h.strOff + n), src.subarray(h.strOff + h.strLen)]);
      dvOf(cut).setUint32(20, n, h.le);
      return { bytes: cut, what: `string section cut to ${n} bytes` };
    }
    default: {
      // Move the string section before the type section (str_off < type_off), or make them overlap.
      const dv = dvOf(out);
      const v = rng.pick([0, h.typeOff - h.hdrLen + 4, h.typeLen - 4, (h.strOff - h.hdrLen) + 1]) >>> 0;
      dv.setUint32(16, v, h.le);
      return { bytes: out, what: `str_off := ${v}` };
    }
  }
}

/**
 * Whole records (offsets from the seed's parsed Btf): one duplicated, removed, or moved elsewhere, with the
 * header's type_len / str_off kept consistent, so the blob parses on and the damage is to ids and references.
 */
export function mutateRecords(rng, btf, src) {
  const h = btfLayout(src);
  const n = btf.ownTypeCount;
  if (!h || n === 0 || src.length !== btf.bytes.length) return undefined;
  const start = (i) => btf.offsets[i];
  const end = (i) => (i + 1 < n ? btf.offsets[i + 1] : btf.header.typeEnd);
  const i = rng.int(n);
  const rec = src.subarray(start(i), end(i));
  const fix = (out, delta) => {
    const dv = dvOf(out);
    dv.setUint32(12, h.typeLen + delta, h.le);
    if (h.strOff >= h.typeOff + h.typeLen) dv.setUint32(16, h.strOff - h.hdrLen + delta, h.le);
    return out;
  };
  const op = rng.int(4);
  if (op === 0) {
    const j = rng.int(n + 1);
    const at = j < n ? start(j) : end(n - 1);
    return { bytes: fix(concat([src.subarray(0, at), rec, src.subarray(at)]), rec.length), what: `record [${btf.startId + i}] duplicated before [${btf.startId + j}]` };
  }
  if (op === 1) {
    return { bytes: fix(concat([src.subarray(0, start(i)), src.subarray(end(i))]), -rec.length), what: `record [${btf.startId + i}] removed` };
  }
  if (op === 2) {
    // Many copies of one record: type count and resolve work grow.
    const copies = 2 + rng.int(rng.chance(0.2) ? 2000 : 50);
    const rep = new Uint8Array(rec.length * copies);
    for (let k = 0; k < copies; k++) rep.set(rec, k * rec.length);
    return { bytes: fix(concat([src.subarray(0, end(i)), rep, src.subarray(end(i))]), rep.length), what: `record [${btf.startId + i}] repeated ${copies} times` };
  }
  // Two records swapped (lengths may differ).
  const j = rng.int(n);
  if (i === j) return { bytes: new Uint8Array(src), what: 'none (same record)' };
  const [a, b] = i < j ? [i, j] : [j, i];
  const out = concat([src.subarray(0, start(a)), src.subarray(start(b), end(b)), src.subarray(end(a), start(b)), src.subarray(start(a), end(a)), src.subarray(end(b))]);
  return { bytes: out, what: `records [${btf.startId + a}] and [${btf.startId + b}] swapped` };
}

/** A splice of two inputs: a's head and b's tail at random cut points (same-kind inputs make it meaningful). */
export function spliceInputs(rng, a, b) {
  const i = rng.int(a.length + 1);
  const j = rng.int(b.length + 1);
  return { bytes: concat([a.subarray(0, i), b.subarray(j)]), what: `splice: [0, ${i}) of this + [${j}, end) of another` };
}

// ---------------------------------------------------------------------------------------------------------------
// ustar.

/** Header block offsets of a ustar archive (walks the size fields; stops at a zero block or a bad size). */
export function tarHeaders(b) {
  const out = [];
  for (let at = 0; at + 512 <= b.length;) {
    if (b.subarray(at, at + 512).every((x) => x === 0)) break;
    const size = parseInt(Buffer.from(b.subarray(at + 124, at + 136)).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    if (!Number.isFinite(size)) break;
    out.push(at);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

function tarChecksum(h) {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  h.set(latin1(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
}

const TAR_NAMES = ['../evil.btf', '/etc/passwd', 'k/modules/../../x.btf', 'a'.repeat(100), '', '.', 'k/modules/', 'k/modules/x.ko', './k.btf', 'k\\..\\x.btf', 'k/modules/kvm.btf'];

/** ustar header edits: size, type flag, name, magic, checksum; members duplicated, a pax header, end blocks cut. */
export function mutateTar(rng, src) {
  const heads = tarHeaders(src);
  if (heads.length === 0) return undefined;
  const at = rng.pick(heads);
  const out = new Uint8Array(src);
  const h = out.subarray(at, at + 512);
  let what;
  switch (rng.int(8)) {
    case 0: {
      const size = rng.pick([0, 1, 511, 513, 0o77777777777, 2 ** 31, rng.int(1 << 20)]);
      const field = rng.chance(0.8) ? `${size.toString(8).padStart(11, '0')}\0` : rng.pick(['99999999999\0', '           \0', '-1\0', '\x80\0\0\0\0\0\0\0\0\0\x01\0']);
      h.set(latin1(field.slice(0, 12)), 124);
      what = `member at ${at}: size := ${JSON.stringify(field)}`;
      break;
    }
    case 1:
      h[156] = rng.pick([0x30, 0x31, 0x32, 0x33, 0x35, 0x36, 0x37, 0x4c, 0x4b, 0x78, 0x67, 0x53, 0x00, rng.int(256)]);
      what = `member at ${at}: type flag := 0x${h[156].toString(16)}`;
      break;
    case 2: {
      const name = rng.pick(TAR_NAMES);
      h.fill(0, 0, 100);
      h.set(latin1(name.slice(0, 100)), 0);
      if (rng.chance(0.3)) h.set(latin1('../prefix\0'), 345);
      what = `member at ${at}: name := ${JSON.stringify(name)}`;
      break;
    }
    case 3:
      h.set(latin1(rng.pick(['ustar  \0', 'ustar\x0000', 'xxxxx\0'])), 257);
      what = `member at ${at}: magic changed`;
      break;
    case 4: {
      // A pax extended header in front of the member: path / size records, some malformed.
      const rec = rng.pick(['path=../../x.btf', `size=${rng.pick(['99999999999', '-5', 'abc', String(rng.int(100000))])}`, 'path=k/modules/evil.btf', 'linkpath=/etc', 'x']);
      const line = `${rec.length + 3 + String(rec.length).length} ${rec}\n`;
      const body = latin1(rng.chance(0.8) ? line : line.repeat(1 + rng.int(1000)));
      const ph = new Uint8Array(512);
      ph.set(latin1('PaxHeaders/x'), 0);
      ph.set(latin1('0000644\0'), 100);
      ph.set(latin1(`${body.length.toString(8).padStart(11, '0')}\0`), 124);
      ph[156] = 0x78;
      ph.set(latin1('ustar\x0000'), 257);
      tarChecksum(ph);
      const pad = new Uint8Array((512 - (body.length % 512)) % 512);
      return { bytes: concat([src.subarray(0, at), ph, body, pad, src.subarray(at)]), what: `pax header ${JSON.stringify(rec)} before member at ${at}` };
    }
    case 5: {
      // A member repeated many times (entry counts, duplicate names).
      const i = heads.indexOf(at);
      const next = i + 1 < heads.length ? heads[i + 1] : tarEnd(src, heads);
      const m = src.subarray(at, next);
      const copies = 2 + rng.int(rng.chance(0.2) ? 300 : 20);
      const rep = new Uint8Array(m.length * copies);
      for (let k = 0; k < copies; k++) rep.set(m, k * m.length);
      return { bytes: concat([src.subarray(0, next), rep, src.subarray(next)]), what: `member at ${at} repeated ${copies} times` };
    }
    case 6: {
      // The end-of-archive blocks cut off, or garbage after them.
      const end = tarEnd(src, heads);
      return rng.chance(0.5)
        ? { bytes: out.subarray(0, end + rng.int(1024)), what: `archive cut at ${end}+` }
        : { bytes: concat([out, Uint8Array.from({ length: 1 + rng.int(700) }, () => rng.int(256))]), what: 'garbage after the archive' };
    }
    default:
      h.set(latin1(rng.pick(['0000000\0', '7777777\0', '0000777\0'])), 100 + 8 * rng.int(3));
      what = `member at ${at}: mode/uid/gid edited`;
  }
  // Most edits keep a valid checksum, so the reader looks past it.
  if (rng.chance(0.8)) tarChecksum(h);
  else what += ' (checksum left stale)';
  return { bytes: out, what };
}

function tarEnd(src, heads) {
  const last = heads[heads.length - 1];
  const size = parseInt(Buffer.from(src.subarray(last + 124, last + 136)).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
  return Math.min(src.length, last + 512 + Math.ceil((Number.isFinite(size) ? size : 0) / 512) * 512);
}

// ---------------------------------------------------------------------------------------------------------------
// ar (.deb).

/** ar member header edits: size (decimal), name, end marker; a member dropped or repeated. */
export function mutateAr(rng, src) {
  if (src.length < 8 + 60) return undefined;
  const heads = [];
  for (let at = 8; at + 60 <= src.length;) {
    const size = Number(Buffer.from(src.subarray(at + 48, at + 58)).toString('latin1').trim());
    if (!Number.isFinite(size) || size < 0) break;
    heads.push(at);
    at += 60 + size + (size % 2);
  }
  if (heads.length === 0) return undefined;
  const i = rng.int(heads.length);
  const at = heads[i];
  const out = new Uint8Array(src);
  switch (rng.int(5)) {
    case 0: {
      const v = rng.pick(['0', '1', '9999999999', '-1', 'abc', String(rng.int(1 << 20)), '']);
      out.set(latin1(v.padEnd(10).slice(0, 10)), at + 48);
      return { bytes: out, what: `ar member ${i}: size := ${JSON.stringify(v)}` };
    }
    case 1: {
      const v = rng.pick(['data.tar.xz', 'data.tar.bz2', 'data.tar', 'control.tar', 'data.tar.lzma', '/', '//', '#1/20', '']);
      out.set(latin1(v.padEnd(16).slice(0, 16)), at);
      return { bytes: out, what: `ar member ${i}: name := ${JSON.stringify(v)}` };
    }
    case 2:
      out.set(latin1(rng.pick(['\n\n', '`x', '\0\0'])), at + 58);
      return { bytes: out, what: `ar member ${i}: end marker broken` };
    case 3: {
      const next = i + 1 < heads.length ? heads[i + 1] : src.length;
      return { bytes: concat([src.subarray(0, at), src.subarray(next)]), what: `ar member ${i} removed` };
    }
    default: {
      const next = i + 1 < heads.length ? heads[i + 1] : src.length;
      const m = src.subarray(at, next);
      return { bytes: concat([src.subarray(0, next), m, m, src.subarray(next)]), what: `ar member ${i} repeated` };
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// ELF: section headers, and the contents of `.BTF` / `.BTF.ext`.

/** Section headers of an ELF file (32/64-bit, either byte order), with where each header sits. */
export function elfSections(b) {
  if (b.length < 52 || b[0] !== 0x7f || b[1] !== 0x45 || b[2] !== 0x4c || b[3] !== 0x46) return undefined;
  const is64 = b[4] === 2;
  const le = b[5] === 1;
  if (b.length < (is64 ? 64 : 52)) return undefined;
  const dv = dvOf(b);
  const shoff = is64 ? Number(dv.getBigUint64(0x28, le)) : dv.getUint32(0x20, le);
  const shentsize = dv.getUint16(is64 ? 0x3a : 0x2e, le);
  const shnum = dv.getUint16(is64 ? 0x3c : 0x30, le);
  const shstrndx = dv.getUint16(is64 ? 0x3e : 0x32, le);
  if (shoff + shnum * shentsize > b.length || shentsize < (is64 ? 64 : 40)) return undefined;
  const sh = (i) => {
    const at = shoff + i * shentsize;
    return is64
      ? { at, name: dv.getUint32(at, le), type: dv.getUint32(at + 4, le), offset: Number(dv.getBigUint64(at + 0x18, le)), size: Number(dv.getBigUint64(at + 0x20, le)) }
      : { at, name: dv.getUint32(at, le), type: dv.getUint32(at + 4, le), offset: dv.getUint32(at + 0x10, le), size: dv.getUint32(at + 0x14, le) };
  };
  const str = shstrndx < shnum ? sh(shstrndx) : undefined;
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const s = sh(i);
    let name = '';
    if (str && str.offset + s.name < b.length) {
      const from = str.offset + s.name;
      const nul = b.indexOf(0, from);
      name = Buffer.from(b.subarray(from, nul < 0 ? b.length : nul)).toString('latin1');
    }
    sections.push({ ...s, index: i, name });
  }
  return { is64, le, shoff, shnum, shstrndx, sections };
}

/** ELF header and section header field edits (offsets, sizes, types, links, counts). */
export function mutateElf(rng, src) {
  const e = elfSections(src);
  if (!e || e.sections.length === 0) return undefined;
  const out = new Uint8Array(src);
  const dv = dvOf(out);
  const val = (size) => rng.pick([0, 1, 7, 8, 0xffffffff, 0x7fffffff, size - 1, size + 1, size * 2, src.length, src.length - 1, rng.u32()]) >>> 0;
  if (rng.chance(0.2)) {
    const field = rng.pick(e.is64 ? [[0x28, 8, 'e_shoff'], [0x3a, 2, 'e_shentsize'], [0x3c, 2, 'e_shnum'], [0x3e, 2, 'e_shstrndx'], [0x12, 2, 'e_machine'], [0x10, 2, 'e_type']] : [[0x20, 4, 'e_shoff'], [0x2e, 2, 'e_shentsize'], [0x30, 2, 'e_shnum'], [0x32, 2, 'e_shstrndx']]);
    const v = rng.pick([0, 1, 2, 0xffff, e.shnum + 1, e.shnum - 1, rng.int(0x10000)]);
    if (field[1] === 8) dv.setBigUint64(field[0], BigInt(v), e.le);
    else if (field[1] === 4) dv.setUint32(field[0], v, e.le);
    else dv.setUint16(field[0], v & 0xffff, e.le);
    return { bytes: out, what: `${field[2]} := ${v}` };
  }
  const s = rng.pick(e.sections);
  const fields = e.is64
    ? [[0, 4, 'sh_name'], [4, 4, 'sh_type'], [8, 8, 'sh_flags'], [0x18, 8, 'sh_offset'], [0x20, 8, 'sh_size'], [0x28, 4, 'sh_link'], [0x2c, 4, 'sh_info'], [0x38, 8, 'sh_entsize']]
    : [[0, 4, 'sh_name'], [4, 4, 'sh_type'], [0x10, 4, 'sh_offset'], [0x14, 4, 'sh_size'], [0x18, 4, 'sh_link'], [0x1c, 4, 'sh_info'], [0x24, 4, 'sh_entsize']];
  const [off, width, name] = rng.pick(fields);
  const v = name === 'sh_type' ? rng.pick([0, 1, 2, 3, 4, 8, 9, 11, 0x6fffffff, rng.u32()]) >>> 0 : name === 'sh_link' || name === 'sh_info' ? rng.pick([0, e.shnum, e.shnum - 1, 0xffff, rng.int(e.shnum + 2)]) : val(s.size);
  if (width === 8) dv.setBigUint64(s.at + off, BigInt(v), e.le);
  else dv.setUint32(s.at + off, v, e.le);
  return { bytes: out, what: `section ${s.index} (${s.name}): ${name} := 0x${v.toString(16)}` };
}

/** Replaces one section's contents with `fn(contents)` (same length: longer output is cut, shorter is padded). */
export function mutateSection(rng, src, name, fn) {
  const e = elfSections(src);
  const s = e?.sections.find((x) => x.name === name);
  if (!s || s.offset + s.size > src.length || s.size === 0) return undefined;
  const m = fn(src.subarray(s.offset, s.offset + s.size));
  if (!m) return undefined;
  const out = new Uint8Array(src);
  out.fill(0, s.offset, s.offset + s.size);
  out.set(m.bytes.subarray(0, s.size), s.offset);
  return { bytes: out, what: `${name}: ${m.what}` };
}

/**
 * `.BTF.ext` edits: header fields (hdr_len, the func/line/CO-RE info offsets and lengths), the record sizes and
 * counts of the info groups, and words inside records (insn_off, type_id, access string offset, relo kind).
 */
export function mutateBtfExt(rng, ext) {
  if (ext.length < 32) return undefined;
  const le = ext[0] === 0x9f && ext[1] === 0xeb;
  const out = new Uint8Array(ext);
  const dv = dvOf(out);
  const hdrLen = dv.getUint32(4, le);
  if (rng.chance(0.35)) {
    const field = rng.pick([4, 8, 12, 16, 20, 24, 28]);
    const v = rng.pick([0, 1, 4, 8, 16, 24, 32, 0xffffffff, 0x7fffffff, ext.length, ext.length - hdrLen, rng.int(ext.length + 64)]) >>> 0;
    dv.setUint32(field, v, le);
    return { bytes: out, what: `.BTF.ext header u32 at ${field} := 0x${v.toString(16)}` };
  }
  // Inside one of the three info areas: its rec_size word, a group's sec_name_off / num_info, or a record word.
  const areas = [];
  for (const f of [8, 16, 24]) {
    if (f + 8 > hdrLen) continue;
    const off = hdrLen + dv.getUint32(f, le);
    const len = dv.getUint32(f + 4, le);
    if (len >= 4 && off + len <= ext.length) areas.push({ off, len });
  }
  if (areas.length === 0) return undefined;
  const a = rng.pick(areas);
  const p = a.off + 4 * rng.int(a.len >>> 2);
  const v = rng.pick([0, 1, 2, 3, 4, 8, 12, 16, 0xffff, 0xffffffff, 0x7fffffff, 0x80000000, rng.int(64), rng.int(0x10000)]) >>> 0;
  dv.setUint32(p, v, le);
  return { bytes: out, what: `.BTF.ext word at ${p} := 0x${v.toString(16)}` };
}
