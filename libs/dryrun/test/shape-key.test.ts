/**
 * Kernels resolved once per group of equal shapes (shape-key.ts): three kernels made from 6.1.0-50's vmlinux BTF,
 * the base, one with a struct no object touches grown (as a patch release adds a field), and one with a struct
 * core_chain reads grown. The untouched change shares the base's resolution, the touched one is resolved apart,
 * an object whose decisions are kernel type ids (TYPE_ID_TARGET) shares too, each kernel with its own ids (a fourth
 * kernel has every type one id further), and every entry equals
 * the dry run on that kernel's own BTF.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Btf, extractBtf, type BtfType } from '@btf-atlas/btf';
import { BlobStore, jobDataOf, openCatalog, processIngest, scanPath, type Catalog } from '@btf-atlas/catalog';
import { targetLookups, writeBtf } from '@btf-atlas/core';
import {
  checkObjectOnTarget, coreCheck, planLoads, readObjectInput, selectKernels, type CoreCheckAnswer, type DryRunProgress, type KernelCheckBody,
} from '../src/index.js';
import { CORPUS_ARCHIVE, K50, OBJECTS, objectBytes } from './support.js';

const BASE = 'synthetic/12/x86_64/6.1.0-1-amd64';
const UNTOUCHED = 'synthetic/12/x86_64/6.1.0-2-amd64';
const TOUCHED = 'synthetic/12/x86_64/6.1.0-3-amd64';
/** The base's types, each one id further (an INT no shape records comes first): equal shapes, other type ids. */
const SHIFTED = 'synthetic/12/x86_64/6.1.0-4-amd64';
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

/** `bytes` with an unnamed-to-the-catalog INT inserted as type 1: every other type is one id further. */
function shifted(bytes: Uint8Array): Uint8Array {
  const btf = Btf.parse(bytes);
  const up = (id: number): number => (id === 0 ? 0 : id + 1);
  const types: BtfType[] = [{ kind: 'INT', id: 1, name: 'atlas_shift', nameOff: 0, kindFlag: false, size: 4, encoding: 0, bitsOffset: 0, nrBits: 32 }];
  for (let id = 1; id < btf.nextId; id++) {
    const t = { ...btf.type(id), id: id + 1 } as BtfType & Record<string, unknown>;
    for (const f of ['type', 'indexType', 'returnType'] as const) if (typeof t[f] === 'number') t[f] = up(t[f] as number);
    for (const f of ['members', 'params', 'vars'] as const) {
      if (Array.isArray(t[f])) t[f] = (t[f] as { type: number }[]).map((m) => ({ ...m, type: up(m.type) }));
    }
    types.push(t);
  }
  return writeBtf(types);
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
  raw.set(SHIFTED, shifted(blob.bytes));
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

  it("TYPE_ID_TARGET values are kernel type ids: kernels of equal shapes share one resolution, each with its own ids", () => {
    for (const k of [BASE, UNTOUCHED, TOUCHED, SHIFTED]) expect(entryOf('core_types_enums', k).resolved_on).toBe(BASE);
    const plan = planLoads(catalog, [readObjectInput({ name: 'core_types_enums', bytes: objectBytes('core_types_enums') })], selectKernels(catalog, {}));
    expect(plan.unprovable[0]).toBeUndefined();
    expect(plan.loads).toHaveLength(1);
    const idOf = (k: string) => entryOf('core_types_enums', k).relocations.find((r) => r.kind === 'TYPE_ID_TARGET');
    const base = idOf(BASE);
    expect(base).toMatchObject({ status: 'resolved', target: { type: 'struct task_struct' } });
    // libbpf writes the kernel's id of struct task_struct: one further in the shifted kernel, and nowhere else changed.
    expect(idOf(SHIFTED)).toMatchObject({ new_value: Number(base?.new_value) + 1, target: { type_id: Number(base?.target?.type_id) + 1 } });
    expect(idOf(SHIFTED)?.patches.map((p) => p.new)).toEqual(base?.patches.map((p) => Number(p.new) + 1));
    expect(idOf(UNTOUCHED)).toBe(base);
  });

  it('a kernel without recorded type ids (ingested before they were) is resolved on its own btf', () => {
    const db = join(dir, 'no-ids.db');
    catalog.sqlite.prepare('VACUUM INTO ?').run(db);
    const old = openCatalog(db);
    try {
      const shiftedId = old.sqlite.prepare("SELECT id FROM kernels WHERE uname_r = '6.1.0-4-amd64'").pluck().get();
      old.sqlite.prepare('DELETE FROM kernel_type_ids WHERE kernel_id = ?').run(shiftedId);
      const kernels = selectKernels(old, {});
      const plan = planLoads(old, [readObjectInput({ name: 'core_types_enums', bytes: objectBytes('core_types_enums') })], kernels);
      expect(plan.loads.map((l) => l.objects[0].kernels.map((i) => kernels[i].kernel))).toEqual([[BASE, UNTOUCHED, TOUCHED], [SHIFTED]]);
    } finally {
      old.close();
    }
  });

  it("two layouts of one name that are only a lookup's candidates key as the pair: libbpf's decision does not depend on their order", () => {
    // x86_64 vmlinux has two different `struct controller`; core_ambiguous reads controller___x.queue, so both are
    // candidates, compared alike whichever comes first (their differing answers make the relocation ambiguous).
    for (const k of [BASE, UNTOUCHED, TOUCHED]) expect(entryOf('core_ambiguous', k)).toMatchObject({ resolved_on: BASE, verdict: 'fails' });
  });


  it('two loads: the base answers for every kernel it stands for, then each other kernel for what it does not share', () => {
    expect(progress.map((p) => p.kernels)).toEqual([[BASE, UNTOUCHED, TOUCHED, SHIFTED], [TOUCHED]]);
    expect(progress.at(-1)).toMatchObject({ done: 2, total: 2 });
  });

  it.each(OBJECTS)('%s: every entry equals the dry run on that kernel\'s own btf', (object) => {
    const obj = readObjectInput({ name: object, bytes: objectBytes(object) }).obj;
    for (const [kernel, bytes] of raw) {
      const own = checkObjectOnTarget(obj, { vmlinux: Btf.parse(bytes), modules: [] });
      const got = entryOf(object, kernel);
      // Type ids shown (targets', messages') are those of the kernel resolved on; decisions, TYPE_ID_TARGET's ids
      // included, are the kernel's own.
      const idsOf = got.resolved_on === kernel ? (e: KernelCheckBody) => e : decisionsOnly;
      expect(idsOf({ ...got, kernel: undefined, series: undefined, btf_sha256: undefined, modules: undefined, resolved_on: undefined } as KernelCheckBody)).toEqual(
        idsOf({ ...own, kernel: undefined, series: undefined, btf_sha256: undefined, modules: undefined, resolved_on: undefined } as KernelCheckBody),
      );
    }
  });
});

/** An entry without the type ids it shows only (targets' ids other than TYPE_ID_TARGET's, messages). */
function decisionsOnly(e: KernelCheckBody): KernelCheckBody {
  return {
    ...e,
    relocations: e.relocations.map((r) => ({
      ...r,
      messages: [],
      target: r.target && r.kind !== 'TYPE_ID_TARGET' ? { ...r.target, type_id: -1 } : r.target,
    })),
  };
}
