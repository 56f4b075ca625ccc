import { html, type Html } from '../html.js';
import { page } from '../layout.js';
import type { ApiProblem } from '../api.js';
import { downloads } from './kernel.js';
import { kernelHref } from './kernels.js';

/** What the lookup form sends (the body of `POST /v1/btf/lookup`). */
export interface LookupInput {
  os_release: string;
  uname_r: string;
  arch: string;
}

/** The answer of `POST /v1/btf/lookup`. */
export interface LookupAnswer {
  kernel: string;
  url: string;
  btf_sha256?: string;
  sha256?: string;
  reason?: string;
  [key: string]: unknown;
}

/** `uname -m` values offered (the archive's arches by the name the machine prints), then the catalog's others. */
const MACHINES = ['x86_64', 'aarch64', 's390x', 'ppc64le', 'riscv64', 'i686'];

/**
 * The lookup form: a machine's `/etc/os-release`, `uname -r` and `uname -m`, posted to `/lookup` (a page route
 * that asks `POST /v1/btf/lookup`), so it works without JavaScript.
 */
export function lookupForm(input: Partial<LookupInput> = {}, arches: readonly string[] = []): Html {
  const machines = [...MACHINES, ...arches.filter((a) => a !== 'arm64' && !MACHINES.includes(a))];
  const current = input.arch === 'arm64' ? 'aarch64' : input.arch;
  return html`<form id="lookup-form" class="lookup" method="post" action="/lookup">
<p>On the machine: <code>cat /etc/os-release; uname -r; uname -m</code>.</p>
<p><label for="os_release">Contents of /etc/os-release</label><br>
<textarea id="os_release" name="os_release" rows="6" required spellcheck="false">${input.os_release ?? ''}</textarea></p>
<p><label for="uname_r">uname -r</label><br><input id="uname_r" name="uname_r" required spellcheck="false" autocomplete="off" value="${input.uname_r ?? ''}" placeholder="6.1.0-50-amd64"></p>
<p><label for="arch">uname -m</label><br><select id="arch" name="arch">${machines.map((m) => html`<option${m === current ? ' selected' : ''}>${m}</option>`)}</select></p>
<p><button type="submit">Find its BTF</button></p>
</form>`;
}

/** `/lookup`: the form alone, or with the lookup's answer (the kernel and its downloads) or problem above it. */
export function lookupPage(input: Partial<LookupInput>, arches: readonly string[], result?: { found: LookupAnswer } | { problem: ApiProblem }): string {
  let answer: Html | string = '';
  if (result && 'found' in result) {
    const f = result.found;
    const d = downloads(f.kernel);
    answer = html`<section id="lookup-result" aria-labelledby="found-h"><h2 id="found-h">Found: <a href="${kernelHref(f.kernel)}">${f.kernel}</a></h2>
${f.reason ? html`<p>${f.reason}</p>` : ''}
<ul class="downloads"><li><a class="button" id="dl-tarball" href="${d.tarball}" download>${f.kernel.slice(f.kernel.lastIndexOf('/') + 1)}.btf.tar.xz</a>${f.sha256 ? html` <span class="muted">sha256 <code class="hash">${f.sha256}</code></span>` : ''}</li>
<li><a class="button" id="dl-btf" href="${d.btf}" download>raw BTF</a>${f.btf_sha256 ? html` <span class="muted">sha256 <code class="hash">${f.btf_sha256}</code></span>` : ''}</li>
<li><a class="button" id="dl-header" href="${d.header}" download="vmlinux.h">vmlinux.h</a></li></ul></section>`;
  } else if (result) {
    const p = result.problem;
    const nearest = Array.isArray(p.nearest) ? (p.nearest as { kernel: string; uname_r: string; relation: string }[]) : [];
    answer = html`<section id="lookup-result" aria-labelledby="notfound-h"><h2 id="notfound-h">${p.title}</h2>
<p class="problem" role="alert">${p.detail}</p>
${nearest.length > 0 ? html`<p>Nearest kernels:</p><ul id="nearest">${nearest.map((n) => html`<li><a href="${kernelHref(n.kernel)}">${n.kernel}</a> (${n.relation}), <a href="${downloads(n.kernel).tarball}" download>.btf.tar.xz</a></li>`)}</ul>` : ''}</section>`;
  }
  return page({
    title: 'Find the BTF of a machine',
    cli: 'btf-atlas fetch --server URL',
    body: html`${answer}${lookupForm(input, arches)}`,
  });
}
