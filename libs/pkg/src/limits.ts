import { InputBudget, type BudgetErrorFactory } from '@btf-atlas/btf';
import { PkgError, PkgErrorCode } from './errors.js';

/** Size limits of package reading. Every one is an option; these are the defaults. */
export interface PkgLimits {
  /**
   * Most bytes all decoders of one input may produce together, over every layer and member: the data.tar or rpm
   * payload, the kernel image's payload, every compressed module (default 2 GiB). One budget per input, charged as
   * the bytes are decoded, so a bomb is stopped inside its decoder however it spreads its expansion.
   */
  maxDecompressedSize: number;
  /** Largest archive member kept in memory: a kernel image, a vmlinux, a module (default 512 MiB). */
  maxMemberSize: number;
  /** Largest decompressed kernel image payload (default 512 MiB). */
  maxImageSize: number;
  /** Largest ar member or rpm header read into memory whole (control.tar, rpm header), default 64 MiB. */
  maxHeaderSize: number;
  /** Most archive members (ar, tar and cpio entries) in one input, over every archive in it (default 100,000). */
  maxEntries: number;
  /** Most compressed streams nested in one another (a payload inside an image inside a data.tar.xz…), default 6. */
  maxNesting: number;
  /** Longest one input may take to unpack, in ms (default 600,000; pahole's runs are not counted). */
  maxMillis: number;
  /** Largest package or image file read from a path (default 8 GiB; it is streamed, never held whole). */
  maxInputSize: number;
}

export const DEFAULT_PKG_LIMITS: Readonly<PkgLimits> = {
  maxDecompressedSize: 2 * 1024 * 1024 * 1024,
  maxMemberSize: 512 * 1024 * 1024,
  maxImageSize: 512 * 1024 * 1024,
  maxHeaderSize: 64 * 1024 * 1024,
  maxEntries: 100_000,
  maxNesting: 6,
  maxMillis: 600_000,
  maxInputSize: 8 * 1024 * 1024 * 1024,
};

export function resolveLimits(limits: Partial<PkgLimits> = {}): PkgLimits {
  return { ...DEFAULT_PKG_LIMITS, ...limits };
}

/** A PkgError for a passed budget limit: PKG_TOO_LARGE (its reason names the member being read). */
export const pkgBudgetError: BudgetErrorFactory = (e) => new PkgError(PkgErrorCode.TooLarge, e.reason);

/** The one budget of an input read with these limits (libs/btf's InputBudget, failing with PkgErrors). */
export function pkgBudget(input: string, lim: PkgLimits): InputBudget {
  return new InputBudget(input, { maxBytes: lim.maxDecompressedSize, maxMembers: lim.maxEntries, maxDepth: lim.maxNesting, maxMillis: lim.maxMillis }, pkgBudgetError);
}
