/**
 * The body of `btf-atlas fetch`, loaded when the command runs (its crypto, os and file imports are not paid by
 * `--help` or the other commands).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { machine, release } from 'node:os';
import { join, resolve } from 'node:path';
import { CommanderError } from '../commander.js';
import { CliError } from '../errors.js';

/** Where a machine says what it is (os-release(5): /etc first, /usr/lib when /etc has none). */
const OS_RELEASE_PATHS = ['/etc/os-release', '/usr/lib/os-release'];
/** The server refuses bigger os-release texts; say so here rather than upload one. */
const OS_RELEASE_MAX_BYTES = 16 * 1024;
/** Largest download accepted (raw vmlinux BTF is a few MiB; the library's decompressed-size limit). */
const MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024;
/** Largest lookup answer read (a real one is under 1 KiB; a 404 lists a few nearest kernels). */
const MAX_ANSWER_BYTES = 1024 * 1024;
const UNAME_R = /^[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}$/;
const SHA256 = /^[0-9a-f]{64}$/;

export interface FetchOptions {
  server: string;
  out: string;
  osRelease?: string;
  unameR?: string;
  arch?: string;
  sysBtf: string;
  force?: boolean;
  timeout: string;
  json?: boolean;
}

/** The answer of `POST /v1/btf/lookup` (the fields fetch uses). */
interface LookupAnswer {
  kernel: string;
  url: string;
  btf_url: string;
  uname_r: string;
  btf_sha256: string;
  sha256?: string;
}

export async function write(text: string): Promise<void> {
  await new Promise<void>((ok, fail) => process.stdout.write(text, (e) => (e ? fail(e) : ok())));
}

/** Why a fetch() call failed, in a few words (`ECONNREFUSED`, `timed out after 30000 ms`, …). */
function networkReason(err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `timed out after ${timeoutMs} ms`;
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

/** A `--server` URL: absolute http(s), without query or fragment; usage error (exit 2) otherwise. */
function serverUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CommanderError(2, 'usage', `--server must be an absolute http(s) URL such as http://btf.example.org:3000, not ${JSON.stringify(text)}`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) {
    throw new CommanderError(2, 'usage', `--server must be an http(s) URL without query or fragment, not ${JSON.stringify(text)}`);
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/** The os-release text: --os-release FILE, else /etc/os-release, else /usr/lib/os-release; a regular file, read up to the limit. */
async function readOsRelease(flag: string | undefined): Promise<{ path: string; text: string }> {
  const paths = flag ? [flag] : OS_RELEASE_PATHS;
  const failures: string[] = [];
  for (const path of paths) {
    let fh;
    try {
      fh = await open(path, 'r');
      if (!(await fh.stat()).isFile()) throw new CliError(`${path} is not a regular file`);
      const buf = Buffer.alloc(OS_RELEASE_MAX_BYTES + 1);
      let got = 0;
      for (let n = -1; n !== 0 && got < buf.length; got += n) n = (await fh.read(buf, got, buf.length - got, got)).bytesRead;
      if (got > OS_RELEASE_MAX_BYTES) throw new CliError(`${path} is more than the ${OS_RELEASE_MAX_BYTES} bytes an os-release may have`);
      return { path, text: buf.toString('utf8', 0, got) };
    } catch (err) {
      if (err instanceof CliError) throw err;
      failures.push(`${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    } finally {
      await fh?.close();
    }
  }
  throw new CliError(`cannot read ${failures.join(' nor ')}${flag ? '' : ': pass --os-release FILE'}`);
}

/** Whether the kernel has its own BTF at PATH (any existing file: sysfs files report size 4096 or 0). */
async function hasBuiltinBtf(path: string): Promise<boolean> {
  try {
    return !(await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** GET url → bytes, at most MAX_DOWNLOAD_BYTES; CliError naming the URL on any failure, status in `status`. */
async function download(url: string, timeoutMs: number): Promise<{ status: number; bytes?: Uint8Array }> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  } catch (err) {
    throw new CliError(`cannot download ${url}: ${networkReason(err, timeoutMs)}`, 'FETCH_NETWORK');
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    return { status: res.status };
  }
  return { status: 200, bytes: await readCapped(res, url, MAX_DOWNLOAD_BYTES, timeoutMs) };
}

/** A response's body, at most `limit` bytes (FETCH_TOO_LARGE past it); network failures name the URL. */
async function readCapped(res: Response, url: string, limit: number, timeoutMs: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > limit) {
    await res.body?.cancel();
    throw new CliError(`${url} is ${declared} bytes, more than the ${limit} accepted`, 'FETCH_TOO_LARGE');
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of (res.body ?? []) as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > limit) throw new CliError(`${url} sends more than the ${limit} bytes accepted`, 'FETCH_TOO_LARGE');
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot download ${url}: ${networkReason(err, timeoutMs)}`, 'FETCH_NETWORK');
  }
  return Buffer.concat(chunks, size);
}

/** Asks the server which kernel this machine runs; CliError with the nearest kernels when it has none. */
async function lookup(server: URL, body: Record<string, string>, timeoutMs: number): Promise<LookupAnswer> {
  const url = new URL('v1/btf/lookup', server).href;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new CliError(`cannot reach ${url}: ${networkReason(err, timeoutMs)}`, 'FETCH_NETWORK');
  }
  const text = Buffer.from(await readCapped(res, url, MAX_ANSWER_BYTES, timeoutMs)).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CliError(`${url} answered ${res.status} with something that is not a JSON object (is --server a btf-atlas server?)`, 'FETCH_BAD_ANSWER');
  }
  const answer = parsed as Record<string, unknown>;
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  if (res.status === 404 && answer.code === 'KERNEL_NOT_FOUND') {
    const nearest = Array.isArray(answer.nearest) ? answer.nearest : [];
    const near = nearest
      .filter((n): n is { kernel: string; relation: string } => n !== null && typeof n === 'object' && typeof (n as { kernel?: unknown }).kernel === 'string' && typeof (n as { relation?: unknown }).relation === 'string')
      .slice(0, 4)
      .map((n) => `${n.kernel} (${n.relation})`);
    const detail = (str(answer.detail) ?? 'no such kernel').replace(/; nearest: .*$/, '');
    throw new CliError(`${detail}; nearest: ${near.length > 0 ? near.join(', ') : 'none of this distro and arch'}`, 'KERNEL_NOT_FOUND');
  }
  if (res.status !== 200) {
    const detail = str(answer.detail);
    throw new CliError(`${url} answered ${res.status}${detail ? `: ${detail}` : ''}`, str(answer.code) ?? 'FETCH_REFUSED');
  }
  const a = answer as Partial<LookupAnswer>;
  if (typeof a.kernel !== 'string' || typeof a.btf_url !== 'string' || typeof a.url !== 'string' || typeof a.uname_r !== 'string' || typeof a.btf_sha256 !== 'string' || !SHA256.test(a.btf_sha256)) {
    throw new CliError(`${url} answered without kernel, uname_r, url, btf_url and btf_sha256 (is --server a btf-atlas server?)`, 'FETCH_BAD_ANSWER');
  }
  return a as LookupAnswer;
}

/** The raw BTF of the kernel: `btf_url`, else the `.btf.tar.xz` unpacked; checked against btf_sha256. */
async function fetchBtf(answer: LookupAnswer, server: URL, timeoutMs: number): Promise<{ bytes: Uint8Array; from: string }> {
  const btfUrl = new URL(answer.btf_url, server).href;
  const raw = await download(btfUrl, timeoutMs);
  let bytes: Uint8Array;
  let from = btfUrl;
  if (raw.bytes) bytes = raw.bytes;
  else {
    // A mirror without raw files (btfhub-archive itself serves only tarballs): take the tarball apart.
    const tarUrl = new URL(answer.url, server).href;
    const tar = await download(tarUrl, timeoutMs);
    if (!tar.bytes) throw new CliError(`cannot download ${btfUrl} (${raw.status}) nor ${tarUrl} (${tar.status})`, 'FETCH_DOWNLOAD');
    if (answer.sha256 && SHA256.test(answer.sha256)) {
      const got = createHash('sha256').update(tar.bytes).digest('hex');
      if (got !== answer.sha256) throw new CliError(`sha256 mismatch for ${tarUrl}: got ${got}, expected ${answer.sha256}; nothing written`, 'FETCH_SHA256_MISMATCH');
    }
    const { extractBtf, BtfError } = await import('@btf-atlas/btf');
    try {
      const vmlinux = (await extractBtf(tar.bytes, `${answer.uname_r}.btf.tar.xz`)).find((b) => b.role === 'vmlinux');
      if (!vmlinux) throw new CliError(`${tarUrl} holds no vmlinux btf`, 'FETCH_BAD_FILE');
      bytes = vmlinux.bytes;
    } catch (err) {
      if (err instanceof BtfError) throw new CliError(`${tarUrl} is not a BTF tarball: ${err.message}`, 'FETCH_BAD_FILE');
      throw err;
    }
    from = tarUrl;
  }
  const got = createHash('sha256').update(bytes).digest('hex');
  if (got !== answer.btf_sha256) {
    throw new CliError(`sha256 mismatch for ${from}: got ${got}, expected ${answer.btf_sha256}; nothing written`, 'FETCH_SHA256_MISMATCH');
  }
  return { bytes, from };
}

/** Writes DIR/NAME through a temporary file in DIR and a rename, so NAME is either absent or complete. */
async function writeAtomically(dir: string, name: string, bytes: Uint8Array): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, name);
  const tmp = join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o644);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return path;
}

/** The body of `fetch` (see registerFetchCommand in fetch.ts). */
export async function fetchCommand(opts: FetchOptions): Promise<void> {
    const server = serverUrl(opts.server);
    const timeoutMs = Number(opts.timeout);
    // setTimeout's largest delay is 2^31 - 1 ms (about 24 days).
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 2 ** 31 - 1) {
      throw new CommanderError(2, 'usage', `--timeout must be a whole number of milliseconds from 1 to ${2 ** 31 - 1}, not ${JSON.stringify(opts.timeout)}`);
    }
    const unameR = opts.unameR ?? release();
    if (!UNAME_R.test(unameR)) throw new CliError(`uname -r ${JSON.stringify(unameR)} is not a kernel release (letters, digits and ._+~-, at most 64)`, 'UNAME_R_INVALID');
    const arch = opts.arch ?? machine();

    if (!opts.force && (await hasBuiltinBtf(opts.sysBtf))) {
      if (opts.json) await write(`${JSON.stringify({ builtin: true, path: opts.sysBtf, uname_r: unameR })}\n`);
      else await write(`${opts.sysBtf} exists: kernel ${unameR} has built-in BTF, no download needed (--force downloads anyway)\n`);
      return;
    }

    const osRelease = await readOsRelease(opts.osRelease);
    const answer = await lookup(server, { os_release: osRelease.text, uname_r: unameR, arch }, timeoutMs);
    if (answer.uname_r !== unameR) {
      throw new CliError(`the server answered kernel ${answer.kernel} for uname -r ${unameR}; refusing a different kernel's BTF`, 'FETCH_BAD_ANSWER');
    }
    const { bytes, from } = await fetchBtf(answer, server, timeoutMs);
    let path: string;
    try {
      path = await writeAtomically(resolve(opts.out), `${unameR}.btf`, bytes);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new CliError(`cannot write ${join(resolve(opts.out), `${unameR}.btf`)}: ${code}${code === 'EACCES' || code === 'EPERM' ? ' (choose a writable --out folder)' : code === 'EEXIST' || code === 'ENOTDIR' ? ' (--out must be a folder)' : ''}; nothing written`, 'FETCH_WRITE');
    }
    if (opts.json) {
      await write(`${JSON.stringify({ builtin: false, kernel: answer.kernel, path, url: from, sha256: answer.btf_sha256, size: bytes.length })}\n`);
    } else {
      await write(`wrote ${path}: BTF of ${answer.kernel} (${bytes.length} bytes, sha256 ${answer.btf_sha256} checked)\n`);
    }
}
