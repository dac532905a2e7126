import type { FastifyReply, FastifyRequest } from 'fastify';
import { RelayError } from '../../core/errors.ts';
import { BUILTIN_RATE_PROFILES, rateLimitHeaders, resolveRateProfile } from '../../core/rate-limit.ts';
import type { RateLimiter } from '../../ports/rate-limiter.ts';
import type { Services } from '../../services/index.ts';
import type { ManagementContext } from './context.ts';

/**
 * The limiter each Relay's management plane uses, keyed by its services. A
 * bridge until `ManagementContext` carries the limiter itself: `app.ts`
 * registers it when it builds the services.
 */
const limiters = new WeakMap<Services, RateLimiter>();

export function registerManagementRateLimiter(services: Services, limiter: RateLimiter): void {
  limiters.set(services, limiter);
}

/**
 * Rate limit of the management API (SPEC §2 management tokens, §4 step 3): a
 * token's calls draw from its own bucket (`mtok:<id>`) with its
 * `policies.rate_limit_profile`, else the workspace default; no profile, no
 * limit. Runs after `authenticate`, so only a known token is counted. Refusal:
 * 429 `rate_limited` problem+json with the same headers as the proxy's.
 */
export function managementRateLimit(ctx: ManagementContext, limiter = limiters.get(ctx.services)) {
  const warned = new Set<string>();
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const token = request.principal;
    if (!token || !limiter) return;
    const own = token.policies.rate_limit_profile;
    // A built-in name needs no workspace read; anything else may be the workspace's own profile or default.
    const settings =
      own !== undefined && Object.hasOwn(BUILTIN_RATE_PROFILES, own)
        ? undefined
        : (await ctx.services.workspaces.get(token.workspaceId)).settings;
    const resolved = resolveRateProfile(own, settings);
    if (resolved === undefined) return;
    if (resolved.unknownName !== undefined && !warned.has(`${token.workspaceId}/${resolved.unknownName}`)) {
      if (warned.size >= 1000) warned.clear();
      warned.add(`${token.workspaceId}/${resolved.unknownName}`);
      ctx.logger.warn(
        { workspace_id: token.workspaceId, profile: resolved.unknownName },
        'unknown rate-limit profile: the "restricted" profile applies',
      );
    }
    const { profile } = resolved;
    let decision: Awaited<ReturnType<RateLimiter['take']>>;
    try {
      decision = await limiter.take(`mtok:${token.id}`, profile, ctx.clock.now());
    } catch (error) {
      ctx.logger.error({ err: { message: (error as Error).message } }, 'rate-limit state unreachable');
      throw new RelayError('service_unavailable', 'rate-limit state is unreachable');
    }
    if (decision.allowed) return;
    reply.headers(rateLimitHeaders(profile, decision));
    throw new RelayError(
      'rate_limited',
      `rate limit "${profile.name}" exceeded (${profile.perMinute}/min, burst ${profile.burst}); retry in ${decision.retryAfterSeconds} s`,
    );
  };
}
