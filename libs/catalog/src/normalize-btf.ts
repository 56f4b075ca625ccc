import { hash as oneShotHash } from 'node:crypto';
import {
  BtfError, BtfErrorCode, BtfKind, flattenMembers, recordData, recordNameOff, recordSizeOrType, recordVlen, resolvedSize, stripModifiers, typeRef,
  type Btf, type FlatMember,
} from '@btf-atlas/btf';
import {
  storeTypeDesc,
  type FuncLinkage, type Shape, type ShapeBody, type ShapeKind, type StoredMember, type TypeDesc, type TypeDescKind,
} from './normalize.js';
import type { TypeIdKind } from './type-ids.js';

/**
 * The first 16 bytes of the sha256. Taken through hex: a small Buffer made from a string comes from Node's shared
 * pool, where a digest Buffer (and a view of it) would each be an object with its own backing store, tens of
 * thousands of them per kernel for the collector to finalize.
 */
function shapeHash(kind: ShapeKind, name: string, size: number, body: string): Buffer {
  return Buffer.from(oneShotHash('sha256', `${kind}\0${name}\0${size}\0${body}`, 'hex').slice(0, 32), 'hex');
}

function storedMembers(btf: Btf, id: number, depth: number): StoredMember[] {
  return flattenMembers(btf, id).map((m: FlatMember): StoredMember => {
    const row: StoredMember = [m.name, m.bitsOffset, m.bitfieldSize, m.size, typeRef(btf, m.typeId), m.anonDepth];
    const inner = stripModifiers(btf, m.typeId);
    if (inner !== 0 && btf.nameOf(inner) === '') {
      const k = btf.kindOf(inner);
      if (k === BtfKind.STRUCT || k === BtfKind.UNION) {
        if (depth >= btf.limits.maxResolveDepth) {
          throw new BtfError(BtfErrorCode.TypeLoop, `unnamed struct members nested deeper than ${btf.limits.maxResolveDepth} levels`, { typeId: id });
        }
        return [...row, storedMembers(btf, inner, depth + 1).map((c) => shift(c, m.bitsOffset))] as StoredMember;
      }
    }
    return row;
  });
}

/** Children are stored with absolute offsets, like their parent. */
function shift(m: StoredMember, by: number): StoredMember {
  const out = [...m] as StoredMember;
  out[1] = m[1] + by;
  if (m.length === 7) out[6] = m[6].map((c) => shift(c, by));
  return out;
}

/** Kind numbers that can make a shape (kernel BTF kinds: STRUCT, UNION, ENUM, TYPEDEF, FUNC, ENUM64). */
const STORED_KINDS: readonly boolean[] = (() => {
  const out = new Array<boolean>(32).fill(false);
  for (const k of [BtfKind.STRUCT, BtfKind.UNION, BtfKind.ENUM, BtfKind.TYPEDEF, BtfKind.FUNC, BtfKind.ENUM64]) out[k] = true;
  return out;
})();

/** `enum btf_func_linkage` (include/uapi/linux/btf.h) by its value, the FUNC record's vlen. */
const LINKAGES: readonly FuncLinkage[] = ['static', 'global', 'extern'];

/** The decl tags of the FUNCs of one BTF: on the FUNC itself (component_idx -1) and on its parameters. */
interface FuncTags {
  own: string[];
  params: Map<number, string[]>;
}

/**
 * Reads every DECL_TAG of the blob (its own records; a module's tags name its own FUNCs) that targets a FUNC:
 * "component_idx -1 tags the FUNC, i >= 0 its parameter i" (Documentation/bpf/btf.rst, BTF_KIND_DECL_TAG).
 * Values are kept sorted, each once.
 */
function funcDeclTags(btf: Btf): Map<number, FuncTags> {
  const out = new Map<number, FuncTags>();
  for (let id = btf.startId; id < btf.nextId; id++) {
    if (btf.kindOf(id) !== BtfKind.DECL_TAG) continue;
    const t = btf.type(id);
    if (t.kind !== 'DECL_TAG' || btf.kindOf(t.type) !== BtfKind.FUNC) continue;
    let tags = out.get(t.type);
    if (!tags) out.set(t.type, (tags = { own: [], params: new Map() }));
    let list = tags.own;
    if (t.componentIdx >= 0) {
      const got = tags.params.get(t.componentIdx);
      if (got) list = got;
      else tags.params.set(t.componentIdx, (list = []));
    }
    if (!list.includes(t.name)) {
      list.push(t.name);
      list.sort();
    }
  }
  return out;
}

const MODIFIER_KINDS: readonly boolean[] = (() => {
  const out = new Array<boolean>(32).fill(false);
  for (const k of [BtfKind.CONST, BtfKind.VOLATILE, BtfKind.RESTRICT, BtfKind.TYPE_TAG]) out[k] = true;
  return out;
})();

/** TypeDesc kinds by BTF kind number (kinds a parameter cannot have are absent). */
const DESC_KINDS: readonly (TypeDescKind | undefined)[] = (() => {
  const out = new Array<TypeDescKind | undefined>(32).fill(undefined);
  out[BtfKind.INT] = 'int';
  out[BtfKind.FLOAT] = 'float';
  out[BtfKind.PTR] = 'ptr';
  out[BtfKind.ARRAY] = 'array';
  out[BtfKind.STRUCT] = 'struct';
  out[BtfKind.UNION] = 'union';
  out[BtfKind.ENUM] = 'enum';
  out[BtfKind.ENUM64] = 'enum';
  out[BtfKind.FWD] = 'fwd';
  out[BtfKind.TYPEDEF] = 'typedef';
  out[BtfKind.FUNC_PROTO] = 'func_proto';
  return out;
})();

/** `[id, kind, name]` of a BTF's own named structs, unions, enums (ENUM64 too) and typedefs, in id order: type-ids.ts. */
export function* typeIdEntries(btf: Btf): Generator<[number, TypeIdKind, string]> {
  const end = btf.startId + btf.ownTypeCount;
  for (let id = btf.startId; id < end; id++) {
    const kind = DESC_KINDS[btf.kindOf(id)];
    if (kind !== 'struct' && kind !== 'union' && kind !== 'enum' && kind !== 'typedef') continue;
    const name = btf.strings.tryGet(btf.nameOffOf(id)) ?? '';
    if (name !== '') yield [id, kind, name];
  }
}

/** Skips const, volatile, restrict and type tags (not typedefs), counting steps against the resolve depth. */
function skipQualifiers(btf: Btf, id: number): number {
  for (let steps = 0; id !== 0 && MODIFIER_KINDS[btf.kindOf(id)]; steps++) {
    if (steps >= btf.limits.maxResolveDepth) {
      throw new BtfError(BtfErrorCode.TypeLoop, `more than ${btf.limits.maxResolveDepth} qualifiers in a row (a reference cycle?)`, { typeId: id });
    }
    id = (btf.type(id) as { type: number }).type;
  }
  return id;
}

function descKind(btf: Btf, id: number): TypeDescKind {
  if (id === 0) return 'void';
  const k = DESC_KINDS[btf.kindOf(id)];
  if (k === undefined) throw new BtfError(BtfErrorCode.BadTypeRef, `type [${id}] is a ${btf.type(id).kind}, not a data type`, { typeId: id });
  return k;
}

/** The {@link TypeDesc} of type `id` (see there). */
function describeType(btf: Btf, id: number): TypeDesc {
  const outer = skipQualifiers(btf, id);
  const kind = descKind(btf, outer);
  const inner = kind === 'typedef' ? stripModifiers(btf, outer) : outer;
  const base = kind === 'typedef' ? descKind(btf, inner) : kind;
  let size = 0;
  if (base !== 'void' && base !== 'fwd' && base !== 'func_proto') size = resolvedSize(btf, inner);
  const desc: TypeDesc = { kind, size };
  if (base === 'int' || base === 'enum') {
    const t = btf.type(inner);
    desc.signed = t.kind === 'INT' ? (t.encoding & 1) !== 0 : (t as { signed: boolean }).signed;
  }
  if (kind === 'typedef') desc.base = base;
  return desc;
}

/**
 * The named types of one BTF blob (its own types only: a module's, not its base's) as catalog shapes: every
 * named struct, union, typedef and func, and every enum (ENUM and ENUM64), anonymous ones too (name ''). Funcs
 * carry their linkage and decl tags; typedefs of pointers to prototypes their prototype. Throws {@link BtfError}
 * for BTF that cannot be laid out (loops, unresolvable sizes).
 */
export function normalizeBtf(btf: Btf, module = ''): Shape[] {
  const out: Shape[] = [];
  // Thousands of funcs share a prototype: write each FUNC_PROTO's JSON once, and make each func body once per
  // prototype and linkage (funcs with decl tags are few: theirs are made each time).
  const protos = new Map<number, ProtoJson>();
  const json = new JsonMemo(btf);
  const protoOf = (protoId: number, owner: number, what: string): ProtoJson => {
    let p = protos.get(protoId);
    if (p === undefined) protos.set(protoId, (p = protoJson(btf, json, protoId, owner, what)));
    return p;
  };
  const funcBodies = new Map<number, string>();
  const tags = funcDeclTags(btf);
  const push = (kind: ShapeKind, name: string, size: number, bodyObj: ShapeBody | string): void => {
    const body = typeof bodyObj === 'string' ? bodyObj : JSON.stringify(bodyObj);
    out.push({ kind, name, size, body, hash: shapeHash(kind, name, size, body), module });
  };
  const words = btf.typeWords;
  for (let id = btf.startId; id < btf.nextId; id++) {
    // Most records (pointers, qualifiers, prototypes, arrays, ints) are never stored: skip them undecoded.
    const kindNo = btf.kindOf(id);
    if (!STORED_KINDS[kindNo]) continue;
    if (kindNo === BtfKind.FUNC) {
      // Most shapes are funcs: read their three words in place rather than decoding a record object for each.
      const w = btf.recordWordIndex(id);
      const nameOff = recordNameOff(words, w);
      const name = btf.strings.tryGet(nameOff) ?? btf.strings.get(nameOff, 'name', id);
      if (name === '') continue;
      const protoId = recordSizeOrType(words, w);
      const linkageNo = recordVlen(words, w);
      if (btf.kindOf(protoId) !== BtfKind.FUNC_PROTO) {
        throw new BtfError(BtfErrorCode.BadTypeRef, `func ${name} points at a ${btf.type(protoId).kind}, not a FUNC_PROTO`, { typeId: id });
      }
      const linkage = LINKAGES[linkageNo];
      if (linkage === undefined) throw new BtfError(BtfErrorCode.BadType, `func ${name} has unknown linkage ${linkageNo}`, { typeId: id });
      const tagged = tags.get(id);
      const key = protoId * 4 + linkageNo;
      let body = tagged ? undefined : funcBodies.get(key);
      if (body === undefined) {
        body = funcBodyJson(protoOf(protoId, id, `func ${name}`), linkage, tagged);
        if (!tagged) funcBodies.set(key, body);
      }
      push('func', name, 0, body);
      continue;
    }
    const t = btf.type(id);
    if (t.name === '' && t.kind !== 'ENUM' && t.kind !== 'ENUM64') continue;
    switch (t.kind) {
      case 'STRUCT':
      case 'UNION':
        push(t.kind === 'STRUCT' ? 'struct' : 'union', t.name, t.size, `{"members":${JSON.stringify(storedMembers(btf, id, 0))}}`);
        break;
      case 'ENUM':
        push('enum', t.name, t.size, { signed: t.signed, values: t.values.map((v) => [v.name, String(v.value)]) });
        break;
      case 'ENUM64':
        push('enum', t.name, t.size, { signed: t.signed, values: t.values.map((v) => [v.name, String(v.value)]) });
        break;
      case 'TYPEDEF': {
        let size = 0;
        try {
          size = resolvedSize(btf, id);
        } catch (err) {
          // Typedefs of function types or of incomplete structs have no size; a loop is still an error.
          if (!(err instanceof BtfError) || err.code === BtfErrorCode.TypeLoop) throw err;
        }
        // A TypedefBody ({ type, members?, proto? }) as JSON.stringify writes it, in that key order.
        let body = `{"type":${json.ref(t.type)}`;
        const inner = stripModifiers(btf, t.type);
        const k = btf.kindOf(inner);
        if ((k === BtfKind.STRUCT || k === BtfKind.UNION) && btf.nameOf(inner) === '') body += `,"members":${JSON.stringify(storedMembers(btf, inner, 0))}`;
        const ptr = skipQualifiers(btf, t.type);
        if (btf.kindOf(ptr) === BtfKind.PTR) {
          const target = skipQualifiers(btf, (btf.type(ptr) as { type: number }).type);
          if (target !== 0 && btf.kindOf(target) === BtfKind.FUNC_PROTO) body += `,"proto":${protoOf(target, id, `typedef ${t.name}`).json}`;
        }
        push('typedef', t.name, size, `${body}}`);
        break;
      }
      default:
        break;
    }
  }
  return out;
}

/**
 * A func body's JSON, as `JSON.stringify` writes a {@link FuncBody} in its key order (the prototype's keys, the
 * linkage, then tags when there are any), made from the prototype's JSON without stringifying it again.
 */
function funcBodyJson(proto: ProtoJson, linkage: FuncLinkage, tags: FuncTags | undefined): string {
  let out = `${proto.json.slice(0, -1)},"linkage":"${linkage}"`;
  if (tags && tags.own.length > 0) out += `,"tags":${JSON.stringify(tags.own)}`;
  if (tags && tags.params.size > 0) {
    out += `,"paramTags":${JSON.stringify(Array.from({ length: proto.params }, (_, i) => tags.params.get(i) ?? []))}`;
  }
  return `${out}}`;
}

/** A FUNC_PROTO's {@link ProtoBody} as JSON, and its number of (named) parameters. */
interface ProtoJson {
  json: string;
  params: number;
}

/**
 * JSON texts per type id for one normalizeBtf call: the type reference and the stored description (parameters of
 * many prototypes share their types; base ids of a module's prototypes are memoized here too).
 */
class JsonMemo {
  private readonly refs = new Map<number, string>();
  private readonly descs = new Map<number, string>();

  constructor(private readonly btf: Btf) {}

  /** `JSON.stringify(typeRef(btf, id))`. */
  ref(id: number): string {
    let s = this.refs.get(id);
    if (s === undefined) this.refs.set(id, (s = JSON.stringify(typeRef(this.btf, id))));
    return s;
  }

  /** `JSON.stringify` of the {@link StoredTypeDesc} of `id`. */
  desc(id: number): string {
    let s = this.descs.get(id);
    if (s === undefined) this.descs.set(id, (s = JSON.stringify(storeTypeDesc(describeType(this.btf, id)))));
    return s;
  }
}

const PARAM_WORDS = 2;

/**
 * A FUNC_PROTO's type references and descriptions as the JSON of a {@link ProtoBody} (`JSON.stringify`'s text: keys ret,
 * params, variadic, retDesc, paramDescs), read from the record's words without decoding it; `owner` and `what`
 * name the FUNC or typedef that uses it in errors. References are made before descriptions, return type first.
 */
function protoJson(btf: Btf, memo: JsonMemo, protoId: number, owner: number, what: string): ProtoJson {
  if (btf.kindOf(protoId) !== BtfKind.FUNC_PROTO) {
    throw new BtfError(BtfErrorCode.BadTypeRef, `${what} points at a ${btf.type(protoId).kind}, not a FUNC_PROTO`, { typeId: owner });
  }
  // The blob that holds the record: a module's prototype may be its base's.
  let home = btf;
  while (home.base && protoId < home.startId) home = home.base;
  const words = home.typeWords;
  const w = home.recordWordIndex(protoId);
  const ret = recordSizeOrType(words, w);
  const vlen = recordVlen(words, w);
  const first = recordData(w);
  const variadic = vlen > 0 && words[first + (vlen - 1) * PARAM_WORDS + 1] === 0;
  const n = variadic ? vlen - 1 : vlen;
  const retRef = memo.ref(ret);
  let params = '';
  for (let i = 0; i < n; i++) {
    const q = first + i * PARAM_WORDS;
    const nameOff = words[q];
    const name = home.strings.tryGet(nameOff) ?? home.strings.get(nameOff, `parameter ${i} name`, protoId);
    params += `${i === 0 ? '' : ','}[${JSON.stringify(name)},${memo.ref(words[q + 1])}]`;
  }
  let descs = '';
  const retDesc = memo.desc(ret);
  for (let i = 0; i < n; i++) descs += `${i === 0 ? '' : ','}${memo.desc(words[first + i * PARAM_WORDS + 1])}`;
  return { json: `{"ret":${retRef},"params":[${params}],"variadic":${variadic},"retDesc":${retDesc},"paramDescs":[${descs}]}`, params: n };
}
