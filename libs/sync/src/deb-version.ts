/**
 * Debian package version order (Debian Policy §5.6.12): `[epoch:]upstream_version[-debian_revision]`, the epoch
 * compared as a number, then the upstream version and the revision each by the "non-digits, then digits" rule:
 * in a non-digit run `~` sorts before anything (even the end), then the end, then letters, then other characters;
 * digit runs compare as numbers.
 */
export function compareDebVersions(a: string, b: string): number {
  const pa = split(a);
  const pb = split(b);
  if (pa.epoch !== pb.epoch) return pa.epoch < pb.epoch ? -1 : 1;
  return compareParts(pa.upstream, pb.upstream) || compareParts(pa.revision, pb.revision);
}

function split(v: string): { epoch: number; upstream: string; revision: string } {
  const colon = v.indexOf(':');
  const epochText = colon >= 0 ? v.slice(0, colon) : '';
  const epoch = /^\d+$/.test(epochText) ? Number(epochText) : 0;
  const rest = colon >= 0 ? v.slice(colon + 1) : v;
  const dash = rest.lastIndexOf('-');
  return dash >= 0 ? { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) } : { epoch, upstream: rest, revision: '' };
}

/** Weight of one character of a non-digit run; the end of the run weighs 0. */
function weight(ch: string | undefined): number {
  if (ch === undefined) return 0;
  if (ch === '~') return -1;
  const c = ch.charCodeAt(0);
  if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return c;
  return c + 0x100;
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= '0' && ch <= '9';
}

function compareParts(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    // Non-digit run, character by character.
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const wa = isDigit(a[i]) ? 0 : weight(a[i]);
      const wb = isDigit(b[j]) ? 0 : weight(b[j]);
      if (wa !== wb) return wa < wb ? -1 : 1;
      i++;
      j++;
    }
    // Digit run, as a number (leading zeros ignored; compared by length first so any size works).
    let sa = i;
    while (a[sa] === '0') sa++;
    let ea = sa;
    while (isDigit(a[ea])) ea++;
    let sb = j;
    while (b[sb] === '0') sb++;
    let eb = sb;
    while (isDigit(b[eb])) eb++;
    const da = a.slice(sa, ea);
    const db = b.slice(sb, eb);
    if (da.length !== db.length) return da.length < db.length ? -1 : 1;
    if (da !== db) return da < db ? -1 : 1;
    i = ea;
    j = eb;
  }
  return 0;
}
