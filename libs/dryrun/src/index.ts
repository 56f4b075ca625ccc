export * from './errors.js';
export * from './selection.js';
export * from './object-input.js';
export * from './answer.js';
export * from './changes.js';
export * from './check.js';
export * from './min-btf.js';
export * from './off-thread.js';
