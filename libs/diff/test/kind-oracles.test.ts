import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore, openCatalog, prepareKernel, searchNames, writeKernel, type Catalog, type TypeDesc } from '@btf-atlas/catalog';
import {
  entryDefinitions, enumHistory, enumeratorHistory, funcHistory, syscallHistory, tracepointHistory, type HistoryEntry,
} from '@btf-atlas/diff';
import { corpusFile, corpusKernels, corpusOracle, type CorpusKernel } from '../../btf/test/support/corpus.js';

// Every func, enumerator, enum and raw tracepoint of every corpus kernel (and of its modules), as the catalog's
// answers give them, against bpftool's raw dump of the same BTF (`bpftool -j btf dump file … format raw`, the
// corpus oracles): prototypes resolved through type ids and spelled by a speller of this file, which is first
// checked against the corpus's own spellings of every struct member (format (b)); linkage; decl tags; values.

interface RawType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type_id?: number;
  ret_type_id?: number;
  params?: { name: string; type_id: number }[];
  values?: { name: string; val: string }[];
  linkage?: string;
  encoding?: string;
  nr_elems?: number;
  fwd_kind?: string;
  component_idx?: number;
}

/** A BTF (vmlinux, or a module on it) as bpftool dumped it. */
interface RawBtf {
  module: string;
  own: RawType[];
  byId: Map<number, RawType>;
}

interface FieldsOracle {
  structs: { id: number; name: string; size: number; kind: string; members: { name: string; bits_offset: number; bitfield_size: number; type_id: number; type: string }[] }[];
}

interface LoadedKernel {
  kref: string;
  btfs: RawBtf[];
  fields: { module: string; oracle: FieldsOracle }[];
}

/** bpftool's JSON, enum values kept exact (ENUM64 values beyond 2^53 are JSON numbers). */
async function rawOracle(prefix: string): Promise<RawType[]> {
  const text = Buffer.from(await corpusOracle(`${prefix}.raw.json.xz`)).toString('utf8');
  return (JSON.parse(text.replace(/"val":\s*(-?\d+)/g, '"val":"$1"')) as { types: RawType[] }).types;
}

const anon = (n: string): string => (n === '(anon)' ? '' : n);
const QUALIFIERS = new Set(['CONST', 'VOLATILE', 'RESTRICT']);

/**
 * C spelling of a bpftool type (an abstract declarator), by the corpus README's format (b): named base types, `*`,
 * `[N]` and `(params)` around the declarator, `(*)` before an array or prototype, qualifiers of a pointer after
 * its `*`, others before everything, type tags after what they tag.
 */
function spell(byId: Map<number, RawType>, id: number, inner = ''): string {
  const join = (base: string): string => base + (inner === '' ? '' : inner.startsWith('[') ? inner : ` ${inner}`);
  if (id === 0) return join('void');
  const t = byId.get(id);
  if (!t) throw new Error(`no type ${id}`);
  const name = anon(t.name);
  switch (t.kind) {
    case 'INT':
    case 'FLOAT':
    case 'TYPEDEF':
      return join(name);
    case 'STRUCT':
    case 'UNION':
    case 'ENUM':
    case 'ENUM64': {
      const tag = t.kind === 'ENUM64' ? 'enum' : t.kind.toLowerCase();
      return join(name === '' ? `${tag} {...}` : `${tag} ${name}`);
    }
    case 'FWD':
      return join(`${t.fwd_kind} ${name}`);
    case 'PTR': {
      const target = byId.get(t.type_id as number);
      const wrap = target && (target.kind === 'ARRAY' || target.kind === 'FUNC_PROTO');
      return spell(byId, t.type_id as number, wrap ? `(*${inner})` : `*${inner}`);
    }
    case 'ARRAY':
      return spell(byId, t.type_id as number, `${inner}[${t.nr_elems}]`);
    case 'FUNC_PROTO': {
      const ps = t.params ?? [];
      const list = ps.map((p, i) => (p.type_id === 0 ? (i === ps.length - 1 ? '...' : 'void') : spell(byId, p.type_id)));
      return spell(byId, t.ret_type_id as number, `${inner}(${list.length === 0 ? 'void' : list.join(', ')})`);
    }
    case 'TYPE_TAG': {
      const tag = `__attribute__((btf_type_tag(${JSON.stringify(t.name)})))`;
      return spell(byId, t.type_id as number, inner === '' ? tag : `${tag} ${inner}`);
    }
    default: {
      if (!QUALIFIERS.has(t.kind)) throw new Error(`cannot spell a ${t.kind}`);
      const q = t.kind.toLowerCase();
      // Of a pointer (through more qualifiers and type tags): after its `*`; of anything else: in front.
      let x = byId.get(t.type_id as number);
      while (x && (QUALIFIERS.has(x.kind) || x.kind === 'TYPE_TAG')) x = byId.get(x.type_id as number);
      if (x?.kind === 'PTR') return spell(byId, t.type_id as number, inner === '' ? q : `${q} ${inner}`);
      return `${q} ${spell(byId, t.type_id as number, inner)}`;
    }
  }
}

/** The TypeDesc of a bpftool type, from the records (qualifiers and type tags skipped; typedefs for base, size, sign). */
function desc(byId: Map<number, RawType>, id: number): TypeDesc {
  const skipQ = (x: number): number => {
    for (let t = byId.get(x); t && (QUALIFIERS.has(t.kind) || t.kind === 'TYPE_TAG'); t = byId.get(x)) x = t.type_id as number;
    return x;
  };
  const kindOf = (x: number): TypeDesc['kind'] => {
    if (x === 0) return 'void';
    const k = (byId.get(x) as RawType).kind;
    return ({ ENUM64: 'enum' } as Record<string, TypeDesc['kind']>)[k] ?? (k.toLowerCase() as TypeDesc['kind']);
  };
  const outer = skipQ(id);
  const kind = kindOf(outer);
  let inner = outer;
  while (inner !== 0 && (byId.get(inner) as RawType).kind === 'TYPEDEF') inner = skipQ((byId.get(inner) as RawType).type_id as number);
  const base = kindOf(inner);
  const sizeOf = (x: number): number => {
    const t = byId.get(x) as RawType;
    if (t.kind === 'PTR') return 8;
    if (t.kind === 'ARRAY') return (t.nr_elems as number) * sizeOf(skipTypedefs(t.type_id as number));
    return t.size as number;
  };
  const skipTypedefs = (x: number): number => {
    x = skipQ(x);
    while (x !== 0 && (byId.get(x) as RawType).kind === 'TYPEDEF') x = skipQ((byId.get(x) as RawType).type_id as number);
    return x;
  };
  const d: TypeDesc = { kind, size: base === 'void' || base === 'fwd' || base === 'func_proto' ? 0 : sizeOf(inner) };
  if (base === 'int') d.signed = (byId.get(inner) as RawType).encoding === 'SIGNED';
  if (base === 'enum') d.signed = (byId.get(inner) as RawType).encoding === 'SIGNED';
  if (kind === 'typedef') d.base = base;
  return d;
}

/** JSON with object keys sorted, so that key order does not matter. */
function stable(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(stable).join(',')}]`;
  if (x !== null && typeof x === 'object') {
    return `{${Object.keys(x).sort().filter((k) => (x as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${stable((x as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(x);
}

/** Sorts a list of JSON-able values canonically, for multiset comparison. */
const canon = <T>(list: T[]): string[] => list.map(stable).sort();

/** A history entry's definitions (none when missing). */
function definitionsOf<J>(e: HistoryEntry<J> | undefined): J[] {
  return e ? entryDefinitions(e) : [];
}

let dir: string;
let catalog: Catalog;
const loaded: LoadedKernel[] = [];

const krefOf = (k: CorpusKernel): string => `${k.distro}/${k.release}/${k.arch}/${k.kernelRelease}`;

/** Appends v to what `m` holds for key and kernel (per name, per KREF, in the order found). */
const push = <T>(m: Map<string, Map<string, T[]>>, key: string, kref: string, v: T): void => {
  let per = m.get(key);
  if (!per) m.set(key, (per = new Map()));
  per.set(kref, [...(per.get(kref) ?? []), v]);
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-kind-oracles-'));
  catalog = openCatalog(join(dir, 'atlas.db'));
  const blobs = BlobStore.forCatalog(join(dir, 'atlas.db'));
  for (const k of corpusKernels()) {
    const prepared = await prepareKernel({
      kref: { distro: k.distro, release: k.release, arch: k.arch, unameR: k.kernelRelease },
      file: { source: k.archive, bytes: corpusFile(k.archive) },
      modules: k.modules.map((m) => ({ name: m.name, source: m.archive, bytes: corpusFile(m.archive) })),
    });
    writeKernel(catalog, blobs, prepared);
    const vmlinux = await rawOracle(k.oraclePrefix);
    const byId = new Map(vmlinux.map((t) => [t.id, t]));
    const btfs: RawBtf[] = [{ module: '', own: vmlinux, byId }];
    const fields = [{ module: '', oracle: JSON.parse(Buffer.from(await corpusOracle(`${k.oraclePrefix}.fields.json.xz`)).toString('utf8')) as FieldsOracle }];
    for (const m of k.modules) {
      const own = await rawOracle(m.oraclePrefix);
      btfs.push({ module: m.name, own, byId: new Map([...byId, ...own.map((t): [number, RawType] => [t.id, t])]) });
      fields.push({ module: m.name, oracle: JSON.parse(Buffer.from(await corpusOracle(`${m.oraclePrefix}.fields.json.xz`)).toString('utf8')) as FieldsOracle });
    }
    loaded.push({ kref: krefOf(k), btfs, fields });
  }
}, 600_000);

afterAll(() => {
  catalog?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Fails with the first few mismatches (and how many there were). */
function expectNone(mismatches: string[], what: string): void {
  expect(mismatches.length, `${what}: ${mismatches.length} mismatches, first:\n${mismatches.slice(0, 5).join('\n')}`).toBe(0);
}

describe('the test speller', () => {
  it('spells every struct member of every corpus kernel and module as the corpus oracle (b) does', () => {
    const bad: string[] = [];
    let n = 0;
    for (const k of loaded) {
      for (const f of k.fields) {
        const byId = (k.btfs.find((b) => b.module === f.module) as RawBtf).byId;
        for (const s of f.oracle.structs) {
          for (const m of s.members) {
            n++;
            const got = spell(byId, m.type_id);
            if (got !== m.type) bad.push(`${k.kref} ${s.name}.${m.name}: ${got} != ${m.type}`);
          }
        }
      }
    }
    expect(n).toBeGreaterThan(200_000);
    expectNone(bad, 'member spellings');
  });
});

describe('funcs against bpftool', () => {
  it('gives, for every FUNC of every kernel and module, its linkage, decl tags and prototype (names, types, descriptions)', () => {
    const expected = new Map<string, Map<string, unknown[]>>();
    for (const k of loaded) {
      for (const b of k.btfs) {
        const tags = new Map<number, { own: string[]; params: Map<number, string[]> }>();
        for (const t of b.own) {
          if (t.kind !== 'DECL_TAG' || b.byId.get(t.type_id as number)?.kind !== 'FUNC') continue;
          let e = tags.get(t.type_id as number);
          if (!e) tags.set(t.type_id as number, (e = { own: [], params: new Map() }));
          const list = t.component_idx === -1 ? e.own : (e.params.get(t.component_idx as number) ?? []);
          if (!list.includes(t.name)) list.push(t.name);
          if (t.component_idx !== -1) e.params.set(t.component_idx as number, list);
        }
        for (const t of b.own) {
          if (t.kind !== 'FUNC') continue;
          const proto = b.byId.get(t.type_id as number) as RawType;
          const ps = proto.params ?? [];
          const variadic = ps.length > 0 && ps[ps.length - 1].type_id === 0;
          const tg = tags.get(t.id);
          const own = [...(tg?.own ?? [])].sort();
          const def = {
            name: t.name,
            linkage: t.linkage,
            kfunc: own.includes('bpf_kfunc'),
            decl_tags: own,
            return: spell(b.byId, proto.ret_type_id as number),
            return_desc: desc(b.byId, proto.ret_type_id as number),
            params: (variadic ? ps.slice(0, -1) : ps).map((p, i) => {
              const pt = [...(tg?.params.get(i) ?? [])].sort();
              return { name: anon(p.name), type: spell(b.byId, p.type_id), desc: desc(b.byId, p.type_id), ...(pt.length > 0 ? { decl_tags: pt } : {}) };
            }),
            variadic,
            ...(b.module !== '' ? { module: b.module } : {}),
          };
          let perKernel = expected.get(t.name);
          if (!perKernel) expected.set(t.name, (perKernel = new Map()));
          const list = perKernel.get(k.kref) ?? [];
          list.push(def);
          perKernel.set(k.kref, list);
        }
      }
    }
    expect(expected.size).toBeGreaterThan(50_000);
    const bad: string[] = [];
    let compared = 0;
    for (const [name, perKernel] of expected) {
      const h = funcHistory(catalog, name);
      const byKernel = new Map(h.kernels.map((e) => [e.kernel, e]));
      for (const k of loaded) {
        const want = canon(perKernel.get(k.kref) ?? []);
        const got = canon(definitionsOf(byKernel.get(k.kref)));
        compared += want.length;
        if (want.join('\n') !== got.join('\n')) bad.push(`${k.kref} ${name}:\n  got  ${got.join(' | ')}\n  want ${want.join(' | ')}`);
      }
    }
    expect(compared).toBeGreaterThan(190_000);
    expectNone(bad, 'funcs');
  });

  it('indexes as kfuncs exactly the FUNCs a bpf_kfunc decl tag marks, and finds them by search', () => {
    const want = new Set<string>();
    for (const k of loaded) {
      for (const b of k.btfs) {
        for (const t of b.own) {
          if (t.kind === 'DECL_TAG' && t.name === 'bpf_kfunc' && t.component_idx === -1 && b.byId.get(t.type_id as number)?.kind === 'FUNC') {
            want.add((b.byId.get(t.type_id as number) as RawType).name);
          }
        }
      }
    }
    expect(want.size).toBeGreaterThan(50);
    const got = catalog.sqlite.prepare("SELECT name FROM names WHERE kind = 'kfunc' ORDER BY name").pluck().all() as string[];
    expect(got).toEqual([...want].sort());
    const s = searchNames(catalog, 'bpf_obj_new_imp', { kinds: ['kfunc'] });
    expect(s.results[0]).toMatchObject({ name: 'bpf_obj_new_impl', kinds: ['kfunc'], kernels: 1, match: 'prefix' });
  });
});

describe('enums and enumerators against bpftool', () => {
  interface EnumeratorWant { name: string; value: string; enum: string; first_enumerator: string; size: number; signed: boolean; module?: string }

  function oracleEnums(): { enumerators: Map<string, Map<string, EnumeratorWant[]>>; named: Map<string, Map<string, unknown[]>> } {
    const enumerators = new Map<string, Map<string, EnumeratorWant[]>>();
    const named = new Map<string, Map<string, unknown[]>>();
    for (const k of loaded) {
      for (const b of k.btfs) {
        for (const t of b.own) {
          if (t.kind !== 'ENUM' && t.kind !== 'ENUM64') continue;
          const values = t.values ?? [];
          const mod = b.module !== '' ? { module: b.module } : {};
          const signed = t.encoding === 'SIGNED';
          // bpftool 7.5 prints an unsigned ENUM's 32-bit value through a sign-extending cast (0xefffffff as
          // 18446744073441116159): the BTF word is the printed value modulo 2^32.
          const val = (v: string): string => (t.kind === 'ENUM' && !signed ? String(BigInt(v) & 0xffffffffn) : v);
          for (const v of values) {
            push(enumerators, v.name, k.kref, { name: v.name, value: val(v.val), enum: t.name, first_enumerator: values[0].name, size: t.size as number, signed, ...mod });
          }
          if (t.name !== '(anon)') push(named, t.name, k.kref, { name: t.name, size: t.size, signed, values: values.map((v) => ({ name: v.name, value: val(v.val) })), ...mod });
        }
      }
    }
    return { enumerators, named };
  }

  it('gives every enumerator of every enum (named, anonymous, ENUM64) its value and enum in every kernel', () => {
    const { enumerators } = oracleEnums();
    expect(enumerators.size).toBeGreaterThan(20_000);
    const bad: string[] = [];
    let anonymous = 0;
    let big = 0;
    for (const [name, perKernel] of enumerators) {
      const h = enumeratorHistory(catalog, name);
      const byKernel = new Map(h.kernels.map((e) => [e.kernel, e]));
      for (const k of loaded) {
        const wantList = perKernel.get(k.kref) ?? [];
        anonymous += wantList.filter((w) => w.enum === '(anon)').length;
        big += wantList.filter((w) => !Number.isSafeInteger(Number(w.value))).length;
        const want = canon(wantList);
        const got = canon(definitionsOf(byKernel.get(k.kref)).map((d) => ({ ...d, value: String(d.value) })));
        if (want.join('\n') !== got.join('\n')) bad.push(`${k.kref} ${name}:\n  got  ${got.join(' | ')}\n  want ${want.join(' | ')}`);
      }
    }
    expect(anonymous).toBeGreaterThan(1000);
    expect(big).toBeGreaterThan(0);
    expectNone(bad, 'enumerators');
  });

  it('gives every named enum its size, signedness and values in every kernel', () => {
    const { named } = oracleEnums();
    const bad: string[] = [];
    for (const [name, perKernel] of named) {
      const h = enumHistory(catalog, name);
      const byKernel = new Map(h.kernels.map((e) => [e.kernel, e]));
      for (const k of loaded) {
        const want = canon(perKernel.get(k.kref) ?? []);
        const got = canon(definitionsOf(byKernel.get(k.kref)).map((d) => ({ ...d, values: d.values.map((v) => ({ name: v.name, value: String(v.value) })) })));
        if (want.join('\n') !== got.join('\n')) bad.push(`${k.kref} ${name}:\n  got  ${got.join(' | ')}\n  want ${want.join(' | ')}`);
      }
    }
    expect(named.size).toBeGreaterThan(1000);
    expectNone(bad, 'enums');
  });
});

describe('tracepoints and syscalls against bpftool', () => {
  it('gives every btf_trace_ typedef its prototype (context, then the parameters as BTF has them) and every trace_event_raw_ struct its members', () => {
    const want = new Map<string, Map<string, unknown[]>>();
    const events = new Map<string, Map<string, unknown[]>>();
    for (const k of loaded) {
      for (const b of k.btfs) {
        for (const t of b.own) {
          if (t.kind !== 'TYPEDEF' || !t.name.startsWith('btf_trace_')) continue;
          const ptr = b.byId.get(t.type_id as number) as RawType;
          expect(ptr.kind).toBe('PTR');
          const proto = b.byId.get(ptr.type_id as number) as RawType;
          expect(proto.kind).toBe('FUNC_PROTO');
          const params = (proto.params ?? []).map((p) => ({ name: anon(p.name), type: spell(b.byId, p.type_id) }));
          push(want, t.name.slice('btf_trace_'.length), k.kref, { module: b.module, ret: spell(b.byId, proto.ret_type_id as number), context: params[0], params: params.slice(1) });
        }
      }
      for (const f of k.fields) {
        for (const s of f.oracle.structs) {
          if (!s.name.startsWith('trace_event_raw_')) continue;
          push(events, s.name.slice('trace_event_raw_'.length), k.kref, {
            module: f.module, size: s.size, members: s.members.map((m) => ({ name: m.name, bits_offset: m.bits_offset, bitfield_size: m.bitfield_size, type: m.type })),
          });
        }
      }
    }
    expect(want.size).toBeGreaterThan(900);
    const bad: string[] = [];
    for (const name of new Set([...want.keys(), ...events.keys()])) {
      const h = tracepointHistory(catalog, name);
      const byKernel = new Map(h.kernels.map((e) => [e.kernel, e]));
      for (const k of loaded) {
        const defs = definitionsOf(byKernel.get(k.kref));
        const gotRaw = canon(defs.filter((d) => d.raw).map((d) => ({ module: d.module ?? '', ret: d.raw?.return, context: { name: d.raw?.context?.name, type: d.raw?.context?.type }, params: d.raw?.params.map((p) => ({ name: p.name, type: p.type })) })));
        const wantRaw = canon(want.get(name)?.get(k.kref) ?? []);
        if (gotRaw.join('\n') !== wantRaw.join('\n')) bad.push(`${k.kref} raw ${name}:\n  got  ${gotRaw.join(' | ')}\n  want ${wantRaw.join(' | ')}`);
        const gotEvent = canon(defs.filter((d) => d.event).map((d) => ({ module: d.module ?? '', size: d.event?.size, members: d.event?.members.map((m) => ({ name: m.name, bits_offset: m.bits_offset, bitfield_size: m.bitfield_size, type: m.type })) })));
        const wantEvent = canon(events.get(name)?.get(k.kref) ?? []);
        if (gotEvent.join('\n') !== wantEvent.join('\n')) bad.push(`${k.kref} event ${name}:\n  got  ${gotEvent.join(' | ')}\n  want ${wantEvent.join(' | ')}`);
      }
    }
    expectNone(bad, 'tracepoints');
  });

  it('lists, per kernel, every wrapper FUNC of every syscall', () => {
    const prefixes = ['x64', 'ia32', 'arm64', 's390x', 's390', 'riscv', 'powerpc'];
    const re = new RegExp(`^__(${prefixes.join('|')})_(compat_)?sys_(\\w+)$`);
    const want = new Map<string, Map<string, { funcs: Set<string>; compat: Set<string> }>>();
    for (const k of loaded) {
      for (const b of k.btfs) {
        for (const t of b.own) {
          if (t.kind !== 'FUNC') continue;
          const m = re.exec(t.name);
          const plain = /^(compat_)?sys_(\w+)$/.exec(t.name);
          let syscall: string;
          let compat: boolean;
          if (m) [syscall, compat] = [m[3], m[2] !== undefined];
          else if (plain && spell(b.byId, (b.byId.get(t.type_id as number) as RawType).ret_type_id as number) === 'long int') [syscall, compat] = [plain[2], plain[1] !== undefined];
          else continue;
          let per = want.get(syscall);
          if (!per) want.set(syscall, (per = new Map()));
          let e = per.get(k.kref);
          if (!e) per.set(k.kref, (e = { funcs: new Set(), compat: new Set() }));
          (compat ? e.compat : e.funcs).add(t.name);
        }
      }
    }
    expect(want.size).toBeGreaterThan(300);
    const indexed = catalog.sqlite.prepare("SELECT name FROM names WHERE kind = 'syscall' ORDER BY name").pluck().all() as string[];
    expect(indexed).toEqual([...want.keys()].sort());
    const bad: string[] = [];
    for (const [name, per] of want) {
      const h = syscallHistory(catalog, name);
      for (const e of h.kernels) {
        const w = per.get(e.kernel);
        const got = e.status === 'missing' ? 'missing' : JSON.stringify(definitionsOf(e).map((d) => [[...d.funcs].sort(), [...d.compat_funcs].sort()]));
        const exp = w ? JSON.stringify([[[...w.funcs].sort(), [...w.compat].sort()]]) : 'missing';
        if (got !== exp) bad.push(`${e.kernel} ${name}: got ${got}, want ${exp}`);
      }
    }
    expectNone(bad, 'syscalls');
  });
});
