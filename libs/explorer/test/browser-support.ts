import { accessSync, constants, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where the browser tests keep their screenshots (gitignored; CI can upload the folder). */
export const ARTIFACTS = join(REPO, 'test-artifacts/explorer');

/**
 * Chromium's flags: headless, and none of the background traffic (safe browsing, component updates, sync, QUIC
 * probes) a fresh profile starts, which a machine without internet answers with refused connections.
 */
export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The chromium to drive: CHROMIUM_PATH, else Debian's `chromium` package. Missing: undefined with a warning (the
 * browser tests are skipped), except under CI (.ci/run installs chromium), where its absence fails the run.
 */
export function chromiumFor(what: string): string | undefined {
  const candidates = process.env.CHROMIUM_PATH ? [process.env.CHROMIUM_PATH] : ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find(executable);
  if (found === undefined) {
    if (process.env.CI) throw new Error(`CI needs chromium (apt-get install chromium, or set CHROMIUM_PATH) for ${what}`);
    console.warn(`chromium not found (${candidates.join(', ')}): skipping ${what} (apt-get install chromium, or set CHROMIUM_PATH)`);
  }
  return found;
}

/** Chromium, headless, on a fresh temporary profile (playwright's launch makes one and removes it on close). */
export async function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_FLAGS, timeout: 60_000 });
}

/** The tallest screenshot kept, in CSS pixels: a diff page is 200 rows long, and pixels cost time to encode. */
const SCREENSHOT_MAX_HEIGHT = 4000;

/**
 * A screenshot of `page` as `test-artifacts/explorer/NAME.png`: the whole page (its first
 * {@link SCREENSHOT_MAX_HEIGHT} pixels), or what the viewport shows.
 */
export async function screenshot(page: Page, name: string, fullPage = true): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  if (!fullPage) {
    await page.screenshot({ path });
    return path;
  }
  const { width, height } = await page.evaluate(() => ({ width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight }));
  await page.screenshot({ path, fullPage: true, clip: { x: 0, y: 0, width, height: Math.min(height, SCREENSHOT_MAX_HEIGHT) } });
  return path;
}

/**
 * axe-core's browser build. Give it to a context once (`context.addInitScript({ path: AXE_SCRIPT })`: every page
 * of the context then has it, without sending its 500 KB per page); {@link seriousViolations} adds it to a page
 * that lacks it.
 */
export const AXE_SCRIPT = join(dirname(createRequire(import.meta.url).resolve('axe-core')), 'axe.min.js');

interface AxeNode {
  target: unknown[];
  html: string;
  failureSummary?: string;
}
interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: AxeNode[];
}

/**
 * The serious and critical accessibility violations axe-core finds on the page as it is now, one readable block
 * each (the rule, its help text and up to five nodes with their selector, markup and why), ready for a failure
 * message; empty when there are none. `exclude`: CSS selectors of parts left out (the rows of a long table after
 * its first ones, which repeat the same markup and would only make the check slower).
 */
export async function seriousViolations(page: Page, exclude: readonly string[] = []): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE_SCRIPT });
  const violations = await page.evaluate(async (exclude) => {
    const axe = (window as unknown as { axe: { run: (ctx: object, opts: object) => Promise<{ violations: unknown[] }> } }).axe;
    const context = exclude.length > 0 ? { include: [['html']], exclude: exclude.map((s) => [s]) } : { include: [['html']] };
    const result = await axe.run(context, { resultTypes: ['violations'] });
    return result.violations;
  }, exclude) as AxeViolation[];
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => {
      const nodes = v.nodes.slice(0, 5).map((n) => `    ${n.target.join(' ')}: ${n.html.slice(0, 200)}${n.failureSummary ? `\n      ${n.failureSummary.replace(/\n/g, '\n      ')}` : ''}`);
      const more = v.nodes.length > 5 ? `\n    … and ${v.nodes.length - 5} more` : '';
      return `${v.impact} ${v.id}: ${v.help} (${v.nodes.length} node(s))\n${nodes.join('\n')}${more}`;
    });
}

/** Whether the page is wider than its viewport (a phone would have to scroll sideways to read it). */
export async function horizontalOverflow(page: Page): Promise<{ scrollWidth: number; clientWidth: number; widest?: string }> {
  return page.evaluate(() => {
    const root = document.documentElement;
    const clientWidth = root.clientWidth;
    let widest: string | undefined;
    if (root.scrollWidth > clientWidth) {
      // Name the first element sticking out of the page (not one inside a scrolling box), for the failure message.
      const clipped = (el: Element): boolean => {
        for (let p = el.parentElement; p !== null && p !== document.body; p = p.parentElement) {
          if (getComputedStyle(p).overflowX !== 'visible') return true;
        }
        return false;
      };
      for (const el of Array.from(document.body.querySelectorAll('*'))) {
        const r = el.getBoundingClientRect();
        if (r.right > clientWidth + 1 && !clipped(el)) {
          widest = `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.split(/\s+/).join('.')}` : ''} (right edge ${Math.round(r.right)} px)`;
          break;
        }
      }
    }
    return { scrollWidth: root.scrollWidth, clientWidth, widest };
  });
}
