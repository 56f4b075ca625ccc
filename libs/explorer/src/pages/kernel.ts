import { html, krefPath, query, type Html } from '../html.js';
import { cliCommand, page } from '../layout.js';
import type { KernelRow } from '../api.js';
import { kernelHref } from './kernels.js';

/** Counts of what a kernel's BTF (or one module's) holds: `GET /v1/kernels/{kref}/summary`. */
export interface BtfCounts {
  types: number;
  kinds: Record<string, number>;
  structs: number;
  unions: number;
  enums: { total: number; named: number; anonymous: number };
  enumerators: number;
  typedefs: number;
  funcs: { total: number; static: number; global: number; extern: number };
  kfuncs: number;
  tracepoints: number;
  trace_events: number;
  syscalls: { total: number };
  [key: string]: unknown;
}

export interface KernelSummary extends BtfCounts {
  kernel: string;
  pointer_size?: number | null;
  byte_order?: string | null;
  modules: (BtfCounts & { name: string })[];
}

/** The downloads of a kernel: raw BTF, btfhub-archive's tarball, and the C header. */
export function downloads(kref: string): { btf: string; tarball: string; header: string } {
  const p = krefPath(kref);
  return { btf: `/archive/${p}.btf`, tarball: `/archive/${p}.btf.tar.xz`, header: `/v1/kernels/${p}/vmlinux.h` };
}

function countRow(label: string, value: Html | string | number): Html {
  return html`<tr><th scope="row">${label}</th><td class="num">${value}</td></tr>`;
}

/**
 * `/kernels/{distro}/{release}/{arch}/{uname_r}`: the kernel's facts (from the kernel list and its BTF summary),
 * download buttons, its neighbours in the same series (and the diff with each), and its modules.
 */
export function kernelPage(k: KernelRow, summary: KernelSummary | undefined, neighbours: { older?: KernelRow; newer?: KernelRow }): string {
  const d = downloads(k.kernel);
  const failure = k.failure as { code?: string; message?: string } | undefined;
  const facts = html`<dl class="facts">
<dt>Distro</dt><dd>${k.distro}</dd><dt>Release</dt><dd>${k.release}</dd><dt>Arch</dt><dd>${k.arch}</dd><dt>uname -r</dt><dd><code>${k.uname_r}</code></dd>
${k.btf_sha256 ? html`<dt>BTF sha256</dt><dd><code class="hash">${k.btf_sha256}</code></dd>` : ''}
${k.pointer_size ? html`<dt>Pointer size</dt><dd>${k.pointer_size} bytes</dd>` : ''}
${k.byte_order ? html`<dt>Byte order</dt><dd>${k.byte_order}-endian</dd>` : ''}
</dl>`;
  const nav = html`<p class="neighbours">${neighbours.older ? html`Older: <a href="${kernelHref(neighbours.older.kernel)}" rel="prev">${neighbours.older.uname_r}</a> (<a href="/diff${query({ from: neighbours.older.kernel, to: k.kernel })}">diff</a>)` : 'No older kernel in this release.'}
${neighbours.newer ? html` Newer: <a href="${kernelHref(neighbours.newer.kernel)}" rel="next">${neighbours.newer.uname_r}</a> (<a href="/diff${query({ from: k.kernel, to: neighbours.newer.kernel })}">diff</a>)` : ' No newer kernel in this release.'}</p>`;
  const body = k.state === 'failed'
    ? html`${facts}<p class="problem" role="alert">Its ingest failed${failure?.code ? html` (${failure.code})` : ''}: ${failure?.message ?? 'no reason recorded'}</p>`
    : html`${facts}
<h2 id="downloads-h">Downloads</h2>
<ul class="downloads" aria-labelledby="downloads-h">
<li><a class="button" id="dl-btf" href="${d.btf}" download>BTF (raw, as /sys/kernel/btf/vmlinux)</a></li>
<li><a class="button" id="dl-tarball" href="${d.tarball}" download>${k.uname_r}.btf.tar.xz (btfhub-archive)</a></li>
<li><a class="button" id="dl-header" href="${d.header}" download="vmlinux.h">vmlinux.h</a></li>
</ul>
${nav}
${summary ? html`<h2 id="counts-h">What its BTF holds</h2>
<div class="table-wrap" tabindex="0" role="region" aria-label="What its BTF holds"><table id="kernel-counts" aria-labelledby="counts-h"><tbody>
${countRow('BTF types', summary.types)}${countRow('Structs', summary.structs)}${countRow('Unions', summary.unions)}
${countRow('Enums (named/anonymous)', `${summary.enums.total} (${summary.enums.named}/${summary.enums.anonymous})`)}${countRow('Enumerators', summary.enumerators)}
${countRow('Typedefs', summary.typedefs)}${countRow('Functions', summary.funcs.total)}${countRow('Kfuncs', summary.kfuncs)}
${countRow('Tracepoints', summary.tracepoints)}${countRow('Trace events', summary.trace_events)}${countRow('Syscalls', summary.syscalls.total)}
</tbody></table></div>
${summary.modules.length > 0 ? html`<h2 id="modules-h">Modules</h2>
<div class="table-wrap" tabindex="0" role="region" aria-label="Modules"><table id="kernel-modules" aria-labelledby="modules-h"><thead><tr><th scope="col">Module</th><th scope="col">Types</th><th scope="col">Structs</th><th scope="col">Functions</th><th scope="col">Tracepoints</th></tr></thead>
<tbody>${summary.modules.map((m) => html`<tr><td>${m.name}</td><td class="num">${m.types}</td><td class="num">${m.structs}</td><td class="num">${m.funcs.total}</td><td class="num">${m.tracepoints}</td></tr>`)}</tbody></table></div>` : ''}` : ''}`;
  return page({
    title: k.kernel,
    json: `/v1/kernels/${krefPath(k.kernel)}/summary`,
    cli: cliCommand('kernel', k.kernel, '--summary', '--json'),
    body,
  });
}
