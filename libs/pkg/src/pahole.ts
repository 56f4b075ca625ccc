/**
 * The impure part: BTF made from DWARF by pahole (`pahole --btf_encode_detached=OUT FILE`, from the dwarves
 * package), for kernels built without CONFIG_DEBUG_INFO_BTF whose -dbg/debuginfo packages carry DWARF. Runs the
 * binary with a timeout in a private temp folder that is always removed.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PkgError, PkgErrorCode } from './errors.js';
import type { DwarfConverter } from './package.js';

export interface PaholeOptions {
  /** The pahole binary (default `pahole` on PATH). */
  pahole?: string;
  /** Longest one run may take, in ms (default 600,000: a DWARF vmlinux takes a minute or two). */
  timeoutMs?: number;
  /** Where the temp folder goes (default the OS temp dir). */
  tmpDir?: string;
}

const DEFAULT_TIMEOUT_MS = 600_000;

interface RunResult {
  stdout: string;
  stderr: string;
}

function run(bin: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve({ stdout, stderr });
      const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: unknown };
      if (e.code === 'ENOENT') {
        return reject(new PkgError(PkgErrorCode.PaholeMissing, `pahole is not installed (${bin} not found): install the dwarves package (apt-get install dwarves)`));
      }
      if (e.killed) return reject(new PkgError(PkgErrorCode.PaholeFailed, `pahole timed out after ${Math.round(timeoutMs / 1000)} s`));
      const line = (stderr || stdout).trim().split('\n')[0] ?? '';
      reject(new PkgError(PkgErrorCode.PaholeFailed, `pahole failed (exit ${String(e.code)})${line ? `: ${line.toLowerCase()}` : ''}`));
    });
  });
}

/** pahole's version (`v1.30`); PKG_PAHOLE_MISSING when it is not installed. */
export async function paholeVersion(opts: PaholeOptions = {}): Promise<string> {
  const { stdout } = await run(opts.pahole ?? 'pahole', ['--version'], opts.timeoutMs ?? 30_000);
  return stdout.trim();
}

/**
 * Raw BTF for an ELF object with DWARF (a vmlinux, or a module with `base` = its vmlinux's BTF, giving split BTF).
 * Throws PKG_PAHOLE_MISSING, PKG_PAHOLE_FAILED.
 */
export async function btfFromDwarf(elf: Uint8Array, opts: PaholeOptions & { base?: Uint8Array } = {}): Promise<Uint8Array> {
  const dir = await mkdtemp(join(opts.tmpDir ?? tmpdir(), 'btf-atlas-pahole-'));
  try {
    const input = join(dir, 'input.o');
    const out = join(dir, 'out.btf');
    await writeFile(input, elf);
    // As the kernel's own build does (scripts/Makefile.btf): Rust compilation units are left out; their type names
    // (`<core::fmt::…>::{vtable}`) are no C identifiers and the kernel would refuse the BTF.
    const args = [`--btf_encode_detached=${out}`, '--lang_exclude=rust'];
    if (opts.base) {
      const basePath = join(dir, 'base.btf');
      await writeFile(basePath, opts.base);
      args.push(`--btf_base=${basePath}`);
    }
    args.push(input);
    await run(opts.pahole ?? 'pahole', args, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const btf = await readFile(out).catch(() => undefined);
    if (!btf || btf.length === 0) throw new PkgError(PkgErrorCode.PaholeFailed, 'pahole wrote no btf (does the object have .debug_info?)');
    return new Uint8Array(btf.buffer, btf.byteOffset, btf.byteLength);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A {@link DwarfConverter} for readKernelPackage that runs pahole. */
export function paholeConverter(opts: PaholeOptions = {}): DwarfConverter {
  return (elf, ctx) => btfFromDwarf(elf, ctx.base ? { ...opts, base: ctx.base } : opts);
}
