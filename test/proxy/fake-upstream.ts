import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after } from 'node:test';

/**
 * A loopback upstream for the proxy's end-to-end tests. It records every request
 * it receives (so a test can prove the upstream was never contacted, or see
 * exactly what Relay forwarded) and answers by route: the handler whose prefix
 * is the longest match of the request path, else a small JSON echo.
 */
export interface RecordedRequest {
  readonly method: string;
  /** The request target exactly as received: path and query. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  /** Filled by the default handler once the body has arrived; custom handlers leave it empty. */
  body: Buffer;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, recorded: RecordedRequest) => void;

export interface FakeUpstream {
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** Number of requests received so far. */
  readonly hits: number;
  /** Answers requests whose path starts with `prefix` with `handler`. */
  route(prefix: string, handler: UpstreamHandler): void;
  /** Requests whose path starts with `prefix`. */
  requestsTo(prefix: string): RecordedRequest[];
  close(): Promise<void>;
}

const pathOf = (url: string): string => {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
};

function echo(req: IncomingMessage, res: ServerResponse, recorded: RecordedRequest): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    recorded.body = Buffer.concat(chunks);
    const body = JSON.stringify({ ok: true, method: req.method, url: req.url, bytes: recorded.body.length });
    res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'fake' });
    res.end(body);
  });
}

/** Starts a fake upstream on 127.0.0.1, port 0; it is closed after the current suite. */
export async function startFakeUpstream(): Promise<FakeUpstream> {
  const requests: RecordedRequest[] = [];
  const routes: Array<{ prefix: string; handler: UpstreamHandler }> = [];
  const server = createServer((req, res) => {
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body: Buffer.alloc(0),
    };
    requests.push(recorded);
    const path = pathOf(recorded.url);
    let best: UpstreamHandler = echo;
    let bestLength = -1;
    for (const { prefix, handler } of routes) {
      if (path.startsWith(prefix) && prefix.length > bestLength) {
        best = handler;
        bestLength = prefix.length;
      }
    }
    best(req, res, recorded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closed;
  };
  after(close);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    get hits() {
      return requests.length;
    },
    route(prefix, handler) {
      routes.push({ prefix, handler });
    },
    requestsTo(prefix) {
      return requests.filter((r) => pathOf(r.url).startsWith(prefix));
    },
    close,
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound once, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
