import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openRelay } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { type CliEnv, cli, cliJson, initialised, oneLineError, transcript } from './cli-harness.ts';

const SECRET = 'sk-live-TOPSECRET-abcdef123456';
const ADD = ['connections', 'add', '--name', 'Example', '--base-url', 'https://api.example.com'];

async function revealed(env: CliEnv, id: string): Promise<string> {
  const { relay } = await openRelay(loadConfig(env), createLogger('silent'), { create: false });
  try {
    const connection = await relay.services.connections.get(
      (await relay.store.workspaces.list())[0]?.id ?? '',
      id,
    );
    return await relay.services.connections.revealSecret(connection);
  } finally {
    await relay.close();
  }
}

describe('relay connections', () => {
  it('adds with --secret-stdin (one trailing newline dropped) and shows only the last four characters', async () => {
    const { env } = await initialised();
    const view = await cliJson(
      [...ADD, '--id', 'conn_example', '--auth-type', 'bearer', '--secret-stdin'],
      env,
      `${SECRET}\n`,
    );
    assert.equal(view.id, 'conn_example');
    assert.equal(view.secret_last4, '3456');
    assert.equal(await revealed(env, 'conn_example'), SECRET);
    const list = await cliJson(['connections', 'list'], env);
    assert.deepEqual(
      list.map((c: { id: string }) => c.id),
      ['conn_example'],
    );
    const got = await cliJson(['connections', 'get', 'conn_example'], env);
    assert.equal(got.secret_last4, '3456');
    const human = await cli(['connections', 'list'], env);
    assert.match(human.stdout, /conn_example +Example +https:\/\/api\.example\.com\/? +bearer +…3456/);
  });

  it('adds with --secret-env, with header auth and options', async () => {
    const { env } = await initialised({ EXAMPLE_KEY: SECRET });
    const view = await cliJson(
      [
        ...ADD,
        '--id',
        'conn_hdr',
        '--auth-type',
        'header',
        '--header-name',
        'X-Api-Key',
        '--secret-env',
        'EXAMPLE_KEY',
        '--secret-scanning',
        'redact',
        '--log-query-strings',
      ],
      env,
    );
    assert.deepEqual(view.auth, { type: 'header', header_name: 'x-api-key' });
    assert.equal(view.options.secret_scanning, 'redact');
    assert.equal(view.options.log_query_strings, true);
    assert.equal(await revealed(env, 'conn_hdr'), SECRET);
  });

  it('refuses a secret given on the command line, or none at all, and creates nothing', async () => {
    const { env } = await initialised({ EMPTY: '' });
    const viaFlag = await cli([...ADD, '--auth-type', 'bearer', '--secret', SECRET], env);
    assert.equal(viaFlag.code, 2);
    assert.match(oneLineError(viaFlag), /refusing --secret.*--secret-stdin.*--secret-env/);
    const viaEquals = await cli([...ADD, '--auth-type', 'bearer', `--secret=${SECRET}`], env);
    assert.equal(viaEquals.code, 2);
    const viaPositional = await cli([...ADD, '--auth-type', 'bearer', SECRET], env);
    assert.equal(viaPositional.code, 2);
    oneLineError(viaPositional);
    const none = await cli([...ADD, '--auth-type', 'bearer'], env);
    assert.equal(none.code, 2);
    assert.match(oneLineError(none), /secret is required.*--secret-stdin/);
    const emptyEnv = await cli([...ADD, '--auth-type', 'bearer', '--secret-env', 'EMPTY'], env);
    assert.equal(emptyEnv.code, 1);
    assert.match(oneLineError(emptyEnv), /EMPTY is not set or is empty/);
    const both = await cli(
      [...ADD, '--auth-type', 'bearer', '--secret-stdin', '--secret-env', 'X'],
      env,
      'x',
    );
    assert.equal(both.code, 2);
    assert.deepEqual(await cliJson(['connections', 'list'], env), []);
  });

  it('validates auth type, needed auth fields and upstream URLs with one-line errors', async () => {
    const { env } = await initialised();
    const badType = await cli([...ADD, '--auth-type', 'magic', '--secret-stdin'], env, SECRET);
    assert.equal(badType.code, 2);
    assert.match(oneLineError(badType), /--auth-type must be one of bearer/);
    const noHeader = await cli([...ADD, '--auth-type', 'header', '--secret-stdin'], env, SECRET);
    assert.equal(noHeader.code, 1);
    assert.match(oneLineError(noHeader), /header_name is required/);
    const plainHttp = await cli(
      [
        'connections',
        'add',
        '--name',
        'X',
        '--base-url',
        'http://api.example.com',
        '--auth-type',
        'bearer',
        '--secret-stdin',
      ],
      env,
      SECRET,
    );
    assert.equal(plainHttp.code, 1);
    oneLineError(plainHttp);
    const missing = await cli(['connections', 'get', 'conn_nope'], env);
    assert.equal(missing.code, 1);
    assert.match(oneLineError(missing), /connection conn_nope not found/);
  });

  it('updates, replaces the secret, and deletes', async () => {
    const { env } = await initialised({ NEW_KEY: 'sk-rotated-value-9999' });
    await cliJson([...ADD, '--id', 'conn_upd', '--auth-type', 'bearer', '--secret-stdin'], env, SECRET);
    const renamed = await cliJson(
      ['connections', 'update', 'conn_upd', '--name', 'Renamed', '--secret-scanning', 'warn'],
      env,
    );
    assert.equal(renamed.name, 'Renamed');
    assert.equal(renamed.options.secret_scanning, 'warn');
    assert.equal(renamed.secret_last4, '3456');
    const flagsOff = await cliJson(['connections', 'update', 'conn_upd', '--no-log-query-strings'], env);
    assert.equal(flagsOff.options.log_query_strings, false);
    const nothing = await cli(['connections', 'update', 'conn_upd'], env);
    assert.equal(nothing.code, 2);
    assert.match(oneLineError(nothing), /nothing to update/);
    const replaced = await cliJson(['connections', 'set-secret', 'conn_upd', '--secret-env', 'NEW_KEY'], env);
    assert.equal(replaced.secret_last4, '9999');
    assert.equal(await revealed(env, 'conn_upd'), 'sk-rotated-value-9999');
    const viaUpdate = await cliJson(
      ['connections', 'update', 'conn_upd', '--secret-stdin'],
      env,
      `${SECRET}\n`,
    );
    assert.equal(viaUpdate.secret_last4, '3456');
    assert.equal(await revealed(env, 'conn_upd'), SECRET);
    const deleted = await cli(['connections', 'delete', 'conn_upd'], env);
    assert.equal(deleted.code, 0);
    assert.match(deleted.stdout, /Deleted connection conn_upd/);
    assert.deepEqual(await cliJson(['connections', 'list'], env), []);
  });

  it('never prints the upstream secret in any output of this suite', () => {
    const all = transcript.join('\n');
    assert.ok(all.length > 0);
    assert.equal(all.includes(SECRET), false);
    assert.equal(all.includes('TOPSECRET'), false);
    assert.equal(all.includes('sk-rotated-value'), false);
  });
});
