import type { Clock } from '../../core/clock.ts';
import type { WorkspaceSettings } from '../../core/model.ts';
import type { Bus } from '../../ports/bus.ts';
import type { WorkspaceRepo } from '../../ports/store.ts';

interface Cached {
  readonly settings: WorkspaceSettings | undefined;
  readonly loadedAt: number;
}

/**
 * Workspace settings by id, in memory, for the policies that read them on every
 * request (workspace IP allowlist, geo rules). A settings change drops the entry
 * through the bus before the API answers; a short TTL bounds staleness should an
 * invalidation ever be missed. Concurrent first requests share one read.
 */
export class WorkspaceSettingsCache {
  readonly #workspaces: Pick<WorkspaceRepo, 'get'>;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #entries = new Map<string, Cached>();
  readonly #loading = new Map<string, Promise<WorkspaceSettings | undefined>>();
  readonly #unsubscribe: () => void;
  readonly #bus: Pick<Bus, 'healthy'>;
  readonly #unsubscribeHealth: () => void;
  /** Bumped by every invalidation: a read that raced one is used once but not cached. */
  #generation = 0;

  constructor(workspaces: Pick<WorkspaceRepo, 'get'>, bus: Bus, clock: Clock, ttlMs: number) {
    this.#workspaces = workspaces;
    this.#clock = clock;
    this.#ttlMs = ttlMs;
    this.#bus = bus;
    // Fail closed: a bus that went down or came back may have missed a change, so drop everything.
    this.#unsubscribeHealth = bus.onHealth(() => {
      this.#generation++;
      this.#entries.clear();
      this.#loading.clear();
    });
    this.#unsubscribe = bus.onInvalidation((m) => {
      if (m.kind !== 'workspace') return;
      this.#generation++;
      this.#entries.delete(m.workspaceId);
      // A read already under way may predate the change: later requests start a fresh one.
      this.#loading.delete(m.workspaceId);
    });
  }

  /**
   * The settings, synchronously when cached (the common case costs no promise);
   * `undefined` when the workspace does not exist.
   */
  get(workspaceId: string): WorkspaceSettings | undefined | Promise<WorkspaceSettings | undefined> {
    // While the bus is down every request reads the store, sharing no read that may predate a change.
    if (!this.#bus.healthy) return this.#workspaces.get(workspaceId).then((w) => w?.settings);
    const cached = this.#entries.get(workspaceId);
    if (cached && this.#clock.now() - cached.loadedAt < this.#ttlMs) return cached.settings;
    let pending = this.#loading.get(workspaceId);
    if (!pending) {
      const load = this.#load(workspaceId).finally(() => {
        if (this.#loading.get(workspaceId) === load) this.#loading.delete(workspaceId);
      });
      this.#loading.set(workspaceId, load);
      pending = load;
    }
    return pending;
  }

  async #load(workspaceId: string): Promise<WorkspaceSettings | undefined> {
    const generation = this.#generation;
    const settings = (await this.#workspaces.get(workspaceId))?.settings;
    if (generation === this.#generation)
      this.#entries.set(workspaceId, { settings, loadedAt: this.#clock.now() });
    return settings;
  }

  close(): void {
    this.#unsubscribe();
    this.#unsubscribeHealth();
    this.#entries.clear();
  }
}
