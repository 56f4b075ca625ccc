/**
 * The capped reader of input files (libs/pkg's, the one reader of files of unknown size), with the limit the
 * catalog's jobs and the CLI share. A subpath of its own (`@btf-atlas/catalog/input-file`), so the CLI's `dump`
 * and `validate` read files without loading the catalog.
 */
export { inputFileChunks, readInputFile, type InputFileOptions } from '@btf-atlas/pkg/input-file';

/**
 * Largest raw BTF, ELF or BTF tarball file read from a path (1 GiB: a vmlinux with DWARF and .BTF fits); what it
 * decompresses to has its own budget (libs/btf's InputBudget).
 */
export const MAX_INPUT_FILE_BYTES = 1024 * 1024 * 1024;
