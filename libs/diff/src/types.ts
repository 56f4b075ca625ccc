import type { ShapeBody, ShapeKind } from '@btf-atlas/catalog/read';

/** What changed (contract: `diff --json`). */
export type ChangeKind = 'added' | 'removed' | 'size' | 'offset' | 'type' | 'bitfield' | 'value' | 'signature' | 'linkage' | 'kfunc' | 'tags';

/**
 * How much a change matters to a BPF program (contract):
 * - `breaking`: a CO-RE relocation would fail or read the wrong thing;
 * - `layout`: offsets or sizes moved: fine for CO-RE, wrong for programs with hard-coded offsets;
 * - `additive`: something new appeared.
 */
export type Severity = 'breaking' | 'layout' | 'additive';

/** One classified change, with the contract's keys in the contract's order. */
export interface DiffChange {
  kind: ShapeKind;
  name: string;
  /** The kernel module the type belongs to; absent for vmlinux types. */
  module?: string;
  /** The member (struct/union/typedef of an unnamed struct), enum constant; absent for a change of the type itself. */
  member?: string;
  change: ChangeKind;
  /** The old state (`{}` when added). */
  before: Record<string, unknown>;
  /** The new state (`{}` when removed). */
  after: Record<string, unknown>;
  severity: Severity;
  /** On a `removed` and an `added` member that look like a rename: the other one's name. */
  probable_rename?: string;
  /** Why this severity, in a few words (the CO-RE rule applied). */
  reason: string;
}

/** A name with more than one definition in either kernel: not compared (as the corpus oracle does). */
export interface AmbiguousName {
  kind: ShapeKind;
  name: string;
  module?: string;
  old_count: number;
  new_count: number;
}

export interface DiffSummary {
  breaking: number;
  layout: number;
  additive: number;
}

/** One definition of a named type, as the catalog stores it (a `shapes` row and its set entry). */
export interface ShapeDef {
  kind: ShapeKind;
  name: string;
  size: number;
  /** The stored JSON body, or the parsed body. */
  body: string | ShapeBody;
  /** '' (or absent) for vmlinux. */
  module?: string;
  /** Identical definitions of this shape in the kernel (default 1). */
  copies?: number;
}

/** The result of comparing two shape lists. */
export interface ShapeDiff {
  changes: DiffChange[];
  ambiguous: AmbiguousName[];
}

/** The answer of `diff --json` and `GET /v1/diff` (plus `ambiguous`). */
export interface KernelDiff {
  from: string;
  to: string;
  changes: DiffChange[];
  summary: DiffSummary;
  ambiguous: AmbiguousName[];
}

/** Counts of changes per kind of type, each by severity (`summary.kinds` of a `--summary` answer). */
export type KindSummary = Record<ShapeKind, DiffSummary>;

/**
 * The filters of a diff answer (contract: `diff --severity/--kind/--name`, `GET /v1/diff?severity=&kind=&name=`).
 * Absent keys do not filter. Severities and kinds are kept deduplicated, in the contract's order.
 */
export interface DiffFilter {
  /** Only changes of these severities. */
  severity?: Severity[];
  /** Only changes (and not-compared names) of these kinds of type. */
  kind?: ShapeKind[];
  /** Only changes (and not-compared names) of types whose name matches this shell glob (`*`, `?`, `[abc]`). */
  name?: string;
}

/** `summary` of a filtered (or `--summary`) answer: the counts of the changes shown, and of the whole diff. */
export interface DiffViewSummary extends DiffSummary {
  /** With `--summary`: the shown changes counted per kind of type (every kind, zeros included). */
  kinds?: KindSummary;
  /** With a filter: the counts of the whole, unfiltered diff. */
  total?: DiffSummary;
}

/**
 * A diff answer as shown: with no filter and no `--summary` it is the {@link KernelDiff} itself (same keys, same
 * order). With filters, `changes` and `ambiguous` hold what passes them, `summary` counts the changes shown (plus
 * `total`), and `filters` echoes the filters (last key); with `--summary` there is no `changes`.
 */
export interface DiffView {
  from: string;
  to: string;
  changes?: DiffChange[];
  summary: DiffViewSummary;
  ambiguous: AmbiguousName[];
  filters?: DiffFilter;
}
