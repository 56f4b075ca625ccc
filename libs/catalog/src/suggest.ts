/** Rows of the edit-distance table, reused across calls (grown as needed). */
let prevRow = new Int32Array(64);
let curRow = new Int32Array(64);

/**
 * Levenshtein distance, capped: returns `cap + 1` as soon as the distance must exceed `cap`. Only the diagonal
 * band of width 2·cap + 1 is computed (a cell farther from the diagonal is more than `cap` edits away), so a
 * small cap costs O(length · cap) whatever the strings.
 */
export function editDistance(a: string, b: string, cap = 64): number {
  const n = a.length;
  const m = b.length;
  if (Math.abs(n - m) > cap) return cap + 1;
  if (prevRow.length < m + 1) {
    prevRow = new Int32Array(m + 1);
    curRow = new Int32Array(m + 1);
  }
  let prev = prevRow;
  let cur = curRow;
  const over = cap + 1;
  for (let j = 0; j <= m; j++) prev[j] = j <= cap ? j : over;
  for (let i = 1; i <= n; i++) {
    const lo = Math.max(1, i - cap);
    const hi = Math.min(m, i + cap);
    cur[lo - 1] = lo - 1 === 0 ? (i <= cap ? i : over) : over;
    let best = cur[lo - 1];
    const ca = a.charCodeAt(i - 1);
    for (let j = lo; j <= hi; j++) {
      const sub = prev[j - 1] + (ca === b.charCodeAt(j - 1) ? 0 : 1);
      const del = prev[j] + 1;
      const ins = cur[j - 1] + 1;
      let v = sub < del ? sub : del;
      if (ins < v) v = ins;
      if (v > over) v = over;
      cur[j] = v;
      if (v < best) best = v;
    }
    if (hi < m) cur[hi + 1] = over;
    if (best > cap) return over;
    const t = prev;
    prev = cur;
    cur = t;
  }
  return prev[m] > cap ? over : prev[m];
}

/**
 * The names closest to `query` (`sk_buf` → `sk_buff`): by edit distance, then names that contain the query or
 * that it contains; at most `n`, nearest first. Only names within a distance that scales with the query's length.
 */
export function closestNames(query: string, names: Iterable<string>, n = 5): string[] {
  const cap = Math.max(2, Math.floor(query.length / 3));
  const q = query.toLowerCase();
  const scored: { name: string; score: number }[] = [];
  for (const name of names) {
    const lower = name.toLowerCase();
    let score = editDistance(q, lower, cap);
    if (score > cap && q.length >= 3 && (lower.includes(q) || q.includes(lower))) score = cap + 0.5 + Math.abs(lower.length - q.length) / 1000;
    if (score <= cap + 0.9) scored.push({ name, score });
  }
  scored.sort((x, y) => x.score - y.score || (x.name < y.name ? -1 : 1));
  return [...new Set(scored.map((s) => s.name))].slice(0, n);
}
