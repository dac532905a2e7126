import { CR, FIELD_VALUE, fieldNameEnd, fieldValue, LF, listHas, newFields, SP } from './chars.ts';

/**
 * The head of an upstream's response (RFC 9112 §4, §6). Relay writes its own
 * head to the client from what is read here, so an upstream cannot split the
 * client's stream; what matters is that the framing read here is the one the
 * upstream meant, and anything with two readings is an error (502), never a guess.
 */

/** Field names lowercased; a repeated field becomes an array, as undici gives them. */
export type ResponseHeaders = Record<string, string | string[]>;

export interface ResponseHead {
  readonly kind: 'head';
  readonly status: number;
  readonly headers: ResponseHeaders;
  /** The declared length, -1 if none. */
  readonly contentLength: number;
  readonly chunked: boolean;
  /** The upstream lets the connection carry another request. */
  readonly keepAlive: boolean;
  /** `Keep-Alive: timeout=N`, in ms, if the upstream said. */
  readonly keepAliveTimeoutMs: number | undefined;
  /** Bytes from `start` to the end of the head. */
  readonly size: number;
}

export interface ResponseHeadError {
  readonly kind: 'error';
  readonly detail: string;
}

function bad(detail: string): ResponseHeadError {
  return { kind: 'error', detail };
}

function lineEnd(buf: Buffer, from: number, limit: number): number {
  const lf = buf.indexOf(LF, from);
  if (lf === -1 || lf >= limit) return -1;
  if (lf === from || buf[lf - 1] !== CR) return -2;
  return lf - 1;
}

function keepAliveTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /(?:^|[\s,])timeout\s*=\s*(\d{1,6})/i.exec(value);
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1000;
}

/**
 * Parses the response head at `start`; null while incomplete within `maxBytes`.
 * Interim (1xx) responses are heads too: the caller skips them.
 */
export function parseResponseHead(
  buf: Buffer,
  start: number,
  maxBytes: number,
): ResponseHead | ResponseHeadError | null {
  const limit = Math.min(buf.length, start + maxBytes);
  const first = lineEnd(buf, start, limit);
  if (first === -2) return bad('bare LF in the response head');
  if (first === -1) return buf.length - start >= maxBytes ? bad('response head too large') : null;
  // HTTP/1.x SP 3DIGIT [SP reason]
  if (first - start < 12 || buf.toString('latin1', start, start + 7) !== 'HTTP/1.') {
    return bad('malformed status line');
  }
  const minor = buf[start + 7];
  if ((minor !== 0x30 && minor !== 0x31) || buf[start + 8] !== SP) return bad('malformed status line');
  let status = 0;
  for (let i = start + 9; i < start + 12; i++) {
    const d = (buf[i] as number) - 0x30;
    if (d < 0 || d > 9) return bad('malformed status code');
    status = status * 10 + d;
  }
  if (status < 100) return bad('malformed status code');
  if (first > start + 12 && buf[start + 12] !== SP) return bad('malformed status line');
  for (let i = start + 12; i < first; i++) {
    if (FIELD_VALUE[buf[i] as number] === 0) return bad('control character in the reason phrase');
  }
  const headers: ResponseHeaders = newFields();
  let length: string | undefined;
  let transferEncoding: string | undefined;
  let pos = first + 2;
  for (;;) {
    const to = lineEnd(buf, pos, limit);
    if (to === -2) return bad('bare LF in the response head');
    if (to === -1) return buf.length - start >= maxBytes ? bad('response head too large') : null;
    if (to === pos) {
      pos = to + 2;
      break;
    }
    const colon = fieldNameEnd(buf, pos, to);
    if (colon === -1) return bad('malformed header line');
    const name = buf.toString('latin1', pos, colon).toLowerCase();
    const value = fieldValue(buf, colon, to);
    if (value === null) return bad(`control character in ${name}`);
    if (name === 'content-length') {
      if (length !== undefined && length !== value) return bad('conflicting Content-Length');
      length = value;
      headers[name] = value;
    } else {
      if (name === 'transfer-encoding')
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
      const known = headers[name];
      if (known === undefined) headers[name] = value;
      else if (Array.isArray(known)) known.push(value);
      else headers[name] = [known, value];
    }
    pos = to + 2;
  }
  let contentLength = -1;
  let chunked = false;
  let keepAlive: boolean;
  const connection = headers.connection;
  const connectionText = connection === undefined ? undefined : String(connection);
  keepAlive =
    minor === 0x31
      ? connectionText === undefined || !listHas(connectionText, 'close')
      : connectionText !== undefined && listHas(connectionText, 'keep-alive');
  if (transferEncoding !== undefined) {
    if (transferEncoding.trim().toLowerCase() !== 'chunked') return bad('unsupported transfer coding');
    chunked = true;
    // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length; such a message ends its connection.
    if (length !== undefined) {
      delete headers['content-length'];
      keepAlive = false;
    }
  } else if (length !== undefined) {
    if (!/^\d{1,15}$/.test(length)) return bad('malformed Content-Length');
    contentLength = Number(length);
  }
  const hint = headers['keep-alive'];
  return {
    kind: 'head',
    status,
    headers,
    contentLength,
    chunked,
    keepAlive,
    keepAliveTimeoutMs: keepAliveTimeout(typeof hint === 'string' ? hint : undefined),
    size: pos - start,
  };
}
