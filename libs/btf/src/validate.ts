import type { Btf } from './btf.js';
import { BtfError, BtfErrorCode } from './errors.js';
import { BTF_HEADER_LAYOUT_LEN, BTF_HEADER_MIN_LEN } from './header.js';
import { BTF_MAX_NAME_OFFSET, K, ValidationContext, checkAllMetas } from './validate-meta.js';
import { Resolver } from './validate-resolve.js';

/**
 * Kernel-strict validation of parsed BTF: the checks the Linux kernel's BTF loader makes (kernel/bpf/btf.c
 * btf_parse: btf_parse_hdr + btf_check_sec_info, btf_parse_str_sec, btf_check_all_metas, btf_check_all_types,
 * btf_check_type_tags), on top of what {@link Btf.parse} already refused (libbpf's checks). Both byte orders
 * are accepted (the kernel only takes its native one). Split BTF (module BTF) is judged on its base, which is
 * validated first; ids and string offsets continue the base's, and its string section need not start with NUL.
 *
 * Where kernels differ, the current kernel's rule is used: `.` is allowed in identifiers, DATASEC names may hold
 * any printable character, identifiers may be KSYM_NAME_LEN (512) bytes long, and DECL_TAG/TYPE_TAG may carry
 * kind_flag (attribute tags) unless {@link ValidateOptions.tagKindFlag} is false.
 */

export interface ValidateOptions {
  /**
   * Accept kind_flag on DECL_TAG and TYPE_TAG (Linux 6.14+ uses it for `__attribute__` tags). Default true;
   * false judges as kernels before 6.14 do.
   */
  tagKindFlag?: boolean;
  /**
   * Stop after the per-type checks (what the kernel itself runs on vmlinux and module BTF at boot) and skip
   * resolution (what it runs on BTF loaded with BPF_BTF_LOAD). Default false.
   */
  skipResolve?: boolean;
}

/** What a successful validation found. */
export interface ValidationResult {
  /** Types this blob defines (not counting its base). */
  types: number;
  /** First own type id. */
  startId: number;
  /** The pointer size the member checks assumed (from the size of `long`, like libbpf; default 8). */
  pointerSize: number;
}

/** Contexts of validated blobs, so a base shared by many module BTFs is resolved once. */
const validated = new WeakMap<Btf, ValidationContext>();

/**
 * Judges `btf` as strictly as the kernel's BTF loader. Throws the first {@link BtfError} found, with a stable
 * code, the type id or byte offset, and a lowercase reason (`type [1234]: invalid referenced type id 99`).
 * Never recurses over type references (a loop ends in BTF_TYPE_LOOP), and respects `btf.limits.maxResolveDepth`.
 */
export function validateBtf(btf: Btf, opts: ValidateOptions = {}): ValidationResult {
  const ctx = validateContext(btf, opts);
  return { types: btf.ownTypeCount, startId: btf.startId, pointerSize: ctx.ptrSize };
}

function validateContext(btf: Btf, opts: ValidateOptions): ValidationContext {
  const done = validated.get(btf);
  if (done && !opts.skipResolve) return done;
  let baseCtx: ValidationContext | undefined;
  if (btf.base) {
    try {
      baseCtx = validateContext(btf.base, { ...opts, skipResolve: false });
    } catch (err) {
      if (err instanceof BtfError) {
        throw new BtfError(BtfErrorCode.BadBase, `base btf is not valid: ${err.message}`, { typeId: err.typeId, offset: err.offset });
      }
      throw err;
    }
  }
  try {
    checkHeader(btf);
    checkStrings(btf);
    if (!btf.base && btf.header.typeLen === 0) {
      throw new BtfError(BtfErrorCode.BadSection, 'type section is empty (no types)', { offset: 12 });
    }
    const ctx = new ValidationContext(btf, baseCtx);
    if (!baseCtx) ctx.ptrSize = guessPointerSize(ctx);
    checkAllMetas(ctx, { tagKindFlag: opts.tagKindFlag ?? true });
    if (opts.skipResolve) return ctx;
    new Resolver(ctx, btf.limits.maxResolveDepth).checkAllTypes();
    checkTypeTags(ctx);
    validated.set(btf, ctx);
    return ctx;
  } catch (err) {
    if (err instanceof BtfError) throw err;
    // A read past a record would be a validator bug; report it as a typed error all the same.
    throw new BtfError(BtfErrorCode.OutOfBounds, `unexpected read failure while validating: ${(err as Error).message}`);
  }
}

/**
 * btf_parse_hdr + btf_check_sec_info: flags are zero, there is data after the header, and the sections (type,
 * string, and the layout section when the header has one) tile the data exactly: sorted by offset, the first
 * starts right after the header, each starts where the previous ended (no gap, no overlap), and the last ends
 * at the end of the blob (nothing unknown after it).
 */
function checkHeader(btf: Btf): void {
  const h = btf.header;
  const size = btf.bytes.length;
  if (h.flags !== 0) throw new BtfError(BtfErrorCode.BadHeader, `unsupported header flags 0x${h.flags.toString(16)} (must be 0)`, { offset: 3 });
  if (!btf.base && size === h.hdrLen) throw new BtfError(BtfErrorCode.BadHeader, 'no data after the btf header', { offset: 4 });
  if (h.hdrLen > BTF_HEADER_MIN_LEN && h.hdrLen < BTF_HEADER_LAYOUT_LEN) {
    for (let off = BTF_HEADER_MIN_LEN; off < h.hdrLen; off++) {
      if (btf.bytes[off] !== 0) throw new BtfError(BtfErrorCode.BadHeader, `unsupported btf header: unknown non-zero byte at ${off}`, { offset: off });
    }
  }
  const secs: { name: string; off: number; len: number; field: number }[] = [
    { name: 'type', off: h.typeOff, len: h.typeLen, field: 8 },
    { name: 'string', off: h.strOff, len: h.strLen, field: 16 },
  ];
  if (h.hdrLen >= BTF_HEADER_LAYOUT_LEN && (h.layoutOff !== 0 || h.layoutLen !== 0)) {
    secs.push({ name: 'layout', off: h.layoutOff, len: h.layoutLen, field: 24 });
  }
  secs.sort((a, b) => a.off - b.off || a.len - b.len);
  const expected = size - h.hdrLen;
  let total = 0;
  for (const s of secs) {
    if (s.off > expected) throw new BtfError(BtfErrorCode.BadSection, `${s.name} section offset ${s.off} lies past the data (${expected} bytes)`, { offset: s.field });
    if (total < s.off) throw new BtfError(BtfErrorCode.BadSection, `gap of ${s.off - total} bytes before the ${s.name} section at ${s.off}`, { offset: s.field });
    if (total > s.off) throw new BtfError(BtfErrorCode.BadSection, `${s.name} section at ${s.off} overlaps the section before it (which ends at ${total})`, { offset: s.field });
    if (expected - total < s.len) throw new BtfError(BtfErrorCode.BadSection, `${s.name} section length ${s.len} runs past the data`, { offset: s.field + 4 });
    total += s.len;
  }
  if (total !== expected) {
    throw new BtfError(BtfErrorCode.BadSection, `${expected - total} bytes of unknown data after the last section`, { offset: h.hdrLen + total });
  }
  if (h.typeOff % 4 !== 0) throw new BtfError(BtfErrorCode.BadSection, `type section offset ${h.typeOff} is not aligned to 4 bytes`, { offset: 8 });
}

/** btf_parse_str_sec: the string section ends the blob, ends with NUL, starts with NUL (base BTF), fits the offset limit. */
function checkStrings(btf: Btf): void {
  const h = btf.header;
  if (h.strEnd !== btf.bytes.length) {
    throw new BtfError(BtfErrorCode.BadStringSection, `string section ends at ${h.strEnd}, not at the end of the blob (${btf.bytes.length})`, { offset: 16 });
  }
  if (btf.base && h.strLen === 0) return;
  if (h.strLen === 0) throw new BtfError(BtfErrorCode.BadStringSection, 'string section is empty', { offset: 20 });
  if (h.strLen - 1 > BTF_MAX_NAME_OFFSET) {
    throw new BtfError(BtfErrorCode.BadStringSection, `string section of ${h.strLen} bytes is larger than the ${BTF_MAX_NAME_OFFSET + 1}-byte limit`, { offset: 20 });
  }
  if (btf.bytes[h.strEnd - 1] !== 0) throw new BtfError(BtfErrorCode.BadStringSection, 'string section does not end with a nul byte', { offset: h.strEnd - 1 });
  if (!btf.base && btf.bytes[h.strStart] !== 0) throw new BtfError(BtfErrorCode.BadStringSection, 'string section does not start with a nul byte', { offset: h.strStart });
}

/**
 * btf_check_type_tags: every chain of modifiers ends (at most 32 long, no cycle) and, within a chain, type tags
 * come before the other modifiers (`ptr -> type_tag -> const -> int`, never `const -> type_tag`).
 */
function checkTypeTags(ctx: ValidationContext): void {
  let good = ctx.start - 1;
  for (let i = 0; i < ctx.count; i++) {
    const id = ctx.start + i;
    let k = (ctx.info[i] >>> 24) & 0x1f;
    if (!isModifier(k)) continue;
    let inTags = k === K.TYPE_TAG;
    let cur = id;
    let limit = 32;
    while (isModifier(k)) {
      if (limit-- === 0) ctx.fail(BtfErrorCode.TypeLoop, id, 'modifier chain longer than 32 or cyclic');
      if (k === K.TYPE_TAG) {
        if (!inTags) ctx.fail(BtfErrorCode.BadType, id, `type_tag [${cur}] follows a modifier; type tags must precede modifiers`);
      } else inTags = false;
      if (cur <= good) break;
      cur = ctx.sotOf(cur);
      k = ctx.kindOf(cur);
      if (k < 0) ctx.fail(BtfErrorCode.BadTypeRef, id, `invalid referenced type id ${cur}`);
    }
    good = id;
  }
}

function isModifier(k: number): boolean {
  return k === K.TYPEDEF || k === K.VOLATILE || k === K.CONST || k === K.RESTRICT || k === K.TYPE_TAG;
}

const LONG_NAMES = new Set(['long', 'long int', 'long signed int', 'signed long', 'signed long int', 'unsigned long', 'unsigned long int', 'long unsigned int']);

/** libbpf determine_ptr_size: the size of an INT named like `long` (4 or 8), else 8. */
function guessPointerSize(ctx: ValidationContext): number {
  const { dv, le, btf } = ctx;
  for (let i = 0; i < ctx.count; i++) {
    if (((ctx.info[i] >>> 24) & 0x1f) !== K.INT) continue;
    const size = ctx.sot[i];
    if (size !== 4 && size !== 8) continue;
    // Read the short name straight from the bytes: building the section's text for one lookup costs more.
    const off = dv.getUint32(btf.offsets[i], le);
    const at = btf.strings.locate(off);
    if (at < 0) continue;
    const src = btf.strings.bytesAt(off);
    const end = src.indexOf(0, at);
    if (end < 0 || end - at > 24) continue;
    if (LONG_NAMES.has(Buffer.from(src.buffer, src.byteOffset + at, end - at).toString('latin1'))) return size;
  }
  return 8;
}
