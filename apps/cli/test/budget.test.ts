/**
 * Issue 13: one budget per input. Hostile inputs are generated here (never committed; nothing big is written to
 * disk but a sparse file), the built CLI is run on them, and each refusal is checked with its bounds: exit status,
 * the coded line, wall time and the peak RSS of the CLI process (VmHWM from /proc).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, closeSync, openSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wasmEncode } from '@btf-atlas/catalog/xz-encoder';
import { BIN, REPO } from './support.js';

/** gzip of `prefix` followed by `zeros` zero bytes, compressed as a stream (the plain bytes are never in memory). */
export async function gzipOfZeros(prefix: Uint8Array, zeros: number): Promise<Buffer> {
  const z = createGzip({ level: 9 });
  const out: Buffer[] = [];
  z.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<void>((resolve, reject) => {
    z.on('end', resolve);
    z.on('error', reject);
  });
  const block = Buffer.alloc(4 * 1024 * 1024);
  const write = (b: Buffer): Promise<void> => new Promise((resolve) => (z.write(b) ? resolve() : z.once('drain', resolve)));
  await write(Buffer.from(prefix));
  for (let left = zeros; left > 0; left -= block.length) await write(left >= block.length ? block : block.subarray(0, left));
  z.end();
  await done;
  return Buffer.concat(out);
}

/** A ustar archive of regular files (and directories, for names ending in `/`). */
export function tarOf(members: { name: string; data?: Uint8Array }[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    const dir = m.name.endsWith('/');
    const data = m.data ?? new Uint8Array(0);
    const h = Buffer.alloc(512);
    h.write(m.name, 0, 100, 'utf8');
    h.write(dir ? '0000755\0' : '0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write(dir ? '5' : '0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    parts.push(h, Buffer.from(data), Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** A 24-byte little-endian BTF header declaring an empty type section and a one-byte string section (25 bytes in all). */
export function tinyBtfHeader(): Uint8Array {
  const h = new Uint8Array(25);
  const dv = new DataView(h.buffer);
  dv.setUint16(0, 0xeb9f, true);
  h[2] = 1;
  dv.setUint32(4, 24, true);
  dv.setUint32(20, 1, true);
  return h;
}

export interface Measured {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Peak resident set of the CLI process (VmHWM), in MB. */
  peakMb: number;
  ms: number;
}

/** The VmHWM line of /proc/PID/status, in kB; 0 once the process is gone. */
function vmHwmKb(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs the built CLI and samples its peak RSS (VmHWM, a high-water mark: a sample taken any time before the exit
 * sees every earlier peak) every 5 ms until it exits. Killed after `timeoutMs`.
 */
export function runMeasured(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Measured> {
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let peakKb = 0;
  const poll = setInterval(() => (peakKb = Math.max(peakKb, vmHwmKb(child.pid!))), 5);
  const killer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  return new Promise((resolve) => {
    child.on('exit', (status) => {
      clearInterval(poll);
      clearTimeout(killer);
      const ms = performance.now() - started;
      child.on('close', () => {
        // The figures each bound is checked against, for the record.
        console.log(`${args.join(' ')}: exit ${status}, ${Math.round(ms)} ms, peak RSS ${(peakKb / 1024).toFixed(0)} MB`);
        resolve({ status, stdout, stderr, peakMb: peakKb / 1024, ms });
      });
    });
  });
}

const MiB = 1024 * 1024;
/** What a refusal may cost at most: peak RSS of the CLI (a bare `validate` of a small file is ~70 MB). */
const RSS_BOUND_MB = 300;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-budget-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The code of the CLI's one error line (`btf-atlas: CODE: …`). */
function codeOf(stderr: string): string | undefined {
  return /^btf-atlas: ([A-Z_]+):/m.exec(stderr)?.[1];
}

describe('validate refuses bombs within a bounded budget', () => {
  it('the 3.5 KB .btf.tar.xz of 8 gzip members of 400 MiB each (btf header, then zeros) is refused at its first member', async () => {
    // The probe: every member decodes to 400 MiB that start like BTF, so all eight used to be kept (3.7 GB).
    const member = await gzipOfZeros(tinyBtfHeader(), 400 * MiB);
    const tar = tarOf(Array.from({ length: 8 }, (_, i) => ({ name: `m${i}.btf.gz`, data: member })));
    const file = join(dir, 'probe.btf.tar.xz');
    writeFileSync(file, await wasmEncode(tar, 6));
    expect(statSync(file).size).toBeLessThan(8 * 1024);
    const r = await runMeasured(['validate', file]);
    expect(r.status, r.stderr).toBe(1);
    expect(codeOf(r.stderr), r.stderr).toBe('BTF_BAD_SECTION');
    expect(r.stderr).toContain('probe.btf.tar.xz:m0.btf.gz');
    expect(r.stderr).toContain('unknown data after the last section (the header declares 25 bytes)');
    expect(r.peakMb, `peak RSS ${r.peakMb.toFixed(0)} MB`).toBeLessThan(RSS_BOUND_MB);
    expect(r.ms).toBeLessThan(5_000);
  });

  it('8 gzip members of 400 MiB each that are read and dropped are stopped by the total: 512 MiB for the whole input', async () => {
    // Each member is a tarball holding a folder, then 400 MiB of zero blocks: nothing in it is kept, so only the
    // budget over all members can stop the input (each member alone is under any per-stream limit).
    const member = await gzipOfZeros(tarOf([{ name: 'empty/' }]).subarray(0, 512), 400 * MiB);
    const tar = tarOf(Array.from({ length: 8 }, (_, i) => ({ name: `m${i}.tar.gz`, data: member })));
    const file = join(dir, 'cumulative.btf.tar.xz');
    writeFileSync(file, await wasmEncode(tar, 6));
    const r = await runMeasured(['validate', file]);
    expect(r.status, r.stderr).toBe(1);
    expect(codeOf(r.stderr), r.stderr).toBe('ARCHIVE_TOO_LARGE');
    // The second member passes 512 MiB, inside the folder's tarball: m0, its folder, m1 and its folder were counted.
    expect(r.stderr).toContain('cumulative.btf.tar.xz: expands past 512 MiB in total (member m1.tar.gz:empty/, after 4 members)');
    expect(r.peakMb, `peak RSS ${r.peakMb.toFixed(0)} MB`).toBeLessThan(RSS_BOUND_MB);
    expect(r.ms).toBeLessThan(15_000);
  });

  it('containers nested past the depth limit are refused before the innermost is decoded', async () => {
    let bytes: Buffer = Buffer.from(tinyBtfHeader());
    for (let i = 0; i < 5; i++) bytes = await gzipOfZeros(bytes, 0);
    const file = join(dir, 'nested.btf.gz');
    writeFileSync(file, bytes);
    const r = await runMeasured(['validate', file]);
    expect(r.status, r.stderr).toBe(1);
    expect(codeOf(r.stderr), r.stderr).toBe('BTF_BAD_CONTAINER');
    expect(r.stderr).toContain('containers nested deeper than 4 levels');
    // Four levels are fine.
    let four: Buffer = readFileSync(join(REPO, 'libs/btf/test/fixtures/good/small.btf'));
    for (let i = 0; i < 4; i++) four = await gzipOfZeros(four, 0);
    writeFileSync(file, four);
    const ok = await runMeasured(['validate', file]);
    expect(ok.status, ok.stderr).toBe(0);
  });
});

describe('validate reads files under one cap', () => {
  it('a sparse 1.5 GB file is refused from its size, before any byte is read', async () => {
    const file = join(dir, 'sparse.btf');
    closeSync(openSync(file, 'w'));
    truncateSync(file, 1536 * MiB);
    const r = await runMeasured(['validate', file]);
    expect(r.status, r.stderr).toBe(1);
    expect(codeOf(r.stderr), r.stderr).toBe('INPUT_TOO_LARGE');
    expect(r.stderr).toContain('file of 1610612736 bytes is larger than the 1073741824-byte input limit (refused before reading)');
    expect(r.peakMb).toBeLessThan(150);
    expect(r.ms).toBeLessThan(3_000);
  });

  it('a FIFO fed from /dev/zero is refused from its first bytes', async () => {
    const fifo = join(dir, 'zero.fifo');
    const feeder = feedFifo(fifo, 'zeros');
    try {
      const r = await runMeasured(['validate', fifo]);
      expect(r.status, r.stderr).toBe(1);
      expect(codeOf(r.stderr), r.stderr).toBe('BTF_UNKNOWN_FORMAT');
      expect(r.peakMb).toBeLessThan(150);
      expect(r.ms).toBeLessThan(5_000);
    } finally {
      feeder.kill('SIGKILL');
    }
  });

  it('a FIFO fed with an endless gzip stream of zeros is stopped by the budget, memory flat', async () => {
    const fifo = join(dir, 'gzip.fifo');
    const feeder = feedFifo(fifo, 'gzip');
    try {
      const r = await runMeasured(['validate', fifo]);
      expect(r.status, r.stderr).toBe(1);
      expect(codeOf(r.stderr), r.stderr).toBe('ARCHIVE_TOO_LARGE');
      expect(r.stderr).toContain('expands past 512 MiB in total');
      expect(r.peakMb, `peak RSS ${r.peakMb.toFixed(0)} MB`).toBeLessThan(RSS_BOUND_MB);
      expect(r.ms).toBeLessThan(20_000);
    } finally {
      feeder.kill('SIGKILL');
    }
  });

  it('a FIFO fed with a btf header and endless zeros is refused once the declared length is passed', async () => {
    const fifo = join(dir, 'btf.fifo');
    const feeder = feedFifo(fifo, 'btf');
    try {
      const r = await runMeasured(['validate', fifo]);
      expect(r.status, r.stderr).toBe(1);
      expect(codeOf(r.stderr), r.stderr).toBe('BTF_BAD_SECTION');
      expect(r.peakMb).toBeLessThan(150);
      expect(r.ms).toBeLessThan(5_000);
    } finally {
      feeder.kill('SIGKILL');
    }
  });
});

/**
 * Makes a FIFO and starts a process writing into it forever: zeros, a gzip stream of zeros, or a tiny BTF header
 * followed by zeros. It ends with EPIPE when the reader goes away (or is killed by the test).
 */
function feedFifo(path: string, what: 'zeros' | 'gzip' | 'btf'): ChildProcess {
  // mkfifo(1) is in coreutils; Node has no mkfifo of its own.
  const mk = spawnSync('mkfifo', [path]);
  if (mk.status !== 0) throw new Error(`mkfifo failed: ${mk.stderr?.toString() ?? mk.error?.message}`);
  const script = `
    const fs = require('node:fs'); const zlib = require('node:zlib');
    const out = fs.createWriteStream(${JSON.stringify(path)});
    out.on('error', () => process.exit(0));
    const zeros = Buffer.alloc(1 << 20);
    const kind = ${JSON.stringify(what)};
    const sink = kind === 'gzip' ? zlib.createGzip({ level: 1 }) : out;
    if (kind === 'gzip') sink.pipe(out);
    if (kind === 'btf') sink.write(Buffer.from(${JSON.stringify(Buffer.from(tinyBtfHeader()).toString('base64'))}, 'base64'));
    const pump = () => { while (sink.write(zeros)); sink.once('drain', pump); };
    pump();`;
  return spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
}
