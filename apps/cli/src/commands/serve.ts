import { CommanderError, type Command } from '../commander.js';
import { CliError } from '../errors.js';

/** `serve`: the HTTP API (apps/api) on PORT/HOST over the catalog; runs until SIGINT/SIGTERM. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the HTTP API over the catalog (PORT, HOST, BTF_ATLAS_DB, BTF_ATLAS_ADMIN_TOKEN); OpenAPI at /openapi.json, docs at /docs')
    .option('--port <n>', 'TCP port (default $PORT or 3000)')
    .option('--host <addr>', 'interface to listen on (default $HOST or 127.0.0.1)')
    .option('--db <file>', 'catalog file (default $BTF_ATLAS_DB or ./data/atlas.db)')
    .action(async (opts: { port?: string; host?: string; db?: string }) => {
      if (opts.port !== undefined && !/^\d{1,5}$/.test(opts.port)) throw new CommanderError(2, 'usage', `--port must be a whole number from 0 to 65535, not ${JSON.stringify(opts.port)}`);
      // The API (and fastify) load only for this command.
      const api = await import('@btf-atlas/http');
      let cfg;
      try {
        cfg = api.loadConfig(process.env, { port: opts.port === undefined ? undefined : Number(opts.port), host: opts.host, dbPath: opts.db });
      } catch (err) {
        throw new CliError((err as Error).message, 'CONFIG');
      }
      try {
        await api.startServer(cfg);
      } catch (err) {
        if (err instanceof api.ConfigError) throw new CliError(err.message, 'CONFIG');
        throw err;
      }
    });
}
