import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BlobStore, CatalogError, failedKernels, findKernel, jobDataOf, listKernelStates, lookupKernel, LookupNotFoundError, openCatalog, processIngest, scanPath, type Catalog,
} from '@btf-atlas/catalog';
import { fieldHistory, typeHistory } from '@btf-atlas/diff';
import { BtfBuilder } from '../../btf/test/support/builder.js';

/** A tiny kernel BTF with `struct pt_regs { long di; }` at the given offset. */
function kernelBtf(diOffset: number): Uint8Array {
  const b = new BtfBuilder();
  const long = b.int('long int', 8, 64, 1);
  b.struct('pt_regs', diOffset + 8, [{ name: 'di', type: long, bitsOffset: diOffset * 8 }]);
  return b.build();
}

const OK = 'debian/12/x86_64/1.0.0-1-amd64';
const BAD = 'debian/12/x86_64/1.0.0-2-amd64';

describe('a kernel whose ingest failed is never lost silently', () => {
  let dir: string;
  let catalog: Catalog;
  let blobs: BlobStore;
  let tree: string;

  const ingestTree = async () => {
    for (const item of scanPath(join(dir, 'archive'))) {
      await processIngest(jobDataOf(item), { catalog, blobs }).catch((err: unknown) => {
        if (!(err instanceof Error)) throw err;
      });
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'btf-atlas-failed-'));
    tree = join(dir, 'archive/debian/12/x86_64');
    mkdirSync(tree, { recursive: true });
    writeFileSync(join(tree, '1.0.0-1-amd64.btf'), kernelBtf(112));
    // The second kernel's BTF is cut short: refused at ingest with BTF_TRUNCATED / BTF_BAD_SECTION.
    writeFileSync(join(tree, '1.0.0-2-amd64.btf'), kernelBtf(120).subarray(0, 40));
    const db = join(dir, 'atlas.db');
    catalog = openCatalog(db);
    blobs = BlobStore.forCatalog(db);
    await ingestTree();
  });

  afterAll(() => {
    catalog?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('kernels lists it with state failed and the reason', () => {
    const list = listKernelStates(catalog);
    expect(list.map((k) => [k.kernel, k.state])).toEqual([[OK, 'ingested'], [BAD, 'failed']]);
    const bad = list[1];
    expect(bad.state === 'failed' && bad.failure.code).toMatch(/^BTF_/);
    expect(bad.state === 'failed' && bad.failure.source).toContain('1.0.0-2-amd64.btf');
    // An arch no kernel has, ingested or failed: the filter is refused, naming the arches there are.
    expect(() => listKernelStates(catalog, { arch: 'arm64' })).toThrow(/NO_MATCHING_KERNELS|no kernels with arch arm64; arches: x86_64/);
    expect(listKernelStates(catalog, { arch: 'amd64' })).toHaveLength(2);
  });

  it('field and type histories of its series name it and say why', () => {
    const h = fieldHistory(catalog, 'pt_regs.di');
    expect(h.kernels.map((k) => k.kernel)).toEqual([OK]);
    expect(h.failed_kernels).toHaveLength(1);
    expect(h.failed_kernels![0]).toMatchObject({ kernel: BAD, code: expect.stringMatching(/^BTF_/) });
    expect(typeHistory(catalog, 'pt_regs').failed_kernels?.[0].kernel).toBe(BAD);
    // another series' answer does not carry it
    expect(() => fieldHistory(catalog, 'pt_regs.di', { release: '13' })).toThrow(/no kernels with release 13; releases: 12/);
  });

  it('one-kernel reads and the lookup answer not-found with the failure', () => {
    let err: unknown;
    try {
      findKernel(catalog, BAD);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CatalogError);
    expect((err as CatalogError).code).toBe('KERNEL_NOT_FOUND');
    expect((err as CatalogError).message).toMatch(/failed to ingest .*BTF_/);
    try {
      lookupKernel(catalog, { osRelease: 'ID=debian\nVERSION_ID="12"\n', unameR: '1.0.0-2-amd64', arch: 'x86_64' });
      err = undefined;
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LookupNotFoundError);
    expect((err as LookupNotFoundError).failed?.kernel).toBe(BAD);
    expect((err as LookupNotFoundError).message).toContain(`${BAD} failed to ingest`);
  });

  it('is no longer failed once a later ingest adds it', async () => {
    writeFileSync(join(tree, '1.0.0-2-amd64.btf'), kernelBtf(120));
    await ingestTree();
    expect(failedKernels(catalog)).toEqual([]);
    expect(listKernelStates(catalog).map((k) => k.state)).toEqual(['ingested', 'ingested']);
    expect(fieldHistory(catalog, 'pt_regs.di').changes).toHaveLength(1);
  });
});
