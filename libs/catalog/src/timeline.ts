/**
 * Series, timelines and the words of a history's summary: pure functions over kernels already read.
 *
 * A **series** is one distro/release/arch/flavour: the kernels a distribution ships one after another for one
 * machine kind. A **timeline line** is one arch and one flavour across every distro and release, in kernel
 * version order, with consecutive kernels of equal value merged into spans.
 */

/** What the timeline needs of a kernel. */
export interface TimelineKernel {
  distro: string;
  release: string;
  arch: string;
  unameR: string;
  /** As stored: what follows the version numbers in uname -r (`amd64`, `rt-amd64`, `generic`), '' when none. */
  flavour: string;
}

/** The series of a kernel: `debian/12/x86_64/amd64` (`DISTRO/RELEASE/ARCH/` when uname -r has no flavour). */
export function seriesOf(k: TimelineKernel): string {
  return `${k.distro}/${k.release}/${k.arch}/${k.flavour}`;
}

/** The version of a uname -r without its flavour: `6.1.0-50` of `6.1.0-50-rt-amd64`. */
export function versionOf(k: Pick<TimelineKernel, 'unameR' | 'flavour'>): string {
  const tail = k.flavour === '' ? '' : `-${k.flavour}`;
  return tail !== '' && k.unameR.endsWith(tail) ? k.unameR.slice(0, -tail.length) : k.unameR;
}

/** Compares two runs of decimal digits as numbers, however long. */
function compareDigits(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, '');
  const y = b.replace(/^0+(?=\d)/, '');
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Kernel version order across distros and releases. The numbers of the versions (flavour left out) are compared
 * part by part, whatever separates them: Debian's ABI-numbered `6.1.0-50` (bookworm), its upstream-numbered
 * `6.12.95+deb12` and `6.12.117+deb13` (bookworm's newer kernel, trixie), a backport's `6.1.0-0.deb11.21` and
 * Ubuntu's `5.15.0-91` all read as numbers, so `5.10.0-32` < `6.1.0-0.deb11.21` < `6.1.0-50` < `6.12.95+deb12`
 * < `6.12.117+deb13` < `6.18.44`; a version that is a prefix of another comes first. Equal numbers: the
 * version text, then distro, release (numbers as numbers) and uname -r, so the order is total.
 */
export function compareKernelVersions(a: TimelineKernel, b: TimelineKernel): number {
  const va = versionOf(a);
  const vb = versionOf(b);
  const na = va.match(/\d+/g) ?? [];
  const nb = vb.match(/\d+/g) ?? [];
  for (let i = 0; i < Math.min(na.length, nb.length); i++) {
    const c = compareDigits(na[i], nb[i]);
    if (c !== 0) return c;
  }
  if (na.length !== nb.length) return na.length - nb.length;
  return compareText(va, vb) || compareText(a.distro, b.distro) || compareReleases(a.release, b.release) || compareText(a.unameR, b.unameR);
}

/** Releases in numeric order (`9` < `10` < `22.04`), text otherwise. */
function compareReleases(a: string, b: string): number {
  const na = a.match(/\d+/g) ?? [];
  const nb = b.match(/\d+/g) ?? [];
  for (let i = 0; i < Math.min(na.length, nb.length); i++) {
    const c = compareDigits(na[i], nb[i]);
    if (c !== 0) return c;
  }
  return na.length - nb.length || compareText(a, b);
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

const QUALIFIERS = /^(?:(?:const|volatile) )+/;

/** A type spelling without leading const/volatile. */
function unqualified(type: string): string {
  return type.replace(QUALIFIERS, '');
}

const C_INTEGER = /^(?:(?:signed|unsigned) )?(?:char|short(?: int)?|short unsigned int|int|long(?: long)?(?: int)?|long(?: long)? unsigned int|unsigned|_Bool|bool)$/;
const KERNEL_INTEGER = new RegExp([
  '^(?:__)?[us](?:8|16|32|64|128)$',
  '^(?:__)?(?:le|be)(?:16|32|64)$',
  '^u_?int(?:8|16|32|64)_t$',
  '^int(?:8|16|32|64)_t$',
  '^(?:__kernel_)?(?:s?size|ptrdiff|uintptr|intptr|pid|uid|gid|uid32|gid32|off|loff|time|time64|mode|umode|fmode|dev|ino|clock|clockid|gfp|sector|blkcnt|slab_flags|vm_fault|irq_hw_number|phys_addr|dma_addr|resource_size|netdev_features|u_char|u_short|u_int|u_long)_t$',
  '^enum [A-Za-z_][A-Za-z0-9_]*$',
].join('|'));

/**
 * An integer-ish type spelling: a C integer type (`long unsigned int`, `_Bool`), a kernel fixed-width or `_t`
 * integer typedef (`u32`, `__s64`, `uint8_t`, `pid_t`, `size_t`), or an enum; qualifiers ignored.
 */
export function isIntegerish(type: string): boolean {
  const t = unqualified(type);
  return C_INTEGER.test(t) || KERNEL_INTEGER.test(t);
}

/** What a rename check needs of a member. */
export interface RenameSide {
  name: string;
  bits_offset: number;
  bitfield_size: number;
  size: number;
  type: string;
}

/** `__state` and `state` are related names: one holds the other once leading underscores go. */
function relatedNames(a: string, b: string): boolean {
  const x = a.replace(/^_+/, '').toLowerCase();
  const y = b.replace(/^_+/, '').toLowerCase();
  return x.length > 0 && y.length > 0 && (x.includes(y) || y.includes(x));
}

/**
 * How well `added` could be `removed` renamed (0: not at all). Both must start at the same bit with the same
 * bitfield width, and then: 3 same size and same type spelling (qualifiers aside); 2 same size and both
 * integer-ish; 1 both integer-ish of another size but related names (`volatile long int state` →
 * `unsigned int __state`, Linux 5.14). Related names add 0.5 to the first two, to choose among candidates.
 */
export function renameScore(removed: RenameSide, added: RenameSide): number {
  if (removed.bits_offset !== added.bits_offset || removed.bitfield_size !== added.bitfield_size) return 0;
  if (added.name === '' || removed.name === '') return 0;
  const related = relatedNames(removed.name, added.name);
  const bonus = related ? 0.5 : 0;
  if (removed.size === added.size && unqualified(removed.type) === unqualified(added.type)) return 3 + bonus;
  const ints = isIntegerish(removed.type) && isIntegerish(added.type);
  if (removed.size === added.size && ints) return 2 + bonus;
  if (ints && related) return 1;
  return 0;
}

/** The added member that most probably is `removed` renamed, if any (best score, then first). */
export function probableRename(removed: RenameSide, added: Iterable<RenameSide>): string | undefined {
  let best: RenameSide | undefined;
  let bestScore = 0;
  for (const a of added) {
    const s = renameScore(removed, a);
    if (s > bestScore) {
      best = a;
      bestScore = s;
    }
  }
  return best?.name;
}
