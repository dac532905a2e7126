import assert from 'node:assert/strict';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { readFileSync } from 'node:fs';
import {
  type AddressInfo,
  createServer as createNetServer,
  type LookupFunction,
  type Socket,
} from 'node:net';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createServer as createTlsServer } from 'node:tls';
import {
  UpstreamClient,
  type UpstreamClientOptions,
  type UpstreamController,
  type UpstreamRequest,
} from '../../src/planes/proxy/http1/client.ts';
import type { ResponseHeaders } from '../../src/planes/proxy/http1/response-head.ts';
import { makePki } from '../policies/policy-helpers.ts';

/**
 * The proxy's upstream client (planes/proxy/http1/client.ts) against scripted
 * upstreams that write exact bytes: every response framing, connection reuse and
 * when it must not happen, a stale kept-alive connection, malformed answers,
 * each timeout, request bodies, backpressure, abort, TLS.
 */

interface Seen {
  readonly head: string;
  readonly body: Buffer;
  readonly connection: number;
}

/** A TCP upstream that reads requests (Content-Length or chunked bodies) and answers with `script`. */
async function scripted(script: (socket: Socket, seen: Seen, index: number) => void) {
  const seen: Seen[] = [];
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buf = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buf.subarray(0, end).toString('latin1');
        let at = end + 4;
        let body = Buffer.alloc(0);
        const length = /\r\ncontent-length: (\d+)/i.exec(head);
        if (length) {
          const n = Number(length[1]);
          if (buf.length < at + n) return;
          body = buf.subarray(at, at + n);
          at += n;
        } else if (/\r\ntransfer-encoding: chunked/i.test(head)) {
          const parts: Buffer[] = [];
          for (;;) {
            const lineEnd = buf.indexOf('\r\n', at);
            if (lineEnd === -1) return;
            const size = Number.parseInt(buf.subarray(at, lineEnd).toString(), 16);
            if (buf.length < lineEnd + 4 + size) return;
            parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
            at = lineEnd + 4 + size;
            if (size === 0) break;
          }
          body = Buffer.concat(parts);
        }
        buf = buf.subarray(at);
        const entry = { head, body, connection };
        seen.push(entry);
        script(socket, entry, seen.length - 1);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, port, seen, connections: () => connections, server };
}

const loopback: LookupFunction = (hostname, options, callback) => dnsLookup(hostname, options, callback);

function client(url: string, options: Partial<UpstreamClientOptions> = {}): UpstreamClient {
  const c = new UpstreamClient({
    origin: new URL(url),
    connectTimeoutMs: 2000,
    timeoutMs: 2000,
    keepAliveMs: 30_000,
    maxConnections: 16,
    lookup: loopback,
    ...options,
  });
  after(() => c.close());
  return c;
}

interface Outcome {
  readonly status: number | undefined;
  readonly headers: ResponseHeaders | undefined;
  readonly body: Buffer;
  readonly chunks: number;
  readonly error: (Error & { code?: string }) | undefined;
}

/** What a test does at a step of the answer, beyond collecting it. */
interface Hooks {
  readonly onStart?: (controller: UpstreamController) => void;
  readonly onResponseStart?: (controller: UpstreamController) => void;
  readonly onData?: (controller: UpstreamController) => void;
}

function call(
  c: UpstreamClient,
  request: Partial<UpstreamRequest> = {},
  hooks: Hooks = {},
): Promise<Outcome> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let status: number | undefined;
    let headers: ResponseHeaders | undefined;
    const done = (error?: Error) =>
      resolve({ status, headers, body: Buffer.concat(parts), chunks: parts.length, error });
    c.dispatch(
      { method: 'GET', path: '/x', headers: {}, body: null, ...request },
      {
        onRequestStart: (controller) => hooks.onStart?.(controller),
        onResponseStart: (controller, s, h) => {
          status = s;
          headers = h;
          hooks.onResponseStart?.(controller);
        },
        onResponseData: (controller, chunk) => {
          parts.push(Buffer.from(chunk));
          hooks.onData?.(controller);
        },
        onResponseEnd: () => done(),
        onResponseError: (_c, error) => done(error),
      },
    );
  });
}

const OK = (body: string, extra = '') =>
  `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`;

describe('response framing', () => {
  it('Content-Length: the body, then the connection is reused', async () => {
    const up = await scripted((socket, _seen, i) => socket.write(OK(`answer ${i}`)));
    const c = client(up.url);
    const first = await call(c);
    const second = await call(c);
    assert.equal(first.status, 200);
    assert.equal(first.body.toString(), 'answer 0');
    assert.equal(second.body.toString(), 'answer 1');
    assert.equal(up.connections(), 1);
    assert.equal(first.headers?.['content-type'], 'text/plain');
  });

  it('chunked: decoded, trailers dropped, reused; a repeated field is an array', async () => {
    const up = await scripted((socket) =>
      socket.write(
        'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nset-cookie: a=1\r\nset-cookie: b=2\r\n\r\n' +
          '3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\nx-trailer: t\r\n\r\n',
      ),
    );
    const c = client(up.url);
    const res = await call(c);
    assert.equal(res.body.toString(), 'abcdefg');
    assert.deepEqual(res.headers?.['set-cookie'], ['a=1', 'b=2']);
    await call(c);
    assert.equal(up.connections(), 1);
  });

  it('no length: the body runs to the close, and that connection is not reused', async () => {
    const up = await scripted((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil ');
      setTimeout(() => socket.end('close'), 20);
    });
    const c = client(up.url);
    assert.equal((await call(c)).body.toString(), 'until close');
    assert.equal((await call(c)).body.toString(), 'until close');
    assert.equal(up.connections(), 2);
  });

  it('a connection whose answer ran to the close is let go (none left open)', async () => {
    const up = await scripted((socket) => socket.end('HTTP/1.1 200 OK\r\n\r\nto the end'));
    const c = client(up.url);
    assert.equal((await call(c)).body.toString(), 'to the end');
    await delay(50);
    assert.equal(c.connections, 0);
  });

  it('an answer held back (paused) to its last byte leaves the connection readable for the next', async () => {
    const up = await scripted((socket, _seen, i) =>
      socket.write(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nr${i}r${i}\r\n0\r\n\r\n`),
    );
    const c = client(up.url);
    // A slow client: it pauses on every chunk and never resumes.
    const paused = await call(c, {}, { onData: (controller) => controller.pause() });
    assert.equal(paused.body.toString(), 'r0r0');
    const next = await call(c);
    assert.equal(next.error, undefined);
    assert.equal(next.body.toString(), 'r1r1');
    assert.equal(up.connections(), 1);
  });

  it('HEAD, 204 and 304 carry no body whatever their Content-Length says', async () => {
    const up = await scripted((socket, seen) => {
      const status = seen.head.startsWith('HEAD')
        ? '200 OK'
        : seen.head.includes('/204')
          ? '204 No Content'
          : '304 Not Modified';
      socket.write(`HTTP/1.1 ${status}\r\ncontent-length: 42\r\n\r\n`);
    });
    const c = client(up.url);
    for (const request of [{ method: 'HEAD' }, { path: '/204' }, { path: '/304' }]) {
      const res = await call(c, request);
      assert.equal(res.error, undefined);
      assert.equal(res.body.length, 0);
    }
    assert.equal(up.connections(), 1);
  });

  it('interim answers (100, 103) are skipped; the final one is reported', async () => {
    const up = await scripted((socket) =>
      socket.write(
        `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n${OK('final')}`,
      ),
    );
    const res = await call(client(up.url));
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'final');
  });

  it('Connection: close and HTTP/1.0 answers end their connection', async () => {
    const up = await scripted((socket, _seen, i) =>
      socket.write(
        i === 0 ? OK('a', 'connection: close\r\n') : 'HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nb',
      ),
    );
    const c = client(up.url);
    await call(c);
    await call(c);
    await call(c);
    assert.equal(up.connections(), 3);
  });

  it('bytes beyond the declared length: the answer is cut at its length and the connection dropped', async () => {
    const up = await scripted((socket) => socket.write(`${OK('abc')}HTTP/1.1 200 OK\r\n`));
    const c = client(up.url);
    assert.equal((await call(c)).body.toString(), 'abc');
    await call(c);
    assert.equal(up.connections(), 2);
  });

  it('Keep-Alive: timeout=1 retires the connection before the upstream would', async () => {
    const up = await scripted((socket) => socket.write(OK('k', 'keep-alive: timeout=1\r\n')));
    const c = client(up.url);
    await call(c);
    await call(c);
    assert.equal(up.connections(), 2);
  });
});

describe('malformed answers fail with UPSTREAM_BAD_RESPONSE', () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ['a malformed status line', 'HTTP/1.1 2x0 OK\r\n\r\n'],
    ['HTTP/2 framing', 'HTTP/2 200\r\n\r\n'],
    ['conflicting Content-Length', 'HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab'],
    ['a non-numeric Content-Length', 'HTTP/1.1 200 OK\r\ncontent-length: 1x\r\n\r\na'],
    [
      'a transfer coding other than chunked',
      'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
    ],
    ['a bare LF', 'HTTP/1.1 200 OK\nx: y\r\n\r\n'],
    ['a control character in a field', 'HTTP/1.1 200 OK\r\nx: a\x01b\r\ncontent-length: 0\r\n\r\n'],
    ['a folded field', 'HTTP/1.1 200 OK\r\nx: a\r\n b\r\ncontent-length: 0\r\n\r\n'],
    ['a malformed chunk', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n'],
    ['101 Switching Protocols', 'HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\n\r\n'],
  ];
  for (const [name, bytes] of cases) {
    it(name, async () => {
      const up = await scripted((socket) => socket.write(bytes));
      const res = await call(client(up.url));
      assert.equal(res.error?.code, 'UPSTREAM_BAD_RESPONSE', `${res.error?.message}`);
    });
  }

  it('Content-Length and Transfer-Encoding: chunked wins, the length is dropped, the connection is not reused', async () => {
    const up = await scripted((socket) =>
      socket.write(
        'HTTP/1.1 200 OK\r\ncontent-length: 99\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
      ),
    );
    const c = client(up.url);
    const res = await call(c);
    assert.equal(res.body.toString(), 'ok');
    assert.equal(res.headers?.['content-length'], undefined);
    await call(c);
    assert.equal(up.connections(), 2);
  });
});

describe('a kept-alive connection the upstream closed', () => {
  it('an idempotent request without a streamed body is sent again on a new connection', async () => {
    const up = await scripted((socket) => {
      socket.write(OK('once'));
      socket.end();
    });
    const c = client(up.url);
    await call(c);
    await delay(50);
    const res = await call(c);
    assert.equal(res.error, undefined);
    assert.equal(res.body.toString(), 'once');
    assert.equal(up.connections(), 2);
  });

  it('a POST is not sent twice: it fails (502 material)', async () => {
    const up = await scripted((socket, _seen, i) => {
      if (i === 0) socket.write(OK('first'));
      else socket.destroy();
    });
    const c = client(up.url);
    await call(c);
    const res = await call(c, { method: 'POST', body: Buffer.from('pay once') });
    assert.ok(res.error !== undefined);
    assert.equal(up.seen.filter((s) => s.head.startsWith('POST')).length, 1);
  });
});

describe('timeouts', () => {
  it('no answer within timeoutMs: UPSTREAM_HEADERS_TIMEOUT', async () => {
    const up = await scripted(() => {});
    const res = await call(client(up.url, { timeoutMs: 200 }));
    assert.equal(res.error?.code, 'UPSTREAM_HEADERS_TIMEOUT');
  });

  it('the body stalls: UPSTREAM_BODY_TIMEOUT after the part that came', async () => {
    const up = await scripted((socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf-'));
    const res = await call(client(up.url, { timeoutMs: 200 }));
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'half-');
    assert.equal(res.error?.code, 'UPSTREAM_BODY_TIMEOUT');
  });

  it('a TLS handshake that never completes: UPSTREAM_CONNECT_TIMEOUT', async () => {
    const held: Socket[] = [];
    const silent = createNetServer((socket) => {
      socket.on('error', () => {});
      held.push(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    after(() => {
      for (const socket of held) socket.destroy();
      return new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const port = (silent.address() as AddressInfo).port;
    const res = await call(client(`https://127.0.0.1:${port}`, { connectTimeoutMs: 200 }));
    assert.equal(res.error?.code, 'UPSTREAM_CONNECT_TIMEOUT');
  });

  it('while the client holds the answer back (paused), the upstream is not timed out', async () => {
    const up = await scripted((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nfirst-');
    });
    let controller: UpstreamController | undefined;
    const c = client(up.url, { timeoutMs: 200 });
    const pending = call(
      c,
      {},
      {
        onStart: (ctl) => {
          controller = ctl;
        },
        onResponseStart: (ctl) => ctl.pause(),
      },
    );
    await delay(600);
    controller?.resume();
    const res = await pending;
    assert.equal(res.error, undefined);
    assert.equal(res.body.toString(), 'first-');
  });
});

describe('requests', () => {
  it('writes Host from the origin and each field; a Buffer body gets its length', async () => {
    const up = await scripted((socket) => socket.write(OK('')));
    const c = client(up.url);
    await call(c, {
      method: 'POST',
      path: '/a?b=c',
      headers: { 'x-one': '1', accept: ['a', 'b'], host: 'evil.test', 'content-length': '999' },
      body: Buffer.from('hello'),
    });
    const [seen] = up.seen;
    assert.match(seen?.head ?? '', /^POST \/a\?b=c HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\n/);
    assert.match(seen?.head ?? '', /\r\nx-one: 1\r\naccept: a\r\naccept: b\r\n/);
    assert.doesNotMatch(seen?.head ?? '', /evil|999/);
    assert.equal(seen?.body.toString(), 'hello');
  });

  it('a streamed body: with a declared length as is, without one chunked', async () => {
    const up = await scripted((socket) => socket.write(OK('')));
    const c = client(up.url);
    await call(c, {
      method: 'PUT',
      headers: { 'content-length': '6' },
      body: Readable.from([Buffer.from('abc'), Buffer.from('def')]),
    });
    await call(c, {
      method: 'PUT',
      headers: {},
      body: Readable.from([Buffer.from('ghi'), Buffer.from('jkl')]),
    });
    assert.match(up.seen[0]?.head ?? '', /content-length: 6/);
    assert.equal(up.seen[0]?.body.toString(), 'abcdef');
    assert.match(up.seen[1]?.head ?? '', /transfer-encoding: chunked/);
    assert.equal(up.seen[1]?.body.toString(), 'ghijkl');
  });

  it('a POST without a body says content-length: 0', async () => {
    const up = await scripted((socket) => socket.write(OK('')));
    await call(client(up.url), { method: 'POST' });
    assert.match(up.seen[0]?.head ?? '', /\r\ncontent-length: 0/);
  });

  it('a field value with CR or LF is never written (UPSTREAM_BAD_REQUEST, nothing sent)', async () => {
    const up = await scripted((socket) => socket.write(OK('')));
    const res = await call(client(up.url), { headers: { 'x-a': 'ok\r\nx-injected: 1' } });
    assert.equal(res.error?.code, 'UPSTREAM_BAD_REQUEST');
    await delay(50);
    assert.equal(up.seen.length, 0);
  });

  it('abort closes the connection to the upstream', async () => {
    let closed = false;
    const up = await scripted((socket) => {
      socket.on('close', () => {
        closed = true;
      });
    });
    const res = await call(
      client(up.url),
      {},
      { onStart: (controller) => setTimeout(() => controller.abort(new Error('client left')), 50) },
    );
    assert.equal(res.error?.message, 'client left');
    await delay(50);
    assert.ok(closed);
  });

  it('beyond maxConnections, requests wait for a free connection', async () => {
    const up = await scripted((socket, _seen, i) => setTimeout(() => socket.write(OK(`r${i}`)), 30));
    const c = client(up.url, { maxConnections: 1 });
    const results = await Promise.all([call(c), call(c), call(c)]);
    assert.deepEqual(
      results.map((r) => r.body.toString()),
      ['r0', 'r1', 'r2'],
    );
    assert.equal(up.connections(), 1);
  });

  it('the lookup refusing the address fails the request with its error', async () => {
    const refuse: LookupFunction = (_host, _options, callback) =>
      (callback as (e: Error | null, a: LookupAddress[]) => void)(
        Object.assign(new Error('non-public'), { code: 'RELAY_UNSAFE_UPSTREAM' }),
        [],
      );
    const res = await call(client('http://upstream.invalid:80', { lookup: refuse }));
    assert.equal(res.error?.code, 'RELAY_UNSAFE_UPSTREAM');
  });
});

describe('TLS upstreams', () => {
  const pki = makePki();
  const serve = async () => {
    const held: Socket[] = [];
    const server = createTlsServer(
      { cert: readFileSync(pki.serverCertFile), key: readFileSync(pki.serverKeyFile) },
      (socket) => {
        held.push(socket);
        socket.on('error', () => {});
        socket.on('data', () => socket.write(OK('over tls')));
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    after(() => {
      for (const socket of held) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  it('a certificate that verifies: the answer arrives', async () => {
    const url = await serve();
    const res = await call(client(url, { tls: { ca: pki.caCert } }));
    assert.equal(res.body.toString(), 'over tls');
  });

  it('a certificate that does not verify: the request fails, nothing is sent', async () => {
    const url = await serve();
    const res = await call(client(url));
    assert.ok(res.error !== undefined);
    assert.match(String(res.error.code), /CERT|SELF_SIGNED|UNABLE/);
  });
});
