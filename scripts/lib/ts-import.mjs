// Imports the repo's TypeScript test support (builders, mutators) from a script without a build step: the file and
// the relative imports it reaches are transpiled with the workspace's own `typescript` (no type check) into a
// mirror of the repo under node_modules/.cache/btf-atlas-ts/ (so bare imports resolve to the workspace's
// node_modules, and `./x.js` to the transpiled `./x.ts`), once per source change. Module hooks would do the same
// but put every later dynamic import() of the process (the libraries load their decoders lazily) through a hooks
// thread, which slows a fuzzing loop several times over.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { ROOT } from './bench-common.mjs';

const MIRROR = join(ROOT, 'node_modules/.cache/btf-atlas-ts');
const SPECIFIERS = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

/** Transpiles `path` (a .ts file of the repo) and what it imports relatively into the mirror; returns its mirror path. */
function transpileTree(path, seen = new Set()) {
  const out = join(MIRROR, relative(ROOT, path)).replace(/\.ts$/, '.js');
  if (seen.has(path)) return out;
  seen.add(path);
  const source = readFileSync(path, 'utf8');
  for (const [, spec] of source.matchAll(SPECIFIERS)) {
    const target = resolve(dirname(path), spec.replace(/\.js$/, '.ts'));
    if (spec.endsWith('.js') && existsSync(target)) transpileTree(target, seen);
  }
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(path).mtimeMs) {
    const js = ts.transpileModule(source, {
      fileName: path,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
    }).outputText;
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, js);
  }
  return out;
}

/** `import()` of a `.ts` file of the repo (absolute path). */
export async function importTs(path) {
  return import(pathToFileURL(transpileTree(path)).href);
}
