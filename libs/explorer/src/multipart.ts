/**
 * A reader of `multipart/form-data` bodies (RFC 7578) as browsers send a form with a file input: the parts'
 * names, file names and bytes. The body is already in memory (bounded by the route's body limit); a body that is
 * not well formed is a {@link MultipartError}, never a partial answer.
 */

export interface FormPart {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer;
}

export class MultipartError extends Error {
  readonly code = 'BAD_MULTIPART';
  constructor(message: string) {
    super(message);
    this.name = 'MultipartError';
  }
}

/** The boundary of a `multipart/form-data` Content-Type; undefined for another type or a missing boundary. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  if (contentType === undefined || !/^multipart\/form-data\s*(;|$)/i.test(contentType)) return undefined;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

/** A header parameter (`name="object"`) of a Content-Disposition value, with `\"` unescaped. */
function dispositionParam(value: string, key: string): string | undefined {
  const m = new RegExp(`;\\s*${key}="((?:[^"\\\\]|\\\\.)*)"`, 'i').exec(value) ?? new RegExp(`;\\s*${key}=([^;\\s]+)`, 'i').exec(value);
  return m ? m[1].replace(/\\(.)/g, '$1') : undefined;
}

/** The parts of a body with this boundary, in order. */
export function parseMultipart(body: Buffer, boundary: string): FormPart[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: FormPart[] = [];
  let at = body.indexOf(delimiter);
  if (at === -1) throw new MultipartError('the form has no part: its boundary never appears');
  for (;;) {
    at += delimiter.length;
    // `--` after a delimiter ends the body.
    if (body[at] === 0x2d && body[at + 1] === 0x2d) return parts;
    if (body[at] !== 0x0d || body[at + 1] !== 0x0a) throw new MultipartError('a boundary is not followed by a line end');
    const headersEnd = body.indexOf('\r\n\r\n', at + 2);
    if (headersEnd === -1) throw new MultipartError('a part has no end of headers');
    const headers = body.subarray(at + 2, headersEnd).toString('utf8').split('\r\n');
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headersEnd + 4);
    if (next === -1) throw new MultipartError('the form ends before its closing boundary');
    let disposition: string | undefined;
    let contentType: string | undefined;
    for (const line of headers) {
      const colon = line.indexOf(':');
      if (colon === -1) continue;
      const key = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (key === 'content-disposition') disposition = value;
      else if (key === 'content-type') contentType = value;
    }
    const name = disposition === undefined ? undefined : dispositionParam(disposition, 'name');
    if (name === undefined) throw new MultipartError('a part has no Content-Disposition name');
    parts.push({ name, filename: disposition === undefined ? undefined : dispositionParam(disposition, 'filename'), contentType, data: body.subarray(headersEnd + 4, next) });
    at = next + 2;
  }
}
