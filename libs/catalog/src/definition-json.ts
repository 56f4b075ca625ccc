import type { CompositeBody, EnumBody, TypedefBody } from './normalize.js';
import type { Definition } from './queries.js';

/**
 * How the kinds' answers turn a kernel's definitions into JSON, shared by the one-kernel answers (in-kernel.ts)
 * and the histories (libs/diff).
 */

/** Each definition as many times as the kernel has identical copies of it. */
export function withCopies<J>(defs: Definition[], json: (d: Definition) => J): J[] {
  const out: J[] = [];
  for (const d of defs) {
    const j = json(d);
    for (let i = 0; i < d.copies; i++) out.push(j);
  }
  return out;
}

/**
 * `make`, called once per shape and module within one answer: kernels whose sets differ elsewhere in the bucket
 * hold distinct Definition objects of one shape, and share its JSON object (so changes between them are skipped
 * by identity).
 */
export function perShape<J>(make: (d: Definition) => J): (d: Definition) => J {
  const made = new Map<string, J>();
  return (d) => {
    const key = `${d.shapeId}\0${d.module}`;
    let j = made.get(key);
    if (j === undefined) made.set(key, (j = make(d)));
    return j;
  };
}

/** Parsed bodies of definitions (one Definition object serves every kernel whose set holds it). */
const parsedBodies = new WeakMap<Definition, CompositeBody | TypedefBody | EnumBody>();

/** A definition's parsed body, parsed once per Definition object. */
export function definitionBody(d: Definition): CompositeBody | TypedefBody | EnumBody {
  let body = parsedBodies.get(d);
  if (body === undefined) parsedBodies.set(d, (body = JSON.parse(d.body) as CompositeBody | TypedefBody | EnumBody));
  return body;
}
