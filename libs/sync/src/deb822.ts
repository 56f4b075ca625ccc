import { SyncError, SyncErrorCode } from './errors.js';

/**
 * One deb822 paragraph ("stanza"): field names are case-insensitive (Debian Policy §5.1), so keys are stored
 * lowercased. A value keeps its continuation lines, each on its own line with the leading whitespace removed;
 * a continuation line of a lone `.` stands for an empty line.
 */
export type Stanza = Map<string, string>;

/** Options of {@link parseDeb822}. */
export interface Deb822Options {
  /** Skip lines starting with `#` (allowed in apt's .sources files, not in archive indexes). */
  comments?: boolean;
  /** Named in error messages: the URL or file the text came from. */
  source?: string;
}

/**
 * Parses deb822 text (Debian Policy §5.1 control-file syntax, the format of Release, Packages and apt's .sources
 * files): paragraphs separated by blank lines, `Name: value` fields, continuation lines starting with a space or tab.
 * Throws SYNC_BAD_INDEX naming the line for a line that is neither.
 */
export function parseDeb822(text: string, options: Deb822Options = {}): Stanza[] {
  const stanzas: Stanza[] = [];
  let current: Stanza | undefined;
  let lastKey: string | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (options.comments && line.startsWith('#')) continue;
    if (line.trim() === '') {
      current = undefined;
      lastKey = undefined;
      continue;
    }
    if (line[0] === ' ' || line[0] === '\t') {
      if (current === undefined) throw badLine(options.source, i, 'continuation line outside a field');
      if (lastKey === undefined) continue; // continuation of an ignored repeated field
      const more = line.trim();
      const prev = current.get(lastKey) ?? '';
      current.set(lastKey, prev === '' ? (more === '.' ? '' : more) : `${prev}\n${more === '.' ? '' : more}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw badLine(options.source, i, 'line is not "Field: value"');
    const key = line.slice(0, colon).trim().toLowerCase();
    if (key === '' || /\s/.test(key)) throw badLine(options.source, i, 'field name has spaces');
    if (current === undefined) {
      current = new Map();
      stanzas.push(current);
    }
    // A repeated field is against policy; like apt, keep the first and ignore the repeat (and its continuations).
    if (current.has(key)) {
      lastKey = undefined;
      continue;
    }
    current.set(key, line.slice(colon + 1).trim());
    lastKey = key;
  }
  return stanzas;
}

function badLine(source: string | undefined, index: number, why: string): SyncError {
  return new SyncError(SyncErrorCode.BadIndex, `${source ?? 'deb822 text'}: line ${index + 1}: ${why}`);
}

/** A field's value as whitespace-separated words (Architectures, Components, Suites, URIs). */
export function words(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(/\s+/).filter((w) => w !== '');
}
