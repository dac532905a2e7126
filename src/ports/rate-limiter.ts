import type { RateDecision, RateLimitProfile } from '../core/rate-limit.ts';

/** Strikes against a key: `limit` of them within `windowSeconds` hold the key for `holdSeconds`. */
export interface StrikeRule {
  readonly limit: number;
  readonly windowSeconds: number;
  readonly holdSeconds: number;
}

export interface StrikeResult {
  /** Epoch ms until which the key is held, or null when it is not. */
  readonly heldUntil: number | null;
  /** True for exactly one strike per hold, across every node sharing the state: the one that started it. */
  readonly started: boolean;
}

/**
 * Shared counting state: token buckets for rate limits and strike counters for
 * the brute-force throttle (SPEC §1: in-process on a single node, Redis in a
 * cluster). Every operation takes the time from the caller, so a test can step it.
 */
export interface RateLimiter {
  /**
   * Takes one token from `key`'s bucket. Synchronous when the state is in
   * process (the proxy's allowed path then costs no promise), a promise when it
   * must ask another server.
   */
  take(key: string, profile: RateLimitProfile, now: number): RateDecision | Promise<RateDecision>;
  /** Counts one strike against `key`; no strike is counted while the key is held. */
  strike(key: string, rule: StrikeRule, now: number): Promise<StrikeResult>;
  /** Tells `listener` of every hold started, by this or any node sharing the state. */
  onHold(listener: (key: string, until: number) => void): () => void;
  /**
   * Every key starting with `prefix` that is held at `now`, with the end of its
   * hold: what a node starting up reads, after subscribing with `onHold`, to
   * learn of holds started before it was listening.
   */
  holds(prefix: string, now: number): Promise<ReadonlyArray<readonly [key: string, until: number]>>;
  close(): Promise<void>;
}
