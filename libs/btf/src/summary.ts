/**
 * `btf-atlas kernel KREF --summary`: counts of what one BTF holds, the things eBPF tool authors look for (kinds,
 * functions and kfuncs, raw tracepoints and trace events, syscalls, data sections, tags). Of a split (module) BTF
 * only its own types are counted. Read from the records (kind first, then only the words and names needed), so no
 * decoded-type cache is made: a 6.12 vmlinux (110k types) takes a few milliseconds.
 */
import type { Btf } from './btf.js';
import { BPFTOOL_KIND_NAMES, BtfKind, BTF_KIND_MAX, BTF_TYPE_WORDS } from './kinds.js';
import { pointerSize } from './layout.js';

/** Counts of named and anonymous definitions of one kind (or of a pair of kinds). */
export interface NamedCounts {
  total: number;
  named: number;
  anonymous: number;
}

/** One DATASEC: its name, size and number of variables. */
export interface DatasecSummary {
  name: string;
  size: number;
  vars: number;
}

/** What {@link summarizeBtf} returns; the JSON keys of `kernel --summary --json`, in this order. */
export interface BtfSummary {
  /** Every type record this BTF holds (of a split BTF: its own). */
  types: number;
  /**
   * Records per kind, by bpftool's kind names, every kind from INT to ENUM64 (0 when absent), in kind order; then
   * `UNKNOWN` for records of kinds this decoder does not know, when there are any.
   */
  kinds: Record<string, number>;
  /** STRUCT records. */
  structs: number;
  /** UNION records. */
  unions: number;
  /** ENUM and ENUM64 records, named and anonymous. */
  enums: NamedCounts;
  /** Values of all ENUM and ENUM64 records (named and anonymous enums). */
  enumerators: number;
  /** TYPEDEF records. */
  typedefs: number;
  /** FUNC records, and by linkage. */
  funcs: { total: number; static: number; global: number; extern: number };
  /** FUNCs that a DECL_TAG `bpf_kfunc` with component_idx -1 targets. */
  kfuncs: number;
  /** FUNCs that a DECL_TAG `bpf_fastcall` with component_idx -1 targets. */
  fastcall: number;
  /** Raw tracepoints: distinct NAMEs of `typedef btf_trace_NAME`. */
  tracepoints: number;
  /** Trace events: distinct NAMEs of `struct trace_event_raw_NAME`. */
  trace_events: number;
  /**
   * Syscalls: `total` distinct NAMEs of FUNCs `__<prefix>_sys_NAME` for the arch prefixes of the kernel's syscall
   * wrappers ({@link SYSCALL_PREFIXES}); `by_prefix` distinct NAMEs per prefix present; `plain` distinct NAMEs of
   * FUNCs `sys_NAME`, which are the syscalls (`total`) when no prefixed one exists (kernels without wrappers).
   */
  syscalls: { total: number; by_prefix: Record<string, number>; plain: number };
  /** Every DATASEC, in type-id order. */
  datasecs: DatasecSummary[];
  /** DECL_TAG records, and how many carry each value (values sorted). */
  decl_tags: { total: number; values: Record<string, number> };
  /** TYPE_TAG records, and how many carry each distinct value (values sorted). */
  type_tags: { total: number; values: Record<string, number> };
  /** libbpf's pointer size of the BTF (a split BTF's is its base's). */
  pointer_size: number;
  byte_order: 'little' | 'big';
}

/**
 * The arch prefixes of syscall wrapper FUNCs, `__<prefix>_sys_NAME` (arch/{x86,arm64,s390,riscv,powerpc}
 * syscall_wrapper.h; `ia32` and `s390` are the 32-bit entry points). Other `__X_sys_` FUNCs (`__do_sys_`,
 * `__se_sys_`, `__traceiter_sys_enter`, compat wrappers `__ia32_compat_sys_`) are not syscalls of their own.
 */
export const SYSCALL_PREFIXES: readonly string[] = ['x64', 'ia32', 'arm64', 's390x', 's390', 'riscv', 'powerpc'];

const SYSCALL_RE = new RegExp(`^__(${SYSCALL_PREFIXES.join('|')})_sys_(\\w+)$`);
const PLAIN_SYSCALL_RE = /^sys_(\w+)$/;
const TRACEPOINT_PREFIX = 'btf_trace_';
const TRACE_EVENT_PREFIX = 'trace_event_raw_';

const {
  STRUCT: K_STRUCT, UNION: K_UNION, ENUM: K_ENUM, ENUM64: K_ENUM64, TYPEDEF: K_TYPEDEF, FUNC: K_FUNC, DATASEC: K_DATASEC,
  DECL_TAG: K_DECL_TAG, TYPE_TAG: K_TYPE_TAG,
} = BtfKind;

function sortedRecord(counts: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of [...counts.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) out[key] = counts.get(key) as number;
  return out;
}

function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/**
 * Counts of what `btf` holds (its own types when it is split BTF on a base): see {@link BtfSummary}. Names that are
 * not valid string offsets count as empty (anonymous); the BTF is not validated here.
 */
export function summarizeBtf(btf: Btf): BtfSummary {
  const { typeWords: w, littleEndian: le, strings } = btf;
  const name = (off: number): string => (off === 0 ? '' : (strings.tryGet(off) ?? ''));
  const kindCounts = new Array<number>(BTF_KIND_MAX + 2).fill(0);
  let enumsNamed = 0;
  let enumsAnon = 0;
  let enumerators = 0;
  const funcs = { total: 0, static: 0, global: 0, extern: 0 };
  const funcIds: number[] = [];
  const tracepoints = new Set<string>();
  const traceEvents = new Set<string>();
  const datasecs: DatasecSummary[] = [];
  const declTags = new Map<string, number>();
  const typeTags = new Map<string, number>();
  const kfuncs = new Set<number>();
  const fastcall = new Set<number>();
  let declTagCount = 0;
  let typeTagCount = 0;

  for (let id = btf.startId; id < btf.nextId; id++) {
    // The record header read inline (record.ts explains why).
    const r = btf.recordWordIndex(id);
    const info = w[r + 1];
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    kindCounts[kind > 0 && kind <= BTF_KIND_MAX ? kind : BTF_KIND_MAX + 1]++;
    switch (kind) {
      case K_ENUM:
      case K_ENUM64:
        if (name(w[r]) === '') enumsAnon++;
        else enumsNamed++;
        enumerators += vlen;
        break;
      case K_TYPEDEF: {
        const n = name(w[r]);
        if (n.startsWith(TRACEPOINT_PREFIX) && n.length > TRACEPOINT_PREFIX.length) tracepoints.add(n.slice(TRACEPOINT_PREFIX.length));
        break;
      }
      case K_STRUCT: {
        const n = name(w[r]);
        if (n.startsWith(TRACE_EVENT_PREFIX) && n.length > TRACE_EVENT_PREFIX.length) traceEvents.add(n.slice(TRACE_EVENT_PREFIX.length));
        break;
      }
      case K_FUNC:
        funcs.total++;
        if (vlen === 0) funcs.static++;
        else if (vlen === 1) funcs.global++;
        else if (vlen === 2) funcs.extern++;
        funcIds.push(id);
        break;
      case K_DATASEC:
        datasecs.push({ name: name(w[r]), size: w[r + 2], vars: vlen });
        break;
      case K_DECL_TAG: {
        declTagCount++;
        const value = name(w[r]);
        bump(declTags, value);
        // struct btf_decl_tag { s32 component_idx }: -1 tags the target itself.
        if ((w[r + BTF_TYPE_WORDS] | 0) !== -1) break;
        const target = w[r + 2];
        if (btf.kindOf(target) !== K_FUNC) break;
        if (value === 'bpf_kfunc') kfuncs.add(target);
        else if (value === 'bpf_fastcall') fastcall.add(target);
        break;
      }
      case K_TYPE_TAG:
        typeTagCount++;
        bump(typeTags, name(w[r]));
        break;
      default:
        break;
    }
  }

  // Syscalls from the FUNC names (half the records of a vmlinux): a cheap first-character test before the regexes.
  const byPrefix = new Map<string, Set<string>>();
  const prefixed = new Set<string>();
  const plain = new Set<string>();
  for (const id of funcIds) {
    const nameOff = w[btf.recordWordIndex(id)];
    const at = strings.locate(nameOff);
    if (at < 0) continue;
    const bytes = strings.bytesAt(nameOff);
    const c0 = bytes[at];
    // Only names that start `__` or `sys_` are read as strings.
    if (!((c0 === 0x5f && bytes[at + 1] === 0x5f) || (c0 === 0x73 && bytes[at + 1] === 0x79 && bytes[at + 2] === 0x73 && bytes[at + 3] === 0x5f))) continue;
    const n = name(nameOff);
    if (n.startsWith('__')) {
      const m = SYSCALL_RE.exec(n);
      if (!m) continue;
      let set = byPrefix.get(m[1]);
      if (!set) byPrefix.set(m[1], (set = new Set()));
      set.add(m[2]);
      prefixed.add(m[2]);
    } else if (n.startsWith('sys_')) {
      const m = PLAIN_SYSCALL_RE.exec(n);
      if (m) plain.add(m[1]);
    }
  }

  const kinds: Record<string, number> = {};
  for (let k = 1; k <= BTF_KIND_MAX; k++) kinds[BPFTOOL_KIND_NAMES[k]] = kindCounts[k];
  // Kinds this decoder does not know (records sized by the layout section): bpftool calls them UNKNOWN.
  if (kindCounts[BTF_KIND_MAX + 1] > 0) kinds.UNKNOWN = kindCounts[BTF_KIND_MAX + 1];

  return {
    types: btf.ownTypeCount,
    kinds,
    structs: kindCounts[K_STRUCT],
    unions: kindCounts[K_UNION],
    enums: { total: enumsNamed + enumsAnon, named: enumsNamed, anonymous: enumsAnon },
    enumerators,
    typedefs: kindCounts[K_TYPEDEF],
    funcs,
    kfuncs: kfuncs.size,
    fastcall: fastcall.size,
    tracepoints: tracepoints.size,
    trace_events: traceEvents.size,
    syscalls: {
      total: prefixed.size > 0 ? prefixed.size : plain.size,
      by_prefix: sortedRecord(new Map([...byPrefix].map(([p, s]) => [p, s.size]))),
      plain: plain.size,
    },
    datasecs,
    decl_tags: { total: declTagCount, values: sortedRecord(declTags) },
    type_tags: { total: typeTagCount, values: sortedRecord(typeTags) },
    pointer_size: pointerSize(btf),
    byte_order: le ? 'little' : 'big',
  };
}
