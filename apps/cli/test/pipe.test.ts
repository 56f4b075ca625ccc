import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');

it('a reader that closes the pipe early (`btf-atlas dump … | head`) ends the CLI quietly with exit 0', async () => {
  const child = spawn(process.execPath, [
    join(REPO, 'apps/cli/bin/btf-atlas.js'), 'dump', join(REPO, 'fixtures/corpus/archive/debian/12/x86_64/6.1.0-50-amd64.btf.tar.xz'), '--json',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const first = await new Promise<Buffer>((resolve) => child.stdout.once('data', resolve));
  expect(first.subarray(0, 10).toString()).toBe('{"types":[');
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(stderr).toBe('');
  expect(code).toBe(0);
}, 60_000);
