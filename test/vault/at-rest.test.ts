import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { writeKeyFile } from '../../src/adapters/local-key/local-key-provider.ts';
import { openRelay } from '../../src/app.ts';
import type { RelayConfig } from '../../src/config.ts';
import { hashToken } from '../../src/core/tokens.ts';
import { createLogger } from '../../src/logger.ts';
import { DIALECTS, skipFor, startTestRelay } from '../harness.ts';
import { authCases, distinctSecret, grant, issueCredential } from '../management/helpers.ts';

/**
 * SPEC §9: a database dump alone never suffices to decrypt anything. The raw
 * SQLite files and a pg_dump hold no upstream key and no token; a wrong or
 * missing master key stops start-up with a clear message and changes nothing.
 */

const run = promisify(execFile);
const silent = createLogger('silent');
const MARKER = `at-rest-marker-${randomBytes(6).toString('hex')}`;

/** Forms a secret could take if it leaked: as is, base64, base64url, hex. */
function encodings(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  return [secret, bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex')];
}

function sqlitePath(config: RelayConfig): string {
  assert.ok(config.databaseUrl.startsWith('sqlite:'));
  return config.databaseUrl.slice('sqlite:'.length);
}

/** The SQLite database as stored on disk: the main file and its write-ahead log, if any. */
function sqliteBytes(config: RelayConfig): Buffer {
  const path = sqlitePath(config);
  const parts = [readFileSync(path)];
  for (const suffix of ['-wal', '-journal'])
    if (existsSync(path + suffix)) parts.push(readFileSync(path + suffix));
  return Buffer.concat(parts);
}

async function pgDump(config: RelayConfig): Promise<string> {
  const { stdout } = await run('pg_dump', ['--no-owner', config.databaseUrl], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** Every row of every table, for comparing a PostgreSQL database before and after. */
async function pgTables(config: RelayConfig): Promise<Record<string, unknown[]>> {
  const client = new pg.Client({ connectionString: config.databaseUrl });
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public' order by 1",
    );
    const out: Record<string, unknown[]> = {};
    for (const { table_name } of tables.rows) {
      const rows = await client.query(`select * from "${table_name}"`);
      out[table_name] = rows.rows.map((r) => JSON.stringify(r)).sort();
    }
    return out;
  } finally {
    await client.end();
  }
}

async function databaseState(dialect: string, config: RelayConfig): Promise<unknown> {
  if (dialect === 'postgres') return pgTables(config);
  const path = sqlitePath(config);
  const wal = existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0;
  return { main: readFileSync(path).toString('base64'), walBytes: wal };
}

for (const dialect of DIALECTS) {
  describe(dialect, { skip: skipFor(dialect) }, async () => {
    const relay = await startTestRelay(dialect);
    const cases = authCases();
    const secrets = cases.map((c) => c.secret);
    for (const c of cases) {
      const res = await relay.api('POST', '/api/v1/connections', {
        id: `conn_${c.type.replaceAll('_', '-')}`,
        name: `${MARKER} ${c.type}`,
        base_url: 'https://api.example.com',
        auth: c.auth,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    // the replaced key must be gone too
    const replacement = distinctSecret('replacement');
    secrets.push(replacement);
    assert.equal(
      (await relay.api('PUT', '/api/v1/connections/conn_bearer/secret', { secret: replacement })).status,
      200,
    );

    const tokens = [relay.adminToken];
    for (const path of ['/api/v1/connections', '/api/v1/recipients']) await relay.api('GET', path);
    const credential = await issueCredential(relay, {
      grants: [grant('conn_bearer'), grant('conn_header')],
      ttl_seconds: 3600,
    });
    const delegated = await relay.api('POST', '/api/v1/delegated-credentials', {
      connection_id: 'conn_query',
      name: 'delegated',
      allowed_methods: ['GET'],
      allowed_paths: ['/x'],
      ttl_seconds: 600,
    });
    const viewer = await relay.api('POST', '/api/v1/tokens', { name: 'viewer', role: 'viewer' });
    tokens.push(credential.token, delegated.body.token, viewer.body.token);
    assert.equal(tokens.filter((t) => typeof t === 'string').length, 4);
    const expectSecrets = async () => {
      const { relay: reopened } = await openRelay(relay.config, silent, { create: false });
      try {
        for (const c of cases) {
          const connection = await reopened.store.connections.get(
            relay.workspaceId,
            `conn_${c.type.replaceAll('_', '-')}`,
          );
          assert.ok(connection);
          const expected = c.type === 'bearer' ? replacement : c.secret;
          assert.equal(await reopened.services.connections.revealSecret(connection), expected);
        }
      } finally {
        await reopened.close();
      }
    };

    const scan = (haystack: string | Buffer) => {
      const text = typeof haystack === 'string' ? haystack : haystack.toString('latin1');
      assert.ok(text.includes(MARKER), 'the scan must see the stored rows (sanity check)');
      for (const secret of secrets) {
        for (const form of encodings(secret))
          assert.ok(!text.includes(form), `the database holds the secret ${secret} (as ${form})`);
      }
      for (const token of tokens) {
        assert.ok(!text.includes(token), `the database holds the token ${token.slice(0, 12)}…`);
        assert.ok(!text.includes(Buffer.from(token).toString('base64')));
        assert.ok(text.includes(hashToken(token)), 'the token is stored as its SHA-256 hash');
      }
    };

    if (dialect === 'sqlite') {
      it('the SQLite files (database and WAL) hold no secret and no token, only token hashes', () => {
        scan(sqliteBytes(relay.config));
      });
    } else {
      it('a pg_dump holds no secret and no token, only token hashes', async () => {
        const dump = await pgDump(relay.config);
        assert.match(dump, /PostgreSQL database dump/);
        scan(dump);
      });
    }

    it('a wrong master key fails start-up with a message naming the master key, and changes nothing', async () => {
      await relay.running.close();
      const before = await databaseState(dialect, relay.config);
      const wrong = randomBytes(32);
      for (const masterKey of [wrong.toString('base64'), wrong.toString('hex')]) {
        for (const create of [true, false]) {
          await assert.rejects(
            openRelay({ ...relay.config, masterKey }, silent, { create }),
            (error: Error) => {
              assert.match(error.message, /master key/i);
              assert.ok(!error.message.includes(masterKey), 'the message must not print the key');
              return true;
            },
          );
        }
      }
      assert.deepEqual(await databaseState(dialect, relay.config), before);
    });

    it('a key file holding another key fails the same way and changes nothing', async () => {
      const before = await databaseState(dialect, relay.config);
      const keyFile = relay.config.masterKeyFile;
      renameSync(keyFile, `${keyFile}.real`);
      try {
        writeKeyFile(keyFile, [randomBytes(32)]);
        await assert.rejects(openRelay(relay.config, silent, { create: true }), /master key/i);
      } finally {
        renameSync(`${keyFile}.real`, keyFile);
      }
      assert.deepEqual(await databaseState(dialect, relay.config), before);
    });

    it('a missing key file with an initialised database fails clearly and does not create a new key file', async () => {
      const before = await databaseState(dialect, relay.config);
      const keyFile = relay.config.masterKeyFile;
      const original = readFileSync(keyFile);
      renameSync(keyFile, `${keyFile}.away`);
      try {
        for (const create of [true, false]) {
          await assert.rejects(openRelay(relay.config, silent, { create }), (error: Error) => {
            assert.match(error.message, /master key file/);
            assert.match(error.message, /not found/);
            assert.ok(error.message.includes(keyFile), 'the message names the file');
            return true;
          });
          assert.equal(existsSync(keyFile), false, 'a new key file was created');
        }
      } finally {
        renameSync(`${keyFile}.away`, keyFile);
      }
      assert.deepEqual(readFileSync(keyFile), original);
      assert.deepEqual(await databaseState(dialect, relay.config), before);
    });

    it('with the right key the install opens again and every secret is intact', async () => {
      await expectSecrets();
    });
  });
}
