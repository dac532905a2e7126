import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
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

/**
 * A port on 127.0.0.1 that nothing listens on, and that no other test can take meanwhile.
 * A port bound once and released is not enough: the kernel hands it to the next test that
 * listens on port 0 (CI once saw a "dead" upstream answer 200). Ports outside the kernel's
 * ephemeral range are never handed out that way, so the first one found refusing
 * connections stays refusing.
 */
export async function closedPort(): Promise<number> {
  const [low, high] = ephemeralRange();
  for (let port = high + 1; port <= 65535; port++) if (await refuses(port)) return port;
  for (let port = low - 1; port >= 1024; port--) if (await refuses(port)) return port;
  throw new Error(`no closed port on 127.0.0.1 outside the ephemeral range ${low}-${high}`);
}

/** The kernel's range for port 0 and outgoing connections; Linux's default where /proc has none. */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1').trim().split(/\s+/);
    return [Number(low), Number(high)];
  } catch {
    return [32768, 60999];
  }
}

function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}
