import type { Bus, Invalidation } from '../../ports/bus.ts';

/** The single-node bus: handlers run synchronously, so a change is visible before the API answers. */
export class MemoryBus implements Bus {
  readonly #handlers = new Set<(message: Invalidation) => void>();

  /** Nothing crosses a network, so nothing can be missed. */
  get healthy(): boolean {
    return true;
  }

  async publishInvalidation(message: Invalidation): Promise<void> {
    for (const handler of this.#handlers) handler(message);
  }

  onInvalidation(handler: (message: Invalidation) => void): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  onHealth(_handler: (healthy: boolean) => void): () => void {
    return () => {};
  }

  async close(): Promise<void> {
    this.#handlers.clear();
  }
}
