import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './libs/catalog/src/schema.ts',
  out: './migrations',
});
