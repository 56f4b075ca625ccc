/**
 * libbpf's BTF-to-C converter (src/btf_dump.c, `btf_dump__dump_type`, `btf_dump__emit_type_decl` and friends), as
 * libbpf 1.5 (bpftool 7.5) writes C: the part of `bpftool btf dump file FILE format c` that turns one type id into
 * C declarations. bpftool's own part (which ids, in which order, the vmlinux.h header and footer, the kfunc
 * prototypes) is dump-c.ts.
 *
 * - Order: libbpf orders the dependencies of each type with a depth-first topological sort whose edges are
 *   *strong* (the dependency must be complete: embedded by value, or reached through anonymous types) or *weak*
 *   (a pointer to a named type: a forward declaration is enough), and emits forward declarations where a cycle
 *   needs one.
 * - Names: a second struct/union/enum of the same name is written `NAME___2` (then `___3`, …); typedefs and
 *   enumerators share one namespace and are renamed the same way. Forward declarations and empty enums keep
 *   their names.
 * - Definitions: anonymous structs, unions and enums are written inline where they are used; bitfields keep
 *   their widths; a struct whose members are not naturally aligned (or whose size is not a multiple of its
 *   alignment) is `__attribute__((packed))`; holes are filled with anonymous bitfields (`long: 64;`,
 *   `int: 0;`) so that every member lands at its BTF offset; enums of 1 byte get `mode(byte)`, 8-byte ones that
 *   would not be 8 bytes by themselves `mode(word)`; const/volatile of arrays and function prototypes are
 *   dropped (libbpf: GCC emits them spuriously); `__builtin_va_list` is not redefined. Sizes and alignments are
 *   libbpf's (layout.ts libbpfResolveSize, libbpfAlignOf, libbpfIsStructPacked).
 * - FUNC, VAR, DATASEC and DECL_TAG declare nothing.
 *
 * Names are written as decoded UTF-8 (kernel names are ASCII). Hostile BTF cannot loop forever: reference
 * chains are followed to a bounded depth and a cycle raises BTF_TYPE_LOOP, where libbpf would overflow its stack.
 */
import { constants } from 'node:buffer';
import type { Btf } from './btf.js';
import { BtfError, BtfErrorCode } from './errors.js';
import { BtfKind } from './kinds.js';
import { DEFAULT_POINTER_SIZE, libbpfAlignOf, libbpfIsStructPacked, libbpfResolveSize, longSizeOf } from './layout.js';
import type { BtfType, CompositeType, EnumType, Enum64Type, FuncProtoType, RefType } from './types.js';

// Kind numbers, from the one table (kinds.ts).
const {
  INT: K_INT, PTR: K_PTR, ARRAY: K_ARRAY, STRUCT: K_STRUCT, UNION: K_UNION, ENUM: K_ENUM, ENUM64: K_ENUM64, FWD: K_FWD,
  TYPEDEF: K_TYPEDEF, VOLATILE: K_VOLATILE, CONST: K_CONST, RESTRICT: K_RESTRICT, FUNC_PROTO: K_FUNC_PROTO, FLOAT: K_FLOAT,
  TYPE_TAG: K_TYPE_TAG,
} = BtfKind;

// btf_dump_type_aux_state: order_state (0: not ordered) and emit_state.
const ORDERING = 1;
const ORDERED = 2;
const NOT_EMITTED = 0;
const EMITTING = 1;
const EMITTED = 2;
/**
 * Deepest recursion of the ordering and emitting walks, and longest reference chain the sort keys follow. Real
 * kernels reach 9 to 17 (a walk stops at every named type reached through a pointer); each level costs up to
 * three JavaScript frames, so this stays well inside node's stack.
 */
export const MAX_WALK_DEPTH = 256;
/**
 * Steps (types entered) the ordering and emitting walks may take per type of the BTF, beyond a fixed allowance.
 * Like libbpf, a walk through pointers, arrays and prototypes does not remember where it has been, so hostile BTF
 * (prototypes of thousands of parameters pointing at each other) can ask for exponentially many steps; real
 * kernels take fewer than 10 per type.
 */
const STEPS_PER_TYPE = 64;
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

/** A window onto the shared declaration stack (libbpf struct id_stack). */
interface DeclView {
  start: number;
  cnt: number;
}

/**
 * libbpf `struct btf_dump` for one dump: `dumpType(id)` is btf_dump__dump_type (the type and what it needs, in
 * dependency order, each emitted once), `emitTypeDecl` is btf_dump__emit_type_decl. Text accumulates in `out`;
 * `flush` moves it into the byte buffer after each top-level declaration, `finish` returns the whole.
 */
export class CDumper {
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

  /** {@link DumpCOptions.typeTagAttributes}. */
  typeTagAttributes = false;

  constructor(btf: Btf, maxOut: number) {
    this.btf = btf;
    // A JavaScript string cannot be longer than MAX_STRING_LENGTH.
    this.maxOut = Math.min(maxOut, constants.MAX_STRING_LENGTH);
    const n = btf.nextId;
    this.n = n;
    this.maxSteps = BASE_STEPS + STEPS_PER_TYPE * n;
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

  /** The decoded type of `id`, kept for the dump's life. */
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

  /** The kind number of `id` (0 for void). */
  kindOf(id: number): number {
    return this.kinds[id];
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

  // ---- libbpf btf__align_of, btf__resolve_size (layout.ts) ----

  private alignOf(id: number): number {
    return libbpfAlignOf(this.btf, id, this.ptrSz, this.alignMemo, MAX_WALK_DEPTH);
  }

  /** libbpf btf__resolve_size; negative on error. */
  private resolveSize(id: number): number {
    return libbpfResolveSize(this.btf, id, this.ptrSz);
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

  private emitStructDef(id: number, t: CompositeType, lvl: number): void {
    const isStruct = t.kind === 'STRUCT';
    const align = this.alignOf(id);
    const packed = isStruct ? libbpfIsStructPacked(this.btf, t, this.ptrSz, this.alignMemo, MAX_WALK_DEPTH) : false;
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
        // every whole marker at once (a hostile struct size asks for millions of them)
        const whole = Math.floor((next - cur) / padBits);
        this.out += `\n${p}${padType}: ${padBits};`.repeat(whole);
        cur += whole * padBits;
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

  /**
   * Writes a declaration of `fname` with type `id`: the chain of modifiers down to a named (or inline) type
   * (libbpf's public btf_dump__emit_type_decl, which bpftool calls for the kfunc prototypes).
   */
  emitTypeDecl(id: number, fname: string, lvl: number): void {
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
