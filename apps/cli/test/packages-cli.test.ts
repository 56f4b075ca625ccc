import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOn } from './support.js';
import { ar, baseBtf, bzImage, deb, elfWithBtf, rpm, tar, zstdBomb, zstdRaw } from '../../../libs/pkg/test/support/build.js';


let dir: string;
let db: string;

const cli = cliOn(() => db);

const CONTROL = 'Package: linux-image-6.1.0-98-amd64\nVersion: 6.1.176-1~bpo12+1\nArchitecture: amd64\nDescription: t\n';

/** A tar header announcing a file of 8 GiB - 1, then zeros: the start of a decompression bomb. */
async function bigTarHeader(): Promise<Buffer> {
  const h = Buffer.from((await tar([{ path: './usr/share/big', data: new Uint8Array(0) }])).subarray(0, 512));
  h.write('17777777777\0', 124, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btf-atlas-pkg-cli-'));
  db = join(dir, 'atlas.db');
  const good = await deb([{ path: './boot/vmlinuz-6.1.0-98-amd64', data: bzImage(zstdRaw(elfWithBtf(baseBtf()))) }], { data: 'gz', control: CONTROL });
  writeFileSync(join(dir, 'linux-image-truncated_1_amd64.deb'), good.subarray(0, good.length - 200));
  writeFileSync(join(dir, 'vmlinuz-past-end'), bzImage(zstdRaw(elfWithBtf(baseBtf())), { patch: (h) => h.setUint32(0x248, 0x7fff0000, true) }));
  writeFileSync(join(dir, 'kernel-core-1-1.fc99.x86_64.rpm'), await rpm([{ path: '../x', data: Buffer.from('x') }]));
  writeFileSync(join(dir, 'hello_1_amd64.deb'), await deb([{ path: './usr/share/doc/hello/copyright', data: Buffer.from('free') }], { control: CONTROL }));
  writeFileSync(join(dir, 'bomb_1_amd64.deb'), ar([{ name: 'debian-binary', data: Buffer.from('2.0\n') }, { name: 'data.tar.zst', data: zstdBomb(await bigTarHeader(), 2 * 1024 * 1024 * 1024) }]));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('btf-atlas ingest of bad packages and images', () => {
  const cases: [string, string, string[]][] = [
    ['a .deb whose data member is truncated', 'linux-image-truncated_1_amd64.deb', ['PKG_TRUNCATED']],
    ['a bzImage whose payload offset points past the end', 'vmlinuz-past-end', ['PKG_BAD_IMAGE']],
    ['an rpm with a cpio path ../x', 'kernel-core-1-1.fc99.x86_64.rpm', ['PKG_UNSAFE_PATH']],
    ['a package without a kernel', 'hello_1_amd64.deb', ['PKG_NO_KERNEL']],
    ['a 2 GiB zstd bomb', 'bomb_1_amd64.deb', ['PKG_TOO_LARGE']],
  ];
  for (const [what, file, codes] of cases) {
    it(`${what}: exit 1, one line with its code, nothing written`, () => {
      const args = file.startsWith('vmlinuz') ? ['ingest', join(dir, file), '--kernel', 'debian/12/x86_64/6.1.0-97-amd64'] : ['ingest', join(dir, file)];
      const r = cli(...args);
      expect(r.status, r.stderr).toBe(1);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('failed '));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`: (${codes.join('|')}): `));
      const kernels = JSON.parse(cli('kernels', '--json').stdout) as { kernels: { state: string }[] };
      expect(kernels.kernels.filter((k) => k.state === 'ingested')).toEqual([]);
    });
  }
});
