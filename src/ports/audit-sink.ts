import type { AuditRecord } from '../core/audit.ts';

/**
 * Where the proxy hands its audit records. Writes are batched off the request's
 * critical path; `flush()` persists everything queued so far (graceful shutdown
 * awaits it). `backlog` lets the proxy fail closed when records cannot be stored.
 */
export interface AuditSink {
  record(entry: AuditRecord): void;
  flush(): Promise<void>;
  readonly backlog: number;
  close(): Promise<void>;
}
