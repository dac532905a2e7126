import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ChunkedDecoder } from '../../src/planes/proxy/http1/chunked.ts';
import { parseRequestHead, type RequestHeaders } from '../../src/planes/proxy/http1/request-head.ts';
import { prng } from '../secret-scan/corpus.ts';

/**
 * The proxy reads requests with its own parser (planes/proxy/http1). Its safety
 * rests on one property, checked here against Node's own parser (llhttp, as any
 * node:http server in front of or behind Relay would read them): every request
 * the proxy accepts, Node accepts too, with the same method, target, fields and
 * body, and both find the same end of the message (the next request starts at
 * the same byte). Requests are generated from a seeded grammar of well-formed and
 * subtly malformed pieces: bare CR/LF, folded lines, odd separators, repeated and
 * conflicting framing fields, malformed chunk lines.
 *
 * The converse is not required: the proxy refuses more than Node does.
 */

/** Each piece is usually well-formed; with probability TRICKY it is one of the malformed or odd ones. */
const TRICKY = 0.06;

interface Pieces {
  readonly usual: readonly string[];
  readonly odd: readonly string[];
}

const METHOD: Pieces = {
  usual: ['GET', 'GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH'],
  odd: ['get', 'FETCH', 'M-SEARCH'],
};
const TARGET: Pieces = {
  usual: ['/conn_a/v1/items', '/conn_a/x?y=1&z', '/conn_a/%2F', '/conn_a/a"b{}|^`'],
  odd: ['/conn_a/\xe9', '*', 'http://h/conn_a', '/conn_a/a\x7fb', '/conn_a/a\x01b'],
};
const VERSION: Pieces = {
  usual: ['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0'],
  odd: ['HTTP/2.0', 'http/1.1', 'HTTP/1.1 ', 'HTTP/1.10'],
};
const LINE_SEPARATOR: Pieces = { usual: [' '], odd: ['  ', '\t'] };
const EOL: Pieces = { usual: ['\r\n'], odd: ['\n', '\r', '\r\r\n'] };
const NAME: Pieces = {
  usual: [
    'User-Agent',
    'Accept',
    'accept',
    'Cookie',
    'X-A',
    'Authorization',
    'Content-Type',
    'Connection',
    'Expect',
    'Content-Length',
    'Transfer-Encoding',
    'X-Forwarded-For',
    'Set-Cookie',
    'Host',
  ],
  odd: ['X A', '', 'X\tA', 'X:A'],
};
const FIELD_SEPARATOR: Pieces = { usual: [': ', ':', ':\t', ':  '], odd: [' : ', ' :', '\t:'] };
const VALUE: Readonly<Record<string, Pieces>> = {
  'content-length': {
    usual: ['0', '5', '005', '12'],
    odd: ['5, 5', '+5', '-1', '5x', ' 5 ', '99999999999999999999'],
  },
  'transfer-encoding': {
    usual: ['chunked', 'Chunked'],
    odd: ['chunked ', 'gzip', 'gzip, chunked', 'chunked,chunked', 'identity'],
  },
  connection: { usual: ['keep-alive', 'close', 'Upgrade, keep-alive'], odd: ['close, keep-alive'] },
  expect: { usual: ['100-continue'], odd: ['200-ok'] },
  host: { usual: ['h', 'h:80'], odd: ['', 'a b'] },
  '': {
    usual: ['v', 'v w', 'caf\xe9', '', 'a, b', 'p=1; q=2', ' v ', '\tv\t'],
    odd: ['a\x01b', 'a\x7fb', 'x\x00y'],
  },
};
const CHUNKED: Pieces = {
  usual: [
    '5\r\nhello\r\n0\r\n\r\n',
    '5;ext=1\r\nhello\r\n3\r\n!!!\r\n0\r\n\r\n',
    '5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n',
    '0\r\n\r\n',
  ],
  odd: [
    '5\nhello\r\n0\r\n\r\n',
    '5 \r\nhello\r\n0\r\n\r\n',
    '5\r\nhello\n0\r\n\r\n',
    '5;a\x01\r\nhello\r\n0\r\n\r\n',
    'x\r\nhello\r\n0\r\n\r\n',
    '5\r\nhello\r\n0\r\n\n',
  ],
};
const NEXT = 'GET /conn_next/marker HTTP/1.1\r\nHost: h\r\n\r\n';

function generate(random: () => number): Buffer {
  const pick = (pieces: Pieces): string => {
    const list = random() < TRICKY ? pieces.odd : pieces.usual;
    return list[Math.floor(random() * list.length)] as string;
  };
  const sep = pick(LINE_SEPARATOR);
  let text = `${pick(METHOD)}${sep}${pick(TARGET)}${sep}${pick(VERSION)}${pick(EOL)}`;
  const names = Array.from({ length: Math.floor(random() * 5) }, () => pick(NAME));
  if (random() < 0.95) names.splice(Math.floor(random() * (names.length + 1)), 0, 'Host');
  let length: number | undefined;
  let chunked = false;
  for (const name of names) {
    const value = pick(VALUE[name.toLowerCase()] ?? (VALUE[''] as Pieces));
    text += `${name}${pick(FIELD_SEPARATOR)}${value}${pick(EOL)}`;
    if (random() < TRICKY / 2) text += ` folded${pick(EOL)}`;
    if (name === 'Content-Length' && /^\d+$/.test(value.trim())) length = Number(value.trim());
    if (name === 'Transfer-Encoding' && value.trim().toLowerCase().endsWith('chunked')) chunked = true;
  }
  text += pick(EOL);
  if (chunked) text += pick(CHUNKED);
  else if (length !== undefined && length < 100) text += 'b'.repeat(length);
  return Buffer.from(`${text}${NEXT}`, 'latin1');
}

interface Message {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string | string[]>;
  readonly body: string;
}

/** The proxy's reading: every message it accepts, in order, until it refuses or runs out. */
function proxyReads(bytes: Buffer): Message[] {
  const limits = { maxBytes: 16 * 1024, maxFields: 256 };
  const out: Message[] = [];
  let at = 0;
  while (at < bytes.length) {
    const head = parseRequestHead(bytes, at, limits);
    if (head === null || head.kind === 'error') return out;
    at += head.size;
    let body: Buffer = Buffer.alloc(0);
    if (head.framing === 'length') {
      if (bytes.length - at < head.contentLength) return out;
      body = bytes.subarray(at, at + head.contentLength);
      at += head.contentLength;
    } else if (head.framing === 'chunked') {
      const decoder = new ChunkedDecoder({ maxLineBytes: 4096, maxTrailerBytes: 16384 });
      const parts: Buffer[] = [];
      try {
        at = decoder.push(bytes, at, (data) => parts.push(Buffer.from(data)));
      } catch {
        return out;
      }
      if (!decoder.done) return out;
      body = Buffer.concat(parts);
    }
    out.push({ method: head.method, url: head.target, headers: head.headers, body: body.toString('latin1') });
    // Neither reads on after a message that ends the connection.
    if (!head.keepAlive) return out;
  }
  return out;
}

/** Node's reading of the same bytes, from a real node:http server. */
class NodeReader {
  readonly #server = createServer((req, res) => this.#onRequest(req, res));
  /** The server side of the current case's connection: events of earlier ones are ignored. */
  #current: Socket | undefined;
  #seen: Message[] = [];
  #waiter: { want: number; resolve: () => void } | undefined;

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.#server.on('connection', (socket: Socket) => {
      this.#current = socket;
    });
    this.#server.on('clientError', (_error, socket) => {
      socket.destroy();
      if (socket === this.#current) this.#wake(true);
    });
    return (this.#server.address() as AddressInfo).port;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #onRequest(req: IncomingMessage, res: import('node:http').ServerResponse): void {
    if (req.socket !== this.#current) return;
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('error', () => {
      if (req.socket === this.#current) this.#wake(true);
    });
    req.on('end', () => {
      if (req.socket !== this.#current) return;
      const headers: Record<string, string | string[]> = {};
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = (req.rawHeaders[i] as string).toLowerCase();
        const value = req.rawHeaders[i + 1] as string;
        const known = headers[name];
        if (name === 'set-cookie') headers[name] = [...((known as string[] | undefined) ?? []), value];
        else
          headers[name] = known === undefined ? value : `${known}${name === 'cookie' ? '; ' : ', '}${value}`;
      }
      this.#seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers,
        body: Buffer.concat(parts).toString('latin1'),
      });
      res.writeHead(200, { 'content-length': '0' }).end();
      this.#wake(false);
    });
  }

  #wake(failed: boolean): void {
    if (this.#waiter !== undefined && (failed || this.#seen.length >= this.#waiter.want)) {
      this.#waiter.resolve();
      this.#waiter = undefined;
    }
  }

  /** Sends `bytes` on a fresh connection; resolves with what Node read once it read `want` messages or failed. */
  async read(port: number, bytes: Buffer, want: number): Promise<Message[]> {
    this.#seen = [];
    this.#current = undefined;
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.resume();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      this.#waiter = {
        want,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      socket.write(bytes);
    });
    socket.destroy();
    return this.#seen;
  }
}

describe('the proxy reads nothing that Node reads otherwise (differential, seeded)', () => {
  const reader = new NodeReader();
  let port = 0;
  before(async () => {
    port = await reader.start();
  });
  after(() => reader.stop());

  it('2,000 generated requests: what the proxy accepts, Node accepts identically', async () => {
    const random = prng(20261204);
    let accepted = 0;
    let both = 0;
    for (let n = 0; n < 2000; n++) {
      const bytes = generate(random);
      const ours = proxyReads(bytes);
      if (ours.length === 0) continue;
      accepted++;
      const theirs = await reader.read(port, bytes, ours.length);
      const context = JSON.stringify(bytes.toString('latin1'));
      assert.ok(theirs.length >= ours.length, `Node did not read what the proxy read: ${context}`);
      for (let i = 0; i < ours.length; i++) {
        const mine = ours[i] as Message;
        const node = theirs[i] as Message;
        assert.equal(node.method, mine.method, context);
        assert.equal(node.url, mine.url, context);
        assert.deepEqual(node.headers, { ...(mine.headers as RequestHeaders) }, context);
        assert.equal(node.body, mine.body, context);
      }
      if (ours.length === 2) both++;
    }
    // The grammar must exercise acceptance, including the message boundary, not only refusals.
    assert.ok(accepted > 400, `only ${accepted} of 2000 accepted`);
    assert.ok(both > 300, `only ${both} of 2000 read as two messages`);
  });
});
