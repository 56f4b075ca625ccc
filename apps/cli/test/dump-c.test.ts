import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { unxz } from '@btf-atlas/btf';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const KERNEL = join(REPO, 'fixtures/corpus/archive/debian/12/x86_64/6.1.0-50-amd64.btf.tar.xz');
const EXT4 = join(REPO, 'fixtures/corpus/archive/debian/12/x86_64/6.1.0-50-amd64/modules/ext4.btf');

/** Runs the real `btf-atlas` binary to its end. */
function btfAtlas(...args: string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const child = spawn(process.execPath, [join(REPO, 'apps/cli/bin/btf-atlas.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

describe('btf-atlas dump --format c', () => {
  it('prints the vmlinux.h bpftool 7.5 prints', async () => {
    const r = await btfAtlas('dump', KERNEL, '--format', 'c');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const want = Buffer.from(await unxz(readFileSync(join(REPO, 'fixtures/corpus/oracle/debian/12/x86_64/6.1.0-50-amd64.vmlinux.h.xz'))));
    expect(r.stdout.length).toBe(want.length);
    expect(r.stdout.equals(want)).toBe(true);
  }, 60_000);

  it('dumps split BTF on its --base, as bpftool -B does (module and vmlinux types)', async () => {
    const r = await btfAtlas('dump', EXT4, '--base', KERNEL, '--format', 'c');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const text = r.stdout.toString('utf8');
    expect(text.startsWith('#ifndef __VMLINUX_H__\n')).toBe(true);
    expect(text).toContain('\nstruct ext4_sb_info {\n');
    expect(text).toContain('\nstruct task_struct {\n');
  }, 60_000);

  it('refuses --json with --format c as a usage error (exit 2)', async () => {
    const r = await btfAtlas('dump', KERNEL, '--format', 'c', '--json');
    expect(r.code).toBe(2);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toMatch(/--json.*--format c/);
  }, 60_000);

  it('refuses an unknown format (exit 2)', async () => {
    const r = await btfAtlas('dump', KERNEL, '--format', 'h');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unsupported --format h/);
  }, 60_000);
});
