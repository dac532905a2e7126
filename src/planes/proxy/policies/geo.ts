import type { GeoRules } from '../../../core/model.ts';
import type { GeoIp } from '../../../ports/geo-ip.ts';
import type { PolicyContext, PolicyResult, ProxyPolicy } from '../policy.ts';
import type { WorkspaceSettingsCache } from '../workspace-settings.ts';
import { withWorkspaceSettings } from './workspace-ip.ts';

export interface GeoPolicyOptions {
  readonly settings: WorkspaceSettingsCache;
  readonly geoIp: GeoIp;
  /** RELAY_GEOIP_UNKNOWN: what an address without a country gets when some rule applies. */
  readonly unknown: 'deny' | 'allow';
}

function applies(rules: GeoRules | undefined): rules is GeoRules {
  return rules !== undefined && (rules.allow !== undefined || (rules.block?.length ?? 0) > 0);
}

/** `allow`: only those countries; `block`: all but those. */
function permits(rules: GeoRules, country: string): boolean {
  if (rules.allow !== undefined) return rules.allow.includes(country);
  return !(rules.block ?? []).includes(country);
}

function refusedFrom(country: string, level: string): PolicyResult {
  return {
    code: 'geo_not_allowed',
    detail: `requests from ${country} are not allowed by the ${level}'s geo rules`,
  };
}

/**
 * Country rules of the workspace, then the connection (`options.geo`), then the
 * credential (`policies.geo`): every rule that is set must let the client's country
 * through (403 `geo_not_allowed`). With no rule set nothing is looked up. An address
 * without a country (private, loopback, or absent from the database) follows
 * RELAY_GEOIP_UNKNOWN, deny by default.
 */
export function geoRules(options: GeoPolicyOptions): ProxyPolicy {
  const judge = (ctx: PolicyContext, workspace: GeoRules | undefined): PolicyResult => {
    // Runs for every proxied request: no list of layers is built.
    const connection = ctx.upstream.connection.options.geo;
    const credential = ctx.entry.credential.policies.geo;
    const first = applies(workspace)
      ? 'workspace'
      : applies(connection)
        ? 'connection'
        : applies(credential)
          ? 'credential'
          : undefined;
    if (first === undefined) return undefined;
    const country = options.geoIp.country(ctx.clientIp);
    if (country === undefined) {
      if (options.unknown === 'allow') return undefined;
      return {
        code: 'geo_not_allowed',
        detail: `the country of ${ctx.clientIp} is unknown, and the ${first}'s geo rules admit known countries only`,
      };
    }
    if (applies(workspace) && !permits(workspace, country)) return refusedFrom(country, 'workspace');
    if (applies(connection) && !permits(connection, country)) return refusedFrom(country, 'connection');
    if (applies(credential) && !permits(credential, country)) return refusedFrom(country, 'credential');
    return undefined;
  };
  return {
    name: 'geo-rules',
    check(ctx) {
      return withWorkspaceSettings(options.settings, ctx.entry.credential.workspaceId, (settings) =>
        judge(ctx, settings.geo),
      );
    },
  };
}
