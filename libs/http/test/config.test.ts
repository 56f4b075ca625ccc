import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { sameSecret } from '../src/plugins/admin-auth.js';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 3000, host: '127.0.0.1', adminToken: undefined, logLevel: 'info' });
    expect(c.dbPath).toMatch(/data[/\\]atlas\.db$/);
  });

  it('reads the environment, and flags override it', () => {
    const env = { PORT: '8080', HOST: '0.0.0.0', BTF_ATLAS_DB: 'x/y.db', BTF_ATLAS_ADMIN_TOKEN: 'long-enough-token' };
    expect(loadConfig(env)).toMatchObject({ port: 8080, host: '0.0.0.0', adminToken: 'long-enough-token' });
    expect(loadConfig(env, { port: 9000 }).port).toBe(9000);
  });

  it('fails fast with a readable line', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT must be a whole number/);
    expect(() => loadConfig({}, { port: Number('x') })).toThrow(/--port/);
    expect(() => loadConfig({ BTF_ATLAS_ADMIN_TOKEN: 'short' })).toThrow(/BTF_ATLAS_ADMIN_TOKEN/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
    expect(() => loadConfig({ BTF_ATLAS_INGEST_ROOT: '/no/such/folder' })).toThrow(/BTF_ATLAS_INGEST_ROOT must be an existing folder/);
    expect(() => loadConfig({ BTF_ATLAS_MAX_UPLOAD_BYTES: '-1' })).toThrow(/BTF_ATLAS_MAX_UPLOAD_BYTES/);
    expect(() => loadConfig({ REDIS_URL: 'http://x' })).toThrow(/REDIS_URL/);
  });
});

describe('server limits', () => {
  it('have documented defaults, read the environment, and refuse what cannot work', () => {
    expect(loadConfig({}).limits).toMatchObject({ headersTimeoutMs: 10_000, requestTimeoutMs: 300_000, keepAliveTimeoutMs: 10_000, workWaitMs: 10_000, cacheBytes: 64 * 1024 * 1024 });
    expect(loadConfig({ BTF_ATLAS_REQUEST_TIMEOUT_MS: '60000', BTF_ATLAS_WORK_THREADS: '3' }).limits).toMatchObject({ requestTimeoutMs: 60_000, workThreads: 3 });
    expect(() => loadConfig({ BTF_ATLAS_REQUEST_TIMEOUT_MS: 'soon' })).toThrow(/BTF_ATLAS_REQUEST_TIMEOUT_MS must be a positive whole number/);
    expect(() => loadConfig({ BTF_ATLAS_WORK_THREADS: '0' })).toThrow(/BTF_ATLAS_WORK_THREADS/);
    expect(() => loadConfig({ BTF_ATLAS_HEADERS_TIMEOUT_MS: '20000', BTF_ATLAS_REQUEST_TIMEOUT_MS: '10000' })).toThrow(/must not exceed BTF_ATLAS_REQUEST_TIMEOUT_MS/);
  });
});

describe('sameSecret', () => {
  it('compares whatever the lengths', () => {
    expect(sameSecret('abc', 'abc')).toBe(true);
    expect(sameSecret('abc', 'abd')).toBe(false);
    expect(sameSecret('abc', 'abcd')).toBe(false);
    expect(sameSecret('', 'abc')).toBe(false);
  });
});
