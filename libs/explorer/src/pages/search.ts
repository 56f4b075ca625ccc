import { html, query } from '../html.js';
import { cliCommand, kindHref, page } from '../layout.js';
import type { KernelRow } from '../api.js';
import { kernelHref } from './kernels.js';
import { fieldHref } from './field.js';

/** One name of `GET /v1/search`. */
export interface SearchResult {
  name: string;
  kinds: string[];
  kernels: number;
  match: 'exact' | 'prefix' | 'fuzzy';
}

/** The answer of `GET /v1/search`. */
export interface SearchAnswer {
  query: string;
  kinds: string[];
  results: SearchResult[];
}

/** What the search page shows besides the search route's names. */
export interface SearchExtras {
  /** A `STRUCT.MEMBER` path asked for whose struct the catalog knows: offered as a field page. */
  field?: string;
  /** Kernels the search route completes the text to (kind `kernel`). */
  kernels: KernelRow[];
  /** The search route's problem, when the text was one it refuses (too long, bad kind). */
  problem?: string;
}

const KIND_TITLES: Record<string, string> = {
  struct: 'Structs',
  union: 'Unions',
  enum: 'Enums',
  typedef: 'Typedefs',
  func: 'Functions',
  kfunc: 'Kfuncs',
  tracepoint: 'Tracepoints',
  syscall: 'Syscalls',
  enumerator: 'Enumerators',
};

/**
 * `/search?q=TEXT[&kind=K]`: the search route's names grouped by kind (a name with several kinds is under each),
 * each linked to its page, with the field page of a `STRUCT.MEMBER` text and the kernels whose name holds the text.
 */
export function searchPage(q: string, kind: string | undefined, answer: SearchAnswer | undefined, extras: SearchExtras): string {
  // Names only: the page lists field paths and kernels in sections of its own (the completion shows the route's).
  const names = (answer?.results ?? []).filter((r) => r.kinds.some((k) => k in KIND_TITLES));
  const groups = new Map<string, SearchResult[]>();
  for (const r of names) for (const k of r.kinds) if (k in KIND_TITLES) groups.set(k, [...(groups.get(k) ?? []), r]);
  const ordered = Object.keys(KIND_TITLES).filter((k) => groups.has(k));
  const total = names.length + extras.kernels.length + (extras.field ? 1 : 0);
  const body = html`${extras.problem ? html`<p class="problem" role="alert">${extras.problem}</p>` : ''}
${q === '' ? html`<p>Type a name above: a struct, a field path, a function, an enum or enumerator, a tracepoint, a kernel.</p>` : html`<p id="result-count">${total} result${total === 1 ? '' : 's'} for <code>${q}</code>${kind ? html` (${kind} only)` : ''}.</p>`}
${extras.field ? html`<section class="results" aria-labelledby="h-field"><h2 id="h-field">Field path</h2><ul><li><a href="${fieldHref(extras.field)}">${extras.field}</a> (its offset in every kernel)</li></ul></section>` : ''}
${ordered.map((k) => html`<section class="results" aria-labelledby="h-${k}" data-kind="${k}"><h2 id="h-${k}">${KIND_TITLES[k]}</h2><ul>${(groups.get(k) ?? []).map((r) => {
    const href = kindHref(k, r.name);
    const label = html`<span class="name">${r.name}</span>`;
    return html`<li>${href ? html`<a href="${href}">${label}</a>` : label} <span class="muted">${r.kernels} kernel${r.kernels === 1 ? '' : 's'}${r.match === 'fuzzy' ? ', close name' : ''}</span></li>`;
  })}</ul></section>`)}
${extras.kernels.length > 0 ? html`<section class="results" aria-labelledby="h-kernels" data-kind="kernel"><h2 id="h-kernels">Kernels</h2><ul>${extras.kernels.map((k) => html`<li><a href="${kernelHref(k.kernel)}">${k.kernel}</a></li>`)}</ul></section>` : ''}`;
  return page({
    title: q === '' ? 'Search' : `Search: ${q}`,
    q,
    ...(q !== '' ? { json: `/v1/search${query({ q, kind })}`, cli: cliCommand('search', q, ...(kind ? ['--kind', kind] : [])) } : {}),
    body,
  });
}
