export * from './types.js';
export * from './errors.js';
export * from './btf-ext.js';
export * from './section-names.js';
export * from './object.js';
export * from './relo.js';
export * from './relo-json.js';
