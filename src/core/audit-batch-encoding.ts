import type { AuditRecord } from './audit.ts';
import { storedFieldsText } from './audit-chain.ts';

/**
 * How audit records travel from the proxy's thread to the audit writer's, and
 * what the writer files them by. Each record is encoded once, on the request
 * path while its fields are fresh: a line of tab-separated fields, where the two
 * that hold free text are JSON (which escapes every tab and newline):
 *
 *   workspace, id, at, credential, recipient, connection, decision, status,
 *   stored fields (core/audit-chain.ts `storedFieldsText`), sensitive fields
 *
 * The stored fields are the very text the writer hashes into the chain and
 * stores; the sensitive fields (`[id, path, query, ip, user_agent]`) are what it
 * seals. So the writer parses no JSON and encodes none per record: it splits
 * lines and joins texts. A batch is its lines joined with newlines, and is kept
 * as that one string until the writer acknowledges it.
 */

/** A record as the writer takes it. */
export interface EncodedAuditRecord {
  readonly workspaceId: string;
  readonly id: string;
  readonly at: string;
  readonly credentialId: string | null;
  readonly recipientId: string | null;
  readonly connectionId: string | null;
  readonly decision: string;
  readonly status: number;
  /** `storedFieldsText`: the middle of both the chain's canonical encoding and the stored record. */
  readonly fields: string;
  /** JSON of `[id, path, query, ip, user_agent]`. */
  readonly sensitive: string;
}

const FIELDS = 10;

export class AuditBatchEncodingError extends Error {
  override name = 'AuditBatchEncodingError';
}

function sensitiveText(r: AuditRecord): string {
  return JSON.stringify([r.id, r.path, r.query, r.ip, r.userAgent]);
}

/** One record's line of a batch. */
export function encodeAuditRecord(r: AuditRecord): string {
  return `${r.workspaceId}\t${r.id}\t${r.at}\t${r.credentialId ?? ''}\t${r.recipientId ?? ''}\t${r.connectionId ?? ''}\t${r.decision}\t${r.status}\t${storedFieldsText(r)}\t${sensitiveText(r)}`;
}

export function joinAuditBatch(lines: readonly string[]): string {
  return lines.join('\n');
}

/** A record as the writer takes it, straight from the record (stores written to directly). */
export function encodedAuditRecord(r: AuditRecord): EncodedAuditRecord {
  return {
    workspaceId: r.workspaceId,
    id: r.id,
    at: r.at,
    credentialId: r.credentialId,
    recipientId: r.recipientId,
    connectionId: r.connectionId,
    decision: r.decision,
    status: r.status,
    fields: storedFieldsText(r),
    sensitive: sensitiveText(r),
  };
}

function fieldCount(): AuditBatchEncodingError {
  return new AuditBatchEncodingError(`an audit record line has ${FIELDS} fields`);
}

/** The tab that ends the field starting at `from`, in the line ending at `end`. */
function fieldEnd(text: string, from: number, end: number): number {
  const tab = text.indexOf('\t', from);
  if (tab === -1 || tab > end) throw fieldCount();
  return tab;
}

/** The records of a batch's text; throws AuditBatchEncodingError on anything else. */
export function decodeAuditBatch(text: string): EncodedAuditRecord[] {
  if (text === '') return [];
  // One pass of indexOf and slice per field: no array per line, and no
  // intermediate line string (the writer decodes every proxied request).
  const records: EncodedAuditRecord[] = [];
  let start = 0;
  for (;;) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const t0 = fieldEnd(text, start, end);
    const t1 = fieldEnd(text, t0 + 1, end);
    const t2 = fieldEnd(text, t1 + 1, end);
    const t3 = fieldEnd(text, t2 + 1, end);
    const t4 = fieldEnd(text, t3 + 1, end);
    const t5 = fieldEnd(text, t4 + 1, end);
    const t6 = fieldEnd(text, t5 + 1, end);
    const t7 = fieldEnd(text, t6 + 1, end);
    const t8 = fieldEnd(text, t7 + 1, end);
    const extra = text.indexOf('\t', t8 + 1);
    if (extra !== -1 && extra < end) throw fieldCount();
    const status = Number(text.slice(t6 + 1, t7));
    const fields = text.slice(t7 + 1, t8);
    const sensitive = text.slice(t8 + 1, end);
    if (!Number.isInteger(status) || !sensitive.startsWith('[') || fields.startsWith('['))
      throw new AuditBatchEncodingError('an audit record line is malformed');
    records.push({
      workspaceId: text.slice(start, t0),
      id: text.slice(t0 + 1, t1),
      at: text.slice(t1 + 1, t2),
      credentialId: t3 === t2 + 1 ? null : text.slice(t2 + 1, t3),
      recipientId: t4 === t3 + 1 ? null : text.slice(t3 + 1, t4),
      connectionId: t5 === t4 + 1 ? null : text.slice(t4 + 1, t5),
      decision: text.slice(t5 + 1, t6),
      status,
      fields,
      sensitive,
    });
    if (end === text.length) return records;
    start = end + 1;
  }
}
