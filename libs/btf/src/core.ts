/**
 * `@btf-atlas/btf/core`: reading and judging a blob without the formatters (dumps, C spelling, layout). What a
 * short-lived process that only parses or validates loads; the package's main entry exports all of it too.
 */
export * from './errors.js';
export * from './header.js';
export * from './kinds.js';
export * from './record.js';
export * from './btf.js';
export * from './container.js';
export * from './validate.js';
