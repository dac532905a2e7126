import type { Socket } from 'node:net';
import { type Cidr, cidrContains, parseCidr, parseIp } from '../core/ip.ts';
import { presentedFingerprint } from './client-cert.ts';
import type { HeaderBag } from './header-bag.ts';

/**
 * Who the client is, when reverse proxies may stand in front of Relay
 * (`RELAY_TRUSTED_PROXIES`). Shared by the proxy and the management API so
 * that both planes judge IP allowlists on the same address.
 *
 * The rule: the socket address is the client, unless that peer is a trusted
 * proxy. Then `X-Forwarded-For` is walked from the right (each proxy appends the
 * address it saw), skipping trusted hops; the first untrusted address is the
 * client. Entries left of it were written by the client itself and are never read.
 *
 * An entry that is not an IP address stops the walk, and the client is the last
 * address verified (the nearest trusted hop): a caller can never make Relay see
 * a string of its choosing, and a trusted proxy that writes `unknown` gets its
 * own address judged, not a made-up one. Hence: list only proxies in
 * RELAY_TRUSTED_PROXIES, never the networks clients come from.
 */
export class TrustedProxies {
  readonly #cidrs: readonly Cidr[];

  /** Parses the ranges once; a bad entry is a start-up error, not a silently ignored rule. */
  constructor(ranges: readonly string[]) {
    this.#cidrs = ranges.map((text) => {
      const cidr = parseCidr(text.trim());
      if (cidr === undefined)
        throw new Error(`RELAY_TRUSTED_PROXIES: "${text}" is not an IP address or CIDR range`);
      return cidr;
    });
  }

  get empty(): boolean {
    return this.#cidrs.length === 0;
  }

  /** True when `ip` (any text form, IPv4-mapped included) lies in a trusted range. */
  trusts(ip: string): boolean {
    if (this.#cidrs.length === 0) return false;
    const addr = parseIp(ip);
    return addr !== undefined && this.#cidrs.some((cidr) => cidrContains(cidr, addr));
  }
}

export const NO_TRUSTED_PROXIES = new TrustedProxies([]);

/** `::ffff:a.b.c.d` (a dual-stack socket's view of an IPv4 peer) → `a.b.c.d`; anything else unchanged. */
export function normaliseIp(raw: string): string {
  return raw.length > 7 && raw.startsWith('::ffff:') && raw.includes('.') ? raw.slice(7) : raw;
}

/**
 * One `X-Forwarded-For` entry as an address, or undefined. Besides bare
 * addresses, the `a.b.c.d:port`, `[v6]` and `[v6]:port` forms some load
 * balancers write are read too (they name one address unambiguously).
 */
function forwardedAddress(entry: string): string | undefined {
  let text = entry.trim();
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) return undefined;
    const rest = text.slice(close + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    text = text.slice(1, close);
  } else if (/^[\d.]+:\d{1,5}$/.test(text)) {
    text = text.slice(0, text.indexOf(':'));
  }
  return parseIp(text) === undefined ? undefined : normaliseIp(text);
}

/** The client address as Relay trusts it (see TrustedProxies). */
export function resolveClientIp(
  socketAddress: string | undefined,
  forwardedFor: string | string[] | undefined,
  trusted: TrustedProxies,
): string {
  const peer = normaliseIp(socketAddress ?? '');
  return trusted.trusts(peer) ? forwardedClient(peer, forwardedFor, trusted) : peer;
}

/** Walks `X-Forwarded-For` from the right, starting from a trusted `peer` (see TrustedProxies). */
function forwardedClient(
  peer: string,
  forwardedFor: string | string[] | undefined,
  trusted: TrustedProxies,
): string {
  if (forwardedFor === undefined) return peer;
  const entries = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  let client = peer;
  for (let i = entries.length - 1; i >= 0; i--) {
    const hop = forwardedAddress(entries[i] as string);
    if (hop === undefined) return client;
    client = hop;
    if (!trusted.trusts(hop)) return hop;
  }
  return client;
}

export interface ClientIdentity {
  /** The client address as Relay trusts it, IPv4-mapped IPv6 written as IPv4. */
  readonly ip: string;
  /** SHA-256 fingerprint of the client certificate presented (see client-cert.ts), if any. */
  readonly certFingerprint: string | undefined;
}

/**
 * Address and certificate of the client of one request, from its socket and
 * headers. Removes `X-Client-Cert-Fingerprint` from `headers` (never forwarded).
 */
export function identifyClient(socket: Socket, headers: HeaderBag, trusted: TrustedProxies): ClientIdentity {
  const peer = normaliseIp(socket.remoteAddress ?? '');
  const peerTrusted = trusted.trusts(peer);
  return {
    ip: peerTrusted ? forwardedClient(peer, headers['x-forwarded-for'], trusted) : peer,
    certFingerprint: presentedFingerprint(socket, headers, peerTrusted),
  };
}
