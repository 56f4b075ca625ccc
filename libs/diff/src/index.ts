export * from './types.js';
export * from './resolved-type.js';
export * from './severity.js';
export * from './compare.js';
export * from './kernel-diff.js';
export * from './view.js';
