import { cidrContains, parseCidr, parseIp } from '../../../core/ip.ts';
import type { ProxyPolicy } from '../policy.ts';

/** True when `ip` falls in one of the CIDR ranges (IPv4, IPv6, IPv4-mapped IPv6 alike). */
export function ipInList(ip: string, allowlist: readonly string[]): boolean {
  const addr = parseIp(ip);
  if (addr === undefined) return false;
  return allowlist.some((entry) => {
    const cidr = parseCidr(entry);
    return cidr !== undefined && cidrContains(cidr, addr);
  });
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
