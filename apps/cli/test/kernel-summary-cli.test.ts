import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unxz } from '@btf-atlas/btf';
import { REPO, cliOn } from './support.js';

// `btf-atlas kernel KREF --summary [--json]` on a catalog holding the corpus's Debian 6.12 kernel (its uname -r
// has a `+`) and its four modules; the counts checked are taken from bpftool's JSON of the same BTF (the oracles).

const CORPUS = join(REPO, 'fixtures/corpus');
const UNAME = '6.12.117+deb13-amd64';
const KREF = `debian/13/x86_64/${UNAME}`;

let dir: string;
let db: string;
const cli = cliOn(() => db);

interface OracleType {
  id: number;
  kind: string;
  name: string;
  type_id?: number;
  component_idx?: number;
  vlen?: number;
}

interface Expected {
  types: number;
  structs: number;
  funcs: number;
  enumerators: number;
  kfuncs: number;
  tracepoints: number;
  x64: number;
}

/** A few counts of one BTF, from its bpftool JSON (`base`: the types of the vmlinux a module's tags may name). */
async function expected(prefix: string): Promise<Expected> {
  const json = Buffer.from(await unxz(readFileSync(join(CORPUS, `${prefix}.raw.json.xz`)))).toString('utf8');
  const types = (JSON.parse(json) as { types: OracleType[] }).types;
  const byId = new Map(types.map((t) => [t.id, t]));
  const names = (kind: string, prefix: string): Set<string> =>
    new Set(types.filter((t) => t.kind === kind && t.name.startsWith(prefix)).map((t) => t.name));
  return {
    types: types.length,
    structs: types.filter((t) => t.kind === 'STRUCT').length,
    funcs: types.filter((t) => t.kind === 'FUNC').length,
    enumerators: types.filter((t) => t.kind === 'ENUM' || t.kind === 'ENUM64').reduce((n, t) => n + (t.vlen as number), 0),
    kfuncs: new Set(types.filter((t) => t.kind === 'DECL_TAG' && t.name === 'bpf_kfunc' && t.component_idx === -1
      && byId.get(t.type_id as number)?.kind === 'FUNC').map((t) => t.type_id)).size,
    tracepoints: names('TYPEDEF', 'btf_trace_').size,
    x64: names('FUNC', '__x64_sys_').size,
  };
}

const manifest = JSON.parse(readFileSync(join(CORPUS, 'manifest.json'), 'utf8')) as {
  kernels: { kernel_release: string; oracle_prefix: string; modules: { name: string; oracle_prefix: string }[] }[];
};
const kernel = manifest.kernels.find((k) => k.kernel_release === UNAME);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-kernel-summary-'));
  db = join(dir, 'atlas.db');
  const r = cli('ingest', join(CORPUS, 'archive/debian/13/x86_64', `${UNAME}.btf.tar.xz`));
  expect(r.stderr).toMatch(/1 kernel\(s\): 1 ingested/);
  expect(r.status).toBe(0);
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('kernel KREF --summary', () => {
  it('--json: the kernel, the counts of its vmlinux BTF and of each module, as bpftool\'s JSON has them', async () => {
    expect(kernel).toBeDefined();
    const k = kernel as NonNullable<typeof kernel>;
    const r = cli('kernel', KREF, '--summary', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout) as Record<string, unknown> & {
      types: number; structs: number; enumerators: number; funcs: { total: number }; kfuncs: number; tracepoints: number;
      syscalls: { total: number; by_prefix: Record<string, number> };
      modules: (Record<string, unknown> & { name: string; types: number; structs: number; enumerators: number; funcs: { total: number }; kfuncs: number; tracepoints: number })[];
    };
    expect(Object.keys(s).slice(0, 7)).toEqual(['kernel', 'distro', 'release', 'arch', 'uname_r', 'types', 'kinds']);
    expect(Object.keys(s).at(-1)).toBe('modules');
    expect(s).toMatchObject({ kernel: KREF, distro: 'debian', release: '13', arch: 'x86_64', uname_r: UNAME, pointer_size: 8, byte_order: 'little' });
    const want = await expected(k.oracle_prefix);
    expect({
      types: s.types, structs: s.structs, funcs: s.funcs.total, enumerators: s.enumerators, kfuncs: s.kfuncs, tracepoints: s.tracepoints, x64: s.syscalls.by_prefix.x64,
    }).toEqual(want);
    expect(s.kfuncs).toBeGreaterThan(100);
    expect(s.modules.map((m) => m.name)).toEqual(k.modules.map((m) => m.name).sort());
    for (const m of s.modules) {
      const oracle = k.modules.find((x) => x.name === m.name) as { oracle_prefix: string };
      const w = await expected(oracle.oracle_prefix);
      expect({ types: m.types, structs: m.structs, funcs: m.funcs.total, enumerators: m.enumerators, kfuncs: m.kfuncs, tracepoints: m.tracepoints, x64: 0 }, m.name)
        .toEqual(w);
    }
    expect(s.modules.find((m) => m.name === 'nf_conntrack')?.kfuncs).toBeGreaterThan(0);
  });

  it('text: a table, vmlinux then one line per module, with the same counts', async () => {
    const k = kernel as NonNullable<typeof kernel>;
    const r = cli('kernel', KREF, '--summary');
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(`${KREF}: 8-byte pointers, little-endian, 4 module(s)`);
    const header = lines.findIndex((l) => l.startsWith('btf '));
    expect(header).toBeGreaterThan(0);
    const cols = lines[header].trim().split(/\s+/);
    expect(cols.slice(0, 3)).toEqual(['btf', 'types', 'structs']);
    const rows = lines.slice(header + 1, header + 6).map((l) => l.trim().split(/\s+/));
    expect(rows.map((row) => row[0])).toEqual(['vmlinux', ...k.modules.map((m) => m.name).sort()]);
    const want = await expected(k.oracle_prefix);
    const vmlinux = rows[0];
    expect(Number(vmlinux[cols.indexOf('types')])).toBe(want.types);
    expect(Number(vmlinux[cols.indexOf('kfuncs')])).toBe(want.kfuncs);
    expect(Number(vmlinux[cols.indexOf('tracepoints')])).toBe(want.tracepoints);
    expect(Number(vmlinux[cols.indexOf('funcs')])).toBe(want.funcs);
    for (const row of rows.slice(1)) {
      const oracle = k.modules.find((x) => x.name === row[0]) as { oracle_prefix: string };
      expect(Number(row[cols.indexOf('types')]), row[0]).toBe((await expected(oracle.oracle_prefix)).types);
    }
    expect(r.stdout).toContain(`syscalls:     ${want.x64} (`);
  });

  it('an unknown kernel is exit 1 with the nearest kernels; without --summary, a usage error', () => {
    const r = cli('kernel', KREF.replace('amd64', 'amd6'), '--summary');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`btf-atlas: KERNEL_NOT_FOUND: kernel ${KREF.replace('amd64', 'amd6')} is not in the catalog (did you mean ${KREF}?)\n`);
    const bad = cli('kernel', 'not-a-kref', '--summary');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^btf-atlas: CATALOG_BAD_KREF: /);
    const usage = cli('kernel', KREF);
    expect(usage.status).toBe(2);
    expect(usage.stdout).toBe('');
    expect(usage.stderr).toMatch(/--summary/);
  });
});
