export * from './types.js';
export * from './c-type.js';
export * from './severity.js';
export * from './compare.js';
export * from './kernel-diff.js';
export * from './view.js';
