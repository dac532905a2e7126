import type { Logger } from 'pino';
import type { Credential, WorkspaceSettings } from '../../../core/model.ts';
import {
  type RateDecision,
  type RateLimitProfile,
  rateLimitHeaders,
  resolveRateProfile,
} from '../../../core/rate-limit.ts';
import type { RateLimiter } from '../../../ports/rate-limiter.ts';
import type { PolicyResult, ProxyPolicy } from '../policy.ts';
import type { WorkspaceSettingsCache } from '../workspace-settings.ts';

export interface RateLimitPolicyOptions {
  readonly limiter: RateLimiter;
  readonly settings: Pick<WorkspaceSettingsCache, 'get'>;
  readonly logger: Logger;
}

/** 429 `rate_limited` with `Retry-After`, `RateLimit-Policy` and `RateLimit`. */
export function rateLimitRefusal(profile: RateLimitProfile, decision: RateDecision): PolicyResult {
  if (decision.allowed) return undefined;
  return {
    code: 'rate_limited',
    detail: `rate limit "${profile.name}" exceeded (${profile.perMinute}/min, burst ${profile.burst}); retry in ${decision.retryAfterSeconds} s`,
    headers: rateLimitHeaders(profile, decision),
  };
}

/** Names already warned about, so a misconfigured profile logs once, not once per request. */
function warnOnce(logger: Logger): (workspaceId: string, name: string) => void {
  const seen = new Set<string>();
  return (workspaceId, name) => {
    const key = `${workspaceId}\u0000${name}`;
    if (seen.has(key)) return;
    if (seen.size >= 1000) seen.clear();
    seen.add(key);
    logger.warn(
      { workspace_id: workspaceId, profile: name },
      'unknown rate-limit profile: the "restricted" profile applies',
    );
  };
}

/**
 * The rate limit of SPEC §4 step 3, last of the policies: one token bucket per
 * credential (`cred:<id>`), with the credential's profile, else the workspace
 * default. With no profile the check is a map lookup and a synchronous
 * `undefined`; with the in-memory limiter an allowed call stays synchronous too.
 * If the shared state cannot be reached the call is refused (503), not let through.
 */
export function rateLimitPolicy(options: RateLimitPolicyOptions): ProxyPolicy {
  const { limiter, settings, logger } = options;
  const warnUnknown = warnOnce(logger);
  const unavailable = (error: unknown): PolicyResult => {
    logger.error({ err: { message: (error as Error).message } }, 'rate-limit state unreachable');
    return { code: 'service_unavailable', detail: 'rate-limit state is unreachable' };
  };

  const decide = (
    credential: Pick<Credential, 'id' | 'workspaceId' | 'rateLimitProfile'>,
    workspace: WorkspaceSettings | undefined,
    now: number,
  ): PolicyResult | Promise<PolicyResult> => {
    const resolved = resolveRateProfile(credential.rateLimitProfile, workspace);
    if (resolved === undefined) return undefined;
    if (resolved.unknownName !== undefined) warnUnknown(credential.workspaceId, resolved.unknownName);
    const { profile } = resolved;
    let decision: RateDecision | Promise<RateDecision>;
    try {
      decision = limiter.take(`cred:${credential.id}`, profile, now);
    } catch (error) {
      return unavailable(error);
    }
    if (decision instanceof Promise) return decision.then((d) => rateLimitRefusal(profile, d), unavailable);
    return rateLimitRefusal(profile, decision);
  };

  return {
    name: 'rate-limit',
    check({ entry, now }) {
      const { credential } = entry;
      const workspace = settings.get(credential.workspaceId);
      if (workspace instanceof Promise) return workspace.then((w) => decide(credential, w, now), unavailable);
      return decide(credential, workspace, now);
    },
  };
}
