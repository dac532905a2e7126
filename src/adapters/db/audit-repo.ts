import { CompiledQuery, type Kysely, PostgresAdapter, sql, type Transaction } from 'kysely';
import type { AuditFilter, AuditRecord } from '../../core/audit.ts';
import { type EncodedAuditRecord, encodedAuditRecord } from '../../core/audit-batch-encoding.ts';
import {
  type ChainBreak,
  type ChainedAuditRecord,
  type ChainPoint,
  ChainWalker,
  GENESIS,
} from '../../core/audit-chain.ts';
import {
  type AuditSealer,
  type SealedFieldsBatch,
  type StoredAuditRecord,
  withoutSealedFields,
} from '../../core/audit-seal.ts';
import { RelayError } from '../../core/errors.ts';
import type { AuditRepo, Page, SequencedAuditRecord, StoreDialect } from '../../ports/store.ts';
import {
  atRange,
  chainSegment,
  decodeSegment,
  encodeSegment,
  type Filed,
  filterTerms,
  matchesFilter,
  type SegmentHeader,
  segmentTerms,
} from './audit-segments.ts';
import type { Database } from './schema.ts';

/**
 * The audit log over Kysely (SQLite and PostgreSQL alike). Chained records are
 * stored in segments, one per written batch and workspace (audit-segments.ts);
 * records from before the chain (migration 0005) stay rows of `audit_events`.
 *
 * Writes seal and chain each workspace's records under that chain's lock: on
 * PostgreSQL a transaction-scoped advisory lock per workspace, taken in
 * workspace order so that two nodes' batches cannot deadlock; on SQLite every
 * write transaction is `begin immediate`, so writers are serialised already.
 * The head is read after the lock is held, so positions are handed out without
 * gaps or repeats (and the unique (workspace_id, last_seq) index makes any slip
 * fail rather than fork).
 *
 * Reads go in chain order (seq): the records before the chain first, then the
 * segments. A filtered read skips segments whose terms cannot match.
 */

type Db = Kysely<Database> | Transaction<Database>;
type AuditRow = Database['audit_events'];
type SegmentRow = Database['audit_segments'];

function toStored(r: AuditRow): StoredAuditRecord {
  return {
    workspaceId: r.workspace_id,
    id: r.id,
    at: r.at,
    requestId: r.request_id,
    connectionId: r.connection_id,
    credentialId: r.credential_id,
    recipientId: r.recipient_id,
    method: r.method,
    path: r.path,
    query: r.query,
    decision: r.decision as AuditRecord['decision'],
    reason: r.reason,
    status: Number(r.status),
    durationMs: Number(r.duration_ms),
    upstreamMs: r.upstream_ms === null ? null : Number(r.upstream_ms),
    bytesIn: Number(r.bytes_in),
    bytesOut: Number(r.bytes_out),
    ip: r.ip,
    userAgent: r.user_agent,
    keyId: r.key_id,
    sealed: r.sealed,
  };
}

function toChained(r: AuditRow): ChainedAuditRecord {
  return {
    ...toStored(r),
    keyId: r.key_id ?? '',
    sealed: r.sealed ?? '',
    seq: Number(r.seq),
    prevHash: r.prev_hash ?? '',
    hash: r.hash ?? '',
  };
}

function headerOf(row: Pick<SegmentRow, 'workspace_id' | 'id' | 'key_id' | 'sealed'>): SegmentHeader {
  return { workspaceId: row.workspace_id, id: row.id, keyId: row.key_id, sealed: row.sealed };
}

function decodeRow(row: SegmentRow): ChainedAuditRecord[] {
  return decodeSegment(headerOf(row), row.data);
}

type Cursor = { readonly before: true; readonly at: string; readonly id: string } | { readonly seq: number };

/** `['u', at, id]` inside the records from before the chain, `['s', seq]` in the chain. */
function encodeCursor(cursor: Cursor): string {
  const value = 'seq' in cursor ? ['s', cursor.seq] : ['u', cursor.at, cursor.id];
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodeCursor(cursor: string): Cursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value)) {
      if (value.length === 2 && value[0] === 's' && Number.isSafeInteger(value[1]) && value[1] >= 0)
        return { seq: value[1] as number };
      if (
        value.length === 3 &&
        value[0] === 'u' &&
        typeof value[1] === 'string' &&
        typeof value[2] === 'string'
      )
        return { before: true, at: value[1], id: value[2] };
    }
  } catch {
    // fall through
  }
  throw new RelayError('validation_failed', 'cursor is not a cursor from a previous page', [
    { path: 'query/cursor', message: 'is invalid' },
  ]);
}

/** Runs `work` in the caller's transaction, or in a new one: chain locks only hold inside one. */
function inTransaction<T>(db: Db, work: (trx: Db) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db) : (db as Kysely<Database>).transaction().execute(work);
}

/** `count` parameter placeholders for one statement: `?, ?` or `$1, $2`. */
function marks(dialect: StoreDialect, count: number, from = 0): string {
  return Array.from({ length: count }, (_, i) => (dialect === 'postgres' ? `$${from + i + 1}` : '?')).join(
    ', ',
  );
}

/**
 * The statements every batch runs per workspace, as text with placeholders for the
 * dialect: Kysely would build and compile each anew for every batch, which at 50
 * batches a second costs the writer more than running them.
 */
function batchSql(dialect: StoreDialect) {
  return {
    head: `select head_seq, head_hash from audit_chains where workspace_id = ${marks(dialect, 1)}`,
    key:
      `insert into audit_keys (workspace_id, id, key_sealed, created_at, last_seq) values (${marks(dialect, 5)}) ` +
      'on conflict (workspace_id, id) do update set last_seq = excluded.last_seq',
    segment:
      'insert into audit_segments (workspace_id, first_seq, last_seq, min_at, max_at, records, id, key_id, sealed, data) ' +
      `values (${marks(dialect, 10)})`,
    advance:
      `insert into audit_chains (workspace_id, head_seq, head_hash) values (${marks(dialect, 3)}) ` +
      'on conflict (workspace_id) do update set head_seq = excluded.head_seq, head_hash = excluded.head_hash',
  };
}
const BATCH_SQL = { sqlite: batchSql('sqlite'), postgres: batchSql('postgres') } as const;

const termsSqlCache = new Map<string, string>();
/** `insert into audit_segment_terms … values (…), …` for `count` terms, built once per count. */
function termsSql(dialect: StoreDialect, count: number): string {
  const key = `${dialect}:${count}`;
  let text = termsSqlCache.get(key);
  if (text === undefined) {
    const tuples = Array.from({ length: count }, (_, i) => `(${marks(dialect, 3, i * 3)})`);
    text = `insert into audit_segment_terms (workspace_id, term, first_seq) values ${tuples.join(', ')}`;
    termsSqlCache.set(key, text);
  }
  return text;
}

async function lockChain(db: Db, dialect: StoreDialect, workspaceId: string): Promise<void> {
  // SQLite: the transaction began immediate, holding the database's write lock already.
  if (dialect === 'postgres')
    await sql`select pg_advisory_xact_lock(hashtext(${`relay_audit:${workspaceId}`}))`.execute(db);
}

async function chainRow(db: Db, workspaceId: string) {
  return db.selectFrom('audit_chains').selectAll().where('workspace_id', '=', workspaceId).executeTakeFirst();
}

function point(seq: number | string | null, hash: string | null): ChainPoint | null {
  return seq === null || hash === null ? null : { seq: Number(seq), hash };
}

interface SegmentToStore {
  readonly header: SegmentHeader;
  readonly firstSeq: number;
  readonly last: ChainPoint;
  readonly minAt: string;
  readonly maxAt: string;
  readonly data: string;
  /** The records, for their terms. */
  readonly records: readonly Filed[];
}

/** Inserts one segment with its terms. */
async function insertSegment(trx: Db, dialect: StoreDialect, segment: SegmentToStore): Promise<void> {
  const { header, firstSeq, records } = segment;
  await trx.executeQuery(
    CompiledQuery.raw(BATCH_SQL[dialect].segment, [
      header.workspaceId,
      firstSeq,
      segment.last.seq,
      segment.minAt,
      segment.maxAt,
      records.length,
      header.id,
      header.keyId,
      header.sealed,
      segment.data,
    ]),
  );
  const terms = segmentTerms(records);
  const params: unknown[] = [];
  for (const term of terms) params.push(header.workspaceId, term, firstSeq);
  await trx.executeQuery(CompiledQuery.raw(termsSql(dialect, terms.length), params));
}

/** Chained records as they are stored (rows moved by migration 0006), as one segment. */
function storedSegment(header: SegmentHeader, records: readonly ChainedAuditRecord[]): SegmentToStore {
  const first = records[0] as ChainedAuditRecord;
  const last = records.at(-1) as ChainedAuditRecord;
  return {
    header,
    firstSeq: first.seq,
    last: { seq: last.seq, hash: last.hash },
    ...atRange(records),
    data: encodeSegment(header, records),
    records,
  };
}

/** Records before the chain and in it, as one list; the filter of `list`. */
interface Scan {
  readonly filter: AuditFilter;
  readonly afterSeq: number;
  readonly limit: number;
}

/** Segments read per query while scanning. */
const SEGMENT_PAGE = 16;
/** Rows per migrated segment. */
const MIGRATION_SEGMENT = 1000;

/**
 * Migration 0006: every chained row of `audit_events` becomes part of a segment (a
 * segment per 1,000 rows of a chain, their stored values kept exactly, so the
 * chain still verifies), then the rows are deleted. Records before the chain stay.
 */
export async function moveChainedRowsToSegments(db: Kysely<Database>): Promise<void> {
  const dialect: StoreDialect = db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
  let workspace = '';
  let seq = -1;
  for (;;) {
    const rows = await db
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', 'is not', null)
      .where((eb) =>
        eb.or([
          eb('workspace_id', '>', workspace),
          eb.and([eb('workspace_id', '=', workspace), eb('seq', '>', seq)]),
        ]),
      )
      .orderBy('workspace_id')
      .orderBy('seq')
      .limit(MIGRATION_SEGMENT)
      .execute();
    if (rows.length === 0) break;
    let start = 0;
    while (start < rows.length) {
      const ws = (rows[start] as AuditRow).workspace_id;
      let end = start;
      while (end < rows.length && (rows[end] as AuditRow).workspace_id === ws) end++;
      const records = rows.slice(start, end).map(toChained);
      const first = records[0] as ChainedAuditRecord;
      const header = { workspaceId: ws, id: `rows_${first.seq}`, keyId: '', sealed: '' };
      await insertSegment(db, dialect, storedSegment(header, records));
      start = end;
    }
    const last = rows.at(-1) as AuditRow;
    workspace = last.workspace_id;
    seq = Number(last.seq);
  }
  await db.deleteFrom('audit_events').where('seq', 'is not', null).execute();
}

export function auditRepo(db: Db, dialect: StoreDialect, sealer: AuditSealer | undefined): AuditRepo {
  const loadKeys = async (workspaceId: string, ids: readonly string[]) => {
    const rows = await db
      .selectFrom('audit_keys')
      .select(['id', 'key_sealed'])
      .where('workspace_id', '=', workspaceId)
      .where('id', 'in', ids)
      .execute();
    return new Map(rows.map((r) => [r.id, r.key_sealed]));
  };

  /** Opens the sealed fields of `records`; `segments` are the rows they came from (no second read). */
  const open = (records: readonly StoredAuditRecord[], segments: readonly SegmentRow[]) => {
    if (!sealer) return Promise.resolve(records.map(withoutSealedFields));
    const known = new Map<string, SealedFieldsBatch>();
    for (const s of segments)
      known.set(`${s.workspace_id}\u0000${s.id}`, { id: s.id, keyId: s.key_id, sealed: s.sealed });
    const batches = async (workspaceId: string, ids: readonly string[]) => {
      const out = new Map<string, SealedFieldsBatch>();
      for (const id of ids) {
        const batch = known.get(`${workspaceId}\u0000${id}`);
        if (batch !== undefined) out.set(id, batch);
      }
      return out;
    };
    return sealer.open(records, { keys: loadKeys, batches });
  };

  /** Segments of a workspace holding records after `afterSeq`, in chain order, a page at a time. */
  const segmentsAfter = (
    workspaceId: string,
    afterSeq: number,
    filter: AuditFilter = {},
    uptoSeq?: number,
  ) => {
    let query = db
      .selectFrom('audit_segments as s')
      .selectAll('s')
      .where('s.workspace_id', '=', workspaceId)
      .where('s.last_seq', '>', afterSeq)
      .orderBy('s.last_seq')
      .limit(SEGMENT_PAGE);
    if (uptoSeq !== undefined) query = query.where('s.first_seq', '<=', uptoSeq);
    if (filter.since !== undefined) query = query.where('s.max_at', '>=', filter.since);
    if (filter.until !== undefined) query = query.where('s.min_at', '<', filter.until);
    for (const term of filterTerms(filter)) {
      query = query.where(({ exists, selectFrom }) =>
        exists(
          selectFrom('audit_segment_terms as t')
            .select('t.first_seq')
            .whereRef('t.workspace_id', '=', 's.workspace_id')
            .whereRef('t.first_seq', '=', 's.first_seq')
            .where('t.term', '=', term),
        ),
      );
    }
    return query.execute();
  };

  /** Chained records after `scan.afterSeq` that pass the filter, up to `scan.limit`, with their segments. */
  async function scanChain(workspaceId: string, scan: Scan, uptoSeq?: number) {
    const found: ChainedAuditRecord[] = [];
    const segments: SegmentRow[] = [];
    let after = scan.afterSeq;
    for (;;) {
      const page = await segmentsAfter(workspaceId, after, scan.filter, uptoSeq);
      for (const segment of page) {
        let used = false;
        for (const r of decodeRow(segment)) {
          if (r.seq <= scan.afterSeq || (uptoSeq !== undefined && r.seq > uptoSeq)) continue;
          if (!matchesFilter(r, scan.filter)) continue;
          found.push(r);
          used = true;
          if (found.length >= scan.limit) break;
        }
        if (used) segments.push(segment);
        if (found.length >= scan.limit) return { found, segments };
        after = Number(segment.last_seq);
      }
      if (page.length < SEGMENT_PAGE) return { found, segments };
    }
  }

  /** Records from before the chain (rows with no seq), by (at, id), after `cursor`. */
  function unchainedRows(workspaceId: string, filter: AuditFilter, limit: number, cursor?: Cursor) {
    let query = db
      .selectFrom('audit_events')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .where('seq', 'is', null)
      .orderBy('at')
      .orderBy('id')
      .limit(limit);
    if (filter.credentialId !== undefined) query = query.where('credential_id', '=', filter.credentialId);
    if (filter.recipientId !== undefined) query = query.where('recipient_id', '=', filter.recipientId);
    if (filter.connectionId !== undefined) query = query.where('connection_id', '=', filter.connectionId);
    if (filter.decision !== undefined) query = query.where('decision', '=', filter.decision);
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
    if (filter.until !== undefined) query = query.where('at', '<', filter.until);
    if (cursor !== undefined && 'before' in cursor) {
      const { at, id } = cursor;
      query = query.where((eb) => eb.or([eb('at', '>', at), eb.and([eb('at', '=', at), eb('id', '>', id)])]));
    }
    return query.execute();
  }

  const findByHash = async (workspaceId: string, hash: string) => {
    let after = 0;
    for (;;) {
      const page = await segmentsAfter(workspaceId, after);
      for (const segment of page) {
        const found = decodeRow(segment).find((r) => r.hash === hash);
        if (found !== undefined) return { seq: found.seq, id: found.id };
        after = Number(segment.last_seq);
      }
      if (page.length < SEGMENT_PAGE) return undefined;
    }
  };

  const chainPage = async (workspaceId: string, afterSeq: number, uptoSeq: number, limit: number) =>
    (await scanChain(workspaceId, { filter: {}, afterSeq, limit }, uptoSeq)).found;

  async function appendChain(trx: Db, workspaceId: string, records: readonly EncodedAuditRecord[]) {
    if (!sealer) throw new Error('audit records are sealed: this store was opened without the master key');
    await lockChain(trx, dialect, workspaceId);
    const text = BATCH_SQL[dialect];
    const { rows: found } = await trx.executeQuery<{ head_seq: number | string; head_hash: string }>(
      CompiledQuery.raw(text.head, [workspaceId]),
    );
    const current = found[0];
    const head = point(current?.head_seq ?? null, current?.head_hash ?? null) ?? GENESIS;
    const { key, batch } = await sealer.sealBatch(
      workspaceId,
      records.map((r) => r.sensitive),
    );
    const header = { workspaceId, id: batch.id, keyId: batch.keyId, sealed: batch.sealed };
    const { data, last, minAt, maxAt } = chainSegment(header, records, head);
    // Upserted every batch: it records the key's last use, and restores a key row pruned
    // while this writer still held the key (a key outlives its records only by its hour).
    await trx.executeQuery(
      CompiledQuery.raw(text.key, [workspaceId, key.id, key.sealed, key.createdAt, last.seq]),
    );
    await insertSegment(trx, dialect, { header, firstSeq: head.seq + 1, last, minAt, maxAt, data, records });
    await trx.executeQuery(CompiledQuery.raw(text.advance, [workspaceId, last.seq, last.hash]));
  }

  /**
   * Ids of `records` (all of one workspace) already stored: a batch resent after a
   * crash must not be chained twice. Only segments whose time span overlaps the
   * records' can hold them.
   */
  async function storedIds(
    trx: Db,
    workspaceId: string,
    records: readonly EncodedAuditRecord[],
  ): Promise<Set<string>> {
    const { minAt, maxAt } = atRange(records);
    const segments = await trx
      .selectFrom('audit_segments')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .where('min_at', '<=', maxAt)
      .where('max_at', '>=', minAt)
      .execute();
    const found = new Set<string>();
    for (const segment of segments) for (const r of decodeRow(segment)) found.add(r.id);
    return found;
  }

  function insertEncoded(
    records: readonly EncodedAuditRecord[],
    options?: { readonly resent?: boolean },
  ): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return inTransaction(db, async (trx) => {
      const byWorkspace = new Map<string, EncodedAuditRecord[]>();
      for (const r of records) {
        const list = byWorkspace.get(r.workspaceId) ?? [];
        byWorkspace.set(r.workspaceId, list);
        list.push(r);
      }
      // Locks are always taken in the same order, so concurrent batches never deadlock.
      for (const workspaceId of [...byWorkspace.keys()].sort()) {
        let list = byWorkspace.get(workspaceId) as EncodedAuditRecord[];
        if (options?.resent) {
          await lockChain(trx, dialect, workspaceId);
          const stored = await storedIds(trx, workspaceId, list);
          const fresh: EncodedAuditRecord[] = [];
          for (const r of list) {
            if (stored.has(r.id)) continue;
            stored.add(r.id);
            fresh.push(r);
          }
          list = fresh;
        }
        if (list.length > 0) await appendChain(trx, workspaceId, list);
      }
    });
  }

  const countUnchained = async (workspaceId: string) => {
    const row = await db
      .selectFrom('audit_events')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where('workspace_id', '=', workspaceId)
      .where('seq', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };

  return {
    insertMany(records, options) {
      return insertEncoded(records.map(encodedAuditRecord), options);
    },

    insertEncoded,

    async list(workspaceId, filter, options): Promise<Page<AuditRecord>> {
      const cursor = options.cursor === undefined ? undefined : decodeCursor(options.cursor);
      const want = options.limit + 1;
      const before =
        cursor === undefined || 'before' in cursor
          ? await unchainedRows(workspaceId, filter, want, cursor)
          : [];
      const stored: Array<{ record: StoredAuditRecord; cursor: Cursor }> = before.map((row) => ({
        record: toStored(row),
        cursor: { before: true, at: row.at, id: row.id },
      }));
      let segments: SegmentRow[] = [];
      if (stored.length < want) {
        const afterSeq = cursor !== undefined && 'seq' in cursor ? cursor.seq : 0;
        const scan = await scanChain(workspaceId, { filter, afterSeq, limit: want - stored.length });
        segments = scan.segments;
        for (const r of scan.found) stored.push({ record: r, cursor: { seq: r.seq } });
      }
      const more = stored.length > options.limit;
      const page = more ? stored.slice(0, options.limit) : stored;
      const last = page.at(-1);
      return {
        data: await open(
          page.map((p) => p.record),
          segments,
        ),
        nextCursor: more && last ? encodeCursor(last.cursor) : null,
      };
    },

    async count(workspaceId) {
      const chained = await db
        .selectFrom('audit_segments')
        .select((eb) => eb.fn.sum<string | number | null>('records').as('n'))
        .where('workspace_id', '=', workspaceId)
        .executeTakeFirstOrThrow();
      return Number(chained.n ?? 0) + (await countUnchained(workspaceId));
    },

    async after(workspaceId, seq, limit): Promise<readonly SequencedAuditRecord[]> {
      const { found, segments } = await scanChain(workspaceId, { filter: {}, afterSeq: seq, limit });
      const records = await open(found, segments);
      return records.map((record, i) => ({ seq: (found[i] as ChainedAuditRecord).seq, record }));
    },

    async chainState(workspaceId) {
      const row = await chainRow(db, workspaceId);
      return {
        head: point(row?.head_seq ?? null, row?.head_hash ?? null),
        anchor: point(row?.anchor_seq ?? null, row?.anchor_hash ?? null),
      };
    },

    chainPage,
    findByHash,

    async sealedBatches(workspaceId, ids) {
      if (ids.length === 0) return new Map();
      const rows = await db
        .selectFrom('audit_segments')
        .select(['id', 'sealed'])
        .where('workspace_id', '=', workspaceId)
        .where('id', 'in', ids)
        .execute();
      return new Map(rows.map((r) => [r.id, r.sealed]));
    },

    async chainedWorkspaces() {
      const rows = await db
        .selectFrom('audit_chains')
        .select('workspace_id')
        .orderBy('workspace_id')
        .execute();
      return rows.map((r) => r.workspace_id);
    },

    countUnchained,

    prune(workspaceId, cutoff, maxRecords, now) {
      return inTransaction(db, async (trx) => {
        await lockChain(trx, dialect, workspaceId);
        const chain = await chainRow(trx, workspaceId);
        let anchor = point(chain?.anchor_seq ?? null, chain?.anchor_hash ?? null);
        let deleted = 0;
        let stoppedAt: ChainBreak | null = null;
        if (chain) {
          const start = anchor ?? GENESIS;
          // Whole segments, oldest first, each all before the cutoff and verified record by
          // record; at least one, then up to maxRecords. A segment that also holds records
          // within retention waits until they are old enough too.
          const repo = auditRepo(trx, dialect, sealer);
          const walker = new ChainWalker(start, (hash) => repo.findByHash(workspaceId, hash));
          let last = start;
          let upto = start.seq;
          let after = start.seq;
          scan: for (;;) {
            const page = await trx
              .selectFrom('audit_segments')
              .selectAll()
              .where('workspace_id', '=', workspaceId)
              .where('last_seq', '>', after)
              .orderBy('last_seq')
              .limit(SEGMENT_PAGE)
              .execute();
            for (const segment of page) {
              if (segment.max_at >= cutoff || (deleted > 0 && deleted + segment.records > maxRecords))
                break scan;
              for (const r of decodeRow(segment)) {
                if (r.seq <= start.seq) continue;
                const broken = await walker.push(r);
                if (broken) {
                  stoppedAt = broken;
                  break scan;
                }
              }
              last = walker.last;
              upto = Number(segment.last_seq);
              after = upto;
              deleted += Number(segment.records);
            }
            if (page.length < SEGMENT_PAGE) break;
          }
          if (upto > start.seq) {
            await trx
              .deleteFrom('audit_segment_terms')
              .where('workspace_id', '=', workspaceId)
              .where('first_seq', '<=', upto)
              .execute();
            await trx
              .deleteFrom('audit_segments')
              .where('workspace_id', '=', workspaceId)
              .where('last_seq', '<=', upto)
              .execute();
            await trx
              .updateTable('audit_chains')
              .set({ anchor_seq: last.seq, anchor_hash: last.hash, anchor_at: now })
              .where('workspace_id', '=', workspaceId)
              .execute();
            await trx
              .deleteFrom('audit_keys')
              .where('workspace_id', '=', workspaceId)
              .where('last_seq', '<=', last.seq)
              .execute();
            anchor = last;
          } else deleted = 0;
        }
        const unchained = await trx
          .deleteFrom('audit_events')
          .where('id', 'in', (eb) =>
            eb
              .selectFrom('audit_events')
              .select('id')
              .where('workspace_id', '=', workspaceId)
              .where('seq', 'is', null)
              .where('at', '<', cutoff)
              .limit(maxRecords),
          )
          .executeTakeFirst();
        return { deleted, deletedUnchained: Number(unchained.numDeletedRows), anchor, stoppedAt };
      });
    },
  };
}
