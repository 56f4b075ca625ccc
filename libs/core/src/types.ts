/**
 * The model shared by the BPF object reader (object.ts) and the CO-RE resolver (relo.ts). Field names follow
 * libbpf's (`struct bpf_core_relo`, `enum bpf_core_relo_kind`) so its sources and logs read across.
 */
import type { Btf } from '@btf-atlas/btf/core';
import type { BtfExt } from './btf-ext.js';

/** `enum bpf_core_relo_kind`: the numbers are the wire values of `.BTF.ext` CO-RE records. */
export enum CoreReloKind {
  FIELD_BYTE_OFFSET = 0,
  FIELD_BYTE_SIZE = 1,
  FIELD_EXISTS = 2,
  FIELD_SIGNED = 3,
  FIELD_LSHIFT_U64 = 4,
  FIELD_RSHIFT_U64 = 5,
  TYPE_ID_LOCAL = 6,
  TYPE_ID_TARGET = 7,
  TYPE_EXISTS = 8,
  TYPE_SIZE = 9,
  ENUMVAL_EXISTS = 10,
  ENUMVAL_VALUE = 11,
  TYPE_MATCHES = 12,
}

/** One eBPF instruction (8 bytes; LDIMM64 is two, the second with opcode 0). */
export interface Insn {
  code: number;
  dstReg: number;
  srcReg: number;
  off: number;
  imm: number;
}

/** One `.BTF.ext` CO-RE relocation record, with the section it belongs to. */
export interface CoreRelo {
  /** ELF section the instruction is in (`kprobe/do_nanosleep`). */
  section: string;
  /** Index of the record within its section's CO-RE records (libbpf's `relo_idx`). */
  index: number;
  /** Byte offset of the instruction within its section. */
  insnOff: number;
  /** Local (object) BTF type id the access starts from. */
  typeId: number;
  /** libbpf's access string (`0:1:3`), from the object's string section. */
  access: string;
  kind: CoreReloKind;
}

/** An extern the object references (`__ksym` variables and kfuncs, `__kconfig`). */
export interface BpfExtern {
  name: string;
  /** `func` for a kfunc (BTF FUNC with extern linkage), `var` for a ksym/kconfig variable. */
  type: 'func' | 'var';
  /** `.ksyms`, `.kconfig` or another DATASEC name. */
  section: string;
  weak: boolean;
  /** Local BTF id of the FUNC or VAR. */
  btfId: number;
}

/** Where a program attaches, from its section name as libbpf's section table reads it. */
export interface AttachTarget {
  /** libbpf's program type family: `kprobe`, `kretprobe`, `fentry`, `fexit`, `fmod_ret`, `tp_btf`, `raw_tp`, `tracepoint`, `lsm`, `iter`, `struct_ops`, `uprobe`, … */
  kind: string;
  /** The kernel function, tracepoint (`sched/sched_switch`), LSM hook or iterator it names, when it names one. */
  target?: string;
  /** `BPF_PROG_TYPE_` suffix of libbpf's matching section row (`KPROBE`, `TRACING`); absent for `unknown`. */
  progType?: string;
  /** `BPF_` expected attach type suffix of that row (`TRACE_FENTRY`), when it sets one. */
  attachType?: string;
  /** The row loads the program with BPF_F_SLEEPABLE (`fentry.s/`, `lsm.s/`, `uprobe.s`, `syscall`). */
  sleepable?: boolean;
  /** kprobe `+offset` (non-zero only). */
  offset?: number;
  /** BTF-attached targets written `module:function`: the module (`vmlinux` means the kernel itself). */
  module?: string;
  /**
   * BTF-attached families (fentry, fexit, fmod_ret, fsession, tp_btf, lsm, lsm_cgroup, iter): the name libbpf
   * looks up in the kernel's BTF at load time (`do_unlinkat`, `btf_trace_sched_switch`, `bpf_lsm_file_open`,
   * `bpf_iter_task`), and the kind it must have.
   */
  btfName?: string;
  btfKind?: 'FUNC' | 'TYPEDEF';
}

/** One program (a global FUNC symbol in an executable section). */
export interface BpfProgram {
  name: string;
  section: string;
  /** Byte offset of its first instruction within the section. */
  offset: number;
  /** Instruction count (8-byte slots). */
  size: number;
  attach: AttachTarget;
  /** False when the section name starts with `?` (libbpf: not loaded, and not relocated, unless asked for). */
  autoload?: boolean;
  /** The symbol's binding is global or weak (subprograms in `.text` may be static). */
  global?: boolean;
}

/** A BPF object as the dry run needs it. */
export interface BpfObject {
  littleEndian: boolean;
  /** The object's own `.BTF`. */
  btf: Btf;
  programs: BpfProgram[];
  /** Instructions of each executable section, by section name. */
  sections: Map<string, Insn[]>;
  coreRelos: CoreRelo[];
  externs: BpfExtern[];
  /** Map names from `.maps`. */
  maps: string[];
  /**
   * Functions of `.text` (static or global): libbpf's subprograms, appended to the programs that call them.
   * CO-RE records in `.text` belong to these. Their `attach.kind` is `subprog`. Always set by `readBpfObject`.
   */
  subprograms?: BpfProgram[];
  /** The decoded `.BTF.ext` (func info, line info, CO-RE records), undefined when the object has none. */
  btfExt?: BtfExt;
}
