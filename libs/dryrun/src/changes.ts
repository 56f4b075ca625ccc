/**
 * Where a program's verdict changes: between neighbours in kernel order within each series (distro/release/arch/
 * flavour, as the catalog's histories compare them), and along the timeline lines (one arch and flavour across
 * distros and releases, the histories' `timeline`), with the words users read first:
 * `kp_mm_cid: breaks until 6.1.0-50-amd64, ok from 6.12.95+deb12-amd64`.
 */
import { buildTimeline, neighbourChanges, spanRange, timelineSummary, unameOfKref, type TimelineItem } from '@btf-atlas/diff';
import type { Verdict } from '@btf-atlas/core';
import type { KernelCheckJson, ProgramTimelineJson, VerdictChangeJson } from './answer.js';
import type { SelectedKernel } from './selection.js';

/** The verdict of `program` in a kernel entry; undefined when the program is not there. */
function verdictOf(entry: KernelCheckJson, program: string): Verdict | undefined {
  return entry.programs.find((p) => p.name === program)?.verdict;
}

/** The change sentence: `PROGRAM: BEFORE until UNAME_A, AFTER from UNAME_B`. */
export function changeText(program: string, before: Verdict, after: Verdict, from: string, to: string): string {
  return `${program}: ${before} until ${unameOfKref(from)}, ${after} from ${unameOfKref(to)}`;
}

/**
 * Every program's verdict changes between neighbours of each series. `kernels` and `entries` are parallel and in
 * kernel order (as {@link selectKernels} gives them).
 */
export function verdictChanges(programs: readonly string[], kernels: readonly SelectedKernel[], entries: readonly KernelCheckJson[]): VerdictChangeJson[] {
  const rows = kernels.map((k) => k.row);
  const out: VerdictChangeJson[] = [];
  for (const program of programs) {
    const found = neighbourChanges(rows, entries, (i, j) => {
      const before = verdictOf(entries[i], program);
      const after = verdictOf(entries[j], program);
      if (before === undefined || after === undefined || before === after) return [];
      return [{ program, before: { verdict: before }, after: { verdict: after } }];
    });
    for (const c of found) out.push({ ...c, text: changeText(program, c.before.verdict, c.after.verdict, c.from, c.to) });
  }
  return out;
}

/** Each program's verdicts along the timeline lines, and the summary sentence of its main lines. */
export function verdictTimelines(programs: readonly string[], kernels: readonly SelectedKernel[], entries: readonly KernelCheckJson[]): ProgramTimelineJson[] {
  return programs.map((program) => {
    const items: TimelineItem<{ verdict: Verdict }>[] = [];
    kernels.forEach((k, i) => {
      const verdict = verdictOf(entries[i], program);
      if (verdict !== undefined) items.push({ row: k.row, kernel: k.kernel, value: { verdict } });
    });
    const lines = buildTimeline(items);
    const summary = timelineSummary(program, lines, (span) => `${span.value.verdict} ${spanRange(span)}`, (v) => v.verdict);
    return {
      program,
      timeline: lines.map((l) => ({ arch: l.arch, flavour: l.flavour, main: l.main, kernels: l.kernels, spans: l.spans })),
      summary,
    };
  });
}
