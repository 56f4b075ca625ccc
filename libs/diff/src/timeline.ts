import { compareKernelVersions, versionOf, type TimelineKernel } from '@btf-atlas/catalog/read';

/**
 * Timelines and the words of a history's summary: pure functions over kernels already read. A **timeline line**
 * is one arch and one flavour across every distro and release, in kernel version order (catalog kernel-order.ts),
 * with consecutive kernels of equal value merged into spans.
 */

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Consecutive kernels of a line with one value. */
export interface TimelineSpan<V> {
  first: string;
  last: string;
  count: number;
  value: V;
}

/** Consecutive kernels of a flavour's line whose value differs from the main flavour's at the same version. */
export interface TimelineDifference<V> {
  first: string;
  last: string;
  count: number;
  value: V;
  /** The main flavour's value at those versions. */
  main_value: V;
}

/** One arch and one flavour across every distro and release of the answer. */
export interface TimelineLine<V> {
  arch: string;
  flavour: string;
  /** True for the arch's main flavour (the flavour with the most kernels of that arch in the answer). */
  main: boolean;
  /** How many kernels the line holds. */
  kernels: number;
  spans: TimelineSpan<V>[];
  /**
   * Other flavours only: how many of the line's kernels have a main-flavour kernel of the same distro, release
   * and version (`6.1.0-50-rt-amd64` ↔ `6.1.0-50-amd64`) to compare with…
   */
  compared_with_main?: number;
  /** …and the runs of those whose value differs from it (empty when none does). */
  differs_from_main?: TimelineDifference<V>[];
}

/** A kernel of an answer, its KREF and its value. */
export interface TimelineItem<V> {
  row: TimelineKernel;
  kernel: string;
  value: V;
}

/**
 * The timeline of an answer: lines per arch (arches with more kernels first, then by name), the main flavour of
 * each arch first, then the other flavours (more kernels first, then by name). Values are equal when their JSON
 * is (values are small objects built in one key order).
 */
export function buildTimeline<V>(items: TimelineItem<V>[]): TimelineLine<V>[] {
  const byArch = new Map<string, Map<string, TimelineItem<V>[]>>();
  for (const it of items) {
    let flavours = byArch.get(it.row.arch);
    if (!flavours) byArch.set(it.row.arch, (flavours = new Map()));
    let list = flavours.get(it.row.flavour);
    if (!list) flavours.set(it.row.flavour, (list = []));
    list.push(it);
  }
  const archCount = (m: Map<string, TimelineItem<V>[]>): number => [...m.values()].reduce((n, l) => n + l.length, 0);
  const arches = [...byArch.entries()].sort((a, b) => archCount(b[1]) - archCount(a[1]) || compareText(a[0], b[0]));
  const keyOf = new Map<V, string>();
  const key = (v: V): string => {
    let k = keyOf.get(v);
    if (k === undefined) keyOf.set(v, (k = JSON.stringify(v)));
    return k;
  };
  const lines: TimelineLine<V>[] = [];
  for (const [arch, flavours] of arches) {
    const ordered = [...flavours.entries()].sort((a, b) => b[1].length - a[1].length || compareText(a[0], b[0]));
    const mainAt = new Map<string, TimelineItem<V>>();
    ordered.forEach(([flavour, list], i) => {
      list.sort((a, b) => compareKernelVersions(a.row, b.row));
      const line: TimelineLine<V> = { arch, flavour, main: i === 0, kernels: list.length, spans: spansOf(list, key) };
      if (i === 0) {
        for (const it of list) mainAt.set(counterpartKey(it.row), it);
      } else {
        let compared = 0;
        const differs: TimelineDifference<V>[] = [];
        let open: TimelineDifference<V> | undefined;
        for (const it of list) {
          const m = mainAt.get(counterpartKey(it.row));
          if (!m) {
            open = undefined;
            continue;
          }
          compared++;
          if (key(m.value) === key(it.value)) {
            open = undefined;
            continue;
          }
          if (open && key(open.value) === key(it.value) && key(open.main_value) === key(m.value)) {
            open.last = it.kernel;
            open.count++;
          } else {
            open = { first: it.kernel, last: it.kernel, count: 1, value: it.value, main_value: m.value };
            differs.push(open);
          }
        }
        line.compared_with_main = compared;
        line.differs_from_main = differs;
      }
      lines.push(line);
    });
  }
  return lines;
}

/** Where a kernel of another flavour meets the main line: same distro, release and version. */
function counterpartKey(k: TimelineKernel): string {
  return `${k.distro}/${k.release}/${versionOf(k)}`;
}

function spansOf<V>(list: TimelineItem<V>[], key: (v: V) => string): TimelineSpan<V>[] {
  const spans: TimelineSpan<V>[] = [];
  let open: TimelineSpan<V> | undefined;
  for (const it of list) {
    if (open && key(open.value) === key(it.value)) {
      open.last = it.kernel;
      open.count++;
    } else {
      open = { first: it.kernel, last: it.kernel, count: 1, value: it.value };
      spans.push(open);
    }
  }
  return spans;
}

/** The uname -r of a KREF. */
export function unameOfKref(kref: string): string {
  return kref.slice(kref.lastIndexOf('/') + 1);
}

/** `at U` for one kernel, `from U1 to U2` for several. */
export function spanRange(s: { first: string; last: string; count: number }): string {
  return s.count === 1 ? `at ${unameOfKref(s.first)}` : `from ${unameOfKref(s.first)} to ${unameOfKref(s.last)}`;
}

/**
 * The summary sentence of a timeline: `SUBJECT on ARCH: SPAN, SPAN; ARCH2: SPAN; FLAVOUR differs: …`, where
 * `describe` words one span of a main line (given the span before it in the line), and `words` a value.
 * Flavours whose name more than one arch uses are named `FLAVOUR on ARCH`.
 */
export function timelineSummary<V>(
  subject: string,
  lines: TimelineLine<V>[],
  describe: (span: TimelineSpan<V>, prev: TimelineSpan<V> | undefined, line: TimelineLine<V>) => string,
  words: (value: V, line: TimelineLine<V>) => string,
): string {
  if (lines.length === 0) return `${subject}: no kernels in the selection`;
  const parts: string[] = [];
  for (const line of lines) {
    if (!line.main) continue;
    const spans = line.spans.map((s, i) => describe(s, i > 0 ? line.spans[i - 1] : undefined, line)).join(', ');
    parts.push(parts.length === 0 ? `${subject} on ${line.arch}: ${spans}` : `${line.arch}: ${spans}`);
  }
  const flavourArches = new Map<string, number>();
  for (const line of lines) flavourArches.set(line.flavour, (flavourArches.get(line.flavour) ?? 0) + 1);
  for (const line of lines) {
    if (line.main || !line.differs_from_main || line.differs_from_main.length === 0) continue;
    const name = (line.flavour || '(no flavour)') + ((flavourArches.get(line.flavour) ?? 0) > 1 ? ` on ${line.arch}` : '');
    parts.push(`${name} differs: ${line.differs_from_main.map((d) => `${words(d.value, line)} ${spanRange(d)}`).join(', ')}`);
  }
  return parts.join('; ');
}
