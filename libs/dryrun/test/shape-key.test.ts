/**
 * Kernels resolved once per group of equal shapes (shape-key.ts): three kernels made from 6.1.0-50's vmlinux BTF,
 * the base, one with a struct no object touches grown (as a patch release adds a field), and one with a struct
 * core_chain reads grown. The untouched change shares the base's resolution, the touched one is resolved apart,
 * an object whose decisions are kernel type ids (TYPE_ID_TARGET) is resolved on every kernel, and every entry equals
 * the dry run on that kernel's own BTF.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Btf, extractBtf } from '@btf-atlas/btf';
import { BlobStore, jobDataOf, openCatalog, processIngest, scanPath, type Catalog } from '@btf-atlas/catalog';
import { targetLookups } from '@btf-atlas/core';
import {
  checkObjectOnTarget, coreCheck, planLoads, readObjectInput, selectKernels, type CoreCheckAnswer, type DryRunProgress,
} from '../src/index.js';
import { CORPUS_ARCHIVE, K50, OBJECTS, objectBytes } from './support.js';

const BASE = 'synthetic/12/x86_64/6.1.0-1-amd64';
const UNTOUCHED = 'synthetic/12/x86_64/6.1.0-2-amd64';
const TOUCHED = 'synthetic/12/x86_64/6.1.0-3-amd64';
/**
 * A struct core_chain reads (`dev->ifindex`) and core_flavors does not, grown in the touched kernel. Some type holds
 * it by value, whose size is left alone: still an input the dry run reads as it is (it walks the struct itself).
 */
const TOUCHED_STRUCT = 'net_device';

let dir: string;
let catalog: Catalog;
const raw = new Map<string, Uint8Array>();
let answers: Map<string, CoreCheckAnswer>;
const progress: DryRunProgress[] = [];
let untouchedStruct = '';
/** The struct the touched kernel grows. */
let touchedStruct = '';

/** Ids of named structs that no member, array, typedef, modifier or variable holds by value. */
function notHeldByValue(btf: Btf): Set<number> {
  const byValue = new Set<number>();
  for (let id = 1; id < btf.nextId; id++) {
    const t = btf.type(id);
    if (t.kind === 'STRUCT' || t.kind === 'UNION') for (const m of t.members) byValue.add(m.type);
    else if (t.kind === 'ARRAY') byValue.add(t.type);
    else if ('type' in t && t.kind !== 'PTR' && t.kind !== 'FUNC' && t.kind !== 'FUNC_PROTO') byValue.add(t.type as number);
  }
  const out = new Set<number>();
  for (let id = 1; id < btf.nextId; id++) {
    const t = btf.type(id);
    if (t.kind === 'STRUCT' && t.name !== '' && t.members.length > 0 && !byValue.has(id)) out.add(id);
  }
  return out;
}

/** A copy of `bytes` with struct `id` 8 bytes bigger and its last member 8 bytes further (a field inserted before it). */
function grown(bytes: Uint8Array, id: number): Uint8Array {
  const copy = Buffer.from(bytes);
  const btf = Btf.parse(copy);
  const dv = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
  const le = btf.littleEndian;
  const off = btf.recordOffset(id);
  const vlen = dv.getUint32(off + 4, le) & 0xffff;
  dv.setUint32(off + 8, dv.getUint32(off + 8, le) + 8, le);
  const last = off + 12 + (vlen - 1) * 12;
  dv.setUint32(last + 8, dv.getUint32(last + 8, le) + 64, le);
  return copy;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-shape-key-'));
  const [blob] = await extractBtf(readFileSync(join(CORPUS_ARCHIVE, `${K50}.btf.tar.xz`)), K50);
  const base = Btf.parse(blob.bytes);
  const free = notHeldByValue(base);
  const idOf = (name: string): number => {
    for (let id = 1; id < base.nextId; id++) if (base.kindOf(id) === 4 && base.nameOf(id) === name) return id;
    throw new Error(`no struct ${name}`);
  };
  const touched = idOf(TOUCHED_STRUCT);
  // A struct none of the seven objects asks for (no root, kfunc or attach target); held by value nowhere, it is in
  // no walk's by-value reach either.
  const reached = new Set(OBJECTS.flatMap((o) => targetLookups(readObjectInput({ name: o, bytes: objectBytes(o) }).obj).lookups.map((l) => l.name)));
  const untouched = [...free].find((id) => !reached.has(base.nameOf(id))) as number;
  untouchedStruct = base.nameOf(untouched);
  touchedStruct = base.nameOf(touched);
  raw.set(BASE, blob.bytes);
  raw.set(UNTOUCHED, grown(blob.bytes, untouched));
  raw.set(TOUCHED, grown(blob.bytes, touched));
  const tree = join(dir, 'archive');
  for (const [k, bytes] of raw) {
    const path = join(tree, `${k}.btf`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes);
  }
  const db = join(dir, 'atlas.db');
  const writer = openCatalog(db);
  try {
    const blobs = BlobStore.forCatalog(db);
    for (const item of scanPath(tree)) await processIngest(jobDataOf(item), { catalog: writer, blobs });
  } finally {
    writer.close();
  }
  catalog = openCatalog(db, { readonly: true });
  const all = await coreCheck(catalog, OBJECTS.map((name) => ({ name, bytes: objectBytes(name) })), {}, { onProgress: (p) => progress.push(p) });
  answers = new Map(all.map((a) => [a.object.name, a]));
}, 120_000);

afterAll(() => {
  catalog?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function entryOf(object: string, kernel: string) {
  const e = answers.get(object)?.kernels.find((k) => k.kernel === kernel);
  if (!e) throw new Error(`no entry for ${object} on ${kernel}`);
  return e;
}

describe('kernels that share the shapes an object touches are resolved once', () => {
  it('a change to a struct no relocation, kfunc or attach target reaches shares the base\'s resolution', () => {
    expect(untouchedStruct).not.toBe('');
    for (const object of ['core_chain', 'core_flavors', 'core_bitfields', 'core_broken', 'core_matches']) {
      expect(entryOf(object, UNTOUCHED).resolved_on, `${object} (${untouchedStruct} grown)`).toBe(BASE);
      expect(entryOf(object, UNTOUCHED).relocations).toBe(entryOf(object, BASE).relocations);
      expect(entryOf(object, BASE).resolved_on).toBe(BASE);
    }
  });

  it('a change to a struct a relocation reads is resolved apart', () => {
    const e = entryOf('core_chain', TOUCHED);
    expect(e.resolved_on, `${touchedStruct} grown`).toBe(TOUCHED);
    // The fields read kept their offsets, but the struct is another shape: the catalog proves nothing more.
    expect(e.relocations).not.toBe(entryOf('core_chain', BASE).relocations);
    // Objects that do not read that struct still share.
    expect(entryOf('core_flavors', TOUCHED).resolved_on).toBe(BASE);
  });

  it('TYPE_ID_TARGET values are kernel type ids: such an object is resolved on every kernel\'s own btf', () => {
    for (const k of [BASE, UNTOUCHED, TOUCHED]) expect(entryOf('core_types_enums', k).resolved_on).toBe(k);
    const plan = planLoads(catalog, [readObjectInput({ name: 'core_types_enums', bytes: objectBytes('core_types_enums') })], selectKernels(catalog, {}));
    expect(plan.unprovable[0]).toContain('TYPE_ID_TARGET');
  });

  it("two layouts of one name that are only a lookup's candidates key as the pair: libbpf's decision does not depend on their order", () => {
    // x86_64 vmlinux has two different `struct controller`; core_ambiguous reads controller___x.queue, so both are
    // candidates, compared alike whichever comes first (their differing answers make the relocation ambiguous).
    for (const k of [BASE, UNTOUCHED, TOUCHED]) expect(entryOf('core_ambiguous', k)).toMatchObject({ resolved_on: BASE, verdict: 'fails' });
  });


  it('three loads: the base answers for every kernel it stands for, then each other kernel for what it does not share', () => {
    expect(progress.map((p) => p.kernels)).toEqual([[BASE, UNTOUCHED, TOUCHED], [UNTOUCHED], [TOUCHED]]);
    expect(progress.at(-1)).toMatchObject({ done: 3, total: 3 });
  });

  it.each(OBJECTS)('%s: every entry equals the dry run on that kernel\'s own btf', (object) => {
    const obj = readObjectInput({ name: object, bytes: objectBytes(object) }).obj;
    for (const [kernel, bytes] of raw) {
      const own = checkObjectOnTarget(obj, { vmlinux: Btf.parse(bytes), modules: [] });
      const got = entryOf(object, kernel);
      expect({ ...got, kernel: undefined, series: undefined, btf_sha256: undefined, modules: undefined, resolved_on: undefined }).toEqual({
        ...own, kernel: undefined, series: undefined, btf_sha256: undefined, modules: undefined, resolved_on: undefined,
      });
    }
  });
});
