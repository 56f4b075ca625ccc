/**
 * The snake_case JSON view of a {@link CoreDryRun}: the `btf-core-dryrun/1` format of the CO-RE oracles
 * (fixtures/core/README.md), which the CLI and HTTP answers build on. u64 values are JSON numbers when they fit in
 * 2^53, else decimal strings (as the contract writes enum values).
 */
import type { CoreCandidateInfo, CoreDryRun, CoreReloResult, CoreReloStatus, CoreSpecInfo } from './relo.js';

/** A u64 (or signed enumerator) as JSON: a number when exact, else its decimal string. */
export type JsonU64 = number | string;

/** A spec in the oracle's words. */
export interface CoreSpecJson {
  btf: string;
  type_id: number;
  type: string;
  access?: string;
  field_path?: string;
  offset?: number;
  bit?: number;
  enumerator?: string;
  enum_value?: JsonU64;
  spec: string;
}

export interface CoreCandidateJson extends CoreSpecJson {
  idx: number;
  matched: boolean;
  error?: number;
}

export interface CorePatchJson {
  insn: number;
  insn_class: string;
  what: string;
  old: JsonU64;
  new: JsonU64;
}

export interface CoreReloJson {
  section: string;
  prog: string;
  idx: number;
  insn_off: number;
  insn: number;
  /** libbpf's short name (`byte_off`). */
  kind: string;
  kind_id: number;
  kind_name: string;
  local: CoreSpecJson | null;
  candidates: CoreCandidateJson[];
  target: CoreSpecJson | null;
  patches: CorePatchJson[];
  poisoned_insns: number[];
  no_target: boolean;
  ambiguous: boolean;
  orig_value: JsonU64 | null;
  new_value: JsonU64 | null;
  status: CoreReloStatus;
  messages: string[];
  error?: number;
}

export interface CoreDryRunJson {
  format: 'btf-core-dryrun/1';
  object?: string;
  kernel?: string;
  result: { open: number; prepare: number; load?: number; libbpf: string };
  ok: boolean;
  status_counts: Partial<Record<CoreReloStatus, number>>;
  sections: { name: string; relocations: number }[];
  candidate_cache: { local_type_id: number; local_type: string; candidates: { type_id: number; type: string; btf: string }[] }[];
  relocations: CoreReloJson[];
  skipped: { section: string; idx: number; insn_off: number; reason: string }[];
  warnings: string[];
}

/** The libbpf version whose decisions the resolver reproduces. */
export const LIBBPF_VERSION = '1.7';

/** A u64 or enumerator value for JSON. */
export function jsonU64(v: bigint | number): JsonU64 {
  if (typeof v === 'number') return v;
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
}

function specJson(s: CoreSpecInfo): CoreSpecJson {
  const out: CoreSpecJson = { btf: s.btf, type_id: s.typeId, type: s.type, spec: s.spec };
  if (s.access !== undefined) out.access = s.access;
  if (s.fieldPath !== undefined) out.field_path = s.fieldPath;
  if (s.offset !== undefined) out.offset = s.offset;
  if (s.bit !== undefined) out.bit = s.bit;
  if (s.enumerator !== undefined) out.enumerator = s.enumerator;
  if (s.enumValue !== undefined) out.enum_value = jsonU64(s.enumValue);
  return out;
}

function candidateJson(c: CoreCandidateInfo): CoreCandidateJson {
  const out: CoreCandidateJson = { idx: c.idx, matched: c.matched, ...specJson(c) };
  if (c.error !== undefined) out.error = c.error;
  return out;
}

/** One relocation's decision as JSON. */
export function coreReloJson(r: CoreReloResult): CoreReloJson {
  const out: CoreReloJson = {
    section: r.section,
    prog: r.prog,
    idx: r.idx,
    insn_off: r.insnOff,
    insn: r.insn,
    kind: r.kindShort,
    kind_id: r.kind,
    kind_name: r.kindName,
    local: r.local ? specJson(r.local) : null,
    candidates: r.candidates.map(candidateJson),
    target: r.target ? specJson(r.target) : null,
    patches: r.patches.map((p) => ({ insn: p.insn, insn_class: p.insnClass, what: p.what, old: jsonU64(p.old), new: jsonU64(p.new) })),
    poisoned_insns: [...r.poisonedInsns],
    no_target: r.noTarget,
    ambiguous: r.ambiguous,
    orig_value: r.origValue === null ? null : jsonU64(r.origValue),
    new_value: r.newValue === null ? null : jsonU64(r.newValue),
    status: r.status,
    messages: [...r.messages],
  };
  if (r.error !== undefined) out.error = r.error;
  return out;
}

/** The whole dry run as `btf-core-dryrun/1` JSON; `labels` name the object and kernel when the caller knows them. */
export function coreDryRunJson(dry: CoreDryRun, labels: { object?: string; kernel?: string } = {}): CoreDryRunJson {
  const out: CoreDryRunJson = {
    format: 'btf-core-dryrun/1',
    ...(labels.object !== undefined ? { object: labels.object } : {}),
    ...(labels.kernel !== undefined ? { kernel: labels.kernel } : {}),
    result: { open: dry.result.open, prepare: dry.result.prepare, ...(dry.result.load !== undefined ? { load: dry.result.load } : {}), libbpf: LIBBPF_VERSION },
    ok: dry.ok,
    status_counts: { ...dry.statusCounts },
    sections: dry.sections.map((s) => ({ ...s })),
    candidate_cache: dry.candidateCache.map((e) => ({
      local_type_id: e.localTypeId,
      local_type: e.localType,
      candidates: e.candidates.map((c) => ({ type_id: c.typeId, type: c.type, btf: c.btf })),
    })),
    relocations: dry.relocations.map(coreReloJson),
    skipped: dry.skipped.map((s) => ({ section: s.section, idx: s.idx, insn_off: s.insnOff, reason: s.reason })),
    warnings: [...dry.warnings],
  };
  return out;
}
