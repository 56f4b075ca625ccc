import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: {
      '@btf-atlas/btf/core': fileURLToPath(new URL('./libs/btf/src/core.ts', import.meta.url)),
      '@btf-atlas/btf': fileURLToPath(new URL('./libs/btf/src/index.ts', import.meta.url)),
      '@btf-atlas/catalog/type-text': fileURLToPath(new URL('./libs/catalog/src/type-text.ts', import.meta.url)),
      '@btf-atlas/catalog/read': fileURLToPath(new URL('./libs/catalog/src/read.ts', import.meta.url)),
      '@btf-atlas/catalog': fileURLToPath(new URL('./libs/catalog/src/index.ts', import.meta.url)),
      '@btf-atlas/diff': fileURLToPath(new URL('./libs/diff/src/index.ts', import.meta.url)),
      '@btf-atlas/http': fileURLToPath(new URL('./libs/http/src/index.ts', import.meta.url)),
      '@btf-atlas/pkg': fileURLToPath(new URL('./libs/pkg/src/index.ts', import.meta.url)),
      '@btf-atlas/queue': fileURLToPath(new URL('./libs/queue/src/index.ts', import.meta.url)),
      '@btf-atlas/sync': fileURLToPath(new URL('./libs/sync/src/index.ts', import.meta.url)),
    },
  },
  test: {
    globalSetup: ['./vitest.global-setup.ts'],
    include: ['libs/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
