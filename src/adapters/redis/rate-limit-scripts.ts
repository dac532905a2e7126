/**
 * Lua scripts run atomically by Redis (EVALSHA), so N nodes racing on one key
 * never admit more than the bucket holds and start at most one hold. Time comes
 * from the caller (ARGV), as in the in-memory limiter; key TTLs only let idle
 * state expire.
 */

/**
 * One take from a token bucket: the same integer arithmetic as `takeToken` in
 * core/rate-limit.ts (units of 1/60 000 token; refill `perMinute` units per ms).
 * KEYS[1] the bucket hash {u: units, a: last refill ms}.
 * ARGV now, perMinute, burst, unitsPerToken.
 * Returns {allowed 0|1, remaining tokens, ms until full, ms until a token (0 when allowed)}.
 */
export const TAKE_SCRIPT = `
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local unit = tonumber(ARGV[4])
local cap = tonumber(ARGV[3]) * unit
local s = redis.call('HMGET', KEYS[1], 'u', 'a')
local units = tonumber(s[1])
local at = tonumber(s[2])
if units == nil or at == nil then
  units = cap
  at = now
else
  if units > cap then units = cap end
  if now > at then
    units = math.min(cap, units + (now - at) * rate)
    at = now
  end
end
local allowed = 0
local retry = 0
if units >= unit then
  units = units - unit
  allowed = 1
else
  retry = math.ceil((unit - units) / rate)
end
local full = math.ceil((cap - units) / rate)
redis.call('HSET', KEYS[1], 'u', string.format('%d', units), 'a', string.format('%d', at))
redis.call('PEXPIRE', KEYS[1], math.max(full, 1))
return {allowed, math.floor(units / unit), full, retry}
`;

/**
 * One strike. KEYS[1] the strike counter hash {n, r: window end ms}, KEYS[2] the
 * hold (its value: held until, ms). ARGV now, limit, windowMs, holdMs, channel, key.
 * A strike that reaches the limit clears the counter, sets the hold and
 * publishes "<until> <key>" on the channel. Returns {started 0|1, held until ms or 0}.
 */
export const STRIKE_SCRIPT = `
local now = tonumber(ARGV[1])
local held = tonumber(redis.call('GET', KEYS[2]))
if held ~= nil and held > now then return {0, held} end
local limit = tonumber(ARGV[2])
local windowMs = tonumber(ARGV[3])
local holdMs = tonumber(ARGV[4])
local c = redis.call('HMGET', KEYS[1], 'n', 'r')
local n = tonumber(c[1])
local resetAt = tonumber(c[2])
if n == nil or resetAt == nil or resetAt <= now then
  n = 0
  resetAt = now + windowMs
end
n = n + 1
if n >= limit then
  local heldUntil = now + holdMs
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], string.format('%d', heldUntil), 'PX', math.max(holdMs, 1))
  redis.call('PUBLISH', ARGV[5], string.format('%d', heldUntil) .. ' ' .. ARGV[6])
  return {1, heldUntil}
end
redis.call('HSET', KEYS[1], 'n', n, 'r', string.format('%d', resetAt))
redis.call('PEXPIRE', KEYS[1], math.max(resetAt - now, 1))
return {0, 0}
`;
