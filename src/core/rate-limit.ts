import { fail, ok, type Result } from './errors.ts';
import type { RateProfile, WorkspaceSettings } from './model.ts';

/**
 * Rate-limit profiles (SPEC §2, §4 step 3): token buckets that refill
 * `perMinute` tokens a minute up to `burst`. Four are built in; a workspace
 * may define more in `settings.rate_limit_profiles`. Pure: no clock, no I/O.
 */
export interface RateLimitProfile {
  readonly name: string;
  readonly perMinute: number;
  readonly burst: number;
}

const builtin = (name: string, perMinute: number, burst: number): RateLimitProfile =>
  Object.freeze({ name, perMinute, burst });

export const BUILTIN_RATE_PROFILES: Readonly<Record<string, RateLimitProfile>> = Object.freeze({
  burst_friendly: builtin('burst_friendly', 120, 200),
  steady_stream: builtin('steady_stream', 60, 30),
  api_heavy: builtin('api_heavy', 300, 500),
  restricted: builtin('restricted', 10, 5),
});

/** What an unknown profile name is treated as: the tightest built-in (fail safe). */
export const FAIL_SAFE_PROFILE = BUILTIN_RATE_PROFILES.restricted as RateLimitProfile;

export interface ResolvedProfile {
  readonly profile: RateLimitProfile;
  /** Set when the configured name matched no profile and the fail-safe one was used instead. */
  readonly unknownName?: string;
}

const customCache = new WeakMap<Readonly<Record<string, RateProfile>>, Map<string, ResolvedProfile>>();

function builtinProfile(name: string): RateLimitProfile | undefined {
  return Object.hasOwn(BUILTIN_RATE_PROFILES, name) ? BUILTIN_RATE_PROFILES[name] : undefined;
}

/** Built-in names keep their meaning: a custom profile of the same name is ignored. */
function lookup(name: string, settings: WorkspaceSettings | undefined): ResolvedProfile {
  const known = builtinProfile(name);
  if (known) return { profile: known };
  const custom = settings?.rate_limit_profiles;
  if (custom === undefined || !Object.hasOwn(custom, name)) {
    return { profile: FAIL_SAFE_PROFILE, unknownName: name };
  }
  let compiled = customCache.get(custom);
  if (!compiled) {
    compiled = new Map();
    customCache.set(custom, compiled);
  }
  let resolved = compiled.get(name);
  if (!resolved) {
    const spec = custom[name] as RateProfile;
    resolved = validProfile(spec)
      ? { profile: Object.freeze({ name, perMinute: spec.per_minute, burst: spec.burst }) }
      : { profile: FAIL_SAFE_PROFILE, unknownName: name };
    compiled.set(name, resolved);
  }
  return resolved;
}

function validProfile(spec: RateProfile | undefined): spec is RateProfile {
  return (
    spec !== undefined &&
    Number.isSafeInteger(spec.per_minute) &&
    spec.per_minute >= 1 &&
    Number.isSafeInteger(spec.burst) &&
    spec.burst >= 1
  );
}

/**
 * The profile that applies: the holder's own (credential or management token),
 * else the workspace default, else none (no limit: `undefined`, the common case).
 * An unknown name resolves to `restricted` rather than to no limit.
 */
export function resolveRateProfile(
  own: string | null | undefined,
  settings: WorkspaceSettings | undefined,
): ResolvedProfile | undefined {
  const name = own ?? settings?.default_rate_limit_profile ?? null;
  return name === null ? undefined : lookup(name, settings);
}

/** Write-time check of a profile name against the built-ins and the workspace's own profiles. */
export function checkRateProfileName(name: string, settings: WorkspaceSettings | undefined): Result<string> {
  if (lookup(name, settings).unknownName === undefined) return ok(name);
  const custom = Object.keys(settings?.rate_limit_profiles ?? {});
  const names = [...Object.keys(BUILTIN_RATE_PROFILES), ...custom].join(', ');
  return fail('validation_failed', `unknown rate-limit profile "${name}": use one of ${names}`);
}

/** Write-time check of custom profiles: built-in names may not be redefined. */
export function checkCustomProfiles(profiles: Readonly<Record<string, RateProfile>>): Result<void> {
  for (const [name, spec] of Object.entries(profiles)) {
    if (builtinProfile(name)) return fail('validation_failed', `"${name}" is a built-in rate-limit profile`);
    if (!validProfile(spec))
      return fail('validation_failed', `rate-limit profile "${name}" needs integer per_minute and burst ≥ 1`);
  }
  return ok(undefined);
}

/** The answer to one take from a bucket. */
export interface RateDecision {
  readonly allowed: boolean;
  /** Whole tokens left after this take. */
  readonly remaining: number;
  /** Seconds until the bucket is full again. */
  readonly resetSeconds: number;
  /** When refused: whole seconds (≥ 1) until one token is back; 0 when allowed. */
  readonly retryAfterSeconds: number;
}

/**
 * Token amounts are kept in units of 1/60 000 of a token, so that a profile's
 * refill per millisecond is exactly `perMinute` units: integer arithmetic, no
 * drift, and the Redis script computes bit-for-bit the same answers.
 */
export const UNITS_PER_TOKEN = 60_000;

export interface BucketState {
  readonly units: number;
  /** Epoch ms of the last refill. */
  readonly at: number;
}

export interface BucketStep {
  readonly state: BucketState;
  readonly decision: RateDecision;
  /** Epoch ms at which the bucket is full again (after which its state may be forgotten). */
  readonly fullAt: number;
}

/** One take from a bucket at `now` (ms). A clock that went backwards refills nothing. */
export function takeToken(
  state: BucketState | undefined,
  profile: RateLimitProfile,
  now: number,
): BucketStep {
  const cap = profile.burst * UNITS_PER_TOKEN;
  let units = cap;
  let at = now;
  if (state !== undefined) {
    units = Math.min(cap, state.units);
    at = state.at;
    if (now > at) {
      units = Math.min(cap, units + (now - at) * profile.perMinute);
      at = now;
    }
  }
  const allowed = units >= UNITS_PER_TOKEN;
  if (allowed) units -= UNITS_PER_TOKEN;
  const fullMs = Math.ceil((cap - units) / profile.perMinute);
  const retryMs = allowed ? 0 : Math.ceil((UNITS_PER_TOKEN - units) / profile.perMinute);
  return {
    state: { units, at },
    decision: decisionOf(allowed, Math.floor(units / UNITS_PER_TOKEN), fullMs, retryMs),
    fullAt: at + fullMs,
  };
}

/** Builds a decision from millisecond figures (shared with the Redis script's answers). */
export function decisionOf(
  allowed: boolean,
  remaining: number,
  fullMs: number,
  retryMs: number,
): RateDecision {
  return {
    allowed,
    remaining,
    resetSeconds: Math.ceil(fullMs / 1000),
    retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil(retryMs / 1000)),
  };
}

/** The window over which `burst` tokens are replenished: q/w is then exactly the per-minute rate. */
export function windowSeconds(profile: RateLimitProfile): number {
  return Math.max(1, Math.ceil((profile.burst * 60) / profile.perMinute));
}

/** An sf-string (RFC 8941 §3.3.3) holds printable ASCII; `"` and `\` are escaped. */
function sfString(text: string): string {
  return `"${text.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, '\\$&')}"`;
}

/**
 * Headers of a 429: `Retry-After` (RFC 9110 §10.2.3, whole seconds) and the
 * structured fields of draft-ietf-httpapi-ratelimit-headers-08: `RateLimit-Policy`
 * (§4: quota `q` over window `w` seconds) and `RateLimit` (§5: remaining `r`,
 * seconds until reset `t`), each keyed by the policy name.
 */
export function rateLimitHeaders(profile: RateLimitProfile, decision: RateDecision): Record<string, string> {
  const name = sfString(profile.name);
  return {
    'retry-after': String(Math.max(1, decision.retryAfterSeconds)),
    'ratelimit-policy': `${name};q=${profile.burst};w=${windowSeconds(profile)}`,
    ratelimit: `${name};r=${decision.remaining};t=${decision.resetSeconds}`,
  };
}
