import { isWellFormedToken, TOKEN_KINDS } from '../../core/tokens.ts';
import type { HeaderBag } from '../header-bag.ts';

/**
 * Finds the `rk_proxy_…` credential a caller presented. SPEC §13: it may come in
 * `Authorization: Bearer`, `Proxy-Authorization`, `X-Relay-Token`, or wherever the
 * connection injects the real key (a header, a query parameter, or a basic-auth
 * field), so that an SDK configured with the Relay token as its API key works
 * unchanged. Since the connection is not known before authentication, every
 * header and query value is examined for a well-formed (checksum-valid) token;
 * the pipeline then checks that the place found is one this connection accepts.
 */
export type TokenLocation =
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'basic'; readonly name: string; readonly field: 'username' | 'password' }
  | { readonly kind: 'query'; readonly name: string };

export interface LocatedToken {
  readonly token: string;
  readonly location: TokenLocation;
}

export type LocateResult =
  | { readonly status: 'none' }
  | { readonly status: 'found'; readonly found: LocatedToken }
  /** Two different tokens in one request: which one is meant is ambiguous. */
  | { readonly status: 'conflict' };

const PROXY_PREFIX = TOKEN_KINDS.proxy;
const SCHEME = /^(?:bearer|token)\s+(\S+)\s*$/i;
const BASIC = /^basic\s+([A-Za-z0-9+/=_-]+)\s*$/i;

function fromHeaderValue(name: string, value: string): LocatedToken | undefined {
  if (!value.includes(PROXY_PREFIX)) return undefined;
  const trimmed = value.trim();
  if (isWellFormedToken(trimmed, 'proxy')) return { token: trimmed, location: { kind: 'header', name } };
  const scheme = SCHEME.exec(trimmed);
  if (scheme?.[1] !== undefined && isWellFormedToken(scheme[1], 'proxy')) {
    return { token: scheme[1], location: { kind: 'header', name } };
  }
  return undefined;
}

function fromBasic(name: string, value: string): LocatedToken | undefined {
  const match = BASIC.exec(value);
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const user = colon === -1 ? decoded : decoded.slice(0, colon);
  const pass = colon === -1 ? '' : decoded.slice(colon + 1);
  if (isWellFormedToken(user, 'proxy'))
    return { token: user, location: { kind: 'basic', name, field: 'username' } };
  if (isWellFormedToken(pass, 'proxy'))
    return { token: pass, location: { kind: 'basic', name, field: 'password' } };
  return undefined;
}

const NONE: LocateResult = { status: 'none' };
const CONFLICT: LocateResult = { status: 'conflict' };

function fromValue(name: string, value: string): LocatedToken | undefined {
  return (name === 'authorization' || name === 'proxy-authorization') && /^basic\s/i.test(value)
    ? fromBasic(name, value)
    : fromHeaderValue(name, value);
}

export function locateCredential(
  headers: HeaderBag,
  query: ReadonlyArray<readonly [string, string]>,
): LocateResult {
  let found: LocatedToken | undefined;
  // Every header is examined (cheaply: a substring test first), so two different tokens are noticed.
  for (const name in headers) {
    const raw = headers[name];
    if (raw === undefined) continue;
    // A repeated header arrives as an array; a single one is walked as itself, with no array made.
    const count = typeof raw === 'string' ? 1 : raw.length;
    for (let i = 0; i < count; i++) {
      const candidate = fromValue(name, typeof raw === 'string' ? raw : (raw[i] as string));
      if (candidate === undefined) continue;
      if (found === undefined) found = candidate;
      else if (found.token !== candidate.token) return CONFLICT;
    }
  }
  for (const [name, value] of query) {
    if (!value.startsWith(PROXY_PREFIX) || !isWellFormedToken(value, 'proxy')) continue;
    if (found === undefined) found = { token: value, location: { kind: 'query', name } };
    else if (found.token !== value) return CONFLICT;
  }
  return found === undefined ? NONE : { status: 'found', found };
}
