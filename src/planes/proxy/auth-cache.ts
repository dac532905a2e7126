import type { Clock } from '../../core/clock.ts';
import type { Credential, Recipient } from '../../core/model.ts';
import { hashToken } from '../../core/tokens.ts';
import type { Bus, Invalidation } from '../../ports/bus.ts';
import type { Store } from '../../ports/store.ts';

export interface AuthEntry {
  readonly credential: Credential;
  readonly recipient: Recipient | null;
  readonly loadedAt: number;
}

/**
 * Credentials by token hash, in memory, so an allowed request costs no store
 * read. Every change (revocation of a credential or its recipient, any workspace
 * change) drops the affected entries through the bus before the API answers; a
 * short TTL bounds staleness even if an invalidation were ever missed.
 * Only live credentials are cached: a miss always reads the store.
 */
export class AuthCache {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #byHash = new Map<string, AuthEntry>();
  readonly #hashById = new Map<string, string>();
  readonly #unsubscribe: () => void;
  readonly #bus: Pick<Bus, 'healthy'>;
  readonly #unsubscribeHealth: () => void;
  /** Bumped by every invalidation: a load that raced one is used once but not cached. */
  #generation = 0;

  constructor(store: Store, bus: Bus, clock: Clock, ttlMs: number) {
    this.#store = store;
    this.#clock = clock;
    this.#ttlMs = ttlMs;
    this.#bus = bus;
    this.#unsubscribe = bus.onInvalidation((m) => this.invalidate(m));
    // Fail closed: while the bus is down nothing is served from memory, and after it
    // comes back nothing cached before is trusted (invalidations may have been missed).
    this.#unsubscribeHealth = bus.onHealth(() => {
      this.#generation++;
      this.#byHash.clear();
      this.#hashById.clear();
    });
  }

  invalidate(message: Invalidation): void {
    this.#generation++;
    switch (message.kind) {
      case 'credential': {
        const hash = this.#hashById.get(message.id);
        if (hash !== undefined) this.#drop(hash);
        return;
      }
      case 'recipient':
        for (const [hash, entry] of this.#byHash)
          if (entry.credential.recipientId === message.id) this.#drop(hash);
        return;
      case 'workspace':
        for (const [hash, entry] of this.#byHash)
          if (entry.credential.workspaceId === message.workspaceId) this.#drop(hash);
        return;
      default:
        return;
    }
  }

  #drop(hash: string): void {
    const entry = this.#byHash.get(hash);
    if (entry) this.#hashById.delete(entry.credential.id);
    this.#byHash.delete(hash);
  }

  /** Synchronous fast path: a fresh cached entry, or undefined (then call `load`). */
  peek(token: string): { hash: string; entry: AuthEntry | undefined } {
    const hash = hashToken(token);
    if (!this.#bus.healthy) return { hash, entry: undefined };
    const entry = this.#byHash.get(hash);
    if (entry && this.#clock.now() - entry.loadedAt < this.#ttlMs) return { hash, entry };
    if (entry) this.#drop(hash);
    return { hash, entry: undefined };
  }

  async load(hash: string): Promise<AuthEntry | undefined> {
    const generation = this.#generation;
    const credential = await this.#store.credentials.findByHash(hash);
    if (!credential) return undefined;
    const recipient =
      credential.recipientId === null
        ? null
        : ((await this.#store.recipients.get(credential.workspaceId, credential.recipientId)) ?? null);
    const entry: AuthEntry = { credential, recipient, loadedAt: this.#clock.now() };
    const live = credential.revokedAt === null && recipient?.revokedAt == null;
    if (generation === this.#generation && this.#bus.healthy && live) {
      this.#byHash.set(hash, entry);
      this.#hashById.set(credential.id, hash);
    }
    return entry;
  }

  get size(): number {
    return this.#byHash.size;
  }

  close(): void {
    this.#unsubscribe();
    this.#unsubscribeHealth();
    this.#byHash.clear();
    this.#hashById.clear();
  }
}
