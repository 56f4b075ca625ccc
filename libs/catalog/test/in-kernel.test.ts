import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  enumeratorInKernel, enumInKernel, parseKref, syscallInKernel, tracepointInKernel, type Catalog, type KernelFilter,
} from '@btf-atlas/catalog/read';
import { entryDefinitions, enumeratorHistory, enumHistory, syscallHistory, tracepointHistory, type HistoryEntry } from '@btf-atlas/diff';
import { BtfBuilder } from '../../btf/test/support/builder.js';
import { thrown } from './support/answers.js';
import { syntheticCatalog } from './support/synthetic-catalog.js';

// One kernel's answers for tracepoints, syscalls, enums and enumerators, read from the catalog without building
// the history: they must hold what the history shows for that kernel, byte for byte, and fail as it implies.
// Synthetic kernels: six x86_64 ones (1…6) and an arm64 one. The module `modt` (a tracepoint, an enum and its
// enumerator, and a second `enum color`) is ingested with x86 kernel 1 and the arm64 kernel only; the syscall
// `mysys` is in every kernel but x86 kernel 6; `core_tp`'s event record appears at x86 kernel 2.

const x86 = (n: number): string => `debian/12/x86_64/6.1.0-${n}-amd64`;
const ARM = 'debian/12/arm64/6.1.0-1-arm64';

interface Variant {
  kref: string;
  v: number;
  arm: boolean;
  module: boolean;
}

const KERNELS: Variant[] = [
  ...[1, 2, 3, 4, 5, 6].map((v) => ({ kref: x86(v), v, arm: false, module: v === 1 })),
  { kref: ARM, v: 1, arm: true, module: true },
];

function kernelBtf(k: Variant): { vmlinux: Uint8Array; modt?: Uint8Array } {
  const b = new BtfBuilder();
  const int = b.int('int', 4, 32, 1);
  const long = b.int('long int', 8, 64, 1);
  const voidPtr = b.ptr(0);
  const task = b.struct('task', 8, [{ name: 'pid', type: int, bitsOffset: 0 }]);
  b.enum('color', 4, [['RED', 0], ['GREEN', k.v]]);
  b.typedef('btf_trace_core_tp', b.ptr(b.funcProto(0, [{ type: voidPtr }, { type: b.ptr(task) }])));
  if (k.v >= 2) b.struct('trace_event_raw_core_tp', 8, [{ name: 'pid', type: int, bitsOffset: 32 }]);
  const wrapper = b.funcProto(long, [{ name: 'regs', type: voidPtr }]);
  if (k.arm) b.func('__arm64_sys_mysys', wrapper);
  else if (k.v !== 6) b.func('__x64_sys_mysys', wrapper);
  const lastId = b.func('helper', b.funcProto(int, [{ name: 'x', type: int }]));
  const vmlinux = b.build();
  if (!k.module) return { vmlinux };
  const m = new BtfBuilder({ startId: lastId + 1, strBase: b.stringSection().length, leadingNul: false });
  m.typedef('btf_trace_mod_tp', m.ptr(m.funcProto(0, [{ type: voidPtr }, { name: 'n', type: int }])));
  m.enum('mod_state', 4, [['MOD_OFF', 0], ['MOD_ON', 1]]);
  m.enum('color', 4, [['RED', 10], ['BLUE', 11]]);
  return { vmlinux, modt: m.build() };
}

let catalog: Catalog;
let close: (() => void) | undefined;

beforeAll(async () => {
  ({ catalog, close } = await syntheticCatalog('btf-atlas-in-kernel-', KERNELS.map((k) => {
    const { vmlinux, modt } = kernelBtf(k);
    return { kref: k.kref, vmlinux, modules: modt ? [{ name: 'modt', bytes: modt }] : [] };
  })));
});

afterAll(() => close?.());

/** A kind: its one-kernel answer (as the list of definitions) and its history. */
interface Kind {
  kind: string;
  names: string[];
  inKernel: (name: string, kref: string) => { kernel: string; list: unknown[] };
  history: (name: string, f: KernelFilter) => { kernels: HistoryEntry<unknown>[] };
}

const KINDS: Kind[] = [
  {
    kind: 'tracepoint', names: ['core_tp', 'btf_trace_core_tp', 'mod_tp'],
    inKernel: (n, k) => { const a = tracepointInKernel(catalog, n, k); return { kernel: a.kernel, list: a.tracepoints }; },
    history: (n, f) => tracepointHistory(catalog, n, f),
  },
  {
    kind: 'syscall', names: ['mysys', '__x64_sys_mysys'],
    inKernel: (n, k) => { const a = syscallInKernel(catalog, n, k); return { kernel: a.kernel, list: a.syscalls }; },
    history: (n, f) => syscallHistory(catalog, n, f),
  },
  {
    kind: 'enum', names: ['color', 'enum color', 'mod_state'],
    inKernel: (n, k) => { const a = enumInKernel(catalog, n, k); return { kernel: a.kernel, list: a.enums }; },
    history: (n, f) => enumHistory(catalog, n, f),
  },
  {
    kind: 'enumerator', names: ['RED', 'GREEN', 'BLUE', 'MOD_ON'],
    inKernel: (n, k) => { const a = enumeratorInKernel(catalog, n, k); return { kernel: a.kernel, list: a.enumerators }; },
    history: (n, f) => enumeratorHistory(catalog, n, f),
  },
];

describe('one kernel of a kind', () => {
  it('holds what the history over the kernel’s distro/release/arch shows for it, byte for byte, and fails where it shows none', () => {
    let present = 0;
    let absent = 0;
    for (const k of KINDS) {
      for (const name of k.names) {
        for (const { kref } of KERNELS) {
          const r = parseKref(kref);
          const entry = k.history(name, { distro: r.distro, release: r.release, arch: r.arch }).kernels.find((e) => e.kernel === kref);
          const defs = entry ? entryDefinitions(entry) : [];
          if (defs.length > 0) {
            expect(JSON.stringify(k.inKernel(name, kref)), `${k.kind} ${name} ${kref}`).toBe(JSON.stringify({ kernel: kref, list: defs }));
            present++;
          } else {
            expect(thrown(() => k.inKernel(name, kref)).message, `${k.kind} ${name} ${kref}`).toContain(`in ${kref}`);
            absent++;
          }
        }
      }
    }
    // Both sides of every kind were compared.
    expect(present).toBeGreaterThan(30);
    expect(absent).toBeGreaterThan(10);
  });

  it('gives every definition of the kernel, vmlinux first, then the module', () => {
    const a = enumInKernel(catalog, 'enum color', x86(1));
    expect(a.kernel).toBe(x86(1));
    expect(a.enums).toEqual([
      { name: 'color', size: 4, signed: false, values: [{ name: 'RED', value: 0 }, { name: 'GREEN', value: 1 }] },
      { name: 'color', size: 4, signed: false, values: [{ name: 'RED', value: 10 }, { name: 'BLUE', value: 11 }], module: 'modt' },
    ]);
    expect(enumeratorInKernel(catalog, 'RED', ARM).enumerators.map((e) => [e.value, e.module ?? ''])).toEqual([[0, ''], [10, 'modt']]);
    expect(enumeratorInKernel(catalog, 'GREEN', x86(4)).enumerators).toEqual([{ name: 'GREEN', value: 4, enum: 'color', first_enumerator: 'RED', size: 4, signed: false }]);
  });

  it('reads a tracepoint by either name, its event record null where the kernel lacks it', () => {
    const one = tracepointInKernel(catalog, 'btf_trace_core_tp', x86(1));
    expect(one.tracepoints).toHaveLength(1);
    expect(one.tracepoints[0]).toMatchObject({ name: 'core_tp', event: null, raw: { typedef: 'btf_trace_core_tp', params: [{ name: '', type: 'struct task *' }] } });
    expect(tracepointInKernel(catalog, 'core_tp', x86(2)).tracepoints[0].event).toMatchObject({ struct: 'trace_event_raw_core_tp', size: 8 });
    expect(tracepointInKernel(catalog, 'mod_tp', ARM).tracepoints).toMatchObject([{ name: 'mod_tp', module: 'modt', event: null }]);
    expect(syscallInKernel(catalog, '__arm64_sys_mysys', ARM)).toEqual({ kernel: ARM, syscalls: [{ name: 'mysys', funcs: ['__arm64_sys_mysys'], compat_funcs: [], prefixes: ['arm64'] }] });
  });

  it('names the kernel and suggests at most five kernels (in kernel order) that have the name', () => {
    const e = thrown(() => syscallInKernel(catalog, 'mysys', x86(6)));
    expect(e.code).toBe('SYSCALL_NOT_FOUND');
    expect(e.message).toBe(`no syscall named mysys in ${x86(6)}`);
    expect(e.suggestions).toEqual([ARM, x86(1), x86(2), x86(3), x86(4)]);
  });

  it('says when the module defining the name was not ingested with the kernel', () => {
    const why = '(the BTF of the module defining it was not ingested with it)';
    const tp = thrown(() => tracepointInKernel(catalog, 'mod_tp', x86(3)));
    expect([tp.code, tp.message, tp.suggestions]).toEqual(['TRACEPOINT_NOT_FOUND', `no tracepoint named mod_tp in ${x86(3)} ${why}`, [ARM, x86(1)]]);
    const en = thrown(() => enumInKernel(catalog, 'enum mod_state', x86(2)));
    expect([en.code, en.message]).toEqual(['TYPE_NOT_FOUND', `no enum named mod_state in ${x86(2)} ${why}`]);
    expect(thrown(() => enumeratorInKernel(catalog, 'MOD_ON', x86(5))).message).toBe(`no enumerator named MOD_ON in ${x86(5)} ${why}`);
    // BLUE is only in the module's `enum color`: kernels without the module are left out too, though vmlinux has a `color`.
    expect(thrown(() => enumeratorInKernel(catalog, 'BLUE', x86(5))).message).toBe(`no enumerator named BLUE in ${x86(5)} ${why}`);
  });

  it('fails as the history does for a name no kernel has, after checking the kernel', () => {
    const tp = thrown(() => tracepointInKernel(catalog, 'core_t', x86(1)));
    expect(tp.code).toBe('TRACEPOINT_NOT_FOUND');
    expect(tp.message).toContain('in the catalog');
    expect(tp.suggestions).toContain('core_tp');
    expect(thrown(() => syscallInKernel(catalog, 'nosuch', x86(1))).message).toContain('in the catalog');
    expect(thrown(() => enumeratorInKernel(catalog, 'GREN', x86(1))).suggestions).toContain('GREEN');
    expect(thrown(() => enumInKernel(catalog, 'struct task', x86(1))).code).toBe('TYPE_NOT_FOUND');
    expect(thrown(() => enumInKernel(catalog, 'colour', x86(1))).message).toBe('no enum named colour in the catalog');
    expect(thrown(() => tracepointInKernel(catalog, 'core_t', 'debian/12/x86_64/6.1.0-9-amd64')).code).toBe('KERNEL_NOT_FOUND');
    expect(thrown(() => enumInKernel(catalog, 'color', 'not a kref')).code).toBe('CATALOG_BAD_KREF');
  });
});
