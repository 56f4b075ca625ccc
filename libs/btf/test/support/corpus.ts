import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Btf, extractBtf, unxz } from '@btf-atlas/btf';

/** The kernel corpus bundled with the repo (real Debian BTF with bpftool/pahole oracles). */
export const CORPUS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../../fixtures/corpus');

export interface CorpusModule {
  name: string;
  archive: string;
  oraclePrefix: string;
  types: number;
}

export interface CorpusKernel {
  distro: string;
  release: string;
  arch: string;
  kernelRelease: string;
  archive: string;
  oraclePrefix: string;
  types: number;
  modules: CorpusModule[];
}

interface ManifestKernel {
  distro: string;
  release: string;
  arch: string;
  kernel_release: string;
  archive: string;
  oracle_prefix: string;
  types: number;
  modules: { name: string; path: string; types: number; oracle_prefix: string }[];
}

/** Every kernel of the corpus manifest, with its modules. */
export function corpusKernels(): CorpusKernel[] {
  const manifest = JSON.parse(readFileSync(join(CORPUS_DIR, 'manifest.json'), 'utf8')) as { kernels: ManifestKernel[] };
  return manifest.kernels.map((k) => ({
    distro: k.distro,
    release: k.release,
    arch: k.arch,
    kernelRelease: k.kernel_release,
    archive: k.archive,
    oraclePrefix: k.oracle_prefix,
    types: k.types,
    modules: k.modules.map((m) => ({
      name: m.name,
      archive: m.path,
      oraclePrefix: m.oracle_prefix,
      types: m.types,
    })),
  }));
}

/** The raw bytes of a corpus file (path relative to the corpus folder). */
export function corpusFile(rel: string): Uint8Array {
  return readFileSync(join(CORPUS_DIR, rel));
}

/** A corpus oracle, decompressed when it ends in `.xz`. */
export async function corpusOracle(rel: string): Promise<Uint8Array> {
  const bytes = corpusFile(rel);
  return rel.endsWith('.xz') ? unxz(bytes) : bytes;
}

const kernelCache = new Map<string, Promise<Btf>>();

/** The parsed vmlinux BTF of a corpus kernel (cached per test file). */
export function loadKernel(k: CorpusKernel): Promise<Btf> {
  let p = kernelCache.get(k.archive);
  if (!p) {
    p = extractBtf(corpusFile(k.archive), k.archive).then((blobs) => Btf.parse(blobs[0].bytes));
    kernelCache.set(k.archive, p);
  }
  return p;
}

/** The raw vmlinux BTF bytes of a corpus kernel. */
export async function kernelBytes(k: CorpusKernel): Promise<Uint8Array> {
  return (await loadKernel(k)).bytes;
}

/** The parsed split BTF of a corpus module on its kernel. */
export async function loadModule(k: CorpusKernel, m: CorpusModule): Promise<Btf> {
  return Btf.parse(corpusFile(m.archive), { base: await loadKernel(k) });
}

/** Describes the first difference between two byte strings, with context, or undefined when equal. */
export function firstDifference(actual: Uint8Array, expected: Uint8Array): string | undefined {
  const n = Math.min(actual.length, expected.length);
  let i = 0;
  while (i < n && actual[i] === expected[i]) i++;
  if (i === n && actual.length === expected.length) return undefined;
  const from = Math.max(0, i - 160);
  const text = (b: Uint8Array): string => Buffer.from(b.subarray(from, Math.min(b.length, i + 160))).toString('latin1');
  return `first difference at byte ${i} (lengths ${actual.length} vs ${expected.length})\n  got:  …${text(actual)}…\n  want: …${text(expected)}…`;
}
