import { ConfigError, loadConfig, startServer } from '@btf-atlas/http';

/** `node apps/api/dist/main.js`: the API on the environment's settings (as `btf-atlas serve`). */
try {
  await startServer(loadConfig(process.env));
} catch (err) {
  process.stderr.write(`btf-atlas api: ${err instanceof ConfigError ? err.message : (err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
}
