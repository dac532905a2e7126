import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { KyselyStore } from '../../src/adapters/db/kysely-store.ts';
import { openStore } from '../../src/adapters/db/open-store.ts';
import { LocalKeyProvider } from '../../src/adapters/local-key/local-key-provider.ts';
import type { AuditRecord } from '../../src/core/audit.ts';
import { type ChainedAuditRecord, chainHash } from '../../src/core/audit-chain.ts';
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

export async function updateAt(
  store: KyselyStore,
  workspaceId: string,
  seq: number,
  set: Record<string, string | number>,
): Promise<void> {
  for (const [column, value] of Object.entries(set)) {
    await exec(
      store,
      sql`update audit_events set ${sql.ref(column)} = ${value} where workspace_id = ${workspaceId} and seq = ${seq}`,
    );
  }
}

export async function deleteAt(store: KyselyStore, workspaceId: string, seq: number): Promise<void> {
  await exec(store, sql`delete from audit_events where workspace_id = ${workspaceId} and seq = ${seq}`);
}

/** Moves two records: each takes the other's position (every column but `seq` swapped). */
export async function swapPositions(
  store: KyselyStore,
  workspaceId: string,
  a: number,
  b: number,
): Promise<void> {
  await exec(
    store,
    sql`update audit_events set seq = ${-1} where workspace_id = ${workspaceId} and seq = ${a}`,
  );
  await exec(
    store,
    sql`update audit_events set seq = ${a} where workspace_id = ${workspaceId} and seq = ${b}`,
  );
  await exec(
    store,
    sql`update audit_events set seq = ${b} where workspace_id = ${workspaceId} and seq = ${-1}`,
  );
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
