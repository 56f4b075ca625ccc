/**
 * Reads for the CO-RE dry run's grouping of kernels (libs/dryrun shape-key.ts): the shapes libbpf's candidate
 * search can find for a name (the name itself and its `___flavor` variants), and where those shapes are defined
 * in every kernel (queries.ts {@link definitionsOfShapes}).
 */
import type { Catalog } from './db.js';
import type { ShapeKind } from './normalize.js';
import type { ShapeRow } from './queries.js';

/**
 * The shapes named `name` and, with `flavors`, those named `name___SOMETHING` (what libbpf's essential-name
 * comparison may take for `name`; the caller keeps those whose essential name is `name`), among `kinds`, in id
 * order. One indexed range scan on `shapes_name`; nothing for the name ''.
 */
export function shapesNamedWithFlavors(catalog: Catalog, name: string, kinds: readonly ShapeKind[], flavors: boolean): ShapeRow[] {
  if (name === '' || kinds.length === 0) return [];
  const inKinds = `kind IN (${kinds.map(() => '?').join(',')})`;
  if (!flavors) {
    return catalog.sqlite
      .prepare(`SELECT id, kind, name, size, body, hash FROM shapes WHERE name = ? AND ${inKinds} ORDER BY id`)
      .all(name, ...kinds) as ShapeRow[];
  }
  // Names from `name___` up to (not including) `name__`` (the byte after `_`): every `name___…` in binary order.
  return catalog.sqlite
    .prepare(`SELECT id, kind, name, size, body, hash FROM shapes WHERE (name = ? OR (name >= ? AND name < ?)) AND ${inKinds} ORDER BY id`)
    .all(name, `${name}___`, `${name}__\``, ...kinds) as ShapeRow[];
}
