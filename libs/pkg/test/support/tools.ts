import { execFileSync } from 'node:child_process';

/** True when `name --version` runs. */
function tool(name: string): boolean {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether the DWARF → BTF tests can run (pahole and cc present). Without them the tests of `what` are skipped with
 * a warning, except under CI (.ci/run installs dwarves and gcc), where their absence fails the run.
 */
export function dwarfToolsFor(what: string): boolean {
  const ok = tool('pahole') && tool('cc');
  if (!ok) {
    if (process.env.CI) throw new Error(`CI needs pahole (apt-get install dwarves) and cc for ${what}`);
    console.warn(`pahole or cc missing: skipping ${what} (apt-get install dwarves gcc)`);
  }
  return ok;
}
