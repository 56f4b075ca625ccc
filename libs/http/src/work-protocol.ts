import type { DiffFilter } from '@btf-atlas/diff';
import type { KernelRef } from '@btf-atlas/catalog';

/** What each kind of task takes. */
export interface TaskInputs {
  /** The diff of two kernels, filters applied: as JSON text (what the route sends) or as the view (NDJSON). */
  diff: { from: string; to: string; filter: DiffFilter; summary: boolean; as: 'json' | 'view' };
  /** vmlinux.h of a raw BTF blob, written to `path` and its gzip to `gzPath` (each atomically). */
  'vmlinux-h': { sha256: string; path: string; gzPath: string };
  /** One job of the in-process runner (ingest, scan, sync), as the queue's workers run it. */
  job: { id: string; name: string; data: unknown };
  /** The counts of a kernel's BTF, vmlinux and each module (`GET /v1/kernels/…/summary`): every blob decoded. */
  'kernel-summary': { kref: KernelRef };
  /** pahole's text of a type in one kernel (`GET /v1/types/{name}?format=pahole`): the kernel's BTF decoded. */
  'type-text': { name: string; kernel: string; all: boolean };
  /**
   * The mirror's files that an older catalog or a pruned blob store lacks, built and recorded: one kernel's
   * tarball or raw BTF (`kref` and `kind`), or every tarball of a selection (`filter`).
   */
  'archive-build': { kref: string; kind: 'tar.xz' | 'btf' } | { filter: { distro?: string; release?: string; arch?: string } };
}

/** What each kind of task answers. */
export interface TaskOutputs {
  diff: string | Record<string, unknown>;
  'vmlinux-h': { bytes: number };
  job: unknown;
  'kernel-summary': Record<string, unknown>;
  'type-text': string;
  'archive-build': null;
}

export type TaskKind = keyof TaskInputs;

/** An error crossing the thread boundary: enough to rebuild a coded error. */
export interface ErrorMessage {
  name: string;
  message: string;
  code?: string;
  suggestions?: string[];
  stack?: string;
}

/** Messages to a thread. */
export type ToThread =
  | { type: 'run'; id: number; kind: TaskKind; input: unknown }
  | { type: 'enqueued'; id: number; call: number; result?: unknown; error?: ErrorMessage };

/** Messages from a thread. */
export type FromThread =
  | { type: 'done'; id: number; result: unknown }
  | { type: 'failed'; id: number; error: ErrorMessage }
  | { type: 'progress'; id: number; pct: number }
  | { type: 'enqueue'; id: number; call: number; name: string; data: unknown };
