import { fail, ok, type Result } from './errors.ts';
import { type Bytes16, ipVersion, isNonPublicIp, parseIp } from './ip.ts';

/**
 * Rules for a connection's base URL (SPEC §4 "Upstream safety"): https unless the
 * connection opts into plain http; no credentials, query or fragment in the URL;
 * and, unless private upstreams are allowed, no loopback, private or link-local
 * address — checked here for literals and again at connect time for names, so
 * DNS rebinding cannot slip past.
 */

export interface UpstreamPolicy {
  readonly allowPrivate: boolean;
  readonly allowInsecure: boolean;
}

export interface ParsedBaseUrl {
  /** Normalised: no trailing slash. */
  readonly url: string;
  readonly hostname: string;
}

const LOCAL_NAMES = /(^|\.)(localhost|localdomain|internal|local)$/i;

export function parseBaseUrl(input: string, policy: UpstreamPolicy): Result<ParsedBaseUrl> {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return fail('invalid_base_url', 'base_url must be an absolute URL such as https://api.example.com');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return fail('invalid_base_url', 'base_url must use https');
  }
  if (url.protocol === 'http:' && !policy.allowInsecure) {
    return fail(
      'invalid_base_url',
      'base_url must use https (set options.allow_insecure_upstream for local development)',
    );
  }
  if (url.username !== '' || url.password !== '') {
    return fail('invalid_base_url', 'base_url must not carry credentials; put the key in auth.secret');
  }
  if (url.search !== '' || url.hash !== '' || input.includes('#') || input.includes('?')) {
    return fail('invalid_base_url', 'base_url must not have a query string or fragment');
  }
  const bracketless = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  // `localhost.` is the same host as `localhost` (a fully qualified name): judge it without the dot.
  const hostname = bracketless.replace(/\.+$/, '');
  if (!policy.allowPrivate) {
    const literal = ipVersion(hostname) !== 0 ? parseIp(hostname) : undefined;
    if (
      (literal && isNonPublicIp(literal)) ||
      LOCAL_NAMES.test(hostname) ||
      (!hostname.includes('.') && ipVersion(hostname) === 0)
    ) {
      return fail('unsafe_upstream', `base_url host ${hostname} is a loopback, private or local address`);
    }
  }
  const path = url.pathname.replace(/\/+$/, '');
  return ok({ url: `${url.protocol}//${url.host}${path}`, hostname });
}

/** True when every resolved address may be contacted under the policy. */
export function addressesAllowed(addresses: readonly string[], allowPrivate: boolean): boolean {
  if (allowPrivate) return true;
  return addresses.every((a) => {
    const ip: Bytes16 | undefined = parseIp(a);
    return ip !== undefined && !isNonPublicIp(ip);
  });
}
