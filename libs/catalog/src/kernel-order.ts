/**
 * Kernel order and series: how every answer over many kernels sorts them and groups them. A **series** is one
 * distro/release/arch/flavour: the kernels a distribution ships one after another for one machine kind.
 */

/** What kernel order and series need of a kernel. */
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
