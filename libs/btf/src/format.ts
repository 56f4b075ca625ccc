/**
 * Model helpers for the catalog: C spelling of types ({@link spellType}), sizes and pointer size
 * ({@link resolvedSize}, {@link pointerSize}), flattened members and member paths ({@link flattenMembers},
 * {@link memberPaths}).
 */
export * from './c-spelling.js';
export * from './type-ref.js';
export * from './layout.js';
