import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobDataOf, listKernels, openCatalog, scanPath, typeLayout, type Catalog } from '@btf-atlas/catalog';
import { fieldHistory } from '@btf-atlas/diff';
import { CORPUS_DIR, corpusKernels, corpusOracle } from '../../btf/test/support/corpus.js';
import { startQueue, type QueueHarness } from './support.js';

interface OracleStruct {
  kind: 'struct' | 'union';
  name: string;
  size: number;
  members: { name: string; bits_offset: number; byte_offset: number; bitfield_size: number; type: string }[];
}

async function oracleStructs(prefix: string): Promise<OracleStruct[]> {
  const text = Buffer.from(await corpusOracle(`${prefix}.fields.json.xz`)).toString('utf8');
  return (JSON.parse(text) as { structs: OracleStruct[] }).structs;
}

/** A definition reduced to what format (b) says, for multiset comparison. */
function key(t: { kind: string; size: number; members: { name: string; bits_offset: number; bitfield_size: number; type: string }[] }): string {
  return JSON.stringify([t.kind, t.size, t.members.map((m) => [m.name, m.bits_offset, m.bitfield_size, m.type])]);
}

// One ingest of the whole corpus for this file, through real Redis and BullMQ with two worker processes running
// at once (their write transactions contend for the same SQLite file); every check below reads the result.
let dir: string;
let catalog: Catalog;
let harness: QueueHarness | undefined;
const kernels = corpusKernels();
const krefOf = (k: (typeof kernels)[number]): string => `${k.distro}/${k.release}/${k.arch}/${k.kernelRelease}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-queue-corpus-'));
  const dbPath = join(dir, 'atlas.db');
  harness = await startQueue(dbPath, 2);
  const { queue, events } = harness;
  const jobs = await queue.addBulk(scanPath(join(CORPUS_DIR, 'archive')).map((item) => ({ name: 'ingest' as const, data: jobDataOf(item) })));
  const results = await Promise.all(jobs.map((j) => j.waitUntilFinished(events, 240_000) as Promise<{ status: string }>));
  expect(results.map((r) => r.status)).toEqual(jobs.map(() => 'ingested'));
  // Both workers took jobs: the ingest really ran concurrently.
  const processedBy = new Set((await Promise.all(jobs.map((j) => queue.getJob(j.id!)))).map((j) => j?.processedBy));
  expect(processedBy.size).toBe(2);
  catalog = openCatalog(dbPath);
}, 300_000);

afterAll(async () => {
  catalog?.close();
  await harness?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('catalog over the corpus, ingested through the queue', () => {
  it('lists every corpus kernel in kernel order with its type count', () => {
    const listed = listKernels(catalog);
    const want = kernels.map((k) => ({ kernel: krefOf(k), types: k.types })).sort((a, b) => (a.kernel < b.kernel ? -1 : 1));
    expect(listed.map((k) => ({ kernel: k.kernel, types: k.types }))).toEqual(want);
  });

  for (const k of kernels) {
    it(`type --json equals the oracle's flattened members for every named struct/union of ${krefOf(k)} and its modules`, async () => {
      const byName = new Map<string, string[]>();
      for (const prefix of [k.oraclePrefix, ...k.modules.map((m) => m.oraclePrefix)]) {
        for (const s of await oracleStructs(prefix)) {
          const list = byName.get(s.name) ?? [];
          list.push(key(s));
          byName.set(s.name, list);
        }
      }
      let compared = 0;
      for (const [name, want] of byName) {
        const got = typeLayout(catalog, name, krefOf(k)).types.filter((t) => t.kind !== 'enum');
        const gotKeys = got.map((t) => key(t as Parameters<typeof key>[0])).sort();
        const wantKeys = [...want].sort();
        if (JSON.stringify(gotKeys) !== JSON.stringify(wantKeys)) {
          expect.fail(`${krefOf(k)}: ${name}: got ${gotKeys.length} definition(s), want ${wantKeys.length}\n got:  ${gotKeys[0]?.slice(0, 400)}\n want: ${wantKeys[0]?.slice(0, 400)}`);
        }
        compared++;
      }
      expect(compared).toBeGreaterThan(1000);
    });
  }

  it('field histories report presence, absence and offsets as the oracles do', async () => {
    // Expected status of STRUCT.MEMBER in each kernel, from the oracles of its vmlinux, then of its modules
    // (the catalog answers for vmlinux's definition first).
    const perKernel = new Map<string, Map<string, OracleStruct['members'][number][]>>();
    for (const k of kernels) {
      const m = new Map<string, OracleStruct['members'][number][]>();
      for (const prefix of [k.oraclePrefix, ...k.modules.map((x) => x.oraclePrefix)]) {
        for (const s of await oracleStructs(prefix)) if (!m.has(s.name)) m.set(s.name, s.members);
      }
      perKernel.set(krefOf(k), m);
    }
    // A deterministic sample: pt_regs and sk_buff members, and every 97th struct's first and last member.
    const fields = new Set<string>();
    for (const m of perKernel.values()) {
      for (const s of ['pt_regs', 'sk_buff']) for (const mem of m.get(s) ?? []) fields.add(`${s}.${mem.name}`);
      let i = 0;
      for (const [name, members] of m) {
        if (i++ % 97 === 0 && members.length > 0) {
          fields.add(`${name}.${members[0].name}`);
          fields.add(`${name}.${members[members.length - 1].name}`);
        }
      }
    }
    let checked = 0;
    for (const field of fields) {
      const [struct, member] = field.split('.');
      const h = fieldHistory(catalog, field);
      for (const e of h.kernels) {
        const members = perKernel.get(e.kernel)!.get(struct);
        const want = members?.find((x) => x.name === member);
        const status = !members ? 'missing_struct' : want ? 'present' : 'missing_field';
        // Where a name has several definitions the catalog picks one; only check unambiguous ones here.
        if (e.status !== status) expect.fail(`${field} in ${e.kernel}: got ${e.status}, want ${status}`);
        if (e.status === 'present' && want) {
          expect({ field, kernel: e.kernel, bits: e.bits_offset, type: e.type }).toEqual({ field, kernel: e.kernel, bits: want.bits_offset, type: want.type });
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(500);
  });

  it('reports where pt_regs.cs changed type between the 6.1 and 6.12 x86_64 kernels', () => {
    const h = fieldHistory(catalog, 'pt_regs.cs', { arch: 'x86_64' });
    const types = Object.fromEntries(h.kernels.map((e) => [e.kernel, e.status === 'present' ? e.type : e.status]));
    expect(types['debian/12/x86_64/6.1.0-50-amd64']).toBe('long unsigned int');
    expect(types['debian/13/x86_64/6.12.117+deb13-amd64']).toBe('u16');
  });
});
