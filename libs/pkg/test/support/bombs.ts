/**
 * Hostile inputs for the budget tests, made small: an xz stream of many identical blocks (xz's
 * doc/xz-file-format.txt: stream header, blocks, index of (unpadded, uncompressed) sizes, footer), so gigabytes of
 * zeros cost two small encodes; and a child process that reads one input with the built library while its peak
 * RSS (VmHWM) is sampled.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { crc32 } from 'node:zlib';
import { xz } from './build.js';

/** The one block of a single-block .xz file, and its two sizes. */
function oneBlock(file: Uint8Array): { block: Uint8Array; unpadded: number; uncompressed: number } {
  const footer = file.subarray(file.length - 12);
  const indexSize = (new DataView(footer.buffer, footer.byteOffset + 4, 4).getUint32(0, true) + 1) * 4;
  const index = file.subarray(file.length - 12 - indexSize);
  let at = 1; // index indicator
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = index[at++];
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
    }
  };
  if (varint() !== 1) throw new Error('expected one block');
  const unpadded = varint();
  const uncompressed = varint();
  return { block: file.subarray(12, 12 + Math.ceil(unpadded / 4) * 4), unpadded, uncompressed };
}

function varintOf(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

function le32(n: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

/**
 * An xz stream that decodes to `prefix` and then zeros, `total` bytes in all (rounded up to whole 4 MiB blocks),
 * a few kilobytes on disk however large `total` is.
 */
export async function xzOfZeros(prefix: Uint8Array, total: number): Promise<Uint8Array> {
  const blockSize = 4 * 1024 * 1024;
  const firstPlain = new Uint8Array(blockSize);
  firstPlain.set(prefix);
  const firstFile = await xz(firstPlain);
  const first = oneBlock(firstFile);
  const rest = oneBlock(await xz(new Uint8Array(blockSize)));
  const count = Math.max(1, Math.ceil(total / blockSize));
  const records: number[] = [0x00, ...varintOf(count), ...varintOf(first.unpadded), ...varintOf(first.uncompressed)];
  for (let i = 1; i < count; i++) records.push(...varintOf(rest.unpadded), ...varintOf(rest.uncompressed));
  while (records.length % 4 !== 0) records.push(0);
  const index = Buffer.from(records);
  const indexWithCrc = Buffer.concat([index, le32(crc32(index))]);
  const flags = firstFile.subarray(6, 8);
  const backward = Buffer.concat([le32(indexWithCrc.length / 4 - 1), flags]);
  const footer = Buffer.concat([le32(crc32(backward)), backward, Buffer.from('YZ', 'latin1')]);
  const blocks: Uint8Array[] = [first.block];
  for (let i = 1; i < count; i++) blocks.push(rest.block);
  return Buffer.concat([firstFile.subarray(0, 12), ...blocks, indexWithCrc, footer]);
}

/** A ustar header of a regular file of `size` bytes (octal, up to 8 GiB - 1). */
export function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/** A newc cpio header of a regular file of `size` bytes (its name padded to 4 bytes), as an rpm payload starts. */
export function cpioHeader(name: string, size: number): Buffer {
  const nameBytes = Buffer.from(`${name}\0`, 'utf8');
  const hex = (n: number): string => n.toString(16).padStart(8, '0');
  const fields = [1, 0o100644, 0, 0, 1, 0, size, 0, 0, 0, 0, nameBytes.length, 0];
  const h = Buffer.from(`070701${fields.map(hex).join('')}`, 'latin1');
  return Buffer.concat([h, nameBytes, Buffer.alloc((4 - ((h.length + nameBytes.length) % 4)) % 4)]);
}

/** What reading one input in a child process gave. */
export interface ChildRead {
  /** The PkgError's code, or `ok`. */
  code: string;
  message: string;
  /** Peak RSS of the child (VmHWM), in MB. */
  peakMb: number;
  ms: number;
}

const DIST = new URL('../../dist/index.js', import.meta.url);

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
 * Reads `file` with the built library's readKernelPackage (`options` as JSON) in a child process, sampling its
 * peak RSS every 5 ms; the child's own last sample is its VmHWM at exit. Killed after `timeoutMs`.
 */
export function readInChild(file: string, options: Record<string, unknown>, timeoutMs = 60_000): Promise<ChildRead> {
  const script = `
    import { readFileSync } from 'node:fs';
    const { readKernelPackage } = await import(${JSON.stringify(DIST.href)});
    const [file, json] = process.argv.slice(1);
    let out;
    try {
      const pkg = await readKernelPackage(file, JSON.parse(json));
      out = { code: 'ok', message: JSON.stringify({ modules: pkg.modules.length, skipped: pkg.skipped.length, vmlinux: pkg.vmlinux !== undefined }) };
    } catch (e) {
      out = { code: e.code ?? e.name, message: e.message };
    }
    const hwm = /^VmHWM:\\s+(\\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    console.log(JSON.stringify({ ...out, hwmKb: hwm ? Number(hwm[1]) : 0 }));
  `;
  const started = performance.now();
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, file, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let peakKb = 0;
  const poll = setInterval(() => (peakKb = Math.max(peakKb, vmHwmKb(child.pid!))), 5);
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('close', (status) => {
      clearInterval(poll);
      clearTimeout(killer);
      const ms = performance.now() - started;
      const line = stdout.trim().split('\n').pop() ?? '';
      let r: { code: string; message: string; hwmKb: number };
      try {
        r = JSON.parse(line) as typeof r;
      } catch {
        reject(new Error(`child exited ${status} without an answer: ${stderr.slice(-2000)}`));
        return;
      }
      const peakMb = Math.max(peakKb, r.hwmKb) / 1024;
      // The figures each bound is checked against, for the record.
      console.log(`${basename(file)}: ${r.code}, ${Math.round(ms)} ms, peak RSS ${peakMb.toFixed(0)} MB`);
      resolve({ code: r.code, message: r.message, peakMb, ms });
    });
  });
}
