import { join } from 'node:path';
import { Kysely } from 'kysely';
import { KyselyStore } from './kysely-store.ts';
import { openPostgres } from './postgres-dialect.ts';
import type { Database } from './schema.ts';
import { openSqlite } from './sqlite-dialect.ts';

/**
 * Opens the store named by a database URL: empty → `<dataDir>/relay.db`,
 * `sqlite:<path>` → that file, `postgres://` or `postgresql://` → PostgreSQL.
 */
export function isPostgresUrl(databaseUrl: string): boolean {
  return databaseUrl.startsWith('postgres://') || databaseUrl.startsWith('postgresql://');
}

/** The SQLite file a database URL names (undefined for PostgreSQL). */
export function sqlitePathOf(databaseUrl: string, dataDir: string): string | undefined {
  if (isPostgresUrl(databaseUrl)) return undefined;
  if (databaseUrl.startsWith('sqlite:')) return databaseUrl.slice('sqlite:'.length);
  if (databaseUrl !== '') throw new Error('RELAY_DATABASE_URL must start with sqlite: or postgres://');
  return join(dataDir, 'relay.db');
}

export interface OpenStoreOptions {
  /**
   * SQLite only: keep this connection's temporary data in memory (`temp_store =
   * MEMORY`). Meant for the audit writer: a multi-row insert inside a transaction
   * keeps a statement journal, which SQLite moves to a new temporary file once it
   * passes 64 KiB, so a busy writer would create, write and delete a file on
   * nearly every commit. Its journals stay small (the pages one insert of at most
   * 256 rows changes). Not for general connections, whose large sorts would then
   * be held in memory too.
   */
  readonly tempInMemory?: boolean;
}

export function openStore(databaseUrl: string, dataDir: string, options: OpenStoreOptions = {}): KyselyStore {
  const path = sqlitePathOf(databaseUrl, dataDir);
  if (path === undefined) {
    const { dialect } = openPostgres(databaseUrl);
    return new KyselyStore(new Kysely<Database>({ dialect }), 'postgres');
  }
  const { dialect } = openSqlite(path, options);
  return new KyselyStore(new Kysely<Database>({ dialect }), 'sqlite');
}

/** The store as the audit writer's thread opens it. */
export function openAuditWriterStore(databaseUrl: string, dataDir: string): KyselyStore {
  return openStore(databaseUrl, dataDir, { tempInMemory: true });
}
