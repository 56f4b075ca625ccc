import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from '../commander.js';
import { existingCatalogPath } from '../config.js';
import { CliError } from '../errors.js';

async function writeJson(value: unknown): Promise<void> {
  await new Promise<void>((done, fail) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`, (e) => (e ? fail(e) : done())));
}

/** A catalog named on the command line (merge's A and B): it must exist; reading never creates one. */
function existingCatalogArg(path: string, label: string): string {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new CliError(`no catalog at ${abs} (${label}): no such file`, 'CATALOG_MISSING');
  return abs;
}

/** `reindex` and `merge`: catalog maintenance (a catalog rebuilt from its blobs; two catalogs made one). */
export function registerMaintenanceCommands(program: Command): void {
  program
    .command('reindex')
    .description("rebuild the catalog from the input files its blob store keeps, with this version's normalizer; the old file is kept as <db>.v<N>.bak")
    .option('--db <file>', 'catalog file (default $BTF_ATLAS_DB or ./data/atlas.db)')
    .option('--drop-missing', 'leave out (and list as failed) kernels whose blobs are gone, instead of failing')
    .addOption(new Option('--no-backup', 'remove the old catalog instead of keeping it as <db>.v<N>.bak'))
    .option('--json', 'print the result as JSON')
    .action(async (opts: { db?: string; dropMissing?: boolean; backup: boolean; json?: boolean }) => {
      const path = existingCatalogPath(opts.db);
      const { reindexCatalog } = await import('@btf-atlas/catalog/reindex');
      const result = await reindexCatalog(path, {
        dropMissing: opts.dropMissing === true,
        keepBackup: opts.backup,
        onProgress: (e) => {
          if (e.phase === 'start') {
            const from = e.fromNormalizer === null ? 'an unrecorded normalizer version' : `normalizer version ${e.fromNormalizer}`;
            process.stderr.write(`reindex ${path}: ${e.kernels} kernel(s), ${e.failures} failure(s), from ${from} to ${e.toNormalizer}\n`);
          } else if (e.phase === 'kernel') process.stderr.write(`reindex ${e.index}/${e.total} ${e.kernel} (${e.shapes} shapes, ${e.newShapes} new)\n`);
          else if (e.phase === 'dropped') process.stderr.write(`dropped ${e.kernel}: missing ${e.missing.join(', ')}\n`);
          else process.stderr.write(e.backup ? `swapped in the new catalog; the old one is ${e.backup}\n` : 'swapped in the new catalog; the old one is removed\n');
        },
      });
      if (opts.json) await writeJson(result);
      else process.stderr.write(`${result.kernels.length} kernel(s) reindexed, ${result.dropped.length} dropped, ${result.failures} failure(s) carried over (catalog ${path})\n`);
    });

  program
    .command('merge')
    .description("add catalog B's kernels (with their modules, failures and blobs) to catalog A, or both to OUT")
    .argument('<a>', 'catalog A (written to unless --into)')
    .argument('<b>', 'catalog B (read)')
    .option('--into <out>', 'write the merge to this catalog (created when missing) instead of A')
    .addOption(new Option('--prefer <side>', 'a kernel in both with different BTF: keep A\'s (a) or take B\'s (b); unset, the merge stops (exit 1)').choices(['a', 'b']))
    .option('--json', 'print the result as JSON')
    .action(async (a: string, b: string, opts: { into?: string; prefer?: 'a' | 'b'; json?: boolean }) => {
      const pathA = existingCatalogArg(a, 'A');
      const pathB = existingCatalogArg(b, 'B');
      const into = opts.into === undefined ? undefined : resolve(opts.into);
      const { mergeCatalogs } = await import('@btf-atlas/catalog/merge');
      const results = await mergeCatalogs(pathA, pathB, {
        into,
        prefer: opts.prefer,
        onProgress: (e) => {
          if (e.phase === 'source') process.stderr.write(`merge ${e.path} (${e.kernels} kernel(s)) into ${into ?? pathA}\n`);
          else process.stderr.write(`merge ${e.index}/${e.total} ${e.kernel}: ${e.status}${e.status === 'added' || e.status === 'replaced' ? ` (${e.newShapes} new shapes, ${e.newSets} new sets)` : ''}\n`);
        },
      });
      for (const r of results) for (const m of r.missingBlobs) process.stderr.write(`warning: ${m.kernel}: its ${m.what} (sha256 ${m.sha256}) is missing from ${r.source}'s blob store\n`);
      if (opts.json) {
        await writeJson({ target: into ?? pathA, merged: results });
        return;
      }
      const count = (s: string): number => results.reduce((n, r) => n + r.kernels.filter((k) => k.status === s).length, 0);
      const shapes = results.reduce((n, r) => n + r.newShapes, 0);
      process.stderr.write(`${count('added')} kernel(s) added, ${count('replaced')} replaced, ${count('skipped')} skipped, ${count('kept')} kept; ${shapes} new shapes (catalog ${into ?? pathA})\n`);
    });
}
