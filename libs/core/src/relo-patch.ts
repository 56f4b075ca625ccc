/**
 * Applying a relocation's value to its instruction (libbpf relo_core.c `bpf_core_patch_insn`): the immediate of an
 * ALU/ALU64 `K` instruction, the offset of a load/store (adjusting its access size when the field's size changed
 * safely), or the 64-bit immediate of an LDIMM64 pair; or, when the relocation found no target, poisoning the
 * instruction into a call to the invalid helper 0xbad2310 that the verifier rejects if it is reachable.
 */
import type { Insn } from './types.js';
import { Errno } from './relo-btf.js';
import type { ReloRes } from './relo-calc.js';
import type { WarnSink } from './relo-compat.js';
import {
  BPF_ALU, BPF_ALU64, BPF_CALL, BPF_JMP, BPF_K, BPF_LD, BPF_LDX, BPF_ST, BPF_STX, BPF_X, bytesToSize, LDIMM64, sizeToBytes,
} from './bpf-insn.js';

/** The helper id libbpf calls in a poisoned instruction ("bad relo"): the verifier says `invalid func unknown#195896080`. */
export const POISON_HELPER_ID = 0xbad2310;

/** Class label of a patched instruction, as libbpf logs it. */
export type InsnClassLabel = 'ALU/ALU64' | 'LDX/ST/STX' | 'LDIMM64';

/** One change to one instruction, as libbpf logs it (`patched insn #3 (ALU/ALU64) imm 0 -> 24`). */
export interface InsnPatch {
  /** Instruction index within its program. */
  insn: number;
  insnClass: InsnClassLabel;
  /** `imm` (ALU), `off` (load/store), `imm64` (LDIMM64), `mem_sz` (a load/store's access size, in bytes). */
  what: 'imm' | 'off' | 'imm64' | 'mem_sz';
  /** The previous value (u64, as libbpf prints it: a negative immediate appears sign-extended). */
  old: bigint;
  new: bigint;
}

/** What patching did: an error (negative errno, with nothing changed), patches, or poisoned instruction indexes. */
export interface PatchOutcome {
  err: number;
  patches: InsnPatch[];
  /** Program-relative indexes of the instructions replaced by the invalid call, in libbpf's order. */
  poisoned: number[];
}

/** Where the instruction is: its section's instructions (patched in place), its index there and in its program. */
export interface PatchSite {
  progName: string;
  reloIdx: number;
  insns: Insn[];
  /** Index within the section's instructions. */
  at: number;
  /** Index within the program (what libbpf reports). */
  insnIdx: number;
  warn: WarnSink;
  /** libbpf's debug lines (`patched insn #3 (ALU/ALU64) imm 0 -> 24`, `substituting insn #12 w/ invalid insn`). */
  debug: (text: string) => void;
}

/** A signed 32-bit immediate as the u64 C converts it to. */
function immU64(imm: number): bigint {
  return BigInt.asUintN(64, BigInt(imm | 0));
}

/** A signed 16-bit offset as the u64 C converts it to. */
function offU64(off: number): bigint {
  return BigInt.asUintN(64, BigInt((off << 16) >> 16));
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/** `bpf_core_poison_insn`: turns one instruction into `call 0xbad2310`. */
function poisonInsn(site: PatchSite, at: number, insnIdx: number): void {
  site.debug(`prog '${site.progName}': relo #${site.reloIdx}: substituting insn #${insnIdx} w/ invalid insn`);
  site.insns[at] = { code: BPF_JMP | BPF_CALL, dstReg: 0, srcReg: 0, off: 0, imm: POISON_HELPER_ID };
}

/** The debug line of one patch. */
function patchLine(where: string, p: InsnPatch): string {
  return `${where} patched insn #${p.insn} (${p.insnClass}) ${p.what} ${p.old} -> ${p.new}`;
}

/**
 * `bpf_core_patch_insn`. Poisoning replaces the instruction (both halves of an LDIMM64). Otherwise, when `validate`
 * is set, the instruction must hold the local value the compiler computed (else -EINVAL); a load/store offset must
 * fit in 16 bits (else -ERANGE), a field size change that is not safe poisons the load/store instead, and a safe
 * one rewrites its access size; an LDIMM64 must have libbpf's exact form. Other instruction classes are -EINVAL.
 */
export function patchInsn(site: PatchSite, res: ReloRes): PatchOutcome {
  const { insns, at, insnIdx, progName, reloIdx, warn } = site;
  const out: PatchOutcome = { err: 0, patches: [], poisoned: [] };
  const insn = insns[at];
  const where = `prog '${progName}': relo #${reloIdx}:`;
  const poison = (): PatchOutcome => {
    // Both halves of an LDIMM64, so that the verifier does not stop at "unknown opcode 00" first.
    if (insn.code === LDIMM64 && at + 1 < insns.length) {
      poisonInsn(site, at + 1, insnIdx + 1);
      out.poisoned.push(insnIdx + 1);
    }
    poisonInsn(site, at, insnIdx);
    out.poisoned.push(insnIdx);
    return out;
  };
  const record = (p: InsnPatch): void => {
    out.patches.push(p);
    site.debug(patchLine(where, p));
  };
  if (res.poison) return poison();

  const origVal = res.origVal;
  const newVal = res.newVal;
  switch (insn.code & 0x07) {
    case BPF_ALU:
    case BPF_ALU64: {
      if ((insn.code & BPF_X) !== BPF_K) return { ...out, err: -Errno.EINVAL };
      if (res.validate && immU64(insn.imm) !== origVal) {
        warn(`${where} unexpected insn #${insnIdx} (ALU/ALU64) value: got ${insn.imm >>> 0}, exp ${origVal} -> ${newVal}`);
        return { ...out, err: -Errno.EINVAL };
      }
      const old = immU64(insn.imm);
      insns[at] = { ...insn, imm: Number(BigInt.asIntN(32, newVal)) };
      record({ insn: insnIdx, insnClass: 'ALU/ALU64', what: 'imm', old, new: newVal });
      return out;
    }
    case BPF_LDX:
    case BPF_ST:
    case BPF_STX: {
      if (res.validate && offU64(insn.off) !== origVal) {
        warn(`${where} unexpected insn #${insnIdx} (LDX/ST/STX) value: got ${((insn.off << 16) >> 16) >>> 0}, exp ${origVal} -> ${newVal}`);
        return { ...out, err: -Errno.EINVAL };
      }
      if (newVal > 0x7fffn) {
        warn(`${where} insn #${insnIdx} (LDX/ST/STX) value too big: ${newVal}`);
        return { ...out, err: -Errno.ERANGE };
      }
      if (res.failMemszAdjust) {
        warn(
          `${where} insn #${insnIdx} (LDX/ST/STX) accesses field incorrectly. Make sure you are accessing pointers, ` +
            'unsigned integers, or fields of matching type and size.',
        );
        return poison();
      }
      const old = offU64(insn.off);
      let patched: Insn = { ...insn, off: Number(newVal) };
      record({ insn: insnIdx, insnClass: 'LDX/ST/STX', what: 'off', old, new: newVal });
      if (res.newSz !== res.origSz) {
        const bytes = sizeToBytes(insn.code);
        if (bytes !== res.origSz) {
          warn(`${where} insn #${insnIdx} (LDX/ST/STX) unexpected mem size: got ${bytes}, exp ${res.origSz}`);
          // libbpf has already rewritten the offset when it gives up here.
          insns[at] = patched;
          return { ...out, err: -Errno.EINVAL };
        }
        const size = bytesToSize(res.newSz);
        if (size < 0) {
          warn(`${where} insn #${insnIdx} (LDX/ST/STX) invalid new mem size: ${res.newSz}`);
          insns[at] = patched;
          return { ...out, err: -Errno.EINVAL };
        }
        patched = { ...patched, code: (insn.code & 0xe0) | size | (insn.code & 0x07) };
        record({ insn: insnIdx, insnClass: 'LDX/ST/STX', what: 'mem_sz', old: BigInt(res.origSz), new: BigInt(res.newSz) });
      }
      insns[at] = patched;
      return out;
    }
    case BPF_LD: {
      const next = insns[at + 1];
      if (insn.code !== LDIMM64 || insn.srcReg !== 0 || insn.off !== 0 || !next || next.code !== 0 || next.dstReg !== 0 || next.srcReg !== 0 || next.off !== 0) {
        warn(`${where} insn #${insnIdx} (LDIMM64) has unexpected form`);
        return { ...out, err: -Errno.EINVAL };
      }
      const imm = (BigInt(insn.imm >>> 0) | (BigInt(next.imm >>> 0) << 32n));
      if (res.validate && imm !== origVal) {
        warn(`${where} unexpected insn #${insnIdx} (LDIMM64) value: got ${imm}, exp ${origVal} -> ${newVal}`);
        return { ...out, err: -Errno.EINVAL };
      }
      insns[at] = { ...insn, imm: Number(BigInt.asIntN(32, newVal)) };
      insns[at + 1] = { ...next, imm: Number(BigInt.asIntN(32, newVal >> 32n)) };
      record({ insn: insnIdx, insnClass: 'LDIMM64', what: 'imm64', old: imm, new: newVal });
      return out;
    }
    default:
      warn(
        `${where} trying to relocate unrecognized insn #${insnIdx}, code:${hex(insn.code)}, src:${hex(insn.srcReg)}, ` +
          `dst:${hex(insn.dstReg)}, off:${hex((insn.off << 16) >> 16)}, imm:${hex(insn.imm)}`,
      );
      return { ...out, err: -Errno.EINVAL };
  }
}
