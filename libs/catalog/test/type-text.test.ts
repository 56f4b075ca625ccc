import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Btf, extractBtf, paholeByName, paholeDefinitions, paholeType } from '@btf-atlas/btf';
import { BlobStore, CatalogError, jobDataOf, openCatalog, processIngest, scanPath, typeText, typeTexts, type Catalog } from '../src/index.js';
import { CORPUS_DIR } from '../../btf/test/support/corpus.js';

const KREF = 'debian/12/x86_64/6.1.0-50-amd64';
const KERNEL_FILE = join(CORPUS_DIR, 'archive', `${KREF}.btf.tar.xz`);
const ORACLE = join(CORPUS_DIR, 'oracle', `${KREF}.pahole.txt`);

/** pahole's stdout per struct in a `.pahole.txt` oracle (sections joined by one extra newline in the file). */
function oracleSections(file: string): Map<string, string> {
  const heads = [...file.matchAll(/^### pahole v[\d.]+ -F btf -C (\S+) .*\n/gm)];
  const out = new Map<string, string>();
  heads.forEach((h, i) => {
    const start = (h.index ?? 0) + h[0].length;
    const end = i + 1 < heads.length ? (heads[i + 1].index ?? file.length) - 1 : file.length;
    out.set(h[1], file.slice(start, end));
  });
  return out;
}

async function codeOf(p: Promise<unknown>): Promise<CatalogError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(CatalogError);
  return err as CatalogError;
}

describe('typeText: pahole text from the catalog', () => {
  let dir: string;
  let catalog: Catalog;
  let blobs: BlobStore;
  let vmlinux: Btf;
  let ext4: Btf;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'btf-atlas-type-text-'));
    const db = join(dir, 'atlas.db');
    catalog = openCatalog(db);
    blobs = BlobStore.forCatalog(db);
    const items = scanPath(KERNEL_FILE);
    expect(items).toHaveLength(1);
    expect(items[0].modules.map((m) => m.name).sort()).toEqual(['ext4', 'kvm', 'kvm_intel', 'nf_conntrack']);
    await processIngest(jobDataOf(items[0]), { catalog, blobs });
    vmlinux = Btf.parse((await extractBtf(readFileSync(KERNEL_FILE), 'kernel'))[0].bytes);
    ext4 = Btf.parse(readFileSync(join(CORPUS_DIR, 'archive', KREF, 'modules/ext4.btf')), { base: vmlinux });
  }, 180_000);

  afterAll(() => {
    catalog?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('prints what pahole v1.30 printed for the five oracle structs, byte for byte', async () => {
    const sections = oracleSections(readFileSync(ORACLE, 'utf8'));
    expect([...sections.keys()]).toEqual(['pt_regs', 'task_struct', 'sk_buff', 'file', 'inode']);
    for (const [name, text] of sections) {
      expect(await typeText(catalog, name, KREF)).toBe(text);
      expect(await typeText(catalog, `struct ${name}`, KREF, { blobs })).toBe(text);
    }
  });

  it('reads a type only a module defines from the module split BTF on its base', async () => {
    expect(paholeDefinitions(vmlinux, 'ext4_inode_info')).toEqual([]);
    const text = await typeText(catalog, 'ext4_inode_info', KREF);
    expect(text.startsWith('struct ext4_inode_info {\n')).toBe(true);
    expect(text).toBe(paholeByName(ext4, 'ext4_inode_info'));
    const [def] = await typeTexts(catalog, 'struct ext4_inode_info', KREF);
    expect(def.module).toBe('ext4');
    expect(ext4.ownsId(def.id)).toBe(true);
  });

  it('prints the first of several definitions like pahole, and every one with `all`', async () => {
    const ids = paholeDefinitions(vmlinux, 'slot');
    expect(ids.length).toBeGreaterThan(1);
    expect(await typeText(catalog, 'slot', KREF)).toBe(paholeType(vmlinux, ids[0]));
    const all = await typeTexts(catalog, 'slot', KREF, { all: true });
    expect(all.map((d) => d.id)).toEqual(ids);
    expect(all.every((d) => d.module === '')).toBe(true);
    expect(await typeText(catalog, 'slot', KREF, { all: true })).toBe(ids.map((id) => paholeType(vmlinux, id)).join(''));
  });

  it('narrows the kinds with struct / union / enum, and finds typedefs by their plain name', async () => {
    // `irte` is a struct and a union in this kernel.
    expect((await typeText(catalog, 'union irte', KREF)).startsWith('union irte {\n')).toBe(true);
    expect((await typeText(catalog, 'irte', KREF)).startsWith('struct irte {\n')).toBe(true);
    expect(await typeText(catalog, 'u32', KREF)).toBe('typedef __u32 u32;\n\n');
  });

  it('answers TYPE_NOT_FOUND with close names, and KERNEL_NOT_FOUND for an unknown kernel', async () => {
    const err = await codeOf(typeText(catalog, 'sk_bufff', KREF));
    expect(err.code).toBe('TYPE_NOT_FOUND');
    expect(err.suggestions).toContain('sk_buff');
    expect((await codeOf(typeText(catalog, 'union sk_buff', KREF))).code).toBe('TYPE_NOT_FOUND');
    expect((await codeOf(typeText(catalog, 'sk_buff', 'debian/12/x86_64/9.9.9-1-amd64'))).code).toBe('KERNEL_NOT_FOUND');
  });
});
