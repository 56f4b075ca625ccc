#!/usr/bin/env node
// Writes fixtures/vmlinux-h/: for every kernel of fixtures/corpus/manifest.json, the set of named types that
// `bpftool btf dump file KREL.btf format c` declares (struct, union, enum tags and typedef names, definitions and
// forward declarations alike), sorted, one `KIND NAME` per line: DISTRO/RELEASE/ARCH/KREL.names.txt.xz. For each
// module of a kernel, what `bpftool btf dump -B KREL.btf file MODULE.btf format c` declares, written as its
// difference from the kernel's set (`+ KIND NAME` added, `- KIND NAME` missing):
// DISTRO/RELEASE/ARCH/KREL/modules/MODULE.names.diff.txt.xz.
//
// Needs bpftool (Debian 12: bpftool 7.1.0), tar and xz; the tests need none of them. Run:
//   node scripts/make-vmlinux-h-names.mjs [bpftool]
// `declaredNames` is exported so that libs/btf/test/dump-c.test.ts reads btf-atlas' header the same way.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const corpus = join(root, 'fixtures/corpus');
const outDir = join(root, 'fixtures/vmlinux-h');

/** Removes every balanced `open … close` group that starts where `start` matches (`{…}` bodies, `__attribute__((…))`). */
function stripGroups(text, start, open, close) {
  let out = '';
  let i = 0;
  for (;;) {
    const at = text.indexOf(start, i);
    if (at < 0) return out + text.slice(i);
    out += text.slice(i, at);
    let j = text.indexOf(open, at);
    let depth = 0;
    for (; j < text.length; j++) {
      if (text[j] === open) depth++;
      else if (text[j] === close && --depth === 0) break;
    }
    i = j + 1;
  }
}

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/g;
const lastIdent = (s) => (s.match(IDENT) ?? []).at(-1);

/** The name a typedef statement (as libbpf's btf_dump writes it, without the final `;`) declares. */
function typedefName(stmt) {
  let s = stripGroups(stmt, '__attribute__', '(', ')');
  s = stripGroups(s, '{', '{', '}');
  const paren = s.indexOf('(');
  if (paren < 0) return lastIdent(s.split('[')[0]);
  // `(*name)(…)`, `(*name[4])(…)`, `(*(*name)(…))(…)`: the name ends the innermost pointer declarator
  if (/^\(\s*\*/.test(s.slice(paren))) return lastIdent(s.slice(0, s.indexOf(')')).split('[')[0]);
  // `T name(…)`: a typedef of a function type
  return lastIdent(s.slice(0, paren));
}

/**
 * The named types a C header written by bpftool / libbpf btf_dump declares at top level, as sorted
 * `struct NAME`, `union NAME`, `enum NAME` and `typedef NAME` lines. Relies on btf_dump's layout: each top-level
 * declaration starts at column 0 and ends with `;` and an empty line.
 */
export function declaredNames(header) {
  const names = new Set();
  for (const chunk of header.split(';\n\n')) {
    const stmt = chunk
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('/*') && !l.startsWith('extern '))
      .join('\n');
    const tag = /^(struct|union|enum) ([A-Za-z_][A-Za-z0-9_]*)(?: \{|$)/.exec(stmt);
    if (tag) names.add(`${tag[1]} ${tag[2]}`);
    else if (stmt.startsWith('typedef ')) {
      const name = typedefName(stmt);
      if (name) names.add(`typedef ${name}`);
    }
  }
  return [...names].sort();
}

function bpftoolC(bpftool, args) {
  return execFileSync(bpftool, ['btf', 'dump', ...args, 'format', 'c'], { maxBuffer: 1 << 30 }).toString('latin1');
}

function main() {
  const bpftool = process.argv[2] ?? 'bpftool';
  const version = execFileSync(bpftool, ['version']).toString().split('\n')[0];
  const manifest = JSON.parse(readFileSync(join(corpus, 'manifest.json'), 'utf8'));
  const tmp = mkdtempSync(join(tmpdir(), 'vmlinux-h-names-'));
  try {
    for (const k of manifest.kernels) {
      const rel = `${k.distro}/${k.release}/${k.arch}/${k.kernel_release}`;
      execFileSync('tar', ['-xJf', join(corpus, k.archive), '-C', tmp]);
      const btf = join(tmp, `${k.kernel_release}.btf`);
      const kernelNames = declaredNames(bpftoolC(bpftool, ['file', btf]));
      mkdirSync(join(outDir, dirname(rel)), { recursive: true });
      writeFileSync(join(outDir, `${rel}.names.txt.xz`), execFileSync('xz', ['-9e', '-c'], { input: `${kernelNames.join('\n')}\n` }));
      console.log(`${rel}: ${kernelNames.length} names`);
      const kernelSet = new Set(kernelNames);
      for (const m of k.modules) {
        const names = declaredNames(bpftoolC(bpftool, ['-B', btf, 'file', join(corpus, m.path)]));
        const set = new Set(names);
        const diff = [...names.filter((n) => !kernelSet.has(n)).map((n) => `+ ${n}`), ...kernelNames.filter((n) => !set.has(n)).map((n) => `- ${n}`)];
        mkdirSync(join(outDir, rel, 'modules'), { recursive: true });
        writeFileSync(join(outDir, rel, 'modules', `${m.name}.names.diff.txt.xz`), execFileSync('xz', ['-9e', '-c'], { input: diff.length > 0 ? `${diff.join('\n')}\n` : '' }));
        console.log(`${rel} ${m.name}: ${names.length} names, ${diff.length} differ from the kernel's`);
      }
      rmSync(btf);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`made with ${version}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
