import { html, krefPath, query, type Html } from '../html.js';
import { cliCommand, page } from '../layout.js';
import type { KernelRow } from '../api.js';

/** A selection of kernels, as the history and list routes take it (`?arch=&distro=&release=`). */
export interface Selection {
  arch?: string;
  distro?: string;
  release?: string;
}

/** The selection's values that are set, as CLI flags. */
export function selectionFlags(sel: Selection): string[] {
  const out: string[] = [];
  if (sel.arch) out.push('--arch', sel.arch);
  if (sel.distro) out.push('--distro', sel.distro);
  if (sel.release) out.push('--release', sel.release);
  return out;
}

function distinct(values: string[]): string[] {
  return [...new Set(values)].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

function choice(name: keyof Selection, label: string, values: string[], current: string | undefined): Html {
  const options = current && !values.includes(current) ? [...values, current] : values;
  return html`<label>${label} <select name="${name}" id="sel-${name}"><option value="">any</option>${options.map((v) => html`<option${v === current ? ' selected' : ''}>${v}</option>`)}</select></label>`;
}

/**
 * A GET form choosing the kernels of a page (arch, distro, release: the values the catalog has), submitted to
 * `action`; `hidden` keeps the page's other parameters.
 */
export function selectionForm(action: string, kernels: readonly KernelRow[], sel: Selection, hidden: Record<string, string> = {}): Html {
  return html`<form class="selection" method="get" action="${action}" aria-label="Kernels shown">
${Object.entries(hidden).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
${choice('arch', 'Arch', distinct(kernels.map((k) => k.arch)), sel.arch)}
${choice('distro', 'Distro', distinct(kernels.map((k) => k.distro)), sel.distro)}
${choice('release', 'Release', distinct(kernels.map((k) => k.release)), sel.release)}
<button type="submit">Show</button>
</form>`;
}

/** The page link of a kernel. */
export function kernelHref(kref: string): string {
  return `/kernels/${krefPath(kref)}`;
}

/**
 * `/kernels`: the catalog's kernels in kernel order (the answer of `GET /v1/kernels` with the same filters), each
 * linked to its page, with failed ingests and their reasons; the filter form and the BTF lookup form above.
 */
export function kernelsPage(kernels: readonly KernelRow[], all: readonly KernelRow[], sel: Selection, lookupForm: Html): string {
  const rows = kernels.map((k) => html`<tr>
<td><a href="${kernelHref(k.kernel)}">${k.uname_r}</a></td><td>${k.distro}</td><td>${k.release}</td><td>${k.arch}</td>
<td>${k.state === 'failed' ? html`<span class="bad">failed</span>` : 'ingested'}</td><td class="num">${k.types ?? ''}</td></tr>`);
  return page({
    title: 'Kernels',
    json: `/v1/kernels${query({ distro: sel.distro, release: sel.release, arch: sel.arch })}`,
    cli: cliCommand('kernels', ...selectionFlags(sel)),
    body: html`${selectionForm('/kernels', all, sel)}
<p id="kernel-count">${kernels.length} kernel${kernels.length === 1 ? '' : 's'}${kernels.length !== all.length ? html` of ${all.length}` : ''}.</p>
<div class="table-wrap" tabindex="0" role="region" aria-label="Kernels"><table id="kernels">
<caption class="visually-hidden">Kernels in kernel order</caption>
<thead><tr><th scope="col">uname -r</th><th scope="col">Distro</th><th scope="col">Release</th><th scope="col">Arch</th><th scope="col">State</th><th scope="col">BTF types</th></tr></thead>
<tbody>${rows}</tbody></table></div>
<h2 id="lookup">Find the BTF of a machine</h2>
${lookupForm}`,
  });
}
