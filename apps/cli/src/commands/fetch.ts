import type { Command } from '../commander.js';
import { CliError } from '../errors.js';
import type { FetchOptions } from './fetch-run.js';

/** The running kernel's own BTF, when it was built with CONFIG_DEBUG_INFO_BTF. */
const SYS_BTF = '/sys/kernel/btf/vmlinux';

/**
 * `fetch`: the client side on a target machine. When the kernel has its own BTF (`/sys/kernel/btf/vmlinux`)
 * it says so and stops; otherwise it asks `--server` which archive kernel this machine runs (`POST
 * /v1/btf/lookup` with os-release, uname -r, uname -m), downloads its raw BTF, checks its sha256 and writes
 * `--out`/UNAME_R.btf atomically: the file libbpf's `btf_custom_path` and `bpftool -B` take.
 */
export function registerFetchCommand(program: Command): void {
  program
    .command('fetch')
    .description("on a target machine: report built-in BTF, else look the machine up on --server and download its BTF (sha256 checked) to DIR/$(uname -r).btf")
    .requiredOption('--server <url>', 'btf-atlas server, e.g. http://btf.example.org:3000')
    .option('--out <dir>', 'folder to write UNAME_R.btf into', '.')
    .option('--os-release <file>', 'os-release to send (default /etc/os-release, else /usr/lib/os-release)')
    .option('--uname-r <release>', 'kernel release to look up (default: this kernel, uname -r)')
    .option('--arch <machine>', 'machine to look up (default: uname -m)')
    .option('--sys-btf <path>', "the kernel's built-in BTF: when it exists nothing is downloaded", SYS_BTF)
    .option('--force', 'download even when the kernel has built-in BTF')
    .option('--timeout <ms>', 'give up on the server after this many milliseconds per request', '60000')
    .option('--json', 'print what was done as JSON')
    .action(async (opts: FetchOptions) => {
      const { fetchCommand, write } = await import('./fetch-run.js');
      try {
        await fetchCommand(opts);
      } catch (err) {
        // With --json a script reads stdout: say what failed there too (the one line still goes to stderr).
        if (opts.json && err instanceof CliError) await write(`${JSON.stringify({ error: { code: err.code, message: err.message } })}\n`);
        throw err;
      }
    });
}
