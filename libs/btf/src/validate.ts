import { Btf } from './btf.js';
import { longSizeOf } from './long-size.js';
import { BtfError, BtfErrorCode } from './errors.js';
import { BTF_HEADER_LAYOUT_LEN } from './header.js';
import { BTF_MAX_NAME_OFFSET, K, ValidationContext, checkAllMetas } from './validate-meta.js';
import { checkAllTypes } from './validate-resolve.js';

/**
 * Kernel-strict validation of parsed BTF: the checks the Linux kernel's BTF loader makes when BTF is loaded
 * with BPF_BTF_LOAD (kernel/bpf/btf.c btf_parse: btf_parse_hdr + btf_check_sec_info, btf_parse_str_sec,
 * btf_parse_layout_sec, btf_parse_type_sec = btf_check_all_metas + btf_check_all_types, btf_check_type_tags),
 * on top of what {@link Btf.parse} already refused (libbpf's checks). Both byte orders are accepted (the kernel
 * only takes its native one). Split BTF (module BTF) is judged on its base, which is validated first; ids and
 * string offsets continue the base's, and its string section need not start with NUL.
 *
 * The rules are those of the newest kernel: `.` is allowed in identifiers, DATASEC names may hold any printable
 * character, identifiers may be KSYM_NAME_LEN (512) bytes long, a 32-byte header may describe a layout section
 * (and the string section then need not end the blob), and DECL_TAG/TYPE_TAG may carry kind_flag (attribute
 * tags, Linux 6.14) unless {@link ValidateOptions.tagKindFlag} is false.
 */

export interface ValidateOptions {
  /**
   * Accept kind_flag on DECL_TAG and TYPE_TAG (Linux 6.14+ encodes `__attribute__((...))` tags with it).
   * Default true; false judges as kernels before 6.14 do, which refuse kind_flag on both kinds.
   */
  tagKindFlag?: boolean;
  /**
   * Run only what the kernel itself runs on vmlinux and module BTF at boot (btf_parse_base / btf_parse_module:
   * header, string section, per-type checks, type-tag chains) and skip what it adds for BTF loaded with
   * BPF_BTF_LOAD (layout section, non-empty type section, resolution of every reference). Default false.
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
    if (!opts.skipResolve) {
      checkLayoutSection(btf);
      if (!btf.base && btf.header.typeLen === 0) {
        throw new BtfError(BtfErrorCode.BadSection, 'type section is empty (no types)', { offset: 12 });
      }
    }
    const ctx = new ValidationContext(btf, baseCtx);
    checkAllMetas(ctx, { tagKindFlag: opts.tagKindFlag ?? true });
    // libbpf determine_ptr_size: the size of `long`, else 8 (the kernel itself uses its own sizeof(void *)).
    if (!baseCtx) ctx.ptrSize = longSizeOf(btf) ?? 8;
    if (!opts.skipResolve) checkAllTypes(ctx, btf.limits.maxResolveDepth);
    checkTypeTags(ctx);
    // A split blob's tables are views of its base's scratch tables, rewritten by the next split blob: never kept.
    if (!opts.skipResolve && !ctx.sharesBaseTables) validated.set(btf, ctx);
    return ctx;
  } catch (err) {
    if (err instanceof BtfError) throw err;
    // A read past a record would be a validator bug; report it as a typed error all the same.
    throw new BtfError(BtfErrorCode.OutOfBounds, `unexpected read failure while validating: ${(err as Error).message}`);
  }
}

/**
 * btf_parse_hdr + btf_check_sec_info: flags are zero, there is data after the header (base BTF), and the
 * sections tile the data exactly: sorted by offset (then length), the first starts right after the header,
 * each starts where the previous ended (no gap, no overlap), and the last ends at the end of the blob. The
 * layout section counts only when the header is the full 32-byte one and layout_len is not 0. Header bytes
 * past the fields the kernel knows must be zero (checked by {@link Btf.parse}); bytes of a shorter header are
 * not looked at.
 */
function checkHeader(btf: Btf): void {
  const h = btf.header;
  const size = btf.bytes.length;
  if (h.flags !== 0) throw new BtfError(BtfErrorCode.BadHeader, `unsupported header flags 0x${h.flags.toString(16)} (must be 0)`, { offset: 3 });
  if (!btf.base && size === h.hdrLen) throw new BtfError(BtfErrorCode.BadHeader, 'no data after the btf header', { offset: 4 });
  const secs: { name: string; off: number; len: number; field: number }[] = [
    { name: 'type', off: h.typeOff, len: h.typeLen, field: 8 },
    { name: 'string', off: h.strOff, len: h.strLen, field: 16 },
  ];
  if (h.hdrLen >= BTF_HEADER_LAYOUT_LEN && h.layoutLen !== 0) {
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
}

/**
 * btf_parse_str_sec: the string section ends the blob (unless a full 32-byte header may put the layout section
 * after it), ends with NUL, starts with NUL (base BTF), and fits the offset limit; split BTF may have none.
 */
function checkStrings(btf: Btf): void {
  const h = btf.header;
  if (h.hdrLen < BTF_HEADER_LAYOUT_LEN && h.strEnd !== btf.bytes.length) {
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

/** Size of one layout-section entry (struct btf_layout: info_sz u8, elem_sz u8, flags u16). */
const BTF_LAYOUT_ENTRY_SIZE = 4;

/**
 * btf_parse_layout_sec (kernels with the layout section): when a full header has a non-empty layout section,
 * its offset is 4-byte aligned and its length a non-zero multiple of the entry size. The kernel still refuses
 * kinds it does not know, whatever the layout says (checked per type).
 */
function checkLayoutSection(btf: Btf): void {
  const h = btf.header;
  if (h.hdrLen < BTF_HEADER_LAYOUT_LEN || h.layoutLen === 0) return;
  if (h.layoutOff % 4 !== 0) throw new BtfError(BtfErrorCode.BadSection, `layout section offset ${h.layoutOff} is not aligned to 4 bytes`, { offset: 24 });
  if (h.layoutLen < BTF_LAYOUT_ENTRY_SIZE || h.layoutLen % BTF_LAYOUT_ENTRY_SIZE !== 0) {
    throw new BtfError(BtfErrorCode.BadSection, `layout section length ${h.layoutLen} is not a multiple of ${BTF_LAYOUT_ENTRY_SIZE}`, { offset: 28 });
  }
}

/**
 * btf_check_type_tags: every chain of modifiers ends (at most 32 long, no cycle) and, within a chain, type tags
 * come before the other modifiers (`ptr -> type_tag -> const -> int`, never `const -> type_tag`). A chain that
 * reaches a type already checked stops there.
 */
function checkTypeTags(ctx: ValidationContext): void {
  const { kinds, sots } = ctx;
  let good = ctx.start - 1;
  for (let id = ctx.start; id < ctx.next; id++) {
    let k = kinds[id];
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
      cur = sots[cur];
      k = ctx.kindOf(cur);
      if (k < 0) ctx.fail(BtfErrorCode.BadTypeRef, id, `invalid referenced type id ${cur}`);
    }
    good = id;
  }
}

function isModifier(k: number): boolean {
  return k === K.TYPEDEF || k === K.VOLATILE || k === K.CONST || k === K.RESTRICT || k === K.TYPE_TAG;
}

/**
 * A tiny validated blob kept for the life of the process. V8 keeps an object's hidden class alive only while
 * some object has it, and throws away the optimized code built on it when it dies. Parsed blobs and validation
 * contexts die with their validation, so without an object holding their classes every full GC between two
 * validations (an ingest worker's normal life) dropped the optimized validator, and the next kernel ran in
 * the interpreter: 50 ms instead of 17 on a 6.12 vmlinux. The blob holds one `int`. (Assigned in a function,
 * so that it lives in the module's context: a constant only used while the module loads would be collected.)
 */
let hiddenClassAnchor: Btf | undefined;

function anchorHiddenClasses(): void {
  hiddenClassAnchor = Btf.parse(new Uint8Array([
    0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 16, 0, 0, 0, 5, 0, 0, 0, // header: types 0+16, strings 16+5
    1, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 32, 0, 0, 1, // [1] INT 'int' size 4, 32 bits, signed
    0, 0x69, 0x6e, 0x74, 0, // "\0int\0"
  ]));
  validateBtf(hiddenClassAnchor);
}
anchorHiddenClasses();
