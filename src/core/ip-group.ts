import { type Bytes16, type Cidr, cidrContains, ipVersion, isV4Mapped, parseCidr, parseIp } from './ip.ts';

/**
 * The network an address belongs to, for new-IP confirmation (SPEC §6): what a
 * person confirms is a network, not one address, so that IPv6 privacy addresses
 * (RFC 8981: a new interface id every day) and a company's NAT pool do not each
 * need an e-mail.
 *
 * - an address inside a configured shared egress range → that range, as configured;
 * - IPv4 (and IPv4-mapped IPv6, `::ffff:a.b.c.d`) → the address itself;
 * - IPv6 → its /prefix network in RFC 5952 text (`2001:db8:1:2::/64`).
 */
export interface IpGroupingOptions {
  /** Prefix length IPv6 addresses are grouped by (RELAY_IPV6_GROUP_PREFIX, default 64). */
  readonly ipv6Prefix: number;
  /** CIDRs that each count as one network (RELAY_SHARED_EGRESS_RANGES). */
  readonly sharedEgressRanges: readonly string[];
}

export interface IpGrouping {
  /** The group of a client address; undefined when `ip` is not an address. */
  groupOf(ip: string): string | undefined;
  /**
   * What an admin names when removing a trusted network: an address (mapped to
   * its group) or a group's text (normalised). Undefined when it is neither.
   */
  normalise(text: string): string | undefined;
}

/** RFC 5952 §4: lower case, no leading zeros, the longest run (≥ 2) of zero groups as `::`, the first on a tie. */
export function formatIpv6(bytes: Bytes16): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

function v4Text(bytes: Bytes16): string {
  return `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
}

/** `bytes` with every bit after the first `bits` cleared. */
function masked(bytes: Bytes16, bits: number): Bytes16 {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    out[i] = (bytes[i] ?? 0) & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

function sameCidr(a: Cidr, b: Cidr): boolean {
  if (a.bits !== b.bits) return false;
  const other = masked(b.base, b.bits);
  return masked(a.base, a.bits).every((byte, i) => byte === other[i]);
}

export class IpGroupingError extends Error {
  override name = 'IpGroupingError';
}

/** Builds the grouping once from configuration; a malformed range or prefix is refused at start. */
export function ipGrouping(options: IpGroupingOptions): IpGrouping {
  const prefix = options.ipv6Prefix;
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 128) {
    throw new IpGroupingError(`RELAY_IPV6_GROUP_PREFIX must be 1-128, got ${prefix}`);
  }
  const ranges = options.sharedEgressRanges.map((text) => {
    const cidr = parseCidr(text.trim());
    if (cidr === undefined || !text.includes('/')) {
      throw new IpGroupingError(`RELAY_SHARED_EGRESS_RANGES: "${text}" is not a CIDR range`);
    }
    return { cidr, text: text.trim() };
  });

  const groupOfBytes = (bytes: Bytes16): string => {
    for (const range of ranges) if (cidrContains(range.cidr, bytes)) return range.text;
    if (isV4Mapped(bytes)) return v4Text(bytes);
    return `${formatIpv6(masked(bytes, prefix))}/${prefix}`;
  };

  const groupOf = (ip: string): string | undefined => {
    const bytes = parseIp(ip);
    return bytes === undefined ? undefined : groupOfBytes(bytes);
  };

  return {
    groupOf,
    normalise(text) {
      const trimmed = text.trim();
      const address = groupOf(trimmed);
      if (address !== undefined) return address;
      const cidr = parseCidr(trimmed);
      if (cidr === undefined || !trimmed.includes('/')) return undefined;
      const shared = ranges.find((r) => sameCidr(r.cidr, cidr));
      if (shared) return shared.text;
      if (ipVersion(trimmed.slice(0, trimmed.indexOf('/'))) === 4) return trimmed;
      return `${formatIpv6(masked(cidr.base, cidr.bits))}/${cidr.bits}`;
    },
  };
}
