import { type Cidr, cidrContains, parseCidr, parseIp } from '../../../core/ip.ts';
import type { ProxyPolicy } from '../policy.ts';

const parsedLists = new WeakMap<readonly string[], readonly Cidr[]>();

/** Parsed once per list object (credentials and settings are cached, so their lists are too). */
function rangesOf(allowlist: readonly string[]): readonly Cidr[] {
  let ranges = parsedLists.get(allowlist);
  if (ranges === undefined) {
    ranges = allowlist.flatMap((entry) => parseCidr(entry) ?? []);
    parsedLists.set(allowlist, ranges);
  }
  return ranges;
}

/** True when `ip` falls in one of the CIDR ranges (IPv4, IPv6, IPv4-mapped IPv6 alike). */
export function ipInList(ip: string, allowlist: readonly string[]): boolean {
  const addr = parseIp(ip);
  if (addr === undefined) return false;
  return rangesOf(allowlist).some((cidr) => cidrContains(cidr, addr));
}

/** A credential in `allowlist` mode answers only to its CIDR ranges (403 `ip_not_allowed`). */
export const credentialIpAllowlist: ProxyPolicy = {
  name: 'credential-ip-allowlist',
  check({ entry, clientIp }) {
    const { credential } = entry;
    if (credential.ipMode !== 'allowlist' || ipInList(clientIp, credential.ipAllowlist)) return undefined;
    return {
      code: 'ip_not_allowed',
      detail: `requests from ${clientIp} are not allowed for this credential`,
    };
  },
};
