import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type HeadParse,
  parseRequestHead,
  type RequestHead,
} from '../../src/planes/proxy/http1/request-head.ts';

/**
 * The proxy's request-head parser (planes/proxy/http1/request-head.ts): what it
 * reads from well-formed heads, and each class of head it refuses because two
 * readers could take it two ways (RFC 9112). Each refusal row fails when its rule
 * is removed from the parser.
 */
const LIMITS = { maxBytes: 16 * 1024, maxFields: 256 };

function parse(text: string, limits = LIMITS): HeadParse {
  return parseRequestHead(Buffer.from(text, 'latin1'), 0, limits);
}

function head(text: string): RequestHead {
  const parsed = parse(text);
  assert.ok(parsed !== null && parsed.kind === 'head', `expected a head, got ${JSON.stringify(parsed)}`);
  return parsed;
}

const GET = 'GET /conn_a/v1/items HTTP/1.1\r\nHost: relay.test\r\n';

describe('request heads the proxy reads', () => {
  it('reads method, target, version, fields (names lowercased) and the head size', () => {
    const text = `${GET}User-Agent: sdk/1.0\r\nAccept: */*\r\n\r\n`;
    const h = head(`${text}NEXT`);
    assert.equal(h.method, 'GET');
    assert.equal(h.target, '/conn_a/v1/items');
    assert.equal(h.minor, 1);
    assert.deepEqual({ ...h.headers }, { host: 'relay.test', 'user-agent': 'sdk/1.0', accept: '*/*' });
    assert.equal(h.framing, 'none');
    assert.equal(h.keepAlive, true);
    assert.equal(h.size, text.length);
  });

  it('skips empty lines before the request line (RFC 9112 §2.2)', () => {
    const h = head(`\r\n\r\n${GET}\r\n`);
    assert.equal(h.method, 'GET');
    assert.equal(h.size, 4 + GET.length + 2);
  });

  it('trims optional whitespace around a value and keeps obs-text bytes as latin1', () => {
    const h = head(`${GET}X-Name: \t caf\xe9 \t\r\nX-Empty:\r\n\r\n`);
    assert.equal(h.headers['x-name'], 'caf\xe9');
    assert.equal(h.headers['x-empty'], '');
  });

  it('joins a repeated list field as Node does; cookies with "; ", set-cookie as an array', () => {
    const h = head(`${GET}Accept: a\r\nAccept: b\r\nCookie: x=1\r\nCookie: y=2\r\nSet-Cookie: s=1\r\n\r\n`);
    assert.equal(h.headers.accept, 'a, b');
    assert.equal(h.headers.cookie, 'x=1; y=2');
    assert.deepEqual(h.headers['set-cookie'], ['s=1']);
  });

  it('a field named like an Object.prototype member is just a field', () => {
    const h = head(`${GET}__proto__: x\r\nconstructor: y\r\n\r\n`);
    assert.deepEqual(Object.entries(h.headers), [
      ['host', 'relay.test'],
      ['__proto__', 'x'],
      ['constructor', 'y'],
    ]);
  });

  it('keep-alive: HTTP/1.1 unless Connection: close; HTTP/1.0 only with Connection: keep-alive', () => {
    assert.equal(head(`${GET}Connection: close\r\n\r\n`).keepAlive, false);
    assert.equal(head(`${GET}Connection: Upgrade, Close\r\n\r\n`).keepAlive, false);
    assert.equal(head(`${GET}Connection: keep-alive\r\n\r\n`).keepAlive, true);
    const old = head('GET /conn_a/x HTTP/1.0\r\n\r\n');
    assert.equal(old.minor, 0);
    assert.equal(old.keepAlive, false);
    assert.equal(head('GET /conn_a/x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n').keepAlive, true);
  });

  it('body framing: Content-Length (leading zeros allowed, 0 means none) or chunked', () => {
    const length = head(`${GET}Content-Length: 0012\r\n\r\n`);
    assert.equal(length.framing, 'length');
    assert.equal(length.contentLength, 12);
    assert.equal(head(`${GET}Content-Length: 0\r\n\r\n`).framing, 'none');
    assert.equal(head(`${GET}Transfer-Encoding: Chunked\r\n\r\n`).framing, 'chunked');
  });

  it('Expect: 100-continue is owed only for a request with a body', () => {
    assert.equal(head(`${GET}Expect: 100-Continue\r\nContent-Length: 3\r\n\r\n`).expectContinue, true);
    assert.equal(head(`${GET}Expect: 100-continue\r\n\r\n`).expectContinue, false);
  });

  it('an incomplete head is null until its last byte, then the same head', () => {
    const text = `${GET}Authorization: Bearer x\r\nContent-Length: 2\r\n\r\n`;
    const whole = head(text);
    for (let end = 0; end < text.length; end++) assert.equal(parse(text.slice(0, end)), null, `at ${end}`);
    assert.deepEqual(head(text), whole);
  });

  it('parses a head that starts mid-buffer', () => {
    const buf = Buffer.from(`XXXX${GET}\r\n`, 'latin1');
    const parsed = parseRequestHead(buf, 4, LIMITS);
    assert.ok(parsed?.kind === 'head');
    assert.equal(parsed.size, GET.length + 2);
  });
});

interface Refusal {
  readonly name: string;
  readonly text: string;
  readonly status: number;
  readonly code: string;
}

const REFUSED: readonly Refusal[] = [
  {
    name: 'a bare LF ending a field line',
    text: `${GET}X-A: 1\nX-B: 2\r\n\r\n`,
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'a bare LF ending the request line',
    text: 'GET /conn_a/x HTTP/1.1\nHost: h\r\n\r\n',
    status: 400,
    code: 'malformed_request',
  },
  { name: 'a bare LF ending the head', text: `${GET}\n\n`, status: 400, code: 'malformed_request' },
  {
    name: 'a bare CR inside a value',
    text: `${GET}X-A: 1\r2\r\n\r\n`,
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'a folded field line (obs-fold)',
    text: `${GET}X-A: 1\r\n 2\r\n\r\n`,
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'a folded field line with a tab',
    text: `${GET}X-A: 1\r\n\t2\r\n\r\n`,
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'whitespace before the colon',
    text: `${GET}Content-Length : 5\r\n\r\n`,
    status: 400,
    code: 'malformed_request',
  },
  { name: 'an empty field name', text: `${GET}: x\r\n\r\n`, status: 400, code: 'malformed_request' },
  {
    name: 'a field name that is not a token',
    text: `${GET}X(A): 1\r\n\r\n`,
    status: 400,
    code: 'malformed_request',
  },
  { name: 'a NUL in a value', text: `${GET}X-A: a\x00b\r\n\r\n`, status: 400, code: 'malformed_request' },
  {
    name: 'a control character in a value',
    text: `${GET}X-A: a\x01b\r\n\r\n`,
    status: 400,
    code: 'malformed_request',
  },
  { name: 'DEL in a value', text: `${GET}X-A: a\x7fb\r\n\r\n`, status: 400, code: 'malformed_request' },
  {
    name: 'an HTTP/1.1 request without Host',
    text: 'GET /conn_a/x HTTP/1.1\r\n\r\n',
    status: 400,
    code: 'malformed_request',
  },
  { name: 'two Host fields', text: `${GET}Host: other.test\r\n\r\n`, status: 400, code: 'ambiguous_request' },
  {
    name: 'two equal Content-Length fields',
    text: `${GET}Content-Length: 1\r\nContent-Length: 1\r\n\r\n`,
    status: 400,
    code: 'ambiguous_request',
  },
  {
    name: 'a Content-Length list',
    text: `${GET}Content-Length: 1, 1\r\n\r\n`,
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'a signed Content-Length',
    text: `${GET}Content-Length: +5\r\n\r\n`,
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'a hex Content-Length',
    text: `${GET}Content-Length: 0x5\r\n\r\n`,
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'an empty Content-Length',
    text: `${GET}Content-Length:\r\n\r\n`,
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'a Content-Length beyond 15 digits',
    text: `${GET}Content-Length: 1234567890123456\r\n\r\n`,
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'Content-Length with Transfer-Encoding',
    text: `${GET}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n`,
    status: 400,
    code: 'ambiguous_request',
  },
  {
    name: 'Transfer-Encoding with Content-Length',
    text: `${GET}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n`,
    status: 400,
    code: 'ambiguous_request',
  },
  {
    name: 'two Transfer-Encoding fields',
    text: `${GET}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`,
    status: 400,
    code: 'ambiguous_request',
  },
  {
    name: 'a transfer coding other than chunked',
    text: `${GET}Transfer-Encoding: gzip, chunked\r\n\r\n`,
    status: 501,
    code: 'transfer_coding_not_supported',
  },
  {
    name: 'chunked twice in one field',
    text: `${GET}Transfer-Encoding: chunked, chunked\r\n\r\n`,
    status: 501,
    code: 'transfer_coding_not_supported',
  },
  {
    name: 'Transfer-Encoding in HTTP/1.0',
    text: 'POST /conn_a/x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n',
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'two Authorization fields',
    text: `${GET}Authorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n`,
    status: 400,
    code: 'ambiguous_request',
  },
  {
    name: 'two Proxy-Authorization fields',
    text: `${GET}Proxy-Authorization: a\r\nProxy-Authorization: b\r\n\r\n`,
    status: 400,
    code: 'ambiguous_request',
  },
  {
    name: 'two X-Relay-Token fields',
    text: `${GET}X-Relay-Token: a\r\nX-Relay-Token: b\r\n\r\n`,
    status: 400,
    code: 'ambiguous_request',
  },
  {
    name: 'two Content-Type fields',
    text: `${GET}Content-Type: a/b\r\nContent-Type: c/d\r\n\r\n`,
    status: 400,
    code: 'ambiguous_request',
  },
  {
    name: 'two X-Client-Cert-Fingerprint fields',
    text: `${GET}X-Client-Cert-Fingerprint: a\r\nX-Client-Cert-Fingerprint: b\r\n\r\n`,
    status: 400,
    code: 'ambiguous_request',
  },
  {
    name: 'an expectation other than 100-continue',
    text: `${GET}Expect: 200-ok\r\n\r\n`,
    status: 417,
    code: 'expectation_failed',
  },
  {
    name: 'an unknown method',
    text: 'FETCH /conn_a/x HTTP/1.1\r\nHost: h\r\n\r\n',
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'a lower-case method',
    text: 'get /conn_a/x HTTP/1.1\r\nHost: h\r\n\r\n',
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'two spaces after the method',
    text: 'GET  /conn_a/x HTTP/1.1\r\nHost: h\r\n\r\n',
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'a tab as separator',
    text: 'GET\t/conn_a/x HTTP/1.1\r\nHost: h\r\n\r\n',
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'a space inside the target',
    text: 'GET /conn_a/x y HTTP/1.1\r\nHost: h\r\n\r\n',
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'a control character in the target',
    text: 'GET /conn_a/\x01 HTTP/1.1\r\nHost: h\r\n\r\n',
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'no HTTP version (HTTP/0.9)',
    text: 'GET /conn_a/x\r\nHost: h\r\n\r\n',
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'a lower-case version',
    text: 'GET /conn_a/x http/1.1\r\nHost: h\r\n\r\n',
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'a space after the version',
    text: 'GET /conn_a/x HTTP/1.1 \r\nHost: h\r\n\r\n',
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'HTTP/2.0',
    text: 'GET /conn_a/x HTTP/2.0\r\nHost: h\r\n\r\n',
    status: 505,
    code: 'http_version_not_supported',
  },
  {
    name: 'HTTP/1.2',
    text: 'GET /conn_a/x HTTP/1.2\r\nHost: h\r\n\r\n',
    status: 505,
    code: 'http_version_not_supported',
  },
];

describe('request heads the proxy refuses', () => {
  for (const row of REFUSED) {
    it(`${row.name}: ${row.status} ${row.code}`, () => {
      const parsed = parse(row.text);
      assert.ok(
        parsed !== null && parsed.kind === 'error',
        `expected a refusal, got ${JSON.stringify(parsed)}`,
      );
      assert.equal(parsed.status, row.status);
      assert.equal(parsed.code, row.code);
      assert.ok(parsed.detail.length > 0);
    });
  }

  it('names the method and target read before the refusal, for the audit record', () => {
    const parsed = parse(`${GET}X-A: a\x01\r\n\r\n`);
    assert.ok(parsed?.kind === 'error');
    assert.equal(parsed.method, 'GET');
    assert.equal(parsed.target, '/conn_a/v1/items');
  });

  it('a bare LF is refused before the head is complete (no waiting for a CRLF that never comes)', () => {
    const parsed = parse('GET /conn_a/x HTTP/1.1\nHost: h\n');
    assert.ok(parsed?.kind === 'error');
    assert.equal(parsed.code, 'malformed_request');
  });

  it('a head longer than the limit is 431, complete or not', () => {
    const limits = { maxBytes: 1024, maxFields: 256 };
    const long = `${GET}X-Long: ${'a'.repeat(1100)}\r\n\r\n`;
    for (const text of [long, long.slice(0, 1050)]) {
      const parsed = parse(text, limits);
      assert.ok(parsed?.kind === 'error');
      assert.equal(parsed.status, 431);
      assert.equal(parsed.code, 'headers_too_large');
    }
    assert.equal(parse(long.slice(0, 1000), limits), null, 'below the limit it waits for more');
  });

  it('more header fields than the limit is 431', () => {
    const limits = { maxBytes: 16 * 1024, maxFields: 5 };
    const fields = Array.from({ length: 5 }, (_, i) => `X-${i}: v\r\n`).join('');
    assert.equal(parse(`${GET}${fields}\r\n`, limits)?.kind, 'error');
    assert.equal(parse(`${GET}${fields.slice(0, -8)}\r\n`, limits)?.kind, 'head');
  });
});
