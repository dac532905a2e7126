import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { Credential } from '../core/model.ts';
import type { RateLimiter, StrikeRule } from '../ports/rate-limiter.ts';
import type { RaiseInput } from './security-events.ts';

/** What the proxy knows of one use of a credential, for the event. */
export interface CredentialUse {
  readonly ip: string;
  readonly userAgent: string | undefined;
  readonly method: string;
  /** The canonical path, without the query (a query may carry secrets). */
  readonly path: string;
  readonly connectionId: string;
  readonly requestId: string;
}

/** The pipeline's hook: true when the credential is a decoy (answer as to an unknown token). */
export type CanaryHook = (credential: Credential, use: CredentialUse) => boolean;

export interface CanaryTrapDeps {
  readonly limiter: RateLimiter;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly raise: (event: RaiseInput) => Promise<unknown>;
}

/** One event per canary per minute: a flood of uses must not become a flood of events and mails. */
const DEBOUNCE_SECONDS = 60;
const RULE: StrikeRule = { limit: 1, windowSeconds: DEBOUNCE_SECONDS, holdSeconds: DEBOUNCE_SECONDS };
const KEY_PREFIX = 'canary:';
const SWEEP_AT = 10_000;

/**
 * Canary credentials (SPEC §8): decoys issued to be found. Any use raises a
 * critical `canary_used` event and gets the 401 an unknown token gets; the
 * upstream is never contacted. Events are debounced per canary: on this node by
 * a map, across nodes by a one-strike hold in the shared limiter (Redis in a
 * cluster). Should the limiter fail, the event is raised anyway: a duplicate is
 * better than a missed alarm.
 */
export class CanaryTrap {
  readonly #deps: CanaryTrapDeps;
  readonly #quietUntil = new Map<string, number>();
  readonly #background = new Set<Promise<void>>();

  constructor(deps: CanaryTrapDeps) {
    this.#deps = deps;
  }

  readonly hook: CanaryHook = (credential, use) => {
    if (credential.policies.canary !== true) return false;
    const now = this.#deps.clock.now();
    if ((this.#quietUntil.get(credential.id) ?? 0) > now) return true;
    if (this.#quietUntil.size >= SWEEP_AT)
      for (const [id, until] of this.#quietUntil) if (until <= now) this.#quietUntil.delete(id);
    this.#quietUntil.set(credential.id, now + DEBOUNCE_SECONDS * 1000);
    this.#inBackground(this.#spring(credential, use, now));
    return true;
  };

  async #spring(credential: Credential, use: CredentialUse, now: number): Promise<void> {
    const { limiter, logger, raise } = this.#deps;
    const started = await limiter.strike(KEY_PREFIX + credential.id, RULE, now).then(
      (result) => result.started,
      (error: unknown) => {
        logger.warn(
          { err: { message: (error as Error).message }, credential_id: credential.id },
          'canary debounce state unavailable: raising the event anyway',
        );
        return true;
      },
    );
    if (!started) return;
    logger.warn(
      {
        credential_id: credential.id,
        workspace_id: credential.workspaceId,
        ip: use.ip,
        request_id: use.requestId,
      },
      'canary credential used',
    );
    await raise({
      workspaceId: credential.workspaceId,
      kind: 'canary_used',
      severity: 'critical',
      subject: credential.id,
      detail: {
        credential_name: credential.name,
        ip: use.ip,
        user_agent: use.userAgent === undefined ? null : use.userAgent.slice(0, 512),
        method: use.method,
        path: use.path,
        connection_id: use.connectionId,
        request_id: use.requestId,
      },
    });
  }

  #inBackground(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) =>
      this.#deps.logger.error({ err: { message: (error as Error).message } }, 'canary event failed'),
    );
    this.#background.add(tracked);
    void tracked.finally(() => this.#background.delete(tracked));
  }

  async drain(): Promise<void> {
    while (this.#background.size > 0) await Promise.all([...this.#background]);
  }
}
