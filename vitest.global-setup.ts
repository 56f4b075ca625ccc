import { execFileSync } from 'node:child_process';

/** Tests that spawn the CLI or worker processes need the built dist: build once before any test file runs. */
export default function setup(): void {
  execFileSync('npx', ['tsc', '-b'], { stdio: 'inherit' });
}
