import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the server answers one path (on top of serving its bytes). */
export interface Behaviour {
  /** Ignore Range headers and always answer 200 with everything (a server without range support). */
  noRange?: boolean;
  /** Answer every Range request with 416 (range not satisfiable). */
  refuseRange?: boolean;
  /** Answer Range requests with 206 and this Content-Range instead of the right one. */
  wrongContentRange?: string;
  /** For the next N requests: announce the full length, send only this many bytes, then close the socket. */
  cutAfter?: number;
  cutTimes?: number;
  /** Send the headers and this many bytes, then nothing (never close). */
  stallAfter?: number;
  /** Answer with this status and no body. */
  status?: number;
}

export interface Request {
  path: string;
  range: string | undefined;
}

export interface FixtureServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Served files by path (leading `/`). */
  files: Map<string, Uint8Array>;
  behaviours: Map<string, Behaviour>;
  requests: Request[];
  /** Requests of one path. */
  requestsOf(path: string): Request[];
  close(): Promise<void>;
}

/** A static file server on 127.0.0.1 with a random port, Range support, and ways to misbehave per path. */
export async function startServer(): Promise<FixtureServer> {
  const files = new Map<string, Uint8Array>();
  const behaviours = new Map<string, Behaviour>();
  const requests: Request[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const range = req.headers.range;
    requests.push({ path, range });
    const b = behaviours.get(path) ?? {};
    if (b.status !== undefined) {
      res.writeHead(b.status, { 'content-length': 0 });
      res.end();
      return;
    }
    const body = files.get(path);
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain', 'content-length': 9 });
      res.end('not found');
      return;
    }
    let start = 0;
    let status = 200;
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream' };
    if (!b.noRange) headers['accept-ranges'] = 'bytes';
    const m = range === undefined || b.noRange ? null : /^bytes=(\d+)-$/.exec(range);
    if (m !== null) {
      start = Number(m[1]);
      if (start >= body.length || b.refuseRange) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}`, 'content-length': 0 });
        res.end();
        return;
      }
      status = 206;
      headers['content-range'] = b.wrongContentRange ?? `bytes ${start}-${body.length - 1}/${body.length}`;
    }
    const slice = Buffer.from(body.subarray(start));
    headers['content-length'] = slice.length;
    res.writeHead(status, headers);
    if (b.cutAfter !== undefined && (b.cutTimes ?? 1) > 0) {
      b.cutTimes = (b.cutTimes ?? 1) - 1;
      res.write(slice.subarray(0, b.cutAfter), () => {
        // Give the bytes a moment to leave, then drop the connection mid-body.
        setTimeout(() => res.socket?.destroy(), 20);
      });
      return;
    }
    if (b.stallAfter !== undefined) {
      res.write(slice.subarray(0, b.stallAfter));
      return;
    }
    res.end(slice);
  };
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    files,
    behaviours,
    requests,
    requestsOf: (p) => requests.filter((r) => r.path === p),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
