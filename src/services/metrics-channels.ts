import { channel } from 'node:diagnostics_channel';
import type { AuditRecord } from '../core/audit.ts';
import type { AuditSink } from '../ports/audit-sink.ts';

/**
 * Named `node:diagnostics_channel` events Relay publishes (as undici publishes
 * `undici:request:create`): metrics hang on them instead of counters being
 * threaded through the code. Publishing costs a property read when nobody
 * subscribes.
 */

/** Published once per proxied request, when the pipeline has finished it (answer sent, audit record queued). */
export const PROXY_REQUEST_CHANNEL = 'relay:proxy:request';

export interface ProxyRequestMessage {
  /** The request's audit record: decision, status, reason, connection, duration, upstream time. */
  readonly record: AuditRecord;
  /** The audit sink of the pipeline that served it: tells apart several proxies in one process (tests). */
  readonly sink: AuditSink;
}

export const proxyRequestChannel = channel(PROXY_REQUEST_CHANNEL);
