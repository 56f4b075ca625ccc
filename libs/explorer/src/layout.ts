import { html, urlPart, type Html } from './html.js';

/**
 * The page of a name of each search kind (`{}` is the name, encoded by urlPart): the search page's links, and the
 * completion's (explorer.js reads this map from the search form's `data-links`, so both link alike). A typedef has
 * no page; an enumerator's is its enum's, which the search page finds (an exact enumerator search redirects).
 */
export const KIND_PAGES: Readonly<Record<string, string>> = {
  struct: '/types/{}',
  union: '/types/{}',
  enum: '/enums/{}',
  func: '/funcs/{}',
  kfunc: '/funcs/{}',
  tracepoint: '/tracepoints/{}',
  syscall: '/syscalls/{}',
  enumerator: '/search?kind=enumerator&q={}',
};

/** The page of NAME as a KIND (undefined for a kind without pages). */
export function kindHref(kind: string, name: string): string | undefined {
  return KIND_PAGES[kind]?.replace('{}', urlPart(name));
}

/** A shell word for a CLI command shown on a page: kept as it is when plain, else single-quoted. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_.,:/+=@%-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `btf-atlas ARG...`, each argument a {@link shellWord}. */
export function cliCommand(...args: (string | undefined)[]): string {
  return ['btf-atlas', ...args.filter((a): a is string => a !== undefined && a !== '').map(shellWord)].join(' ');
}

export interface PageOptions {
  /** The page's own title (the document title is `TITLE · btf-atlas`). */
  title: string;
  /** The page's content, inside `<main>`. */
  body: Html;
  /** The same answer as JSON (a `/v1/…` URL), linked in the page's header. */
  json?: string;
  /** The CLI command that prints the same answer, shown under the title. */
  cli?: string;
  /** Extra stylesheets and scripts of this page (`/assets/NAME`), after the shared ones. */
  styles?: readonly string[];
  scripts?: readonly string[];
  /** The search box's text (the search page keeps what was asked). */
  q?: string;
  /** Focus the search box when the page opens (the start page). */
  autofocus?: boolean;
}

/**
 * The page shell every explorer page shares: a header with the search box (a plain GET form, so it works without
 * JavaScript; explorer.js adds completion), the page's title, its JSON and CLI equivalents, then its content. The
 * colour scheme follows the browser's preference (explorer.css).
 */
export function page(opts: PageOptions): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${opts.title} · btf-atlas</title>
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/explorer.css">
${(opts.styles ?? []).map((s) => html`<link rel="stylesheet" href="${s}">`)}
<script type="module" src="/assets/explorer.js"></script>
${(opts.scripts ?? []).map((s) => html`<script type="module" src="${s}"></script>`)}
</head>
<body>
<header class="site">
<a class="brand" href="/">btf-atlas</a>
<form class="search" role="search" action="/search" method="get" data-links="${JSON.stringify(KIND_PAGES)}">
<label for="q" class="visually-hidden">Search structs, fields, functions, enums, tracepoints, kernels</label>
<input id="q" name="q" type="search" autocomplete="off" spellcheck="false" value="${opts.q ?? ''}"
 placeholder="pt_regs.di, task_struct, sched_switch, 6.12.117…"${opts.autofocus ? html` autofocus` : ''} aria-autocomplete="list" aria-controls="q-suggestions" aria-expanded="false" role="combobox">
<ul id="q-suggestions" role="listbox" aria-label="Suggestions" hidden></ul>
<button type="submit">Search</button>
</form>
<nav aria-label="Sections"><a href="/kernels">Kernels</a> <a href="/lookup">Lookup</a> <a href="/diff">Diff</a> <a href="/core">CO-RE</a> <a href="/docs">API</a></nav>
</header>
<main id="main">
<h1>${opts.title}</h1>
${opts.json || opts.cli ? html`<p class="equivalents">${opts.json ? html`<a href="${opts.json}">JSON</a>` : ''}${opts.cli ? html` <code class="cli">${opts.cli}</code>` : ''}</p>` : ''}
${opts.body}
</main>
</body>
</html>
`.text;
}
