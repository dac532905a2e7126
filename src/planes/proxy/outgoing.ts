import type { CanonicalTarget } from '../../core/request-target.ts';
import type { HeaderBag } from '../header-bag.ts';
import { connectionListed, HOP_BY_HOP } from './hop-by-hop.ts';
import type { LocatedToken } from './locate-credential.ts';
import type { Upstream } from './upstreams.ts';

/** Headers that carry a caller's credential or that Relay sets itself: never forwarded as sent. */
const CALLER_CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'x-relay-token'];
const FORWARDED_HEADERS = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-real-ip',
];
/**
 * `expect` is answered by Relay itself, never passed on; `host` is set from the upstream origin; a client-certificate
 * fingerprint vouched for by a trusted proxy is Relay's business, never the upstream's.
 */
const RELAY_OWNED = ['host', 'expect', 'x-client-cert-fingerprint'];
/** Never forwarded as the caller sent them, whatever the connection. */
const ALWAYS_DROPPED: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  ...CALLER_CREDENTIAL_HEADERS,
  ...FORWARDED_HEADERS,
  ...RELAY_OWNED,
]);

export type ForwardedMode = 'off' | 'set';

export interface OutgoingRequest {
  readonly path: string;
  readonly headers: Record<string, string | string[]>;
}

/** True when the credential was found where this connection lets a caller put it. */
export function locationAccepted(found: LocatedToken, upstream: Upstream): boolean {
  const { authType, authConfig } = upstream.connection;
  const loc = found.location;
  if (loc.kind === 'basic') return loc.name === 'authorization' || loc.name === 'proxy-authorization';
  if (loc.kind === 'query') return authType === 'query' && loc.name === authConfig.query_param;
  if (CALLER_CREDENTIAL_HEADERS.includes(loc.name)) return true;
  return authType === 'header' && loc.name === authConfig.header_name;
}

/**
 * The query as received, minus every parameter named `drop` and every parameter
 * whose name or value carries the caller's token (compared decoded); the other
 * pieces keep their exact bytes.
 */
export function queryWithout(target: CanonicalTarget, drop: string | undefined, token: string): string {
  if (target.rawQuery === '') return '';
  // The target was canonicalized, so every piece decodes.
  const decode = (text: string) => decodeURIComponent(text.replace(/\+/g, ' '));
  const kept = target.rawQuery.split('&').filter((piece) => {
    const eq = piece.indexOf('=');
    const name = decode(eq === -1 ? piece : piece.slice(0, eq));
    const value = eq === -1 ? '' : decode(piece.slice(eq + 1));
    return name !== drop && !name.includes(token) && !value.includes(token);
  });
  return kept.join('&');
}

function valueCarriesToken(value: string, token: string): boolean {
  if (value.includes(token)) return true;
  // Basic credentials hide it in base64.
  if (value.length < 6 || (value.charCodeAt(0) | 0x20) !== 0x62) return false; // not `basic …`
  const basic = /^basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(value);
  return basic?.[1] !== undefined && Buffer.from(basic[1], 'base64').toString('utf8').includes(token);
}

/** True when a header value (or one of its values) carries the token in any form we can see. */
function carriesToken(value: string | string[], token: string): boolean {
  if (typeof value === 'string') return valueCarriesToken(value, token);
  return value.some((v) => valueCarriesToken(v, token));
}

/**
 * Builds the request to send upstream: the caller's headers minus hop-by-hop
 * fields (RFC 9110 §7.6.1), minus any credential the caller sent, plus the real
 * key in the connection's style.
 */
export function buildOutgoing(
  headers: HeaderBag,
  target: CanonicalTarget,
  upstream: Upstream,
  found: LocatedToken,
  secret: string,
  forwarded: { mode: ForwardedMode; clientIp: string; host: string | undefined },
): OutgoingRequest {
  const { authType, authConfig } = upstream.connection;
  const listed = connectionListed(headers.connection);
  const foundIn = found.location.kind === 'query' ? undefined : found.location.name;
  const keyHeader = authConfig.header_name;
  const out: Record<string, string | string[]> = {};
  // The caller's token never travels upstream: not in the header it came in, nor repeated in any other.
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || ALWAYS_DROPPED.has(name) || listed.has(name)) continue;
    if (name === foundIn || name === keyHeader || carriesToken(value, found.token)) continue;
    out[name] = value;
  }
  for (const name in upstream.extraHeaders)
    if (out[name] === undefined) out[name] = upstream.extraHeaders[name] as string;
  // Parameters to strip from the query: where the caller put its token, and where the real key goes.
  const stripParam =
    authType === 'query'
      ? authConfig.query_param
      : found.location.kind === 'query'
        ? found.location.name
        : undefined;
  let query = queryWithout(target, stripParam, found.token);
  switch (authType) {
    case 'bearer':
    case 'oauth2_client_credentials':
      out.authorization = `Bearer ${secret}`;
      break;
    case 'basic': {
      const pair = authConfig.username === undefined ? `${secret}:` : `${authConfig.username}:${secret}`;
      out.authorization = `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
      break;
    }
    case 'header':
      out[authConfig.header_name as string] = secret;
      break;
    case 'query': {
      const param = `${encodeURIComponent(authConfig.query_param as string)}=${encodeURIComponent(secret)}`;
      query = query === '' ? param : `${query}&${param}`;
      break;
    }
  }
  if (forwarded.mode === 'set') {
    out['x-forwarded-for'] = forwarded.clientIp;
    out['x-forwarded-proto'] = 'http';
    if (forwarded.host !== undefined) out['x-forwarded-host'] = forwarded.host;
  }
  const path = `${upstream.basePath}${target.path}${query === '' ? '' : `?${query}`}`;
  return { path, headers: out };
}
