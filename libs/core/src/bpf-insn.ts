/**
 * eBPF instruction encoding (include/uapi/linux/bpf.h, bpf_common.h), shared by the reachability analysis
 * (reach.ts), the relocation patcher (relo-patch.ts), the ELF relocation reader (reach-links.ts) and the
 * verdicts (verdict.ts).
 */

/** Instruction class (`BPF_CLASS`). */
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;
/** `BPF_SRC`: immediate or register operand. */
export const BPF_K = 0x00;
export const BPF_X = 0x08;
/** `BPF_SIZE` values. */
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;
/** `BPF_MODE` values. */
export const BPF_IMM = 0x00;
export const BPF_MEM = 0x60;
export const BPF_MEMSX = 0x80;
export const BPF_ATOMIC = 0xc0;
/** Jump operations. */
export const BPF_JA = 0x00;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
/** `BPF_LD | BPF_IMM | BPF_DW`: the first half of a 64-bit immediate load. */
export const LDIMM64 = BPF_LD | BPF_IMM | BPF_DW;
/** `BPF_JMP | BPF_CALL`: a helper, kfunc or BPF-to-BPF call. */
export const BPF_JMP_CALL = BPF_JMP | BPF_CALL;
/** Bytes per instruction. */
export const INSN_SIZE = 8;

/** The access size in bytes of a load/store opcode's `BPF_SIZE` bits. */
export function sizeToBytes(code: number): number {
  switch (code & 0x18) {
    case BPF_DW: return 8;
    case BPF_W: return 4;
    case BPF_H: return 2;
    default: return 1;
  }
}

/** The `BPF_SIZE` bits of an access of `sz` bytes; -1 for a size no load/store has. */
export function bytesToSize(sz: number): number {
  switch (sz) {
    case 8: return BPF_DW;
    case 4: return BPF_W;
    case 2: return BPF_H;
    case 1: return BPF_B;
    default: return -1;
  }
}
