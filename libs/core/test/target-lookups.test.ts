/**
 * What a dry run asks of a kernel's BTF by name (target-lookups.ts), read from the fixture objects: relocation roots
 * by essential name with their access paths, TYPE_MATCHES' local member names, attach targets, and whether the
 * answer holds kernel type ids as decisions.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readLinkedBpfObject, targetLookups, type LinkedBpfObject } from '../src/index.js';

const CORE_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../fixtures/core');

function load(name: string): LinkedBpfObject {
  return readLinkedBpfObject(readFileSync(join(CORE_DIR, 'objects', `${name}.bpf.o`)));
}

describe('targetLookups', () => {
  it('field relocations: the root by essential name and the access path (names; null for an array index)', () => {
    const { lookups, typeIdTargets, modules } = targetLookups(load('core_chain'));
    expect(typeIdTargets).toEqual([]);
    expect(modules).toEqual([]);
    expect(lookups).toContainEqual({ kind: 'STRUCT', name: 'dentry', flavors: true, depth: 'field', path: ['d_name', 'hash_len'] });
    expect(lookups).toContainEqual({ kind: 'STRUCT', name: 'task_struct', flavors: true, depth: 'field', path: ['comm', null] });
    // The kprobe targets: only whether the kernel has the FUNC.
    expect(lookups).toContainEqual({ kind: 'FUNC', name: 'consume_skb', flavors: false, depth: 'exists' });
    // Merged: one lookup per root, depth and path.
    const keys = lookups.map((l) => JSON.stringify(l));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('flavors ask for the essential name', () => {
    const names = targetLookups(load('core_flavors')).lookups.filter((l) => l.depth === 'field').map((l) => [l.name, l.path]);
    expect(names).toEqual([['task_struct', ['__state']], ['task_struct', ['state']], ['task_struct', ['mm_cid']]]);
  });

  it('TYPE_MATCHES: the member names its local types hold by value', () => {
    const matches = targetLookups(load('core_matches')).lookups.filter((l) => l.depth === 'match');
    expect(matches).toContainEqual({ kind: 'STRUCT', name: 'pt_regs', flavors: true, depth: 'match', members: ['cs', 'di'] });
    // Behind a pointer only the member itself counts, not what it points to.
    expect(matches).toContainEqual({ kind: 'STRUCT', name: 'task_struct', flavors: true, depth: 'match', members: ['mm', 'real_parent'] });
  });

  it('TYPE_ID_TARGET makes the answer hold kernel type ids; type and enum relocations compare as libbpf does', () => {
    const { lookups, typeIdTargets } = targetLookups(load('core_types_enums'));
    expect(typeIdTargets).toEqual([{ kind: 'STRUCT', name: 'task_struct' }]);
    expect(new Set(lookups.map((l) => l.depth))).toEqual(new Set(['compat', 'enum', 'exists']));
    expect(lookups.filter((l) => l.depth === 'enum').every((l) => l.kind === 'ENUM')).toBe(true);
  });
});
