/**
 * `btf-atlas core-check` and `core-min-btf`, run as a user runs them, on a catalog of two corpus kernels (6.1.0-50
 * with modules, 6.12.117+deb13): the text report, `--json` equal to the library's answer, exit codes (0 whatever
 * the verdicts, 1 for bad input, 2 for usage), and minimized BTF as a btfhub-archive folder or a reproducible tarball.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unxz } from '@btf-atlas/btf';
import { openCatalog } from '@btf-atlas/catalog/read';
import { coreCheck } from '@btf-atlas/dryrun';
import { corpusCatalog, K50, K612, objectBytes, objectPath, oracleDir, readTar } from '../../../libs/dryrun/test/support.js';
import { cliOn } from './support.js';

let dir: string;
let db: string;
const cli = cliOn(() => db);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-core-cli-'));
  db = await corpusCatalog(dir, [K50, K612]);
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('core-check', () => {
  it('--help lists both commands', () => {
    const r = cli('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ {2}core-check\b/m);
    expect(r.stdout).toMatch(/^ {2}core-min-btf\b/m);
  });

  it('text: kernels × programs, the change along the timeline, the failures explained with the field to look up; exit 0', () => {
    const r = cli('core-check', objectPath('core_flavors'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/core_flavors\.bpf\.o \(sha256 [0-9a-f]{12}…\): 2 program\(s\), 6 co-re relocation\(s\); 2 kernel\(s\)/);
    expect(lines[2].split(/\s+/)).toEqual(['kernel', 'verdict', 'kp_task_state', 'kp_mm_cid']);
    expect(lines[3].split(/\s+/)).toEqual([K50, 'breaks', 'guarded', 'breaks']);
    expect(lines[4].split(/\s+/)).toEqual([K612, 'guarded', 'guarded', 'ok']);
    expect(r.stdout).toContain('kp_mm_cid on x86_64: breaks at 6.1.0-50-amd64, ok at 6.12.117+deb13-amd64');
    const failures = r.stdout.slice(r.stdout.indexOf('\nfailures:\n'));
    expect(failures).toContain(`${K50}:\n`);
    expect(failures).toMatch(/kp_mm_cid breaks: relocation #5 FIELD_BYTE_SIZE struct task_struct___cid\.mm_cid \(poisoned, insn #12, reachable\)\n.*the verifier reaches it.*\n\s+history: btf-atlas field task_struct\.mm_cid\n/);
    expect(r.stdout).toMatch(/\nnot checked: verifier, helpers and map types, inlining/);
  });

  it('--json is the library\'s answer; several objects give an array; exit 0 for an object that fails everywhere', async () => {
    const r = cli('core-check', objectPath('core_ambiguous'), '--json', '--kernel', K612);
    expect(r.status).toBe(0);
    const got = JSON.parse(r.stdout) as { object: { name: string }; kernels: { kernel: string; verdict: string }[] };
    expect(got.kernels.map((k) => [k.kernel, k.verdict])).toEqual([[K612, 'fails']]);
    const catalog = openCatalog(db, { readonly: true });
    try {
      const [want] = await coreCheck(catalog, [{ name: objectPath('core_ambiguous'), bytes: objectBytes('core_ambiguous') }], { kernel: K612 });
      expect(got).toEqual(JSON.parse(JSON.stringify(want)));
    } finally {
      catalog.close();
    }
    const two = cli('core-check', objectPath('core_chain'), objectPath('core_bitfields'), '--json', '--release', '13');
    expect(two.status).toBe(0);
    const answers = JSON.parse(two.stdout) as { object: { name: string }; kernels: { kernel: string; verdict: string }[] }[];
    expect(answers.map((a) => [a.object.name, a.kernels.map((k) => k.verdict)])).toEqual([[objectPath('core_chain'), ['ok']], [objectPath('core_bitfields'), ['ok']]]);
  });

  it('bad input: one readable line and exit 1; usage errors exit 2', () => {
    const notElf = join(dir, 'notes.txt');
    writeFileSync(notElf, 'not an object');
    let r = cli('core-check', notElf);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^btf-atlas: CORE_NOT_ELF: .*notes\.txt/);

    r = cli('core-check', join(dir, 'missing.bpf.o'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^btf-atlas: FILE_UNREADABLE: cannot read .*missing\.bpf\.o: ENOENT\n$/);

    r = cli('core-check', objectPath('core_chain'), '--kernel', 'debian/12/x86_64/6.1.0-5-amd64');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^btf-atlas: KERNEL_NOT_FOUND: kernel debian\/12\/x86_64\/6\.1\.0-5-amd64 is not in the catalog \(did you mean .*6\.1\.0-50-amd64/);

    r = cli('core-check', objectPath('core_chain'), '--arch', 'arm64');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/NO_MATCHING_KERNELS/);

    // Objects are read under the dry run's 16 MiB cap: a larger regular file is refused before reading (a sparse
    // one costs a stat), an endless device once past the cap, never read whole.
    const sparse = join(dir, 'huge.bpf.o');
    writeFileSync(sparse, '');
    truncateSync(sparse, 2 * 1024 * 1024 * 1024);
    r = cli('core-check', sparse);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^btf-atlas: INPUT_TOO_LARGE: .*huge\.bpf\.o: file of 2147483648 bytes is larger than the 16777216-byte input limit \(refused before reading\)\n$/);
    r = cli('core-check', '/dev/zero');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^btf-atlas: INPUT_TOO_LARGE: \/dev\/zero: more than 16777216 bytes read from a character device \(the input limit\)\n$/);

    r = cli('core-check', objectPath('core_chain'), '--kernel', K50, '--distro', 'debian');
    expect(r.status).toBe(2);
    r = cli('core-check');
    expect(r.status).toBe(2);
  });
});

describe('core-min-btf', () => {
  it('--out DIR: DISTRO/RELEASE/ARCH/UNAME_R.btf per kernel, equal to bpftool gen min_core_btf\'s', () => {
    const out = join(dir, 'min');
    const r = cli('core-min-btf', objectPath('core_flavors'), '--out', out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const k of [K50, K612]) {
      const file = join(out, `${k}.btf`);
      expect(r.stdout).toContain(file);
      expect(readFileSync(file).equals(readFileSync(join(oracleDir(k), 'core_flavors.min.btf')))).toBe(true);
    }
  });

  it('--out FILE.tar.xz: the same layout in one reproducible tarball (the same bytes twice)', async () => {
    const a = join(dir, 'a.tar.xz');
    const b = join(dir, 'b.tar.xz');
    expect(cli('core-min-btf', objectPath('core_chain'), objectPath('core_bitfields'), '--out', a).status).toBe(0);
    expect(cli('core-min-btf', objectPath('core_chain'), objectPath('core_bitfields'), '--out', b).status).toBe(0);
    const bytes = readFileSync(a);
    expect(bytes.equals(readFileSync(b))).toBe(true);
    const members = readTar(await unxz(bytes));
    expect(members.map((m) => m.name)).toEqual([`${K50}.btf`, `${K612}.btf`]);
    expect(members.every((m) => m.bytes.length > 0 && Buffer.from(m.bytes.subarray(0, 2)).equals(Buffer.from([0x9f, 0xeb])))).toBe(true);
  });

  it('an object libbpf cannot relocate: exit 1 naming the kernel, or skipped with --skip-failed', () => {
    const out = join(dir, 'amb.tar.xz');
    let r = cli('core-min-btf', objectPath('core_ambiguous'), '--kernel', K50, '--out', out);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^btf-atlas: DRYRUN_MIN_BTF: no minimized btf for ${K50}: CORE_MIN_BTF_RELO: `));
    expect(existsSync(out)).toBe(false);
    r = cli('core-min-btf', objectPath('core_ambiguous'), '--out', out, '--skip-failed');
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`skipped ${K50}: CORE_MIN_BTF_RELO`);
    expect(r.stdout).toContain('0 kernel(s)');
    r = cli('core-min-btf', objectPath('core_chain'));
    expect(r.status).toBe(2);
  });
});
