/**
 * The objects of a dry run, read once: a `.bpf.o` given as bytes (a file, an upload) becomes the linked model the
 * resolver and the verdicts share (libs/core `readLinkedBpfObject`: `readBpfObject` + `linkBpfObject`), with its sha256.
 */
import { createHash } from 'node:crypto';
import { CoreError, readLinkedBpfObject, type LinkedBpfObject } from '@btf-atlas/core';

/** An object to check: a name to show (file name, `upload`) and its bytes. */
/** Largest BPF object the dry run takes (CLI files and HTTP bodies alike): real objects are a few MB at most. */
export const MAX_OBJECT_BYTES = 16 * 1024 * 1024;

export interface BpfObjectInput {
  name: string;
  bytes: Uint8Array;
}

/** An object read and linked, ready for every kernel. */
export interface ReadBpfObject {
  name: string;
  sha256: string;
  size: number;
  obj: LinkedBpfObject;
}

/**
 * Reads and links one object. An object without `.BTF.ext` is fine (it simply has no CO-RE relocations). Throws
 * libs/core's CoreError (CORE_NOT_ELF, CORE_NOT_BPF, CORE_NO_BTF, CORE_BAD_BTF_EXT, …) with the input's name as
 * its source.
 */
export function readObjectInput(input: BpfObjectInput): ReadBpfObject {
  try {
    const obj = readLinkedBpfObject(input.bytes);
    return { name: input.name, sha256: createHash('sha256').update(input.bytes).digest('hex'), size: input.bytes.length, obj };
  } catch (err) {
    if (err instanceof CoreError) throw err.withSource(input.name);
    throw err;
  }
}
