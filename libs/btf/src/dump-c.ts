/**
 * `bpftool btf dump file FILE format c`: every type of a BTF as one compilable C header (vmlinux.h).
 *
 * Written after libbpf's BTF-to-C converter (src/btf_dump.c, `btf_dump__dump_type` and friends) and bpftool's
 * `dump_btf_c` (tools/bpf/bpftool/btf.c, as shipped in bpftool 7.5 / Linux 6.12), so that the output is byte for
 * byte what bpftool 7.5 prints:
 *
 * - Header and footer: the `__VMLINUX_H__` guard, the `preserve_access_index` pragma behind
 *   `BPF_NO_PRESERVE_ACCESS_INDEX`, the `__ksym` / `__weak` macros, and the `BPF kfuncs` section (`extern` prototypes
 *   of every FUNC carrying a `bpf_kfunc` DECL_TAG, in type-id order, behind `BPF_NO_KFUNC_PROTOTYPES`).
 * - Order: bpftool sorts the type ids (anonymous enums, named enums, ints and floats, named structs and unions,
 *   typedefs of function prototypes, then the rest; by name within a rank) and asks libbpf to dump each; libbpf
 *   orders the dependencies of each with a depth-first topological sort whose edges are *strong* (the
 *   dependency must be complete: embedded by value, or reached through anonymous types) or *weak* (a pointer to a
 *   named type: a forward declaration is enough), and emits forward declarations where a cycle needs one.
 * - Names: a second struct/union/enum of the same name is written `NAME___2` (then `___3`, …); typedefs and
 *   enumerators share one namespace and are renamed the same way. Forward declarations and empty enums keep
 *   their names.
 * - Definitions: anonymous structs, unions and enums are written inline where they are used; bitfields keep
 *   their widths; a struct whose members are not naturally aligned (or whose size is not a multiple of its
 *   alignment) is `__attribute__((packed))`; holes are filled with anonymous bitfields (`long: 64;`,
 *   `int: 0;`) so that every member lands at its BTF offset; enums of 1 byte get `mode(byte)`, 8-byte ones that
 *   would not be 8 bytes by themselves `mode(word)`; const/volatile of arrays and function prototypes are
 *   dropped (libbpf: GCC emits them spuriously); `__builtin_va_list` is not redefined.
 * - FUNC, VAR, DATASEC and DECL_TAG declare nothing (bpftool's format c dumps no functions or variables, apart
 *   from the kfunc prototypes).
 *
 * Split BTF (a module on its vmlinux) is dumped as bpftool does with `-B`: libbpf sees the base's and the
 * module's types as one id space, so the header holds the module's types and every vmlinux type too.
 *
 * Names are written as decoded UTF-8 (kernel names are ASCII). Hostile BTF cannot loop forever: reference
 * chains are followed to a bounded depth and a cycle raises BTF_TYPE_LOOP, where libbpf would overflow its stack.
 */
import { constants } from 'node:buffer';
import type { Btf } from './btf.js';
import { BtfError, BtfErrorCode } from './errors.js';
import { BtfKind } from './kinds.js';
import { DEFAULT_POINTER_SIZE, longSizeOf } from './layout.js';
import { checkLibbpfSanity } from './sanity.js';
import type { BtfType, CompositeType, EnumType, Enum64Type, FuncProtoType, RefType } from './types.js';

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
   * Largest header produced, in UTF-16 code units (default 64 Mi; a kernel's is 2 to 3 Mi). Hostile BTF can ask
   * for gigabytes (a 4 GiB struct is padded with `long: 64;` lines; nested anonymous structs are written out
   * wherever they are used): past this, BTF_LIMIT_EXCEEDED.
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

/** Default of {@link DumpCOptions.maxOutputLength}. */
export const DEFAULT_MAX_C_OUTPUT = 64 * 1024 * 1024;

// Kind numbers, from the one table (kinds.ts).
const {
  INT: K_INT, PTR: K_PTR, ARRAY: K_ARRAY, STRUCT: K_STRUCT, UNION: K_UNION, ENUM: K_ENUM, FWD: K_FWD, TYPEDEF: K_TYPEDEF,
  VOLATILE: K_VOLATILE, CONST: K_CONST, RESTRICT: K_RESTRICT, FUNC: K_FUNC, FUNC_PROTO: K_FUNC_PROTO, FLOAT: K_FLOAT,
  DECL_TAG: K_DECL_TAG, TYPE_TAG: K_TYPE_TAG, ENUM64: K_ENUM64,
} = BtfKind;

// btf_dump_type_aux_state: order_state (0: not ordered) and emit_state.
const ORDERING = 1;
const ORDERED = 2;
const NOT_EMITTED = 0;
const EMITTING = 1;
const EMITTED = 2;

/** libbpf's MAX_RESOLVE_DEPTH, used by btf__resolve_size. */
const MAX_RESOLVE_DEPTH = 32;
/**
 * Deepest recursion of the ordering and emitting walks, and longest reference chain the sort keys follow. Real
 * kernels reach 9 to 17 (a walk stops at every named type reached through a pointer); each level costs up to
 * three JavaScript frames, so this stays well inside node's stack.
 */
const MAX_WALK_DEPTH = 256;
/**
 * Steps (types entered) the ordering and emitting walks may take per type of the BTF, beyond a fixed allowance.
 * Like libbpf, a walk through pointers, arrays and prototypes does not remember where it has been, so hostile BTF
 * (prototypes of thousands of parameters pointing at each other) can ask for exponentially many steps; real
 * kernels take fewer than 10 per type.
 */
const STEPS_PER_TYPE = 64;
/** bpftool's rank of types it sorts last. */
const MAX_RANK = 10;
const BASE_STEPS = 4_000_000;

/** libbpf pfx(): at most 13 tabs. */
const TABS = '\t\t\t\t\t\t\t\t\t\t\t\t\t';
const PFX: string[] = Array.from({ length: TABS.length + 1 }, (_, i) => TABS.slice(0, i));
function pfx(lvl: number): string {
  return lvl >= TABS.length ? TABS : PFX[lvl];
}

/** GCC's internal ARM SIMD base types (libbpf missing_base_types): aliased when an INT of that name appears. */
const MISSING_BASE_TYPES: Record<string, string> = {
  __Poly8_t: 'unsigned char',
  __Poly16_t: 'unsigned short',
  __Poly64_t: 'unsigned long long',
  __Poly128_t: 'unsigned __int128',
};

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
  const d = new CDumper(btf, opts.maxOutputLength ?? DEFAULT_MAX_C_OUTPUT);
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
  if (opts.kfuncs ?? true) d.dumpKfuncs();
  d.out += FOOTER;
  return d.finish();
}

/** The ids 0..n-1 in bpftool's sort_btf_c order (rank, then sort name, then own name, then hash, then id). */
function sortedIds(d: CDumper, btf: Btf): Uint32Array {
  const n = d.n;
  // the string offsets of each id's sort name (at 2 * id) and own name (at 2 * id + 1); void's are 0
  const nameOffs = new Uint32Array(2 * n);
  for (let id = 1; id < n; id++) {
    nameOffs[2 * id] = d.sortNameOff(id, false, 0);
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
    key[id] = (d.typeRank(id, false, 0) * scale + nameRank(nameOffs[2 * id])) * scale + nameRank(nameOffs[2 * id + 1]);
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

/** A window onto the shared declaration stack (libbpf struct id_stack). */
interface DeclView {
  start: number;
  cnt: number;
}

/** libbpf struct btf_dump, for one dump. */
class CDumper {
  /**
   * The text of the declaration being written. Each finished top-level declaration is flushed into `buf` as
   * UTF-8, so that no rope of a million small strings outlives it (the garbage collector would copy it around).
   */
  out = '';
  private buf = Buffer.allocUnsafe(1 << 22);
  private used = 0;
  readonly n: number;
  readonly ptrSz: number;
  private readonly btf: Btf;
  private readonly types: (BtfType | undefined)[];
  private readonly kinds: Uint8Array;
  private readonly orderState: Uint8Array;
  private readonly emitState: Uint8Array;
  private readonly fwdEmitted: Uint8Array;
  private readonly nameResolved: Uint8Array;
  private readonly referenced: Uint8Array;
  private readonly cachedNames: (string | undefined)[];
  /** struct/union/enum names → occurrences. */
  private readonly typeNames = new Map<string, number>();
  /** typedef names and enumerators → occurrences. */
  private readonly identNames = new Map<string, number>();
  private emitQueue: number[] = [];
  private readonly declStack: number[] = [];
  private declCnt = 0;
  /** btf__align_of memo: 0 unknown yet, otherwise alignment + 1. */
  private readonly alignMemo: Int32Array;
  private depth = 0;
  private steps = 0;
  private readonly maxSteps: number;
  private readonly maxOut: number;
  /** Sort keys that depend on the id alone (reached through a reference / named): -1 until computed. */
  private readonly refSortName: Int32Array;
  private readonly namedRank: Int8Array;

  /** {@link DumpCOptions.typeTagAttributes}. */
  typeTagAttributes = false;

  constructor(btf: Btf, maxOut: number) {
    this.btf = btf;
    // A JavaScript string cannot be longer than MAX_STRING_LENGTH.
    this.maxOut = Math.min(maxOut, constants.MAX_STRING_LENGTH);
    const n = btf.nextId;
    this.n = n;
    this.maxSteps = BASE_STEPS + STEPS_PER_TYPE * n;
    this.refSortName = new Int32Array(n).fill(-1);
    this.namedRank = new Int8Array(n).fill(-1);
    this.types = new Array<BtfType | undefined>(n);
    this.kinds = new Uint8Array(n);
    for (let id = 1; id < n; id++) this.kinds[id] = btf.kindOf(id);
    this.orderState = new Uint8Array(n);
    this.emitState = new Uint8Array(n);
    this.fwdEmitted = new Uint8Array(n);
    this.nameResolved = new Uint8Array(n);
    this.referenced = new Uint8Array(n);
    this.cachedNames = new Array<string | undefined>(n);
    this.alignMemo = new Int32Array(n);
    // VOID is always ordered and emitted.
    this.orderState[0] = ORDERED;
    this.emitState[0] = EMITTED;
    // libbpf btf_dump: btf__pointer_size (the size of `long`), else the host's sizeof(void *).
    this.ptrSz = longSizeOf(btf) ?? DEFAULT_POINTER_SIZE;
    this.markReferenced();
  }

  t(id: number): BtfType {
    let t = this.types[id];
    if (t === undefined) {
      t = this.btf.type(id);
      this.types[id] = t;
    }
    return t;
  }

  /** btf_dump_mark_referenced over every type: anonymous enums nobody references are top-level declarations. */
  private markReferenced(): void {
    const ref = this.referenced;
    for (let id = 1; id < this.n; id++) {
      const t = this.t(id);
      switch (t.kind) {
        case 'PTR': case 'TYPEDEF': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'TYPE_TAG':
        case 'FUNC': case 'VAR': case 'DECL_TAG':
          ref[t.type] = 1;
          break;
        case 'ARRAY':
          ref[t.indexType] = 1;
          ref[t.type] = 1;
          break;
        case 'STRUCT': case 'UNION':
          for (const m of t.members) ref[m.type] = 1;
          break;
        case 'FUNC_PROTO':
          for (const p of t.params) ref[p.type] = 1;
          break;
        case 'DATASEC':
          for (const v of t.vars) ref[v.type] = 1;
          break;
        default:
          break;
      }
    }
  }

  /** One step into type `id`: bounded in depth, in total steps, and in the output written so far. */
  private enter(id: number): void {
    if (++this.depth > MAX_WALK_DEPTH) {
      throw new BtfError(BtfErrorCode.TypeLoop, `type graph is deeper than ${MAX_WALK_DEPTH} levels at type [${id}] (a reference cycle?)`, { typeId: id });
    }
    this.spend(1, id);
    this.checkRoom(0, id);
  }

  /** Counts `n` steps of a walk at type `id` (its members or parameters: most end at once, but not for free). */
  private spend(n: number, id: number): void {
    this.steps += n;
    if (this.steps > this.maxSteps) {
      throw new BtfError(BtfErrorCode.LimitExceeded, `c header needs more than ${this.maxSteps} steps through the type graph at type [${id}]`, { typeId: id });
    }
  }

  // ---- bpftool's sort keys (btf_type_rank, btf_type_sort_name) ----

  typeRank(id: number, hasName: boolean, depth: number): number {
    if (id === 0) return MAX_RANK;
    if (depth > MAX_WALK_DEPTH) throw this.loop(id);
    const t = this.t(id);
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
    if (depth > MAX_WALK_DEPTH) throw this.loop(id);
    if (!fromRef) return this.sortNameOffOf(id, false, depth);
    if (this.refSortName[id] < 0) this.refSortName[id] = this.sortNameOffOf(id, true, depth);
    return this.refSortName[id];
  }

  private sortNameOffOf(id: number, fromRef: boolean, depth: number): number {
    const t = this.t(id);
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

  /** Moves `out` into the byte buffer. */
  flush(): void {
    const s = this.out;
    if (s.length === 0) return;
    if (this.used + 3 * s.length > this.buf.length) {
      const need = this.used + Buffer.byteLength(s, 'utf8');
      if (need > this.buf.length) {
        const grown = Buffer.allocUnsafe(Math.max(need, 2 * this.buf.length));
        this.buf.copy(grown, 0, 0, this.used);
        this.buf = grown;
      }
    }
    this.used += this.buf.write(s, this.used, 'utf8');
    this.out = '';
  }

  /** The whole header. */
  finish(): string {
    this.flush();
    return this.buf.toString('utf8', 0, this.used);
  }

  /** Throws BTF_LIMIT_EXCEEDED when `more` more characters would take the output past its limit. */
  private checkRoom(more: number, id: number): void {
    if (this.used + this.out.length + more > this.maxOut) {
      throw new BtfError(BtfErrorCode.LimitExceeded, `c header of type [${id}] would exceed the ${this.maxOut}-character limit`, { typeId: id });
    }
  }

  private loop(id: number): BtfError {
    return new BtfError(BtfErrorCode.TypeLoop, `type chain is deeper than ${MAX_WALK_DEPTH} references at type [${id}] (a reference cycle?)`, { typeId: id });
  }

  // ---- libbpf btf__align_of, btf__resolve_size ----

  private alignOf(id: number): number {
    const memo = this.alignMemo[id];
    if (memo > 0) return memo - 1;
    if (memo < 0) return 0; // in progress: a cycle through embedded structs (hostile BTF)
    let cur = id;
    let a = 0;
    for (let i = 0; ; i++) {
      if (cur === 0) break;
      if (i > MAX_WALK_DEPTH) throw this.loop(id);
      const k = this.kinds[cur];
      if (k === K_INT || k === K_ENUM || k === K_ENUM64 || k === K_FLOAT) {
        a = Math.min(this.ptrSz, (this.t(cur) as { size: number }).size);
        break;
      }
      if (k === K_PTR) {
        a = this.ptrSz;
        break;
      }
      if (k === K_TYPEDEF || k === K_VOLATILE || k === K_CONST || k === K_RESTRICT || k === K_TYPE_TAG || k === K_ARRAY) {
        cur = (this.t(cur) as RefType).type;
        continue;
      }
      if (k === K_STRUCT || k === K_UNION) {
        if (cur !== id) {
          a = this.alignOf(cur);
          break;
        }
        this.alignMemo[id] = -1;
        a = this.compositeAlign(this.t(cur) as CompositeType);
        break;
      }
      break; // FWD, FUNC_PROTO, …: libbpf answers 0 ("unsupported")
    }
    this.alignMemo[id] = a + 1;
    return a;
  }

  private compositeAlign(t: CompositeType): number {
    let maxAlign = 1;
    for (const m of t.members) {
      const align = this.alignOf(m.type);
      if (align <= 0) return 0;
      if (align > maxAlign) maxAlign = align;
      // a member off its natural alignment: the struct must be packed
      if (m.bitfieldSize === 0 && m.bitsOffset % (8 * align) !== 0) return 1;
    }
    return t.size % maxAlign !== 0 ? 1 : maxAlign;
  }

  /** libbpf btf__resolve_size; negative on error. */
  private resolveSize(id: number): number {
    let nelems = 1;
    let cur = id;
    for (let i = 0; i < MAX_RESOLVE_DEPTH && cur !== 0; i++) {
      const t = this.t(cur);
      switch (t.kind) {
        case 'INT': case 'STRUCT': case 'UNION': case 'ENUM': case 'ENUM64': case 'DATASEC': case 'FLOAT':
          return nelems * t.size > 0xffffffff ? -1 : nelems * t.size;
        case 'PTR':
          return nelems * this.ptrSz > 0xffffffff ? -1 : nelems * this.ptrSz;
        case 'TYPEDEF': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'VAR': case 'DECL_TAG': case 'TYPE_TAG':
          cur = t.type;
          break;
        case 'ARRAY':
          if (nelems !== 0 && t.nelems > Math.floor(0xffffffff / nelems)) return -1;
          nelems *= t.nelems;
          cur = t.type;
          break;
        default:
          return -1;
      }
    }
    return -1;
  }

  // ---- libbpf btf_dump_order_type ----

  dumpType(id: number): void {
    this.emitQueue = [];
    this.orderType(id, false);
    for (const q of this.emitQueue) this.emitType(q, 0);
    this.flush();
  }

  /** Returns 1 for a strong link, 0 for a weak one (a forward declaration will do). */
  private orderType(id: number, throughPtr: boolean): number {
    const state = this.orderState[id];
    if (state === ORDERED) return 1;
    const t = this.t(id);
    if (state === ORDERING) {
      // a loop, resolvable through a forward declaration
      if ((t.kind === 'STRUCT' || t.kind === 'UNION') && throughPtr && t.nameOff !== 0) return 0;
      throw new BtfError(BtfErrorCode.TypeLoop, `unsatisfiable type cycle at type [${id}]`, { typeId: id });
    }
    this.enter(id);
    try {
      switch (t.kind) {
        case 'INT': case 'FLOAT':
          this.orderState[id] = ORDERED;
          return 0;
        case 'PTR': {
          const r = this.orderType(t.type, true);
          this.orderState[id] = ORDERED;
          return r;
        }
        case 'ARRAY':
          return this.orderType(t.type, false);
        case 'STRUCT': case 'UNION': {
          // part of a strong link only when embedded (no pointer on the way) or anonymous (defined inline)
          if (throughPtr && t.nameOff !== 0) return 0;
          this.orderState[id] = ORDERING;
          this.spend(t.members.length, id);
          for (const m of t.members) this.orderType(m.type, false);
          if (t.nameOff !== 0) this.emitQueue.push(id);
          this.orderState[id] = ORDERED;
          return 1;
        }
        case 'ENUM': case 'ENUM64': case 'FWD':
          // named or unreferenced enums are top-level declarations
          if (t.nameOff !== 0 || this.referenced[id] === 0) this.emitQueue.push(id);
          this.orderState[id] = ORDERED;
          return 1;
        case 'TYPEDEF': {
          const strong = this.orderType(t.type, throughPtr);
          if (throughPtr && strong === 0) return 0;
          this.emitQueue.push(id);
          this.orderState[id] = ORDERED;
          return 1;
        }
        case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'TYPE_TAG':
          return this.orderType(t.type, throughPtr);
        case 'FUNC_PROTO': {
          this.spend(t.params.length, id);
          let strong = this.orderType(t.returnType, throughPtr) > 0;
          for (const p of t.params) if (this.orderType(p.type, throughPtr) > 0) strong = true;
          return strong ? 1 : 0;
        }
        default: // FUNC, VAR, DATASEC, DECL_TAG
          this.orderState[id] = ORDERED;
          return 0;
      }
    } finally {
      this.depth--;
    }
  }

  // ---- libbpf btf_dump_emit_type ----

  private emitType(id: number, contId: number): void {
    const state = this.emitState[id];
    if (state === EMITTED) return;
    const t = this.t(id);
    if (state === EMITTING) {
      if (this.fwdEmitted[id]) return;
      if (t.kind === 'STRUCT' || t.kind === 'UNION') {
        // referencing the struct we are inside of: no forward declaration needed
        if (id === contId) return;
        if (t.nameOff === 0) return; // anonymous struct/union loop: libbpf warns and goes on
        this.emitStructFwd(id, t);
        this.out += ';\n\n';
        this.fwdEmitted[id] = 1;
      } else if (t.kind === 'TYPEDEF') {
        // the typedef, usable through pointers only, before its target is complete
        if (t.name !== '__builtin_va_list') {
          this.emitTypedefDef(id, t, 0);
          this.out += ';\n\n';
        }
        this.fwdEmitted[id] = 1;
      }
      return;
    }
    this.enter(id);
    try {
      switch (t.kind) {
        case 'INT': {
          // libbpf resolves (and so counts) the name of every INT it emits
          const name = this.typeName(id);
          if (Object.hasOwn(MISSING_BASE_TYPES, name)) this.out += `typedef ${MISSING_BASE_TYPES[name]} ${name};\n\n`;
          this.emitState[id] = EMITTED;
          break;
        }
        case 'ENUM': case 'ENUM64':
          if (contId === 0) {
            this.emitEnumDef(id, t, 0);
            this.out += ';\n\n';
          }
          this.emitState[id] = EMITTED;
          break;
        case 'PTR': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'TYPE_TAG':
          this.emitType(t.type, contId);
          break;
        case 'ARRAY':
          this.emitType(t.type, contId);
          break;
        case 'FWD':
          this.out += `${t.fwdKind} ${this.typeName(id)};\n\n`;
          this.emitState[id] = EMITTED;
          break;
        case 'TYPEDEF':
          this.emitState[id] = EMITTING;
          this.emitType(t.type, id);
          // someone may have needed the typedef as a forward declaration meanwhile
          if (!this.fwdEmitted[id] && t.name !== '__builtin_va_list') {
            this.emitTypedefDef(id, t, 0);
            this.out += ';\n\n';
          }
          this.emitState[id] = EMITTED;
          break;
        case 'STRUCT': case 'UNION': {
          this.emitState[id] = EMITTING;
          // a definition (top level, or anonymous and so inline) needs what its members need
          if (contId === 0 || t.nameOff === 0) {
            const newCont = t.nameOff === 0 ? contId : id;
            this.spend(t.members.length, id);
            for (const m of t.members) this.emitType(m.type, newCont);
          } else if (!this.fwdEmitted[id] && id !== contId) {
            this.emitStructFwd(id, t);
            this.out += ';\n\n';
            this.fwdEmitted[id] = 1;
          }
          if (contId === 0) {
            this.emitStructDef(id, t, 0);
            this.out += ';\n\n';
            this.emitState[id] = EMITTED;
          } else {
            this.emitState[id] = NOT_EMITTED;
          }
          break;
        }
        case 'FUNC_PROTO':
          this.spend(t.params.length, id);
          this.emitType(t.returnType, contId);
          for (const p of t.params) this.emitType(p.type, contId);
          break;
        default:
          break;
      }
    } finally {
      this.depth--;
    }
  }

  // ---- names (btf_dump_resolve_name) ----

  private nameDups(map: Map<string, number>, name: string): number {
    const n = (map.get(name) ?? 0) + 1;
    map.set(name, n);
    return n;
  }

  private resolveName(id: number, map: Map<string, number>): string {
    const t = this.t(id);
    if (t.nameOff === 0) return '';
    if (this.nameResolved[id]) return this.cachedNames[id] ?? t.name;
    this.nameResolved[id] = 1;
    if (t.kind === 'FWD' || (t.kind === 'ENUM' && t.values.length === 0)) return t.name;
    const dups = this.nameDups(map, t.name);
    if (dups > 1) {
      // libbpf formats into a 256-byte buffer
      const renamed = truncateUtf8(`${t.name}___${dups}`, 255);
      this.cachedNames[id] = renamed;
      return renamed;
    }
    return t.name;
  }

  private typeName(id: number): string {
    return this.resolveName(id, this.typeNames);
  }

  private identName(id: number): string {
    return this.resolveName(id, this.identNames);
  }

  // ---- definitions ----

  private emitStructFwd(id: number, t: CompositeType): void {
    this.out += `${t.kind === 'STRUCT' ? 'struct' : 'union'}${t.nameOff !== 0 ? ' ' : ''}${this.typeName(id)}`;
  }

  /** libbpf btf_is_struct_packed. */
  private isStructPacked(t: CompositeType): boolean {
    let maxAlign = 1;
    for (const m of t.members) {
      const align = this.alignOf(m.type);
      if (align !== 0 && m.bitfieldSize === 0 && m.bitsOffset % (8 * align) !== 0) return true;
      if (align > maxAlign) maxAlign = align;
    }
    return t.size % maxAlign !== 0;
  }

  private emitStructDef(id: number, t: CompositeType, lvl: number): void {
    const isStruct = t.kind === 'STRUCT';
    const align = this.alignOf(id);
    const packed = isStruct ? this.isStructPacked(t) : false;
    this.out += `${isStruct ? 'struct' : 'union'}${t.nameOff !== 0 ? ' ' : ''}${this.typeName(id)} {`;
    let off = 0;
    let prevBitfield = false;
    const members = t.members;
    const inner = pfx(lvl + 1);
    for (let i = 0; i < members.length; i++) {
      const m = members[i];
      this.checkRoom(0, id);
      const mSz = m.bitfieldSize;
      const mOff = m.bitsOffset;
      const mAlign = packed ? 1 : this.alignOf(m.type);
      const inBitfield = prevBitfield && mSz !== 0;
      this.emitBitPadding(id, off, mOff, mAlign, inBitfield, lvl + 1);
      this.out += '\n' + inner;
      this.emitTypeDecl(m.type, m.name, lvl + 1);
      if (mSz !== 0) {
        this.out += `: ${mSz}`;
        off = mOff + mSz;
        prevBitfield = true;
      } else {
        off = mOff + Math.max(0, this.resolveSize(m.type)) * 8;
        prevBitfield = false;
      }
      this.out += ';';
    }
    // pad at the end
    if (isStruct) this.emitBitPadding(id, off, t.size * 8, align, false, lvl + 1);
    // `struct empty {}` stays on one line
    this.out += members.length > 0 || t.size > 0 ? `\n${pfx(lvl)}}` : '}';
    if (packed) this.out += ' __attribute__((packed))';
  }

  /**
   * libbpf btf_dump_emit_bit_padding: fills [cur, next) bits with anonymous bitfields, relying on natural
   * alignment where it does the job.
   */
  private emitBitPadding(id: number, cur: number, next: number, nextAlign: number, inBitfield: boolean, lvl: number): void {
    if (cur >= next) return;
    // at least one `\n<tabs>long: 64;` line (10 characters and the tabs) per 64 bits
    this.checkRoom(Math.floor((next - cur) / (this.ptrSz * 8)) * (10 + Math.min(lvl, TABS.length)), id);
    const longBits = this.ptrSz * 8;
    const padNames = ['long', 'int', 'short', 'char'];
    const padBitsOf = [longBits, 32, 16, 8];
    let padBits = 0;
    let padType = '';
    let newOff = 0;
    // the largest of long/int/short/char whose boundary does not pass the next member
    for (let i = 0; i < 4; i++) {
      padBits = padBitsOf[i];
      padType = padNames[i];
      newOff = roundUp(cur, padBits);
      if (newOff <= next) break;
    }
    const p = pfx(lvl);
    if (newOff > cur && newOff <= next) {
      // an explicit `<type>: 0` when natural alignment would not bring the next member there, or when the
      // `<type>: X` that follows would fit in the remaining hole; bitfields get their exact bit count
      if (
        inBitfield ||
        (newOff === next && (nextAlign === 0 || roundUp(cur, nextAlign * 8) !== newOff)) ||
        (newOff !== next && next - newOff <= newOff - cur)
      ) {
        this.out += `\n${p}${padType}: ${inBitfield ? newOff - cur : 0};`;
      }
      cur = newOff;
    }
    // the rest: whole `<type>: sizeof` markers, the last one as small as it can be
    while (cur !== next) {
      const bits = Math.min(next - cur, padBits);
      if (bits === padBits) {
        this.out += `\n${p}${padType}: ${padBits};`;
        cur += bits;
        continue;
      }
      for (let i = 3; i >= 0; i--) {
        padType = padNames[i];
        padBits = padBitsOf[i];
        if (padBits < bits) continue;
        this.out += `\n${p}${padType}: ${bits};`;
        cur += bits;
        break;
      }
    }
  }

  private emitEnumDef(id: number, t: EnumType | Enum64Type, lvl: number): void {
    this.out += `enum${t.nameOff !== 0 ? ' ' : ''}${this.typeName(id)}`;
    const vlen = t.values.length;
    if (vlen === 0) return;
    this.out += ' {';
    const p = pfx(lvl + 1);
    const suffix = t.kind === 'ENUM' ? '' : t.signed ? 'LL' : 'ULL';
    for (const v of t.values) {
      this.checkRoom(v.name.length + 48, id);
      const dups = this.nameDups(this.identNames, v.name);
      this.out += dups > 1 ? `\n${p}${v.name}___${dups} = ${v.value}${suffix},` : `\n${p}${v.name} = ${v.value}${suffix},`;
    }
    this.out += `\n${pfx(lvl)}}`;
    if (t.size === 1) {
      this.out += ' __attribute__((mode(byte)))';
    } else if (t.size === 8 && this.ptrSz === 8) {
      // an 8-byte enum is 8 bytes by itself only when a value needs the upper 32 bits
      let needsWordMode = true;
      if (t.kind === 'ENUM64') {
        for (const v of t.values) {
          if (BigInt.asUintN(64, v.value) >> 32n !== 0n) {
            needsWordMode = false;
            break;
          }
        }
      }
      if (needsWordMode) this.out += ' __attribute__((mode(word)))';
    }
  }

  private emitTypedefDef(id: number, t: RefType, lvl: number): void {
    const name = this.identName(id);
    // old GCC emits __gnuc_va_list as a typedef of void
    if (t.type === 0 && name === '__gnuc_va_list') {
      this.out += 'typedef __builtin_va_list __gnuc_va_list';
      return;
    }
    this.out += 'typedef ';
    this.emitTypeDecl(t.type, name, lvl);
  }

  // ---- declarators (btf_dump_emit_type_decl, btf_dump_emit_type_chain) ----

  /** Writes a declaration of `fname` with type `id`: the chain of modifiers down to a named (or inline) type. */
  private emitTypeDecl(id: number, fname: string, lvl: number): void {
    const start = this.declCnt;
    const stack = this.declStack;
    let steps = 0;
    for (;;) {
      if (++steps > MAX_WALK_DEPTH) throw this.loop(id);
      stack[this.declCnt++] = id;
      if (id === 0) break;
      const k = this.kinds[id];
      if (k === K_PTR || k === K_VOLATILE || k === K_CONST || k === K_RESTRICT || k === K_TYPE_TAG) {
        id = (this.t(id) as RefType).type;
      } else if (k === K_FUNC_PROTO) {
        id = (this.t(id) as FuncProtoType).returnType;
      } else if (k === K_ARRAY) {
        id = (this.t(id) as { type: number }).type;
      } else {
        break; // INT, ENUM, ENUM64, FWD, STRUCT, UNION, TYPEDEF, FLOAT end the chain; others are unexpected
      }
    }
    this.enter(id);
    try {
      this.emitTypeChain({ start, cnt: this.declCnt - start }, fname, lvl);
    } finally {
      this.depth--;
      this.declCnt = start;
    }
  }

  /** Writes `volatile `/`const `/`restrict ` for the qualifiers on top of the view. */
  private emitMods(v: DeclView): void {
    while (v.cnt > 0) {
      const k = this.kinds[this.declStack[v.start + v.cnt - 1]];
      if (k === K_VOLATILE) this.out += 'volatile ';
      else if (k === K_CONST) this.out += 'const ';
      else if (k === K_RESTRICT) this.out += 'restrict ';
      else return;
      v.cnt--;
    }
  }

  /** Drops qualifiers and type tags on top of the view. */
  private dropMods(v: DeclView): void {
    while (v.cnt > 0) {
      const k = this.kinds[this.declStack[v.start + v.cnt - 1]];
      if (k !== K_VOLATILE && k !== K_CONST && k !== K_RESTRICT && k !== K_TYPE_TAG) return;
      v.cnt--;
    }
  }

  private emitName(name: string, lastWasPtr: boolean): void {
    this.out += name !== '' && !lastWasPtr ? ` ${name}` : name;
  }

  private emitTypeChain(v: DeclView, fname: string, lvl: number): void {
    // `int ***`, not `int * * *`; true at first for a lone pointer before a prototype: `(*name)`
    let lastWasPtr = true;
    const stack = this.declStack;
    while (v.cnt > 0) {
      const id = stack[v.start + --v.cnt];
      if (id === 0) {
        this.emitMods(v);
        this.out += 'void';
        lastWasPtr = false;
        continue;
      }
      const k = this.kinds[id];
      switch (k) {
        case K_INT: case K_FLOAT:
          this.emitMods(v);
          this.out += this.t(id).name;
          break;
        case K_STRUCT: case K_UNION: {
          this.emitMods(v);
          const t = this.t(id) as CompositeType;
          // anonymous structs and unions are defined inline
          if (t.nameOff === 0) this.emitStructDef(id, t, lvl);
          else this.emitStructFwd(id, t);
          break;
        }
        case K_ENUM: case K_ENUM64: {
          this.emitMods(v);
          const t = this.t(id) as EnumType | Enum64Type;
          if (t.nameOff === 0) this.emitEnumDef(id, t, lvl);
          else this.out += `enum ${this.typeName(id)}`;
          break;
        }
        case K_FWD: {
          this.emitMods(v);
          const t = this.t(id) as { fwdKind: string };
          this.out += `${t.fwdKind} ${this.typeName(id)}`;
          break;
        }
        case K_TYPEDEF:
          this.emitMods(v);
          this.out += this.identName(id);
          break;
        case K_PTR:
          this.out += lastWasPtr ? '*' : ' *';
          break;
        case K_VOLATILE:
          this.out += ' volatile';
          break;
        case K_CONST:
          this.out += ' const';
          break;
        case K_RESTRICT:
          this.out += ' restrict';
          break;
        case K_TYPE_TAG: {
          this.emitMods(v);
          const t = this.t(id);
          this.out += t.kindFlag && this.typeTagAttributes ? ` __attribute__((${t.name}))` : ` __attribute__((btf_type_tag("${t.name}")))`;
          break;
        }
        case K_ARRAY: {
          const nelems = (this.t(id) as { nelems: number }).nelems;
          // const/volatile of an array (a GCC quirk) are dropped
          this.dropMods(v);
          if (v.cnt === 0) {
            this.emitName(fname, lastWasPtr);
            this.out += `[${nelems}]`;
            return;
          }
          const multidim = this.kinds[stack[v.start + v.cnt - 1]] === K_ARRAY;
          if (fname !== '' && !lastWasPtr) this.out += ' ';
          if (!multidim) this.out += '(';
          this.emitTypeChain(v, fname, lvl);
          if (!multidim) this.out += ')';
          this.out += `[${nelems}]`;
          return;
        }
        case K_FUNC_PROTO: {
          const t = this.t(id) as FuncProtoType;
          // GCC's volatile on noreturn function pointers is dropped too
          this.dropMods(v);
          if (v.cnt > 0) {
            this.out += ' (';
            this.emitTypeChain(v, fname, lvl);
            this.out += ')';
          } else {
            this.emitName(fname, lastWasPtr);
          }
          this.out += '(';
          const params = t.params;
          const vlen = params.length;
          if (vlen === 0 || (vlen === 1 && params[0].type === 0)) {
            this.out += 'void)';
            return;
          }
          for (let i = 0; i < vlen; i++) {
            if (i > 0) this.out += ', ';
            // a last parameter of type void is the ellipsis
            if (i === vlen - 1 && params[i].type === 0) {
              this.out += '...';
              break;
            }
            this.emitTypeDecl(params[i].type, params[i].name, lvl);
          }
          this.out += ')';
          return;
        }
        default:
          // FUNC, VAR, DATASEC, DECL_TAG in a declarator: libbpf warns and stops
          return;
      }
      lastWasPtr = k === K_PTR;
    }
    this.emitName(fname, lastWasPtr);
  }

  // ---- bpftool dump_btf_kfuncs ----

  /** `extern` prototypes of the FUNCs tagged `bpf_kfunc`, in type-id order (bpftool 7.5). */
  dumpKfuncs(): void {
    this.out += '\n/* BPF kfuncs */\n#ifndef BPF_NO_KFUNC_PROTOTYPES\n';
    for (let id = 1; id < this.n; id++) {
      if (this.kinds[id] !== K_DECL_TAG) continue;
      const tag = this.t(id) as { componentIdx: number; name: string; type: number };
      if (tag.componentIdx !== -1 || tag.name !== 'bpf_kfunc') continue;
      if (this.kinds[tag.type] !== K_FUNC) continue;
      const fn = this.t(tag.type) as { name: string; type: number };
      this.out += 'extern ';
      this.emitTypeDecl(fn.type, fn.name, 0);
      this.out += ' __weak __ksym;\n';
      this.flush();
    }
    this.out += '#endif\n\n';
  }
}

function roundUp(x: number, y: number): number {
  return Math.ceil(x / y) * y;
}

/** `s` cut to at most `maxBytes` UTF-8 bytes (snprintf into libbpf's 256-byte buffer). */
function truncateUtf8(s: string, maxBytes: number): string {
  if (s.length <= maxBytes / 3) return s;
  const b = Buffer.from(s, 'utf8');
  return b.length <= maxBytes ? s : b.subarray(0, maxBytes).toString('utf8');
}
