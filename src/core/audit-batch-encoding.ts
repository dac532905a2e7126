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

/** The records of a batch's text; throws AuditBatchEncodingError on anything else. */
export function decodeAuditBatch(text: string): EncodedAuditRecord[] {
  if (text === '') return [];
  return text.split('\n').map((line): EncodedAuditRecord => {
    const f = line.split('\t');
    if (f.length !== FIELDS) throw new AuditBatchEncodingError(`an audit record line has ${FIELDS} fields`);
    const fields = f[8] as string;
    const sensitive = f[9] as string;
    const status = Number(f[7]);
    if (!Number.isInteger(status) || !sensitive.startsWith('[') || fields.startsWith('['))
      throw new AuditBatchEncodingError('an audit record line is malformed');
    return {
      workspaceId: f[0] as string,
      id: f[1] as string,
      at: f[2] as string,
      credentialId: f[3] === '' ? null : (f[3] as string),
      recipientId: f[4] === '' ? null : (f[4] as string),
      connectionId: f[5] === '' ? null : (f[5] as string),
      decision: f[6] as string,
      status,
      fields,
      sensitive,
    };
  });
}
