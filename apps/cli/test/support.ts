import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = join(REPO, 'apps/cli/bin/btf-atlas.js');

/**
 * Runs the built CLI as a user would, on the catalog `db()` names and without REDIS_URL (jobs run in-process).
 */
export function cliOn(db: () => string): (...args: string[]) => { status: number | null; stdout: string; stderr: string } {
  return (...args) => {
    const env = { ...process.env, BTF_ATLAS_DB: db() };
    delete env.REDIS_URL;
    const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 120_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
}
