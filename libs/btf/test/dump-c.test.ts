import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { Btf, BtfError, type BtfType, dumpC, readElfSections, unxz } from '@btf-atlas/btf';
import { BtfBuilder } from './support/builder.js';
import { corpusKernels, corpusOracle, loadKernel, loadModule, type CorpusKernel } from './support/corpus.js';
// The fixture builder's own reading of a header, so that bpftool's lists and ours are made alike.
import { declaredNames } from '../../../scripts/make-vmlinux-h-names.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const NAMES_DIR = join(ROOT, 'fixtures/vmlinux-h');
const kernels = corpusKernels();

/** dumpC of each corpus kernel, made once per file. */
const headers = new Map<string, Promise<string>>();
function headerOf(k: CorpusKernel): Promise<string> {
  let h = headers.get(k.archive);
  if (!h) {
    h = loadKernel(k).then((btf) => dumpC(btf));
    headers.set(k.archive, h);
  }
  return h;
}

/** The first differing line of two texts with a few lines of context, or undefined when equal. */
function firstLineDifference(actual: string, expected: string): string | undefined {
  if (actual === expected) return undefined;
  const a = actual.split('\n');
  const e = expected.split('\n');
  let i = 0;
  while (i < a.length && i < e.length && a[i] === e[i]) i++;
  const from = Math.max(0, i - 3);
  const show = (lines: string[]): string => lines.slice(from, i + 4).map((l, k) => `  ${from + k + 1}: ${l}`).join('\n');
  return `first difference at line ${i + 1} (${a.length} lines vs ${e.length})\ngot:\n${show(a)}\nwant:\n${show(e)}`;
}

async function readXzNames(rel: string): Promise<string[]> {
  return Buffer.from(await unxz(readFileSync(join(NAMES_DIR, rel)))).toString('utf8').split('\n').filter((l) => l !== '');
}

/** `a` without the members of `b` (as multisets). */
function minus(a: string[], b: string[]): string[] {
  const left = new Map<string, number>();
  for (const x of b) left.set(x, (left.get(x) ?? 0) + 1);
  return a.filter((x) => {
    const n = left.get(x) ?? 0;
    if (n > 0) left.set(x, n - 1);
    return n === 0;
  });
}

/**
 * Compares the named types two headers declare, as far as it does not depend on the order of emission: struct,
 * union and enum tags share one C namespace (as typedefs share one with enumerators), and libbpf gives the
 * `___2` suffix to whichever same-named type it meets second, which bpftool 7.1 (id order) and 7.5 (sorted) meet
 * in different orders. So: the same `KIND NAME` lines once suffixes are removed (as multisets), and the same
 * names with suffixes whatever their kind.
 */
function namesDifference(got: string[], want: string[]): string | undefined {
  const base = (l: string): string => l.replace(/___[0-9]+$/, '');
  const name = (l: string): string => l.slice(l.indexOf(' ') + 1);
  const report = (what: string, g: string[], w: string[]): string | undefined => {
    const extra = minus(g, w);
    const missing = minus(w, g);
    if (extra.length === 0 && missing.length === 0) return undefined;
    return `${what}: ${extra.length} only in btf-atlas' header (${extra.slice(0, 8).join(', ')}), ${missing.length} only in bpftool's (${missing.slice(0, 8).join(', ')})`;
  };
  return (
    report('declarations', got.map(base), want.map(base)) ??
    report('names', [...new Set(got.map(name))], [...new Set(want.map(name))])
  );
}

describe('dumpC equals bpftool 7.5', () => {
  it('byte for byte on debian/12/x86_64/6.1.0-50-amd64 (vmlinux.h oracle)', async () => {
    const k = kernels.find((x) => x.kernelRelease === '6.1.0-50-amd64' && x.arch === 'x86_64');
    expect(k, 'corpus kernel 6.1.0-50-amd64').toBeDefined();
    const want = Buffer.from(await corpusOracle('oracle/debian/12/x86_64/6.1.0-50-amd64.vmlinux.h.xz')).toString('utf8');
    const diff = firstLineDifference(await headerOf(k as CorpusKernel), want);
    expect(diff, diff).toBeUndefined();
  });
});

describe('dumpC declares the named types bpftool declares (fixtures/vmlinux-h, bpftool 7.1)', () => {
  for (const k of kernels) {
    const rel = `${k.distro}/${k.release}/${k.arch}/${k.kernelRelease}`;
    it(rel, async () => {
      const diff = namesDifference(declaredNames(await headerOf(k)), await readXzNames(`${rel}.names.txt.xz`));
      expect(diff, diff).toBeUndefined();
    });
    for (const m of k.modules) {
      it(`${rel} module ${m.name} (split BTF on its kernel, like bpftool -B)`, async () => {
        const kernelNames = await readXzNames(`${rel}.names.txt.xz`);
        const delta = await readXzNames(`${rel}/modules/${m.name}.names.diff.txt.xz`);
        const removed = new Set(delta.filter((l) => l.startsWith('- ')).map((l) => l.slice(2)));
        const want = [...kernelNames.filter((n) => !removed.has(n)), ...delta.filter((l) => l.startsWith('+ ')).map((l) => l.slice(2))];
        const header = dumpC(await loadModule(k, m));
        const diff = namesDifference(declaredNames(header), want);
        expect(diff, diff).toBeUndefined();
      });
    }
  }
});

describe('dumpC on bad input', () => {
  const badDir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/bad');
  const expected = JSON.parse(readFileSync(join(badDir, 'expected.json'), 'utf8')) as Record<string, { stage: string }>;

  it('throws only BtfError (a type cycle is BTF_TYPE_LOOP) on BTF that parses but the kernel would refuse', () => {
    for (const [file, e] of Object.entries(expected)) {
      if (e.stage !== 'validate') continue;
      const btf = Btf.parse(readFileSync(join(badDir, file)));
      try {
        dumpC(btf);
      } catch (err) {
        expect(err, file).toBeInstanceOf(BtfError);
      }
    }
    expect(() => dumpC(Btf.parse(readFileSync(join(badDir, 'typedef-cycle.btf'))))).toThrow(expect.objectContaining({ code: 'BTF_TYPE_LOOP' }) as Error);
  });

  /** The error code dumpC throws on a blob, and how long it took. */
  const outcome = (bytes: Uint8Array, opts: Parameters<typeof dumpC>[1] = {}): { code: string; ms: number } => {
    const started = performance.now();
    try {
      dumpC(Btf.parse(bytes), opts);
      return { code: 'ok', ms: performance.now() - started };
    } catch (err) {
      expect(err).toBeInstanceOf(BtfError);
      return { code: (err as BtfError).code, ms: performance.now() - started };
    }
  };

  it('stops hostile BTF that asks for exponential work or output (BTF_LIMIT_EXCEEDED), quickly', () => {
    // A struct of 20,000 members, each a pointer to one 65,535-parameter prototype: libbpf's walk (and ours)
    // revisits the prototype for every member.
    const a = new BtfBuilder();
    const int = a.int('int', 4);
    const wide = a.ptr(a.funcProto(int, Array.from({ length: 65535 }, () => ({ type: int }))));
    a.struct('s', 8 * 20000, Array.from({ length: 20000 }, (_, i) => ({ name: `m${i}`, type: wide, bitsOffset: 64 * i })));
    const walk = outcome(a.build());
    expect(walk.code, 'wide').toBe('BTF_LIMIT_EXCEEDED');
    // Prototypes of 150 parameters that each point at the next, four deep: 150^4 declarator steps.
    const b = new BtfBuilder();
    const bInt = b.int('int', 4);
    let proto = b.funcProto(bInt, [{ type: bInt }]);
    for (let level = 0; level < 4; level++) proto = b.funcProto(bInt, Array.from({ length: 150 }, () => ({ type: b.ptr(proto) })));
    b.typedef('deep_t', b.ptr(proto));
    const nested = outcome(b.build(), { maxOutputLength: 1 << 20 });
    expect(nested.code, 'nested').toBe('BTF_LIMIT_EXCEEDED');
    // One enum of 65,535 values with 1 KB names, against a 1 MiB limit.
    const c = new BtfBuilder();
    // bpftool 7.5 (and dumpC) never dump the type sorted first: let that be a small anonymous enum.
    c.enum(undefined, 4, [['AAA_FIRST', 0]]);
    c.enum('big', 4, Array.from({ length: 65535 }, (_, i) => [`${'E'.repeat(1000)}_${i}`, i] as [string, number]));
    expect(outcome(c.build(), { maxOutputLength: 1 << 20 }).code, 'enum').toBe('BTF_LIMIT_EXCEEDED');
    for (const o of [walk, nested]) expect(o.ms).toBeLessThan(10_000);
  });

  it('refuses nesting deeper than its walk limit with BTF_TYPE_LOOP instead of overflowing the stack', () => {
    const b = new BtfBuilder();
    let t = b.int('int', 4);
    for (let i = 0; i < 1500; i++) t = b.struct(undefined, 4, [{ name: 'm', type: t, bitsOffset: 0 }]);
    b.struct('outer', 4, [{ name: 'x', type: t, bitsOffset: 0 }]);
    expect(outcome(b.build()).code).toBe('BTF_TYPE_LOOP');
  });

  it('throws only BtfError on byte-flipped blobs', () => {
    const good = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'fixtures/good/small.btf'));
    let seed = 0x2545f491;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let c = 0; c < 1500; c++) {
      const bytes = Uint8Array.from(good);
      for (let f = 1 + rnd(4); f > 0; f--) bytes[24 + rnd(bytes.length - 24)] = rnd(256);
      let btf: Btf;
      try {
        btf = Btf.parse(bytes);
      } catch {
        continue;
      }
      try {
        // a flipped struct size asks for megabytes of padding: keep each case small
        dumpC(btf, { maxOutputLength: 1 << 20 });
      } catch (err) {
        if (!(err instanceof BtfError)) throw new Error(`case ${c}: ${(err as Error).stack}`);
      }
    }
  });
});

// ---- clang: the header compiles, and CO-RE reads through it relocate ----

const CLANG = spawnSync('clang', ['--version'], { encoding: 'utf8' }).status === 0 ? 'clang' : undefined;
const execFileAsync = promisify(execFile);
const tmp = mkdtempSync(join(tmpdir(), 'btf-atlas-dump-c-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Resolves typedefs, qualifiers and type tags. */
function resolve(btf: Btf, id: number): BtfType | undefined {
  for (let i = 0; i < 64 && id !== 0; i++) {
    const t = btf.type(id);
    if (t.kind !== 'TYPEDEF' && t.kind !== 'CONST' && t.kind !== 'VOLATILE' && t.kind !== 'RESTRICT' && t.kind !== 'TYPE_TAG') return t;
    id = t.type;
  }
  return undefined;
}

/**
 * A member of `struct pt_regs` that C reaches as `regs->NAME` (through anonymous members) and that holds a
 * scalar: the stack pointer where there is one (`sp` on x86 and arm64), else the first such member. Chosen from
 * the kernel's own BTF, so any architecture works.
 */
function ptRegsField(btf: Btf): string {
  let regs: BtfType | undefined;
  for (let id = 1; id < btf.nextId && !regs; id++) {
    const t = btf.type(id);
    if (t.kind === 'STRUCT' && t.name === 'pt_regs' && t.members.length > 0) regs = t;
  }
  if (!regs || regs.kind !== 'STRUCT') throw new Error('no struct pt_regs in the kernel');
  const names: string[] = [];
  const walk = (members: { name: string; type: number }[]): void => {
    for (const m of members) {
      const t = resolve(btf, m.type);
      if (m.name === '' && t && (t.kind === 'STRUCT' || t.kind === 'UNION')) walk(t.members);
      else if (m.name !== '' && t && (t.kind === 'INT' || t.kind === 'PTR' || t.kind === 'ENUM')) names.push(m.name);
    }
  };
  walk(regs.members);
  if (names.length === 0) throw new Error('struct pt_regs has no scalar member');
  return names.includes('sp') ? 'sp' : names[0];
}

/** A CO-RE program in the style of libbpf's BPF_CORE_READ, with the few definitions it needs written out. */
function coreProgram(regsField: string): string {
  return `#include "vmlinux.h"

#define SEC(name) __attribute__((section(name), used))
/* helpers 113 and 35, as libbpf's bpf_helper_defs.h declares them */
static long (*bpf_probe_read_kernel)(void *dst, unsigned int size, const void *unsafe_ptr) = (void *)113;
static unsigned long long (*bpf_get_current_task)(void) = (void *)35;
/* BPF_CORE_READ_INTO of one field: the address is relocated against the running kernel */
#define CORE_READ_INTO(dst, src, field) \\
	bpf_probe_read_kernel((void *)(dst), sizeof(*(dst)), (const void *)__builtin_preserve_access_index(&(src)->field))
#define core_field_exists(field) __builtin_preserve_field_info(field, 2)

SEC("kprobe/do_nanosleep")
int read_task(struct pt_regs *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct *parent = 0;
	int pid = 0, ppid = 0;
	__typeof__(ctx->${regsField}) reg;

	CORE_READ_INTO(&reg, ctx, ${regsField});
	CORE_READ_INTO(&pid, task, pid);
	CORE_READ_INTO(&parent, task, real_parent);
	CORE_READ_INTO(&ppid, parent, tgid);
	if (!core_field_exists(task->tgid))
		return 1;
	return pid + ppid + (int)sizeof(reg);
}

SEC("tp_btf/kfree_skb")
int read_skb(unsigned long long *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx[0];
	struct net_device *dev = 0;
	unsigned int len = 0;
	int ifindex = 0;

	CORE_READ_INTO(&len, skb, len);
	CORE_READ_INTO(&dev, skb, dev);
	CORE_READ_INTO(&ifindex, dev, ifindex);
	return len + ifindex;
}

char LICENSE[] SEC("license") = "GPL";
`;
}

/** CO-RE relocation records in a BPF object: the core_relo_len of its .BTF.ext header (btf.rst, ".BTF.ext"). */
function coreReloBytes(obj: Uint8Array): number {
  const ext = readElfSections(obj).find((s) => s.name === '.BTF.ext');
  if (!ext) return 0;
  const dv = new DataView(obj.buffer, obj.byteOffset + ext.offset, ext.size);
  const hdrLen = dv.getUint32(4, true);
  return hdrLen >= 32 ? dv.getUint32(28, true) : 0;
}

describe('the header compiles with clang -target bpf and CO-RE reads relocate', () => {
  if (!CLANG && !process.env.CI) {
    console.warn('dump-c.test.ts: clang not found, skipping the compile test (CI installs clang and runs it)');
    it.skip('needs clang');
    return;
  }
  it(`for every corpus kernel (${kernels.length}), compiled in parallel`, async () => {
    if (!CLANG) throw new Error('clang is not installed, but CI must run this test: install clang (.ci/run does)');
    const jobs = kernels.map(async (k, i) => {
      const dir = join(tmp, String(i));
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      const btf = await loadKernel(k);
      writeFileSync(join(dir, 'vmlinux.h'), await headerOf(k));
      writeFileSync(join(dir, 'prog.bpf.c'), coreProgram(ptRegsField(btf)));
      const obj = join(dir, 'prog.bpf.o');
      try {
        await execFileAsync(CLANG, ['-target', 'bpf', '-O2', '-g', '-Werror', '-c', join(dir, 'prog.bpf.c'), '-o', obj], { cwd: dir, maxBuffer: 1 << 24 });
      } catch (err) {
        const e = err as { stderr?: string; message: string };
        throw new Error(`${k.archive}: clang failed: ${(e.stderr ?? e.message).slice(0, 3000)}`);
      }
      const relo = coreReloBytes(readFileSync(obj));
      expect(relo, `${k.archive}: CO-RE relocations in .BTF.ext`).toBeGreaterThan(0);
    });
    await Promise.all(jobs);
  }, 240_000);
});
