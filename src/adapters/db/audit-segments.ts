import { hash } from 'node:crypto';
import type { AuditFilter } from '../../core/audit.ts';
import type { EncodedAuditRecord } from '../../core/audit-batch-encoding.ts';
import {
  CHAIN_DOMAIN,
  type ChainedAuditRecord,
  type ChainPoint,
  type RecordFields,
  recordFields,
} from '../../core/audit-chain.ts';
import { batchDigest, batchPlace, batchPlaceAround } from '../../core/audit-seal.ts';

/**
 * How chained audit records are stored: in segments, one row of `audit_segments`
 * per written batch and workspace, rather than a row per record.
 *
 * A row per record cost the audit writer five B-tree inserts (the table and four
 * indexes) for every proxied request: about half of its CPU, on the cores the
 * proxy shares. A segment is one insert per batch. It holds the batch's sealed
 * sensitive fields (core/audit-seal.ts) and its records as stored, as a JSON
 * array of positional arrays, each exactly what the hash chain covers; and
 * `audit_segment_terms` lists, per segment, the credentials, recipients,
 * connections, decisions and statuses its records have, so that a filtered
 * read skips the segments that cannot match.
 *
 * Two stored values are left out where they can be derived, and derived on
 * reading: the key id (the segment's) and the sealed reference (`batch:<segment
 * id>:<index>:<digest of the segment's sealed fields>`). A derived value is what
 * was hashed, so changing what it derives from (the segment's key or sealed
 * fields) shows in the chain. Records stored with other values (those migrated
 * from rows, or any changed by hand) keep them explicitly. `prev_hash` is kept as
 * stored, so that verify can tell a moved record from a changed one.
 */

/** The stored form of one record in a segment (null for key id and sealed: derived). */
export type SegmentRecord = [
  seq: number,
  ...fields: RecordFields,
  keyId: string | null,
  sealed: string | null,
  prevHash: string,
  hash: string,
];

const FIELDS = 23;

/** What a segment row holds besides its records. */
export interface SegmentHeader {
  readonly workspaceId: string;
  /** The id the records' sealed references name. */
  readonly id: string;
  /** The data key of its sealed fields ('' for records migrated from rows). */
  readonly keyId: string;
  /** The sealed fields of its records ('' for records migrated from rows). */
  readonly sealed: string;
}

/** What a batch-sealed record's `sealed` column holds, derived from its segment. */
function referenceOf(header: SegmentHeader, digest: string, index: number): string {
  return batchPlace(header.id, index, digest);
}

/** A new segment's text and where its chain ends. */
export interface ChainedSegment {
  readonly data: string;
  readonly last: ChainPoint;
  readonly minAt: string;
  readonly maxAt: string;
}

/**
 * Chains a freshly sealed batch after `head` and encodes it as a segment, in one
 * pass: the writer's hot path. Each record's stored fields come encoded already
 * (core/audit-batch-encoding.ts), and that text is both the middle of its
 * canonical encoding (core/audit-chain.ts, whose `canonicalEncoding` is the
 * reference: a test holds the two equal) and the middle of its stored form. No
 * JSON is parsed or built per record, and no record object.
 */
export function chainSegment(
  header: SegmentHeader,
  records: readonly EncodedAuditRecord[],
  head: ChainPoint,
): ChainedSegment {
  const digest = batchDigest(header.sealed);
  const start = `[${JSON.stringify(CHAIN_DOMAIN)},${JSON.stringify(header.workspaceId)},`;
  const key = `,${JSON.stringify(header.keyId)},`;
  // The JSON of each record's reference (`referenceOf`), cut around its index. JSON
  // escapes character by character, so the JSON of a concatenation is that of its parts.
  const [before, after] = batchPlaceAround(header.id, digest);
  const referenceOpen = JSON.stringify(before).slice(0, -1);
  const referenceClose = `${JSON.stringify(after).slice(1)},`;
  const parts: string[] = new Array(records.length);
  let seq = head.seq;
  let prev = head.hash;
  let prevText = JSON.stringify(prev);
  for (let i = 0; i < records.length; i++) {
    const middle = (records[i] as EncodedAuditRecord).fields;
    const canonical = `${start}${middle}${key}${referenceOpen}${i}${referenceClose}${prevText}]`;
    prev = hash('sha256', canonical, 'hex');
    // A hex digest needs no escaping: this is its JSON, and the next record's previous hash.
    const hashText = `"${prev}"`;
    seq++;
    parts[i] = `[${seq},${middle},null,null,${prevText},${hashText}]`;
    prevText = hashText;
  }
  return { data: `[${parts.join(',')}]`, last: { seq, hash: prev }, ...atRange(records) };
}

/** The earliest and latest `at` of a segment's records (their order is the chain's, not time's). */
export function atRange(records: readonly { readonly at: string }[]): { minAt: string; maxAt: string } {
  let minAt = (records[0] as { readonly at: string }).at;
  let maxAt = minAt;
  for (const r of records) {
    if (r.at < minAt) minAt = r.at;
    if (r.at > maxAt) maxAt = r.at;
  }
  return { minAt, maxAt };
}

export function encodeSegment(header: SegmentHeader, records: readonly ChainedAuditRecord[]): string {
  const digest = header.sealed === '' ? '' : batchDigest(header.sealed);
  const out: SegmentRecord[] = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as ChainedAuditRecord;
    out[i] = [
      r.seq,
      ...recordFields(r),
      r.keyId === header.keyId && header.keyId !== '' ? null : r.keyId,
      digest !== '' && r.sealed === referenceOf(header, digest, i) ? null : r.sealed,
      r.prevHash,
      r.hash,
    ];
  }
  return JSON.stringify(out);
}

export class SegmentFormatError extends Error {
  override name = 'SegmentFormatError';
}

/** The records of a segment as stored (every derived value filled in). */
export function decodeSegment(header: SegmentHeader, text: string): ChainedAuditRecord[] {
  const rows: unknown = JSON.parse(text);
  if (!Array.isArray(rows)) throw new SegmentFormatError('a segment holds an array of records');
  let digest: string | undefined;
  return rows.map((row: unknown, i): ChainedAuditRecord => {
    if (!Array.isArray(row) || row.length !== FIELDS)
      throw new SegmentFormatError(`a segment record has ${FIELDS} fields`);
    const s = row as SegmentRecord;
    let sealed = s[20];
    if (sealed === null) {
      digest ??= batchDigest(header.sealed);
      sealed = referenceOf(header, digest, i);
    }
    return {
      workspaceId: header.workspaceId,
      seq: s[0],
      id: s[1],
      at: s[2],
      requestId: s[3],
      connectionId: s[4],
      credentialId: s[5],
      recipientId: s[6],
      method: s[7],
      path: s[8],
      query: s[9],
      decision: s[10],
      reason: s[11],
      status: s[12],
      durationMs: s[13],
      upstreamMs: s[14],
      bytesIn: s[15],
      bytesOut: s[16],
      ip: s[17],
      userAgent: s[18],
      keyId: s[19] ?? header.keyId,
      sealed,
      prevHash: s[21],
      hash: s[22],
    };
  });
}

/** What a segment's terms are made of: a record's filterable values. */
export interface Filed {
  readonly credentialId: string | null;
  readonly recipientId: string | null;
  readonly connectionId: string | null;
  readonly decision: string;
  readonly status: number;
}

/** The filterable values a segment's records have: one `audit_segment_terms` row each. */
export function segmentTerms(records: readonly Filed[]): string[] {
  const credentials = new Set<string | null>();
  const recipients = new Set<string | null>();
  const connections = new Set<string | null>();
  const decisions = new Set<string>();
  const statuses = new Set<number>();
  for (const r of records) {
    credentials.add(r.credentialId);
    recipients.add(r.recipientId);
    connections.add(r.connectionId);
    decisions.add(r.decision);
    statuses.add(r.status);
  }
  const terms: string[] = [];
  for (const v of credentials) if (v !== null) terms.push(`credential:${v}`);
  for (const v of recipients) if (v !== null) terms.push(`recipient:${v}`);
  for (const v of connections) if (v !== null) terms.push(`connection:${v}`);
  for (const v of decisions) terms.push(`decision:${v}`);
  for (const v of statuses) terms.push(`status:${v}`);
  return terms;
}

/** The terms a filter needs a segment to have (each one must be present). */
export function filterTerms(filter: AuditFilter): string[] {
  const terms: string[] = [];
  if (filter.credentialId !== undefined) terms.push(`credential:${filter.credentialId}`);
  if (filter.recipientId !== undefined) terms.push(`recipient:${filter.recipientId}`);
  if (filter.connectionId !== undefined) terms.push(`connection:${filter.connectionId}`);
  if (filter.decision !== undefined) terms.push(`decision:${filter.decision}`);
  if (filter.status !== undefined) terms.push(`status:${filter.status}`);
  return terms;
}

/** True when `r` passes every condition of `filter`. */
export function matchesFilter(r: ChainedAuditRecord, filter: AuditFilter): boolean {
  return (
    (filter.credentialId === undefined || r.credentialId === filter.credentialId) &&
    (filter.recipientId === undefined || r.recipientId === filter.recipientId) &&
    (filter.connectionId === undefined || r.connectionId === filter.connectionId) &&
    (filter.decision === undefined || r.decision === filter.decision) &&
    (filter.status === undefined || r.status === filter.status) &&
    (filter.since === undefined || r.at >= filter.since) &&
    (filter.until === undefined || r.at < filter.until)
  );
}
