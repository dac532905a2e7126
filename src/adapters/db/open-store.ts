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

export function openStore(databaseUrl: string, dataDir: string): KyselyStore {
  const path = sqlitePathOf(databaseUrl, dataDir);
  if (path === undefined) {
    const { dialect } = openPostgres(databaseUrl);
    return new KyselyStore(new Kysely<Database>({ dialect }), 'postgres');
  }
  const { dialect } = openSqlite(path);
  return new KyselyStore(new Kysely<Database>({ dialect }), 'sqlite');
}
