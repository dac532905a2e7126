import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openAuditWriterStore } from '../src/adapters/db/open-store.ts';
import { LocalKeyProvider } from '../src/adapters/local-key/local-key-provider.ts';
import type { AuditRecord } from '../src/core/audit.ts';
import { AuditSealer } from '../src/core/audit-seal.ts';
import { systemClock } from '../src/core/clock.ts';
import { Vault } from '../src/core/vault.ts';
import type { StoreDialect } from '../src/ports/store.ts';
import { writeAuditBatch } from '../src/services/audit-batch.ts';

/**
 * What the audit worker thread spends per record: `writeAuditBatch` (seal the
 * sensitive fields, chain, insert, commit) in batches of 500, of 40, and of mixed
 * sizes, as the worker runs it, on SQLite and (when reachable) PostgreSQL. Prints wall and CPU time per
 * record; CPU is this thread's, so PostgreSQL's own work is not in it.
 *
 *   node bench/audit-write.ts            (N=40000 records; BENCH_AUDIT_N to change)
 *   BENCH_AUDIT_DIALECTS=sqlite node bench/audit-write.ts   (one store only)
 */

const N = Number(process.env.BENCH_AUDIT_N ?? 40_000);
const BATCH = 500;
/** What the worker meets in practice: whatever arrived while it wrote the last batch. */
const MIXED_SIZES = [137, 500, 301, 64, 499, 222, 17, 350, 1, 411];
const PG_ADMIN_URL = process.env.RELAY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function record(i: number, prefix: string): AuditRecord {
  return {
    workspaceId: i % 4 === 0 ? '' : 'ws_bench',
    id: `${prefix}${String(i).padStart(20, '0')}`,
    at: new Date(1_700_000_000_000 + i).toISOString(),
    requestId: `req_${i}`,
    connectionId: 'conn_bench',
    credentialId: null,
    recipientId: null,
    method: 'GET',
    path: `/v1/items/${i}/details`,
    query: i % 3 === 0 ? 'a=1&b=2' : null,
    decision: i % 5 === 0 ? 'blocked' : 'allowed',
    reason: null,
    status: 200,
    durationMs: 1.234 + i / 1000,
    upstreamMs: 0.987654321 * i,
    bytesIn: 100,
    bytesOut: 2000,
    ip: '203.0.113.7',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) bench/1.0',
  };
}

async function databaseUrl(dialect: StoreDialect, dir: string): Promise<string | undefined> {
  if (dialect === 'sqlite') return `sqlite:${join(dir, 'relay.db')}`;
  const name = `relay_bench_audit_${process.pid}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
    await admin.query(`drop database if exists ${name}`);
    await admin.query(`create database ${name}`);
  } catch {
    return undefined;
  } finally {
    await admin.end().catch(() => {});
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropDatabase(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`drop database if exists ${new URL(url).pathname.slice(1)} with (force)`);
  await admin.end();
}

for (const dialect of (process.env.BENCH_AUDIT_DIALECTS ?? 'sqlite,postgres').split(',') as StoreDialect[]) {
  const dir = mkdtempSync(join(tmpdir(), 'relay-bench-audit-'));
  const url = await databaseUrl(dialect, dir);
  if (url === undefined) {
    console.log(`${dialect}: skipped (unreachable)`);
    continue;
  }
  const store = openAuditWriterStore(url, dir);
  try {
    await store.migrate();
    const keys = LocalKeyProvider.fromConfig({
      masterKey: randomBytes(32).toString('base64'),
      masterKeyFile: '',
    });
    store.useAuditSealer(new AuditSealer(new Vault(keys), systemClock));
    await writeAuditBatch(
      store,
      Array.from({ length: BATCH }, (_, i) => record(i, 'evt_warm')),
    );
    for (const [label, sizes] of [
      [`batches of ${BATCH}`, [BATCH]],
      // What one RELAY_AUDIT_FLUSH_MS (20 ms) gathers at 2,000 req/s: a commit's fixed cost shows.
      ['batches of 40', [40]],
      ['batches of mixed sizes (1–500)', MIXED_SIZES],
    ] as const) {
      const records = Array.from({ length: N }, (_, i) => record(i, `evt_${label.length}_`));
      const cpu = process.cpuUsage();
      const started = performance.now();
      for (let i = 0, b = 0; i < N; b++) {
        const size = sizes[b % sizes.length] as number;
        await writeAuditBatch(store, records.slice(i, i + size));
        i += size;
      }
      const wallUs = ((performance.now() - started) * 1000) / N;
      const used = process.cpuUsage(cpu);
      const cpuUs = (used.user + used.system) / N;
      console.log(
        `${dialect}: ${N} records in ${label}: ${wallUs.toFixed(1)} µs wall, ${cpuUs.toFixed(1)} µs CPU per record`,
      );
    }
  } finally {
    await store.close();
    if (dialect === 'postgres') await dropDatabase(url);
    rmSync(dir, { recursive: true, force: true });
  }
}
