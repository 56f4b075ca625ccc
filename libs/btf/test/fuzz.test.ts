import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as lib from '@btf-atlas/btf';
import { Btf, BtfError, dumpC, dumpRawJson, extractBtf, swapBtfEndianness } from '@btf-atlas/btf';
import { corpusFile, corpusKernels, loadKernel } from './support/corpus.js';
import { writeElf } from './support/elf-writer.js';
import {
  type Mutation, Rng, copy, interestingU32, mutateBtf, mutateBytes, sliceBase, withLayoutSection, writeTar, writeXzStored,
} from './support/fuzz-inputs.js';

// Mutation fuzzing of real blobs: whatever the bytes, the library may only fail with a BtfError, and quickly.
// Every stage is run on its own (parse, full typed decode, bpftool JSON dump, byte-order swap, strict validation)
// so an error in one does not hide a crash in the next.
//
// Replay: a failure names its case seed; `FUZZ_REPLAY=<seed> npx vitest run libs/btf/test/fuzz.test.ts` runs
// only that case of each target. `FUZZ_SEED=<n>` changes the base seed (default fixed, so CI is repeatable),
// `FUZZ_SCALE=<x>` multiplies the number of cases.

/**
 * The strict validator, when the library exports it (written alongside this fuzzer): every parsed mutant is
 * also validated. Looked up by name so this file keeps working whatever the validator's module does.
 */
const validateBtf = (lib as unknown as Record<string, unknown>).validateBtf as ((btf: Btf) => unknown) | undefined;

const BASE_SEED = Number(process.env.FUZZ_SEED ?? 0x5eed1);
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const REPLAY = process.env.FUZZ_REPLAY === undefined ? undefined : Number(process.env.FUZZ_REPLAY);
/** No single case may take longer than this. */
const CASE_BUDGET_MS = 2000;

/** The seeds of a target's cases: derived from the base seed and the target's name. */
function caseSeeds(target: string, n: number): number[] {
  if (REPLAY !== undefined) return [REPLAY];
  let h = BASE_SEED >>> 0;
  for (const c of target) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return Array.from({ length: Math.round(n * SCALE) }, (_, i) => (h + Math.imul(i, 0x9e3779b1)) >>> 0);
}

class FuzzFailure extends Error {}

function describeCase(target: string, seed: number, steps: string[]): string {
  return `${target}, case seed ${seed} (replay: FUZZ_REPLAY=${seed}${process.env.FUZZ_SEED ? ` FUZZ_SEED=${BASE_SEED}` : ''}): ${steps.join('; ')}`;
}

/**
 * The library's last-resort wrappers turn a stray exception into a BtfError (Btf.parse: "unexpected read
 * failure", extractBtf: "cannot unpack"). They keep callers safe, but reaching them means a check is missing:
 * the fuzzer counts them as crashes.
 */
function isMaskedCrash(err: BtfError): boolean {
  return /^(unexpected read failure|cannot unpack):/.test(err.reason);
}

/** Runs `fn`; a BtfError is an expected outcome (its code is returned), anything else fails the case. */
function expectTyped<T>(stage: string, ctx: () => string, fn: () => T): T | BtfError {
  try {
    return fn();
  } catch (err) {
    if (err instanceof BtfError && isMaskedCrash(err)) {
      throw new FuzzFailure(`${stage} hit a last-resort wrapper: ${err.message}\n  in ${ctx()}\n${err.stack ?? ''}`);
    }
    if (err instanceof BtfError) return err;
    const e = err as Error;
    throw new FuzzFailure(`${stage} threw ${e?.name ?? typeof err} (not a BtfError): ${e?.message}\n  in ${ctx()}\n${e?.stack ?? ''}`);
  }
}

interface Outcome {
  parse: string;
  stages: string[];
}

/** Parse, decode every type, dump, swap (and reparse), validate. Returns the codes seen. */
function exercise(bytes: Uint8Array, base: Btf | undefined, swappedBase: Btf | undefined, doSwap: boolean, ctx: () => string): Outcome {
  const btf = expectTyped('Btf.parse', ctx, () => Btf.parse(bytes, { base }));
  if (btf instanceof BtfError) return { parse: btf.code, stages: [] };
  const stages: string[] = [];
  const code = (r: unknown): string => (r instanceof BtfError ? r.code : 'ok');
  stages.push(code(expectTyped('ownTypes', ctx, () => btf.ownTypes())));
  const dump = expectTyped('dumpRawJson', ctx, () => dumpRawJson(btf));
  stages.push(code(dump));
  if (validateBtf) stages.push(code(expectTyped('validateBtf', ctx, () => validateBtf(btf))));
  if (doSwap) {
    const swapped = expectTyped('swapBtfEndianness', ctx, () => swapBtfEndianness(btf));
    if (!(swapped instanceof BtfError)) {
      // What parsed in one byte order parses in the other, and dumps the same.
      const be = expectTyped('Btf.parse (swapped)', ctx, () => Btf.parse(swapped, { base: swappedBase }));
      if (be instanceof BtfError) throw new FuzzFailure(`swapped blob does not parse: ${be.message}\n  in ${ctx()}`);
      const beDump = expectTyped('dumpRawJson (swapped)', ctx, () => dumpRawJson(be));
      if (dump instanceof BtfError !== beDump instanceof BtfError || (!(dump instanceof BtfError) && Buffer.compare(Buffer.from(dump), Buffer.from(beDump as Uint8Array)) !== 0)) {
        throw new FuzzFailure(`swapped blob dumps differently\n  in ${ctx()}`);
      }
    }
  }
  return { parse: 'ok', stages };
}

function timed<T>(ctx: () => string, fn: () => T): T {
  const t0 = performance.now();
  const r = fn();
  const dt = performance.now() - t0;
  if (dt > CASE_BUDGET_MS) throw new FuzzFailure(`case took ${dt.toFixed(0)} ms (budget ${CASE_BUDGET_MS} ms)\n  in ${ctx()}`);
  return r;
}

async function timedAsync<T>(ctx: () => string, fn: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FuzzFailure(`case did not finish within ${CASE_BUDGET_MS} ms\n  in ${ctx()}`)), CASE_BUDGET_MS);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface RawTarget {
  name: string;
  bytes: Uint8Array;
  btf: Btf;
  base?: Btf;
  swappedBase?: Btf;
  cases: number;
}

const kernels = corpusKernels();
const k61 = kernels.find((k) => k.kernelRelease === '6.1.0-50-amd64' && k.modules.length > 0) ?? kernels.find((k) => k.modules.length > 0)!;
const k612 = kernels.find((k) => k.kernelRelease.startsWith('6.12') && k.modules.length > 0) ?? k61;

const raw: RawTarget[] = [];
let slice: Uint8Array;
let sliceBtf: Btf;
let moduleBytes: Uint8Array;

beforeAll(async () => {
  const base61 = await loadKernel(k61);
  const base612 = await loadKernel(k612);
  const swapped61 = Btf.parse(swapBtfEndianness(base61));
  const swapped612 = Btf.parse(swapBtfEndianness(base612));
  const mod = (k: typeof k61, name: string): Uint8Array => corpusFile(k.modules.find((m) => m.name === name)!.archive);
  moduleBytes = mod(k61, 'kvm_intel');
  slice = sliceBase(base61, 1500);
  sliceBtf = Btf.parse(slice);
  const layout = withLayoutSection(slice);
  const mk = (name: string, bytes: Uint8Array, cases: number, base?: Btf, swappedBase?: Btf): RawTarget => ({
    name, bytes, btf: Btf.parse(bytes, { base }), base, swappedBase, cases,
  });
  raw.push(
    mk(`${k61.kernelRelease}/kvm_intel on its vmlinux`, moduleBytes, 3000, base61, swapped61),
    mk(`${k612.kernelRelease}/nf_conntrack on its vmlinux`, mod(k612, 'nf_conntrack'), 2000, base612, swapped612),
    mk(`first 1500 types of ${k61.kernelRelease}`, slice, 3000),
    mk(`first 1500 types of ${k61.kernelRelease}, 32-byte header and layout section`, layout, 1500),
  );
  // A big-endian target: the slice swapped.
  raw.push(mk(`first 1500 types of ${k61.kernelRelease}, big-endian`, swapBtfEndianness(sliceBtf), 1000));
});

describe('fuzz: mutated raw BTF fails only with BtfError', () => {
  it('the unmutated inputs parse, decode, dump and validate', () => {
    for (const t of raw) {
      const out = exercise(t.bytes, t.base, t.swappedBase, true, () => t.name);
      expect(out.parse, t.name).toBe('ok');
      // Decode and dump succeed; the kernel-strict validator may refuse the slices (members cut to void).
      expect(out.stages.slice(0, 2), t.name).toEqual(['ok', 'ok']);
      if (t.base) expect(out.stages, t.name).toEqual(validateBtf ? ['ok', 'ok', 'ok'] : ['ok', 'ok']);
    }
  });

  for (const i of [0, 1, 2, 3, 4]) {
    it(`mutations of raw target #${i}`, () => {
      const t = raw[i];
      const seen = new Map<string, number>();
      for (const seed of caseSeeds(t.name, t.cases)) {
        const rng = new Rng(seed);
        const steps: string[] = [];
        const ctx = (): string => describeCase(t.name, seed, steps);
        let bytes = t.bytes;
        const n = 1 + rng.int(3);
        for (let j = 0; j < n; j++) {
          // Structure-aware mutations use the unmutated index: offsets stay meaningful for the first step.
          const m: Mutation = rng.chance(0.5) ? mutateBtf(rng, t.btf, bytes) : mutateBytes(rng, bytes, t.btf.littleEndian);
          steps.push(m.what);
          bytes = m.bytes;
        }
        const out = timed(ctx, () => exercise(bytes, t.base, t.swappedBase, rng.chance(0.25), ctx));
        const key = [out.parse, ...out.stages].join('/');
        seen.set(key, (seen.get(key) ?? 0) + 1);
      }
      // Mutants must reach past the parser, or the decoder and dumper go untested.
      if (REPLAY === undefined) {
        const reachedDecode = [...seen].filter(([k]) => k.startsWith('ok/')).reduce((a, [, v]) => a + v, 0);
        expect(reachedDecode, JSON.stringify([...seen])).toBeGreaterThan(t.cases * SCALE * 0.2);
      }
    });
  }
});

describe('fuzz: mutated containers fail only with BtfError', () => {
  interface ContainerTarget {
    name: string;
    bytes: () => Uint8Array;
    cases: number;
  }
  const targets: ContainerTarget[] = [
    { name: 'gzip', bytes: () => gzipSync(slice), cases: 600 },
    { name: 'xz', bytes: () => writeXzStored(slice), cases: 300 },
    {
      name: 'tar',
      bytes: () => writeTar([{ name: 'k.btf', data: slice }, { name: 'k/modules/kvm_intel.btf', data: moduleBytes }]),
      cases: 600,
    },
    { name: 'tar.gz', bytes: () => gzipSync(writeTar([{ name: 'k.btf', data: slice }])), cases: 300 },
    { name: 'tar.xz', bytes: () => writeXzStored(writeTar([{ name: 'k.btf', data: slice }])), cases: 200 },
    { name: 'elf64 le', bytes: () => writeElf({ bits: 64, littleEndian: true, sections: [{ name: '.text', data: new Uint8Array(8) }, { name: '.BTF', data: slice }] }), cases: 600 },
    { name: 'elf32 be', bytes: () => writeElf({ bits: 32, littleEndian: false, sections: [{ name: '.BTF', data: swapBtfEndianness(sliceBtf) }] }), cases: 600 },
  ];

  for (const t of targets) {
    it(`mutations of ${t.name}`, async () => {
      const input = t.bytes();
      // The unmutated container gives the blob back.
      const blobs = await extractBtf(input, t.name);
      expect(blobs.length).toBeGreaterThan(0);
      const le = t.name !== 'elf32 be';
      for (const seed of caseSeeds(t.name, t.cases)) {
        const rng = new Rng(seed);
        const steps: string[] = [];
        const ctx = (): string => describeCase(t.name, seed, steps);
        let bytes = input;
        const n = 1 + rng.int(2);
        for (let j = 0; j < n; j++) {
          const m = mutateBytes(rng, bytes, le);
          steps.push(m.what);
          bytes = m.bytes;
        }
        await timedAsync(ctx, async () => {
          let found: lib.BtfBlob[];
          try {
            found = await extractBtf(bytes, t.name);
          } catch (err) {
            if (err instanceof BtfError && !isMaskedCrash(err)) return;
            const e = err as Error;
            throw new FuzzFailure(`extractBtf threw ${e?.name} (not a BtfError): ${e?.message}\n  in ${ctx()}\n${e?.stack ?? ''}`);
          }
          let vmlinux: Btf | undefined;
          for (const b of found) {
            if (b.role === 'vmlinux') {
              const r = expectTyped('Btf.parse', ctx, () => Btf.parse(b.bytes));
              if (!(r instanceof BtfError)) vmlinux = r;
              exercise(b.bytes, undefined, undefined, false, ctx);
            } else if (vmlinux) {
              exercise(b.bytes, vmlinux, undefined, false, ctx);
            }
          }
        });
      }
    });
  }
});

describe('fuzz: fast-check properties', () => {
  it('any header field value gives a BtfError or a usable blob', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            field: fc.constantFrom(4, 8, 12, 16, 20),
            value: fc.oneof(fc.constantFrom(0, 1, 4, 12, 24, 0xffffffff, 0x7fffffff, 0x80000000), fc.nat({ max: slice.length + 64 }), fc.nat()),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        (edits) => {
          const bytes = copy(slice);
          const dv = new DataView(bytes.buffer);
          for (const e of edits) dv.setUint32(e.field, e.value >>> 0, true);
          const ctx = (): string => `header edits ${JSON.stringify(edits)}`;
          timed(ctx, () => exercise(bytes, undefined, undefined, true, ctx));
        },
      ),
      { numRuns: Math.round(800 * SCALE) },
    );
  });

  it('any info word on any type gives a BtfError or a usable blob', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: sliceBtf.ownTypeCount - 1 }),
        fc.nat({ max: 31 }),
        fc.oneof(fc.constantFrom(0, 1, 2, 0xffff), fc.nat({ max: 0xffff })),
        fc.boolean(),
        fc.oneof(fc.constant(-1), fc.nat()),
        (index, kind, vlen, kflag, sizeOrType) => {
          const bytes = copy(slice);
          const dv = new DataView(bytes.buffer);
          const off = sliceBtf.offsets[index];
          dv.setUint32(off + 4, ((kflag ? 0x80000000 : 0) | (kind << 24) | vlen) >>> 0, true);
          if (sizeOrType >= 0) dv.setUint32(off + 8, interestingU32(new Rng(sizeOrType), bytes.length), true);
          const ctx = (): string => `type [${index + 1}] kind ${kind} vlen ${vlen} kflag ${kflag} size/type seed ${sizeOrType}`;
          timed(ctx, () => exercise(bytes, undefined, undefined, true, ctx));
        },
      ),
      { numRuns: Math.round(800 * SCALE) },
    );
  });
});

describe('fuzz: saved crashers', () => {
  // Inputs `npm run fuzz` found (fixtures/fuzz/README.md says what each broke): BtfError only, and quickly.
  const dir = new URL('./fixtures/fuzz/', import.meta.url);
  const files = readdirSync(dir).filter((f) => f.endsWith('.btf'));

  it('has saved inputs', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  for (const file of files) {
    it(`${file}: parse, decode, dump, validate and vmlinux.h give a BtfError or an answer, within a second each`, () => {
      const bytes = new Uint8Array(readFileSync(new URL(file, dir)));
      const ctx = (): string => file;
      const stages: [string, (btf: Btf) => unknown][] = [
        ['ownTypes', (b) => b.ownTypes()],
        ['dumpRawJson', (b) => dumpRawJson(b)],
        ['dumpC', (b) => dumpC(b)],
      ];
      if (validateBtf) stages.push(['validateBtf', (b) => validateBtf(b)]);
      const btf = expectTyped('Btf.parse', ctx, () => Btf.parse(bytes));
      if (btf instanceof BtfError) return;
      for (const [stage, fn] of stages) {
        const t0 = performance.now();
        const r = expectTyped(stage, ctx, () => fn(btf));
        expect(performance.now() - t0, `${file}: ${stage}`).toBeLessThan(1000);
        if (stage === 'dumpC' && typeof r === 'string') expect(r.length, `${file}: vmlinux.h of ${bytes.length} bytes`).toBeLessThan(1024 * 1024 + 8 * bytes.length);
      }
    });
  }
});
