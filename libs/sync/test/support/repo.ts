import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { writeXz } from '@btf-atlas/catalog';

/** A real stanza excerpt from test/fixtures/packages. */
export function fixtureText(name: string): string {
  return readFileSync(new URL(`../fixtures/packages/${name}`, import.meta.url), 'utf8');
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** One synthetic Packages stanza. */
export function stanza(p: { name: string; version?: string; arch?: string; depends?: string; filename?: string; size?: number; sha256?: string; source?: string }): string {
  const version = p.version ?? '1.0-1';
  const arch = p.arch ?? 'amd64';
  const lines = [`Package: ${p.name}`];
  if (p.source !== undefined) lines.push(`Source: ${p.source}`);
  lines.push(`Version: ${version}`, `Architecture: ${arch}`, 'Maintainer: Nobody <nobody@example.org>');
  if (p.depends !== undefined) lines.push(`Depends: ${p.depends}`);
  lines.push(
    `Description: ${p.name} for tests`,
    ' A longer description,',
    ' .',
    ' over two paragraphs.',
    `Filename: ${p.filename ?? `pool/main/x/${p.name}/${p.name}_${version}_${arch}.deb`}`,
    `Size: ${p.size ?? 1234}`,
    `SHA256: ${p.sha256 ?? sha256(Buffer.from(p.name))}`,
  );
  return `${lines.join('\n')}\n`;
}

/** Stanzas joined as a Packages index. */
export function packagesText(stanzas: string[]): string {
  return stanzas.map((s) => (s.endsWith('\n') ? s : `${s}\n`)).join('\n');
}

export interface IndexSpec {
  component?: string;
  arch: string;
  text: string;
  /** Compressions to publish (default xz); all are listed in the Release. */
  formats?: ('xz' | 'gz')[];
  /** Listed in the Release but not served. */
  missing?: ('xz' | 'gz')[];
}

export interface SuiteSpec {
  /** Directory name under dists/. */
  name: string;
  /** Release fields in order (Origin, Suite, Codename, Version…); SHA256 is added. */
  fields: Record<string, string>;
  indexes: IndexSpec[];
  /** Publish InRelease (default true) and/or Release (default false). */
  inRelease?: boolean;
  release?: boolean;
  /** Publish indexes under by-hash/SHA256/ too. */
  byHash?: boolean;
}

/** Wraps text as an OpenPGP clearsigned message with a dummy signature (sync does not check signatures). */
export function clearsign(text: string): string {
  const escaped = text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => (l.startsWith('-') ? `- ${l}` : l))
    .join('\n');
  return [
    '-----BEGIN PGP SIGNED MESSAGE-----',
    'Hash: SHA256',
    '',
    escaped,
    '-----BEGIN PGP SIGNATURE-----',
    '',
    'iQIzBAEBCAAdFiEEdHVtbXkgc2lnbmF0dXJlIGZvciB0ZXN0cw==',
    '=abcd',
    '-----END PGP SIGNATURE-----',
    '',
  ].join('\n');
}

/** Builds a suite's files (paths relative to the mirror root, e.g. `dists/bookworm/InRelease`). */
export async function buildSuite(spec: SuiteSpec): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const listed: string[] = [];
  for (const idx of spec.indexes) {
    const dir = `${idx.component ?? 'main'}/binary-${idx.arch}`;
    const plain = Buffer.from(idx.text);
    listed.push(`${sha256(plain)} ${plain.length} ${dir}/Packages`);
    for (const format of idx.formats ?? ['xz']) {
      const bytes = format === 'xz' ? Buffer.from(await writeXz(plain, 1)) : gzipSync(plain);
      const rel = `${dir}/Packages.${format}`;
      listed.push(`${sha256(bytes)} ${bytes.length} ${rel}`);
      if (idx.missing?.includes(format)) continue;
      out.set(`dists/${spec.name}/${rel}`, bytes);
      if (spec.byHash) out.set(`dists/${spec.name}/${dir}/by-hash/SHA256/${sha256(bytes)}`, bytes);
    }
  }
  const head = Object.entries(spec.fields).map(([k, v]) => `${k}: ${v}`);
  if (spec.byHash) head.push('Acquire-By-Hash: yes');
  const release = `${[...head, 'SHA256:', ...listed.map((l) => ` ${l}`)].join('\n')}\n`;
  if (spec.inRelease ?? true) out.set(`dists/${spec.name}/InRelease`, Buffer.from(clearsign(release)));
  if (spec.release ?? false) out.set(`dists/${spec.name}/Release`, Buffer.from(release));
  return out;
}

/** Adds a suite's files to a server's file map under `prefix` (`/debian`). */
export async function publish(files: Map<string, Uint8Array>, prefix: string, spec: SuiteSpec): Promise<void> {
  for (const [rel, bytes] of await buildSuite(spec)) files.set(`${prefix}/${rel}`, bytes);
}
