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

/**
 * Country rules of the workspace, then the connection (`options.geo`), then the
 * credential (`policies.geo`): every rule that is set must let the client's country
 * through (403 `geo_not_allowed`). With no rule set nothing is looked up. An address
 * without a country (private, loopback, or absent from the database) follows
 * RELAY_GEOIP_UNKNOWN, deny by default.
 */
export function geoRules(options: GeoPolicyOptions): ProxyPolicy {
  const judge = (ctx: PolicyContext, workspace: GeoRules | undefined): PolicyResult => {
    const layers: Array<readonly [string, GeoRules]> = [];
    if (applies(workspace)) layers.push(['workspace', workspace]);
    const connection = ctx.upstream.connection.options.geo;
    if (applies(connection)) layers.push(['connection', connection]);
    const credential = ctx.entry.credential.policies.geo;
    if (applies(credential)) layers.push(['credential', credential]);
    if (layers.length === 0) return undefined;
    const country = options.geoIp.country(ctx.clientIp);
    if (country === undefined) {
      if (options.unknown === 'allow') return undefined;
      return {
        code: 'geo_not_allowed',
        detail: `the country of ${ctx.clientIp} is unknown, and the ${layers[0]?.[0]}'s geo rules admit known countries only`,
      };
    }
    for (const [level, rules] of layers) {
      if (!permits(rules, country))
        return {
          code: 'geo_not_allowed',
          detail: `requests from ${country} are not allowed by the ${level}'s geo rules`,
        };
    }
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
