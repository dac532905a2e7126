import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryRateLimiter } from '../../src/adapters/memory/memory-rate-limiter.ts';
import type { WorkspaceSettings } from '../../src/core/model.ts';
import { createLogger } from '../../src/logger.ts';
import { rateLimitPolicy } from '../../src/planes/proxy/policies/rate-limit.ts';
import type { PolicyContext } from '../../src/planes/proxy/policy.ts';
import type { RateLimiter } from '../../src/ports/rate-limiter.ts';

/** The proxy policy on its own: what it costs on the common paths, and how it fails. */
const settings: WorkspaceSettings = {
  require_2fa: false,
  audit_retention_days: 90,
  default_rate_limit_profile: null,
  default_ip_mode: 'none',
};

const ctx = (rateLimitProfile: string | null, now = 0) =>
  ({
    entry: { credential: { id: 'cred_1', workspaceId: 'ws_1', rateLimitProfile } },
    now,
  }) as unknown as PolicyContext;

const cached = { get: () => settings };
const silent = createLogger('silent');

describe('rate-limit policy', () => {
  it('no profile: a synchronous undefined, the limiter untouched', () => {
    const limiter = new MemoryRateLimiter();
    const policy = rateLimitPolicy({ limiter, settings: cached, logger: silent });
    assert.equal(policy.check(ctx(null)), undefined);
    assert.equal(limiter.size, 0);
  });

  it('memory limiter: allowed and refused calls are both answered synchronously', () => {
    const policy = rateLimitPolicy({ limiter: new MemoryRateLimiter(), settings: cached, logger: silent });
    for (let i = 0; i < 5; i++) assert.equal(policy.check(ctx('restricted')), undefined);
    const refused = policy.check(ctx('restricted'));
    assert.ok(!(refused instanceof Promise));
    assert.equal(refused?.code, 'rate_limited');
    assert.equal(refused?.headers?.['ratelimit-policy'], '"restricted";q=5;w=30');
  });

  it('shared state unreachable: refused with 503, not let through', async () => {
    const broken: RateLimiter = {
      take: () => Promise.reject(new Error('ECONNREFUSED')),
      strike: () => Promise.reject(new Error('ECONNREFUSED')),
      onHold: () => () => {},
      holds: () => Promise.reject(new Error('ECONNREFUSED')),
      close: async () => {},
    };
    const policy = rateLimitPolicy({ limiter: broken, settings: cached, logger: silent });
    assert.equal((await policy.check(ctx('restricted')))?.code, 'service_unavailable');
    assert.equal(policy.check(ctx(null)), undefined, 'credentials without a profile are unaffected');
  });

  it('settings read asynchronously: decided once they arrive', async () => {
    const limiter = new MemoryRateLimiter();
    const policy = rateLimitPolicy({
      limiter,
      settings: { get: async () => ({ ...settings, default_rate_limit_profile: 'restricted' }) },
      logger: silent,
    });
    for (let i = 0; i < 5; i++) assert.equal(await policy.check(ctx(null)), undefined);
    assert.equal((await policy.check(ctx(null)))?.code, 'rate_limited');
  });
});
