/**
 * Failures of the dry run over the catalog that are neither the object reader's (libs/core CoreError: not ELF,
 * not BPF, bad .BTF.ext, …) nor the catalog's (CatalogError: KERNEL_NOT_FOUND, NO_MATCHING_KERNELS, …), which
 * pass through unchanged. Stable codes; the message is lowercase and names what and where.
 */

export const DryRunErrorCode = {
  /** `kernel` given together with `distro`, `release` or `arch`: a selection is one or the other. */
  BadSelection: 'DRYRUN_BAD_SELECTION',
  /** The selection holds no kernel (an empty catalog). */
  NoKernels: 'DRYRUN_NO_KERNELS',
  /** No object given. */
  NoObjects: 'DRYRUN_NO_OBJECTS',
  /** Minimized BTF could not be made for a kernel (the libs/core error is the `cause`, its code in the message). */
  MinBtf: 'DRYRUN_MIN_BTF',
  /** A min-btf output path that is neither a folder nor a `.tar.xz` file, or that cannot be written. */
  BadOutput: 'DRYRUN_BAD_OUTPUT',
} as const;

export type DryRunErrorCode = (typeof DryRunErrorCode)[keyof typeof DryRunErrorCode];

/** The one error type of libs/dryrun. */
export class DryRunError extends Error {
  override readonly name = 'DryRunError';

  constructor(
    readonly code: DryRunErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toJSON(): { code: DryRunErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** True for errors raised by libs/dryrun. */
export function isDryRunError(err: unknown): err is DryRunError {
  return err instanceof DryRunError;
}
