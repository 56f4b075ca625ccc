import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const LIBS = fileURLToPath(new URL('./libs', import.meta.url));

export default defineConfig({
  resolve: {
    // The workspace packages from their sources: `@btf-atlas/NAME` is libs/NAME/src/index.ts, and a subpath
    // (`@btf-atlas/btf/core`, `@btf-atlas/catalog/read`) the module of that name, as the packages' `./*` exports say.
    alias: [
      { find: /^@btf-atlas\/([a-z]+)$/, replacement: `${LIBS}/$1/src/index.ts` },
      { find: /^@btf-atlas\/([a-z]+)\/([a-z0-9-]+)$/, replacement: `${LIBS}/$1/src/$2.ts` },
    ],
  },
  test: {
    globalSetup: ['./vitest.global-setup.ts'],
    include: ['libs/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
