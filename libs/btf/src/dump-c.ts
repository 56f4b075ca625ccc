/**
 * `bpftool btf dump file FILE format c`: every type of a BTF as one compilable C header (vmlinux.h).
 *
 * Written after bpftool's `dump_btf_c` (tools/bpf/bpftool/btf.c, as shipped in bpftool 7.5 / Linux 6.12), which
 * hands each type to libbpf's BTF-to-C converter (btf-dump.ts), so that the output is byte for byte what
 * bpftool 7.5 prints. This module is bpftool's part:
 *
 * - Header and footer: the `__VMLINUX_H__` guard, the `preserve_access_index` pragma behind
 *   `BPF_NO_PRESERVE_ACCESS_INDEX`, the `__ksym` / `__weak` macros, and the `BPF kfuncs` section (`extern` prototypes
 *   of every FUNC carrying a `bpf_kfunc` DECL_TAG, in type-id order, behind `BPF_NO_KFUNC_PROTOTYPES`).
 * - Order: bpftool sorts the type ids (anonymous enums, named enums, ints and floats, named structs and unions,
 *   typedefs of function prototypes, then the rest; by name within a rank; ties broken by a hash of the names
 *   and member types) and asks libbpf to dump each; libbpf orders what each needs (btf-dump.ts).
 * - FUNC, VAR, DATASEC and DECL_TAG declare nothing (bpftool's format c dumps no functions or variables, apart
 *   from the kfunc prototypes).
 *
 * Split BTF (a module on its vmlinux) is dumped as bpftool does with `-B`: libbpf sees the base's and the
 * module's types as one id space, so the header holds the module's types and every vmlinux type too.
 */
import type { Btf } from './btf.js';
import { CDumper, MAX_WALK_DEPTH } from './btf-dump.js';
import { BtfError, BtfErrorCode } from './errors.js';
import { BtfKind } from './kinds.js';
import { checkLibbpfSanity } from './sanity.js';
import type { BtfType } from './types.js';

/** Options of {@link dumpC}. */
export interface DumpCOptions {
  /**
   * Sort the types as bpftool >= 7.5 does (default true). `false` dumps them in type-id order, like
   * `bpftool btf dump file FILE format c unsorted` and every bpftool before 7.5.
   */
  sort?: boolean;
  /** Emit the `BPF kfuncs` section (default true; bpftool 7.5 always does, bpftool 7.1 never does). */
  kfuncs?: boolean;
  /**
   * Largest header produced, in UTF-16 code units. Default: {@link defaultMaxCOutput}, 1 Mi plus 8 per byte of
   * BTF (base included), at most 64 Mi (a kernel's header is 2 to 3 Mi from 4 to 6 MB of BTF). Hostile BTF can
   * ask for gigabytes (a 4 GiB struct is padded with `long: 64;` lines; nested anonymous structs are written out
   * wherever they are used): past this, BTF_LIMIT_EXCEEDED. Scaling with the input keeps a 7 KB blob from
   * taking seconds to write a 46 MB header.
   */
  maxOutputLength?: number;
  /**
   * How a TYPE_TAG with kind_flag set (an attribute tag, Linux 6.14+: `address_space(1)` on the arena kfuncs of
   * 6.18+ kernels) is spelled. Default false: as bpftool 7.5 (libbpf 1.5) spells every type tag,
   * `__attribute__((btf_type_tag("address_space(1)")))`, so the header stays byte-identical to bpftool 7.5's.
   * true: as libbpf 1.6+ spells it, the attribute itself, `__attribute__((address_space(1)))`.
   */
  typeTagAttributes?: boolean;
}

/** Ceiling of the default {@link DumpCOptions.maxOutputLength}. */
export const DEFAULT_MAX_C_OUTPUT = 64 * 1024 * 1024;

/** The default {@link DumpCOptions.maxOutputLength} for `btf`: 1 Mi + 8 per byte of its BTF and its base's, at most 64 Mi. */
export function defaultMaxCOutput(btf: Btf): number {
  return Math.min(DEFAULT_MAX_C_OUTPUT, 1024 * 1024 + 8 * (btf.bytes.length + (btf.base?.bytes.length ?? 0)));
}

const { FUNC: K_FUNC, DECL_TAG: K_DECL_TAG } = BtfKind;

/** bpftool's rank of types it sorts last. */
const MAX_RANK = 10;

const HEADER =
  '#ifndef __VMLINUX_H__\n' +
  '#define __VMLINUX_H__\n' +
  '\n' +
  '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n' +
  '#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n' +
  '#endif\n\n' +
  '#ifndef __ksym\n' +
  '#define __ksym __attribute__((section(".ksyms")))\n' +
  '#endif\n\n' +
  '#ifndef __weak\n' +
  '#define __weak __attribute__((weak))\n' +
  '#endif\n\n';

const FOOTER =
  '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n' +
  '#pragma clang attribute pop\n' +
  '#endif\n' +
  '\n' +
  '#endif /* __VMLINUX_H__ */\n';

/**
 * The C header bpftool 7.5 prints for `bpftool btf dump file FILE format c` (with `-B BASE` when `btf` is split
 * BTF), as one string. Throws {@link BtfError}: what libbpf refuses when it opens BTF (bad name offsets, type ids
 * out of range), and BTF_TYPE_LOOP for a type cycle no forward declaration can break.
 */
export function dumpC(btf: Btf, opts: DumpCOptions = {}): string {
  try {
    return dumpCUnchecked(btf, opts);
  } catch (err) {
    // The limits above stop hostile BTF first; should one be missed, the engine's own limits (string length,
    // call stack) still end as a typed error, not a crash.
    if (err instanceof RangeError || (err as NodeJS.ErrnoException).code === 'ERR_STRING_TOO_LONG') {
      throw new BtfError(BtfErrorCode.LimitExceeded, `c header exceeds what this process can build: ${(err as Error).message}`);
    }
    throw err;
  }
}

function dumpCUnchecked(btf: Btf, opts: DumpCOptions): string {
  if (btf.base) checkLibbpfSanity(btf.base);
  checkLibbpfSanity(btf);
  const d = new CDumper(btf, opts.maxOutputLength ?? defaultMaxCOutput(btf));
  d.typeTagAttributes = opts.typeTagAttributes ?? false;
  d.out = HEADER;
  d.flush();
  const n = btf.nextId;
  if (opts.sort ?? true) {
    const order = sortedIds(d, btf);
    // bpftool walks its sorted array from index 1, as if index 0 still held void; the type sorted first is
    // dumped only when another type needs it (in practice void never sorts first). Kept for byte-identity.
    for (let i = 1; i < n; i++) d.dumpType(order[i]);
  } else {
    for (let id = 1; id < n; id++) d.dumpType(id);
  }
  if (opts.kfuncs ?? true) dumpKfuncs(d);
  d.out += FOOTER;
  return d.finish();
}

/** The ids 0..n-1 in bpftool's sort_btf_c order (rank, then sort name, then own name, then hash, then id). */
function sortedIds(d: CDumper, btf: Btf): Uint32Array {
  const n = d.n;
  const keys = new SortKeys(d);
  // the string offsets of each id's sort name (at 2 * id) and own name (at 2 * id + 1); void's are 0
  const nameOffs = new Uint32Array(2 * n);
  for (let id = 1; id < n; id++) {
    nameOffs[2 * id] = keys.sortNameOff(id, false, 0);
    nameOffs[2 * id + 1] = d.t(id).nameOff;
  }
  // Names become their ranks in strcmp order, so that one number orders rank, sort name and own name.
  const offs = uniqueSorted(nameOffs);
  const { ranks, count } = rankNames(btf, offs);
  const nameRank = (off: number): number => {
    let lo = 0;
    let hi = offs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (offs[mid] < off) lo = mid + 1;
      else hi = mid;
    }
    return ranks[lo];
  };
  const scale = 2 ** Math.max(1, Math.ceil(Math.log2(count + 1)));
  const key = new Float64Array(n);
  for (let id = 0; id < n; id++) {
    key[id] = (keys.typeRank(id, false, 0) * scale + nameRank(nameOffs[2 * id])) * scale + nameRank(nameOffs[2 * id + 1]);
  }
  const hashes = new DisambigHashes(d);
  const ids = new Uint32Array(n);
  for (let i = 0; i < n; i++) ids[i] = i;
  ids.sort((a, b) => {
    const r = key[a] - key[b];
    if (r !== 0) return r;
    const h = hashes.compare(a, b);
    return h !== 0 ? h : a - b;
  });
  return ids;
}

/** The distinct values of `a`, ascending. */
function uniqueSorted(a: Uint32Array): Uint32Array {
  const s = Uint32Array.from(a).sort();
  let k = 0;
  for (let i = 0; i < s.length; i++) if (i === 0 || s[i] !== s[k - 1]) s[k++] = s[i];
  return s.subarray(0, k);
}

/**
 * The rank of each string at `offs` in strcmp order (unsigned bytes, compared in the string sections
 * themselves; equal strings, equal ranks), and the number of distinct strings.
 */
function rankNames(btf: Btf, offs: Uint32Array): { ranks: Uint32Array; count: number } {
  const strings = btf.strings;
  const m = offs.length;
  const pos = new Int32Array(m);
  // for split BTF, the strings of the base live in another buffer
  const bufs: Uint8Array[] = [];
  const bufOf = new Uint8Array(m);
  // the first 6 bytes (NUL-padded) as one number decide most comparisons
  const prefix = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const off = offs[i];
    const b = strings.bytesAt(off);
    let k = bufs.indexOf(b);
    if (k < 0) k = bufs.push(b) - 1;
    bufOf[i] = k;
    const p = strings.locate(off); // in range: checkLibbpfSanity checked every name offset
    pos[i] = p;
    let v = 0;
    let ended = p < 0;
    for (let j = 0; j < 6; j++) {
      const c = ended ? 0 : b[p + j];
      if (c === 0) ended = true;
      v = v * 256 + c;
    }
    prefix[i] = v;
  }
  const cmp = (x: number, y: number): number => {
    const r = prefix[x] - prefix[y];
    if (r !== 0) return r;
    if (pos[x] < 0 || pos[y] < 0) return 0;
    const bx = bufs[bufOf[x]];
    const by = bufs[bufOf[y]];
    let i = pos[x];
    let j = pos[y];
    for (let k = 0; k < 6; k++, i++, j++) if (bx[i] === 0) return 0;
    for (;;) {
      const a = bx[i++];
      const b = by[j++];
      if (a !== b) return a - b;
      if (a === 0) return 0;
    }
  };
  const idx = new Uint32Array(m);
  for (let i = 0; i < m; i++) idx[i] = i;
  idx.sort(cmp);
  const ranks = new Uint32Array(m);
  let rank = 0;
  for (let i = 0; i < m; i++) {
    if (i > 0 && cmp(idx[i - 1], idx[i]) !== 0) rank++;
    ranks[idx[i]] = rank;
  }
  return { ranks, count: m === 0 ? 0 : rank + 1 };
}

/**
 * bpftool's btf_type_disambig_hash, the tie-breaker between types of equal rank and names: a 64-bit
 * `h * 31 + x` hash of the type's name, its enumerators' names, or its members' names and types (one level
 * deep), through modifiers and arrays. Computed only for ties; kept as two 32-bit halves.
 */
class DisambigHashes {
  private readonly hi: Uint32Array;
  private readonly lo: Uint32Array;
  private readonly done: Uint8Array;
  private rh = 0;
  private rl = 0;

  constructor(private readonly d: CDumper) {
    const n = d.n;
    this.hi = new Uint32Array(2 * n);
    this.lo = new Uint32Array(2 * n);
    this.done = new Uint8Array(2 * n);
  }

  /** Orders `a` and `b` by their full hashes (members included), as unsigned 64-bit numbers. */
  compare(a: number, b: number): number {
    this.hash(a, true, 0);
    const ah = this.rh;
    const al = this.rl;
    this.hash(b, true, 0);
    if (ah !== this.rh) return ah < this.rh ? -1 : 1;
    if (al !== this.rl) return al < this.rl ? -1 : 1;
    return 0;
  }

  /** h = h * 31 + (vh:vl), modulo 2^64. */
  private mix(vh: number, vl: number): void {
    const lo = this.rl * 31 + vl;
    const carry = Math.floor(lo / 4294967296);
    this.rl = lo - carry * 4294967296;
    this.rh = (this.rh * 31 + vh + carry) % 4294967296;
  }

  /** Mixes libbpf's str_hash of `name` (h = h * 31 + c over its bytes, c a signed char) into the hash. */
  private mixName(nameOff: number, name: string): void {
    if (nameOff === 0) return;
    const saveH = this.rh;
    const saveL = this.rl;
    this.rh = 0;
    this.rl = 0;
    let ascii = true;
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      if (c >= 0x80) {
        ascii = false;
        break;
      }
      this.mix(0, c);
    }
    if (!ascii) {
      this.rh = 0;
      this.rl = 0;
      for (const byte of Buffer.from(name, 'utf8')) {
        if (byte < 0x80) this.mix(0, byte);
        else this.mix(0xffffffff, (byte - 256) >>> 0);
      }
    }
    const strH = this.rh;
    const strL = this.rl;
    this.rh = saveH;
    this.rl = saveL;
    this.mix(strH, strL);
  }

  /** Leaves the hash of `id` in (rh, rl). */
  private hash(id: number, members: boolean, depth: number): void {
    const slot = 2 * id + (members ? 1 : 0);
    if (this.done[slot]) {
      this.rh = this.hi[slot];
      this.rl = this.lo[slot];
      return;
    }
    if (depth > MAX_WALK_DEPTH) throw new BtfError(BtfErrorCode.TypeLoop, `type chain is deeper than ${MAX_WALK_DEPTH} references at type [${id}] (a reference cycle?)`, { typeId: id });
    this.rh = 0;
    this.rl = 0;
    if (id !== 0) {
      const t = this.d.t(id);
      this.mixName(t.nameOff, t.name);
      switch (t.kind) {
        case 'ENUM': case 'ENUM64':
          for (const v of t.values) this.mixName(v.nameOff, v.name);
          break;
        case 'STRUCT': case 'UNION':
          if (!members) break;
          for (const m of t.members) {
            this.mixName(m.nameOff, m.name);
            this.mixHashOf(m.type, false, depth);
          }
          break;
        case 'TYPE_TAG': case 'CONST': case 'PTR': case 'VOLATILE': case 'RESTRICT': case 'TYPEDEF': case 'DECL_TAG':
          this.mixHashOf(t.type, members, depth);
          break;
        case 'ARRAY':
          this.mix(0, t.nelems);
          this.mixHashOf(t.type, members, depth);
          break;
        default:
          break;
      }
    }
    this.hi[slot] = this.rh;
    this.lo[slot] = this.rl;
    this.done[slot] = 1;
  }

  private mixHashOf(id: number, members: boolean, depth: number): void {
    const h = this.rh;
    const l = this.rl;
    this.hash(id, members, depth + 1);
    const th = this.rh;
    const tl = this.rl;
    this.rh = h;
    this.rl = l;
    this.mix(th, tl);
  }
}

/**
 * bpftool's sort keys (btf.c btf_type_rank, btf_type_sort_name), memoized for the ids where they depend on the id
 * alone (reached through a reference, or named).
 */
class SortKeys {
  /** Sort name offsets of ids reached through a reference: -1 until computed. */
  private readonly refSortName: Int32Array;
  /** Ranks of ids that have a name (their own or a referrer's): -1 until computed. */
  private readonly namedRank: Int8Array;

  constructor(private readonly d: CDumper) {
    this.refSortName = new Int32Array(d.n).fill(-1);
    this.namedRank = new Int8Array(d.n).fill(-1);
  }

  typeRank(id: number, hasName: boolean, depth: number): number {
    if (id === 0) return MAX_RANK;
    if (depth > MAX_WALK_DEPTH) throw chainTooDeep(id);
    const t = this.d.t(id);
    if (t.nameOff !== 0) hasName = true;
    if (!hasName) return this.rankOf(t, false, depth);
    if (this.namedRank[id] < 0) this.namedRank[id] = this.rankOf(t, true, depth);
    return this.namedRank[id];
  }

  private rankOf(t: BtfType, hasName: boolean, depth: number): number {
    switch (t.kind) {
      case 'ENUM': case 'ENUM64':
        return hasName ? 1 : 0;
      case 'INT': case 'FLOAT':
        return 2;
      case 'STRUCT': case 'UNION':
        return hasName ? 3 : MAX_RANK;
      case 'FUNC_PROTO':
        return hasName ? 4 : MAX_RANK;
      case 'ARRAY':
      case 'TYPE_TAG': case 'CONST': case 'PTR': case 'VOLATILE': case 'RESTRICT': case 'TYPEDEF': case 'DECL_TAG':
        return hasName ? this.typeRank(t.type, hasName, depth + 1) : MAX_RANK;
      default:
        return MAX_RANK;
    }
  }

  /** The string offset of the name bpftool sorts `id` by (btf_type_sort_name). */
  sortNameOff(id: number, fromRef: boolean, depth: number): number {
    if (id === 0) return 0;
    if (depth > MAX_WALK_DEPTH) throw chainTooDeep(id);
    if (!fromRef) return this.sortNameOffOf(id, false, depth);
    if (this.refSortName[id] < 0) this.refSortName[id] = this.sortNameOffOf(id, true, depth);
    return this.refSortName[id];
  }

  private sortNameOffOf(id: number, fromRef: boolean, depth: number): number {
    const t = this.d.t(id);
    switch (t.kind) {
      case 'ENUM': case 'ENUM64':
        // An anonymous enum sorts by its first enumerator, unless reached through a reference.
        return !fromRef && t.nameOff === 0 && t.values.length > 0 ? t.values[0].nameOff : t.nameOff;
      case 'ARRAY':
      case 'TYPE_TAG': case 'CONST': case 'PTR': case 'VOLATILE': case 'RESTRICT': case 'TYPEDEF': case 'DECL_TAG':
        return this.sortNameOff(t.type, true, depth + 1);
      default:
        return t.nameOff;
    }
  }
}

/** `extern` prototypes of the FUNCs tagged `bpf_kfunc`, in type-id order (bpftool 7.5 dump_btf_kfuncs). */
function dumpKfuncs(d: CDumper): void {
  d.out += '\n/* BPF kfuncs */\n#ifndef BPF_NO_KFUNC_PROTOTYPES\n';
  for (let id = 1; id < d.n; id++) {
    if (d.kindOf(id) !== K_DECL_TAG) continue;
    const tag = d.t(id) as { componentIdx: number; name: string; type: number };
    if (tag.componentIdx !== -1 || tag.name !== 'bpf_kfunc') continue;
    if (d.kindOf(tag.type) !== K_FUNC) continue;
    const fn = d.t(tag.type) as { name: string; type: number };
    d.out += 'extern ';
    d.emitTypeDecl(fn.type, fn.name, 0);
    d.out += ' __weak __ksym;\n';
    d.flush();
  }
  d.out += '#endif\n\n';
}

function chainTooDeep(id: number): BtfError {
  return new BtfError(BtfErrorCode.TypeLoop, `type chain is deeper than ${MAX_WALK_DEPTH} references at type [${id}] (a reference cycle?)`, { typeId: id });
}
