import type { Result } from './errors.ts';
import { fail, ok } from './errors.ts';

/**
 * Canonicalization of the proxy's request target (SPEC §4 step 1).
 *
 * The rule is: refuse anything that Relay and the upstream (or anything between
 * them) could read two ways, so that the path Relay authorizes is exactly the path
 * it forwards. Nothing is normalized or re-encoded: `path` is the received bytes.
 */
export interface CanonicalTarget {
  readonly connectionId: string;
  /** Upstream path: begins with `/`, exactly the bytes to forward, still percent-encoded as received. */
  readonly path: string;
  /** Decoded segments of `path`, for glob matching. A trailing slash adds no empty segment. */
  readonly segments: readonly string[];
  /** The query without `?`; `''` if none. */
  readonly rawQuery: string;
  /** Decoded name/value pairs, in order; `+` is a space (WHATWG URL, application/x-www-form-urlencoded). */
  readonly query: ReadonlyArray<readonly [string, string]>;
}

const SLASH = 0x2f;
const PERCENT = 0x25;
const AMPERSAND = 0x26;
const EQUALS = 0x3d;
const HASH = 0x23;

const CONNECTION_ID = /^conn_[A-Za-z0-9_-]{1,80}$/;

/** pchar minus ";" (RFC 3986 §3.3): unreserved, sub-delims except ";", ":" and "@". */
const PATH_CHARS = new Uint8Array(128);
for (const ch of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@") {
  PATH_CHARS[ch.charCodeAt(0)] = 1;
}

function refuse<T>(detail: string): Result<T> {
  return fail<T>('ambiguous_request', detail);
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** The byte a `%XX` at `at` (pointing at the `%`) encodes, or -1 if malformed (RFC 3986 §2.1). */
function percentByte(text: string, at: number): number {
  const high = hexValue(text.charCodeAt(at + 1));
  const low = hexValue(text.charCodeAt(at + 2));
  return high < 0 || low < 0 ? -1 : high * 16 + low;
}

function isControl(code: number): boolean {
  return code < 0x20 || code === 0x7f;
}

function describeRawPathChar(code: number): string {
  if (code === 0x5c) return 'raw "\\" in the path; some servers read it as "/" (WHATWG URL)';
  if (code === 0x3b) {
    return 'path parameter ";" in the path; servers disagree on what it ends (RFC 3986 §3.3)';
  }
  if (code === HASH) return 'fragment ("#") in the request target; origin-form has none (RFC 9112 §3.2.1)';
  if (isControl(code)) return 'control character in the path';
  if (code > 0x7e) {
    return 'raw non-ASCII character in the path; percent-encode its UTF-8 bytes (RFC 3986 §2.5)';
  }
  return `character "${String.fromCharCode(code)}" must be percent-encoded in a path (RFC 3986 §3.3)`;
}

/** Bytes that may not appear percent-encoded in a path, and why. */
function describeEncodedPathByte(byte: number): string | undefined {
  if (byte === 0) return '%00 (NUL) in the path';
  if (byte === 0x2f) return 'encoded "/" (%2F) in the path; servers disagree on whether it splits a segment';
  if (byte === 0x5c) return 'encoded "\\" (%5C) in the path; some servers read it as "/"';
  if (byte === 0x3b) {
    return 'encoded ";" (%3B) in the path; some servers decode it before reading path parameters';
  }
  if (isControl(byte)) return 'encoded control character in the path';
  return undefined;
}

/**
 * Checks and decodes one raw path segment (no `/` inside). Also used for literal
 * segments of scope patterns, so patterns and requests decode the same way.
 */
export function decodePathSegment(raw: string): Result<string> {
  let hasPercent = false;
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code === PERCENT) {
      const byte = percentByte(raw, i);
      if (byte < 0) return refuse(`malformed percent-encoding "${raw.slice(i, i + 3)}" (RFC 3986 §2.1)`);
      const why = describeEncodedPathByte(byte);
      if (why !== undefined) return refuse(why);
      hasPercent = true;
      i += 2;
    } else if (code > 0x7e || PATH_CHARS[code] !== 1) {
      return refuse(describeRawPathChar(code));
    }
  }
  const decoded = hasPercent ? decodeUtf8(raw) : raw;
  if (decoded === undefined) return refuse('percent-encoding does not decode to valid UTF-8 (RFC 3986 §2.5)');
  // RFC 3986 §5.2.4: "." and ".." are removed by resolution, so they (and their
  // encoded forms, which some servers decode first) would name a different path.
  if (decoded === '.' || decoded === '..') {
    return refuse('dot segment ("." or "..", raw or encoded) in the path');
  }
  if (hasPercent && hasPercentEscape(decoded)) {
    return refuse('double percent-encoding in the path; a server that decodes twice would read another path');
  }
  return ok(decoded);
}

/** Strict UTF-8: decodeURIComponent throws on overlong forms, surrogates and truncation (ECMA-262 Decode). */
function decodeUtf8(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

function hasPercentEscape(text: string): boolean {
  for (let at = text.indexOf('%'); at !== -1; at = text.indexOf('%', at + 1)) {
    if (percentByte(text, at) >= 0) return true;
  }
  return false;
}

/**
 * Parses `req.url` as received by node:http: `/conn_<id>[/upstream/path][?query]`.
 * Only origin-form is accepted (RFC 9112 §3.2.1); every refusal is `ambiguous_request`.
 */
export function canonicalizeTarget(rawTarget: string): Result<CanonicalTarget> {
  if (rawTarget.charCodeAt(0) !== SLASH) {
    return refuse(
      'request target must be origin-form "/conn_…/path"; absolute-, authority- and asterisk-form are refused (RFC 9112 §3.2)',
    );
  }
  if (rawTarget.charCodeAt(1) === SLASH) {
    return refuse('request target starts with "//", which reads as a network-path reference (RFC 3986 §4.2)');
  }
  const queryAt = rawTarget.indexOf('?');
  const pathEnd = queryAt === -1 ? rawTarget.length : queryAt;

  const segments: string[] = [];
  let connectionEnd = pathEnd;
  for (let start = 1; start <= pathEnd; ) {
    let end = rawTarget.indexOf('/', start);
    if (end === -1 || end > pathEnd) end = pathEnd;
    if (end === start) {
      if (start === 1) return refuse('missing connection id: the target must begin "/conn_…"');
      if (end === pathEnd) break; // a trailing slash: forwarded, but adds no segment
      return refuse('empty path segment ("//") inside the path');
    }
    const raw = rawTarget.slice(start, end);
    const segment = decodePathSegment(raw);
    if (!segment.ok) return segment;
    if (start === 1) {
      if (!CONNECTION_ID.test(raw)) return refuse('connection id must match conn_[A-Za-z0-9_-]{1,80}');
      connectionEnd = end;
    } else {
      segments.push(segment.value);
    }
    start = end + 1;
  }

  const rawQuery = queryAt === -1 ? '' : rawTarget.slice(queryAt + 1);
  const query = parseQuery(rawQuery);
  if (!query.ok) return query;
  return ok({
    connectionId: rawTarget.slice(1, connectionEnd),
    path: connectionEnd === pathEnd ? '/' : rawTarget.slice(connectionEnd, pathEnd),
    segments,
    rawQuery,
    query: query.value,
  });
}

/** Splits on `&` (WHATWG URL, application/x-www-form-urlencoded parsing); empty pieces are skipped. */
function parseQuery(rawQuery: string): Result<Array<readonly [string, string]>> {
  const pairs: Array<readonly [string, string]> = [];
  let pieceStart = 0;
  let equalsAt = -1;
  for (let i = 0; i <= rawQuery.length; i++) {
    const code = i === rawQuery.length ? AMPERSAND : rawQuery.charCodeAt(i);
    if (code === AMPERSAND) {
      if (i > pieceStart) {
        const nameEnd = equalsAt === -1 ? i : equalsAt;
        const name = decodeQueryComponent(rawQuery.slice(pieceStart, nameEnd));
        if (!name.ok) return name;
        const value = decodeQueryComponent(equalsAt === -1 ? '' : rawQuery.slice(equalsAt + 1, i));
        if (!value.ok) return value;
        pairs.push([name.value, value.value]);
      }
      pieceStart = i + 1;
      equalsAt = -1;
    } else if (code === EQUALS) {
      if (equalsAt === -1) equalsAt = i;
    } else if (code === HASH) {
      return refuse('fragment ("#") in the request target; origin-form has none (RFC 9112 §3.2.1)');
    } else if (code < 0x21 || code > 0x7e) {
      // Raw "\" is allowed here: only paths are rewritten "\" → "/" by WHATWG URL parsers.
      return refuse(
        'control, space or raw non-ASCII character in the query; percent-encode it (RFC 3986 §3.4)',
      );
    }
  }
  return ok(pairs);
}

function decodeQueryComponent(raw: string): Result<string> {
  const hasPercent = raw.includes('%');
  for (let at = hasPercent ? raw.indexOf('%') : -1; at !== -1; at = raw.indexOf('%', at + 3)) {
    const byte = percentByte(raw, at);
    if (byte < 0) {
      return refuse(`malformed percent-encoding "${raw.slice(at, at + 3)}" in the query (RFC 3986 §2.1)`);
    }
    if (byte === 0) return refuse('%00 (NUL) in the query');
  }
  const spaced = raw.includes('+') ? raw.replaceAll('+', ' ') : raw;
  const decoded = hasPercent ? decodeUtf8(spaced) : spaced;
  if (decoded === undefined) {
    return refuse('query percent-encoding does not decode to valid UTF-8 (RFC 3986 §2.5)');
  }
  return ok(decoded);
}
