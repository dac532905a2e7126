/** Something that looks at the clock now and then to end what has waited too long. */
export interface Swept {
  sweep(now: number): void;
}

/**
 * The open connections of a listener or an upstream client, swept for timeouts by
 * one interval timer rather than a timer per request. The timer runs only while
 * the set holds something, and never keeps the process alive.
 */
export class SweptSet<T extends Swept> {
  readonly #items = new Set<T>();
  readonly #everyMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(everyMs: number) {
    this.#everyMs = everyMs;
  }

  get size(): number {
    return this.#items.size;
  }

  add(item: T): void {
    this.#items.add(item);
    this.#timer ??= setInterval(this.#sweep, this.#everyMs).unref();
  }

  delete(item: T): void {
    this.#items.delete(item);
    if (this.#items.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** A copy, so what is done to each item may remove it from the set. */
  list(): T[] {
    return [...this.#items];
  }

  readonly #sweep = (): void => {
    const now = Date.now();
    for (const item of this.#items) item.sweep(now);
  };
}
