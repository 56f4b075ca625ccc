import type { FastifyInstance } from 'fastify';
import { PAGE_ROUTE } from './api.js';
import { html } from './html.js';
import { page } from './layout.js';

/** Pages to find and read one thing: the start page, search, fields, types, kernels and the BTF lookup form. */
export default async function browsePages(app: FastifyInstance): Promise<void> {
  app.get('/', PAGE_ROUTE, async (_request, reply) => {
    reply.type('text/html; charset=utf-8');
    return page({
      title: 'Kernel data structures, in every kernel',
      body: html`<p>Search a struct, a field path (<a href="/fields/pt_regs.di">pt_regs.di</a>), a function, an enum,
a tracepoint or a kernel.</p>`,
    });
  });
}
