/**
 * Each kernel's recorded type ids (type-ids.ts, migration 0005): what ingest writes, what a lookup answers
 * (`none`, `many`, the id), the row a re-ingest fills for a kernel ingested before ids were recorded, a row that
 * does not decode, and on a real kernel every named struct, union, enum and typedef's id as its own BTF has it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Btf, extractBtf } from '@btf-atlas/btf';
import { BlobStore, CatalogError, openCatalog, parseKref, prepareKernel, writeKernel, type Catalog } from '@btf-atlas/catalog';
import { encodeTypeIds, findTypeIds, kernelTypeIds, typeIdKey, type TypeIdKind } from '@btf-atlas/catalog/type-ids';
import { BtfBuilder } from '../../btf/test/support/builder.js';

const ROOT = join(import.meta.dirname, '../../..');
const K612 = 'debian/13/x86_64/6.12.117+deb13-amd64';

let dir: string;
let catalog: Catalog;
let blobs: BlobStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-type-ids-'));
  catalog = openCatalog(join(dir, 'atlas.db'));
  blobs = BlobStore.forCatalog(join(dir, 'atlas.db'));
});

afterEach(() => {
  catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

async function ingest(kref: string, bytes: Uint8Array): Promise<{ id: number; status: string }> {
  const k = parseKref(kref);
  const r = writeKernel(catalog, blobs, await prepareKernel({ kref: k, file: { source: `${k.unameR}.btf`, bytes } }));
  const id = catalog.sqlite.prepare('SELECT id FROM kernels WHERE uname_r = ?').pluck().get(k.unameR) as number;
  return { id, status: r.status };
}

/** Types 1..: int, struct task, union u, enum e, enum64 e64, typedef t, two different `struct dup`, an anonymous struct, a func. */
function smallBtf(): Uint8Array {
  const b = new BtfBuilder();
  const int = b.int('int', 4, 32, 1);
  b.struct('task', 4, [{ name: 'x', type: int, bitsOffset: 0 }]);
  b.union('u', 4, [{ name: 'x', type: int, bitsOffset: 0 }]);
  b.enum('e', 4, [['E0', 0]]);
  b.enum64('e64', 8, [['F0', 1n]]);
  b.typedef('t', int);
  b.struct('dup', 4, [{ name: 'a', type: int, bitsOffset: 0 }]);
  b.struct('dup', 4, [{ name: 'b', type: int, bitsOffset: 0 }]);
  b.struct(undefined, 4, [{ name: 'c', type: int, bitsOffset: 0 }]);
  b.func('task_fn', b.funcProto(int, []));
  return b.build();
}

describe('recorded type ids', () => {
  it('ingest records each named struct, union, enum (enum64 too) and typedef; a lookup says none, many or the id', async () => {
    const { id } = await ingest('debian/12/x86_64/6.1.0-1-amd64', smallBtf());
    const wanted: { kind: TypeIdKind; name: string }[] = [
      { kind: 'struct', name: 'task' }, { kind: 'union', name: 'u' }, { kind: 'enum', name: 'e' }, { kind: 'enum', name: 'e64' },
      { kind: 'typedef', name: 't' }, { kind: 'struct', name: 'dup' }, { kind: 'struct', name: 'absent' }, { kind: 'union', name: 'task' },
    ];
    const got = kernelTypeIds(catalog, [id], wanted).get(id);
    expect(Object.fromEntries(got ?? [])).toEqual({
      'struct task': 2, 'union u': 3, 'enum e': 4, 'enum e64': 5, 'typedef t': 6, 'struct dup': 'many', 'struct absent': 'none', 'union task': 'none',
    });
    // Anonymous types and funcs are not recorded: 5 named types, 2 dup.
    const stored = catalog.sqlite.prepare('SELECT l.ids FROM kernel_type_ids k JOIN type_id_lists l ON l.id = k.list_id WHERE k.kernel_id = ?').pluck().get(id) as Buffer;
    expect(stored.length).toBe(2 + 7 * 4);
  });

  it('kernels of the very same btf share one stored list', async () => {
    const bytes = smallBtf();
    const a = await ingest('debian/12/x86_64/6.1.0-1-amd64', bytes);
    const b = await ingest('debian/13/x86_64/6.1.0-1-amd64', bytes);
    expect(catalog.sqlite.prepare('SELECT count(*) FROM type_id_lists').pluck().get()).toBe(1);
    const both = kernelTypeIds(catalog, [a.id, b.id], [{ kind: 'struct', name: 'task' }]);
    expect([both.get(a.id)?.get('struct task'), both.get(b.id)?.get('struct task')]).toEqual([2, 2]);
  });

  it('a kernel ingested before ids were recorded gets its row when the same bytes are ingested again', async () => {
    const bytes = smallBtf();
    const { id } = await ingest('debian/12/x86_64/6.1.0-1-amd64', bytes);
    catalog.sqlite.prepare('DELETE FROM kernel_type_ids').run();
    expect(kernelTypeIds(catalog, [id], [{ kind: 'struct', name: 'task' }]).has(id)).toBe(false);
    expect((await ingest('debian/12/x86_64/6.1.0-1-amd64', bytes)).status).toBe('skipped');
    expect(kernelTypeIds(catalog, [id], [{ kind: 'struct', name: 'task' }]).get(id)?.get('struct task')).toBe(2);
  });

  it('a stored row that does not decode is CATALOG_CORRUPT', () => {
    const good = encodeTypeIds([[3, 'struct', 'a'], [300, 'typedef', 'b']]);
    expect(Object.fromEntries(findTypeIds(good, [typeIdKey('typedef', 'b')]))).toEqual({ [typeIdKey('typedef', 'b')]: 300 });
    for (const bad of [good.subarray(0, good.length - 1), Buffer.from([9, 0]), Buffer.from([1, 0xff, 0xff, 0xff, 0xff, 0xff])]) {
      expect(() => findTypeIds(bad, [1])).toThrow(CatalogError);
    }
    expect(() => encodeTypeIds([[3, 'struct', 'a'], [3, 'struct', 'b']])).toThrow(RangeError);
  });

  it(`${K612}: every struct, union, enum and typedef named once answers its own id (at most 1 in 1,000 a collision)`, async () => {
    const [blob] = await extractBtf(readFileSync(join(ROOT, 'fixtures/corpus/archive', `${K612}.btf.tar.xz`)), K612);
    const { id } = await ingest(K612, blob.bytes);
    const btf = Btf.parse(blob.bytes);
    const kinds: Record<string, TypeIdKind> = { STRUCT: 'struct', UNION: 'union', ENUM: 'enum', ENUM64: 'enum', TYPEDEF: 'typedef' };
    const ids = new Map<string, number[]>();
    for (let t = 1; t < btf.nextId; t++) {
      const kind = kinds[btf.kindNameOf(t)];
      const name = btf.nameOf(t);
      if (kind === undefined || name === '') continue;
      const label = `${kind} ${name}`;
      ids.set(label, [...(ids.get(label) ?? []), t]);
    }
    const wanted = [...ids.keys()].map((label) => ({ kind: label.slice(0, label.indexOf(' ')) as TypeIdKind, name: label.slice(label.indexOf(' ') + 1) }));
    expect(wanted.length).toBeGreaterThan(10_000);
    const got = kernelTypeIds(catalog, [id], wanted).get(id) as Map<string, number | 'none' | 'many'>;
    let collisions = 0;
    for (const [label, list] of ids) {
      const answer = got.get(label);
      if (list.length > 1) expect(answer, label).toBe('many');
      else if (answer === 'many') collisions++;
      else expect(answer, label).toBe(list[0]);
    }
    expect(collisions).toBeLessThanOrEqual(wanted.length / 1000);
  });
});
