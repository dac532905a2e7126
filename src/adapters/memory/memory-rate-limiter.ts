import { type RateDecision, type RateLimitProfile, takeToken } from '../../core/rate-limit.ts';
import type { RateLimiter, StrikeResult, StrikeRule } from '../../ports/rate-limiter.ts';

interface Bucket {
  units: number;
  at: number;
  /** Once past, the bucket is full: forgetting it changes nothing. */
  fullAt: number;
}

interface Strikes {
  count: number;
  resetAt: number;
}

export interface MemoryRateLimiterOptions {
  /** Most entries kept per table; past it the oldest are dropped after idle ones (default 100 000). */
  readonly maxEntries?: number;
  /** Idle entries are swept at most this often, measured on the callers' clock (default 10 s). */
  readonly sweepIntervalMs?: number;
}

/**
 * Deletes entries whose time has passed; then, if still at `max`, the oldest
 * inserted down to 90% of it, so that a full table is not rescanned on every insert.
 */
function sweep<V>(table: Map<string, V>, expiry: (v: V) => number, now: number, max: number): void {
  for (const [key, value] of table) if (expiry(value) <= now) table.delete(key);
  if (table.size < max) return;
  let excess = table.size - Math.floor(max * 0.9);
  for (const key of table.keys()) {
    if (excess-- <= 0) break;
    table.delete(key);
  }
}

/**
 * The single-node limiter: exact token buckets in a Map, answered synchronously.
 * Memory is bounded: a bucket is forgotten once it has refilled (it then equals
 * a fresh one), and each table is capped at `maxEntries`.
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #strikes = new Map<string, Strikes>();
  readonly #holds = new Map<string, number>();
  readonly #listeners = new Set<(key: string, until: number) => void>();
  readonly #max: number;
  readonly #sweepIntervalMs: number;
  #nextSweep = Number.NEGATIVE_INFINITY;

  constructor(options: MemoryRateLimiterOptions = {}) {
    this.#max = options.maxEntries ?? 100_000;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 10_000;
  }

  take(key: string, profile: RateLimitProfile, now: number): RateDecision {
    const bucket = this.#buckets.get(key);
    const step = takeToken(bucket, profile, now);
    if (bucket) {
      bucket.units = step.state.units;
      bucket.at = step.state.at;
      bucket.fullAt = step.fullAt;
    } else {
      this.#maybeSweep(now, this.#buckets.size);
      this.#buckets.set(key, { units: step.state.units, at: step.state.at, fullAt: step.fullAt });
    }
    return step.decision;
  }

  async strike(key: string, rule: StrikeRule, now: number): Promise<StrikeResult> {
    const held = this.#holds.get(key);
    if (held !== undefined && held > now) return { heldUntil: held, started: false };
    let strikes = this.#strikes.get(key);
    if (strikes === undefined || strikes.resetAt <= now) {
      this.#maybeSweep(now, this.#strikes.size);
      strikes = { count: 0, resetAt: now + rule.windowSeconds * 1000 };
      this.#strikes.set(key, strikes);
    }
    strikes.count++;
    if (strikes.count < rule.limit) return { heldUntil: null, started: false };
    this.#strikes.delete(key);
    const until = now + rule.holdSeconds * 1000;
    this.#maybeSweep(now, this.#holds.size);
    this.#holds.set(key, until);
    for (const listener of this.#listeners) listener(key, until);
    return { heldUntil: until, started: true };
  }

  onHold(listener: (key: string, until: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async holds(prefix: string, now: number): Promise<Array<readonly [string, number]>> {
    const held: Array<readonly [string, number]> = [];
    for (const [key, until] of this.#holds)
      if (until > now && key.startsWith(prefix)) held.push([key, until]);
    return held;
  }

  /** Entries held, for tests of the memory bound. */
  get size(): number {
    return this.#buckets.size + this.#strikes.size + this.#holds.size;
  }

  #maybeSweep(now: number, tableSize: number): void {
    if (now < this.#nextSweep && tableSize < this.#max) return;
    this.#nextSweep = now + this.#sweepIntervalMs;
    sweep(this.#buckets, (b) => b.fullAt, now, this.#max);
    sweep(this.#strikes, (s) => s.resetAt, now, this.#max);
    sweep(this.#holds, (until) => until, now, this.#max);
  }

  async close(): Promise<void> {
    this.#buckets.clear();
    this.#strikes.clear();
    this.#holds.clear();
    this.#listeners.clear();
  }
}
