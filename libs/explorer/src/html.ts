/**
 * HTML built from tagged templates: every interpolated value is escaped unless it is already {@link Html} (the
 * result of another `html` template or of {@link raw}). Arrays are joined; `null`, `undefined` and `false` render
 * nothing, so `${cond && html`…`}` works.
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type HtmlValue = Html | string | number | bigint | boolean | null | undefined | readonly HtmlValue[];

const SPECIAL = /[&<>"']/;
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return SPECIAL.test(text) ? text.replace(/[&<>"']/g, (c) => ESCAPES[c]) : text;
}

function render(value: HtmlValue): string {
  if (value instanceof Html) return value.text;
  if (value === null || value === undefined || value === false || value === true) return '';
  if (Array.isArray(value)) return (value as readonly HtmlValue[]).map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** Markup that is trusted as it is (made by this package, never from a request or the catalog). */
export function raw(text: string): Html {
  return new Html(text);
}

/** A path segment or query value for a link: `encodeURIComponent`, but `+` (in Debian's kernel names) kept readable. */
export function urlPart(text: string): string {
  return encodeURIComponent(text).replace(/%2B/g, '+');
}

/** A query value for a link: {@link urlPart}, with `/` kept too (KREFs read as themselves: `?kernel=debian/12/…`). */
export function queryPart(text: string): string {
  return urlPart(text).replace(/%2F/g, '/');
}

/** A query string from the defined, non-empty values, in the order given. */
export function query(params: Record<string, string | number | undefined>): string {
  const parts = Object.entries(params)
    .filter((e): e is [string, string | number] => e[1] !== undefined && e[1] !== '')
    .map(([k, v]) => `${k}=${queryPart(String(v))}`);
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

/** A KREF (`debian/13/x86_64/6.12.117+deb13-amd64`) as path segments for a link, each one encoded by {@link urlPart}. */
export function krefPath(kref: string): string {
  return kref.split('/').map(urlPart).join('/');
}

/** The uname -r of a KREF (its last segment). */
export function unameOf(kref: string): string {
  return kref.slice(kref.lastIndexOf('/') + 1);
}
