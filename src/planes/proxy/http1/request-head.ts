import { METHODS } from 'node:http';
import type { ErrorCode } from '../../../core/errors.ts';
import { CR, fieldNameEnd, fieldValue, HTAB, LF, listHas, newFields, SP, TCHAR } from './chars.ts';

/**
 * A strict parser of HTTP/1.1 request heads (RFC 9112 §2–§6), for the proxy's
 * own listener. Relay sits between callers and upstreams, so it accepts only
 * what has exactly one reading and refuses the rest before anything else runs:
 *
 * - lines end in CRLF; a bare CR or LF, or a line folded onto the next (obs-fold),
 *   is refused (§2.2, §5.2);
 * - methods are the ones Node knows, in upper case; field names are tokens, with
 *   no whitespace before the colon (§5.1);
 *   field values hold no control characters but HTAB;
 * - the body's framing is unambiguous (§6.1–§6.3): `Transfer-Encoding` only as
 *   `chunked` and never with `Content-Length`, nor in HTTP/1.0; one `Content-Length`
 *   of digits only;
 * - an HTTP/1.1 request has exactly one `Host` (§3.2);
 * - fields that Relay or the upstream read as a single value (credentials, framing,
 *   `Host`, `Content-Type`) may not be repeated: which copy counts would depend on
 *   the reader.
 *
 * Everything accepted here is also accepted, and read the same way, by Node's own
 * parser (llhttp); a differential test holds that line.
 */

/** Field names as received, lowercased; a repeated list field is joined as Node joins it. */
export type RequestHeaders = Record<string, string | string[]>;

export type BodyFraming = 'none' | 'length' | 'chunked';

export interface RequestHead {
  readonly kind: 'head';
  readonly method: string;
  /** The request target exactly as received (latin1), for canonicalization to judge. */
  readonly target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minor: 0 | 1;
  readonly headers: RequestHeaders;
  readonly framing: BodyFraming;
  /** The declared length, for `framing: 'length'`. */
  readonly contentLength: number;
  /** The client may send another request on this connection after this one. */
  readonly keepAlive: boolean;
  readonly expectContinue: boolean;
  /** Bytes from `start` to the end of the head (leading empty lines included). */
  readonly size: number;
}

export interface HeadError {
  readonly kind: 'error';
  readonly status: number;
  readonly code: ErrorCode;
  readonly detail: string;
  /** What was read of the request line, for the audit record. */
  readonly method: string;
  readonly target: string;
}

export interface HeadLimits {
  /** Largest head, request line included (RELAY_PROXY_MAX_HEADER_BYTES). */
  readonly maxBytes: number;
  readonly maxFields: number;
}

/** Null: the head is not complete yet. */
export type HeadParse = RequestHead | HeadError | null;

/**
 * Fields read as one value by Relay or by the upstream: a second copy is refused rather
 * than joined or dropped, since readers disagree on which copy counts.
 */
const SINGLETON_FIELDS: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'content-type',
  'authorization',
  'proxy-authorization',
  'x-relay-token',
  'x-client-cert-fingerprint',
  'expect',
]);

/** The methods Node's parser knows (case-sensitive, RFC 9110 §9.1); any other is refused as it refuses it. */
const KNOWN_METHODS: ReadonlySet<string> = new Set(METHODS);

function error(status: number, code: ErrorCode, detail: string, method = '', target = ''): HeadError {
  return { kind: 'error', status, code, detail, method, target };
}

function malformed(detail: string, method = '', target = ''): HeadError {
  return error(400, 'malformed_request', detail, method, target);
}

/** The end of the line starting at `from` (the index of its CR), -1 if not all here, -2 if a bare LF. */
function lineEnd(buf: Buffer, from: number, limit: number): number {
  const lf = buf.indexOf(LF, from);
  if (lf === -1 || lf >= limit) return -1;
  if (lf === from || buf[lf - 1] !== CR) return -2;
  return lf - 1;
}

/** An all-digit Content-Length, or -1. At most 15 digits: every such value is an exact JS integer. */
function contentLength(value: string): number {
  if (value.length === 0 || value.length > 15) return -1;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
  }
  return Number(value);
}

interface RequestLine {
  readonly method: string;
  readonly target: string;
  readonly minor: 0 | 1;
}

function parseRequestLine(buf: Buffer, from: number, to: number): RequestLine | HeadError {
  let i = from;
  while (i < to && TCHAR[buf[i] as number] === 1) i++;
  if (i === from || i === to || buf[i] !== SP)
    return malformed('the request line does not start with a method');
  const method = buf.toString('latin1', from, i);
  if (!KNOWN_METHODS.has(method)) return malformed('unknown method', method.slice(0, 32));
  const targetStart = ++i;
  // Any visible ASCII: what the target means is canonicalization's to judge (core/request-target.ts).
  while (i < to) {
    const b = buf[i] as number;
    if (b <= SP || b >= 0x7f) break;
    i++;
  }
  const target = buf.toString('latin1', targetStart, i);
  if (i < to && (buf[i] as number) > 0x7f) {
    return error(
      400,
      'ambiguous_request',
      'raw non-ASCII byte in the request target; percent-encode its UTF-8 bytes (RFC 3986 §2.5)',
      method,
      target,
    );
  }
  if (i === targetStart || buf[i] !== SP) {
    return malformed('the request line must be "method SP request-target SP HTTP-version"', method, target);
  }
  i++;
  if (to - i !== 8 || buf.toString('latin1', i, i + 5) !== 'HTTP/') {
    return malformed('the request line does not end with an HTTP version', method, target);
  }
  const major = buf[i + 5] as number;
  const dot = buf[i + 6] as number;
  const minor = buf[i + 7] as number;
  if (major === 0x31 && dot === 0x2e && (minor === 0x31 || minor === 0x30)) {
    return { method, target, minor: minor === 0x31 ? 1 : 0 };
  }
  if (major >= 0x30 && major <= 0x39 && dot === 0x2e && minor >= 0x30 && minor <= 0x39) {
    return error(505, 'http_version_not_supported', 'only HTTP/1.1 and HTTP/1.0 are served', method, target);
  }
  return malformed('the request line does not end with an HTTP version', method, target);
}

/** Framing and connection facts gathered while the fields are read. */
interface Collected {
  length: string | undefined;
  transferEncoding: string | undefined;
  connection: string | undefined;
  expect: string | undefined;
  host: boolean;
}

function addField(headers: RequestHeaders, name: string, value: string): boolean {
  const existing = headers[name];
  if (existing === undefined) {
    headers[name] = name === 'set-cookie' ? [value] : value;
    return true;
  }
  if (SINGLETON_FIELDS.has(name)) return false;
  if (Array.isArray(existing)) existing.push(value);
  else headers[name] = `${existing}${name === 'cookie' ? '; ' : ', '}${value}`;
  return true;
}

/**
 * Parses the head that starts at `start` in `buf`. Returns null while it is
 * incomplete (and within limits), the head, or why it is refused.
 */
export function parseRequestHead(buf: Buffer, start: number, limits: HeadLimits): HeadParse {
  const available = buf.length - start;
  const limit = start + Math.min(available, limits.maxBytes);
  let pos = start;
  // RFC 9112 §2.2: empty lines before the request line are ignored (some clients send
  // a CRLF after a body).
  while (pos + 1 < limit && buf[pos] === CR && buf[pos + 1] === LF) pos += 2;
  if (pos < limit && buf[pos] === LF) return malformed('bare LF in the request head');
  const lineTo = lineEnd(buf, pos, limit);
  if (lineTo === -2) return malformed('bare LF in the request head');
  if (lineTo === -1) return incomplete(buf, pos, limit, available, limits);
  const line = parseRequestLine(buf, pos, lineTo);
  if ('kind' in line) return line;
  const { method, target, minor } = line;
  const headers: RequestHeaders = newFields();
  const seen: Collected = {
    length: undefined,
    transferEncoding: undefined,
    connection: undefined,
    expect: undefined,
    host: false,
  };
  let fields = 0;
  pos = lineTo + 2;
  for (;;) {
    const to = lineEnd(buf, pos, limit);
    if (to === -2) return malformed('bare LF in the request head', method, target);
    if (to === -1) {
      const rest = incomplete(buf, pos, limit, available, limits);
      return rest === null ? null : { ...rest, method, target };
    }
    if (to === pos) {
      pos = to + 2;
      break;
    }
    if (++fields > limits.maxFields) {
      return error(431, 'headers_too_large', `more than ${limits.maxFields} header fields`, method, target);
    }
    const first = buf[pos] as number;
    if (first === SP || first === HTAB) {
      return malformed('a header line is folded onto the previous one (obs-fold)', method, target);
    }
    const colon = fieldNameEnd(buf, pos, to);
    if (colon === -1) {
      return malformed('a header field name is not a token followed by ":"', method, target);
    }
    const name = buf.toString('latin1', pos, colon).toLowerCase();
    const value = fieldValue(buf, colon, to);
    if (value === null) return malformed(`the value of ${name} holds a control character`, method, target);
    if (!addField(headers, name, value)) {
      return error(400, 'ambiguous_request', `${name} appears more than once`, method, target);
    }
    switch (name) {
      case 'content-length':
        seen.length = value;
        break;
      case 'transfer-encoding':
        seen.transferEncoding = value;
        break;
      case 'connection':
        seen.connection = headers.connection as string;
        break;
      case 'expect':
        seen.expect = value;
        break;
      case 'host':
        seen.host = true;
        break;
    }
    pos = to + 2;
  }
  return finishHead(method, target, minor, headers, seen, pos - start);
}

/** Null if more bytes may complete the head, or the refusal when they cannot. */
function incomplete(
  buf: Buffer,
  from: number,
  limit: number,
  available: number,
  limits: HeadLimits,
): HeadError | null {
  // A bare LF already here will not be mended by more bytes.
  const lf = buf.indexOf(LF, from);
  if (lf !== -1 && lf < limit && (lf === from || buf[lf - 1] !== CR)) {
    return malformed('bare LF in the request head');
  }
  if (available >= limits.maxBytes) {
    return error(431, 'headers_too_large', `the request head exceeds ${limits.maxBytes} bytes`);
  }
  return null;
}

function finishHead(
  method: string,
  target: string,
  minor: 0 | 1,
  headers: RequestHeaders,
  seen: Collected,
  size: number,
): RequestHead | HeadError {
  if (minor === 1 && !seen.host) return malformed('an HTTP/1.1 request needs a Host header', method, target);
  let framing: BodyFraming = 'none';
  let length = 0;
  if (seen.transferEncoding !== undefined) {
    if (minor === 0) {
      return malformed('Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)', method, target);
    }
    if (seen.length !== undefined) {
      return error(
        400,
        'ambiguous_request',
        'both Content-Length and Transfer-Encoding frame the body (RFC 9112 §6.1)',
        method,
        target,
      );
    }
    if (seen.transferEncoding.toLowerCase() !== 'chunked') {
      return error(
        501,
        'transfer_coding_not_supported',
        'the only transfer coding accepted is chunked',
        method,
        target,
      );
    }
    framing = 'chunked';
  } else if (seen.length !== undefined) {
    length = contentLength(seen.length);
    if (length < 0) return malformed('Content-Length is not a number of bytes', method, target);
    if (length > 0) framing = 'length';
  }
  let expectContinue = false;
  if (seen.expect !== undefined) {
    if (seen.expect.toLowerCase() !== '100-continue') {
      return error(417, 'expectation_failed', 'the only expectation met is 100-continue', method, target);
    }
    expectContinue = framing !== 'none' && minor === 1;
  }
  const keepAlive =
    minor === 1
      ? seen.connection === undefined || !listHas(seen.connection, 'close')
      : seen.connection !== undefined && listHas(seen.connection, 'keep-alive');
  return {
    kind: 'head',
    method,
    target,
    minor,
    headers,
    framing,
    contentLength: length,
    keepAlive,
    expectContinue,
    size,
  };
}
