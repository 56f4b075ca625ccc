import { describe, expect, it } from 'vitest';
import type { FuncJson, SearchJson } from '@btf-atlas/catalog/read';
import type { FuncHistoryJson } from '@btf-atlas/diff';
import { declare, formatFuncHistoryText, formatFuncInKernelText, formatSearchText, paramList } from '../src/kinds-text.js';

// The text of the kind answers, on hand-made answers: what the corpus does not show (several definitions in one
// kernel, unnamed parameters, function pointers, variadic prototypes, kernels left out or failed).

const INT = { kind: 'int', size: 4, signed: true } as const;

function func(over: Partial<FuncJson>): FuncJson {
  return {
    name: 'f', linkage: 'global', kfunc: false, decl_tags: [], return: 'int', return_desc: INT,
    params: [{ name: 'x', type: 'int', desc: INT }], variadic: false, ...over,
  };
}

describe('C declarations of a name of a type', () => {
  it('puts the name where C wants it', () => {
    expect(declare('struct sk_buff *', 'skb')).toBe('struct sk_buff *skb');
    expect(declare('char[16]', 'comm')).toBe('char comm[16]');
    expect(declare('int[2][3]', 'm')).toBe('int m[2][3]');
    expect(declare('void (*)(struct sk_buff *)', 'cb')).toBe('void (*cb)(struct sk_buff *)');
    expect(declare('int (**)(void)', 'pp')).toBe('int (**pp)(void)');
    expect(declare('long unsigned int', 'n')).toBe('long unsigned int n');
    expect(declare('const char *', '')).toBe('const char *');
  });

  it('spells parameter lists as C does', () => {
    expect(paramList([])).toBe('(void)');
    expect(paramList([{ name: 'fmt', type: 'const char *' }], true)).toBe('(const char *fmt, ...)');
    expect(paramList([{ name: '', type: 'void *' }, { name: '', type: 'bool' }])).toBe('(void *, bool)');
  });
});

describe('func text', () => {
  it('a kernel with several definitions gets a row each; modules, tags and the notes of left-out and failed kernels show', () => {
    const h: FuncHistoryJson = {
      func: 'f',
      kernels: [
        { kernel: 'd/1/x86_64/1.0-amd64', series: 'd/1/x86_64/amd64', status: 'missing' },
        {
          kernel: 'd/1/x86_64/1.1-amd64', series: 'd/1/x86_64/amd64', status: 'present',
          definitions: [func({ linkage: 'static' }), func({ module: 'ext4', kfunc: true, decl_tags: ['bpf_fastcall', 'bpf_kfunc'], variadic: true })],
        },
      ],
      changes: [{
        from: 'd/1/x86_64/1.0-amd64', to: 'd/1/x86_64/1.1-amd64', series: 'd/1/x86_64/amd64', what: 'added', change: 'added',
        before: { status: 'missing' }, after: { linkage: 'static', kfunc: false, prototype: 'int (int)' },
      }],
      timeline: [],
      summary: 'f on x86_64: …',
      not_ingested: { modules: ['ext4'], kernels: ['d/1/x86_64/0.9-amd64'] },
      failed_kernels: [{ kernel: 'd/1/x86_64/1.2-amd64', code: 'BTF_BAD_MAGIC', message: 'bad magic', failed_at: '2026-01-01T00:00:00Z' }],
    };
    expect(formatFuncHistoryText(h)).toBe([
      'f on x86_64: …',
      '',
      'KERNEL                LINKAGE  KFUNC  PROTOTYPE',
      'd/1/x86_64/1.0-amd64                  (not defined)',
      'd/1/x86_64/1.1-amd64  static   -      int f(int x)',
      '                      global   kfunc  int f(int x, ...)  [tags: bpf_fastcall]  [module ext4]',
      '',
      'changes:',
      '  d/1/x86_64/1.0-amd64 -> d/1/x86_64/1.1-amd64: added: not defined -> linkage static, kfunc false, prototype int (int)',
      '',
      '1 kernel of this selection left out: no BTF of module ext4 ingested with it: d/1/x86_64/0.9-amd64',
      '',
      '1 kernel of this selection failed to ingest and is missing above (btf-atlas failures):',
      '  d/1/x86_64/1.2-amd64: BTF_BAD_MAGIC: bad magic',
      '',
    ].join('\n'));
  });

  it('one kernel: C declarations with linkage, decl tags on the func and its parameters', () => {
    const text = formatFuncInKernelText({
      kernel: 'd/1/x86_64/1.1-amd64',
      funcs: [func({
        linkage: 'static', kfunc: true, decl_tags: ['bpf_kfunc'], return: 'void (*)(int)',
        params: [{ name: 'p__map', type: 'void *', desc: { kind: 'ptr', size: 8 }, decl_tags: ['arg:nullable'] }],
      })],
    });
    expect(text).toBe('/* d/1/x86_64/1.1-amd64 */\nstatic void (*f(void *p__map __attribute__((btf_decl_tag("arg:nullable")))))(int) __attribute__((btf_decl_tag("bpf_kfunc"))); /* kfunc */\n');
  });
});

describe('search text', () => {
  it('one aligned line per name, and a line saying when nothing matched', () => {
    const s: SearchJson = {
      query: 'bpf_m', kinds: ['enum', 'enumerator'],
      results: [{ name: 'bpf_map_type', kinds: ['enum'], kernels: 4, match: 'prefix' }, { name: 'BPF_MAP_TYPE_ARENA', kinds: ['enumerator'], kernels: 1, match: 'prefix' }],
    };
    expect(formatSearchText(s)).toBe('NAME                KINDS       KERNELS  MATCH\nbpf_map_type        enum        4        prefix\nBPF_MAP_TYPE_ARENA  enumerator  1        prefix\n');
    expect(formatSearchText({ ...s, results: [] })).toBe('no enum/enumerator names match "bpf_m"\n');
  });
});
