/**
 * The objects of a dry run, read once: a `.bpf.o` given as bytes (a file, an upload) becomes the linked model the
 * resolver and the verdicts share (libs/core `readBpfObject` + `linkBpfObject`), with its sha256.
 */
import { createHash } from 'node:crypto';
import { CoreError, linkBpfObject, readBpfObject, type LinkedBpfObject } from '@btf-atlas/core';

/** An object to check: a name to show (file name, `upload`) and its bytes. */
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
    const obj = readBpfObject(input.bytes);
    return { name: input.name, sha256: createHash('sha256').update(input.bytes).digest('hex'), size: input.bytes.length, obj: linkBpfObject(input.bytes, obj) };
  } catch (err) {
    if (err instanceof CoreError) throw err.withSource(input.name);
    throw err;
  }
}
