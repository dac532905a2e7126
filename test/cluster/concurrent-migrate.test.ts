import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Kysely } from 'kysely';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import { migrationProvider } from '../../src/adapters/db/migrations.ts';
import { openPostgres } from '../../src/adapters/db/postgres-dialect.ts';
import { freshDatabaseUrl, skipFor, tempDir } from '../harness.ts';
import { runRelay } from '../relay-process.ts';

/**
 * Issue 7, point 3: `relay migrate` run by several nodes at once (a rolling
 * deploy, or N nodes started together) applies each migration exactly once:
 * Kysely's Migrator holds a PostgreSQL advisory lock while it migrates. The
 * database starts at the first migration, so there is real work to race for.
 */

const FIRST = '0001_foundation';

describe('relay migrate from three processes at once', {
  skip: skipFor('postgres'),
  timeout: 60_000,
}, async () => {
  const databaseUrl = await freshDatabaseUrl('postgres');
  const { dialect } = openPostgres(databaseUrl, 2);
  const db = new Kysely<unknown>({ dialect });
  try {
    const step = await new Migrator({
      db,
      provider: migrationProvider,
      migrationTableName: 'relay_migrations',
    }).migrateTo(FIRST);
    if (step.error) throw step.error;
  } finally {
    await db.destroy();
  }
  const all = Object.keys(await migrationProvider.getMigrations()).sort();
  const later = all.filter((name) => name !== FIRST);
  const envFor = () => ({ RELAY_DATA_DIR: tempDir('relay-migrate-'), RELAY_DATABASE_URL: databaseUrl });

  it('`relay migrate --status` lists what a rollout would apply, and changes nothing', async () => {
    assert.ok(later.length > 0, 'there is something to migrate');
    const status = await runRelay(['migrate', '--status', '--json'], envFor());
    assert.equal(status.code, 0, status.output);
    assert.deepEqual(JSON.parse(status.output), { pending: later });
    const again = await runRelay(['migrate', '--status', '--json'], envFor());
    assert.deepEqual(JSON.parse(again.output), { pending: later });
  });

  it('all three succeed, and every migration is applied exactly once', async () => {
    const runs = await Promise.all([1, 2, 3].map(() => runRelay(['migrate', '--json'], envFor())));
    for (const run of runs) assert.equal(run.code, 0, run.output);
    const applied = runs.flatMap((run) => (JSON.parse(run.output) as { applied: string[] }).applied);
    assert.deepEqual(
      [...applied].sort(),
      later,
      'each pending migration reported applied by exactly one process',
    );

    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const rows = await client.query<{ name: string }>('select name from relay_migrations order by name');
      assert.deepEqual(
        rows.rows.map((r) => r.name),
        all,
      );
    } finally {
      await client.end();
    }
    const status = await runRelay(['migrate', '--status', '--json'], envFor());
    assert.deepEqual(JSON.parse(status.output), { pending: [] });
  });
});
