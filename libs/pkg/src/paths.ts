import { PkgError, PkgErrorCode } from './errors.js';

/**
 * A member name as archives spell it (`./usr/lib/modules/X/vmlinuz`, `/lib/modules/X/vmlinuz` in some rpm
 * payloads) reduced to a relative path (`usr/lib/modules/X/vmlinuz`), or PKG_UNSAFE_PATH for a name that climbs
 * out with `..`, holds a NUL or a backslash. Leading `/` and `./` are dropped: nothing is ever written to disk, the
 * name only decides what a member is.
 */
export function normalizeMemberPath(name: string, where: string): string {
  const reason = unsafeReason(name);
  if (reason) throw new PkgError(PkgErrorCode.UnsafePath, `member ${JSON.stringify(name)} ${reason}`, { source: where });
  return name
    .split('/')
    .filter((seg) => seg !== '' && seg !== '.')
    .join('/');
}

function unsafeReason(name: string): string | undefined {
  if (name.length === 0) return 'has an empty name';
  if (name.includes('\0')) return 'has a nul byte in its name';
  if (name.includes('\\')) return 'has a backslash in its name';
  if (name.split('/').some((seg) => seg === '..')) return "climbs out of the archive with '..'";
  return undefined;
}
