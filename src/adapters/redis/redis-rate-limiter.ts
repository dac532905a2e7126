import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  decisionOf,
  type RateDecision,
  type RateLimitProfile,
  UNITS_PER_TOKEN,
} from '../../core/rate-limit.ts';
import type { RateLimiter, StrikeResult, StrikeRule } from '../../ports/rate-limiter.ts';
import { STRIKE_SCRIPT, TAKE_SCRIPT } from './rate-limit-scripts.ts';

/** The subset of an ioredis client this limiter uses. */
type Client = Pick<
  Redis,
  'evalsha' | 'eval' | 'scan' | 'mget' | 'duplicate' | 'quit' | 'disconnect' | 'status'
>;

export interface RedisRateLimiterOptions {
  /** Every key and the hold channel start with this (default `relay:rl:`). */
  readonly prefix?: string;
  /** Told of connection errors (ioredis keeps reconnecting meanwhile). */
  readonly onError?: (error: Error) => void;
}

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');
const TAKE_SHA = sha1(TAKE_SCRIPT);
const STRIKE_SHA = sha1(STRIKE_SCRIPT);

/**
 * The cluster limiter: buckets and strike counters live in Redis and every
 * change is one atomic Lua script, so all nodes share them. Holds are also
 * published on `<prefix>holds` so each node can refuse a held key without a
 * round trip.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly #redis: Client;
  readonly #prefix: string;
  readonly #onError: (error: Error) => void;
  readonly #listeners = new Set<(key: string, until: number) => void>();
  #subscriber: Redis | undefined;

  /** Takes ownership of `redis`: `close()` quits it. */
  constructor(redis: Client, options: RedisRateLimiterOptions = {}) {
    this.#redis = redis;
    this.#prefix = options.prefix ?? 'relay:rl:';
    this.#onError = options.onError ?? (() => {});
  }

  async #run(
    sha: string,
    script: string,
    keys: readonly string[],
    args: readonly string[],
  ): Promise<number[]> {
    try {
      return (await this.#redis.evalsha(sha, keys.length, ...keys, ...args)) as number[];
    } catch (error) {
      // NOSCRIPT: the server has not seen the script yet (or was restarted); EVAL caches it.
      if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
      return (await this.#redis.eval(script, keys.length, ...keys, ...args)) as number[];
    }
  }

  async take(key: string, profile: RateLimitProfile, now: number): Promise<RateDecision> {
    const [allowed = 0, remaining = 0, fullMs = 0, retryMs = 0] = await this.#run(
      TAKE_SHA,
      TAKE_SCRIPT,
      [this.#prefix + key],
      [String(Math.floor(now)), String(profile.perMinute), String(profile.burst), String(UNITS_PER_TOKEN)],
    );
    return decisionOf(allowed === 1, remaining, fullMs, retryMs);
  }

  async strike(key: string, rule: StrikeRule, now: number): Promise<StrikeResult> {
    // One hash tag for both keys: a Redis Cluster keeps them in one slot, as a script needs.
    const base = `${this.#prefix}{${key}}`;
    const [started = 0, until = 0] = await this.#run(
      STRIKE_SHA,
      STRIKE_SCRIPT,
      [`${base}:strikes`, `${base}:hold`],
      [
        String(Math.floor(now)),
        String(rule.limit),
        String(rule.windowSeconds * 1000),
        String(rule.holdSeconds * 1000),
        this.#channel,
        key,
      ],
    );
    return { heldUntil: until > 0 ? until : null, started: started === 1 };
  }

  get #channel(): string {
    return `${this.#prefix}holds`;
  }

  onHold(listener: (key: string, until: number) => void): () => void {
    this.#listeners.add(listener);
    if (!this.#subscriber) {
      const subscriber = this.#redis.duplicate();
      this.#subscriber = subscriber;
      subscriber.on('error', (error: Error) => this.#onError(error));
      subscriber.on('message', (_channel: string, message: string) => {
        const space = message.indexOf(' ');
        const until = Number(message.slice(0, space));
        if (space === -1 || !Number.isFinite(until)) return;
        const key = message.slice(space + 1);
        for (const l of this.#listeners) l(key, until);
      });
      // A failed subscription is retried by ioredis on reconnect; `strike` still reports holds.
      subscriber.subscribe(this.#channel).catch(() => {});
    }
    return () => this.#listeners.delete(listener);
  }

  async holds(prefix: string, now: number): Promise<Array<readonly [string, number]>> {
    // Hold keys are `<prefix>{<key>}:hold` (see strike), each holding its end in ms and expiring with it.
    const start = `${this.#prefix}{`;
    const end = '}:hold';
    const held: Array<readonly [string, number]> = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.#redis.scan(
        cursor,
        'MATCH',
        `${globEscape(start + prefix)}*${end}`,
        'COUNT',
        500,
      );
      cursor = next;
      if (keys.length === 0) continue;
      const values = await this.#redis.mget(...keys);
      keys.forEach((name, i) => {
        const until = Number(values[i]);
        if (values[i] != null && until > now) held.push([name.slice(start.length, -end.length), until]);
      });
    } while (cursor !== '0');
    return held;
  }

  /** Resolves once hold notices are being received (tests wait for it before publishing). */
  async ready(): Promise<void> {
    const subscriber = this.#subscriber;
    if (!subscriber) return;
    await subscriber.subscribe(this.#channel);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    await Promise.all([quit(this.#subscriber), quit(this.#redis)]);
  }
}

/** `text` matched literally by a Redis glob pattern (SCAN MATCH). */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

async function quit(client: Client | undefined): Promise<void> {
  if (!client) return;
  if (client.status === 'wait' || client.status === 'end') {
    client.disconnect();
    return;
  }
  await client.quit().catch(() => client.disconnect());
}

/**
 * A limiter on its own connection to `url`. The connection opens on first use
 * (CLI commands that build a Relay never touch Redis) and a command fails after
 * one retry rather than queueing while Redis is away: callers fail closed.
 */
export function openRedisRateLimiter(url: string, options: RedisRateLimiterOptions = {}): RedisRateLimiter {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    // Reconnect quickly: while Redis is away each rate-limited request waits about one attempt.
    retryStrategy: (times) => Math.min(times * 50, 500),
  });
  redis.on('error', (error: Error) => options.onError?.(error));
  return new RedisRateLimiter(redis, options);
}
