import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.ts';
import { isV4Mapped, parseIp } from '../../core/ip.ts';
import type { RateLimiter, StrikeRule } from '../../ports/rate-limiter.ts';
import { type RaiseInput, SYSTEM_WORKSPACE } from '../../services/security-events.ts';
import type { AuthFailureGuard, PolicyResult } from './policy.ts';

export interface BruteForceOptions {
  readonly limiter: RateLimiter;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly raise: (event: RaiseInput) => Promise<unknown>;
  /** Failures within the window that block the address; 0 turns the guard off. */
  readonly maxFailures: number;
  readonly windowSeconds: number;
  readonly blockSeconds: number;
}

const KEY_PREFIX = 'bf:';
/** Blocked addresses are forgotten once their block ends; past this many, expired ones are swept. */
const SWEEP_AT = 10_000;

/**
 * The address a failure counts against. An IPv6 host usually holds a whole /64
 * (RFC 4291 §2.5.4; privacy addresses rotate within it), so it counts as one
 * address: otherwise an attacker would get 2^64 fresh counters.
 */
export function throttledAddress(ip: string): string {
  if (!ip.includes(':')) return ip;
  const bytes = parseIp(ip);
  if (bytes === undefined || isV4Mapped(bytes)) return ip;
  const groups: string[] = [];
  for (let i = 0; i < 8; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return `${groups.join(':')}::/64`;
}

/**
 * The brute-force throttle (SPEC §4 step 2, §8): authentication failures are
 * counted per address in the shared limiter state (so they add up across
 * nodes); the failure that reaches `maxFailures` within the window blocks the
 * address for `blockSeconds` and raises ONE `brute_force` security event (the
 * limiter starts exactly one hold per episode, cluster-wide). While blocked,
 * every request from the address is refused before any credential is looked
 * at — a valid one too: it is the address that is throttled.
 *
 * `blocked` must answer synchronously, so each node mirrors the holds it hears
 * of (its own strikes, and every node's through `onHold`) in a local map, which
 * starts with the holds already in the shared state when the guard is made.
 *
 * One guard serves both listeners (`Relay.authGuard`): the management API counts
 * its failed token checks here too and refuses a blocked address the same way.
 */
export class BruteForceGuard implements AuthFailureGuard {
  readonly #options: BruteForceOptions;
  readonly #rule: StrikeRule;
  readonly #blockedUntil = new Map<string, number>();
  readonly #unsubscribe: () => void;
  /** Settles once the holds that existed when the guard was made are known (tests wait for it). */
  readonly loaded: Promise<void>;

  constructor(options: BruteForceOptions) {
    this.#options = options;
    this.#rule = {
      limit: options.maxFailures,
      windowSeconds: options.windowSeconds,
      holdSeconds: options.blockSeconds,
    };
    this.#unsubscribe = options.limiter.onHold((key, until) => {
      if (key.startsWith(KEY_PREFIX)) this.#block(key.slice(KEY_PREFIX.length), until);
    });
    // Holds started before this node listened (another node's, in a cluster): read once.
    // One started while the subscription is being set up is learnt, at worst, when the
    // address next fails here.
    this.loaded =
      options.maxFailures === 0
        ? Promise.resolve()
        : options.limiter.holds(KEY_PREFIX, options.clock.now()).then(
            (held) => {
              for (const [key, until] of held) this.#block(key.slice(KEY_PREFIX.length), until);
            },
            (error: unknown) =>
              options.logger.warn(
                { err: { message: (error as Error).message } },
                'brute-force blocks of other nodes could not be read: each is learnt at its next failure',
              ),
          );
  }

  blocked(ip: string): PolicyResult {
    if (this.#blockedUntil.size === 0) return undefined;
    const address = throttledAddress(ip);
    const until = this.#blockedUntil.get(address);
    if (until === undefined) return undefined;
    const now = this.#options.clock.now();
    if (until <= now) {
      this.#blockedUntil.delete(address);
      return undefined;
    }
    const seconds = Math.max(1, Math.ceil((until - now) / 1000));
    return {
      code: 'too_many_auth_failures',
      detail: `too many failed authentication attempts from this address; retry in ${seconds} s`,
      headers: { 'retry-after': String(seconds) },
    };
  }

  failed(ip: string, requestId: string): void {
    if (this.#rule.limit === 0) return;
    const address = throttledAddress(ip);
    const { limiter, clock, logger } = this.#options;
    limiter.strike(KEY_PREFIX + address, this.#rule, clock.now()).then(
      (result) => {
        if (result.heldUntil !== null) this.#block(address, result.heldUntil);
        if (result.started) this.#raise(address, result.heldUntil ?? 0, requestId);
      },
      (error: unknown) =>
        logger.warn(
          { err: { message: (error as Error).message }, request_id: requestId },
          'brute-force counter unavailable: failure not counted',
        ),
    );
  }

  #block(address: string, until: number): void {
    if (this.#blockedUntil.size >= SWEEP_AT) {
      const now = this.#options.clock.now();
      for (const [a, u] of this.#blockedUntil) if (u <= now) this.#blockedUntil.delete(a);
    }
    if ((this.#blockedUntil.get(address) ?? 0) < until) this.#blockedUntil.set(address, until);
  }

  #raise(address: string, until: number, requestId: string): void {
    const { maxFailures, windowSeconds, blockSeconds } = this.#options;
    this.#options.logger.warn(
      { address, blocked_until: until },
      'address blocked after repeated auth failures',
    );
    void this.#options.raise({
      workspaceId: SYSTEM_WORKSPACE,
      kind: 'brute_force',
      severity: 'high',
      subject: address,
      detail: {
        failures: maxFailures,
        window_seconds: windowSeconds,
        block_seconds: blockSeconds,
        blocked_until: new Date(until).toISOString(),
        request_id: requestId,
      },
    });
  }

  close(): void {
    this.#unsubscribe();
    this.#blockedUntil.clear();
  }
}
