import { hash as oneShotHash } from 'node:crypto';
import {
  BtfError, BtfErrorCode, BtfKind, flattenMembers, resolvedSize, spellType, stripModifiers,
  type Btf, type FlatMember,
} from '@btf-atlas/btf';
import {
  storeTypeDesc,
  type StoredTypeDesc,
  type FuncLinkage, type ProtoBody, type Shape, type ShapeBody, type ShapeKind, type StoredMember, type TypeDesc, type TypeDescKind,
  type TypedefBody,
} from './normalize.js';

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
    const row: StoredMember = [m.name, m.bitsOffset, m.bitfieldSize, m.size, m.type, m.anonDepth];
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
  // Thousands of funcs share a prototype: spell and describe each FUNC_PROTO once, keep its JSON, and make each
  // func body once per prototype and linkage (funcs with decl tags are few: theirs are made each time).
  const protos = new Map<number, { body: ProtoBody; json: string }>();
  const protoOf = (protoId: number, owner: number, what: string): { body: ProtoBody; json: string } => {
    let p = protos.get(protoId);
    if (p === undefined) {
      const body = protoBody(btf, protoId, owner, what);
      protos.set(protoId, (p = { body, json: JSON.stringify(body) }));
    }
    return p;
  };
  const funcBodies = new Map<number, string>();
  const tags = funcDeclTags(btf);
  const push = (kind: ShapeKind, name: string, size: number, bodyObj: ShapeBody | string): void => {
    const body = typeof bodyObj === 'string' ? bodyObj : JSON.stringify(bodyObj);
    out.push({ kind, name, size, body, hash: shapeHash(kind, name, size, body), module });
  };
  for (let id = btf.startId; id < btf.nextId; id++) {
    // Most records (pointers, qualifiers, prototypes, arrays, ints) are never stored: skip them undecoded.
    if (!STORED_KINDS[btf.kindOf(id)]) continue;
    const t = btf.type(id);
    if (t.name === '' && t.kind !== 'ENUM' && t.kind !== 'ENUM64') continue;
    switch (t.kind) {
      case 'STRUCT':
      case 'UNION':
        push(t.kind === 'STRUCT' ? 'struct' : 'union', t.name, t.size, { members: storedMembers(btf, id, 0) });
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
        const body: TypedefBody = { type: spellType(btf, t.type) };
        const inner = stripModifiers(btf, t.type);
        const k = btf.kindOf(inner);
        if ((k === BtfKind.STRUCT || k === BtfKind.UNION) && btf.nameOf(inner) === '') body.members = storedMembers(btf, inner, 0);
        const ptr = skipQualifiers(btf, t.type);
        if (btf.kindOf(ptr) === BtfKind.PTR) {
          const target = skipQualifiers(btf, (btf.type(ptr) as { type: number }).type);
          if (target !== 0 && btf.kindOf(target) === BtfKind.FUNC_PROTO) body.proto = protoOf(target, id, `typedef ${t.name}`).body;
        }
        push('typedef', t.name, size, body);
        break;
      }
      case 'FUNC': {
        if (btf.kindOf(t.type) !== BtfKind.FUNC_PROTO) {
          throw new BtfError(BtfErrorCode.BadTypeRef, `func ${t.name} points at a ${btf.type(t.type).kind}, not a FUNC_PROTO`, { typeId: id });
        }
        const linkage = LINKAGES[t.linkage];
        if (linkage === undefined) throw new BtfError(BtfErrorCode.BadType, `func ${t.name} has unknown linkage ${t.linkage}`, { typeId: id });
        const tagged = tags.get(id);
        const key = t.type * 4 + t.linkage;
        let body = tagged ? undefined : funcBodies.get(key);
        if (body === undefined) {
          body = funcBodyJson(protoOf(t.type, id, `func ${t.name}`).json, linkage, tagged);
          if (!tagged) funcBodies.set(key, body);
        }
        push('func', t.name, 0, body);
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
function funcBodyJson(protoJson: string, linkage: FuncLinkage, tags: FuncTags | undefined): string {
  let out = `${protoJson.slice(0, -1)},"linkage":"${linkage}"`;
  if (tags && tags.own.length > 0) out += `,"tags":${JSON.stringify(tags.own)}`;
  if (tags && tags.params.size > 0) {
    const n = (JSON.parse(protoJson) as ProtoBody).params.length;
    out += `,"paramTags":${JSON.stringify(Array.from({ length: n }, (_, i) => tags.params.get(i) ?? []))}`;
  }
  return `${out}}`;
}

/** Stored descriptions per type id, per BTF object (parameters of many prototypes share their types). */
const storedDescs = new WeakMap<Btf, Map<number, StoredTypeDesc>>();

function storedDescOf(btf: Btf, id: number): StoredTypeDesc {
  let m = storedDescs.get(btf);
  if (!m) storedDescs.set(btf, (m = new Map()));
  let d = m.get(id);
  if (d === undefined) m.set(id, (d = storeTypeDesc(describeType(btf, id))));
  return d;
}

/** A FUNC_PROTO's spellings and descriptions; `owner` and `what` name the FUNC or typedef that uses it in errors. */
function protoBody(btf: Btf, protoId: number, owner: number, what: string): ProtoBody {
  const proto = btf.type(protoId);
  if (proto.kind !== 'FUNC_PROTO') {
    throw new BtfError(BtfErrorCode.BadTypeRef, `${what} points at a ${proto.kind}, not a FUNC_PROTO`, { typeId: owner });
  }
  const params = proto.params;
  const variadic = params.length > 0 && params[params.length - 1].type === 0;
  const named = variadic ? params.slice(0, -1) : params;
  return {
    ret: spellType(btf, proto.returnType),
    params: named.map((p) => [p.name, spellType(btf, p.type)]),
    variadic,
    retDesc: storedDescOf(btf, proto.returnType),
    paramDescs: named.map((p) => storedDescOf(btf, p.type)),
  };
}
