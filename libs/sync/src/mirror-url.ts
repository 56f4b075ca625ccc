import { SyncError, SyncErrorCode } from './errors.js';

/**
 * A mirror's root as a URL ending in `/` (`http://host/debian/`): http or https, no query, fragment or
 * credentials (they would end up in logs and job records; apt keeps them in auth.conf for the same reason).
 */
export function mirrorBase(mirror: string): URL {
  let url: URL;
  try {
    url = new URL(mirror);
  } catch {
    throw new SyncError(SyncErrorCode.BadConfig, `mirror ${JSON.stringify(mirror)} is not a url`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SyncError(SyncErrorCode.BadConfig, `mirror ${JSON.stringify(mirror)} is not an http or https url`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new SyncError(SyncErrorCode.BadConfig, `mirror url for ${url.host} carries credentials; they are not accepted`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw new SyncError(SyncErrorCode.BadConfig, `mirror ${JSON.stringify(mirror)} has a query or fragment`);
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/** The mirror written back without its trailing slash, the spelling used in plans and messages. */
export function formatMirror(base: URL): string {
  return base.href.replace(/\/+$/, '');
}

const SUITE = /^[A-Za-z0-9][A-Za-z0-9._~+-]{0,99}$/;

/** A suite name that can be put in a URL path (`bookworm-backports`, `jammy-updates`); SYNC_BAD_CONFIG otherwise. */
export function checkSuiteName(suite: string): string {
  if (!SUITE.test(suite)) throw new SyncError(SyncErrorCode.BadConfig, `suite name ${JSON.stringify(suite)} is not a plain name`);
  return suite;
}

const POOL_PATH = /^[A-Za-z0-9_][A-Za-z0-9._+~%-]*(?:\/[A-Za-z0-9_][A-Za-z0-9._+~%-]*)*$/;

/**
 * The URL of a `Filename:` from a Packages index (`pool/main/l/linux/…deb`), refused with SYNC_UNSAFE_PATH
 * when it is absolute, has `.`/`..` segments or characters outside Debian's file names, or lands outside the mirror.
 */
export function poolUrl(base: URL, filename: string, where: { suite?: string; arch?: string } = {}): string {
  const segments = filename.split('/');
  if (!POOL_PATH.test(filename) || segments.some((s) => s === '.' || s === '..')) {
    throw new SyncError(SyncErrorCode.UnsafePath, `package file name ${JSON.stringify(filename.slice(0, 200))} is not a plain relative path`, where);
  }
  const url = new URL(filename, base);
  if (!url.href.startsWith(base.href)) {
    throw new SyncError(SyncErrorCode.UnsafePath, `package file name ${JSON.stringify(filename)} leaves the mirror`, where);
  }
  return url.href;
}
