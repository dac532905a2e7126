/**
 * Carries cache invalidations (and, later, realtime fan-out) between the parts
 * of one node and, in cluster mode, across nodes. In-process and Redis
 * adapters implement it; delivery is at-most-once, so consumers that cannot
 * afford a missed message must also fail closed when the bus is down.
 */
export interface Invalidation {
  readonly kind: 'credential' | 'recipient' | 'connection' | 'management_token' | 'workspace';
  readonly workspaceId: string;
  readonly id: string;
}

export interface Bus {
  publishInvalidation(message: Invalidation): Promise<void>;
  onInvalidation(handler: (message: Invalidation) => void): () => void;
  close(): Promise<void>;
}
