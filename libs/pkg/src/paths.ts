import { unsafePathReason } from '@btf-atlas/btf';
import { PkgError, PkgErrorCode } from './errors.js';

/**
 * A member name as archives spell it (`./usr/lib/modules/X/vmlinuz`, `/lib/modules/X/vmlinuz` in some rpm
 * payloads) reduced to a relative path (`usr/lib/modules/X/vmlinuz`), or PKG_UNSAFE_PATH for a name that climbs
 * out with `..`, holds a NUL or a backslash. Leading `/` and `./` are dropped: nothing is ever written to disk, the
 * name only decides what a member is.
 */
export function normalizeMemberPath(name: string, where: string): string {
  // Absolute names are fine here (rpm payloads spell them so); everything else is judged as libs/btf judges tar members.
  const rel = name.replace(/^\/+/, '');
  const reason = name === '' ? 'has an empty name' : rel === '' ? undefined : unsafePathReason(rel);
  if (reason) throw new PkgError(PkgErrorCode.UnsafePath, `member ${JSON.stringify(name)} ${reason}`, { source: where });
  return name
    .split('/')
    .filter((seg) => seg !== '' && seg !== '.')
    .join('/');
}
