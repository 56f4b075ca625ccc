import { execFileSync } from 'node:child_process';

/**
 * Tests that spawn the CLI or worker processes need the built dist: build once before any test file runs.
 * BTF_ATLAS_TEST_NO_BUILD=1 skips it (whoever runs the tests has just built the packages they touch).
 */
export default function setup(): void {
  if (process.env.BTF_ATLAS_TEST_NO_BUILD === '1') return;
  execFileSync('npx', ['tsc', '-b'], { stdio: 'inherit' });
}
