import { type Cidr, cidrContains, parseCidr, parseIp } from '../../../core/ip.ts';
import type { WorkspaceSettings } from '../../../core/model.ts';
import type { PolicyResult, ProxyPolicy } from '../policy.ts';
import type { WorkspaceSettingsCache } from '../workspace-settings.ts';

/** Parsed once per settings version: the list object is replaced whenever the settings change. */
const compiled = new WeakMap<readonly string[], readonly Cidr[]>();

function cidrsOf(list: readonly string[]): readonly Cidr[] {
  let cidrs = compiled.get(list);
  if (cidrs === undefined) {
    cidrs = list.flatMap((text) => parseCidr(text) ?? []);
    compiled.set(list, cidrs);
  }
  return cidrs;
}

const MISSING: PolicyResult = { code: 'forbidden', detail: 'the workspace of this credential is gone' };

/**
 * Runs `judge` on the credential's workspace settings, synchronously when they are
 * cached. A workspace that no longer exists refuses everything (fail closed).
 */
export function withWorkspaceSettings(
  cache: WorkspaceSettingsCache,
  workspaceId: string,
  judge: (settings: WorkspaceSettings) => PolicyResult,
): PolicyResult | Promise<PolicyResult> {
  const settings = cache.get(workspaceId);
  if (settings instanceof Promise) return settings.then((s) => (s === undefined ? MISSING : judge(s)));
  return settings === undefined ? MISSING : judge(settings);
}

/**
 * The workspace-wide allowlist (`settings.ip_allowlist`): when set, every proxied
 * call must come from one of its CIDR ranges, whatever the credential allows
 * (403 `ip_not_allowed`). IPv4 and IPv4-mapped IPv6 compare as one address.
 */
export function workspaceIpAllowlist(cache: WorkspaceSettingsCache): ProxyPolicy {
  return {
    name: 'workspace-ip-allowlist',
    check({ entry, clientIp }) {
      return withWorkspaceSettings(cache, entry.credential.workspaceId, (settings) => {
        const list = settings.ip_allowlist;
        if (list === undefined || list.length === 0) return undefined;
        const addr = parseIp(clientIp);
        if (addr !== undefined && cidrsOf(list).some((cidr) => cidrContains(cidr, addr))) return undefined;
        return {
          code: 'ip_not_allowed',
          detail: `requests from ${clientIp} are not allowed by the workspace's IP allowlist`,
        };
      });
    },
  };
}
