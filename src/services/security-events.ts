import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { RelayError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { ListOptions, Page, SecurityEvent, Store } from '../ports/store.ts';

/** Security events not tied to one workspace (e.g. brute force by an unknown token) use this id. */
export const SYSTEM_WORKSPACE = '';

export interface RaiseInput {
  readonly workspaceId: string;
  readonly kind: string;
  readonly severity: SecurityEvent['severity'];
  readonly subject: string;
  readonly detail?: Readonly<Record<string, unknown>>;
}

/**
 * Records security events (SPEC §8) and tells whoever listens (alerts, webhooks,
 * auto-lockdown hang off `onRaised`). Raising never throws into the caller's
 * request path: a store failure is logged.
 */
export class SecurityEventService {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #listeners = new Set<(event: SecurityEvent) => void | Promise<void>>();

  constructor(store: Store, clock: Clock, logger: Logger) {
    this.#store = store;
    this.#clock = clock;
    this.#logger = logger;
  }

  onRaised(listener: (event: SecurityEvent) => void | Promise<void>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async raise(input: RaiseInput): Promise<SecurityEvent | undefined> {
    const event: SecurityEvent = {
      workspaceId: input.workspaceId,
      id: newId('securityEvent'),
      at: new Date(this.#clock.now()).toISOString(),
      kind: input.kind,
      severity: input.severity,
      subject: input.subject,
      detail: input.detail ?? {},
      status: 'open',
      resolvedAt: null,
      resolvedBy: null,
    };
    try {
      await this.#store.securityEvents.insert(event);
    } catch (error) {
      this.#logger.error(
        { err: { message: (error as Error).message }, kind: input.kind },
        'could not record security event',
      );
      return undefined;
    }
    this.#logger.warn(
      { security_event: event.id, kind: event.kind, severity: event.severity, subject: event.subject },
      'security event',
    );
    for (const listener of this.#listeners) {
      Promise.resolve()
        .then(() => listener(event))
        .catch((error: unknown) =>
          this.#logger.error(
            { err: { message: (error as Error).message } },
            'security event listener failed',
          ),
        );
    }
    return event;
  }

  list(
    workspaceId: string,
    options: ListOptions & { status?: SecurityEvent['status']; kind?: string },
  ): Promise<Page<SecurityEvent>> {
    return this.#store.securityEvents.list(workspaceId, options);
  }

  async resolve(workspaceId: string, id: string, by: string): Promise<SecurityEvent> {
    const at = new Date(this.#clock.now()).toISOString();
    await this.#store.securityEvents.resolve(workspaceId, id, at, by);
    const event = await this.#store.securityEvents.get(workspaceId, id);
    if (!event) throw new RelayError('not_found', `security event ${id} not found`);
    return event;
  }
}
