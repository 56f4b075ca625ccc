import type { Catalog } from './db.js';
import { KFUNC_TAG, syscallOfFunc, tracepointOfTypedef, type SearchKind } from './kind-names.js';
import { spelled, type EnumBody, type FuncBody, type ShapeKind } from './normalize.js';

/**
 * The derived indexes of shapes (schema.ts `names` and `enumerators`), written once per shape when it is first
 * inserted: by ingest (writeKernel) and by whatever else inserts shapes (merging catalogs). Nothing else writes
 * them, and a shape never changes, so they stay exact.
 */

/** A shape row as inserted: its id and what the index reads of it. */
export interface IndexedShape {
  id: number;
  kind: ShapeKind;
  name: string;
  body: string;
}

/** What {@link indexNewShapes} added. */
export interface ShapeIndexStats {
  /** `names` rows that were new. */
  names: number;
  /** `enumerators` rows added. */
  enumerators: number;
}

interface Statements {
  name: { run(name: string, kind: SearchKind): { changes: number } };
  enumerator: { run(name: string, shapeId: number): { changes: number } };
}

const statements = new WeakMap<Catalog['sqlite'], Statements>();

function statementsOf(catalog: Catalog): Statements {
  let s = statements.get(catalog.sqlite);
  if (!s) {
    s = {
      name: catalog.sqlite.prepare('INSERT OR IGNORE INTO names (name, kind) VALUES (?, ?)'),
      enumerator: catalog.sqlite.prepare('INSERT OR IGNORE INTO enumerators (name, shape_id) VALUES (?, ?)'),
    };
    statements.set(catalog.sqlite, s);
  }
  return s;
}

/**
 * The search names a shape gives (name, kind): its own name and kind when named; and, read from its body, `kfunc`
 * for a func tagged {@link KFUNC_TAG}, `syscall` for a syscall wrapper func, `tracepoint` for a `btf_trace_`
 * typedef, `enumerator` for each of an enum's values. Bodies are parsed only where a kind needs them (funcs
 * whose body holds a tag, plain `sys_` funcs, enums).
 */
export function searchNamesOf(shape: IndexedShape): [name: string, kind: SearchKind][] {
  const out: [string, SearchKind][] = [];
  if (shape.name !== '') out.push([shape.name, shape.kind]);
  switch (shape.kind) {
    case 'func': {
      if (shape.body.includes('"tags"')) {
        const body = JSON.parse(shape.body) as FuncBody;
        if (body.tags?.includes(KFUNC_TAG)) out.push([shape.name, 'kfunc']);
      }
      const c = shape.name.charCodeAt(0);
      // `sys_`/`compat_sys_` names need the return type: read the body only for those.
      const plain = c === 0x73 || c === 0x63 ? spelled((JSON.parse(shape.body) as FuncBody).ret) === 'long int' : false;
      const sys = syscallOfFunc(shape.name, plain);
      if (sys) out.push([sys.syscall, 'syscall']);
      break;
    }
    case 'typedef': {
      const tp = tracepointOfTypedef(shape.name);
      if (tp !== undefined) out.push([tp, 'tracepoint']);
      break;
    }
    case 'enum':
      for (const [value] of (JSON.parse(shape.body) as EnumBody).values) out.push([value, 'enumerator']);
      break;
    default:
      break;
  }
  return out;
}

/**
 * Adds newly inserted shapes to the derived indexes: their search names (`names`, see {@link searchNamesOf}) and,
 * for enums, each enumerator → shape row (`enumerators`). Runs inside the caller's write transaction, right after
 * the shapes are inserted; rows already present are kept (INSERT OR IGNORE), so indexing a shape twice is harmless.
 */
export function indexNewShapes(catalog: Catalog, rows: Iterable<IndexedShape>): ShapeIndexStats {
  const s = statementsOf(catalog);
  const stats: ShapeIndexStats = { names: 0, enumerators: 0 };
  // Within one call the same name and kind comes back often (a func changed in many modules, enum values).
  const seen = new Set<string>();
  for (const row of rows) {
    for (const [name, kind] of searchNamesOf(row)) {
      // An enum's enumerators are its `enumerator` names.
      if (kind === 'enumerator') stats.enumerators += s.enumerator.run(name, row.id).changes;
      const key = `${kind}\0${name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      stats.names += s.name.run(name, kind).changes;
    }
  }
  return stats;
}
