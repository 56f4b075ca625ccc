import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const DOCS = ['README.md', 'docs/CONTRACT.md'];

/**
 * The relative paths a markdown file points at: targets of `[text](target)` links that are not URLs or anchors,
 * and code spans that are paths out of their folder (`../x/README.md`), outside fenced code blocks.
 */
function relativeTargets(markdown: string): string[] {
  const text = markdown.replace(/^```[\s\S]*?^```/gm, '');
  const out: string[] = [];
  for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    const target = m[1];
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
    out.push(decodeURI(target.split('#')[0]));
  }
  for (const m of text.matchAll(/`(\.\.\/[^`\s]+)`/g)) out.push(m[1]);
  return out;
}

describe('relative links of the docs resolve inside the repo', () => {
  it('finds links and relative code spans', () => {
    expect(relativeTargets('[a](docs/X.md) [b](https://x.org/y) [c](#top) [d](../y.md#part) `../z/README.md` `a/b`\n```\n[e](nope.md)\n```\n'))
      .toEqual(['docs/X.md', '../y.md', '../z/README.md']);
  });

  for (const doc of DOCS) {
    it(doc, () => {
      const file = join(REPO, doc);
      const targets = relativeTargets(readFileSync(file, 'utf8'));
      const broken = targets.filter((t) => {
        const abs = resolve(dirname(file), t);
        const rel = relative(REPO, abs);
        return rel.startsWith(`..${sep}`) || rel === '..' || !existsSync(abs);
      });
      expect(broken).toEqual([]);
    });
  }
});
