/** Levenshtein distance, capped: returns `cap + 1` as soon as the distance must exceed `cap`. */
export function editDistance(a: string, b: string, cap = 64): number {
  if (Math.abs(a.length - b.length) > cap) return cap + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      cur.push(v);
      if (v < best) best = v;
    }
    if (best > cap) return cap + 1;
    prev = cur;
  }
  return prev[b.length];
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
