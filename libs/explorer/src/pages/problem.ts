import { html } from '../html.js';
import { page } from '../layout.js';
import type { ApiProblem } from '../api.js';

/** The page of an API problem (unknown kernel, type, field…): its title and detail, and the names it suggests. */
export function problemPage(problem: ApiProblem): string {
  const suggestions = Array.isArray(problem.suggestions) ? (problem.suggestions as unknown[]).map(String) : [];
  return page({
    title: problem.title,
    body: html`<p class="problem" role="alert">${problem.detail}</p>
${suggestions.length > 0 ? html`<p>Did you mean: ${suggestions.map((s, i) => html`${i > 0 ? ', ' : ''}<a href="/search?q=${encodeURIComponent(s)}">${s}</a>`)}?</p>` : ''}`,
  });
}
