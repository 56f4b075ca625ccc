import { extractBtf } from '@btf-atlas/btf';
import { sha256Hex, type BlobScratch, type BlobStore } from './blob-store.js';
import type { Catalog } from './db.js';
import { CatalogError } from './errors.js';
import { compareUnameR, formatKref, parseKref, type KernelRef } from './kernel-ref.js';
import { kernelNotFound } from './failed.js';
import { buildBtfTarXzAside, buildBtfTarXz, EARLIER_XZ_PRESETS } from './tarball.js';

/**
 * The btfhub-archive files of the catalog's kernels, as the `/archive` mirror serves them:
 * `DISTRO/RELEASE/ARCH/UNAME_R.btf.tar.xz` (the archive file) and `UNAME_R.btf` (the raw vmlinux BTF).
 *
 * The archive file of a kernel ingested from a btfhub tarball (container chain `xz/tar/btf`) is that tarball,
 * byte for byte. Any other input (raw BTF, an ELF vmlinux, gzip or xz of them, a package) gets a reproducible
 * tarball built from its vmlinux BTF by a `derive` job once the ingest has committed ({@link deriveKernelFiles},
 * {@link buildBtfTarXz}). Both live in the blob store; `kernels.archive_sha256` and `archive_size` name them. Until
 * the job has run (and in catalogs made before these columns) they are null: the first request builds the file and
 * fills the row. The raw BTF enters the blob store on its first request, extracted from the source.
 */

/** A file of the mirror in the blob store. */
export interface ArchiveFile {
  /** Where the bytes are (content-addressed, never derived from a request path). */
  path: string;
  sha256: string;
  size: number;
}

/** A kernel as the mirror lists it. */
export interface ArchiveKernel extends KernelRef {
  kernel: string;
  btfSha256: string;
  btfSize: number;
  /** Null until the archive file of a kernel from an older catalog is first built. */
  archiveSha256: string | null;
  archiveSize: number | null;
  ingestedAt: string;
}

interface KernelRow extends ArchiveKernel {
  id: number;
  sourceSha256: string;
  sourceSize: number;
  sourceFormat: string;
  source: string;
}

/** The container chain of inputs that are a btfhub-archive file already (served as ingested). */
export const BTFHUB_SOURCE_FORMAT = 'xz/tar/btf';

/** Whether a source file is the kernel's btfhub-archive file already: a .btf.tar.xz holding only `UNAME_R.btf`. */
function servedAsIs(kref: KernelRef, format: string, members: string[]): boolean {
  return format === BTFHUB_SOURCE_FORMAT && members.length === 1 && members[0].replace(/^\.\//, '') === `${kref.unameR}.btf`;
}

/**
 * The archive file a kernel has from the moment it is ingested: its source, when that is a btfhub tarball of this
 * very kernel (one member, `UNAME_R.btf`); null otherwise, and the tarball is built after the ingest has committed
 * ({@link deriveKernelFiles}, a `derive` job), so that seconds of xz never hold up a kernel's answers. A tarball
 * uploaded or filed under another kernel's name holds a member named after that kernel, which clients that unpack
 * `UNAME_R.btf` would not find: it is built anew too.
 */
export function archiveAsIs(kref: KernelRef, source: { sha256: string; size: number; format: string; members: string[] }): { sha256: string; size: number } | null {
  return servedAsIs(kref, source.format, source.members) ? { sha256: source.sha256, size: source.size } : null;
}

/** What {@link deriveKernelFiles} did for one kernel. */
export interface DerivedFiles {
  kernel: string;
  /** The kernel's btfhub-archive file (`UNAME_R.btf.tar.xz`), recorded in its row and kept in the blob store. */
  archive: { sha256: string; size: number };
  /** False when it was there already (a repeated or duplicate job). */
  built: boolean;
  ms: number;
}

/**
 * Makes the files derived from a kernel's BTF that its ingest left to a job (today its reproducible tarball) and
 * records them in the catalog. Idempotent: a file already recorded and stored is left alone. What a `derive` job
 * runs after each ingest, and what the mirror falls back to when a request comes first.
 */
export async function deriveKernelFiles(catalog: Catalog, blobs: BlobStore, kref: string | KernelRef): Promise<DerivedFiles> {
  const started = performance.now();
  const row = kernelRow(catalog, kref);
  const built = !rowArchiveReady(blobs, row);
  const file = await archiveOfRow(catalog, blobs, row);
  return { kernel: row.kernel, archive: { sha256: file.sha256, size: file.size }, built, ms: performance.now() - started };
}

/** Derive work run beside other work in one process (the CLI's ingest and sync), one kernel at a time. */
export interface BackgroundDeriver {
  /** Derives the kernel's files after those already asked for, unless they are there. */
  add(kernel: string): void;
  /** Waits for everything asked so far: what was built, and what failed with why. */
  settle(): Promise<{ derived: DerivedFiles[]; failed: { kernel: string; error: Error }[] }>;
}

/**
 * {@link deriveKernelFiles} in the background of a process that goes on ingesting: the next kernel decodes while
 * the last one's tarball compresses on libuv's pool, and no kernel's commit waits for its own tarball.
 */
export function backgroundDeriver(catalog: Catalog, blobs: BlobStore): BackgroundDeriver {
  let chain: Promise<void> = Promise.resolve();
  const derived: DerivedFiles[] = [];
  const failed: { kernel: string; error: Error }[] = [];
  return {
    add(kernel) {
      if (archiveFileReady(catalog, blobs, kernel, 'tar.xz')) return;
      chain = chain.then(() =>
        deriveKernelFiles(catalog, blobs, kernel).then(
          (d) => void derived.push(d),
          (error: Error) => void failed.push({ kernel, error }),
        ));
    },
    async settle() {
      await chain;
      return { derived, failed };
    },
  };
}

const COLUMNS = `id, distro, release, arch, uname_r AS unameR, btf_sha256 AS btfSha256, btf_size AS btfSize,
  source_sha256 AS sourceSha256, source_size AS sourceSize, source_format AS sourceFormat, source,
  archive_sha256 AS archiveSha256, archive_size AS archiveSize, ingested_at AS ingestedAt`;

function withKref(r: Omit<KernelRow, 'kernel'>): KernelRow {
  return { ...r, kernel: formatKref(r) };
}

/** The catalog's kernels in kernel order (as `kernels` lists them), with their archive files where known. */
export function listArchiveKernels(catalog: Catalog, f: { distro?: string; release?: string; arch?: string } = {}): ArchiveKernel[] {
  return kernelRows(catalog, f).map(publicRow);
}

function kernelRows(catalog: Catalog, f: { distro?: string; release?: string; arch?: string }): KernelRow[] {
  const where: string[] = [];
  const args: string[] = [];
  for (const [col, v] of [['distro', f.distro], ['release', f.release], ['arch', f.arch]] as const) {
    if (v !== undefined) {
      where.push(`${col} = ?`);
      args.push(v);
    }
  }
  const rows = catalog.sqlite
    .prepare(`SELECT ${COLUMNS} FROM kernels ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
              ORDER BY distro, release, arch, version_key, uname_r`)
    .all(...args) as Omit<KernelRow, 'kernel'>[];
  return rows.map(withKref);
}

function publicRow(r: KernelRow): ArchiveKernel {
  const { distro, release, arch, unameR, kernel, btfSha256, btfSize, archiveSha256, archiveSize, ingestedAt } = r;
  return { distro, release, arch, unameR, kernel, btfSha256, btfSize, archiveSha256, archiveSize, ingestedAt };
}

function kernelRow(catalog: Catalog, kref: string | KernelRef): KernelRow {
  const k = typeof kref === 'string' ? parseKref(kref) : kref;
  const row = catalog.sqlite
    .prepare(`SELECT ${COLUMNS} FROM kernels WHERE distro = ? AND release = ? AND arch = ? AND uname_r = ?`)
    .get(k.distro, k.release, k.arch, k.unameR) as Omit<KernelRow, 'kernel'> | undefined;
  if (row) return withKref(row);
  const name = formatKref(k);
  throw kernelNotFound(catalog, name, kernelRows(catalog, {}).map((r) => r.kernel));
}

/** One materialization per blob at a time, whatever the number of requests asking for it. */
const inFlight = new Map<string, Promise<unknown>>();

function once<T>(key: string, make: () => Promise<T>): Promise<T> {
  const running = inFlight.get(key);
  if (running) return running as Promise<T>;
  const p = make().finally(() => inFlight.delete(key));
  inFlight.set(key, p);
  return p;
}

function missingBlob(row: KernelRow, what: string, sha256: string): CatalogError {
  return new CatalogError('CATALOG_CORRUPT', `the ${what} of ${row.kernel} (sha256 ${sha256.slice(0, 12)}…) is missing from the blob store`);
}

/** The raw vmlinux BTF of a row: from the blob store, else extracted from the source and stored (sha256 checked). */
async function rawBtfOfRow(catalog: Catalog, blobs: BlobStore, row: KernelRow): Promise<ArchiveFile> {
  const file = (): ArchiveFile => ({ path: blobs.pathOf(row.btfSha256), sha256: row.btfSha256, size: row.btfSize });
  if (blobs.has(row.btfSha256)) return file();
  return once(`${blobs.dir}\0btf\0${row.btfSha256}`, async () => {
    if (blobs.has(row.btfSha256)) return file();
    if (!blobs.has(row.sourceSha256)) throw missingBlob(row, 'source file', row.sourceSha256);
    const found = await extractBtf(blobs.get(row.sourceSha256), row.source);
    const vmlinux = found.find((b) => b.role === 'vmlinux');
    const sha256 = vmlinux ? sha256Hex(vmlinux.bytes) : undefined;
    if (!vmlinux || sha256 !== row.btfSha256) {
      throw new CatalogError('CATALOG_CORRUPT', `the source of ${row.kernel} does not hold its vmlinux btf (sha256 ${row.btfSha256.slice(0, 12)}…)`);
    }
    blobs.put(vmlinux.bytes, sha256);
    return file();
  });
}

/** The archive file of a row, building it (and filling the row) when the catalog predates archive files. */
async function archiveOfRow(catalog: Catalog, blobs: BlobStore, row: KernelRow): Promise<ArchiveFile> {
  if (rowArchiveReady(blobs, row)) return { path: blobs.pathOf(row.archiveSha256!), sha256: row.archiveSha256!, size: row.archiveSize! };
  if (row.sourceFormat === BTFHUB_SOURCE_FORMAT) {
    if (!blobs.has(row.sourceSha256)) throw missingBlob(row, 'archive file', row.sourceSha256);
    const members = (await extractBtf(blobs.get(row.sourceSha256), 'source')).map((b) => b.name.slice('source:'.length));
    if (servedAsIs(row, row.sourceFormat, members)) {
      recordArchive(catalog, row, row.sourceSha256, row.sourceSize);
      return { path: blobs.pathOf(row.sourceSha256), sha256: row.sourceSha256, size: row.sourceSize };
    }
  }
  // A built tarball: made again from the raw BTF when missing (an older catalog, or a blob store pruned).
  return once(`${blobs.dir}\0archive\0${row.id}\0${row.btfSha256}`, async () => {
    const btf = await rawBtfOfRow(catalog, blobs, row);
    const bytes = await rebuildTarball(row, blobs.get(btf.sha256));
    const sha256 = blobs.put(bytes);
    recordArchive(catalog, row, sha256, bytes.length);
    return { path: blobs.pathOf(sha256), sha256, size: bytes.length };
  });
}

/**
 * A kernel's built tarball made again. A row that recorded a tarball made with an earlier preset (its blob since
 * pruned) gets those very bytes back, so its sha256, served as a strong ETag with `immutable`, never changes.
 */
async function rebuildTarball(row: KernelRow, btf: Uint8Array): Promise<Uint8Array> {
  const bytes = await buildBtfTarXzAside(row.unameR, btf);
  if (row.archiveSha256 === null || sha256Hex(bytes) === row.archiveSha256) return bytes;
  for (const preset of EARLIER_XZ_PRESETS) {
    const earlier = await buildBtfTarXz(row.unameR, btf, preset);
    if (sha256Hex(earlier) === row.archiveSha256) return earlier;
  }
  return bytes;
}

/** Fills a row's archive columns; a read-only or busy catalog still serves the file, it only stays unrecorded. */
function recordArchive(catalog: Catalog, row: KernelRow, sha256: string, size: number): void {
  row.archiveSha256 = sha256;
  row.archiveSize = size;
  try {
    catalog.sqlite
      .prepare('UPDATE kernels SET archive_sha256 = ?, archive_size = ? WHERE id = ? AND btf_sha256 = ?')
      .run(sha256, size, row.id, row.btfSha256);
  } catch {
    // Best effort: the next request builds the same bytes again.
  }
}

/**
 * The kernel's btfhub-archive file (`UNAME_R.btf.tar.xz`); KERNEL_NOT_FOUND with the closest KREFs when the
 * catalog does not hold the kernel, CATALOG_CORRUPT when its bytes are gone from the blob store.
 */
export async function archiveFileOf(catalog: Catalog, blobs: BlobStore, kref: string | KernelRef): Promise<ArchiveFile> {
  return archiveOfRow(catalog, blobs, kernelRow(catalog, kref));
}

/** The kernel's raw vmlinux BTF (`UNAME_R.btf`, sha256 = its `btf_sha256`), put in the blob store on first use. */
export async function rawBtfFileOf(catalog: Catalog, blobs: BlobStore, kref: string | KernelRef): Promise<ArchiveFile> {
  return rawBtfOfRow(catalog, blobs, kernelRow(catalog, kref));
}

/**
 * Whether a kernel's file is served as it is, with nothing to build first: its raw BTF blob, or its tarball recorded
 * and in the blob store. What is not (a catalog older than archive files, a pruned blob store) is built by
 * {@link archiveFileOf} / {@link rawBtfFileOf}: seconds of xz, which a server does off its event loop.
 */
export function archiveFileReady(catalog: Catalog, blobs: BlobStore, kref: string | KernelRef, kind: 'tar.xz' | 'btf'): boolean {
  const row = kernelRow(catalog, kref);
  return kind === 'btf' ? blobs.has(row.btfSha256) : rowArchiveReady(blobs, row);
}

/** Whether every kernel of a selection has its tarball recorded and stored (see {@link archiveFileReady}). */
export function archiveFilesReady(catalog: Catalog, blobs: BlobStore, f: { distro?: string; release?: string; arch?: string } = {}): boolean {
  return kernelRows(catalog, f).every((row) => rowArchiveReady(blobs, row));
}

function rowArchiveReady(blobs: BlobStore, row: KernelRow): boolean {
  return row.archiveSha256 !== null && row.archiveSize !== null && blobs.has(row.archiveSha256);
}

/**
 * The kernel's raw vmlinux BTF bytes (for vmlinux.h and other answers that need the whole BTF). With `scratch`,
 * read into its buffer ({@link BlobStore.readInto}): valid until the next read into it.
 */
export async function loadKernelBtf(catalog: Catalog, blobs: BlobStore, kref: string | KernelRef, scratch?: BlobScratch): Promise<Uint8Array> {
  const file = await rawBtfFileOf(catalog, blobs, kref);
  return scratch ? blobs.readInto(file.sha256, scratch) : blobs.get(file.sha256);
}

/**
 * Kernels in kernel order with every archive file known (those of an older catalog are built now, once). What
 * the mirror's folder listings and manifest show.
 */
export async function archiveKernels(catalog: Catalog, blobs: BlobStore, f: { distro?: string; release?: string; arch?: string } = {}): Promise<(ArchiveKernel & { archiveSha256: string; archiveSize: number })[]> {
  const rows = kernelRows(catalog, f);
  for (const row of rows) {
    if (row.archiveSha256 === null || row.archiveSize === null) await archiveOfRow(catalog, blobs, row);
  }
  return rows.map((r) => publicRow(r) as ArchiveKernel & { archiveSha256: string; archiveSize: number });
}

/** `manifest.json` as the datadog-agent's BTF catalog has it: arch → distro → release → uname_r → sha256 of the `.btf.tar.xz`. */
export type ArchiveManifest = Record<string, Record<string, Record<string, Record<string, string>>>>;

/** The mirror's manifest: every kernel's archive file sha256, keys in kernel order (releases by version). */
export async function archiveManifest(catalog: Catalog, blobs: BlobStore): Promise<ArchiveManifest> {
  const kernels = await archiveKernels(catalog, blobs);
  const sorted = [...kernels].sort((a, b) =>
    cmp(a.arch, b.arch) || cmp(a.distro, b.distro) || compareUnameR(a.release, b.release) || cmp(a.release, b.release) || compareUnameR(a.unameR, b.unameR));
  // Prototype-free objects: a folder named `constructor` or `toString` is just a key.
  const dict = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;
  const out: ArchiveManifest = dict();
  for (const k of sorted) {
    const byDistro = (out[k.arch] ??= dict());
    const byRelease = (byDistro[k.distro] ??= dict());
    (byRelease[k.release] ??= dict())[k.unameR] = k.archiveSha256;
  }
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
