import { CompiledQuery, type Kysely, sql, type Transaction } from 'kysely';
import type { AuditRecord } from '../../core/audit.ts';
import {
  type ChainBreak,
  type ChainedAuditRecord,
  type ChainPoint,
  ChainWalker,
  GENESIS,
} from '../../core/audit-chain.ts';
import { type AuditSealer, type StoredAuditRecord, withoutSealedFields } from '../../core/audit-seal.ts';
import { RelayError } from '../../core/errors.ts';
import type { AuditRepo, Page, StoreDialect } from '../../ports/store.ts';
import type { Database } from './schema.ts';

/**
 * The audit log over Kysely (SQLite and PostgreSQL alike). Writes seal and
 * chain each workspace's records under that chain's lock: on PostgreSQL a
 * transaction-scoped advisory lock per workspace, taken in workspace order so
 * that two nodes' batches cannot deadlock; on SQLite every write transaction is
 * `begin immediate`, so writers are serialised already. The head is read after
 * the lock is held, so positions are handed out without gaps or repeats (and
 * the unique (workspace_id, seq) index makes any slip fail rather than fork).
 */

type Db = Kysely<Database> | Transaction<Database>;
type AuditRow = Database['audit_events'];

const COLUMNS = [
  'workspace_id',
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
  'seq',
  'prev_hash',
  'hash',
  'key_id',
  'sealed',
] as const satisfies ReadonlyArray<keyof AuditRow>;

/**
 * Rows per insert statement: powers of two up to 256 (24 columns a row: 6,144
 * parameters, under SQLite's 32,766 and PostgreSQL's 65,535). A batch of any
 * size is split into at most nine statements of these sizes, so SQLite's
 * prepared-statement cache holds every one it needs instead of compiling a new
 * ~20 KB statement for each batch size it meets.
 */
const CHUNK_SIZES = [256, 128, 64, 32, 16, 8, 4, 2, 1] as const;

/** [start, end) row ranges covering `total` rows, largest chunks first. */
function chunks(total: number): Array<readonly [number, number]> {
  const out: Array<readonly [number, number]> = [];
  let start = 0;
  for (const size of CHUNK_SIZES) {
    while (total - start >= size) {
      out.push([start, start + size]);
      start += size;
    }
  }
  return out;
}
/** Ids looked up at once when skipping records already stored. */
const ID_CHUNK = 500;

const insertSqlCache = new Map<string, string>();

/** `insert into audit_events (…) values (…), (…)`, built once per size: Kysely would rebuild a large AST per batch. */
function insertSql(dialect: StoreDialect, rows: number): string {
  const key = `${dialect}:${rows}`;
  let text = insertSqlCache.get(key);
  if (text === undefined) {
    let n = 0;
    const placeholder = () => (dialect === 'postgres' ? `$${++n}` : '?');
    const tuples = Array.from({ length: rows }, () => `(${COLUMNS.map(placeholder).join(', ')})`);
    text = `insert into audit_events (${COLUMNS.join(', ')}) values ${tuples.join(', ')}`;
    insertSqlCache.set(key, text);
  }
  return text;
}

/** `count` parameter placeholders for one statement: `?, ?` or `$1, $2`. */
function marks(dialect: StoreDialect, count: number): string {
  return Array.from({ length: count }, (_, i) => (dialect === 'postgres' ? `$${i + 1}` : '?')).join(', ');
}

/** `select id from audit_events where id in (…)`, cached per size like the insert. */
function idsSql(dialect: StoreDialect, count: number): string {
  const key = `ids:${dialect}:${count}`;
  let text = insertSqlCache.get(key);
  if (text === undefined) {
    text = `select id from audit_events where id in (${marks(dialect, count)})`;
    insertSqlCache.set(key, text);
  }
  return text;
}

function parameters(r: ChainedAuditRecord): unknown[] {
  return [
    r.workspaceId,
    r.id,
    r.at,
    r.requestId,
    r.connectionId,
    r.credentialId,
    r.recipientId,
    r.method,
    r.path,
    r.query,
    r.decision,
    r.reason,
    r.status,
    r.durationMs,
    r.upstreamMs,
    r.bytesIn,
    r.bytesOut,
    r.ip,
    r.userAgent,
    r.seq,
    r.prevHash,
    r.hash,
    r.keyId,
    r.sealed,
  ];
}

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

/** Cursor over (at, id), in the format the other repositories use. */
function encodeCursor(at: string, id: string): string {
  return Buffer.from(JSON.stringify([at, id])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'string'))
      return value as [string, string];
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

/**
 * The three small statements every batch runs per workspace, as text with
 * placeholders for the dialect: Kysely would build and compile each anew for
 * every batch, which at 50 batches a second costs the writer more than running them.
 */
function batchSql(dialect: StoreDialect) {
  return {
    head: `select head_seq, head_hash from audit_chains where workspace_id = ${marks(dialect, 1)}`,
    key:
      `insert into audit_keys (workspace_id, id, key_sealed, created_at, last_seq) values (${marks(dialect, 5)}) ` +
      'on conflict (workspace_id, id) do update set last_seq = excluded.last_seq',
    batch: `insert into audit_sealed_batches (workspace_id, id, key_id, sealed, last_seq) values (${marks(dialect, 5)})`,
    advance:
      `insert into audit_chains (workspace_id, head_seq, head_hash) values (${marks(dialect, 3)}) ` +
      'on conflict (workspace_id) do update set head_seq = excluded.head_seq, head_hash = excluded.head_hash',
  };
}
const BATCH_SQL = { sqlite: batchSql('sqlite'), postgres: batchSql('postgres') } as const;

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
  const loadBatches = async (workspaceId: string, ids: readonly string[]) => {
    const rows = await db
      .selectFrom('audit_sealed_batches')
      .select(['id', 'key_id', 'sealed'])
      .where('workspace_id', '=', workspaceId)
      .where('id', 'in', ids)
      .execute();
    return new Map(rows.map((r) => [r.id, { id: r.id, keyId: r.key_id, sealed: r.sealed }]));
  };
  const open = (rows: readonly AuditRow[]): Promise<AuditRecord[]> => {
    const stored = rows.map(toStored);
    return sealer
      ? sealer.open(stored, { keys: loadKeys, batches: loadBatches })
      : Promise.resolve(stored.map(withoutSealedFields));
  };
  const findByHash = async (workspaceId: string, hash: string) => {
    const row = await db
      .selectFrom('audit_events')
      .select(['seq', 'id'])
      .where('workspace_id', '=', workspaceId)
      .where('hash', '=', hash)
      .executeTakeFirst();
    return row && row.seq !== null ? { seq: Number(row.seq), id: row.id } : undefined;
  };
  const chainPage = async (workspaceId: string, afterSeq: number, uptoSeq: number, limit: number) => {
    const rows = await db
      .selectFrom('audit_events')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .where('seq', '>', afterSeq)
      .where('seq', '<=', uptoSeq)
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map(toChained);
  };

  async function appendChain(trx: Db, workspaceId: string, records: readonly AuditRecord[]) {
    if (!sealer) throw new Error('audit records are sealed: this store was opened without the master key');
    await lockChain(trx, dialect, workspaceId);
    const text = BATCH_SQL[dialect];
    const { rows: found } = await trx.executeQuery<{ head_seq: number | string; head_hash: string }>(
      CompiledQuery.raw(text.head, [workspaceId]),
    );
    const current = found[0];
    const head = point(current?.head_seq ?? null, current?.head_hash ?? null) ?? GENESIS;
    const { key, batch, records: chained } = await sealer.seal(workspaceId, records, head);
    const last = chained.at(-1) as ChainedAuditRecord;
    // Upserted every batch: it records the key's last use, and restores a key row pruned
    // while this writer still held the key (a key outlives its records only by its hour).
    await trx.executeQuery(
      CompiledQuery.raw(text.key, [workspaceId, key.id, key.sealed, key.createdAt, last.seq]),
    );
    await trx.executeQuery(
      CompiledQuery.raw(text.batch, [workspaceId, batch.id, batch.keyId, batch.sealed, last.seq]),
    );
    for (const [start, end] of chunks(chained.length)) {
      const rows = chained.slice(start, end);
      await trx.executeQuery(CompiledQuery.raw(insertSql(dialect, rows.length), rows.flatMap(parameters)));
    }
    await trx.executeQuery(CompiledQuery.raw(text.advance, [workspaceId, last.seq, last.hash]));
  }

  /** Ids of `records` already stored: a batch resent after a crash must not be chained twice. */
  async function storedIds(trx: Db, records: readonly AuditRecord[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < records.length; i += ID_CHUNK) {
      const ids = records.slice(i, i + ID_CHUNK).map((r) => r.id);
      const result = await trx.executeQuery<{ id: string }>(
        CompiledQuery.raw(idsSql(dialect, ids.length), ids),
      );
      for (const r of result.rows) found.add(r.id);
    }
    return found;
  }

  return {
    insertMany(records, options) {
      if (records.length === 0) return Promise.resolve();
      return inTransaction(db, async (trx) => {
        const skip = options?.resent ? await storedIds(trx, records) : new Set<string>();
        const byWorkspace = new Map<string, AuditRecord[]>();
        for (const r of records) {
          if (skip.has(r.id)) continue;
          skip.add(r.id);
          const list = byWorkspace.get(r.workspaceId) ?? [];
          byWorkspace.set(r.workspaceId, list);
          list.push(r);
        }
        // Locks are always taken in the same order, so concurrent batches never deadlock.
        for (const workspaceId of [...byWorkspace.keys()].sort())
          await appendChain(trx, workspaceId, byWorkspace.get(workspaceId) as AuditRecord[]);
      });
    },

    async list(workspaceId, filter, options): Promise<Page<AuditRecord>> {
      let query = db
        .selectFrom('audit_events')
        .selectAll()
        .where('workspace_id', '=', workspaceId)
        .orderBy('at')
        .orderBy('id')
        .limit(options.limit + 1);
      if (filter.credentialId !== undefined) query = query.where('credential_id', '=', filter.credentialId);
      if (filter.recipientId !== undefined) query = query.where('recipient_id', '=', filter.recipientId);
      if (filter.connectionId !== undefined) query = query.where('connection_id', '=', filter.connectionId);
      if (filter.decision !== undefined) query = query.where('decision', '=', filter.decision);
      if (filter.status !== undefined) query = query.where('status', '=', filter.status);
      if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
      if (filter.until !== undefined) query = query.where('at', '<', filter.until);
      if (options.cursor !== undefined) {
        const [at, id] = decodeCursor(options.cursor);
        query = query.where((eb) =>
          eb.or([eb('at', '>', at), eb.and([eb('at', '=', at), eb('id', '>', id)])]),
        );
      }
      const rows = await query.execute();
      const more = rows.length > options.limit;
      const page = more ? rows.slice(0, options.limit) : rows;
      const last = page.at(-1);
      return { data: await open(page), nextCursor: more && last ? encodeCursor(last.at, last.id) : null };
    },

    async count(workspaceId) {
      const row = await db
        .selectFrom('audit_events')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .where('workspace_id', '=', workspaceId)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    async after(workspaceId, seq, limit) {
      const rows = await db
        .selectFrom('audit_events')
        .selectAll()
        .where('workspace_id', '=', workspaceId)
        .where('seq', '>', seq)
        .orderBy('seq')
        .limit(limit)
        .execute();
      const records = await open(rows);
      return records.map((record, i) => ({ seq: Number(rows[i]?.seq), record }));
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
        .selectFrom('audit_sealed_batches')
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

    async countUnchained(workspaceId) {
      const row = await db
        .selectFrom('audit_events')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .where('workspace_id', '=', workspaceId)
        .where('seq', 'is', null)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    prune(workspaceId, cutoff, maxRecords, now) {
      return inTransaction(db, async (trx) => {
        await lockChain(trx, dialect, workspaceId);
        const repo = auditRepo(trx, dialect, sealer);
        const chain = await chainRow(trx, workspaceId);
        let anchor = point(chain?.anchor_seq ?? null, chain?.anchor_hash ?? null);
        let deleted = 0;
        let stoppedAt: ChainBreak | null = null;
        if (chain) {
          const start = anchor ?? GENESIS;
          // Walk the oldest records in chain order; stop at the first one to keep, or at a break.
          const rows = await repo.chainPage(workspaceId, start.seq, Number(chain.head_seq), maxRecords);
          const walker = new ChainWalker(start, (hash) => repo.findByHash(workspaceId, hash));
          let last = start;
          for (const r of rows) {
            if (r.at >= cutoff) break;
            const broken = await walker.push(r);
            if (broken) {
              stoppedAt = broken;
              break;
            }
            last = { seq: r.seq, hash: r.hash };
          }
          if (last.seq > start.seq) {
            const result = await trx
              .deleteFrom('audit_events')
              .where('workspace_id', '=', workspaceId)
              .where('seq', '>', start.seq)
              .where('seq', '<=', last.seq)
              .executeTakeFirst();
            deleted = Number(result.numDeletedRows);
            await trx
              .updateTable('audit_chains')
              .set({ anchor_seq: last.seq, anchor_hash: last.hash, anchor_at: now })
              .where('workspace_id', '=', workspaceId)
              .execute();
            await trx
              .deleteFrom('audit_sealed_batches')
              .where('workspace_id', '=', workspaceId)
              .where('last_seq', '<=', last.seq)
              .execute();
            await trx
              .deleteFrom('audit_keys')
              .where('workspace_id', '=', workspaceId)
              .where('last_seq', '<=', last.seq)
              .execute();
            anchor = last;
          }
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
