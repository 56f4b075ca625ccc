/**
 * Which types and members of a target BTF a minimized BTF keeps: the marking rules of `bpftool gen
 * min_core_btf` (bpftool gen.c, "btfgen"), restated. Each relocation is recorded from its target spec (the
 * first candidate that matched):
 *
 * - field relocations (FIELD_*): the root type, and along the access path each struct/union with only the
 *   accessed member kept, and that member's type. Types are followed through typedefs, modifiers, arrays
 *   (element and index types) and function prototypes (return and parameter types), but not through pointers: a
 *   pointer whose target is kept for no other reason becomes `void *` in the output. Structs and unions reached
 *   this way keep no members of their own (an empty struct with its size);
 * - TYPE_ID_TARGET, TYPE_EXISTS, TYPE_SIZE: the root type as above, except that pointers are followed too;
 * - ENUMVAL_EXISTS, ENUMVAL_VALUE: the root type as for fields (an enum is always kept whole, every value);
 * - TYPE_MATCHES: the root type deeply: every member of every struct/union reached, except structs and unions
 *   behind a pointer, which are kept empty; forward declarations are kept;
 * - TYPE_ID_LOCAL: nothing (answered from the object's own BTF).
 *
 * A type of another kind on the way (FUNC, VAR, DATASEC, DECL_TAG, TYPE_TAG; FWD outside TYPE_MATCHES) cannot be
 * kept: bpftool stops with "unsupported kind", and so does {@link MinBtfMarks} (CORE_MIN_BTF_KIND).
 *
 * Marks are kept per BTF that owns the type (vmlinux, or a module's split BTF), since module type ids overlap.
 * Every walk is an explicit work list with a memo of what it already walked, so cycles (possible through
 * function prototypes) and long chains cost nothing more; the memo does not change the result, which depends
 * only on the type and the walk's mode.
 */
import type { Btf } from '@btf-atlas/btf/core';
import type { BtfType } from '@btf-atlas/btf/types';
import { CoreError, CoreErrorCode } from './errors.js';
import { skipModsAndTypedefs } from './relo-btf.js';
import type { Spec } from './relo-spec.js';
import { CoreReloKind } from './types.js';

/** The relocation being recorded, for error messages. */
export interface MarkSite {
  section: string;
  idx: number;
  insnOff: number;
  localTypeId: number;
  kindName: string;
}

/** What is marked in one BTF: types, and members (by index) of structs and unions. */
export interface BtfMarks {
  types: Set<number>;
  members: Map<number, Set<number>>;
}

/** The BTF that holds the record of `id`: `btf` itself or one of its bases. */
export function ownerOf(btf: Btf, id: number): Btf {
  let b = btf;
  while (b.base && id < b.startId) b = b.base;
  return b;
}

/** Per-BTF walk memos (one per walk mode). */
interface Walked {
  plain: Set<number>;
  follow: Set<number>;
  match: Set<number>;
  matchBehindPtr: Set<number>;
}

/** The types and members kept so far, across every recorded relocation of every object. */
export class MinBtfMarks {
  private readonly marks = new Map<Btf, BtfMarks>();
  private readonly walked = new Map<Btf, Walked>();

  /** The marks of one BTF (own ids only), or undefined when none of its types is kept. */
  of(btf: Btf): BtfMarks | undefined {
    return this.marks.get(btf);
  }

  private marksOf(btf: Btf): BtfMarks {
    let m = this.marks.get(btf);
    if (!m) {
      m = { types: new Set(), members: new Map() };
      this.marks.set(btf, m);
    }
    return m;
  }

  private walkedOf(btf: Btf): Walked {
    let w = this.walked.get(btf);
    if (!w) {
      w = { plain: new Set(), follow: new Set(), match: new Set(), matchBehindPtr: new Set() };
      this.walked.set(btf, w);
    }
    return w;
  }

  private markMember(btf: Btf, id: number, idx: number): void {
    const owner = ownerOf(btf, id);
    const members = this.marksOf(owner).members;
    const set = members.get(id);
    if (set) set.add(idx);
    else members.set(id, new Set([idx]));
  }

  private unsupported(site: MarkSite, t: BtfType): CoreError {
    const name = t.name === '' ? '(anon)' : t.name;
    return new CoreError(
      CoreErrorCode.MinBtfKind,
      `relo #${site.idx} (${site.kindName}): target type [${t.id}] ${t.kind.toLowerCase()} '${name}' is of a kind min_core_btf cannot keep`,
      { section: site.section, offset: site.insnOff, typeId: site.localTypeId },
    );
  }

  /** bpftool `btfgen_mark_type`: marks a type and what it needs, following pointers only when asked. */
  markType(btf: Btf, rootId: number, followPointers: boolean, site: MarkSite): void {
    const work: { btf: Btf; id: number }[] = [{ btf, id: rootId }];
    for (let item = work.pop(); item !== undefined; item = work.pop()) {
      if (item.id === 0) continue;
      const b = ownerOf(item.btf, item.id);
      const walked = this.walkedOf(b);
      // A walk that follows pointers covers one that does not.
      if (walked.follow.has(item.id) || (!followPointers && walked.plain.has(item.id))) continue;
      (followPointers ? walked.follow : walked.plain).add(item.id);
      this.marksOf(b).types.add(item.id);
      const t = b.type(item.id);
      const push = (id: number): void => {
        work.push({ btf: b, id });
      };
      switch (t.kind) {
        case 'INT': case 'FLOAT': case 'ENUM': case 'ENUM64': case 'STRUCT': case 'UNION':
          break;
        case 'PTR':
          if (followPointers) push(t.type);
          break;
        case 'CONST': case 'RESTRICT': case 'VOLATILE': case 'TYPEDEF':
          push(t.type);
          break;
        case 'ARRAY':
          push(t.type);
          push(t.indexType);
          break;
        case 'FUNC_PROTO':
          push(t.returnType);
          for (const p of t.params) push(p.type);
          break;
        default:
          throw this.unsupported(site, t);
      }
    }
  }

  /**
   * bpftool `btfgen_mark_type_match`: marks a type deeply for TYPE_MATCHES: every member of the structs and
   * unions reached, except those behind a pointer, which are kept without members.
   */
  markTypeMatch(btf: Btf, rootId: number, site: MarkSite): void {
    const work: { btf: Btf; id: number; behindPtr: boolean }[] = [{ btf, id: rootId, behindPtr: false }];
    for (let item = work.pop(); item !== undefined; item = work.pop()) {
      if (item.id === 0) continue;
      const b = ownerOf(item.btf, item.id);
      const walked = this.walkedOf(b);
      const memo = item.behindPtr ? walked.matchBehindPtr : walked.match;
      if (memo.has(item.id)) continue;
      memo.add(item.id);
      this.marksOf(b).types.add(item.id);
      const t = b.type(item.id);
      const push = (id: number, behindPtr: boolean): void => {
        work.push({ btf: b, id, behindPtr });
      };
      switch (t.kind) {
        case 'INT': case 'FLOAT': case 'ENUM': case 'ENUM64': case 'FWD':
          // A forward declaration refers to nothing (bpftool follows its zero `type` word to void).
          break;
        case 'STRUCT': case 'UNION':
          if (item.behindPtr) break;
          t.members.forEach((m, i) => {
            this.markMember(b, t.id, i);
            push(m.type, false);
          });
          break;
        case 'CONST': case 'RESTRICT': case 'TYPEDEF': case 'VOLATILE':
          push(t.type, item.behindPtr);
          break;
        case 'PTR':
          push(t.type, true);
          break;
        case 'ARRAY':
          push(t.type, false);
          push(t.indexType, false);
          break;
        case 'FUNC_PROTO':
          push(t.returnType, false);
          for (const p of t.params) push(p.type, false);
          break;
        default:
          throw this.unsupported(site, t);
      }
    }
  }

  /**
   * bpftool `btfgen_record_field_relo`: the root type, then along the target's raw access path (its own member
   * numbering, anonymous members included) each struct/union's accessed member and that member's type.
   */
  recordField(spec: Spec, site: MarkSite): void {
    const btf = spec.btf;
    let id = spec.rootTypeId;
    this.markType(btf, id, false, site);
    for (let i = 1; i < spec.raw.length; i++) {
      const r = skipModsAndTypedefs(btf, id);
      if (!r || r.t.kind === 'VOID') {
        throw new CoreError(CoreErrorCode.MinBtfRelo, `relo #${site.idx} (${site.kindName}): access step ${i} of the target spec reaches no type`, {
          section: site.section, offset: site.insnOff, typeId: site.localTypeId,
        });
      }
      id = r.id;
      const t = r.t;
      if (t.kind === 'STRUCT' || t.kind === 'UNION') {
        const idx = spec.raw[i];
        const m = t.members[idx];
        if (!m) {
          throw new CoreError(CoreErrorCode.MinBtfRelo, `relo #${site.idx} (${site.kindName}): member #${idx} of target type [${id}] does not exist`, {
            section: site.section, offset: site.insnOff, typeId: site.localTypeId,
          });
        }
        this.markMember(btf, id, idx);
        id = m.type;
        this.markType(btf, id, false, site);
      } else if (t.kind === 'ARRAY') {
        id = t.type;
      } else {
        throw this.unsupported(site, t);
      }
    }
  }

  /** bpftool `btfgen_record_reloc`: records one relocation's target spec by the rules of its kind. */
  record(spec: Spec, kind: number, site: MarkSite): void {
    switch (kind) {
      case CoreReloKind.FIELD_BYTE_OFFSET: case CoreReloKind.FIELD_BYTE_SIZE: case CoreReloKind.FIELD_EXISTS:
      case CoreReloKind.FIELD_SIGNED: case CoreReloKind.FIELD_LSHIFT_U64: case CoreReloKind.FIELD_RSHIFT_U64:
        this.recordField(spec, site);
        return;
      case CoreReloKind.TYPE_ID_LOCAL:
        return;
      case CoreReloKind.TYPE_ID_TARGET: case CoreReloKind.TYPE_EXISTS: case CoreReloKind.TYPE_SIZE:
        this.markType(spec.btf, spec.rootTypeId, true, site);
        return;
      case CoreReloKind.TYPE_MATCHES:
        this.markTypeMatch(spec.btf, spec.rootTypeId, site);
        return;
      case CoreReloKind.ENUMVAL_EXISTS: case CoreReloKind.ENUMVAL_VALUE:
        this.markType(spec.btf, spec.rootTypeId, false, site);
        return;
      default:
        throw new CoreError(CoreErrorCode.MinBtfRelo, `relo #${site.idx}: unknown relocation kind ${kind}`, {
          section: site.section, offset: site.insnOff, typeId: site.localTypeId,
        });
    }
  }
}
