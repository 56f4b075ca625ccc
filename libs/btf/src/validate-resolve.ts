import { BtfErrorCode } from './errors.js';
import { BTF_TYPE_WORDS, KIND_SIZE_TYPE, MEMBER_WORDS, PARAM_WORDS, SizeType, VAR_SECINFO_WORDS } from './kinds.js';
import { K, NOT_VISITED, RESOLVED, VISITED, kindName, type ValidationContext } from './validate-meta.js';

/**
 * Pass 2 (kernel/bpf/btf.c btf_check_all_types): resolve every type that refers to others, in id order, with
 * the kernel's depth-first walk over an explicit stack bounded by the resolve depth (never JS recursion), so a
 * loop (`typedef A -> typedef B -> typedef A`, `const -> ptr -> const`, a struct that contains itself) ends in
 * a BTF_TYPE_LOOP error. References may point forward: a type is resolved when the walk first reaches it,
 * whether from its own turn or from a type before it. Along the way: references exist and have the right kind,
 * struct/union members and bitfields fit inside their type, arrays have a sized element and a regular-int
 * index, FUNC points at a FUNC_PROTO with named parameters, prototypes have sized parameter and return types
 * (a vararg only last), VARs have sized types, DATASEC entries are VARs that fit, DECL_TAGs point at a
 * taggable type and component.
 *
 * Records are read from the validation context's tables (kinds, infos, size_type per id) and words, inline, with
 * the kind table's element sizes (record.ts explains why the hot loops do not call its readers).
 */

const U32_MAX = 0xffffffff;

/**
 * Resolve modes (the kernel's RESOLVE_TBD, RESOLVE_PTR, RESOLVE_STRUCT_OR_ARRAY): the first PTR, STRUCT,
 * UNION or ARRAY pushed on an empty-mode walk fixes which kinds end ("sink") the walk. A DATASEC visit
 * starts over in TBD (btf_datasec_resolve).
 */
const MODE_TBD = 0;
const MODE_PTR = 1;
const MODE_STRUCT_OR_ARRAY = 2;

function kindTable(...kinds: number[]): Uint8Array {
  const t = new Uint8Array(32);
  for (const k of kinds) t[k] = 1;
  return t;
}
/** btf_type_is_modifier: refers through `type` and has no size of its own. */
const MODIFIER = kindTable(K.TYPEDEF, K.VOLATILE, K.CONST, K.RESTRICT, K.TYPE_TAG);
/** btf_type_needs_resolve. */
const NEEDS_RESOLVE = kindTable(K.TYPEDEF, K.VOLATILE, K.CONST, K.RESTRICT, K.TYPE_TAG, K.PTR, K.STRUCT, K.UNION, K.ARRAY, K.VAR, K.FUNC, K.DECL_TAG, K.DATASEC);
/** btf_type_is_resolve_source_only: may refer, never be referred to as a type. */
const SOURCE_ONLY = kindTable(K.VAR, K.DECL_TAG, K.DATASEC);
/** btf_type_nosize (void is kind 0). */
const NO_SIZE = kindTable(0, K.FWD, K.FUNC, K.FUNC_PROTO, K.DECL_TAG);
/** btf_type_has_size: `size` is the type's size (the kinds whose size_type is a size, in the kind table). */
const HAS_SIZE = KIND_SIZE_TYPE.map((st) => (st === SizeType.SIZE ? 1 : 0));
/** env_type_is_resolve_sink, per mode (row = mode * 32 + kind): does the walk stop at this kind? */
const SINK = (() => {
  const t = new Uint8Array(96);
  for (let k = 0; k < 32; k++) {
    t[MODE_TBD * 32 + k] = NEEDS_RESOLVE[k] ? 0 : 1;
    t[MODE_PTR * 32 + k] = MODIFIER[k] || k === K.PTR ? 0 : 1;
    t[MODE_STRUCT_OR_ARRAY * 32 + k] = MODIFIER[k] || k === K.ARRAY || k === K.STRUCT || k === K.UNION ? 0 : 1;
  }
  return t;
})();

/** btf_type_needs_resolve. */
export function needsResolve(k: number): boolean {
  return k >= 0 && NEEDS_RESOLVE[k] === 1;
}

const NO_WORDS = new Uint32Array(0);
const NO_BYTES = new Uint8Array(0);

/**
 * Resolves every type of a validation context (pass 2). One resolver serves the whole process: its fields are
 * pointed at each validation's tables and let go afterwards. A fresh object per validation gave every run a
 * hidden class that only that object held, so each full GC dropped the optimized code of every method with it
 * (V8 deoptimizes code whose embedded maps die) and the next kernel ran unoptimized: 40 ms instead of 9 on a
 * 6.12 vmlinux, every other run.
 */
export function checkAllTypes(ctx: ValidationContext, maxDepth: number): void {
  const r = idle ?? new Resolver();
  idle = undefined;
  try {
    r.attach(ctx, maxDepth);
    r.checkAllTypes();
  } finally {
    r.detach();
    idle = r;
  }
}

class Resolver {
  private ctx: ValidationContext | undefined = undefined;
  private maxDepth = 1;
  private stackIds: Uint32Array = new Uint32Array(1);
  private stackNext: Uint32Array = new Uint32Array(1);
  private words: Uint32Array = NO_WORDS;
  private wordAt: Uint32Array = NO_WORDS;
  private kinds: Uint8Array = NO_BYTES;
  private infos: Uint32Array = NO_WORDS;
  private sots: Uint32Array = NO_WORDS;
  private resolvedIds: Uint32Array = NO_WORDS;
  private resolvedSizes: Uint32Array = NO_WORDS;
  private visit: Uint8Array = NO_BYTES;
  private start = 0;
  private next = 0;
  private ptrSize = 8;
  private top = 0;
  /** Offset of the current mode's row in SINK (mode * 32). */
  private sinkRow = 0;
  /** Set by {@link idSize}: the id whose size was found. */
  private sizeId = 0;

  attach(ctx: ValidationContext, maxDepth: number): void {
    this.ctx = ctx;
    this.maxDepth = Math.max(1, maxDepth);
    if (this.stackIds.length !== this.maxDepth) {
      this.stackIds = new Uint32Array(this.maxDepth);
      this.stackNext = new Uint32Array(this.maxDepth);
    }
    this.words = ctx.words;
    this.wordAt = ctx.wordAt;
    this.kinds = ctx.kinds;
    this.infos = ctx.infos;
    this.sots = ctx.sots;
    this.resolvedIds = ctx.resolvedIds;
    this.resolvedSizes = ctx.resolvedSizes;
    this.visit = ctx.visit;
    this.start = ctx.start;
    this.next = ctx.next;
    this.ptrSize = ctx.ptrSize;
    this.top = 0;
    this.sinkRow = 0;
    this.sizeId = 0;
  }

  /** Lets go of the validation's tables (they belong to its context). */
  detach(): void {
    this.ctx = undefined;
    this.words = this.wordAt = this.infos = this.sots = this.resolvedIds = this.resolvedSizes = NO_WORDS;
    this.kinds = this.visit = NO_BYTES;
  }

  private get c(): ValidationContext {
    return this.ctx as ValidationContext;
  }

  /**
   * btf_check_all_types: in id order, resolve every own type that needs it and is not yet resolved, and check
   * every FUNC_PROTO. A FUNC (half of a kernel's types) never descends, so its walk is done in place: push,
   * btf_func_check, pop and the final state check come down to {@link resolveFunc} and marking it resolved.
   */
  checkAllTypes(): void {
    const { kinds, visit } = this;
    for (let id = this.start; id < this.next; id++) {
      const k = kinds[id];
      if (k === K.FUNC) {
        if (visit[id] !== RESOLVED) this.checkFunc(id);
      } else if (NEEDS_RESOLVE[k] === 1) {
        if (visit[id] !== RESOLVED) this.resolve(id);
      } else if (k === K.FUNC_PROTO) this.checkFuncProto(id);
    }
  }

  /** Kind of any id: 0 for void, -1 when out of range (btf_type_by_id returning NULL). */
  private kindOf(id: number): number {
    return id < this.next ? this.kinds[id] : -1;
  }

  private isResolved(id: number): boolean {
    return id < this.start || this.visit[id] === RESOLVED;
  }

  /** True when the walk must go through `id` (of kind `k`) before the current type can be finished. */
  private mustDescend(id: number, k: number): boolean {
    return SINK[this.sinkRow + k] === 0 && !(id < this.start || this.visit[id] === RESOLVED);
  }

  /** btf_resolve: the depth-first walk from one type, iterating over an explicit stack, then btf_resolve_valid. */
  private resolve(id: number): void {
    this.sinkRow = MODE_TBD;
    this.top = 0;
    this.push(id, id);
    while (this.top > 0) {
      const v = this.top - 1;
      const vid = this.stackIds[v];
      switch (this.kinds[vid]) {
        case K.PTR: this.resolveRef(v, vid, true); break;
        case K.VAR: this.resolveVar(v, vid); break;
        case K.ARRAY: this.resolveArray(v, vid); break;
        case K.STRUCT: case K.UNION: this.resolveStruct(v, vid); break;
        case K.DATASEC: this.resolveDatasec(v, vid); break;
        case K.FUNC: this.resolveFunc(vid); break;
        case K.DECL_TAG: this.resolveDeclTag(v, vid); break;
        default: this.resolveRef(v, vid, false); break; // modifiers
      }
    }
    this.checkResolvedState(id);
  }

  /** env_stack_push: depth limit, then loop detection (a type already on the walk, or a base type), then the mode. */
  private push(id: number, root: number): void {
    const ctx = this.c;
    if (this.top >= this.maxDepth) {
      ctx.fail(BtfErrorCode.TypeLoop, root, `exceeded max resolving depth ${this.maxDepth} (at type [${id}])`);
    }
    if (id < this.start || this.visit[id] !== NOT_VISITED) {
      ctx.fail(BtfErrorCode.TypeLoop, root, `loop detected: type [${id}] refers back to itself through its references`);
    }
    this.visit[id] = VISITED;
    this.stackIds[this.top] = id;
    this.stackNext[this.top] = 0;
    this.top++;
    if (this.sinkRow === MODE_TBD) {
      const k = this.kinds[id];
      if (k === K.PTR) this.sinkRow = MODE_PTR * 32;
      else if (k === K.STRUCT || k === K.UNION || k === K.ARRAY) this.sinkRow = MODE_STRUCT_OR_ARRAY * 32;
    }
  }

  /** Pushes `id` on behalf of the walk's root. */
  private descend(id: number): void {
    this.push(id, this.stackIds[0]);
  }

  /** env_stack_pop_resolved. */
  private popResolved(resolvedId: number, resolvedSize: number): void {
    const id = this.stackIds[--this.top];
    this.resolvedIds[id] = resolvedId;
    this.resolvedSizes[id] = resolvedSize;
    this.visit[id] = RESOLVED;
  }

  /**
   * btf_type_id_size: the size of `id` after modifiers (and a VAR's type), or -1 when it has none (void,
   * FWD, FUNC, FUNC_PROTO, DECL_TAG, out of range). Sets {@link sizeId} to the sized type's id.
   */
  private idSize(id: number): number {
    let k = this.kindOf(id);
    if (k < 0 || NO_SIZE[k] === 1) return -1;
    if (HAS_SIZE[k] === 0 && k !== K.ARRAY && k !== K.PTR) {
      if (MODIFIER[k] === 0 && k !== K.VAR) return -1;
      id = this.resolvedIds[id];
      k = this.kinds[id];
      if (NO_SIZE[k] === 1) return -1;
    }
    this.sizeId = id;
    if (HAS_SIZE[k] === 1) return this.sots[id];
    if (k === K.ARRAY) return this.resolvedSizes[id];
    if (k === K.PTR) return this.ptrSize;
    return -1;
  }

  /**
   * btf_modifier_resolve and btf_ptr_resolve. A modifier may end at void, FWD or FUNC_PROTO (`const void`,
   * `typedef struct later later_t`); a PTR the same (`void *`). A PTR (and a VAR) behind a modifier that was
   * resolved while resolving a struct or array may have stopped at another PTR: the walk continues from it, so
   * a pointer loop through it is still found.
   */
  private resolveRef(v: number, id: number, isPtr: boolean): void {
    let next = this.sots[id];
    let nk = this.kindOf(next);
    if (nk < 0 || SOURCE_ONLY[nk] === 1) this.badRef(id, next, nk);
    if (this.mustDescend(next, nk)) return this.descend(next);
    if (isPtr && MODIFIER[nk] === 1 && this.descendResolvedPtr(next)) return;
    if (this.idSize(next) < 0) {
      if (this.isResolved(next)) {
        next = this.resolvedIds[next];
        nk = this.kinds[next];
      }
      if (nk !== 0 && nk !== K.FWD && nk !== K.FUNC_PROTO) {
        this.c.fail(BtfErrorCode.BadTypeRef, id, `${kindName(this.kinds[id])} refers to type [${next}] (${kindName(nk)}), which has no size`);
      }
    } else next = this.sizeId;
    this.popResolved(next, 0);
  }

  /** When the (resolved) modifier `mod` ends at an unresolved PTR that is not a sink, pushes that PTR. */
  private descendResolvedPtr(mod: number): boolean {
    const rid = this.resolvedIds[mod];
    if (this.kinds[rid] === K.PTR && this.mustDescend(rid, K.PTR)) {
      this.descend(rid);
      return true;
    }
    return false;
  }

  /** btf_var_resolve: the VAR's type must end in a sized type. */
  private resolveVar(v: number, id: number): void {
    const next = this.sots[id];
    const nk = this.kindOf(next);
    if (nk < 0 || SOURCE_ONLY[nk] === 1) this.badRef(id, next, nk);
    if (this.mustDescend(next, nk)) return this.descend(next);
    if (MODIFIER[nk] === 1 && this.descendResolvedPtr(next)) return;
    if (this.idSize(next) < 0) this.c.fail(BtfErrorCode.BadTypeRef, id, `var type [${next}] (${kindName(nk)}) has no size`);
    this.popResolved(this.sizeId, 0);
  }

  /** btf_array_resolve: the index type first (a regular int), then the element type (sized). */
  private resolveArray(v: number, id: number): void {
    const ctx = this.c;
    const p = this.wordAt[id] + BTF_TYPE_WORDS;
    const elem = this.words[p];
    const index = this.words[p + 1];
    const nelems = this.words[p + 2];
    const ik = this.kindOf(index);
    if (ik < 0 || NO_SIZE[ik] === 1 || SOURCE_ONLY[ik] === 1) {
      ctx.fail(BtfErrorCode.BadTypeRef, id, `invalid array index type [${index}] (${ik < 0 ? 'out of range' : kindName(ik)})`);
    }
    if (this.mustDescend(index, ik)) return this.descend(index);
    if (this.idSize(index) < 0 || this.kinds[this.sizeId] !== K.INT || !this.isRegularInt(this.sizeId)) {
      ctx.fail(BtfErrorCode.BadTypeRef, id, `array index type [${index}] is not a regular int`);
    }
    const ek = this.kindOf(elem);
    if (ek < 0 || NO_SIZE[ek] === 1 || SOURCE_ONLY[ek] === 1) {
      ctx.fail(BtfErrorCode.BadTypeRef, id, `invalid array element type [${elem}] (${ek < 0 ? 'out of range' : kindName(ek)})`);
    }
    if (this.mustDescend(elem, ek)) return this.descend(elem);
    const elemSize = this.idSize(elem);
    if (elemSize < 0) ctx.fail(BtfErrorCode.BadTypeRef, id, `array element type [${elem}] has no size`);
    const elemId = this.sizeId;
    if (this.kinds[elemId] === K.INT && !this.isRegularInt(elemId)) ctx.fail(BtfErrorCode.BadType, id, `array of int [${elemId}] that is not a regular int`);
    if (nelems !== 0 && elemSize > Math.floor(U32_MAX / nelems)) ctx.fail(BtfErrorCode.BadType, id, `array size ${nelems} x ${elemSize} overflows u32`);
    this.popResolved(elemId, elemSize * nelems);
  }

  /** btf_type_int_is_regular: a whole-byte int of 1, 2, 4, 8 or 16 bytes with no bit offset. */
  private isRegularInt(id: number): boolean {
    const data = this.words[this.wordAt[id] + BTF_TYPE_WORDS];
    const bits = data & 0xff;
    const bytes = bits >>> 3;
    return (bits & 7) === 0 && ((data >>> 16) & 0xff) === 0 && (bytes === 1 || bytes === 2 || bytes === 4 || bytes === 8 || bytes === 16);
  }

  /**
   * btf_struct_resolve: members in order; a member whose type must be resolved first suspends the struct, and
   * on resuming, that member (the last one visited) is checked before going on.
   */
  private resolveStruct(v: number, id: number): void {
    const info = this.infos[id];
    const vlen = info & 0xffff;
    const kflag = info >>> 31 !== 0;
    const w = this.words;
    const p = this.wordAt[id] + BTF_TYPE_WORDS;
    const from = this.stackNext[v];
    if (from > 0) {
      const q = p + (from - 1) * MEMBER_WORDS;
      this.checkMember(id, from - 1, w[q + 1], w[q + 2], kflag);
    }
    for (let j = from, q = p + from * MEMBER_WORDS; j < vlen; j++, q += MEMBER_WORDS) {
      const mType = w[q + 1];
      const mk = this.kindOf(mType);
      if (mk < 0 || NO_SIZE[mk] === 1 || SOURCE_ONLY[mk] === 1) {
        this.c.fail(BtfErrorCode.BadMember, id, `${this.memberName(id, j)}: invalid member type [${mType}] (${mk < 0 ? 'out of range' : kindName(mk)})`);
      }
      if (this.mustDescend(mType, mk)) {
        this.stackNext[v] = j + 1;
        return this.descend(mType);
      }
      this.checkMember(id, j, mType, w[q + 2], kflag);
    }
    this.popResolved(0, 0);
  }

  private memberName(id: number, j: number): string {
    const ctx = this.c;
    const nameOff = this.words[this.wordAt[id] + BTF_TYPE_WORDS + j * MEMBER_WORDS];
    const name = nameOff === 0 ? '' : ctx.nameAt(nameOff);
    return name ? `member ${j} '${name}'` : `member ${j}`;
  }

  /**
   * Each member type's check_member / check_kflag_member (a modifier is judged as the type it resolves to):
   * the member (or bitfield) lies inside the struct, and only ints and enums may be bitfields.
   */
  private checkMember(sid: number, j: number, mType: number, raw: number, kflag: boolean): void {
    const structSize = this.sots[sid];
    let mk = this.kinds[mType];
    if (MODIFIER[mk] === 1) {
      if (this.idSize(mType) < 0) this.memberFail(sid, j, `member type [${mType}] has no size`);
      mType = this.sizeId;
      mk = this.kinds[mType];
    }
    const bitfield = raw >>> 24;
    if (kflag && bitfield !== 0 && mk !== K.INT && mk !== K.ENUM && mk !== K.ENUM64) {
      this.memberFail(sid, j, `bitfield_size ${bitfield} on a ${kindName(mk)} member`);
    }
    const bitsOff = kflag ? raw & 0xffffff : raw;
    let bytesOff: number;
    let size: number;
    switch (mk) {
      case K.INT: {
        const data = this.words[this.wordAt[mType] + BTF_TYPE_WORDS];
        const intBits = data & 0xff;
        let off = bitsOff;
        let nrBits: number;
        if (!kflag) {
          const intOff = (data >>> 16) & 0xff;
          if (U32_MAX - bitsOff < intOff) this.memberFail(sid, j, 'bits_offset exceeds u32');
          off = bitsOff + intOff;
          nrBits = intBits;
        } else {
          if (!this.isRegularInt(mType)) this.memberFail(sid, j, `int type [${mType}] of a bitfield struct member is not a regular int`);
          nrBits = bitfield;
          if (nrBits === 0) {
            if ((bitsOff & 7) !== 0) this.memberFail(sid, j, `bits_offset ${bitsOff} of a non-bitfield member is not byte aligned`);
            nrBits = intBits;
          } else if (nrBits > intBits) {
            this.memberFail(sid, j, `bitfield_size ${nrBits} is wider than its ${intBits}-bit int type`);
          }
        }
        const copyBits = nrBits + (off & 7);
        if (copyBits > 128) this.memberFail(sid, j, `bitfield needs ${copyBits} bits, more than 128`);
        bytesOff = Math.floor(off / 8);
        size = (copyBits >>> 3) + ((copyBits & 7) !== 0 ? 1 : 0);
        break;
      }
      case K.ENUM: case K.ENUM64: {
        // btf_enum_check_kflag_member takes an enum (of either size) as a 32-bit int.
        let nrBits = kflag ? bitfield : 0;
        if (nrBits === 0) {
          if ((bitsOff & 7) !== 0) this.memberFail(sid, j, `bits_offset ${bitsOff} is not byte aligned`);
          if (!kflag) {
            bytesOff = bitsOff >>> 3;
            size = this.sots[mType];
            break;
          }
          nrBits = 32;
        } else if (nrBits > 32) {
          this.memberFail(sid, j, `bitfield_size ${nrBits} of an enum member is wider than 32 bits`);
        }
        const endBits = bitsOff + nrBits;
        const end = Math.floor(endBits / 8) + (endBits % 8 !== 0 ? 1 : 0);
        if (structSize < end) this.memberFail(sid, j, `bitfield ending at byte ${end} exceeds the ${structSize}-byte ${this.structWord(sid)}`);
        return;
      }
      case K.PTR: case K.ARRAY: case K.STRUCT: case K.UNION:
        if ((bitsOff & 7) !== 0) this.memberFail(sid, j, `bits_offset ${bitsOff} is not byte aligned`);
        bytesOff = bitsOff >>> 3;
        size = mk === K.PTR ? this.ptrSize : mk === K.ARRAY ? this.resolvedSizes[mType] : this.sots[mType];
        break;
      case K.FLOAT: {
        size = this.sots[mType];
        const alignBits = Math.min(this.ptrSize, size) * 8;
        if (bitsOff % alignBits !== 0) this.memberFail(sid, j, `float member at bit ${bitsOff} is not aligned to ${alignBits} bits`);
        bytesOff = Math.floor(bitsOff / 8);
        break;
      }
      default:
        return this.memberFail(sid, j, `a ${kindName(mk)} cannot be a member`);
    }
    if (bytesOff > structSize || structSize - bytesOff < size) {
      this.memberFail(sid, j, `member of ${size} bytes at byte ${bytesOff} exceeds the ${structSize}-byte ${this.structWord(sid)}`);
    }
  }

  private structWord(sid: number): string {
    return this.kinds[sid] === K.UNION ? 'union' : 'struct';
  }

  private memberFail(sid: number, j: number, reason: string): never {
    return this.c.fail(BtfErrorCode.BadMember, sid, `${this.memberName(sid, j)}: ${reason}`);
  }

  /**
   * btf_datasec_resolve: every entry is a VAR whose type fits the entry's size. Each visit starts in mode TBD:
   * a VAR resolved earlier through a struct or array must not make the next VAR a sink that is never resolved.
   */
  private resolveDatasec(v: number, id: number): void {
    const ctx = this.c;
    this.sinkRow = MODE_TBD;
    const vlen = this.infos[id] & 0xffff;
    const w = this.words;
    const p = this.wordAt[id] + BTF_TYPE_WORDS;
    for (let j = this.stackNext[v], q = p + j * VAR_SECINFO_WORDS; j < vlen; j++, q += VAR_SECINFO_WORDS) {
      const varId = w[q];
      const vk = this.kindOf(varId);
      if (vk !== K.VAR) ctx.fail(BtfErrorCode.BadTypeRef, id, `datasec var ${j}: type [${varId}] is not a var`);
      if (this.mustDescend(varId, vk)) {
        this.stackNext[v] = j + 1;
        return this.descend(varId);
      }
      const size = this.idSize(this.sots[varId]);
      if (size < 0) ctx.fail(BtfErrorCode.BadTypeRef, id, `datasec var ${j}: var [${varId}] has a type without size`);
      if (w[q + 2] < size) ctx.fail(BtfErrorCode.BadType, id, `datasec var ${j}: size ${w[q + 2]} is smaller than its type's ${size}`);
    }
    this.popResolved(0, 0);
  }

  /** btf_func_resolve: {@link checkFunc}, then the FUNC resolves to its prototype. */
  private resolveFunc(id: number): void {
    this.checkFunc(id);
    this.popResolved(this.sots[id], 0);
  }

  /** btf_func_check: FUNC refers to a FUNC_PROTO whose parameters all have names (a vararg excepted); marks it resolved. */
  private checkFunc(id: number): void {
    const proto = this.sots[id];
    const pk = this.kindOf(proto);
    if (pk !== K.FUNC_PROTO) this.badRef(id, proto, pk, 'func_proto');
    const w = this.words;
    const p = this.wordAt[proto] + BTF_TYPE_WORDS;
    for (let q = p, end = p + PARAM_WORDS * (this.infos[proto] & 0xffff); q < end; q += PARAM_WORDS) {
      if (w[q] === 0 && w[q + 1] !== 0) {
        this.c.fail(BtfErrorCode.BadString, id, `func parameter ${(q - p) / PARAM_WORDS + 1} of prototype [${proto}] has no name`);
      }
    }
    this.resolvedIds[id] = proto;
    this.visit[id] = RESOLVED;
  }

  /** btf_decl_tag_resolve: the target is a FUNC, STRUCT, UNION, VAR or TYPEDEF; a component index names a member or parameter. */
  private resolveDeclTag(v: number, id: number): void {
    const ctx = this.c;
    const target = this.sots[id];
    const tk = this.kindOf(target);
    if (tk !== K.FUNC && tk !== K.STRUCT && tk !== K.UNION && tk !== K.VAR && tk !== K.TYPEDEF) {
      ctx.fail(BtfErrorCode.BadTypeRef, id, `decl_tag refers to type [${target}] (${tk < 0 ? 'out of range' : kindName(tk)}), not a func, struct, union, var or typedef`);
    }
    if (this.mustDescend(target, tk)) return this.descend(target);
    const idx = this.words[this.wordAt[id] + BTF_TYPE_WORDS] | 0;
    if (idx !== -1) {
      if (tk === K.VAR || tk === K.TYPEDEF) ctx.fail(BtfErrorCode.BadType, id, `decl_tag component_idx ${idx} on a ${kindName(tk)}`);
      const owner = tk === K.FUNC ? this.sots[target] : target;
      const vlen = this.infos[owner] & 0xffff;
      if (idx >= vlen) ctx.fail(BtfErrorCode.BadType, id, `decl_tag component_idx ${idx} is past the ${vlen} components of type [${owner}]`);
    }
    this.popResolved(target, 0);
  }

  /** btf_resolve_valid: what a modifier, PTR or VAR resolved to is a real, non-modifier type. */
  private checkResolvedState(id: number): void {
    const k = this.kinds[id];
    if (MODIFIER[k] === 1 || k === K.PTR || k === K.VAR) {
      const rid = this.resolvedIds[id];
      const rk = this.kindOf(rid);
      if (rk < 0 || MODIFIER[rk] === 1 || rk === K.VAR || rk === K.DATASEC) {
        this.c.fail(BtfErrorCode.BadTypeRef, id, `invalid resolve state: resolves to type [${rid}]`);
      }
    }
  }

  /**
   * btf_func_proto_check: the return type (unless void) and each parameter type exist, are not VAR, DATASEC
   * or DECL_TAG, get resolved, and have a size; parameter names are identifiers; only the last parameter may
   * be a vararg (type 0, no name).
   */
  private checkFuncProto(id: number): void {
    const ctx = this.c;
    const ret = this.sots[id];
    if (ret !== 0) {
      const rk = this.kindOf(ret);
      if (rk < 0) ctx.fail(BtfErrorCode.BadTypeRef, id, `invalid return type id ${ret}`);
      if (SOURCE_ONLY[rk] === 1) ctx.fail(BtfErrorCode.BadTypeRef, id, `return type [${ret}] is a ${kindName(rk)}`);
      if (NEEDS_RESOLVE[rk] === 1 && !this.isResolved(ret)) this.resolve(ret);
      if (this.idSize(ret) < 0) ctx.fail(BtfErrorCode.BadTypeRef, id, `return type [${ret}] (${kindName(rk)}) has no size`);
    }
    let n = this.infos[id] & 0xffff;
    if (n === 0) return;
    const w = this.words;
    const p = this.wordAt[id] + BTF_TYPE_WORDS;
    const last = p + PARAM_WORDS * (n - 1);
    if (w[last + 1] === 0) {
      if (w[last] !== 0) ctx.fail(BtfErrorCode.BadType, id, `vararg parameter ${n} has a name`);
      n--;
    }
    for (let j = 0; j < n; j++) {
      const nameOff = w[p + PARAM_WORDS * j];
      const at = w[p + PARAM_WORDS * j + 1];
      const ak = this.kindOf(at);
      if (ak < 0) ctx.fail(BtfErrorCode.BadTypeRef, id, `parameter ${j + 1}: invalid referenced type id ${at}`);
      if (SOURCE_ONLY[ak] === 1) ctx.fail(BtfErrorCode.BadTypeRef, id, `parameter ${j + 1}: type [${at}] is a ${kindName(ak)}`);
      if (nameOff !== 0 && (!ctx.nameOffsetValid(nameOff) || !ctx.validIdentifier(nameOff))) {
        ctx.fail(BtfErrorCode.BadString, id, `parameter ${j + 1}: invalid name (offset ${nameOff})`);
      }
      if (NEEDS_RESOLVE[ak] === 1 && !this.isResolved(at)) this.resolve(at);
      if (this.idSize(at) < 0) {
        ctx.fail(BtfErrorCode.BadTypeRef, id, at === 0
          ? `parameter ${j + 1} is void: a vararg may only be the last parameter`
          : `parameter ${j + 1}: type [${at}] (${kindName(ak)}) has no size`);
      }
    }
  }

  private badRef(id: number, ref: number, rk: number, want?: string): never {
    const ctx = this.c;
    if (rk < 0) ctx.fail(BtfErrorCode.BadTypeRef, id, `invalid referenced type id ${ref}`);
    return ctx.fail(BtfErrorCode.BadTypeRef, id, `referenced type [${ref}] is ${kindName(rk)}${want ? `, not ${want}` : ', which cannot be referred to'}`);
  }
}

/** The resolver not in use (undefined while one runs). */
let idle: Resolver | undefined = new Resolver();
