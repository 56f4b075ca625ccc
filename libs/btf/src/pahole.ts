/**
 * `pahole -C NAME` on BTF: the text pahole (dwarves, v1.30) prints for a struct, union, enum or typedef, byte for
 * byte. The rules are pahole's (dwarves_fprintf.c `__class__fprintf`, `class_member__fprintf`, `union__fprintf`,
 * `type__fprintf`, `__tag__name`; dwarves.c `class__find_holes`, `class__infer_packed_attributes`; btf_loader.c
 * `class__fixup_btf_bitfields`, `class__infer_alignment`), restated over this package's BTF model:
 *
 * - Types are named as pahole names them, which is not C's spelling: a qualifier keeps a trailing space
 *   (`const struct cred  *`), a float is `single float`, type tags are dropped, a
 *   multi-dimensional array lists its dimensions innermost first (BTF nests one ARRAY per dimension), and pahole's
 *   fixed name buffers (128 bytes for most names) truncate very long spellings.
 * - Members are laid out as pahole's BTF loader does: a bitfield of an integer or enum type is shown at the byte
 *   offset of its storage unit plus a bit number; every member's `__attribute__((__aligned__(N)))` is *inferred*
 *   from the gap before it (BTF has no alignment), as is a struct's own.
 * - Holes, bit holes, padding, "last struct has …" notes of struct-typed members, cacheline boundaries (64 bytes)
 *   and the closing statistics follow pahole's bookkeeping, including its integer widths (a hole count is 8 bits,
 *   padding 16).
 * - Whether a struct prints `__attribute__((__packed__))` is decided as pahole decides it, which depends on what
 *   was printed before in the same run (a union or a struct with holes marks member structs it finds at unnatural
 *   offsets as packed): each call here is one pahole run.
 *
 * `pahole -C NAME` prints the *first* struct, union, enum or typedef named NAME in type-id order (forward
 * declarations skipped), even when BTF holds several definitions of the name; {@link paholeByName} does the same,
 * and can print every definition instead.
 *
 * Every walk is bounded: hostile BTF with reference cycles raises BTF_TYPE_LOOP, never a stack overflow.
 */
import type { Btf } from './btf.js';
import { BtfError, BtfErrorCode } from './errors.js';
import { BtfKind } from './kinds.js';
import { detectPointerSize } from './layout.js';
import type { BtfType, CompositeType, FuncProtoType } from './types.js';

const K = BtfKind;

/** Options of the pahole formatter. */
export interface PaholeOptions {
  /** Cacheline size in bytes (pahole's `--cacheline_size`; it defaults to the host's, 64 on the machines the oracles come from). */
  cachelineSize?: number;
}

/** Options of {@link paholeByName}. */
export interface PaholeByNameOptions extends PaholeOptions {
  /**
   * Print every definition of the name, one after the other, each as `pahole` prints one, instead of only the
   * first (which is all `pahole -C NAME` prints). Default false.
   */
  all?: boolean;
  /** Only definitions of these kinds (for `struct foo` / `union foo` lookups). Default: struct, union, enum, typedef. */
  kinds?: readonly PaholeKind[];
}

/** The kinds `pahole -C` prints: what {@link paholeDefinitions} finds. */
export type PaholeKind = 'struct' | 'union' | 'enum' | 'typedef';

const DEFAULT_KINDS: readonly PaholeKind[] = ['struct', 'union', 'enum', 'typedef'];

/** The kind pahole's -C lookup (`cu__find_type_by_name`) sees a type as, or undefined when it skips it. */
function paholeKindOf(kind: number): PaholeKind | undefined {
  switch (kind) {
    case K.STRUCT: return 'struct';
    case K.UNION: return 'union';
    case K.ENUM: case K.ENUM64: return 'enum';
    case K.TYPEDEF: return 'typedef';
    default: return undefined;
  }
}

/**
 * Ids of every struct, union, enum and typedef named `name` (forward declarations left out), in type-id order,
 * base types first for split BTF: the definitions `pahole -C NAME` chooses among (it prints the first).
 */
export function paholeDefinitions(btf: Btf, name: string, kinds: readonly PaholeKind[] = DEFAULT_KINDS): number[] {
  const out: number[] = [];
  for (let id = 1; id < btf.nextId; id++) {
    const pk = paholeKindOf(btf.kindOf(id));
    if (pk === undefined || !kinds.includes(pk)) continue;
    const t = btf.type(id);
    if (t.nameOff !== 0 && t.name === name) out.push(id);
  }
  return out;
}

/**
 * What `pahole -C NAME` prints for this BTF (for split BTF: `pahole --btf_base BASE -C NAME`): the first struct,
 * union, enum or typedef named `name`, as {@link paholeType} prints it; '' when there is none (pahole prints
 * nothing). With `all`, every definition, in type-id order.
 */
export function paholeByName(btf: Btf, name: string, opts: PaholeByNameOptions = {}): string {
  const ids = paholeDefinitions(btf, name, opts.kinds ?? DEFAULT_KINDS);
  if (ids.length === 0) return '';
  if (!opts.all) return paholeType(btf, ids[0], opts);
  return ids.map((id) => paholeType(btf, id, opts)).join('');
}

/**
 * What one `pahole -C NAME1,NAME2,…` run prints: the first definition of each name, in the order given, all in one
 * run (so a struct marked packed while printing an earlier one stays packed, as in pahole). Names with no
 * definition are skipped (pahole stops at the first; with `--skip_missing` it skips them too).
 */
export function paholeByNames(btf: Btf, names: readonly string[], opts: PaholeOptions = {}): string {
  const printer = new Printer(btf, opts);
  const first = new Map<string, number>();
  const wanted = new Set(names);
  for (let id = 1; id < btf.nextId && first.size < wanted.size; id++) {
    if (paholeKindOf(btf.kindOf(id)) === undefined) continue;
    const t = btf.type(id);
    if (t.nameOff !== 0 && wanted.has(t.name) && !first.has(t.name)) first.set(t.name, id);
  }
  let out = '';
  for (const name of names) {
    const id = first.get(name);
    if (id !== undefined) out += printer.topLevel(id) + '\n\n';
  }
  return out;
}

/**
 * The text pahole prints for type `id` (a struct, union, enum or typedef; `id` may be a base type of a split BTF)
 * as the one type of a `pahole -C` run: the definition, `;`, and the blank line pahole ends it with. Throws
 * {@link BtfError}: BTF_BAD_TYPE_REF when `id` is out of range or of another kind, BTF_TYPE_LOOP for reference
 * cycles.
 */
export function paholeType(btf: Btf, id: number, opts: PaholeOptions = {}): string {
  const k = btf.kindOf(id);
  if (paholeKindOf(k) === undefined) {
    throw new BtfError(BtfErrorCode.BadTypeRef, `type [${id}] is a ${btf.kindNameOf(id)}, not a struct, union, enum or typedef`, { typeId: id });
  }
  return new Printer(btf, opts).topLevel(id) + '\n\n';
}

/** `paholeType` under the name the catalog and CLI use for structs. */
export const paholeStruct = paholeType;

// ---------------------------------------------------------------------------------------------------------------
// pahole's model of a type, computed from BTF as its loader does (pure: cached per Btf).

/** A struct/union member as pahole's BTF loader leaves it (btf_loader.c create_members + class__fixup_btf_bitfields). */
interface PMember {
  /** null when the BTF name offset is 0. */
  name: string | null;
  type: number;
  bitOffset: number;
  bitfieldSize: number;
  byteOffset: number;
  byteSize: number;
  bitSize: number;
  bitfieldOffset: number;
  alignment: number;
}

interface PLayout {
  members: PMember[];
  /** The alignment inferred for the struct/union itself (0: natural). */
  alignment: number;
}

/** class__find_holes, with pahole's field widths. */
interface PHoles {
  preHole: number;
  preBitHole: number;
  padding: number;
  bitPadding: number;
  nrHoles: number;
  nrBitHoles: number;
  hole: number[];
  bitHole: number[];
}

interface PureCache {
  cacheline: number;
  addrSize: number;
  layouts: Map<number, PLayout>;
  holes: Map<number, PHoles>;
  natural: Map<number, number>;
  flex: Map<number, boolean>;
  embFlex: Map<number, boolean>;
}

const pureCaches = new WeakMap<Btf, PureCache[]>();

function pureCacheOf(btf: Btf, cacheline: number): PureCache {
  let list = pureCaches.get(btf);
  if (!list) pureCaches.set(btf, (list = []));
  let c = list.find((x) => x.cacheline === cacheline);
  if (!c) {
    // libbpf btf__pointer_size: 0 when the BTF does not tell.
    c = { cacheline, addrSize: detectPointerSize(btf) ?? 0, layouts: new Map(), holes: new Map(), natural: new Map(), flex: new Map(), embFlex: new Map() };
    list.push(c);
  }
  return c;
}

/** Most nested steps of any walk (type chains, nested anonymous types, structs by value). */
const MAX_DEPTH = 256;

/** printf `%-*s`: left-justified in |w| columns. */
function left(s: string, w: number): string {
  return s.padEnd(Math.abs(w));
}

/** printf `%*s` / `%*u`: right-justified in w columns, left-justified in -w when w is negative. */
function right(s: string, w: number): string {
  return w < 0 ? s.padEnd(-w) : s.padStart(w);
}

/** What `snprintf` leaves in a buffer of `len` bytes. */
function fit(s: string, len: number): string {
  return s.length < len ? s : s.slice(0, len - 1);
}

const TABS = 16;
function tabs(n: number): string {
  return '\t'.repeat(Math.max(0, Math.min(n, TABS)));
}

/** Shared "current cacheline" of one outermost type, as pahole's conf->cachelinep. */
interface CachelineRef {
  v: number;
}

/** The parts of pahole's `struct conf_fprintf` that printing changes as it nests. */
interface Conf {
  typeSpacing: number;
  nameSpacing: number;
  indent: number;
  cachelinep: CachelineRef | null;
  baseOffset: number;
  relOffset: boolean;
  lastMember: boolean;
  firstMember: boolean;
  unionMember: boolean;
  prefix: string | null;
  suffix: string | null;
  emitStats: boolean;
}

/** Counters of "last struct has …" notes (struct member_types_holes). */
interface MemberTypesHoles {
  nrPaddings: number;
  nrWithBitPaddings: number;
  nrWithHoles: number;
  nrWithBitHoles: number;
  totalNrHoles: number;
  totalNrBitHoles: number;
  nrFlexibleArrayMembers: number;
  nrEmbeddedFlexibleArrayMembers: number;
  sumPaddings: number;
  sumBitPaddings: number;
}

/** One pahole run: pure layout caches shared per Btf, plus the packed-attribute state a run accumulates. */
class Printer {
  private readonly pure: PureCache;
  private readonly cl: number;
  private readonly addr: number;
  /** class->type.packed_attributes_inferred / type->packed_attributes_inferred, per type id. */
  private readonly inferred = new Set<number>();
  /** class->is_packed, per struct id. */
  private readonly packed = new Set<number>();
  private depth = 0;

  constructor(private readonly btf: Btf, opts: PaholeOptions) {
    this.cl = opts.cachelineSize ?? 64;
    if (!Number.isInteger(this.cl) || this.cl <= 0 || this.cl > 0xffff) {
      throw new BtfError(BtfErrorCode.LimitExceeded, `cacheline size ${opts.cachelineSize} is not an integer from 1 to 65535`);
    }
    this.pure = pureCacheOf(btf, this.cl);
    this.addr = this.pure.addrSize;
  }

  // --- bounded recursion -------------------------------------------------------------------------------------

  private enter(id: number): void {
    if (++this.depth > MAX_DEPTH) {
      throw new BtfError(BtfErrorCode.TypeLoop, `types nest deeper than ${MAX_DEPTH} levels (a reference cycle?) at type [${id}]`, { typeId: id });
    }
  }

  private leave(): void {
    this.depth--;
  }

  // --- the tag model -----------------------------------------------------------------------------------------

  /** cu__type: undefined for void (0). */
  private t(id: number): BtfType | undefined {
    return id === 0 ? undefined : this.btf.type(id);
  }

  private kind(id: number): number {
    return id === 0 ? 0 : this.btf.kindOf(id);
  }

  /** tag__is_struct (FWD of a struct is a declared struct). */
  private isStruct(id: number): boolean {
    const k = this.kind(id);
    return k === K.STRUCT || (k === K.FWD && !this.btf.type(id).kindFlag);
  }

  /** tag__is_union. */
  private isUnion(id: number): boolean {
    const k = this.kind(id);
    return k === K.UNION || (k === K.FWD && this.btf.type(id).kindFlag);
  }

  private isEnum(id: number): boolean {
    const k = this.kind(id);
    return k === K.ENUM || k === K.ENUM64;
  }

  /** type__name: null when the name offset is 0. */
  private nameOf(id: number): string | null {
    const t = this.btf.type(id);
    return t.nameOff === 0 ? null : t.name;
  }

  /** tag->type: what a reference kind, an array or a prototype points at; 0 otherwise. */
  private ref(id: number): number {
    const t = this.btf.type(id);
    switch (t.kind) {
      case 'PTR': case 'TYPEDEF': case 'CONST': case 'VOLATILE': case 'RESTRICT': case 'TYPE_TAG': case 'ARRAY':
        return t.type;
      case 'FUNC_PROTO':
        return t.returnType;
      default:
        return 0;
    }
  }

  private members(id: number): CompositeType['members'] {
    const t = this.btf.type(id);
    return t.kind === 'STRUCT' || t.kind === 'UNION' ? t.members : [];
  }

  /** tag__strip_typedefs_and_modifiers applied to a tag whose ->type is `id`: typedefs and const/volatile/restrict (not type tags). */
  private strip(id: number): number {
    let steps = 0;
    while (id !== 0) {
      const k = this.btf.kindOf(id);
      if (k !== K.TYPEDEF && k !== K.CONST && k !== K.VOLATILE && k !== K.RESTRICT) return id;
      if (++steps > MAX_DEPTH) throw new BtfError(BtfErrorCode.TypeLoop, `typedef/modifier chain longer than ${MAX_DEPTH} at type [${id}]`, { typeId: id });
      id = this.ref(id);
    }
    return 0;
  }

  /** base_type__size: bits / 8 (INT: nr_bits; FLOAT: size * 8). */
  private baseSize(t: BtfType): number {
    return t.kind === 'INT' ? t.nrBits >>> 3 : t.kind === 'FLOAT' ? t.size : 0;
  }

  /** Enumeration size in bytes (pahole keeps bits, 32 when BTF says 0). */
  private enumSize(t: BtfType): number {
    return t.kind === 'ENUM' || t.kind === 'ENUM64' ? (t.size === 0 ? 4 : t.size) : 0;
  }

  /** tag__size. */
  private tagSize(id: number): number {
    if (id === 0) return 0;
    const t = this.btf.type(id);
    switch (t.kind) {
      case 'PTR': case 'FUNC_PROTO': return this.addr;
      case 'INT': case 'FLOAT': return this.baseSize(t);
      case 'ENUM': case 'ENUM64': return this.enumSize(t);
      case 'STRUCT': case 'UNION': return t.size === 1 && t.members.length === 0 ? 0 : t.size;
      case 'FWD': return 0;
      case 'TYPEDEF': case 'CONST': case 'VOLATILE': case 'RESTRICT': case 'TYPE_TAG': case 'ARRAY': {
        if (t.type === 0) return 0;
        this.enter(id);
        try {
          const size = this.tagSize(t.type);
          return t.kind === 'ARRAY' ? size * t.nelems : size;
        } finally {
          this.leave();
        }
      }
      default: return 0;
    }
  }

  /** tag__natural_alignment. */
  private natural(id: number): number {
    if (id === 0) return 1;
    const t = this.btf.type(id);
    let a = 1;
    switch (t.kind) {
      case 'PTR': a = this.addr; break;
      case 'INT': case 'FLOAT': a = this.baseSize(t); break;
      case 'ENUM': case 'ENUM64': a = this.enumSize(t); break;
      case 'STRUCT': case 'UNION': case 'FWD': a = this.typeNatural(id); break;
      case 'ARRAY': {
        const elem = this.strip(t.type);
        if (elem !== 0) {
          this.enter(id);
          try {
            a = this.natural(elem);
          } finally {
            this.leave();
          }
        }
        break;
      }
      default: a = 1;
    }
    return a || 1;
  }

  /** type__natural_alignment: the largest natural alignment of the members (0 when none), kept in 16 bits. */
  private typeNatural(id: number): number {
    const hit = this.pure.natural.get(id);
    if (hit !== undefined) return hit;
    let a = 0;
    this.enter(id);
    try {
      for (const m of this.members(id)) {
        const mt = this.strip(m.type);
        if (mt === 0) continue;
        const n = this.natural(mt);
        if (a < n) a = n & 0xffff;
      }
    } finally {
      this.leave();
    }
    this.pure.natural.set(id, a);
    return a;
  }

  /** class__infer_alignment (btf_loader.c). */
  private inferAlignment(byteOffset: number, natural: number, smallestOffset: number): number {
    const delta = (byteOffset - smallestOffset) >>> 0;
    let alignment = 0;
    // 1 << (32 - clz): the power of two above delta. A shift by 32 is a shift by 0 on the machines pahole runs
    // on, as in JavaScript (a "negative" delta thus gives 1, that is no alignment).
    if (delta !== 0 && byteOffset % 2 === 0) alignment = (1 << (32 - Math.clz32(delta))) >>> 0;
    if (alignment <= natural || alignment === 1) return 0;
    if (alignment < this.cl && this.cl % alignment === 0 && byteOffset % this.cl === 0) return this.cl;
    return alignment;
  }

  /** The members of a struct/union as pahole's BTF loader leaves them (class__fixup_btf_bitfields). */
  private layout(id: number): PLayout {
    const hit = this.pure.layouts.get(id);
    if (hit) return hit;
    const t = this.btf.type(id);
    const members: PMember[] = this.members(id).map((m) => ({
      name: m.nameOff === 0 ? null : m.name,
      type: m.type,
      bitOffset: m.bitsOffset,
      bitfieldSize: m.bitfieldSize & 0xff,
      byteOffset: Math.floor(m.bitsOffset / 8),
      byteSize: 0,
      bitSize: 0,
      bitfieldOffset: 0,
      alignment: 0,
    }));
    let smallest = 0;
    this.enter(id);
    try {
      for (const pos of members) {
        const type = this.strip(pos.type);
        if (type === 0) continue;
        pos.byteSize = this.tagSize(type);
        pos.bitSize = pos.byteSize * 8;
        if (pos.byteSize === 0) continue;
        const k = this.btf.kindOf(type);
        if (k === K.INT || k === K.FLOAT || k === K.ENUM || k === K.ENUM64) {
          if (pos.bitfieldSize) {
            pos.byteOffset = Math.floor((Math.floor(pos.bitOffset / pos.bitSize) * pos.bitSize) / 8);
            pos.bitfieldOffset = pos.bitOffset - pos.byteOffset * 8;
          } else {
            pos.byteOffset = Math.floor(pos.bitOffset / 8);
          }
        }
        pos.alignment = this.inferAlignment(pos.byteOffset, this.natural(type), smallest);
        smallest = pos.byteOffset + pos.byteSize;
      }
    } finally {
      this.leave();
    }
    const size = t.kind === 'STRUCT' || t.kind === 'UNION' ? t.size : 0;
    const out = { members, alignment: this.inferAlignment(size, this.natural(id), smallest) };
    this.pure.layouts.set(id, out);
    return out;
  }

  /** class__find_holes (structs only; a union has none). */
  private holes(id: number): PHoles {
    const hit = this.pure.holes.get(id);
    if (hit) return hit;
    const members = this.layout(id).members;
    const h: PHoles = { preHole: 0, preBitHole: 0, padding: 0, bitPadding: 0, nrHoles: 0, nrBitHoles: 0, hole: members.map(() => 0), bitHole: members.map(() => 0) };
    if (!this.isStruct(id)) {
      this.pure.holes.set(id, h);
      return h;
    }
    const t = this.btf.type(id);
    const size = t.kind === 'STRUCT' ? t.size : 0;
    let curBitfieldEnd = size * 8;
    let curBitfieldSize = 0;
    let lastSeenBit = 0;
    let inBitfield = false;
    let last = -1;
    for (let i = 0; i < members.length; i++) {
      const pos = members[i];
      const bitStart = pos.bitOffset;
      const bitEnd = pos.bitfieldSize ? bitStart + pos.bitfieldSize : bitStart + pos.byteSize * 8;
      let bitHoles = 0;
      let byteHoles = 0;
      if (inBitfield) {
        const bitfieldEnd = Math.min(bitStart, curBitfieldEnd);
        bitHoles = (bitfieldEnd - lastSeenBit) | 0;
        lastSeenBit = bitfieldEnd;
      }
      if (pos.bitfieldSize) {
        const alignedStart = pos.byteOffset * 8;
        if (lastSeenBit < alignedStart && alignedStart <= bitStart) {
          byteHoles = (pos.byteOffset - Math.floor(lastSeenBit / 8)) | 0;
          lastSeenBit = alignedStart;
        }
        bitHoles = (bitHoles + bitStart - lastSeenBit) | 0;
      } else {
        byteHoles = (Math.floor(bitStart / 8) - Math.floor(lastSeenBit / 8)) | 0;
      }
      lastSeenBit = bitEnd;
      if (pos.bitfieldSize) {
        inBitfield = true;
        if (bitEnd > curBitfieldEnd || pos.bitSize > curBitfieldSize) {
          curBitfieldSize = pos.bitSize;
          curBitfieldEnd = pos.byteOffset * 8 + curBitfieldSize;
          if (bitEnd > curBitfieldEnd) curBitfieldEnd += curBitfieldSize;
        }
      } else {
        inBitfield = false;
        curBitfieldSize = 0;
        curBitfieldEnd = bitEnd;
      }
      if (last >= 0) {
        h.hole[last] = byteHoles;
        h.bitHole[last] = bitHoles & 0xff;
      } else {
        h.preHole = byteHoles & 0xffff;
        h.preBitHole = bitHoles & 0xff;
      }
      if (bitHoles !== 0) h.nrBitHoles = (h.nrBitHoles + 1) & 0xff;
      if (byteHoles > 0) h.nrHoles = (h.nrHoles + 1) & 0xff;
      last = i;
    }
    if (inBitfield) {
      const bitfieldEnd = Math.min(size * 8, curBitfieldEnd);
      h.bitPadding = (bitfieldEnd - lastSeenBit) & 0xff;
      lastSeenBit = bitfieldEnd;
    }
    h.padding = (size - Math.floor(lastSeenBit / 8)) & 0xffff;
    this.pure.holes.set(id, h);
    return h;
  }

  /** class__has_flexible_array: the last member's own type is an array of 0 elements. */
  private hasFlexibleArray(id: number): boolean {
    const hit = this.pure.flex.get(id);
    if (hit !== undefined) return hit;
    const members = this.members(id);
    let has = false;
    if (members.length > 0) {
      const last = members[members.length - 1].type;
      const t = this.t(last);
      has = t !== undefined && t.kind === 'ARRAY' && t.nelems === 0;
    }
    this.pure.flex.set(id, has);
    return has;
  }

  /** class__has_embedded_flexible_array: a struct member (by value, any depth) ends in a flexible array. */
  private hasEmbeddedFlexibleArray(id: number): boolean {
    if (!this.isStruct(id)) return false;
    const hit = this.pure.embFlex.get(id);
    if (hit !== undefined) return hit;
    let has = false;
    this.enter(id);
    try {
      for (const m of this.members(id)) {
        const mt = this.strip(m.type);
        if (mt === 0 || !this.isStruct(mt)) continue;
        has = this.hasFlexibleArray(mt);
        if (has) break;
        if (mt === id) continue;
        has = this.hasEmbeddedFlexibleArray(mt);
        if (has) break;
      }
    } finally {
      this.leave();
    }
    this.pure.embFlex.set(id, has);
    return has;
  }

  // --- packed attributes: the state of one run ---------------------------------------------------------------

  private markPacked(id: number): void {
    this.packed.add(id);
    this.inferred.add(id);
  }

  /** type__check_structs_at_unnatural_alignments. */
  private checkStructsAtUnnaturalAlignments(id: number): void {
    for (const m of this.layout(id).members) {
      const mt = this.strip(m.type);
      if (mt === 0 || !this.isStruct(mt)) continue;
      if (m.byteOffset % this.natural(mt) !== 0) this.markPacked(mt);
    }
  }

  /** class__infer_packed_attributes. */
  private inferPacked(id: number): boolean {
    if (!this.isStruct(id)) return false;
    if (this.inferred.has(id)) return this.packed.has(id);
    const h = this.holes(id);
    let packed = false;
    if (h.padding !== 0 || h.nrHoles !== 0) {
      this.checkStructsAtUnnaturalAlignments(id);
    } else {
      let maxNatural = 1;
      let misplaced = false;
      for (const m of this.layout(id).members) {
        const na = this.natural(this.strip(m.type));
        if (na === 1) continue;
        if (maxNatural < na) maxNatural = na & 0xffff;
        if (m.byteOffset % na !== 0) {
          misplaced = true;
          break;
        }
      }
      const t = this.btf.type(id);
      const size = t.kind === 'STRUCT' ? t.size : 0;
      packed = misplaced || size % maxNatural !== 0;
    }
    if (packed) this.packed.add(id);
    else this.packed.delete(id);
    this.inferred.add(id);
    return packed;
  }

  /** union__infer_packed_attributes: struct members whose alignment does not divide the union's size are packed. */
  private inferUnionPacked(id: number): void {
    if (this.inferred.has(id)) return;
    const t = this.btf.type(id);
    const size = t.kind === 'UNION' ? t.size : 0;
    for (const m of this.members(id)) {
      const mt = this.strip(m.type);
      if (mt === 0 || !this.isStruct(mt)) continue;
      if (size % this.natural(mt) !== 0) this.markPacked(mt);
    }
    this.inferred.add(id);
  }

  // --- names (__tag__name and friends), with pahole's buffer sizes --------------------------------------------

  /**
   * base_type__name. Its `bool ` prefix never shows for BTF: the loader stores BTF_INT_BOOL (4) into a one-bit
   * field, which keeps 0. A float is loaded as a "single" float type.
   */
  private baseName(t: BtfType): string {
    return fit(t.kind === 'FLOAT' ? `single ${t.name}` : t.name, 64);
  }

  /** tag__name / __tag__name into a buffer of `len` bytes; id 0 is `void`. */
  private tagName(id: number, len: number): string {
    if (id === 0) return fit('void', len);
    const t = this.btf.type(id);
    this.enter(id);
    try {
      switch (t.kind) {
        case 'INT': case 'FLOAT':
          return fit(this.baseName(t), len);
        case 'PTR':
          return this.ptrName(t.type, len, '*');
        case 'CONST': case 'VOLATILE': case 'RESTRICT': {
          const inner = this.tagName(t.type, 128);
          const prefix = t.kind === 'CONST' ? 'const ' : t.kind === 'VOLATILE' ? 'volatile ' : '';
          const suffix = t.kind === 'RESTRICT' ? ' restrict' : '';
          return fit(`${prefix}${inner}${suffix} `, len);
        }
        case 'ARRAY':
          return this.tagName(t.type, len);
        case 'FUNC_PROTO':
          return fit(this.ftype(t, null, false, false, 0, true), len);
        case 'TYPE_TAG':
          return this.tagName(t.type, len);
        case 'STRUCT': case 'UNION': case 'ENUM': case 'ENUM64': case 'TYPEDEF': case 'FWD': {
          const prefix = this.isStruct(id) ? 'struct ' : this.isUnion(id) ? 'union ' : this.isEnum(id) ? 'enum ' : '';
          return fit(prefix + (this.nameOf(id) ?? ''), len);
        }
        default:
          return fit(t.nameOff === 0 ? '' : t.name, len);
      }
    } finally {
      this.leave();
    }
  }

  /** tag__ptr_name: the pointee's name, a space, `const ` for a const pointer, and the suffix. */
  private ptrName(target: number, len: number, suffix: string): string {
    if (target === 0) return fit(`void ${suffix}`, len);
    let type = target;
    let constPointer = '';
    if (this.kind(type) === K.CONST) {
      const next = this.ref(type);
      if (next !== 0 && this.kind(next) === K.PTR) {
        constPointer = 'const ';
        type = next;
      }
    }
    return fit(`${this.tagName(type, 1024)} ${constPointer}${suffix}`, len);
  }

  /** ftype__fprintf: `RET (*NAME)(PARAMS)` and its variants. */
  private ftype(proto: FuncProtoType, name: string | null, inlined: boolean, isPointer: boolean, typeSpacing: number, isPrototype: boolean): string {
    const stype = this.tagName(proto.returnType, 128);
    let out = `${inlined ? 'inline ' : ''}${left(stype, typeSpacing)} ${isPrototype ? '(' : ''}${isPointer ? '*' : ''}${name ?? ''}${isPrototype ? ')' : ''}`;
    out += this.ftypeParms(proto);
    return out;
  }

  /** ftype__fprintf_parms. */
  private ftypeParms(proto: FuncProtoType): string {
    let out = '(';
    let first = true;
    let unspec = false;
    for (const p of proto.params) {
      if (p.type === 0) {
        unspec = true;
        continue;
      }
      if (!first) out += ', ';
      first = false;
      const name = p.nameOff === 0 ? null : p.name;
      const type = this.btf.type(p.type);
      if (type.kind === 'PTR') {
        if (type.type !== 0) {
          const ptype = this.btf.type(type.type);
          if (ptype.kind === 'FUNC_PROTO') {
            out += this.ftype(ptype, name, false, true, 0, true);
            continue;
          }
        }
      } else if (type.kind === 'FUNC_PROTO') {
        out += this.ftype(type, name, true, false, 0, false);
        continue;
      }
      const stype = this.tagName(p.type, 128);
      out += `${stype}${name !== null ? ' ' : ''}${name ?? ''}`;
    }
    if (first) out += 'void)';
    else if (unspec) out += ', ...)';
    else out += ')';
    return out;
  }

  // --- printing -----------------------------------------------------------------------------------------------

  /** tag__fprintf as pahole's class_formatter calls it for the type `-C` found, `;` included. */
  topLevel(id: number): string {
    const union = this.isUnion(id);
    const conf: Conf = {
      typeSpacing: 26,
      nameSpacing: union ? 21 : 23,
      indent: 0,
      cachelinep: null,
      baseOffset: 0,
      relOffset: false,
      lastMember: false,
      firstMember: false,
      unionMember: false,
      prefix: null,
      suffix: null,
      emitStats: true,
    };
    let out: string;
    const k = this.kind(id);
    if (k === K.TYPEDEF) out = this.typedef(id, conf);
    else if (k === K.ENUM || k === K.ENUM64) out = this.enumeration(id, conf);
    else if (union) out = this.union(id, conf);
    else out = this.klass(id, conf);
    return out + ';';
  }

  /** typedef__fprintf. */
  private typedef(id: number, conf: Conf): string {
    const name = this.nameOf(id) ?? '';
    const target = this.ref(id);
    const out = 'typedef ';
    if (target === 0) return `${out}void ${name}`;
    const tt = this.btf.type(target);
    switch (tt.kind) {
      case 'ARRAY':
        return out + this.array(target, name, conf);
      case 'PTR': {
        if (tt.type === 0) break;
        const pt = this.btf.type(tt.type);
        if (pt.kind !== 'FUNC_PROTO') break;
        return out + this.ftype(pt, name, false, true, 0, true);
      }
      case 'FUNC_PROTO':
        return out + this.ftype(tt, name, false, false, 0, true);
      case 'STRUCT': case 'UNION': case 'FWD': {
        if (this.isStruct(target)) {
          const sname = this.nameOf(target);
          if (sname !== null) return `${out}struct ${sname} ${name}`;
          return out + this.klass(target, { ...conf, typeSpacing: conf.typeSpacing - 8, suffix: name });
        }
        return out + this.unionDecl(target, name, conf);
      }
      case 'ENUM': case 'ENUM64': {
        const ename = this.nameOf(target);
        if (ename !== null) return `${out}enum ${ename} ${name}`;
        return out + this.enumeration(target, { ...conf, suffix: name });
      }
      default:
        break;
    }
    return `${out}${this.tagName(target, 512)} ${name}`;
  }

  /** enumeration__fprintf. */
  private enumeration(id: number, conf: Conf): string {
    const t = this.btf.type(id);
    if (t.kind !== 'ENUM' && t.kind !== 'ENUM64') return '';
    const name = this.nameOf(id);
    const indent = Math.min(conf.indent, TABS - 1);
    let out = `enum${name !== null ? ' ' : ''}${name ?? ''}`;
    if (t.values.length === 0) return out;
    out += ' {\n';
    let max = 0;
    for (const v of t.values) max = Math.max(max, v.name.length);
    for (const v of t.values) {
      out += `${tabs(indent)}\t${left(v.name, max)} = ${String(v.value)},\n`;
    }
    out += `${tabs(indent)}}`;
    if (this.enumSize(t) !== 4) out += ' __attribute__((__packed__))';
    if (conf.suffix !== null) out += ` ${conf.suffix}`;
    return out;
  }

  /** array_type__fprintf. */
  private array(id: number, name: string | null, conf: Conf): string {
    const t = this.btf.type(id);
    if (t.kind !== 'ARRAY') return '';
    let elem = t.type;
    if (t.nelems === 0 && this.kind(elem) === K.CONST) elem = this.ref(elem);
    this.enter(id);
    let out: string;
    try {
      out = this.typeFprintf(elem, name, conf);
    } finally {
      this.leave();
    }
    const single = conf.lastMember && conf.firstMember;
    if (t.nelems !== 0 || !conf.lastMember || single || conf.unionMember) out += `[${t.nelems}]`;
    else out += '[]';
    return out;
  }

  /** union_decl__fprintf. */
  private unionDecl(id: number, name: string | null, conf: Conf): string {
    const uname = this.nameOf(id);
    if (uname !== null) return `union ${left(uname, conf.typeSpacing - 6)} ${name ?? ''}`;
    return this.union(id, { ...conf, typeSpacing: conf.typeSpacing - 8, suffix: name });
  }

  /** type__fprintf: a type followed by a name, as a member (or typedef) declaration writes it. */
  private typeFprintf(typeId: number, name: string | null, conf: Conf): string {
    if (typeId === 0) return `${left('<ERROR', conf.typeSpacing)}> ${name ?? '(null)'}`;
    this.enter(typeId);
    try {
      return this.typeFprintfInner(typeId, name, conf);
    } finally {
      this.leave();
    }
  }

  private typeFprintfInner(typeId: number, name: string | null, conf: Conf): string {
    const tconf: Conf = { ...conf };
    let type = typeId;
    const innerStruct = (): void => {
      tconf.prefix = null;
      tconf.suffix = name;
      tconf.emitStats = false;
    };
    if (this.isStruct(type) || this.isUnion(type) || this.isEnum(type)) innerStruct();
    let out = '';
    for (let steps = 0; ; steps++) {
      if (steps > MAX_DEPTH) throw new BtfError(BtfErrorCode.TypeLoop, `type chain longer than ${MAX_DEPTH} at type [${typeId}]`, { typeId });
      const t = this.btf.type(type);
      switch (t.kind) {
        case 'PTR': {
          const ptypeId = this.skipTypeTags(t.type);
          if (ptypeId !== 0) {
            const ptype = this.btf.type(ptypeId);
            if (ptype.kind === 'FUNC_PROTO') return out + this.ftype(ptype, name, false, true, tconf.typeSpacing, true);
            if ((this.isStruct(ptypeId) || this.isUnion(ptypeId) || this.isEnum(ptypeId)) && this.nameOf(ptypeId) === null) {
              name = fit(`* ${name ?? '(null)'}`, 258);
              tconf.relOffset = true;
              type = ptypeId;
              tconf.typeSpacing -= 8;
              innerStruct();
              continue;
            }
          }
          return out + `${left(this.tagName(type, 128), tconf.typeSpacing)} ${name ?? '(null)'}`;
        }
        case 'FUNC_PROTO':
          return out + this.ftype(t, name, false, false, tconf.typeSpacing, true);
        case 'CONST': {
          const mod = 'const ';
          out += mod;
          tconf.typeSpacing -= mod.length;
          if (t.type !== 0) {
            type = t.type;
            continue;
          }
          return out + `${left(this.tagName(type, 128), tconf.typeSpacing)} ${name ?? '(null)'}`;
        }
        case 'ARRAY':
          return out + this.array(type, name, tconf);
        case 'STRUCT':
        case 'UNION':
        case 'FWD': {
          if (this.isStruct(type)) {
            const sname = this.nameOf(type);
            if (sname !== null) return out + `struct ${left(sname, tconf.typeSpacing - 7)} ${name ?? ''}`;
            tconf.typeSpacing -= 8;
            return out + this.klass(type, tconf);
          }
          return out + this.unionDecl(type, name, tconf);
        }
        case 'ENUM':
        case 'ENUM64': {
          const ename = this.nameOf(type);
          if (ename !== null) return out + `enum ${left(ename, tconf.typeSpacing - 5)} ${name ?? ''}`;
          return out + this.enumeration(type, tconf);
        }
        case 'TYPE_TAG':
          if (t.type === 0) return `${left('<ERROR', tconf.typeSpacing)}> ${name ?? '(null)'}`;
          type = t.type;
          continue;
        default:
          return out + `${left(this.tagName(type, 128), tconf.typeSpacing)} ${name ?? '(null)'}`;
      }
    }
  }

  /** skip_llvm_annotations. */
  private skipTypeTags(id: number): number {
    for (let steps = 0; id !== 0 && this.btf.kindOf(id) === K.TYPE_TAG; steps++) {
      if (steps > MAX_DEPTH) throw new BtfError(BtfErrorCode.TypeLoop, `type tag chain longer than ${MAX_DEPTH} at type [${id}]`, { typeId: id });
      const next = this.ref(id);
      if (next === id) break;
      id = next;
    }
    return id;
  }

  /** class__fprintf_cacheline_boundary. */
  private cachelineBoundary(conf: Conf, offset: number): string {
    const cl = this.cl;
    const cacheline = Math.floor(offset / cl);
    const ref = conf.cachelinep as CachelineRef;
    if (cacheline <= ref.v) return '';
    const pos = offset % cl;
    const inBytes = offset - pos;
    let out = pos === 0
      ? `/* --- cacheline ${cacheline} boundary (${inBytes} bytes) --- */\n`
      : `/* --- cacheline ${cacheline} boundary (${inBytes} bytes) was ${pos} byte${pos > 1 ? 's' : ''} ago --- */\n`;
    out += tabs(conf.indent);
    ref.v = cacheline;
    return out;
  }

  /** class_member__fprintf: one member line (the cacheline marker before it included). */
  private member(m: PMember, unionMember: boolean, typeId: number, conf: Conf): string {
    const size = m.byteSize >>> 0;
    const sconf: Conf = { ...conf };
    let offset = m.byteOffset;
    if (!sconf.relOffset) {
      offset = (offset + sconf.baseOffset) >>> 0;
      if (!unionMember) sconf.baseOffset = offset;
    }
    const cacheline = this.cachelineBoundary(conf, offset);
    const name = m.name;
    const aggregate = this.isUnion(typeId) || this.isStruct(typeId) || this.isEnum(typeId);
    let out = '';
    if (aggregate) {
      out += this.typeFprintf(typeId, null, sconf);
      if (name !== null) {
        if (this.nameOf(typeId) === null) out += ' ';
        out += name;
      }
    } else {
      out += this.typeFprintf(typeId, name, sconf);
    }
    if (m.bitfieldSize !== 0) out += `:${m.bitfieldSize}`;
    let alignmentPrinted = 0;
    if (m.alignment !== 0) {
      const a = ` __attribute__((__aligned__(${m.alignment})))`;
      out += a;
      alignmentPrinted = a.length;
    }
    out += ';';
    const bitfield = m.bitfieldSize !== 0 ? `:${right(String(m.bitfieldOffset < 0 ? m.byteSize * 8 + m.bitfieldOffset : m.bitfieldOffset), 2)}` : '';
    const sizeSpacing = m.bitfieldSize !== 0 ? 2 : 5;
    if (aggregate && this.nameOf(typeId) === null) {
      let slen = alignmentPrinted + (name !== null ? name.length : -1);
      if (this.isStruct(typeId) && this.packed.has(typeId)) slen += '__attribute__((__packed__))'.length + 1;
      out += `${right(' ', sconf.typeSpacing + sconf.nameSpacing - slen - 3)}/* ${right(String(offset), 5)}${bitfield} ${right(String(size), sizeSpacing)} */`;
    } else {
      const spacing = sconf.typeSpacing + sconf.nameSpacing - out.length;
      out += `${right(' ', spacing > 0 ? spacing : 0)}/* ${right(String(offset), 5)}${bitfield} ${right(String(size), sizeSpacing)} */`;
    }
    return cacheline + out;
  }

  /** union__fprintf (no statistics: pahole prints none for unions). */
  private union(id: number, conf: Conf): string {
    const indent = Math.min(conf.indent, TABS - 1);
    const name = this.nameOf(id);
    let out = conf.prefix !== null ? `${conf.prefix} ` : '';
    out += `union${name !== null ? ' ' : ''}${name ?? ''} {\n`;
    const uconf: Conf = { ...conf, indent: indent + 1 };
    this.inferUnionPacked(id);
    if (uconf.cachelinep === null) uconf.cachelinep = { v: 0 };
    const initial = uconf.cachelinep.v;
    this.enter(id);
    try {
      for (const m of this.layout(id).members) {
        uconf.unionMember = true;
        if (m.type === 0) {
          out += `${tabs(uconf.indent)}<ERROR(union__fprintf): 0 not found!>\n`;
          continue;
        }
        out += tabs(uconf.indent) + this.member(m, true, m.type, uconf) + '\n';
        uconf.cachelinep.v = initial;
      }
    } finally {
      this.leave();
    }
    out += `${tabs(indent)}}${conf.suffix !== null ? ' ' : ''}${conf.suffix ?? ''}`;
    return out;
  }

  /** class__fprintf_member_type_holes: the "XXX last struct has …" note after a struct-typed member. */
  private memberTypeHoles(id: number, acc: MemberTypesHoles, newline: { v: number }, conf: Conf): string {
    const h = this.holes(id);
    this.inferPacked(id);
    const hasFlex = this.hasFlexibleArray(id);
    const hasEmb = this.hasEmbeddedFlexibleArray(id);
    if (!h.padding && !h.bitPadding && !h.nrHoles && !h.nrBitHoles && !hasFlex && !hasEmb) return '';
    let out = '';
    if (newline.v++ === 0) out += '\n';
    out += `\n${tabs(conf.indent)}/* XXX last struct has`;
    let first = true;
    if (hasFlex) {
      out += ' a flexible array';
      acc.nrFlexibleArrayMembers++;
      first = false;
    }
    if (hasEmb) {
      out += `${first ? '' : ','} embedded flexible array(s)`;
      acc.nrEmbeddedFlexibleArrayMembers++;
      first = false;
    }
    if (h.padding) {
      acc.nrPaddings++;
      acc.sumPaddings += h.padding;
      out += `${first ? '' : ','} ${h.padding} byte${h.padding !== 1 ? 's' : ''} of padding`;
      first = false;
    }
    if (h.bitPadding) {
      acc.nrWithBitPaddings++;
      acc.sumBitPaddings += h.bitPadding;
      out += `${first ? '' : ','} ${h.bitPadding} bit${h.bitPadding !== 1 ? 's' : ''} of padding`;
      first = false;
    }
    if (h.nrHoles) {
      acc.nrWithHoles++;
      acc.totalNrHoles += h.nrHoles;
      out += `${first ? '' : ','} ${h.nrHoles} hole${h.nrHoles !== 1 ? 's' : ''}`;
      first = false;
    }
    if (h.nrBitHoles) {
      acc.nrWithBitHoles++;
      acc.totalNrBitHoles += h.nrBitHoles;
      out += `${first ? '' : ','} ${h.nrBitHoles} bit hole${h.nrBitHoles !== 1 ? 's' : ''}`;
    }
    return out + ' */';
  }

  /** __class__fprintf: a struct, its members, holes and (outermost only) statistics. */
  private klass(id: number, conf: Conf): string {
    this.enter(id);
    try {
      return this.klassInner(id, conf);
    } finally {
      this.leave();
    }
  }

  private klassInner(id: number, conf: Conf): string {
    const t = this.btf.type(id);
    const size = t.kind === 'STRUCT' ? t.size : 0;
    const lay = this.layout(id);
    const members = lay.members;
    const cconf: Conf = { ...conf };
    const name = this.nameOf(id);
    let out = `${cconf.prefix ?? ''}${cconf.prefix !== null ? ' ' : ''}struct${name !== null ? ' ' : ''}${name ?? ''}`;
    const indent = Math.min(cconf.indent, TABS - 1);
    if (cconf.cachelinep === null) cconf.cachelinep = { v: 0 };
    cconf.indent = indent + 1;
    this.inferPacked(id);
    const h = this.holes(id);
    out += ' {\n';
    const newline = { v: 0 };
    const nl = (): void => {
      if (newline.v++ === 0) out += '\n';
    };
    let sumBytes = 0;
    let sumBits = 0;
    let sumHoles = 0;
    let sumBitHoles = 0;
    let nrForcedAlignments = 0;
    let nrForcedAlignmentHoles = 0;
    let sumForcedAlignmentHoles = 0;
    const mth: MemberTypesHoles = {
      nrPaddings: 0, nrWithBitPaddings: 0, nrWithHoles: 0, nrWithBitHoles: 0, totalNrHoles: 0, totalNrBitHoles: 0,
      nrFlexibleArrayMembers: 0, nrEmbeddedFlexibleArrayMembers: 0, sumPaddings: 0, sumBitPaddings: 0,
    };
    const ind = tabs(cconf.indent);
    if (h.preBitHole > 0) {
      nl();
      out += `${ind}/* XXX ${h.preBitHole} bit${h.preBitHole !== 1 ? 's' : ''} hole, try to pack */\n`;
      sumBitHoles += h.preBitHole;
    }
    if (h.preHole > 0) {
      nl();
      out += `${ind}/* XXX ${h.preHole} byte${h.preHole !== 1 ? 's' : ''} hole, try to pack */\n`;
      sumHoles += h.preHole;
    }
    let lastSize = 0;
    let last = -1;
    for (let i = 0; i < members.length; i++) {
      const pos = members[i];
      const prev = last >= 0 ? members[last] : undefined;
      if (pos.alignment !== 0) {
        const forcedHole = (prev ? h.hole[last] : h.preHole) >>> 0;
        if (forcedHole !== 0) {
          nrForcedAlignmentHoles++;
          sumForcedAlignmentHoles = (sumForcedAlignmentHoles + forcedHole) >>> 0;
        }
        nrForcedAlignments++;
      }
      if (prev && lastSize !== 0) {
        const prevBitHole = h.bitHole[last];
        if (prevBitHole !== 0 && pos.bitfieldSize) {
          let bitfieldSize = prevBitHole;
          if (pos.type === 0) {
            out += `${ind}<ERROR(__class__fprintf): 0 not found!>\n`;
            last = i;
            continue;
          }
          if (prev.byteOffset !== pos.byteOffset) {
            out += `\n${ind}/* Force alignment to the next boundary: */\n`;
            bitfieldSize = 0;
          }
          out += ind + this.typeFprintf(pos.type, '', cconf) + `:${bitfieldSize};\n`;
        }
        if (pos.byteOffset < prev.byteOffset || (pos.byteOffset === prev.byteOffset && prev.bitfieldSize === 0 && pos.bitfieldSize !== 0)) {
          nl();
          out += `${ind}/* Bitfield combined with previous fields */\n`;
        } else {
          const ccLastSize = pos.byteOffset - prev.byteOffset;
          if (ccLastSize > 0 && ccLastSize < lastSize) {
            nl();
            out += `${ind}/* Bitfield combined with next fields */\n`;
          }
        }
      }
      if (newline.v) {
        out += '\n';
        newline.v = 0;
      }
      if (pos.type === 0) {
        out += `${ind}<ERROR(__class__fprintf): 0 not found!>\n`;
        last = i;
        continue;
      }
      cconf.lastMember = i === members.length - 1;
      cconf.firstMember = prev === undefined;
      const msize = pos.byteSize;
      out += ind + this.member(pos, false, pos.type, cconf);
      if (this.isStruct(pos.type)) out += this.memberTypeHoles(pos.type, mth, newline, cconf);
      const bitHole = h.bitHole[i];
      if (bitHole !== 0) {
        nl();
        out += `\n${ind}/* XXX ${bitHole} bit${bitHole !== 1 ? 's' : ''} hole, try to pack */`;
        sumBitHoles += bitHole;
      }
      const hole = h.hole[i];
      if (hole > 0) {
        nl();
        out += `\n${ind}/* XXX ${hole} byte${hole !== 1 ? 's' : ''} hole, try to pack */`;
        sumHoles += hole;
      }
      out += '\n';
      if (pos.bitfieldSize) sumBits += pos.bitfieldSize;
      else sumBytes += msize;
      if (prev === undefined || lastSize === 0 || prev.byteOffset !== pos.byteOffset) lastSize = msize;
      else if (prev.bitfieldSize === 0 && pos.bitfieldSize !== 0) lastSize = msize;
      last = i;
    }
    if (cconf.emitStats) {
      out += `\n${ind}/* size: ${size | 0}, cachelines: ${Math.floor((this.tagSize(id) + this.cl - 1) / this.cl)}, members: ${members.length} */\n`;
      if (sumHoles > 0 || sumBitHoles > 0) {
        if (sumBytes > 0) {
          out += `${ind}/* sum members: ${sumBytes >>> 0}`;
          if (sumHoles > 0) out += `, holes: ${h.nrHoles}, sum holes: ${sumHoles >>> 0}`;
          out += ' */\n';
        }
        if (sumBits > 0) {
          out += `${ind}/* sum bitfield members: ${sumBits >>> 0} bits`;
          if (sumBitHoles > 0) out += `, bit holes: ${h.nrBitHoles}, sum bit holes: ${sumBitHoles >>> 0} bits`;
          else out += ` (${Math.floor((sumBits >>> 0) / 8)} bytes)`;
          out += ' */\n';
        }
      }
      if (h.padding > 0) out += `${ind}/* padding: ${h.padding} */\n`;
      if (mth.nrWithHoles > 0 || mth.nrWithBitHoles > 0 || mth.nrWithBitPaddings > 0) {
        let first = true;
        out += `${ind}/* member types with `;
        if (mth.nrWithHoles > 0) {
          out += `holes: ${mth.nrWithHoles & 0xffff}, total: ${mth.totalNrHoles & 0xffff}`;
          first = false;
        }
        if (mth.nrWithBitHoles > 0) {
          out += `${first ? '' : ', '}bit holes: ${mth.nrWithBitHoles & 0xffff}, total: ${mth.totalNrBitHoles & 0xffff}`;
          first = false;
        }
        if (mth.nrWithBitPaddings > 0) {
          out += `${first ? '' : ', '}bit paddings: ${mth.nrWithBitPaddings & 0xffff}, total: ${mth.sumBitPaddings >>> 0} bit${mth.sumBitPaddings > 1 ? 's' : ''}`;
        }
        out += ' */\n';
      }
      if (mth.nrPaddings > 0) out += `${ind}/* paddings: ${mth.nrPaddings & 0xffff}, sum paddings: ${mth.sumPaddings >>> 0} */\n`;
      if (h.bitPadding > 0) out += `${ind}/* bit_padding: ${h.bitPadding} bits */\n`;
      if (nrForcedAlignments !== 0) {
        out += `${ind}/* forced alignments: ${nrForcedAlignments & 0xffff}`;
        if (nrForcedAlignmentHoles !== 0) out += `, forced holes: ${nrForcedAlignmentHoles & 0xffff}, sum forced holes: ${sumForcedAlignmentHoles}`;
        out += ' */\n';
      }
      if (mth.nrFlexibleArrayMembers > 0 || mth.nrEmbeddedFlexibleArrayMembers > 0) {
        out += `${ind}/* flexible array members: `;
        if (mth.nrFlexibleArrayMembers > 0) out += `end: ${mth.nrFlexibleArrayMembers & 0xffff}`;
        if (mth.nrEmbeddedFlexibleArrayMembers > 0) {
          out += `${mth.nrFlexibleArrayMembers ? ', ' : ''}middle: ${mth.nrEmbeddedFlexibleArrayMembers & 0xffff}`;
        }
        out += ' */\n';
      }
      const lastCacheline = ((cconf.baseOffset + size) >>> 0) % this.cl;
      if (lastCacheline !== 0) out += `${ind}/* last cacheline: ${lastCacheline} bytes */\n`;
      const sizeDiff = (size * 8 - (sumBytes * 8 + sumBits + sumHoles * 8 + sumBitHoles + h.padding * 8 + h.bitPadding)) | 0;
      if (sizeDiff !== 0 && members.length !== 0) {
        out += `\n${ind}/* BRAIN FART ALERT! ${size | 0} bytes != ${sumBytes >>> 0} (member bytes) + ${sumBits >>> 0} (member bits) + ${sumHoles >>> 0} (byte holes) + ${sumBitHoles >>> 0} (bit holes), diff = ${sizeDiff} bits */\n`;
      }
    }
    out += `${tabs(indent)}}`;
    const packed = this.packed.has(id);
    if (packed) out += ' __attribute__((__packed__))';
    if (cconf.suffix !== null) out += ` ${cconf.suffix}`;
    if (lay.alignment !== 0 && !packed) out += ` __attribute__((__aligned__(${lay.alignment})))`;
    return out;
  }
}
