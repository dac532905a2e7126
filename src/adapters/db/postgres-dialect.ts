import { PostgresDialect } from 'kysely';
import pg from 'pg';

/** PostgreSQL through node-postgres (pure JavaScript; pg-native is never loaded). */
export function openPostgres(url: string, max = 10): { dialect: PostgresDialect; pool: pg.Pool } {
  const pool = new pg.Pool({ connectionString: url, max });
  // An idle client that errors (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  return { dialect: new PostgresDialect({ pool }), pool };
}
