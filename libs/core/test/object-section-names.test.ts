import { describe, expect, it } from 'vitest';
import { SECTION_DEFS, findSectionDef, parseSectionName, type AttachTarget } from '@btf-atlas/core';

// Section names as libbpf 1.7 reads them: the first matching row of section_defs[] (pattern forms `x+`, `x/`,
// exact), and each family's target parser. Each case is what libbpf would do with that SEC() name.

const CASES: [section: string, expected: AttachTarget | 'unknown'][] = [
  ['kprobe/do_nanosleep', { kind: 'kprobe', target: 'do_nanosleep', progType: 'KPROBE', sleepable: false }],
  ['kprobe/tcp_v4_connect+0x10', { kind: 'kprobe', target: 'tcp_v4_connect', offset: 16, progType: 'KPROBE', sleepable: false }],
  ['kprobe/xfs_file.isra.0+8', { kind: 'kprobe', target: 'xfs_file.isra.0', offset: 8, progType: 'KPROBE', sleepable: false }],
  ['kprobe', { kind: 'kprobe', progType: 'KPROBE', sleepable: false }],
  ['kretprobe/do_unlinkat', { kind: 'kretprobe', target: 'do_unlinkat', progType: 'KPROBE', sleepable: false }],
  ['kprobex/foo', 'unknown'],
  ['kprobe.multi/tcp_*', { kind: 'kprobe.multi', target: 'tcp_*', progType: 'KPROBE', attachType: 'TRACE_KPROBE_MULTI', sleepable: false }],
  ['kretprobe.multi/vfs_?ead', { kind: 'kretprobe.multi', target: 'vfs_?ead', progType: 'KPROBE', attachType: 'TRACE_KPROBE_MULTI', sleepable: false }],
  ['kprobe.session/do_x', { kind: 'kprobe.session', target: 'do_x', progType: 'KPROBE', attachType: 'TRACE_KPROBE_SESSION', sleepable: false }],
  ['ksyscall/openat', { kind: 'ksyscall', target: 'openat', progType: 'KPROBE', sleepable: false }],
  ['kretsyscall/execve', { kind: 'kretsyscall', target: 'execve', progType: 'KPROBE', sleepable: false }],
  ['uprobe//usr/bin/bash:readline', { kind: 'uprobe', target: '/usr/bin/bash:readline', progType: 'KPROBE', sleepable: false }],
  ['uprobe.s/libc.so.6:malloc', { kind: 'uprobe', target: 'libc.so.6:malloc', progType: 'KPROBE', sleepable: true }],
  ['uretprobe', { kind: 'uretprobe', progType: 'KPROBE', sleepable: false }],
  ['uprobe.multi/libc.so.6:mem*', { kind: 'uprobe.multi', target: 'libc.so.6:mem*', progType: 'KPROBE', attachType: 'TRACE_UPROBE_MULTI', sleepable: false }],
  ['usdt/libc.so.6:libc:setjmp', { kind: 'usdt', target: 'libc.so.6:libc:setjmp', progType: 'KPROBE', sleepable: false }],
  ['tp/sched/sched_switch', { kind: 'tracepoint', target: 'sched/sched_switch', progType: 'TRACEPOINT', sleepable: false }],
  ['tracepoint/syscalls/sys_enter_openat', { kind: 'tracepoint', target: 'syscalls/sys_enter_openat', progType: 'TRACEPOINT', sleepable: false }],
  ['tp/sched', { kind: 'tracepoint', progType: 'TRACEPOINT', sleepable: false }],
  ['raw_tp/sched_switch', { kind: 'raw_tp', target: 'sched_switch', progType: 'RAW_TRACEPOINT', sleepable: false }],
  ['raw_tracepoint/sys_enter', { kind: 'raw_tp', target: 'sys_enter', progType: 'RAW_TRACEPOINT', sleepable: false }],
  ['raw_tp.w/bpf_testmod_test_writable_bare', { kind: 'raw_tp.w', target: 'bpf_testmod_test_writable_bare', progType: 'RAW_TRACEPOINT_WRITABLE', sleepable: false }],
  ['tp_btf/sched_switch', { kind: 'tp_btf', target: 'sched_switch', progType: 'TRACING', attachType: 'TRACE_RAW_TP', sleepable: false, btfName: 'btf_trace_sched_switch', btfKind: 'TYPEDEF' }],
  ['fentry/do_unlinkat', { kind: 'fentry', target: 'do_unlinkat', progType: 'TRACING', attachType: 'TRACE_FENTRY', sleepable: false, btfName: 'do_unlinkat', btfKind: 'FUNC' }],
  ['fentry.s/__x64_sys_getpgid', { kind: 'fentry', target: '__x64_sys_getpgid', progType: 'TRACING', attachType: 'TRACE_FENTRY', sleepable: true, btfName: '__x64_sys_getpgid', btfKind: 'FUNC' }],
  ['fexit/bpf_testmod:bpf_testmod_fentry_test1', {
    kind: 'fexit', target: 'bpf_testmod:bpf_testmod_fentry_test1', module: 'bpf_testmod', progType: 'TRACING', attachType: 'TRACE_FEXIT',
    sleepable: false, btfName: 'bpf_testmod_fentry_test1', btfKind: 'FUNC',
  }],
  ['fmod_ret/security_file_open', { kind: 'fmod_ret', target: 'security_file_open', progType: 'TRACING', attachType: 'MODIFY_RETURN', sleepable: false, btfName: 'security_file_open', btfKind: 'FUNC' }],
  ['freplace/handle_kprobe', { kind: 'freplace', target: 'handle_kprobe', progType: 'EXT', sleepable: false }],
  ['lsm/file_open', { kind: 'lsm', target: 'file_open', progType: 'LSM', attachType: 'LSM_MAC', sleepable: false, btfName: 'bpf_lsm_file_open', btfKind: 'FUNC' }],
  ['lsm.s/bprm_committed_creds', { kind: 'lsm', target: 'bprm_committed_creds', progType: 'LSM', attachType: 'LSM_MAC', sleepable: true, btfName: 'bpf_lsm_bprm_committed_creds', btfKind: 'FUNC' }],
  ['lsm_cgroup/socket_bind', { kind: 'lsm_cgroup', target: 'socket_bind', progType: 'LSM', attachType: 'LSM_CGROUP', sleepable: false, btfName: 'bpf_lsm_socket_bind', btfKind: 'FUNC' }],
  ['iter/task', { kind: 'iter', target: 'task', progType: 'TRACING', attachType: 'TRACE_ITER', sleepable: false, btfName: 'bpf_iter_task', btfKind: 'FUNC' }],
  ['iter.s/task_vma', { kind: 'iter', target: 'task_vma', progType: 'TRACING', attachType: 'TRACE_ITER', sleepable: true, btfName: 'bpf_iter_task_vma', btfKind: 'FUNC' }],
  ['fentry', { kind: 'fentry', progType: 'TRACING', attachType: 'TRACE_FENTRY', sleepable: false }],
  ['struct_ops/dctcp_init', { kind: 'struct_ops', target: 'dctcp_init', progType: 'STRUCT_OPS', sleepable: false }],
  ['struct_ops.s/test_1', { kind: 'struct_ops', target: 'test_1', progType: 'STRUCT_OPS', sleepable: true }],
  ['xdp', { kind: 'xdp', progType: 'XDP', attachType: 'XDP', sleepable: false }],
  ['xdp.frags', { kind: 'xdp.frags', progType: 'XDP', attachType: 'XDP', sleepable: false }],
  ['xdp/devmap', { kind: 'xdp', target: 'devmap', progType: 'XDP', attachType: 'XDP_DEVMAP', sleepable: false }],
  ['xdp.frags/cpumap', { kind: 'xdp.frags', target: 'cpumap', progType: 'XDP', attachType: 'XDP_CPUMAP', sleepable: false }],
  ['xdp/foo', 'unknown'],
  ['tc', { kind: 'tc', progType: 'SCHED_CLS', sleepable: false }],
  ['classifier', { kind: 'tc', progType: 'SCHED_CLS', sleepable: false }],
  ['tc/ingress', { kind: 'tc', target: 'ingress', progType: 'SCHED_CLS', attachType: 'TCX_INGRESS', sleepable: false }],
  ['tcx/egress', { kind: 'tcx', target: 'egress', progType: 'SCHED_CLS', attachType: 'TCX_EGRESS', sleepable: false }],
  ['tc/foo', 'unknown'],
  ['socket', { kind: 'socket', progType: 'SOCKET_FILTER', sleepable: false }],
  ['sk_reuseport/migrate', { kind: 'sk_reuseport', target: 'migrate', progType: 'SK_REUSEPORT', attachType: 'SK_REUSEPORT_SELECT_OR_MIGRATE', sleepable: false }],
  ['cgroup/connect4', { kind: 'cgroup', target: 'connect4', progType: 'CGROUP_SOCK_ADDR', attachType: 'CGROUP_INET4_CONNECT', sleepable: false }],
  ['cgroup/sock', { kind: 'cgroup', target: 'sock', progType: 'CGROUP_SOCK', attachType: 'CGROUP_INET_SOCK_CREATE', sleepable: false }],
  ['cgroup/sock_release', { kind: 'cgroup', target: 'sock_release', progType: 'CGROUP_SOCK', attachType: 'CGROUP_INET_SOCK_RELEASE', sleepable: false }],
  ['cgroup/sockx', 'unknown'],
  ['cgroup_skb/ingress', { kind: 'cgroup_skb', target: 'ingress', progType: 'CGROUP_SKB', attachType: 'CGROUP_INET_INGRESS', sleepable: false }],
  ['sk_skb/stream_verdict', { kind: 'sk_skb', target: 'stream_verdict', progType: 'SK_SKB', attachType: 'SK_SKB_STREAM_VERDICT', sleepable: false }],
  ['syscall', { kind: 'syscall', progType: 'SYSCALL', sleepable: true }],
  ['netfilter', { kind: 'netfilter', progType: 'NETFILTER', attachType: 'NETFILTER', sleepable: false }],
  ['?kprobe/do_nanosleep', { kind: 'kprobe', target: 'do_nanosleep', progType: 'KPROBE', sleepable: false }],
  ['license', 'unknown'],
  ['.text', 'unknown'],
  ['', 'unknown'],
];

describe('parseSectionName (libbpf 1.7 section_defs)', () => {
  for (const [section, expected] of CASES) {
    it(`'${section}'`, () => {
      expect(parseSectionName(section)).toEqual(expected === 'unknown' ? { kind: 'unknown' } : expected);
    });
  }

  it('keeps libbpf 1.7 rows in its order: all 105, the first match wins', () => {
    expect(SECTION_DEFS.length).toBe(105);
    expect(new Set(SECTION_DEFS.map((d) => d.pattern)).size).toBe(105);
    // `cgroup/sock_create` is an exact row before `cgroup/sock`; `kprobe.multi` must not be taken by `kprobe+`.
    expect(findSectionDef('cgroup/sock_create')?.attachType).toBe('CGROUP_INET_SOCK_CREATE');
    expect(findSectionDef('kprobe.multi/x')?.pattern).toBe('kprobe.multi+');
    expect(findSectionDef('uprobe.multi.s/x:y')?.pattern).toBe('uprobe.multi.s+');
    expect(findSectionDef('?xdp')?.pattern).toBe('xdp');
    expect(findSectionDef('xdpx')).toBeUndefined();
    for (const d of SECTION_DEFS) {
      const name = d.pattern.endsWith('+') ? d.pattern.slice(0, -1) : d.pattern;
      expect(findSectionDef(name), d.pattern).toBe(d);
    }
  });
});
