import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { ConfigError, type ApiConfig } from './config.js';

/** pino options of the API: JSON lines with request ids (fastify's `reqId`), as the worker logs. */
function loggerOptions(cfg: ApiConfig): Record<string, unknown> {
  return { level: cfg.logLevel, name: 'btf-atlas-api' };
}

/**
 * Listens on cfg.host:cfg.port until SIGINT or SIGTERM, then closes fastify (which stops accepting, lets
 * requests in flight finish, then closes the catalog in its onClose hook). Resolves when closed.
 */
export async function startServer(cfg: ApiConfig, onListening?: (app: FastifyInstance, address: string) => void): Promise<void> {
  const app = await buildApp({
    dbPath: cfg.dbPath,
    adminToken: cfg.adminToken,
    logger: loggerOptions(cfg),
    redisUrl: cfg.redisUrl,
    queuePrefix: cfg.queuePrefix,
    maxUploadBytes: cfg.maxUploadBytes,
    ingestRoot: cfg.ingestRoot,
    publicUrl: cfg.publicUrl,
    limits: cfg.limits,
  });
  let address: string;
  try {
    address = await app.listen({ port: cfg.port, host: cfg.host });
  } catch (err) {
    await app.close();
    const code = (err as NodeJS.ErrnoException).code;
    // The settings' fault (port taken, no such address, no permission): one readable line.
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      throw new ConfigError(`cannot listen on ${cfg.host}:${cfg.port}: ${code} (set PORT/HOST or --port/--host)`);
    }
    throw err;
  }
  if (!cfg.adminToken) app.log.warn('BTF_ATLAS_ADMIN_TOKEN is not set: write routes answer 403');
  onListening?.(app, address);
  await new Promise<void>((resolve, reject) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      app.log.info({ signal }, 'shutting down');
      app.close().then(resolve, reject);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  app.log.info('closed');
}
