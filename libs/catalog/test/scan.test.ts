import { describe, expect, it } from 'vitest';
import { krefFromPath } from '@btf-atlas/catalog';

describe('krefFromPath', () => {
  it('reads DISTRO/RELEASE/ARCH/UNAME_R from a btfhub-archive path', () => {
    expect(krefFromPath('/srv/archive/debian/12/x86_64/6.1.0-50-amd64.btf.tar.xz')).toEqual({ distro: 'debian', release: '12', arch: 'x86_64', unameR: '6.1.0-50-amd64' });
    expect(krefFromPath('ubuntu/22.04/arm64/5.15.0-91-generic.btf')).toMatchObject({ release: '22.04', arch: 'arm64' });
  });

  it('names no kernel when the folder above the file is not an archive arch', () => {
    expect(krefFromPath('/home/me/k/x.btf')).toBeUndefined();
    expect(krefFromPath('/srv/kernels/debian/amd64/6.1.0-50-amd64.btf')).toBeUndefined();
  });
});
