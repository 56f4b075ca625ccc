import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { run } from '../src/cli.js';
import { BtfBuilder, info } from '../../../libs/btf/test/support/builder.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const BAD = join(ROOT, 'libs/btf/test/fixtures/bad');
const CORPUS = join(ROOT, 'fixtures/corpus/archive/debian/12/x86_64');
const tmp = mkdtempSync(join(tmpdir(), 'btf-atlas-validate-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI in-process, capturing what it writes. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown, ...rest: unknown[]) => {
    stdout += String(chunk);
    const cb = rest.find((r) => typeof r === 'function') as ((err?: Error) => void) | undefined;
    cb?.();
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await run(args);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('btf-atlas validate', () => {
  it('exits 0 with one line for valid vmlinux BTF', async () => {
    const file = join(CORPUS, '6.1.0-50-amd64.btf.tar.xz');
    const r = await cli('validate', file);
    expect(r).toEqual({ code: 0, stdout: `${file}: valid btf, 100642 types\n`, stderr: '' });
  });

  it('validates module BTF on --base, and prints JSON with --json', async () => {
    const file = join(CORPUS, '6.1.0-50-amd64/modules/kvm_intel.btf');
    const r = await cli('validate', file, '--base', join(CORPUS, '6.1.0-50-amd64.btf.tar.xz'), '--json');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ file, valid: true, types: 766, start_id: 100643, byte_order: 'little' });
  });

  it('exits 1 with one line naming code, type id and reason', async () => {
    const file = join(BAD, 'typedef-cycle.btf');
    const r = await cli('validate', file);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')).toHaveLength(2); // one line, then the final newline
    expect(r.stderr).toMatch(/^btf-atlas: BTF_TYPE_LOOP: .*typedef-cycle\.btf: type \[1\]: loop detected/);
  });

  it('names the byte offset of header errors', async () => {
    const r = await cli('validate', join(BAD, 'section-gap.btf'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/BTF_BAD_SECTION: .*section-gap\.btf: offset 16: gap of 4 bytes before the string section/);
  });

  it('prints the error object with --json', async () => {
    const file = join(BAD, 'type-id-out-of-range.btf');
    const r = await cli('validate', '--json', file);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { valid: boolean; error: Record<string, unknown> };
    expect(out.valid).toBe(false);
    expect(out.error).toEqual({ code: 'BTF_BAD_TYPE_REF', message: 'invalid referenced type id 99', type_id: 2, source: file });
    expect(r.stderr).toMatch(/^btf-atlas: BTF_BAD_TYPE_REF: /);
  });

  it('exits 1 for parse and container failures too', async () => {
    expect((await cli('validate', join(BAD, 'bad-magic.btf'))).stderr).toMatch(/BTF_UNKNOWN_FORMAT/);
    const junk = join(tmp, 'junk.btf');
    writeFileSync(join(tmp, 'junk.btf'), Buffer.from([0x9f, 0xeb, 1, 0, 24, 0, 0]));
    const r = await cli('validate', junk);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/BTF_TRUNCATED/);
    expect((await cli('validate', join(tmp, 'missing.btf'))).code).toBe(1);
  });

  it('exits 2 on usage errors', async () => {
    expect((await cli('validate')).code).toBe(2);
    expect((await cli('validate', 'a', 'b')).code).toBe(2);
    expect((await cli('validate', '--bogus', join(BAD, 'typedef-cycle.btf'))).code).toBe(2);
  });

  it('--rules 6.13 judges as kernels before 6.14: a decl_tag with kind_flag is refused there, accepted by default', async () => {
    const b = new BtfBuilder();
    b.int('int', 4);
    const v = b.var('x', 1);
    b.raw(b.str('aligned(8)'), info(17, 0, true), v, [0xffffffff]); // DECL_TAG with kind_flag, component -1
    const file = join(tmp, 'decl-tag-kflag.btf');
    writeFileSync(file, b.build());
    expect((await cli('validate', file)).code).toBe(0);
    const old = await cli('validate', file, '--rules', '6.13');
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/kind_flag/);
    expect((await cli('validate', file, '--rules', '5.4')).code).toBe(2);
  });
});
