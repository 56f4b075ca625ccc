import { BtfErrorCode } from './errors.js';
import { K, NOT_VISITED, RESOLVED, VISITED, kindName, type ValidationContext } from './validate-meta.js';

/**
 * Pass 2 (kernel/bpf/btf.c btf_check_all_types): resolve every type that refers to others, as the kernel's
 * depth-first walk does, with an explicit stack bounded by the resolve depth (never JS recursion), so a loop
 * (`typedef A -> typedef B -> typedef A`, `const -> ptr -> const`, a struct that contains itself) ends in a
 * BTF_TYPE_LOOP error. Along the way: references exist and have the right kind, struct/union members and
 * bitfields fit inside their type, arrays have a sized element and a regular-int index, FUNC points at a
 * FUNC_PROTO with named parameters, prototypes have sized parameter and return types (a vararg only last),
 * VARs have sized types, DATASEC entries are VARs that fit, DECL_TAGs point at a taggable type and component.
 */

const U32_MAX = 0xffffffff;

/** Resolve modes (kernel enum resolve_mode): what ends a chain depends on what started it. */
const MODE_TBD = 0;
const MODE_PTR = 1;
const MODE_STRUCT_OR_ARRAY = 2;

function isModifier(k: number): boolean {
  return k === K.TYPEDEF || k === K.VOLATILE || k === K.CONST || k === K.RESTRICT || k === K.TYPE_TAG;
}
function isStruct(k: number): boolean {
  return k === K.STRUCT || k === K.UNION;
}
/** Types that only refer and are never referred to as a type (btf_type_is_resolve_source_only). */
function isSourceOnly(k: number): boolean {
  return k === K.VAR || k === K.DECL_TAG || k === K.DATASEC;
}
/** btf_type_needs_resolve. */
export function needsResolve(k: number): boolean {
  return isModifier(k) || k === K.PTR || isStruct(k) || k === K.ARRAY || k === K.VAR || k === K.FUNC || k === K.DECL_TAG || k === K.DATASEC;
}
/** btf_type_nosize: void, FWD, FUNC, FUNC_PROTO (and -1, out of range, as "null"). */
function noSize(k: number): boolean {
  return k <= 0 || k === K.FWD || k === K.FUNC || k === K.FUNC_PROTO;
}
function hasSize(k: number): boolean {
  return k === K.INT || isStruct(k) || k === K.ENUM || k === K.DATASEC || k === K.FLOAT || k === K.ENUM64;
}

/** The resolver: one per validation, reusing its stack for every top-level resolve. */
export class Resolver {
  private readonly ctx: ValidationContext;
  private readonly maxDepth: number;
  private readonly stackIds: Uint32Array;
  private readonly stackNext: Uint32Array;
  private top = 0;
  private mode = MODE_TBD;
  /** Set by {@link idSize}: the id whose size was found. */
  private sizeId = 0;

  constructor(ctx: ValidationContext, maxDepth: number) {
    this.ctx = ctx;
    this.maxDepth = Math.max(1, maxDepth);
    this.stackIds = new Uint32Array(this.maxDepth);
    this.stackNext = new Uint32Array(this.maxDepth);
  }

  /** btf_check_all_types: resolve every own type that needs it, then check every FUNC_PROTO. */
  checkAllTypes(): void {
    const ctx = this.ctx;
    for (let i = 0; i < ctx.count; i++) {
      const id = ctx.start + i;
      const k = (ctx.info[i] >>> 24) & 0x1f;
      if (needsResolve(k) && ctx.visit[i] !== RESOLVED) this.resolve(id);
      if (k === K.FUNC_PROTO) this.checkFuncProto(id);
    }
  }

  /** btf_resolve: the depth-first walk from one type, iterating over an explicit stack. */
  private resolve(id: number): void {
    this.mode = MODE_TBD;
    this.top = 0;
    this.push(id, id);
    while (this.top > 0) {
      const v = this.top - 1;
      const vid = this.stackIds[v];
      switch (this.ctx.kindOf(vid)) {
        case K.PTR: this.resolvePtrLike(v, vid, true); break;
        case K.VAR: this.resolveVar(v, vid); break;
        case K.ARRAY: this.resolveArray(vid); break;
        case K.STRUCT: case K.UNION: this.resolveStruct(v, vid); break;
        case K.DATASEC: this.resolveDatasec(v, vid); break;
        case K.FUNC: this.resolveFunc(vid); break;
        case K.DECL_TAG: this.resolveDeclTag(vid); break;
        default: this.resolvePtrLike(v, vid, false); break; // modifiers
      }
    }
    this.checkResolvedState(id);
  }

  private push(id: number, root: number): void {
    const ctx = this.ctx;
    if (this.top >= this.maxDepth) {
      ctx.fail(BtfErrorCode.TypeLoop, root, `exceeded max resolving depth ${this.maxDepth} (at type [${id}])`);
    }
    if (id < ctx.start || ctx.visit[id - ctx.start] !== NOT_VISITED) {
      ctx.fail(BtfErrorCode.TypeLoop, root, `loop detected: type [${id}] refers back to itself through its references`);
    }
    ctx.visit[id - ctx.start] = VISITED;
    this.stackIds[this.top] = id;
    this.stackNext[this.top] = 0;
    this.top++;
    if (this.mode === MODE_TBD) {
      const k = ctx.kindOf(id);
      if (k === K.PTR) this.mode = MODE_PTR;
      else if (isStruct(k) || k === K.ARRAY) this.mode = MODE_STRUCT_OR_ARRAY;
    }
  }

  private root(): number {
    return this.stackIds[0];
  }

  private popResolved(resolvedId: number, resolvedSize: number): void {
    const ctx = this.ctx;
    const id = this.stackIds[--this.top];
    const i = id - ctx.start;
    ctx.resolvedIds[i] = resolvedId;
    ctx.resolvedSizes[i] = resolvedSize;
    ctx.visit[i] = RESOLVED;
  }

  /** env_type_is_resolve_sink: does the walk stop at a type of kind `k` in the current mode? */
  private isSink(k: number): boolean {
    switch (this.mode) {
      case MODE_TBD: return !needsResolve(k);
      case MODE_PTR: return !isModifier(k) && k !== K.PTR;
      default: return !isModifier(k) && k !== K.ARRAY && !isStruct(k);
    }
  }

  /** Pushes `id` when the walk must go through it first; returns true when it did. */
  private descend(id: number, k: number): boolean {
    if (!this.isSink(k) && !this.ctx.isResolved(id)) {
      this.push(id, this.root());
      return true;
    }
    return false;
  }

  /**
   * btf_type_id_size: the size of `id` after modifiers (and a VAR's type), or -1 when it has none (void,
   * FWD, FUNC, FUNC_PROTO, out of range). Sets {@link sizeId} to the sized type's id.
   */
  private idSize(id: number): number {
    const ctx = this.ctx;
    let k = ctx.kindOf(id);
    if (noSize(k)) return -1;
    if (!hasSize(k) && k !== K.ARRAY && k !== K.PTR) {
      if (!isModifier(k) && k !== K.VAR) return -1;
      id = ctx.resolvedId(id);
      k = ctx.kindOf(id);
      if (noSize(k)) return -1;
    }
    this.sizeId = id;
    if (hasSize(k)) return ctx.sotOf(id);
    if (k === K.ARRAY) return ctx.resolvedSize(id);
    if (k === K.PTR) return ctx.ptrSize;
    return -1;
  }

  /** Modifiers and PTR (btf_modifier_resolve, btf_ptr_resolve). */
  private resolvePtrLike(v: number, id: number, isPtr: boolean): void {
    const ctx = this.ctx;
    let next = ctx.sotOf(id);
    let nk = ctx.kindOf(next);
    if (nk < 0 || isSourceOnly(nk)) this.badRef(id, next, nk);
    if (this.descend(next, nk)) return;
    if (isPtr) this.followResolvedPtr(next, nk);
    if (this.top - 1 !== v) return;
    if (this.idSize(next) < 0) {
      if (ctx.isResolved(next) && needsResolve(nk)) {
        next = ctx.resolvedId(next);
        nk = ctx.kindOf(next);
      }
      if (nk !== 0 && nk !== K.FWD && nk !== K.FUNC_PROTO) {
        ctx.fail(BtfErrorCode.BadTypeRef, id, `${kindName(ctx.kindOf(id))} refers to type [${next}] (${kindName(nk)}), which has no size`);
      }
    } else next = this.sizeId;
    this.popResolved(next, 0);
  }

  /**
   * A modifier resolved while resolving a struct/array may have stopped at a PTR; continue from that PTR so a
   * pointer loop through it is still found.
   */
  private followResolvedPtr(next: number, nk: number): void {
    if (!isModifier(nk)) return;
    const rid = this.ctx.resolvedId(next);
    if (this.ctx.kindOf(rid) === K.PTR && !this.isSink(K.PTR) && !this.ctx.isResolved(rid)) this.push(rid, this.root());
  }

  private resolveVar(v: number, id: number): void {
    const ctx = this.ctx;
    const next = ctx.sotOf(id);
    const nk = ctx.kindOf(next);
    if (nk < 0 || isSourceOnly(nk)) this.badRef(id, next, nk);
    if (this.descend(next, nk)) return;
    this.followResolvedPtr(next, nk);
    if (this.top - 1 !== v) return;
    if (this.idSize(next) < 0) ctx.fail(BtfErrorCode.BadTypeRef, id, `var type [${next}] (${kindName(nk)}) has no size`);
    this.popResolved(this.sizeId, 0);
  }

  private resolveArray(id: number): void {
    const ctx = this.ctx;
    const p = ctx.extraOff(id);
    const elem = ctx.u32(id, p);
    const index = ctx.u32(id, p + 4);
    const nelems = ctx.u32(id, p + 8);
    const ik = ctx.kindOf(index);
    if (noSize(ik) || isSourceOnly(ik)) ctx.fail(BtfErrorCode.BadTypeRef, id, `invalid array index type [${index}] (${ik < 0 ? 'out of range' : kindName(ik)})`);
    if (this.descend(index, ik)) return;
    if (this.idSize(index) < 0 || ctx.kindOf(this.sizeId) !== K.INT || !this.isRegularInt(this.sizeId)) {
      ctx.fail(BtfErrorCode.BadTypeRef, id, `array index type [${index}] is not a regular int`);
    }
    const ek = ctx.kindOf(elem);
    if (noSize(ek) || isSourceOnly(ek)) ctx.fail(BtfErrorCode.BadTypeRef, id, `invalid array element type [${elem}] (${ek < 0 ? 'out of range' : kindName(ek)})`);
    if (this.descend(elem, ek)) return;
    const elemSize = this.idSize(elem);
    if (elemSize < 0) ctx.fail(BtfErrorCode.BadTypeRef, id, `array element type [${elem}] has no size`);
    const elemId = this.sizeId;
    if (ctx.kindOf(elemId) === K.INT && !this.isRegularInt(elemId)) ctx.fail(BtfErrorCode.BadType, id, `array of int [${elemId}] that is not a regular int`);
    if (nelems !== 0 && elemSize > Math.floor(U32_MAX / nelems)) ctx.fail(BtfErrorCode.BadType, id, `array size ${nelems} x ${elemSize} overflows u32`);
    this.popResolved(elemId, elemSize * nelems);
  }

  /** btf_type_int_is_regular: a whole-byte int of 1, 2, 4, 8 or 16 bytes with no bit offset. */
  private isRegularInt(id: number): boolean {
    const data = this.ctx.u32(id, this.ctx.extraOff(id));
    const bits = data & 0xff;
    const bytes = bits >>> 3;
    return (bits & 7) === 0 && ((data >>> 16) & 0xff) === 0 && (bytes === 1 || bytes === 2 || bytes === 4 || bytes === 8 || bytes === 16);
  }

  private resolveStruct(v: number, id: number): void {
    const ctx = this.ctx;
    const info = ctx.infoOf(id);
    const vlen = info & 0xffff;
    const kflag = (info & 0x80000000) !== 0;
    const p = ctx.extraOff(id);
    const from = this.stackNext[v];
    if (from > 0) {
      const q = p + (from - 1) * 12;
      this.checkMember(id, from - 1, ctx.u32(id, q + 4), ctx.u32(id, q + 8), kflag);
    }
    for (let j = from, q = p + from * 12; j < vlen; j++, q += 12) {
      const mType = ctx.u32(id, q + 4);
      const mk = ctx.kindOf(mType);
      if (noSize(mk) || isSourceOnly(mk)) {
        ctx.fail(BtfErrorCode.BadMember, id, `${this.memberName(id, j)}: invalid member type [${mType}] (${mk < 0 ? 'out of range' : kindName(mk)})`);
      }
      if (!this.isSink(mk) && !ctx.isResolved(mType)) {
        this.stackNext[v] = j + 1;
        this.push(mType, this.root());
        return;
      }
      this.checkMember(id, j, mType, ctx.u32(id, q + 8), kflag);
    }
    this.popResolved(0, 0);
  }

  private memberName(id: number, j: number): string {
    const ctx = this.ctx;
    const nameOff = ctx.u32(id, ctx.extraOff(id) + j * 12);
    const name = nameOff === 0 ? '' : ctx.nameAt(nameOff);
    return name ? `member ${j} '${name}'` : `member ${j}`;
  }

  /** Each kind's check_member / check_kflag_member: the member (or bitfield) lies inside the struct. */
  private checkMember(sid: number, j: number, mType: number, raw: number, kflag: boolean): void {
    const ctx = this.ctx;
    const structSize = ctx.sotOf(sid);
    let mk = ctx.kindOf(mType);
    if (isModifier(mk)) {
      if (this.idSize(mType) < 0) this.memberFail(sid, j, `member type [${mType}] has no size`);
      mType = this.sizeId;
      mk = ctx.kindOf(mType);
    }
    if (kflag && mk !== K.INT && mk !== K.ENUM && mk !== K.ENUM64 && raw >>> 24 !== 0) {
      this.memberFail(sid, j, `bitfield_size ${raw >>> 24} on a ${kindName(mk)} member`);
    }
    const bitsOff = kflag ? raw & 0xffffff : raw;
    let bytesOff: number;
    let size: number;
    switch (mk) {
      case K.INT: {
        const data = ctx.u32(mType, ctx.extraOff(mType));
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
          nrBits = raw >>> 24;
          if (nrBits === 0) {
            if ((bitsOff & 7) !== 0) this.memberFail(sid, j, `bits_offset ${bitsOff} of a non-bitfield member is not byte aligned`);
            nrBits = intBits;
          } else if (nrBits > intBits) {
            this.memberFail(sid, j, `bitfield_size ${nrBits} is wider than its ${intBits}-bit int type`);
          }
        }
        const copyBits = nrBits + (off & 7);
        if (copyBits > 128) this.memberFail(sid, j, `bitfield needs ${copyBits} bits, more than 128`);
        bytesOff = off >>> 3;
        size = Math.ceil(copyBits / 8);
        break;
      }
      case K.ENUM: case K.ENUM64: {
        let nrBits = kflag ? raw >>> 24 : 0;
        if (nrBits === 0) {
          if ((bitsOff & 7) !== 0) this.memberFail(sid, j, `bits_offset ${bitsOff} is not byte aligned`);
          if (!kflag) {
            bytesOff = bitsOff >>> 3;
            size = ctx.sotOf(mType);
            break;
          }
          nrBits = 32;
        } else if (nrBits > 32) {
          this.memberFail(sid, j, `bitfield_size ${nrBits} of an enum member is wider than 32 bits`);
        }
        const end = Math.ceil((bitsOff + nrBits) / 8);
        if (structSize < end) this.memberFail(sid, j, `bitfield ending at byte ${end} exceeds the ${structSize}-byte ${this.structWord(sid)}`);
        return;
      }
      case K.PTR: case K.ARRAY: case K.STRUCT: case K.UNION:
        if ((bitsOff & 7) !== 0) this.memberFail(sid, j, `bits_offset ${bitsOff} is not byte aligned`);
        bytesOff = bitsOff >>> 3;
        size = mk === K.PTR ? ctx.ptrSize : mk === K.ARRAY ? Math.max(0, this.idSize(mType)) : ctx.sotOf(mType);
        break;
      case K.FLOAT: {
        size = ctx.sotOf(mType);
        const alignBits = Math.min(ctx.ptrSize, size) * 8;
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
    return this.ctx.kindOf(sid) === K.UNION ? 'union' : 'struct';
  }

  private memberFail(sid: number, j: number, reason: string): never {
    return this.ctx.fail(BtfErrorCode.BadMember, sid, `${this.memberName(sid, j)}: ${reason}`);
  }

  private resolveDatasec(v: number, id: number): void {
    const ctx = this.ctx;
    // The kernel starts every visit of a DATASEC afresh (btf_datasec_resolve sets RESOLVE_TBD): a var resolved
    // through a struct or array earlier must not make the next var a "sink" that is never resolved.
    this.mode = MODE_TBD;
    const vlen = ctx.infoOf(id) & 0xffff;
    const p = ctx.extraOff(id);
    for (let j = this.stackNext[v], q = p + j * 12; j < vlen; j++, q += 12) {
      const varId = ctx.u32(id, q);
      const vk = ctx.kindOf(varId);
      if (vk !== K.VAR) ctx.fail(BtfErrorCode.BadTypeRef, id, `datasec var ${j}: type [${varId}] is not a var`);
      if (!this.isSink(vk) && !ctx.isResolved(varId)) {
        this.stackNext[v] = j + 1;
        this.push(varId, this.root());
        return;
      }
      const size = this.idSize(ctx.sotOf(varId));
      if (size < 0) ctx.fail(BtfErrorCode.BadTypeRef, id, `datasec var ${j}: var [${varId}] has a type without size`);
      if (ctx.u32(id, q + 8) < size) ctx.fail(BtfErrorCode.BadType, id, `datasec var ${j}: size ${ctx.u32(id, q + 8)} is smaller than its type's ${size}`);
    }
    this.popResolved(0, 0);
  }

  /** btf_func_check: FUNC refers to a FUNC_PROTO whose parameters all have names (a vararg excepted). */
  private resolveFunc(id: number): void {
    const ctx = this.ctx;
    const proto = ctx.sotOf(id);
    const pk = ctx.kindOf(proto);
    if (pk !== K.FUNC_PROTO) this.badRef(id, proto, pk, 'func_proto');
    const vlen = ctx.infoOf(proto) & 0xffff;
    const p = ctx.extraOff(proto);
    for (let j = 0; j < vlen; j++) {
      if (ctx.u32(proto, p + j * 8) === 0 && ctx.u32(proto, p + j * 8 + 4) !== 0) {
        ctx.fail(BtfErrorCode.BadString, id, `func parameter ${j + 1} of prototype [${proto}] has no name`);
      }
    }
    this.popResolved(proto, 0);
  }

  private resolveDeclTag(id: number): void {
    const ctx = this.ctx;
    const target = ctx.sotOf(id);
    const tk = ctx.kindOf(target);
    if (tk !== K.FUNC && !isStruct(tk) && tk !== K.VAR && tk !== K.TYPEDEF) {
      ctx.fail(BtfErrorCode.BadTypeRef, id, `decl_tag refers to type [${target}] (${tk < 0 ? 'out of range' : kindName(tk)}), not a func, struct, union, var or typedef`);
    }
    if (this.descend(target, tk)) return;
    const idx = ctx.u32(id, ctx.extraOff(id)) | 0;
    if (idx !== -1) {
      if (tk === K.VAR || tk === K.TYPEDEF) ctx.fail(BtfErrorCode.BadType, id, `decl_tag component_idx ${idx} on a ${kindName(tk)}`);
      const owner = isStruct(tk) ? target : ctx.sotOf(target);
      const vlen = ctx.infoOf(owner) & 0xffff;
      if (idx >= vlen) ctx.fail(BtfErrorCode.BadType, id, `decl_tag component_idx ${idx} is past the ${vlen} components of type [${owner}]`);
    }
    this.popResolved(target, 0);
  }

  /** btf_resolve_valid: what a modifier, PTR or VAR resolved to is a real, non-modifier type. */
  private checkResolvedState(id: number): void {
    const ctx = this.ctx;
    const k = ctx.kindOf(id);
    if (isModifier(k) || k === K.PTR || k === K.VAR) {
      const rk = ctx.kindOf(ctx.resolvedId(id));
      if (rk < 0 || isModifier(rk) || rk === K.VAR || rk === K.DATASEC) {
        ctx.fail(BtfErrorCode.BadTypeRef, id, `invalid resolve state: resolves to type [${ctx.resolvedId(id)}]`);
      }
    }
  }

  /** btf_func_proto_check: return and parameter types exist and have sizes; only the last may be a vararg. */
  private checkFuncProto(id: number): void {
    const ctx = this.ctx;
    const ret = ctx.sotOf(id);
    if (ret !== 0) {
      const rk = ctx.kindOf(ret);
      if (rk < 0) ctx.fail(BtfErrorCode.BadTypeRef, id, `invalid return type id ${ret}`);
      if (needsResolve(rk) && !ctx.isResolved(ret)) this.resolve(ret);
      if (this.idSize(ret) < 0) ctx.fail(BtfErrorCode.BadTypeRef, id, `return type [${ret}] (${kindName(rk)}) has no size`);
    }
    let n = ctx.infoOf(id) & 0xffff;
    if (n === 0) return;
    const p = ctx.extraOff(id);
    if (ctx.u32(id, p + (n - 1) * 8 + 4) === 0) {
      if (ctx.u32(id, p + (n - 1) * 8) !== 0) ctx.fail(BtfErrorCode.BadType, id, `vararg parameter ${n} has a name`);
      n--;
    }
    for (let j = 0; j < n; j++) {
      const nameOff = ctx.u32(id, p + j * 8);
      const at = ctx.u32(id, p + j * 8 + 4);
      const ak = ctx.kindOf(at);
      if (ak < 0) ctx.fail(BtfErrorCode.BadTypeRef, id, `parameter ${j + 1}: invalid referenced type id ${at}`);
      if (nameOff !== 0 && (!ctx.nameOffsetValid(nameOff) || !ctx.validIdentifier(nameOff))) {
        ctx.fail(BtfErrorCode.BadString, id, `parameter ${j + 1}: invalid name (offset ${nameOff})`);
      }
      if (needsResolve(ak) && !ctx.isResolved(at)) this.resolve(at);
      if (this.idSize(at) < 0) {
        ctx.fail(BtfErrorCode.BadTypeRef, id, at === 0
          ? `parameter ${j + 1} is void: a vararg may only be the last parameter`
          : `parameter ${j + 1}: type [${at}] (${kindName(ak)}) has no size`);
      }
    }
  }

  private badRef(id: number, ref: number, rk: number, want?: string): never {
    const ctx = this.ctx;
    if (rk < 0) ctx.fail(BtfErrorCode.BadTypeRef, id, `invalid referenced type id ${ref}`);
    return ctx.fail(BtfErrorCode.BadTypeRef, id, `referenced type [${ref}] is ${kindName(rk)}${want ? `, not ${want}` : ', which cannot be referred to'}`);
  }
}
