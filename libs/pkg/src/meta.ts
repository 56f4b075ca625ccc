/**
 * Package metadata helpers. Mapping a package to a catalog KREF is the catalog's job; these only read what the
 * package says: a Debian control file, a Debian version, and an architecture in btfhub-archive's spelling.
 */

/** The fields of a Debian control paragraph (deb-control(5)), continuation lines joined with "\n". */
export function parseControl(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let key: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (key !== undefined) break; // end of the first paragraph
      continue;
    }
    if (/^[ \t]/.test(line)) {
      if (key !== undefined) out[key] += `\n${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    key = line.slice(0, colon).trim();
    out[key] = line.slice(colon + 1).trim();
  }
  return out;
}

/** A Debian version split as deb-version(7) does, plus what it says about the Debian release it was built for. */
export interface DebianVersion {
  epoch?: number;
  /** The upstream part (`6.12.43` of `6.12.43-1~bpo12+1`). */
  upstream: string;
  /** The Debian revision (`1~bpo12+1`), when there is one. */
  revision?: string;
  /**
   * The Debian release the version names: `~bpo12` (a backport to 12), `+deb12u1` / `~deb12u1` (a stable update
   * of 12), `+deb13` (a rebuild for 13). Undefined when it names none (a plain sid/testing upload).
   */
  releaseHint?: number;
}

/** Parses a Debian version (`6.12.43-1~bpo12+1`, `6.1.176-1`, `6.12.117-1+deb13u1`, `1:2.3-4`); undefined when malformed. */
export function parseDebianVersion(version: string): DebianVersion | undefined {
  const m = /^(?:(\d+):)?([0-9][A-Za-z0-9.+~:-]*?)(?:-([A-Za-z0-9.+~]+))?$/.exec(version.trim());
  if (!m) return undefined;
  const [, epoch, upstream, revision] = m;
  if (epoch === undefined && upstream.includes(':')) return undefined;
  const out: DebianVersion = { upstream };
  if (epoch !== undefined) out.epoch = Number(epoch);
  if (revision !== undefined) out.revision = revision;
  const hint = /[~+](?:bpo|deb)(\d+)/.exec(revision ?? upstream)?.[1];
  if (hint !== undefined) out.releaseHint = Number(hint);
  return out;
}

/**
 * A package's architecture → btfhub-archive's folder name: Debian (`amd64`, `arm64`, `i386`, `armhf`, `armel`,
 * `ppc64el`, `s390x`, `riscv64`), RPM (`x86_64`, `aarch64`, `i686`, `ppc64le`, `s390x`) and `uname -m` spellings.
 * The same table as the catalog's (libs/catalog kernel-ref.ts ARCH_ALIASES); undefined for `all`/`noarch` and
 * unknown names.
 */
export function btfhubArch(arch: string): string | undefined {
  const a = arch.trim().toLowerCase();
  return Object.hasOwn(ARCHES, a) ? ARCHES[a] : undefined;
}

const ARCHES: Readonly<Record<string, string>> = {
  amd64: 'x86_64',
  x86_64: 'x86_64',
  arm64: 'arm64',
  aarch64: 'arm64',
  i386: 'i386',
  i486: 'i386',
  i586: 'i386',
  i686: 'i386',
  armhf: 'arm',
  armel: 'arm',
  armv7hl: 'arm',
  armv7l: 'arm',
  ppc64el: 'ppc64le',
  ppc64le: 'ppc64le',
  ppc64: 'ppc64',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loongarch64',
  loongarch64: 'loongarch64',
  mips64el: 'mips64',
};

/** The source package and its version from a control file's `Source: linux-signed-amd64 (7.2.13+1)`. */
export function parseSourceField(source: string): { name: string; version?: string } {
  const m = /^(\S+)(?:\s+\(([^)]+)\))?/.exec(source.trim());
  if (!m) return { name: source.trim() };
  return m[2] === undefined ? { name: m[1] } : { name: m[1], version: m[2] };
}
