/**
 * Carries cache invalidations (and, later, realtime fan-out) between the parts
 * of one node and, in cluster mode, across nodes. In-process and Redis
 * adapters implement it; delivery is at-most-once, so consumers that cannot
 * afford a missed message must also fail closed when the bus is down.
 */
export const INVALIDATION_KINDS = [
  'credential',
  'recipient',
  'connection',
  'management_token',
  'workspace',
] as const;

export interface Invalidation {
  readonly kind: (typeof INVALIDATION_KINDS)[number];
  readonly workspaceId: string;
  readonly id: string;
}

export interface Bus {
  /** Runs this node's handlers before it resolves (synchronously), then tells every other node. */
  publishInvalidation(message: Invalidation): Promise<void>;
  onInvalidation(handler: (message: Invalidation) => void): () => void;
  /**
   * True while every invalidation published on any node is known to reach this
   * one. Caches serve entries only while it holds; otherwise they read the store
   * on every request (fail closed). The in-process bus is always healthy.
   */
  readonly healthy: boolean;
  /**
   * Told of every change of `healthy`. On either change a consumer drops all it
   * cached: going down it must not be trusted, coming back messages may have
   * been missed meanwhile.
   */
  onHealth(handler: (healthy: boolean) => void): () => void;
  close(): Promise<void>;
}
