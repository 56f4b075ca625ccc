import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, REPO } from './support.js';

const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('start-up commands', () => {
  it('--version and -V print the package version and exit 0', () => {
    const { version } = JSON.parse(readFileSync(join(REPO, 'apps/cli/package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = run(flag);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`btf-atlas ${version}\n`);
      expect(r.stderr).toBe('');
    }
  });

  it('--help lists every command of the contract', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    for (const cmd of ['dump', 'validate', 'ingest', 'kernels', 'field', 'type', 'diff', 'fetch', 'sync', 'serve', 'worker', 'func', 'tracepoint', 'syscall', 'enum', 'enumerator', 'search']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${cmd}\\b`, 'm'));
    }
  });
});
