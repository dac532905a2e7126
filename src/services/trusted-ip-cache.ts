/**
 * A bounded, expiring set of (workspace, recipient, network) facts held in
 * memory: "trusted" for the proxy's fast path, "locked" to spare the store a
 * repeated refusal. Entries leave on expiry, on overflow (oldest first) and
 * when the recipient or its workspace is invalidated through the bus.
 */
export class RecipientNetworkCache {
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #entries = new Map<
    string,
    { readonly workspaceId: string; readonly recipientId: string; readonly until: number }
  >();

  constructor(options: { readonly maxEntries: number; readonly ttlMs: number }) {
    this.#maxEntries = options.maxEntries;
    this.#ttlMs = options.ttlMs;
  }

  static key(workspaceId: string, recipientId: string, group: string): string {
    return `${workspaceId}\n${recipientId}\n${group}`;
  }

  has(key: string, now: number): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    if (entry.until > now) return true;
    this.#entries.delete(key);
    return false;
  }

  add(key: string, workspaceId: string, recipientId: string, now: number): void {
    if (this.#ttlMs <= 0 || this.#maxEntries <= 0) return;
    this.#entries.delete(key);
    while (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { workspaceId, recipientId, until: now + this.#ttlMs });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  /** Recipient ids are unique across workspaces: matching the id alone can only drop more, never less. */
  dropRecipient(recipientId: string): void {
    for (const [key, entry] of this.#entries)
      if (entry.recipientId === recipientId) this.#entries.delete(key);
  }

  dropWorkspace(workspaceId: string): void {
    for (const [key, entry] of this.#entries)
      if (entry.workspaceId === workspaceId) this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
