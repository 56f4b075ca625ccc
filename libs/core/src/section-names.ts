/**
 * What a program's ELF section name says about where it attaches, read the way libbpf 1.7 reads it
 * (`section_defs[]` and `sec_def_matches()` in libbpf.c, and each family's auto-attach parser).
 *
 * Matching rules of libbpf's table, which {@link SECTION_DEFS} follows entry for entry and in the same order
 * (the first match wins, so `kprobe.multi` is tried after `kprobe` and only matches because `kprobe+` needs
 * the name to end or continue with `/`):
 * - a pattern ending in `+` matches the name exactly or followed by `/extras` (`kprobe` and `kprobe/do_sys_open`,
 *   not `kprobex`);
 * - a pattern ending in `/` matches any name with that prefix;
 * - any other pattern matches only the exact name.
 * A leading `?` (libbpf: "do not load by default") is not part of the name that is matched.
 */
import type { AttachTarget } from './types.js';

/** One row of libbpf's section table. */
export interface SectionDef {
  /** libbpf's pattern (`kprobe+`, `xdp/devmap`, `socket`). */
  pattern: string;
  /** `BPF_PROG_TYPE_` suffix (`KPROBE`, `TRACING`). */
  progType: string;
  /** `BPF_` attach type suffix (`TRACE_FENTRY`), or undefined for libbpf's 0. */
  attachType: string | undefined;
  /** SEC_SLEEPABLE: the program is loaded with BPF_F_SLEEPABLE. */
  sleepable: boolean;
  /** SEC_ATTACH_BTF: the target is looked up in kernel BTF at load time. */
  attachBtf: boolean;
}

type Row = [pattern: string, progType: string, attachType: string | undefined, flags?: 's' | 'b' | 'bs'];

/** libbpf 1.7 `section_defs[]`, in its order (the first matching row decides). */
const ROWS: readonly Row[] = [
  ['socket', 'SOCKET_FILTER', undefined],
  ['sk_reuseport/migrate', 'SK_REUSEPORT', 'SK_REUSEPORT_SELECT_OR_MIGRATE'],
  ['sk_reuseport', 'SK_REUSEPORT', 'SK_REUSEPORT_SELECT'],
  ['kprobe+', 'KPROBE', undefined],
  ['uprobe+', 'KPROBE', undefined],
  ['uprobe.s+', 'KPROBE', undefined, 's'],
  ['kretprobe+', 'KPROBE', undefined],
  ['uretprobe+', 'KPROBE', undefined],
  ['uretprobe.s+', 'KPROBE', undefined, 's'],
  ['kprobe.multi+', 'KPROBE', 'TRACE_KPROBE_MULTI'],
  ['kretprobe.multi+', 'KPROBE', 'TRACE_KPROBE_MULTI'],
  ['kprobe.session+', 'KPROBE', 'TRACE_KPROBE_SESSION'],
  ['uprobe.multi+', 'KPROBE', 'TRACE_UPROBE_MULTI'],
  ['uretprobe.multi+', 'KPROBE', 'TRACE_UPROBE_MULTI'],
  ['uprobe.session+', 'KPROBE', 'TRACE_UPROBE_SESSION'],
  ['uprobe.multi.s+', 'KPROBE', 'TRACE_UPROBE_MULTI', 's'],
  ['uretprobe.multi.s+', 'KPROBE', 'TRACE_UPROBE_MULTI', 's'],
  ['uprobe.session.s+', 'KPROBE', 'TRACE_UPROBE_SESSION', 's'],
  ['ksyscall+', 'KPROBE', undefined],
  ['kretsyscall+', 'KPROBE', undefined],
  ['usdt+', 'KPROBE', undefined],
  ['usdt.s+', 'KPROBE', undefined, 's'],
  ['tc/ingress', 'SCHED_CLS', 'TCX_INGRESS'],
  ['tc/egress', 'SCHED_CLS', 'TCX_EGRESS'],
  ['tcx/ingress', 'SCHED_CLS', 'TCX_INGRESS'],
  ['tcx/egress', 'SCHED_CLS', 'TCX_EGRESS'],
  ['tc', 'SCHED_CLS', undefined],
  ['classifier', 'SCHED_CLS', undefined],
  ['action', 'SCHED_ACT', undefined],
  ['netkit/primary', 'SCHED_CLS', 'NETKIT_PRIMARY'],
  ['netkit/peer', 'SCHED_CLS', 'NETKIT_PEER'],
  ['tracepoint+', 'TRACEPOINT', undefined],
  ['tp+', 'TRACEPOINT', undefined],
  ['raw_tracepoint+', 'RAW_TRACEPOINT', undefined],
  ['raw_tp+', 'RAW_TRACEPOINT', undefined],
  ['raw_tracepoint.w+', 'RAW_TRACEPOINT_WRITABLE', undefined],
  ['raw_tp.w+', 'RAW_TRACEPOINT_WRITABLE', undefined],
  ['tp_btf+', 'TRACING', 'TRACE_RAW_TP', 'b'],
  ['fentry+', 'TRACING', 'TRACE_FENTRY', 'b'],
  ['fmod_ret+', 'TRACING', 'MODIFY_RETURN', 'b'],
  ['fexit+', 'TRACING', 'TRACE_FEXIT', 'b'],
  ['fentry.s+', 'TRACING', 'TRACE_FENTRY', 'bs'],
  ['fmod_ret.s+', 'TRACING', 'MODIFY_RETURN', 'bs'],
  ['fexit.s+', 'TRACING', 'TRACE_FEXIT', 'bs'],
  ['fsession+', 'TRACING', 'TRACE_FSESSION', 'b'],
  ['fsession.s+', 'TRACING', 'TRACE_FSESSION', 'bs'],
  ['freplace+', 'EXT', undefined, 'b'],
  ['lsm+', 'LSM', 'LSM_MAC', 'b'],
  ['lsm.s+', 'LSM', 'LSM_MAC', 'bs'],
  ['lsm_cgroup+', 'LSM', 'LSM_CGROUP', 'b'],
  ['iter+', 'TRACING', 'TRACE_ITER', 'b'],
  ['iter.s+', 'TRACING', 'TRACE_ITER', 'bs'],
  ['syscall', 'SYSCALL', undefined, 's'],
  ['xdp.frags/devmap', 'XDP', 'XDP_DEVMAP'],
  ['xdp/devmap', 'XDP', 'XDP_DEVMAP'],
  ['xdp.frags/cpumap', 'XDP', 'XDP_CPUMAP'],
  ['xdp/cpumap', 'XDP', 'XDP_CPUMAP'],
  ['xdp.frags', 'XDP', 'XDP'],
  ['xdp', 'XDP', 'XDP'],
  ['perf_event', 'PERF_EVENT', undefined],
  ['lwt_in', 'LWT_IN', undefined],
  ['lwt_out', 'LWT_OUT', undefined],
  ['lwt_xmit', 'LWT_XMIT', undefined],
  ['lwt_seg6local', 'LWT_SEG6LOCAL', undefined],
  ['sockops', 'SOCK_OPS', 'CGROUP_SOCK_OPS'],
  ['sk_skb/stream_parser', 'SK_SKB', 'SK_SKB_STREAM_PARSER'],
  ['sk_skb/stream_verdict', 'SK_SKB', 'SK_SKB_STREAM_VERDICT'],
  ['sk_skb/verdict', 'SK_SKB', 'SK_SKB_VERDICT'],
  ['sk_skb', 'SK_SKB', undefined],
  ['sk_msg', 'SK_MSG', 'SK_MSG_VERDICT'],
  ['lirc_mode2', 'LIRC_MODE2', 'LIRC_MODE2'],
  ['flow_dissector', 'FLOW_DISSECTOR', 'FLOW_DISSECTOR'],
  ['cgroup_skb/ingress', 'CGROUP_SKB', 'CGROUP_INET_INGRESS'],
  ['cgroup_skb/egress', 'CGROUP_SKB', 'CGROUP_INET_EGRESS'],
  ['cgroup/skb', 'CGROUP_SKB', undefined],
  ['cgroup/sock_create', 'CGROUP_SOCK', 'CGROUP_INET_SOCK_CREATE'],
  ['cgroup/sock_release', 'CGROUP_SOCK', 'CGROUP_INET_SOCK_RELEASE'],
  ['cgroup/sock', 'CGROUP_SOCK', 'CGROUP_INET_SOCK_CREATE'],
  ['cgroup/post_bind4', 'CGROUP_SOCK', 'CGROUP_INET4_POST_BIND'],
  ['cgroup/post_bind6', 'CGROUP_SOCK', 'CGROUP_INET6_POST_BIND'],
  ['cgroup/bind4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_BIND'],
  ['cgroup/bind6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_BIND'],
  ['cgroup/connect4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_CONNECT'],
  ['cgroup/connect6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_CONNECT'],
  ['cgroup/connect_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_CONNECT'],
  ['cgroup/sendmsg4', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP4_SENDMSG'],
  ['cgroup/sendmsg6', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP6_SENDMSG'],
  ['cgroup/sendmsg_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_SENDMSG'],
  ['cgroup/recvmsg4', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP4_RECVMSG'],
  ['cgroup/recvmsg6', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP6_RECVMSG'],
  ['cgroup/recvmsg_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_RECVMSG'],
  ['cgroup/getpeername4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_GETPEERNAME'],
  ['cgroup/getpeername6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_GETPEERNAME'],
  ['cgroup/getpeername_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_GETPEERNAME'],
  ['cgroup/getsockname4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_GETSOCKNAME'],
  ['cgroup/getsockname6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_GETSOCKNAME'],
  ['cgroup/getsockname_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_GETSOCKNAME'],
  ['cgroup/sysctl', 'CGROUP_SYSCTL', 'CGROUP_SYSCTL'],
  ['cgroup/getsockopt', 'CGROUP_SOCKOPT', 'CGROUP_GETSOCKOPT'],
  ['cgroup/setsockopt', 'CGROUP_SOCKOPT', 'CGROUP_SETSOCKOPT'],
  ['cgroup/dev', 'CGROUP_DEVICE', 'CGROUP_DEVICE'],
  ['struct_ops+', 'STRUCT_OPS', undefined],
  ['struct_ops.s+', 'STRUCT_OPS', undefined, 's'],
  ['sk_lookup', 'SK_LOOKUP', 'SK_LOOKUP'],
  ['netfilter', 'NETFILTER', 'NETFILTER'],
];

/** libbpf 1.7's section table, in match order. */
export const SECTION_DEFS: readonly SectionDef[] = ROWS.map(([pattern, progType, attachType, flags]) => ({
  pattern,
  progType,
  attachType,
  sleepable: flags?.includes('s') ?? false,
  attachBtf: flags?.includes('b') ?? false,
}));

/** libbpf `sec_def_matches`: see the module comment for the three pattern forms. */
function matches(pattern: string, name: string): boolean {
  const last = pattern[pattern.length - 1];
  if (last === '/') return name.startsWith(pattern);
  if (last === '+') {
    const stem = pattern.slice(0, -1);
    if (!name.startsWith(stem)) return false;
    return name.length === stem.length || name[stem.length] === '/';
  }
  return name === pattern;
}

/** The first row of libbpf's table that matches a section name (a leading `?` ignored), or undefined. */
export function findSectionDef(sectionName: string): SectionDef | undefined {
  const name = sectionName.startsWith('?') ? sectionName.slice(1) : sectionName;
  return SECTION_DEFS.find((d) => matches(d.pattern, name));
}

/** Pattern stems whose family is spelled differently in {@link AttachTarget.kind}: libbpf's aliases. */
const FAMILY_ALIASES: Readonly<Record<string, string>> = {
  tp: 'tracepoint',
  raw_tracepoint: 'raw_tp',
  'raw_tracepoint.w': 'raw_tp.w',
  classifier: 'tc',
};

/** Families whose target is a kernel BTF FUNC or TYPEDEF, with the prefix libbpf puts before the name. */
const BTF_TARGETS: Readonly<Record<string, { prefix: string; kind: 'FUNC' | 'TYPEDEF' }>> = {
  // libbpf btf_get_kernel_prefix_kind: BPF_TRACE_RAW_TP -> typedef btf_trace_NAME, LSM -> bpf_lsm_NAME,
  // BPF_TRACE_ITER -> bpf_iter_NAME, every other BTF-attached type -> the FUNC of that name.
  tp_btf: { prefix: 'btf_trace_', kind: 'TYPEDEF' },
  lsm: { prefix: 'bpf_lsm_', kind: 'FUNC' },
  lsm_cgroup: { prefix: 'bpf_lsm_', kind: 'FUNC' },
  iter: { prefix: 'bpf_iter_', kind: 'FUNC' },
  fentry: { prefix: '', kind: 'FUNC' },
  fexit: { prefix: '', kind: 'FUNC' },
  fmod_ret: { prefix: '', kind: 'FUNC' },
  fsession: { prefix: '', kind: 'FUNC' },
};

/**
 * Where a program in section `sectionName` attaches.
 *
 * `kind` is the family of the matching libbpf row: its pattern without `+`, without a `.s` (sleepable) suffix,
 * with libbpf's aliases folded (`tp` is `tracepoint`, `raw_tracepoint` is `raw_tp`, `classifier` is `tc`); a
 * row with a fixed sub-name (`cgroup/connect4`, `xdp/devmap`, `tc/ingress`) is family `cgroup`/`xdp`/`tc` with
 * that sub-name as target. A name no row matches has kind `unknown` (libbpf: "unrecognized ELF section name";
 * the program type must then be set by hand).
 *
 * `target`, when the name gives one, is what libbpf's auto-attach or BTF lookup would use:
 * - kprobe/kretprobe: the function (an `+offset` goes to `offset`), as libbpf's `%[a-zA-Z0-9_.]+%li` scan;
 * - ksyscall/kretsyscall: the syscall name; kprobe.multi/kretprobe.multi/kprobe.session: the glob pattern;
 * - tracepoint: `category/name` (only when both parts are there);
 * - raw_tp, tp_btf, fentry/fexit/fmod_ret/fsession, freplace, lsm, lsm_cgroup, iter, struct_ops: everything
 *   after the first `/`; for BTF-attached families `btfName`/`btfKind` say which kernel type must exist
 *   (`btf_trace_NAME` typedef, `bpf_lsm_NAME`, `bpf_iter_NAME`, or the FUNC itself, `module:` prefix split off);
 * - uprobe/uretprobe (and .multi/.session), usdt: everything after the first `/` (`binary:function`).
 */
export function parseSectionName(sectionName: string): AttachTarget {
  const name = sectionName.startsWith('?') ? sectionName.slice(1) : sectionName;
  const def = SECTION_DEFS.find((d) => matches(d.pattern, name));
  if (!def) return { kind: 'unknown' };
  const base: AttachTarget = { kind: '', progType: def.progType, sleepable: def.sleepable };
  if (def.attachType !== undefined) base.attachType = def.attachType;

  if (!def.pattern.endsWith('+')) {
    // A fixed name: `xdp`, `cgroup/connect4`, `sk_skb/stream_parser`.
    const slash = def.pattern.indexOf('/');
    if (slash < 0) return { ...base, kind: FAMILY_ALIASES[def.pattern] ?? def.pattern };
    return { ...base, kind: def.pattern.slice(0, slash), target: def.pattern.slice(slash + 1) };
  }

  let stem = def.pattern.slice(0, -1);
  if (stem.endsWith('.s')) stem = stem.slice(0, -2);
  const kind = FAMILY_ALIASES[stem] ?? stem;
  const out: AttachTarget = { ...base, kind };
  const slash = name.indexOf('/');
  if (slash < 0) return out; // SEC("kprobe"): valid, but names no target (no auto-attach)
  const rest = name.slice(slash + 1);

  switch (kind) {
    case 'kprobe':
    case 'kretprobe': {
      const m = /^([A-Za-z0-9_.]+)(?:\+(.*))?/.exec(rest);
      if (!m) return out;
      out.target = m[1];
      if (m[2] !== undefined) {
        const off = parseCLong(m[2]);
        if (off !== undefined && off !== 0) out.offset = off;
      }
      return out;
    }
    case 'kprobe.multi':
    case 'kretprobe.multi':
    case 'kprobe.session': {
      const m = /^[A-Za-z0-9_.*?]+/.exec(rest);
      if (m) out.target = m[0];
      return out;
    }
    case 'tracepoint': {
      const sep = rest.indexOf('/');
      if (sep > 0 && sep < rest.length - 1) out.target = rest;
      return out;
    }
    default:
      break;
  }
  if (rest.length === 0) return out;
  out.target = rest;
  const btf = BTF_TARGETS[kind];
  if (btf) {
    // libbpf find_kernel_btf_id: `module:function` restricts the lookup to that module (`vmlinux:` to vmlinux).
    const colon = rest.indexOf(':');
    const fn = colon >= 0 ? rest.slice(colon + 1) : rest;
    if (colon >= 0) out.module = rest.slice(0, colon);
    out.btfName = btf.prefix + fn;
    out.btfKind = btf.kind;
  }
  return out;
}

/** strtol-style integer (`%li`: decimal, `0x` hex or leading-0 octal); undefined when there is none. */
function parseCLong(text: string): number | undefined {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(text);
  if (!m) return undefined;
  const digits = m[2];
  let v: number;
  if (/^0[xX]/.test(digits)) v = parseInt(digits.slice(2), 16);
  else if (digits.length > 1 && digits[0] === '0') v = parseInt(digits.slice(1), 8);
  else v = parseInt(digits, 10);
  return m[1] === '-' ? -v : v;
}
