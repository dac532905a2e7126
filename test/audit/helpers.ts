import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { KyselyStore } from '../../src/adapters/db/kysely-store.ts';
import { openStore } from '../../src/adapters/db/open-store.ts';
import { LocalKeyProvider } from '../../src/adapters/local-key/local-key-provider.ts';
import type { AuditRecord } from '../../src/core/audit.ts';
import { type ChainedAuditRecord, chainHash, recordFields } from '../../src/core/audit-chain.ts';
import { AuditSealer } from '../../src/core/audit-seal.ts';
import type { Clock } from '../../src/core/clock.ts';
import { newId } from '../../src/core/ids.ts';
import { Vault } from '../../src/core/vault.ts';
import { createLogger } from '../../src/logger.ts';
import type { StoreDialect } from '../../src/ports/store.ts';
import { writeAuditBatch } from '../../src/services/audit-batch.ts';
import { type WorkerAuditOptions, WorkerAuditWriter } from '../../src/services/worker-audit-writer.ts';
import { freshDatabaseUrl, onCleanup, tempDir } from '../harness.ts';

/** A clock the test moves by hand. */
export class StepClock implements Clock {
  at: number;
  constructor(at = Date.parse('2030-01-01T00:00:00Z')) {
    this.at = at;
  }
  now(): number {
    return this.at;
  }
}

export interface AuditStore {
  readonly store: KyselyStore;
  readonly keys: LocalKeyProvider;
  /** RELAY_MASTER_KEY for this store (audit worker threads build their key provider from it). */
  readonly masterKey: string;
  readonly databaseUrl: string;
  readonly dataDir: string;
  readonly clock: StepClock;
}

/** A migrated store on a fresh database, sealing audit records with a fresh master key. */
export async function openAuditStore(dialect: StoreDialect, clock = new StepClock()): Promise<AuditStore> {
  const dataDir = tempDir('relay-audit-');
  const databaseUrl = await freshDatabaseUrl(dialect, dataDir);
  const store = openStore(databaseUrl, dataDir);
  onCleanup(() => store.close());
  await store.migrate();
  const masterKey = randomBytes(32).toString('base64');
  const keys = LocalKeyProvider.fromConfig({ masterKey, masterKeyFile: '' });
  store.useAuditSealer(new AuditSealer(new Vault(keys), clock));
  return { store, keys, masterKey, databaseUrl, dataDir, clock };
}

/** A node's audit writer: the proxy's batching sink and its worker thread, on the same database. */
export function auditWriter(
  a: AuditStore,
  batchSize = 10,
  extra: Pick<WorkerAuditOptions, 'workerUrl' | 'nice'> = {},
): WorkerAuditWriter {
  const writer = new WorkerAuditWriter(
    {
      databaseUrl: a.databaseUrl,
      dataDir: a.dataDir,
      masterKey: a.masterKey,
      masterKeyFile: '',
      intervalMs: 5,
      batchSize,
      ...extra,
    },
    createLogger('silent'),
  );
  onCleanup(() => writer.close());
  return writer;
}

let n = 0;

export function auditRecord(overrides: Partial<AuditRecord> = {}): AuditRecord {
  n++;
  return {
    workspaceId: 'ws_audit',
    id: newId('auditEvent'),
    at: new Date(Date.parse('2030-01-01T00:00:00Z') + n).toISOString(),
    requestId: `req_${n}`,
    connectionId: 'conn_audit',
    credentialId: 'cred_audit',
    recipientId: null,
    method: 'GET',
    path: `/v1/items/${n}`,
    query: n % 2 === 0 ? `page=${n}` : null,
    decision: 'allowed',
    reason: null,
    status: 200,
    durationMs: 1.25 + n / 7,
    upstreamMs: n / 3,
    bytesIn: 10 * n,
    bytesOut: 100 * n,
    ip: `198.51.100.${n % 250}`,
    userAgent: `audit-test/${n}`,
    ...overrides,
  };
}

export function records(count: number, overrides: Partial<AuditRecord> = {}): AuditRecord[] {
  return Array.from({ length: count }, () => auditRecord(overrides));
}

export async function write(store: KyselyStore, batch: readonly AuditRecord[]): Promise<void> {
  await writeAuditBatch(store, batch);
}

/** The stored row at `seq` of a workspace's chain, as the repository reads it. */
export async function rowAt(
  store: KyselyStore,
  workspaceId: string,
  seq: number,
): Promise<ChainedAuditRecord> {
  const [row] = await store.audit.chainPage(workspaceId, seq - 1, seq, 1);
  if (!row) throw new Error(`no record at seq ${seq} of ${JSON.stringify(workspaceId)}`);
  return row;
}

/** Raw SQL against the database, as someone with write access to it would tamper. */
export async function exec(store: KyselyStore, query: ReturnType<typeof sql>): Promise<void> {
  await query.execute(store.db);
}

/** Positions of the stored columns in a segment record (adapters/db/audit-segments.ts). */
const SEGMENT_COLUMNS: Readonly<Record<string, number>> = {
  seq: 0,
  id: 1,
  at: 2,
  request_id: 3,
  connection_id: 4,
  credential_id: 5,
  recipient_id: 6,
  method: 7,
  path: 8,
  query: 9,
  decision: 10,
  reason: 11,
  status: 12,
  duration_ms: 13,
  upstream_ms: 14,
  bytes_in: 15,
  bytes_out: 16,
  ip: 17,
  user_agent: 18,
  key_id: 19,
  sealed: 20,
  prev_hash: 21,
  hash: 22,
};

type SegmentData = unknown[][];

/** The segment holding `seq`, its records as stored (JSON), and a writer for them. */
async function segmentAt(store: KyselyStore, workspaceId: string, seq: number) {
  const row = await store.db
    .selectFrom('audit_segments')
    .select(['first_seq', 'data'])
    .where('workspace_id', '=', workspaceId)
    .where('first_seq', '<=', seq)
    .where('last_seq', '>=', seq)
    .executeTakeFirst();
  if (!row) throw new Error(`no segment holds seq ${seq} of ${JSON.stringify(workspaceId)}`);
  const data = JSON.parse(row.data) as SegmentData;
  const save = () =>
    exec(
      store,
      sql`update audit_segments set data = ${JSON.stringify(data)} where workspace_id = ${workspaceId} and first_seq = ${row.first_seq}`,
    );
  return { data, save };
}

/** Changes stored columns of the record at `seq`, as someone editing the database would. */
export async function updateAt(
  store: KyselyStore,
  workspaceId: string,
  seq: number,
  set: Record<string, string | number>,
): Promise<void> {
  const { data, save } = await segmentAt(store, workspaceId, seq);
  const record = data.find((r) => r[0] === seq) as unknown[];
  for (const [column, value] of Object.entries(set)) record[SEGMENT_COLUMNS[column] as number] = value;
  await save();
}

export async function deleteAt(store: KyselyStore, workspaceId: string, seq: number): Promise<void> {
  const { data, save } = await segmentAt(store, workspaceId, seq);
  data.splice(
    data.findIndex((r) => r[0] === seq),
    1,
  );
  await save();
}

/** Overwrites the stored record at `seq` with `r`'s fields, keeping the seq. */
async function storeAt(
  store: KyselyStore,
  workspaceId: string,
  seq: number,
  r: ChainedAuditRecord,
): Promise<void> {
  const { data, save } = await segmentAt(store, workspaceId, seq);
  const i = data.findIndex((stored) => stored[0] === seq);
  data[i] = [seq, ...recordFields(r), r.keyId, r.sealed, r.prevHash, r.hash];
  await save();
}

/** Moves two records: each takes the other's position (every column but `seq` swapped). */
export async function swapPositions(
  store: KyselyStore,
  workspaceId: string,
  a: number,
  b: number,
): Promise<void> {
  const first = await rowAt(store, workspaceId, a);
  const second = await rowAt(store, workspaceId, b);
  await storeAt(store, workspaceId, a, second);
  await storeAt(store, workspaceId, b, first);
}

/** A rewritten record whose hash was recomputed to match (an attacker who knows the scheme). */
export async function rewriteAndRehash(
  store: KyselyStore,
  workspaceId: string,
  seq: number,
  status: number,
): Promise<void> {
  const row = await rowAt(store, workspaceId, seq);
  const forged = { ...row, status };
  await updateAt(store, workspaceId, seq, { status, hash: chainHash(forged) });
}
