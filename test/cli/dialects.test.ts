import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readKeyFile } from '../../src/adapters/local-key/local-key-provider.ts';
import { DIALECTS, freshDatabaseUrl, skipFor, tempDir } from '../harness.ts';
import { cli, cliJson, freshEnv, transcript } from './cli-harness.ts';

const SECRET = 'sk-dialect-suite-secret-4242';

for (const dialect of DIALECTS) {
  describe(`relay CLI on ${dialect}`, { skip: skipFor(dialect) }, () => {
    it('init, connections, credentials, rotate-master, migrate --status and doctor work end to end', async () => {
      const dir = tempDir('relay-cli-db-');
      const env = freshEnv({ RELAY_DATABASE_URL: await freshDatabaseUrl(dialect, dir) });
      const init = await cliJson(['init'], env);
      assert.match(init.admin_token, /^rk_mgmt_/);
      assert.equal((await cliJson(['init'], env)).admin_token, null);
      await cliJson(
        [
          'connections',
          'add',
          '--id',
          'conn_db',
          '--name',
          'DB',
          '--base-url',
          'https://api.example.com',
          '--auth-type',
          'query',
          '--query-param',
          'key',
          '--secret-stdin',
        ],
        env,
        SECRET,
      );
      const issued = await cliJson(
        ['credentials', 'add', '--name', 'x', '--grant', 'conn_db:GET:/v1/*', '--ttl', '3600'],
        env,
      );
      assert.match(issued.token, /^rk_proxy_/);
      const before = readKeyFile(join(env.RELAY_DATA_DIR as string, 'master.key')).primary;
      const rotated = await cliJson(['keys', 'rotate-master'], env);
      assert.notEqual(rotated.primary_key_id, before);
      assert.equal((await cliJson(['connections', 'get', 'conn_db'], env)).secret_last4, '4242');
      assert.deepEqual(await cliJson(['migrate', '--status'], env), { pending: [] });
      const doctor = await cli(['doctor', '--json'], env);
      assert.equal(doctor.code, 0, doctor.stdout);
      assert.equal(doctor.stdout.includes(env.RELAY_DATABASE_URL as string), false);
      assert.equal(transcript.join('\n').includes(SECRET), false);
    });
  });
}
