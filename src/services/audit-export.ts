import type { AuditFilter, AuditRecord } from '../core/audit.ts';
import type { AuditRepo } from '../ports/store.ts';

/** An audit record as the API, the exports and the CLI show it. */
export function auditView(a: AuditRecord) {
  return {
    id: a.id,
    at: a.at,
    request_id: a.requestId,
    connection_id: a.connectionId,
    credential_id: a.credentialId,
    recipient_id: a.recipientId,
    method: a.method,
    path: a.path,
    query: a.query,
    decision: a.decision,
    reason: a.reason,
    status: a.status,
    duration_ms: a.durationMs,
    upstream_ms: a.upstreamMs,
    bytes_in: a.bytesIn,
    bytes_out: a.bytesOut,
    ip: a.ip,
    user_agent: a.userAgent,
  };
}

export type AuditView = ReturnType<typeof auditView>;
export type ExportFormat = 'jsonl' | 'csv';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['jsonl', 'csv'];

/** The CSV header, in the order of the JSON fields. */
export const CSV_COLUMNS = [
  'id',
  'at',
  'request_id',
  'connection_id',
  'credential_id',
  'recipient_id',
  'method',
  'path',
  'query',
  'decision',
  'reason',
  'status',
  'duration_ms',
  'upstream_ms',
  'bytes_in',
  'bytes_out',
  'ip',
  'user_agent',
] as const satisfies ReadonlyArray<keyof AuditView>;

/**
 * One CSV field (RFC 4180 §2): quoted when it holds a comma, a quote or a line
 * break, quotes doubled. Text that a spreadsheet would run as a formula (it
 * starts with =, +, -, @, tab or CR: OWASP "CSV injection") gets a leading `'`;
 * paths and user agents come from whoever called the proxy.
 */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\r\n`;
}

export function csvRow(view: AuditView): string {
  return `${CSV_COLUMNS.map((c) => csvField(view[c])).join(',')}\r\n`;
}

export function jsonLine(view: AuditView): string {
  return `${JSON.stringify(view)}\n`;
}

export const EXPORT_CONTENT_TYPES: Readonly<Record<ExportFormat, string>> = {
  jsonl: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
};

const PAGE = 500;

/**
 * The export as text chunks, one page of the store at a time: memory stays at
 * one page however long the log, and a consumer that reads slowly (a slow
 * client, a full pipe) holds the next page back.
 */
export async function* exportAudit(
  repo: AuditRepo,
  workspaceId: string,
  filter: AuditFilter,
  format: ExportFormat,
): AsyncGenerator<string> {
  if (format === 'csv') yield csvHeader();
  let cursor: string | undefined;
  do {
    const page = await repo.list(
      workspaceId,
      filter,
      cursor === undefined ? { limit: PAGE } : { limit: PAGE, cursor },
    );
    let chunk = '';
    for (const record of page.data) {
      const view = auditView(record);
      chunk += format === 'csv' ? csvRow(view) : jsonLine(view);
    }
    if (chunk !== '') yield chunk;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
}
