import { hash as oneShotHash } from 'node:crypto';
import {
  BtfError, BtfErrorCode, BtfKind, flattenMembers, resolvedSize, spellType, stripModifiers,
  type Btf, type FlatMember,
} from '@btf-atlas/btf';
import type { FuncBody, Shape, ShapeBody, ShapeKind, StoredMember, TypedefBody } from './normalize.js';

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

/**
 * The named types of one BTF blob (its own types only: a module's, not its base's) as catalog shapes:
 * every named struct, union, enum (ENUM and ENUM64), typedef and func. Throws {@link BtfError} for BTF that
 * cannot be laid out (loops, unresolvable sizes).
 */
export function normalizeBtf(btf: Btf, module = ''): Shape[] {
  const out: Shape[] = [];
  // Thousands of funcs share a prototype: spell each FUNC_PROTO once.
  const protoBodies = new Map<number, string>();
  const push = (kind: ShapeKind, name: string, size: number, bodyObj: ShapeBody | string): void => {
    const body = typeof bodyObj === 'string' ? bodyObj : JSON.stringify(bodyObj);
    out.push({ kind, name, size, body, hash: shapeHash(kind, name, size, body), module });
  };
  for (let id = btf.startId; id < btf.nextId; id++) {
    // Most records (pointers, qualifiers, prototypes, arrays, ints) are never stored: skip them undecoded.
    if (!STORED_KINDS[btf.kindOf(id)]) continue;
    const t = btf.type(id);
    if (t.name === '') continue;
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
        push('typedef', t.name, size, body);
        break;
      }
      case 'FUNC': {
        let body = protoBodies.get(t.type);
        if (body === undefined) {
          body = JSON.stringify(funcBody(btf, id, t.name, t.type));
          protoBodies.set(t.type, body);
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

function funcBody(btf: Btf, id: number, name: string, protoId: number): FuncBody {
  const proto = btf.type(protoId);
  if (proto.kind !== 'FUNC_PROTO') {
    throw new BtfError(BtfErrorCode.BadTypeRef, `func ${name} points at a ${proto.kind}, not a FUNC_PROTO`, { typeId: id });
  }
  const params = proto.params;
  const variadic = params.length > 0 && params[params.length - 1].type === 0;
  const named = variadic ? params.slice(0, -1) : params;
  return { ret: spellType(btf, proto.returnType), params: named.map((p) => [p.name, spellType(btf, p.type)]), variadic };
}
