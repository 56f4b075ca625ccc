import { spelled, type FuncBody, type FuncLinkage, type StoredType } from '@btf-atlas/catalog/read';
import { coreFieldsCompatible, ctypeOf, kindWord, resolveTypedefs, sameCType, type CType, type TypedefLookup } from './resolved-type.js';
import type { Severity } from './types.js';

/**
 * The severity rules, each with its basis in libbpf's CO-RE relocation code (tools/lib/bpf/relo_core.c) or in
 * what a program with hard-coded offsets sees. `breaking`: a CO-RE relocation fails or reads the wrong thing;
 * `layout`: CO-RE relocates it, hard-coded offsets/sizes/values go wrong; `additive`: something new.
 */
export interface Verdict {
  severity: Severity;
  reason: string;
}

const verdict = (severity: Severity, reason: string): Verdict => ({ severity, reason });

/** The typedef lookups of both kernels. */
export interface Lookups {
  before: TypedefLookup;
  after: TypedefLookup;
}

/** A member's (or typedef's) type and the size in bytes of that type. */
export interface TypeSide {
  type: StoredType;
  size: number;
}

/** Rules for things that appear, disappear or move. */
export const RULES = {
  typeAdded: verdict('additive', 'new type'),
  typeRemoved: verdict('breaking', 'type removed: a CO-RE relocation finds no candidate of that name and fails'),
  funcAdded: verdict('additive', 'new function'),
  funcRemoved: verdict('breaking', 'function removed: kprobe/fentry programs cannot attach to it'),
  memberAdded: verdict('additive', 'new member'),
  memberRemoved: verdict('breaking', 'member removed: a CO-RE field relocation finds no member of that name and fails'),
  memberMoved: verdict('layout', 'offset moved: CO-RE relocates it (FIELD_BYTE_OFFSET), hard-coded offsets are wrong'),
  sizeChanged: verdict('layout', 'size changed: CO-RE relocates sizes (TYPE_SIZE), hard-coded sizes are wrong'),
  enumValueAdded: verdict('additive', 'new enum constant'),
  enumValueRemoved: verdict('breaking', 'enum constant removed: its ENUMVAL relocation fails'),
  enumValueChanged: verdict('layout', 'value changed: CO-RE relocates it (ENUMVAL_VALUE), hard-coded values are wrong'),
  enumSignChanged: verdict('layout', 'enum signedness changed: CO-RE relocates values, hard-coded ones may be misread'),
  becameBitfield: verdict('breaking', 'became a bitfield: a plain read gets neighbouring bits (libbpf poisons a direct load of it)'),
  noLongerBitfield: verdict('layout', 'no longer a bitfield: BPF_CORE_READ_BITFIELD still reads it'),
  bitfieldResized: verdict('layout', 'bitfield width changed: BPF_CORE_READ_BITFIELD relocates its shifts'),
  becameKfunc: verdict('additive', 'became a kfunc (decl tag bpf_kfunc): BPF programs may call it'),
  sameType: verdict('layout', 'same type after typedefs and qualifiers'),
  noLongerKfunc: verdict('breaking', 'no longer a kfunc: a program that calls it fails to load (a __weak extern resolves to 0)'),
} as const;

/**
 * A func's linkage changed. Attaching is unaffected (fentry, fexit and kprobe take static and global functions
 * alike), so it is not breaking; a func that became `extern` is only declared in that BTF (its body is elsewhere,
 * e.g. in a module), and one that became static may be inlined at some call sites, which kprobes then miss.
 */
export function classifyLinkage(before: FuncLinkage, after: FuncLinkage): Verdict {
  if (after === 'static') return verdict('layout', `linkage ${before} → static: programs still attach; calls inlined into callers are no longer seen`);
  if (after === 'extern') return verdict('layout', `linkage ${before} → extern: only declared in this BTF (defined elsewhere)`);
  return verdict('additive', `linkage ${before} → ${after}: programs still attach`);
}

/** Decl tags of a func other than `bpf_kfunc`: on the func itself and on each parameter. */
export interface FuncTags {
  func: readonly string[];
  params?: readonly (readonly string[])[];
}

/**
 * Decl tags other than bpf_kfunc changed (`bpf_fastcall` on the func, `__nullable`-style tags on parameters): the
 * prototype is the same; a lost tag may change what the verifier accepts from a caller, a gained one adds.
 */
export function classifyTags(before: FuncTags, after: FuncTags): Verdict {
  const flat = (t: FuncTags): string[] => [...t.func, ...(t.params ?? []).flatMap((p, i) => p.map((tag) => `${tag} (parameter ${i + 1})`))];
  const x = flat(before);
  const y = flat(after);
  const lost = x.filter((t) => !y.includes(t));
  const gained = y.filter((t) => !x.includes(t));
  const words = [gained.length > 0 ? `gained ${gained.join(', ')}` : '', lost.length > 0 ? `lost ${lost.join(', ')}` : ''].filter(Boolean).join('; ');
  return verdict(lost.length > 0 ? 'layout' : 'additive', `decl tags changed: ${words}; the prototype is the same`);
}

/** Bitfield size change of a member (0 = not a bitfield). */
export function classifyBitfield(before: number, after: number): Verdict {
  if (before === 0) return RULES.becameBitfield;
  if (after === 0) return RULES.noLongerBitfield;
  return RULES.bitfieldResized;
}

/** The same size, and the same type once typedefs (of each kernel), qualifiers and type tags are resolved. */
export function sameType(before: TypeSide, after: TypeSide, lookups: Lookups, module: string): boolean {
  return before.size === after.size && sameCType(resolved(before.type, lookups, 'before', module, true), resolved(after.type, lookups, 'after', module, true));
}

function resolved(type: StoredType, lookups: Lookups, side: 'before' | 'after', module: string, deep: boolean): CType {
  return resolveTypedefs(ctypeOf(type), { typedefs: lookups[side], module }, deep);
}

/**
 * A member's type changed (or a typedef's target). Breaking when libbpf's `bpf_core_fields_are_compat` would
 * reject the new type (kind changed; an int never matches an enum), or when it accepts it but the program would
 * still read the wrong thing: a scalar whose size or signedness changed (BPF_CORE_READ copies the local size;
 * libbpf only adjusts a direct load for unsigned ints and pointers, `fail_memsz_adjust`), an array whose
 * elements changed size or that shrank (libbpf checks an element index against the target's length).
 * Otherwise layout: compatible for CO-RE.
 */
export function classifyTypeChange(before: TypeSide, after: TypeSide, lookups: Lookups, module: string): Verdict {
  const a = resolved(before.type, lookups, 'before', module, false);
  const b = resolved(after.type, lookups, 'after', module, false);
  if (sameType(before, after, lookups, module)) return RULES.sameType;
  if (a.t === 'func' && b.t === 'func') {
    // A typedef of a function type (not a pointer): what programs attached to such functions see changed.
    return verdict('breaking', 'function prototype changed: parameters or return type differ');
  }
  if (!coreFieldsCompatible(a, b)) {
    return verdict('breaking', `kind changed (${kindWord(a)} → ${kindWord(b)}): CO-RE field relocation fails (bpf_core_fields_are_compat)`);
  }
  return compatibleChange(a, b, before.size, after.size);
}

/** Types libbpf accepts for a field; are they still read right? Sizes in bytes, -1 when unknown. */
function compatibleChange(a: CType, b: CType, sizeA: number, sizeB: number): Verdict {
  const sized = sizeA >= 0 && sizeB >= 0;
  switch (a.t) {
    case 'struct':
    case 'union':
      return verdict('layout', 'struct/union type changed: compatible for CO-RE, its members are relocated by name');
    case 'ptr':
      return verdict('layout', 'pointer type changed: any two pointers are compatible for CO-RE');
    case 'int':
      if (sized && sizeA !== sizeB) return verdict('breaking', `integer size changed (${sizeA} → ${sizeB} bytes): a read of the old size gets the wrong bytes`);
      if (b.t === 'int' && a.signed !== undefined && b.signed !== undefined && a.signed !== b.signed) {
        return verdict('breaking', `signedness changed (${kindWord(a)} → ${kindWord(b)}): values are misread`);
      }
      return verdict('layout', 'compatible integer type');
    case 'enum':
    case 'float':
    case 'named':
      if (sized && sizeA !== sizeB) return verdict('breaking', `${kindWord(a)} size changed (${sizeA} → ${sizeB} bytes): a read of the old size gets the wrong bytes`);
      return verdict('layout', `compatible ${kindWord(a)} type`);
    case 'array': {
      const bArr = b as Extract<CType, { t: 'array' }>;
      const elemA = a.n > 0 && sized ? sizeA / a.n : -1;
      const elemB = bArr.n > 0 && sized ? sizeB / bArr.n : -1;
      const inner = compatibleChange(a.of, bArr.of, elemA, elemB);
      if (inner.severity === 'breaking') return verdict('breaking', `array elements changed: ${inner.reason}`);
      if (bArr.n !== 0 && bArr.n < a.n) {
        return verdict('breaking', `array shrank (${a.n} → ${bArr.n}): relocations of elements past the end fail`);
      }
      return verdict('layout', a.n === bArr.n ? 'array element type changed compatibly' : `array length changed (${a.n} → ${bArr.n})`);
    }
    default:
      return verdict('layout', 'compatible type');
  }
}

/**
 * A function's prototype changed (what kprobe/fentry/fexit programs see, by position). Parameters added,
 * removed or of another type (after typedefs), varargs changed, or the return type changed (fexit reads it):
 * breaking; parameter names or typedef spellings only: layout.
 */
export function classifySignature(before: FuncBody, after: FuncBody, lookups: Lookups, module: string): Verdict {
  if (before.params.length !== after.params.length) {
    return verdict('breaking', `parameters changed: ${before.params.length} → ${after.params.length}`);
  }
  if (before.variadic !== after.variadic) return verdict('breaking', 'varargs changed');
  for (let i = 0; i < before.params.length; i++) {
    const [nameA, typeA] = before.params[i];
    if (!sameCType(resolved(typeA, lookups, 'before', module, true), resolved(after.params[i][1], lookups, 'after', module, true))) {
      return verdict('breaking', `parameter ${i + 1}${nameA ? ` (${nameA})` : ''} type changed: ${spelled(typeA)} → ${spelled(after.params[i][1])}`);
    }
  }
  if (!sameCType(resolved(before.ret, lookups, 'before', module, true), resolved(after.ret, lookups, 'after', module, true))) {
    return verdict('breaking', `return type changed: ${spelled(before.ret)} → ${spelled(after.ret)}`);
  }
  if (before.params.some((p, i) => p[0] !== after.params[i][0])) return verdict('layout', 'parameter names changed; positions and types are the same');
  return verdict('layout', 'same types after typedefs');
}

