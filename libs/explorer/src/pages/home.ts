import { html } from '../html.js';
import { page } from '../layout.js';
import type { KernelRow } from '../api.js';

/** `/`: what the site answers, with the search box focused, a few examples and the way to the kernels. */
export function homePage(kernels: readonly KernelRow[]): string {
  const ingested = kernels.filter((k) => k.state !== 'failed');
  const distros = [...new Set(ingested.map((k) => k.distro))].sort();
  const arches = [...new Set(ingested.map((k) => k.arch))].sort();
  return page({
    title: 'Kernel data structures, in every kernel',
    autofocus: true,
    body: html`<p>Where is a struct member in each kernel, and where did it move? What does a struct look like in
one kernel, with its holes? Which kernels changed a function, an enum or a tracepoint? Search any name above, or
start from an example.</p>
<p id="catalog-size">The catalog holds <a href="/kernels">${ingested.length} kernel${ingested.length === 1 ? '' : 's'}</a>${distros.length > 0 ? html` (${distros.join(', ')}; ${arches.join(', ')})` : ''}.</p>
<h2>Examples</h2>
<ul id="examples">
<li><a href="/fields/pt_regs.di">pt_regs.di</a>: a field's offset in every kernel, with its change points</li>
<li><a href="/fields/task_struct.__state">task_struct.__state</a>: the field that was <code>state</code> before Linux 5.14</li>
<li><a href="/types/sk_buff">sk_buff</a>: a big struct's size over time, and its layout in one kernel</li>
<li><a href="/search?q=sched_switch">sched_switch</a>: a tracepoint, and everything else of that name</li>
</ul>
<h2>More</h2>
<ul>
<li><a href="/kernels">Kernels</a>: every kernel, its facts and downloads (BTF, .btf.tar.xz, vmlinux.h)</li>
<li><a href="/lookup">Find the BTF of a machine</a> from its <code>/etc/os-release</code> and <code>uname -r</code></li>
<li><a href="/diff">Diff two kernels</a>, <a href="/core">check a BPF object (CO-RE)</a>, <a href="/docs">the JSON API</a></li>
</ul>`,
  });
}
