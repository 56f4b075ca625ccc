import type { FastifyReply } from 'fastify';
import type { ApiAnswer, ApiProblem } from '../api.js';
import { html, krefPath, query, unameOf, urlPart, type Html } from '../html.js';
import { problemPage } from './problem.js';

/** Pieces the compare pages share: query values, kernel links, problem answers, and the HTML reply. */

/** A query string's values as the app's parser gives them: a string, or an array for a repeated key. */
export type QueryValues = Record<string, string | string[] | undefined>;

/**
 * One parameter of a page's query: repeated keys (checkboxes of a GET form) and comma-separated lists alike become
 * one comma-separated list, so `?severity=breaking&severity=layout` and `?severity=breaking,layout` are the same view.
 */
export function listParam(q: QueryValues, key: string): string | undefined {
  const v = q[key];
  const parts = (Array.isArray(v) ? v : v === undefined ? [] : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  return parts.length === 0 ? undefined : [...new Set(parts)].join(',');
}

/** A single-valued parameter (the last one when repeated); undefined when absent or empty. */
export function oneParam(q: QueryValues, key: string): string | undefined {
  const v = q[key];
  const s = Array.isArray(v) ? v[v.length - 1] : v;
  return s === undefined || s.trim() === '' ? undefined : s.trim();
}

/** Sends a page. */
export function sendHtml(reply: FastifyReply, body: string, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(body);
}

/** Sends the page of an API problem with its status; `hrefOf` links its suggested names (default: a search). */
export function sendProblem(reply: FastifyReply, problem: ApiProblem, status = problem.status, hrefOf?: (name: string) => string): FastifyReply {
  return sendHtml(reply, problemPage(problem, hrefOf), status);
}

/** A problem the page itself finds (a bad page number, a missing upload), worded as the API words its own. */
export function pageProblem(status: number, title: string, detail: string): ApiProblem {
  return { type: 'about:blank', title, status, detail };
}

/**
 * The answer's body, or the problem page sent; `undefined` tells the route it has answered. `hrefOf` links the
 * names the problem suggests (close names, or the nearest KREFs of an unknown kernel: its `code` tells which).
 */
export function bodyOr<T>(reply: FastifyReply, answer: ApiAnswer<T>, hrefOf?: (suggestion: string, problem: ApiProblem) => string): T | undefined {
  if (answer.ok) return answer.body;
  const problem = answer.problem;
  sendProblem(reply, problem, answer.status, hrefOf && ((s) => hrefOf(s, problem)));
  return undefined;
}

/** `/kernels/DISTRO/RELEASE/ARCH/UNAME_R` (each segment encoded). */
export function kernelHref(kref: string): string {
  return `/kernels/${krefPath(kref)}`;
}

/** A kernel as a link to its page, its uname -r shown and the KREF in its title. */
export function kernelLink(kref: string, text = unameOf(kref)): Html {
  return html`<a href="${kernelHref(kref)}" title="${kref}">${text}</a>`;
}

/** The href of a name's page under a path (`/funcs/NAME`, …), with query parameters (`kernel`) when given. */
export function namedHref(plural: string, name: string, params: Record<string, string | undefined> = {}): string {
  return `/${plural}/${urlPart(name)}${query(params)}`;
}

/** A table inside the scrolling wrapper narrow screens need, with its caption. */
export function table(id: string, caption: Html | string, head: readonly string[], rows: readonly Html[]): Html {
  return html`<div class="table-wrap"><table id="${id}">
<caption>${caption}</caption>
<thead><tr>${head.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead>
<tbody>
${rows}
</tbody>
</table></div>`;
}

/** A declaration of a name with a C type: `int flags`, `struct sock *sk` (no space after a pointer's `*`). */
export function declText(type: string, name: string): string {
  if (name === '') return type;
  return type.endsWith('*') ? `${type}${name}` : `${type} ${name}`;
}
