/**
 * `@btf-atlas/catalog/read`: opening a catalog and every read answer over it (kernels, layouts, each
 * kind's definitions, lookup), without the ingest side (libs/btf, libs/pkg, archives). What a short-lived `field` or `kernels`
 * process loads; the package's main entry exports all of it too.
 */
export * from './errors.js';
export * from './kernel-ref.js';
export * from './db.js';
export * from './normalize.js';
export * from './queries.js';
export * from './kernel-order.js';
export * from './suggest.js';
export * from './lookup.js';
export * from './sets.js';
export * from './failed.js';
export * from './kind-names.js';
export * from './definition-json.js';
export * from './field-paths.js';
export * from './funcs.js';
export * from './tracepoints.js';
export * from './syscalls.js';
export * from './enums.js';
export * from './in-kernel.js';
export * from './search.js';
export * from './kernel-reads.js';
export * from './kernel-modules.js';
