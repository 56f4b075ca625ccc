import { describe, expect, it } from 'vitest';
import { CatalogError, formatKref, krefFromPackage, type PackageFacts } from '@btf-atlas/catalog';

const kref = (p: PackageFacts, hints = {}) => formatKref(krefFromPackage(p, hints));

function refusal(p: PackageFacts, hints = {}): string {
  try {
    krefFromPackage(p, hints);
  } catch (err) {
    expect(err).toBeInstanceOf(CatalogError);
    expect((err as CatalogError).code).toBe('CATALOG_BAD_KREF');
    return (err as CatalogError).message;
  }
  throw new Error('expected a refusal');
}

describe('krefFromPackage', () => {
  it("names Debian kernels from the package's own metadata", () => {
    // sid: the uname -r says +deb14
    expect(kref({ format: 'deb', package: 'linux-binary-7.2.13+deb14-amd64', version: '7.2.13-1', arch: 'amd64', unameR: '7.2.13+deb14-amd64' }))
      .toBe('debian/14/x86_64/7.2.13+deb14-amd64');
    // a bookworm backport: ~bpo12
    expect(kref({ format: 'deb', package: 'linux-image-6.12.43+deb12-arm64', version: '6.12.43-1~bpo12+1', arch: 'arm64' }))
      .toBe('debian/12/arm64/6.12.43+deb12-arm64');
    // a stable update of 13, unsigned image, uname -r from the package name
    expect(kref({ format: 'deb', package: 'linux-image-6.12.117+deb13-s390x-unsigned', version: '6.12.117-1+deb13u1', arch: 's390x' }))
      .toBe('debian/13/s390x/6.12.117+deb13-s390x');
    expect(kref({ format: 'deb', package: 'linux-image-6.1.0-50-armmp', version: '6.1.176-1', arch: 'armhf' }, { release: '12' }))
      .toBe('debian/12/arm/6.1.0-50-armmp');
  });

  it('asks for --release where a Debian version names none (bookworm 6.1.176-1)', () => {
    expect(refusal({ format: 'deb', package: 'linux-image-6.1.0-50-amd64', version: '6.1.176-1', arch: 'amd64', unameR: '6.1.0-50-amd64' }))
      .toMatch(/which debian release .*pass --release/);
  });

  it('names Ubuntu kernels by maintainer, release from an HWE version or --release', () => {
    const u: PackageFacts = { format: 'deb', package: 'linux-image-unsigned-6.8.0-45-generic', version: '6.8.0-45.45~22.04.1', arch: 'amd64', maintainer: 'Ubuntu Kernel Team <kernel-team@lists.ubuntu.com>' };
    expect(kref(u)).toBe('ubuntu/22.04/x86_64/6.8.0-45-generic');
    expect(refusal({ ...u, version: '6.8.0-45.45' })).toMatch(/which ubuntu release/);
    expect(kref({ ...u, version: '6.8.0-45.45' }, { release: '24.04' })).toBe('ubuntu/24.04/x86_64/6.8.0-45-generic');
  });

  it('names rpm kernels from NAME-VERSION-RELEASE.ARCH and the dist tag', () => {
    expect(kref({ format: 'rpm', package: 'kernel-core', version: '6.8.5', release: '301.fc40', arch: 'x86_64' })).toBe('fedora/40/x86_64/6.8.5-301.fc40.x86_64');
    expect(kref({ format: 'rpm', package: 'kernel', version: '6.1.109', release: '118.189.amzn2023', arch: 'aarch64' })).toBe('amzn/2023/arm64/6.1.109-118.189.amzn2023.aarch64');
    expect(refusal({ format: 'rpm', package: 'kernel-core', version: '5.14.0', release: '427.13.1.el9_4', arch: 'x86_64' })).toMatch(/CentOS, RHEL.*pass --distro/);
    expect(kref({ format: 'rpm', package: 'kernel-core', version: '5.14.0', release: '427.13.1.el9_4', arch: 'x86_64' }, { distro: 'rocky' }))
      .toBe('rocky/9/x86_64/5.14.0-427.13.1.el9_4.x86_64');
  });

  it('asks for --kernel for a bare image or an unknown arch', () => {
    expect(refusal({ format: 'image', unameR: '6.1.0-50-amd64' })).toMatch(/pass --kernel/);
    expect(refusal({ format: 'deb', package: 'linux-image-1-foo', version: '1-1~bpo12', arch: 'pdp11' })).toMatch(/no known architecture/);
  });
});
