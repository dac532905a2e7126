/** One proxied request as the audit log records it (SPEC §7). */
export interface AuditRecord {
  /** `''` when no credential could be attributed (unknown token, ambiguous request). */
  readonly workspaceId: string;
  readonly id: string;
  readonly at: string;
  readonly requestId: string;
  readonly connectionId: string | null;
  readonly credentialId: string | null;
  readonly recipientId: string | null;
  readonly method: string;
  /** The upstream path only; never the query unless the connection opts in (then `query`). */
  readonly path: string;
  readonly query: string | null;
  readonly decision: 'allowed' | 'blocked';
  /** The error code of a refusal, or of an upstream failure Relay answered for. */
  readonly reason: string | null;
  readonly status: number;
  readonly durationMs: number;
  readonly upstreamMs: number | null;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly ip: string;
  readonly userAgent: string | null;
}

export interface AuditFilter {
  readonly credentialId?: string;
  readonly recipientId?: string;
  readonly connectionId?: string;
  readonly decision?: 'allowed' | 'blocked';
  readonly status?: number;
  readonly since?: string;
  readonly until?: string;
}
