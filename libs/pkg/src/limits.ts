/** Size limits of package reading. Every one is an option; these are the defaults. */
export interface PkgLimits {
  /** Most bytes one decompressed stream may produce: a data.tar, an rpm payload (default 1 GiB). */
  maxDecompressedSize: number;
  /** Largest archive member kept in memory: a kernel image, a vmlinux, a module (default 512 MiB). */
  maxMemberSize: number;
  /** Largest decompressed kernel image payload (default 512 MiB). */
  maxImageSize: number;
  /** Largest ar member or rpm header read into memory whole (control.tar, rpm header), default 64 MiB. */
  maxHeaderSize: number;
  /** Most entries in one tar or cpio archive (default 200,000). */
  maxEntries: number;
}

export const DEFAULT_PKG_LIMITS: Readonly<PkgLimits> = {
  maxDecompressedSize: 1024 * 1024 * 1024,
  maxMemberSize: 512 * 1024 * 1024,
  maxImageSize: 512 * 1024 * 1024,
  maxHeaderSize: 64 * 1024 * 1024,
  maxEntries: 200_000,
};

export function resolveLimits(limits: Partial<PkgLimits> = {}): PkgLimits {
  return { ...DEFAULT_PKG_LIMITS, ...limits };
}
