/**
 * Shared by the dry-run tests (libs/dryrun, the CLI and the HTTP route): the seven objects of fixtures/core, libbpf's
 * oracles, a catalog of corpus kernels in a temp dir, and a ustar reader for the min-btf tarballs.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unxz } from '@btf-atlas/btf';
import { BlobStore, formatKref, jobDataOf, openCatalog, processIngest, scanPath } from '@btf-atlas/catalog';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const CORE_DIR = join(REPO, 'fixtures/core');
export const CORPUS_ARCHIVE = join(REPO, 'fixtures/corpus/archive');

export const K47 = 'debian/12/x86_64/6.1.0-47-amd64';
export const K50 = 'debian/12/x86_64/6.1.0-50-amd64';
export const K612 = 'debian/13/x86_64/6.12.117+deb13-amd64';
/** 6.12.117's BTF filed once more in the bookworm series (as a backport would be): a change point inside a series. */
export const K612_IN_12 = 'debian/12/x86_64/6.12.117+deb13-amd64';

/** The objects' names (`core_chain`, …), sorted. */
export const OBJECTS = readdirSync(join(CORE_DIR, 'objects')).filter((f) => f.endsWith('.bpf.o')).map((f) => f.slice(0, -'.bpf.o'.length)).sort();

export function objectPath(name: string): string {
  return join(CORE_DIR, 'objects', `${name}.bpf.o`);
}

export function objectBytes(name: string): Buffer {
  return readFileSync(objectPath(name));
}

/** The oracle directory of a kernel (by its uname -r: the oracles are filed under their corpus KREF). */
export function oracleDir(kref: string): string {
  const uname = kref.slice(kref.lastIndexOf('/') + 1);
  const own = [K47, K50, K612].find((k) => k.endsWith(`/${uname}`)) as string;
  return join(CORE_DIR, 'oracle', own);
}

export interface OracleRelo {
  section: string;
  prog: string;
  idx: number;
  kind_name: string;
  status: string;
  orig_value: number | string | null;
  new_value: number | string | null;
  poisoned_insns: number[];
  patches: { insn: number; what: string; old: number | string; new: number | string }[];
}

export interface Oracle {
  result: { prepare: number };
  relocations: OracleRelo[];
}

/** libbpf's decisions for an object on a kernel. */
export async function oracle(kref: string, name: string): Promise<Oracle> {
  return JSON.parse(Buffer.from(await unxz(readFileSync(join(oracleDir(kref), `${name}.dryrun.json.xz`)))).toString('utf8')) as Oracle;
}

/**
 * A catalog at `DIR/atlas.db` with the corpus kernels `krefs` (modules included, as the archive has them) and,
 * when `extra` is set, 6.12.117's tarball filed once more as {@link K612_IN_12}. Returns the catalog path.
 */
export async function corpusCatalog(dir: string, krefs: readonly string[], extra = false): Promise<string> {
  const db = join(dir, 'atlas.db');
  const wanted = new Set(krefs);
  const items = scanPath(CORPUS_ARCHIVE).filter((item) => item.kref !== undefined && wanted.has(formatKref(item.kref)));
  if (items.length !== krefs.length) throw new Error(`corpus has ${items.length} of ${krefs.length} kernels`);
  if (extra) {
    const tree = join(dir, 'archive');
    const to = join(tree, `${K612_IN_12}.btf.tar.xz`);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(join(CORPUS_ARCHIVE, `${K612}.btf.tar.xz`), to);
    items.push(...scanPath(tree));
  }
  const catalog = openCatalog(db);
  try {
    const blobs = BlobStore.forCatalog(db);
    for (const item of items) await processIngest(jobDataOf(item), { catalog, blobs });
  } finally {
    catalog.close();
  }
  return db;
}

/** The regular files of a ustar archive (pax `path` records honoured), in order. */
export function readTar(tar: Uint8Array): { name: string; bytes: Uint8Array; mode: string; mtime: string }[] {
  const out: { name: string; bytes: Uint8Array; mode: string; mtime: string }[] = [];
  const text = (at: number, len: number): string => Buffer.from(tar.subarray(at, at + len)).toString('latin1').replace(/\0.*$/s, '');
  let pax: string | undefined;
  for (let at = 0; at + 512 <= tar.length;) {
    if (tar.subarray(at, at + 512).every((b) => b === 0)) break;
    const size = parseInt(text(at + 124, 12), 8);
    const type = text(at + 156, 1);
    const body = tar.subarray(at + 512, at + 512 + size);
    if (type === 'x') {
      pax = /path=([^\n]*)\n/.exec(Buffer.from(body).toString('utf8'))?.[1];
    } else {
      out.push({ name: pax ?? text(at, 100), bytes: body, mode: text(at + 100, 8), mtime: text(at + 136, 12) });
      pax = undefined;
    }
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}
