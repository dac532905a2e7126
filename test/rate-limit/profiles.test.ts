import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryRateLimiter } from '../../src/adapters/memory/memory-rate-limiter.ts';
import type { WorkspaceSettings } from '../../src/core/model.ts';
import {
  BUILTIN_RATE_PROFILES,
  checkCustomProfiles,
  checkRateProfileName,
  rateLimitHeaders,
  resolveRateProfile,
  windowSeconds,
} from '../../src/core/rate-limit.ts';

const settings = (over: Partial<WorkspaceSettings> = {}): WorkspaceSettings => ({
  require_2fa: false,
  audit_retention_days: 90,
  default_rate_limit_profile: null,
  default_ip_mode: 'none',
  ...over,
});

describe('rate-limit profiles', () => {
  it('ships the four built-in profiles of the issue', () => {
    const shape = Object.fromEntries(
      Object.entries(BUILTIN_RATE_PROFILES).map(([name, p]) => [name, [p.perMinute, p.burst]]),
    );
    assert.deepEqual(shape, {
      burst_friendly: [120, 200],
      steady_stream: [60, 30],
      api_heavy: [300, 500],
      restricted: [10, 5],
    });
  });

  it('no profile anywhere means no limit', () => {
    assert.equal(resolveRateProfile(null, settings()), undefined);
    assert.equal(resolveRateProfile(undefined, undefined), undefined);
  });

  it('the workspace default applies; the holder’s own profile wins over it', () => {
    const ws = settings({ default_rate_limit_profile: 'steady_stream' });
    assert.equal(resolveRateProfile(null, ws)?.profile.name, 'steady_stream');
    assert.equal(resolveRateProfile('api_heavy', ws)?.profile.name, 'api_heavy');
  });

  it('custom workspace profiles resolve by name', () => {
    const ws = settings({
      default_rate_limit_profile: 'nightly',
      rate_limit_profiles: { nightly: { per_minute: 600, burst: 10 } },
    });
    assert.deepEqual(resolveRateProfile(null, ws), {
      profile: { name: 'nightly', perMinute: 600, burst: 10 },
    });
  });

  it('an unknown name fails safe to `restricted`, and says so', () => {
    const resolved = resolveRateProfile('no_such_profile', settings());
    assert.equal(resolved?.profile, BUILTIN_RATE_PROFILES.restricted);
    assert.equal(resolved?.unknownName, 'no_such_profile');
    const badDefault = resolveRateProfile(null, settings({ default_rate_limit_profile: 'gone' }));
    assert.equal(badDefault?.profile.name, 'restricted');
    // Inherited object keys are not profiles.
    assert.equal(resolveRateProfile('constructor', settings())?.unknownName, 'constructor');
    // A stored custom profile that is not a valid bucket is refused the same way.
    const broken = settings({ rate_limit_profiles: { zero: { per_minute: 0, burst: 5 } } });
    assert.equal(resolveRateProfile('zero', broken)?.profile.name, 'restricted');
  });

  it('built-in names cannot be redefined by a workspace', () => {
    const ws = settings({ rate_limit_profiles: { restricted: { per_minute: 100_000, burst: 100_000 } } });
    assert.equal(resolveRateProfile('restricted', ws)?.profile, BUILTIN_RATE_PROFILES.restricted);
    assert.equal(checkCustomProfiles({ restricted: { per_minute: 1, burst: 1 } }).ok, false);
    assert.equal(checkCustomProfiles({ nightly: { per_minute: 1, burst: 1 } }).ok, true);
  });

  it('write-time name check accepts built-in and workspace profiles only', () => {
    const ws = settings({ rate_limit_profiles: { nightly: { per_minute: 1, burst: 1 } } });
    assert.equal(checkRateProfileName('burst_friendly', ws).ok, true);
    assert.equal(checkRateProfileName('nightly', ws).ok, true);
    const bad = checkRateProfileName('nope', ws);
    assert.equal(bad.ok, false);
    assert.match(bad.ok ? '' : (bad.error.detail ?? ''), /nope.*restricted.*nightly/);
  });
});

describe('RateLimit headers (draft-ietf-httpapi-ratelimit-headers-08)', () => {
  it('q is the burst and w the seconds that refill it, so q/w is the per-minute rate', () => {
    assert.equal(windowSeconds(BUILTIN_RATE_PROFILES.burst_friendly as never), 100);
    assert.equal(windowSeconds(BUILTIN_RATE_PROFILES.steady_stream as never), 30);
    assert.equal(windowSeconds(BUILTIN_RATE_PROFILES.api_heavy as never), 100);
    assert.equal(windowSeconds(BUILTIN_RATE_PROFILES.restricted as never), 30);
  });

  it('formats structured fields with the profile as the policy name', () => {
    const headers = rateLimitHeaders(BUILTIN_RATE_PROFILES.restricted as never, {
      allowed: false,
      remaining: 0,
      resetSeconds: 30,
      retryAfterSeconds: 6,
    });
    assert.deepEqual(headers, {
      'retry-after': '6',
      'ratelimit-policy': '"restricted";q=5;w=30',
      ratelimit: '"restricted";r=0;t=30',
    });
  });

  it('escapes what an sf-string cannot hold', () => {
    const headers = rateLimitHeaders(
      { name: 'a"b\\c\né', perMinute: 60, burst: 1 },
      { allowed: false, remaining: 0, resetSeconds: 1, retryAfterSeconds: 1 },
    );
    assert.equal(headers['ratelimit-policy'], '"a\\"b\\\\c??";q=1;w=1');
  });
});

describe('memory limiter bounds', () => {
  const profile = { name: 'p', perMinute: 60, burst: 2 };

  it('forgets buckets once they have refilled', () => {
    const limiter = new MemoryRateLimiter({ sweepIntervalMs: 1000 });
    for (let i = 0; i < 500; i++) limiter.take(`k${i}`, profile, 0);
    assert.equal(limiter.size, 500);
    // One token a second, two of burst: every bucket is full again after 1 s.
    limiter.take('late', profile, 5000);
    assert.equal(limiter.size, 1);
  });

  it('never holds more than maxEntries, however many keys', () => {
    const limiter = new MemoryRateLimiter({ maxEntries: 100 });
    for (let i = 0; i < 10_000; i++) limiter.take(`k${i}`, profile, 0);
    assert.ok(limiter.size <= 100, `size ${limiter.size}`);
  });

  it('keeps answering exactly for a key it still holds', () => {
    const limiter = new MemoryRateLimiter({ maxEntries: 100 });
    limiter.take('hot', profile, 0);
    limiter.take('hot', profile, 0);
    assert.equal(limiter.take('hot', profile, 0).allowed, false);
  });

  it('answers synchronously: the proxy’s allowed path costs no promise', () => {
    const decision = new MemoryRateLimiter().take('k', profile, 0);
    assert.ok(!(decision instanceof Promise));
    assert.equal(decision.allowed, true);
  });
});
