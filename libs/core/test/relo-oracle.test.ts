/**
 * The resolver against libbpf 1.7 itself: for each object of fixtures/core/objects and each kernel with CO-RE
 * oracles (fixtures/core/oracle/DISTRO/RELEASE/ARCH/KREL), the dry run must equal libbpf's decisions
 * (`X.dryrun.json.xz`) relocation by relocation, and its CO-RE debug log must equal libbpf's (`X.libbpf.log.xz`)
 * line by line. Like the oracles (libbpf's `btf_custom_path`), only vmlinux BTF is searched.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { Btf, unxz } from '@btf-atlas/btf';
import { corpusKernels, loadKernel, type CorpusKernel } from '../../btf/test/support/corpus.js';
import { CoreReloKind, coreDryRunJson, readBpfObject, resolveCoreRelos, type CoreDryRunJson } from '../src/index.js';

const CORE_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../fixtures/core');

const OBJECTS = readdirSync(join(CORE_DIR, 'objects')).filter((f) => f.endsWith('.bpf.o')).map((f) => f.slice(0, -'.bpf.o'.length)).sort();

function oracleDir(k: CorpusKernel): string {
  return join(CORE_DIR, 'oracle', k.distro, k.release, k.arch, k.kernelRelease);
}

const KERNELS = corpusKernels().filter((k) => existsSync(oracleDir(k)));

async function readXz(path: string): Promise<string> {
  return Buffer.from(await unxz(readFileSync(path))).toString('utf8');
}

type Json = unknown;

/** One difference: where, which field, got and want. */
function diff(out: string[], where: string, field: string, got: Json, want: Json): void {
  if (JSON.stringify(got) !== JSON.stringify(want)) out.push(`${where}: ${field}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

/** The fields of a spec (local, candidate, target) that are compared, each named. */
const SPEC_FIELDS = ['type_id', 'type', 'access', 'offset', 'bit', 'field_path', 'enumerator', 'enum_value', 'spec'] as const;

function diffSpec(out: string[], where: string, got: Record<string, Json> | null, want: Record<string, Json> | null): void {
  if (got === null || want === null) {
    diff(out, where, '(presence)', got === null ? null : 'present', want === null ? null : 'present');
    return;
  }
  for (const f of SPEC_FIELDS) diff(out, where, f, got[f], want[f]);
}

/** Every compared field, listed explicitly; each mismatch names object, kernel, relocation and field. */
function compareDryRun(label: string, got: CoreDryRunJson, want: Record<string, Json>): string[] {
  const out: string[] = [];
  const wantResult = want.result as Record<string, Json>;
  diff(out, label, 'result.open', got.result.open, wantResult.open);
  diff(out, label, 'result.prepare', got.result.prepare, wantResult.prepare);
  diff(out, label, 'ok', got.ok, want.ok);
  diff(out, label, 'status_counts', sortKeys(got.status_counts), sortKeys(want.status_counts as Record<string, Json>));
  diff(out, label, 'sections', got.sections, want.sections);
  diff(out, label, 'warnings', got.warnings, want.warnings);
  // The oracle lists the local types libbpf logged candidates for: those with at least one.
  const cache = got.candidate_cache.filter((e) => e.candidates.length > 0);
  const wantCache = want.candidate_cache as Record<string, Json>[];
  diff(out, label, 'candidate_cache.length', cache.length, wantCache.length);
  wantCache.forEach((w, i) => {
    const g = cache[i];
    const where = `${label} candidate_cache[${i}]`;
    diff(out, where, 'local_type_id', g?.local_type_id, w.local_type_id);
    diff(out, where, 'local_type', g?.local_type, w.local_type);
    const wc = w.candidates as Record<string, Json>[];
    diff(out, where, 'candidates', g?.candidates.map((c) => [c.type_id, c.type, c.btf]), wc.map((c) => [c.type_id, c.type, c.btf]));
  });

  const wantRelos = want.relocations as Record<string, Json>[];
  diff(out, label, 'relocations.length', got.relocations.length, wantRelos.length);
  for (const w of wantRelos) {
    const where = `${label} ${w.section as string} relo #${w.idx as number}`;
    const g = got.relocations.find((r) => r.section === w.section && r.idx === w.idx);
    if (!g) {
      out.push(`${where}: missing`);
      continue;
    }
    for (const f of ['prog', 'kind', 'kind_id', 'kind_name', 'status', 'no_target', 'ambiguous', 'orig_value', 'new_value', 'poisoned_insns'] as const) {
      diff(out, where, f, g[f], w[f]);
    }
    diff(out, where, 'messages', g.messages, w.messages ?? []);
    diffSpec(out, `${where} local`, g.local as unknown as Record<string, Json> | null, w.local as Record<string, Json> | null);
    diffSpec(out, `${where} target`, g.target as unknown as Record<string, Json> | null, w.target as Record<string, Json> | null);
    const wc = w.candidates as Record<string, Json>[];
    diff(out, where, 'candidates.length', g.candidates.length, wc.length);
    wc.forEach((c, i) => {
      const gc = g.candidates[i] as unknown as Record<string, Json> | undefined;
      const cw = `${where} candidate #${i}`;
      diff(out, cw, 'idx', gc?.idx, c.idx);
      diff(out, cw, 'matched', gc?.matched, c.matched);
      diff(out, cw, 'btf', gc?.btf, c.btf ?? 'vmlinux');
      diffSpec(out, cw, gc ?? null, c);
    });
    const wp = w.patches as Record<string, Json>[];
    diff(out, where, 'patches.length', g.patches.length, wp.length);
    wp.forEach((p, i) => {
      const gp = g.patches[i];
      const pw = `${where} patch #${i}`;
      diff(out, pw, 'insn', gp?.insn, p.insn);
      diff(out, pw, 'insn_class', gp?.insn_class, p.insn_class);
      diff(out, pw, 'what', gp?.what, p.what);
      diff(out, pw, 'old', gp?.old, p.old);
      diff(out, pw, 'new', gp?.new, p.new);
    });
  }
  return out;
}

function sortKeys(o: Record<string, Json>): Record<string, Json> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

/** libbpf's CO-RE lines of a raw log (`D: libbpf: …` without the `libbpf: `). */
function coreLogLines(log: string): string[] {
  return log
    .split('\n')
    .filter((l) => /^[DW]: libbpf: /.test(l))
    .map((l) => l.replace(/^([DW]): libbpf: /, '$1: '))
    .filter((l) => /CO-RE relocat|: relo #\d+: |skipping CO-RE relocation/.test(l));
}

describe('oracle fixtures', () => {
  it('cover the seven objects on three kernels', () => {
    expect(OBJECTS).toHaveLength(7);
    expect(KERNELS.map((k) => k.kernelRelease)).toEqual(['6.1.0-47-amd64', '6.1.0-50-amd64', '6.12.117+deb13-amd64']);
  });
});

describe.each(KERNELS)('libbpf 1.7 on $distro/$release/$arch/$kernelRelease', (k) => {
  let vmlinux: Btf;
  beforeAll(async () => {
    vmlinux = await loadKernel(k);
  });

  it.each(OBJECTS)('%s: every relocation decided as libbpf did', async (name) => {
    const want = JSON.parse(await readXz(join(oracleDir(k), `${name}.dryrun.json.xz`))) as Record<string, Json>;
    const obj = readBpfObject(readFileSync(join(CORE_DIR, 'objects', `${name}.bpf.o`)));
    const got = coreDryRunJson(resolveCoreRelos(obj, { vmlinux }));
    const diffs = compareDryRun(`${name} on ${k.kernelRelease}`, got, want);
    expect(diffs, diffs.slice(0, 20).join('\n')).toEqual([]);
  });

  // fixtures/core/README.md: against `bpftool gen min_core_btf`'s output the decisions are the same, TYPE_ID_TARGET
  // values (ids of the minimized BTF) aside.
  const minimized = OBJECTS.filter((name) => existsSync(join(oracleDir(k), `${name}.min.btf`)));
  it.each(minimized)('%s: decides the same against its minimized BTF', (name) => {
    const minPath = join(oracleDir(k), `${name}.min.btf`);
    const obj = readBpfObject(readFileSync(join(CORE_DIR, 'objects', `${name}.bpf.o`)));
    const full = resolveCoreRelos(obj, { vmlinux });
    const min = resolveCoreRelos(obj, { vmlinux: Btf.parse(readFileSync(minPath)) });
    const view = (r: (typeof full.relocations)[number]): unknown[] => [
      r.section, r.idx, r.status, r.poisonedInsns, r.kind === CoreReloKind.TYPE_ID_TARGET ? 'id' : r.newValue, r.patches.map((p) => [p.insn, p.what]),
    ];
    expect(full.relocations.length).toBeGreaterThan(0);
    expect(min.result).toEqual(full.result);
    expect(min.relocations.map(view)).toEqual(full.relocations.map(view));
  });

  it.each(OBJECTS)('%s: the CO-RE debug log reads as libbpf\'s', async (name) => {
    const want = coreLogLines(await readXz(join(oracleDir(k), `${name}.libbpf.log.xz`)));
    const obj = readBpfObject(readFileSync(join(CORE_DIR, 'objects', `${name}.bpf.o`)));
    const got = resolveCoreRelos(obj, { vmlinux }).log.filter((l) => /CO-RE relocat|: relo #\d+: |skipping CO-RE relocation/.test(l));
    expect(want.length).toBeGreaterThan(0);
    expect(got).toEqual(want);
  });
});
