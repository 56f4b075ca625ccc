import { html } from '../html.js';
import { page } from '../layout.js';
import type { ApiProblem } from '../api.js';

/**
 * The page of an API problem (unknown kernel, type, field…): its title and detail, and the names it suggests,
 * each linked by `hrefOf` (default: a search for it). Served with the problem's own status code.
 */
export function problemPage(problem: ApiProblem, hrefOf: (suggestion: string) => string = (s) => `/search?q=${encodeURIComponent(s)}`): string {
  const suggestions = Array.isArray(problem.suggestions) ? (problem.suggestions as unknown[]).map(String) : [];
  return page({
    title: problem.title,
    body: html`<p class="problem" role="alert">${problem.detail}</p>
${suggestions.length > 0 ? html`<p id="suggestions">Did you mean: ${suggestions.map((s, i) => html`${i > 0 ? ', ' : ''}<a href="${hrefOf(s)}">${s}</a>`)}?</p>` : ''}`,
  });
}
