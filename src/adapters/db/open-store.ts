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
export function openStore(databaseUrl: string, dataDir: string): KyselyStore {
  if (databaseUrl.startsWith('postgres://') || databaseUrl.startsWith('postgresql://')) {
    const { dialect } = openPostgres(databaseUrl);
    return new KyselyStore(new Kysely<Database>({ dialect }), 'postgres');
  }
  let path = join(dataDir, 'relay.db');
  if (databaseUrl.startsWith('sqlite:')) path = databaseUrl.slice('sqlite:'.length);
  else if (databaseUrl !== '') throw new Error(`RELAY_DATABASE_URL must start with sqlite: or postgres://`);
  const { dialect } = openSqlite(path);
  return new KyselyStore(new Kysely<Database>({ dialect }), 'sqlite');
}
