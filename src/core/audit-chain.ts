import { hash } from 'node:crypto';
import type { AuditRecord } from './audit.ts';

/**
 * The per-workspace hash chain over the audit log (SPEC §7). Every record gets
 * `seq` (1, 2, 3, … per workspace, no gaps) and `hash` = SHA-256 over a
 * canonical encoding of the record as stored (sealed fields as ciphertext) and
 * the previous record's hash. A deleted record leaves a gap in `seq`; a changed
 * one no longer matches its hash; a moved one no longer follows the record its
 * `prev_hash` names. Records of no workspace (`''`) form a chain of their own.
 *
 * `seq` itself is not hashed: it is the position, and the order is already
 * bound by `prev_hash`; keeping it out lets verify tell a record that was moved
 * (intact, but after the wrong predecessor) from one that was changed.
 */

/** A record as stored: path, query, ip and user agent are sealed in `sealed` (core/audit-seal.ts). */
export interface ChainedAuditRecord extends AuditRecord {
  readonly seq: number;
  /** The data key that sealed the sensitive fields (table `audit_keys`). */
  readonly keyId: string;
  readonly sealed: string;
  readonly prevHash: string;
  readonly hash: string;
}

/** A position in a chain: the anchor left by a prune, or the head. */
export interface ChainPoint {
  readonly seq: number;
  readonly hash: string;
}

/** What the first record of a chain follows. */
export const GENESIS: ChainPoint = Object.freeze({ seq: 0, hash: '0'.repeat(64) });

export const CHAIN_DOMAIN = 'relay.audit.v1';

/**
 * A record's own fields, all but its workspace, in the one order that both the
 * canonical encoding below and a stored segment record (adapters/db/audit-segments.ts)
 * hold them in.
 */
export type RecordFields = [
  id: string,
  at: string,
  requestId: string,
  connectionId: string | null,
  credentialId: string | null,
  recipientId: string | null,
  method: string,
  path: string,
  query: string | null,
  decision: AuditRecord['decision'],
  reason: string | null,
  status: number,
  durationMs: number,
  upstreamMs: number | null,
  bytesIn: number,
  bytesOut: number,
  ip: string,
  userAgent: string | null,
];

/** `r`'s fields in that order, with the four sensitive ones as given. */
function fieldsWith(
  r: AuditRecord,
  path: string,
  query: string | null,
  ip: string,
  userAgent: string | null,
): RecordFields {
  return [
    r.id,
    r.at,
    r.requestId,
    r.connectionId,
    r.credentialId,
    r.recipientId,
    r.method,
    path,
    query,
    r.decision,
    r.reason,
    r.status,
    r.durationMs,
    r.upstreamMs,
    r.bytesIn,
    r.bytesOut,
    ip,
    userAgent,
  ];
}

export function recordFields(r: AuditRecord): RecordFields {
  return fieldsWith(r, r.path, r.query, r.ip, r.userAgent);
}

/** The canonical encoding: a JSON array in a fixed order, so every field's boundaries are unambiguous. */
export function canonicalEncoding(r: Omit<ChainedAuditRecord, 'seq' | 'hash'>): string {
  return JSON.stringify([CHAIN_DOMAIN, r.workspaceId, ...recordFields(r), r.keyId, r.sealed, r.prevHash]);
}

/**
 * The fields between the workspace and the key id of the canonical encoding, as JSON
 * without its brackets, for a record whose sensitive fields are sealed elsewhere (so
 * stored as `''` or null): the middle of its canonical encoding and of its stored form
 * in a segment (adapters/db/audit-segments.ts). `canonicalEncoding` stays the reference.
 */
export function storedFieldsText(r: AuditRecord): string {
  return JSON.stringify(fieldsWith(r, '', null, '', null)).slice(1, -1);
}

export function chainHash(r: Omit<ChainedAuditRecord, 'seq' | 'hash'>): string {
  // One-shot: no Hash object per record (the writer hashes every proxied request).
  return hash('sha256', canonicalEncoding(r), 'hex');
}

/** Chains `sealed` (already sealed, in order) after `head`. */
export function chainAfter(
  head: ChainPoint,
  sealed: ReadonlyArray<Omit<ChainedAuditRecord, 'seq' | 'prevHash' | 'hash'>>,
): ChainedAuditRecord[] {
  const out: ChainedAuditRecord[] = [];
  let prev = head;
  for (const r of sealed) {
    // One object per record: the hash covers neither `seq` nor `hash`, so it is set last.
    const next: { -readonly [K in keyof ChainedAuditRecord]: ChainedAuditRecord[K] } = {
      ...r,
      prevHash: prev.hash,
      seq: prev.seq + 1,
      hash: '',
    };
    next.hash = chainHash(next);
    out.push(next);
    prev = next;
  }
  return out;
}

export type ChainBreakKind = 'deleted' | 'altered' | 'reordered';

/** The first place a chain stops being what was written. */
export interface ChainBreak {
  readonly kind: ChainBreakKind;
  /** The position of the first missing, changed or misplaced record. */
  readonly seq: number;
  /** Its id, when a record is there (a deleted one is not). */
  readonly id: string | null;
  readonly detail: string;
}

/** Where the record a `prev_hash` names actually is (answered by the store, for telling moves from changes). */
export type HashLookup = (hash: string) => Promise<{ readonly seq: number; readonly id: string } | undefined>;

/**
 * Walks a chain page by page. Feed it records in `seq` order with `push`;
 * the first break ends the walk. `finish` checks the end of the walk against
 * the chain head (records cut off the end of the log leave no gap to see).
 */
export class ChainWalker {
  #prev: ChainPoint;
  #prevId: string | null = null;
  readonly #start: ChainPoint;
  readonly #lookup: HashLookup;
  #checked = 0;
  #broken: ChainBreak | undefined;

  constructor(start: ChainPoint, lookup: HashLookup) {
    this.#prev = start;
    this.#start = start;
    this.#lookup = lookup;
  }

  get checked(): number {
    return this.#checked;
  }

  get last(): ChainPoint {
    return this.#prev;
  }

  get broken(): ChainBreak | undefined {
    return this.#broken;
  }

  /** Checks the next record; returns the break, if this is where the chain breaks. */
  async push(r: ChainedAuditRecord): Promise<ChainBreak | undefined> {
    if (this.#broken) return this.#broken;
    const expected = this.#prev.seq + 1;
    if (r.seq !== expected) {
      const missing = r.seq - expected;
      return this.#break({
        kind: 'deleted',
        seq: expected,
        id: null,
        detail:
          missing === 1
            ? `entry ${expected} is missing (the next present is ${r.seq}, id ${r.id})`
            : `entries ${expected} to ${r.seq - 1} are missing (the next present is ${r.seq}, id ${r.id})`,
      });
    }
    if (chainHash(r) !== r.hash) {
      return this.#break({
        kind: 'altered',
        seq: r.seq,
        id: r.id,
        detail: 'its contents no longer match its hash',
      });
    }
    if (r.prevHash !== this.#prev.hash) {
      const found =
        r.prevHash === this.#start.hash && this.#start.seq !== this.#prev.seq
          ? { seq: this.#start.seq, id: 'the chain start' }
          : await this.#lookup(r.prevHash);
      if (found !== undefined) {
        return this.#break({
          kind: 'reordered',
          seq: r.seq,
          id: r.id,
          detail: `it is intact but was written after entry ${found.seq} (${found.id}), not after entry ${this.#prev.seq}`,
        });
      }
      if (this.#prevId === null) {
        return this.#break({
          kind: 'altered',
          seq: r.seq,
          id: r.id,
          detail: `it does not follow the chain start (${this.#prev.seq === 0 ? 'genesis' : `prune anchor at ${this.#prev.seq}`})`,
        });
      }
      return this.#break({
        kind: 'altered',
        seq: this.#prev.seq,
        id: this.#prevId,
        detail: `its hash was rewritten: entry ${r.seq} (${r.id}) follows a record that is no longer in the log`,
      });
    }
    this.#prev = { seq: r.seq, hash: r.hash };
    this.#prevId = r.id;
    this.#checked++;
    return undefined;
  }

  /** After the last record: the walk must have reached the head the writers recorded. */
  finish(head: ChainPoint): ChainBreak | undefined {
    if (this.#broken) return this.#broken;
    if (this.#prev.seq < head.seq) {
      const missing = head.seq - this.#prev.seq;
      return this.#break({
        kind: 'deleted',
        seq: this.#prev.seq + 1,
        id: null,
        detail: `the last ${missing === 1 ? 'entry' : `${missing} entries`} (up to ${head.seq}) are missing`,
      });
    }
    if (this.#prev.seq === head.seq && this.#prev.hash !== head.hash) {
      return this.#break({
        kind: 'altered',
        seq: this.#prev.seq,
        id: this.#prevId,
        detail: 'the last entry is not the one the chain head records',
      });
    }
    return undefined;
  }

  #break(b: ChainBreak): ChainBreak {
    this.#broken = b;
    return b;
  }
}
