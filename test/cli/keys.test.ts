import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  generateMasterKey,
  keyIdFor,
  readKeyFile,
  writeKeyFile,
} from '../../src/adapters/local-key/local-key-provider.ts';
import { openRelay } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { Vault } from '../../src/core/vault.ts';
import { createLogger } from '../../src/logger.ts';
import { type CliEnv, cli, cliJson, initialised, oneLineError, transcript } from './cli-harness.ts';

const SECRET = 'sk-keys-suite-secret-7777';
const keyFileOf = (env: CliEnv) => join(env.RELAY_DATA_DIR as string, 'master.key');
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

async function installWithConnection(extra: CliEnv = {}): Promise<CliEnv> {
  const { env } = await initialised(extra);
  await cliJson(
    [
      'connections',
      'add',
      '--id',
      'conn_keys',
      '--name',
      'K',
      '--base-url',
      'https://api.example.com',
      '--auth-type',
      'bearer',
      '--secret-stdin',
    ],
    env,
    SECRET,
  );
  return env;
}

/** Reopens the install in-process and decrypts the upstream secret; returns it with its sealing key id. */
async function reveal(env: CliEnv): Promise<{ secret: string; keyId: string }> {
  const { relay } = await openRelay(loadConfig(env), createLogger('silent'), { create: false });
  try {
    const [workspace] = await relay.store.workspaces.list();
    const connection = await relay.services.connections.get(workspace?.id ?? '', 'conn_keys');
    return {
      secret: await relay.services.connections.revealSecret(connection),
      keyId: Vault.keyIdOf(connection.secretSealed),
    };
  } finally {
    await relay.close();
  }
}

describe('relay keys rotate-master (key file)', () => {
  it('re-wraps everything under a new key and leaves a single, different key in the file', async () => {
    const env = await installWithConnection();
    const before = readKeyFile(keyFileOf(env)).primary;
    assert.equal((await reveal(env)).keyId, before);
    const report = await cliJson(['keys', 'rotate-master'], env);
    const after = readKeyFile(keyFileOf(env));
    assert.notEqual(after.primary, before);
    assert.deepEqual([...after.keys.keys()], [after.primary]);
    assert.equal(report.primary_key_id, after.primary);
    assert.deepEqual(report.retired_key_ids, [before]);
    assert.ok(report.rewrapped >= 2, 'the connection secret and the key check at least');
    assert.equal(report.rewrapped, report.total);
    const got = await cliJson(['connections', 'get', 'conn_keys'], env);
    assert.equal(got.secret_last4, '7777');
    assert.deepEqual(await reveal(env), { secret: SECRET, keyId: after.primary });
    const newKeyText = readFileSync(keyFileOf(env), 'utf8').split('\n')[1]?.split(' ')[1] ?? '';
    assert.ok(newKeyText.length > 40);
    assert.equal(transcript.join('\n').includes(newKeyText), false, 'the new key is never printed');
  });

  it('--keep-old keeps the old key after the new one; prune then drops it', async () => {
    const env = await installWithConnection();
    const before = readKeyFile(keyFileOf(env)).primary;
    const rotated = await cli(['keys', 'rotate-master', '--keep-old'], env);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stdout, /relay keys prune/);
    const kept = readKeyFile(keyFileOf(env));
    assert.deepEqual([...kept.keys.keys()], [kept.primary, before]);
    assert.equal((await reveal(env)).keyId, kept.primary);
    const pruned = await cliJson(['keys', 'prune'], env);
    assert.deepEqual(pruned.retired_key_ids, [before]);
    assert.deepEqual([...readKeyFile(keyFileOf(env)).keys.keys()], [kept.primary]);
    assert.equal((await reveal(env)).secret, SECRET);
  });

  it('with a wrong key file, start-up and every command fail with one line and change nothing', async () => {
    const env = await installWithConnection();
    const keyFile = keyFileOf(env);
    const original = readFileSync(keyFile);
    const db = join(env.RELAY_DATA_DIR as string, 'relay.db');
    const dbBefore = sha256(db);
    writeKeyFile(keyFile, [generateMasterKey()]);
    const wrongKeyFile = readFileSync(keyFile);
    for (const argv of [['start'], ['keys', 'rotate-master'], ['connections', 'list'], ['init']]) {
      const result = await cli(argv, env);
      assert.equal(result.code, 1, argv.join(' '));
      assert.match(oneLineError(result), /master key does not open this database.*nothing was changed/);
    }
    assert.deepEqual(readFileSync(keyFile), wrongKeyFile, 'rotate-master did not touch the key file');
    assert.equal(sha256(db), dbBefore);
    writeFileSync(keyFile, original, { mode: 0o600 });
    assert.equal((await reveal(env)).secret, SECRET);
  });
});

describe('relay keys rotate-master (RELAY_MASTER_KEY)', () => {
  it('refuses with a single key, and with new,old re-wraps to the new key so old can be dropped', async () => {
    const oldKey = generateMasterKey().toString('base64');
    const env = await installWithConnection({ RELAY_MASTER_KEY: oldKey });
    const single = await cli(['keys', 'rotate-master'], env);
    assert.equal(single.code, 1);
    assert.match(oneLineError(single), /single key.*relay keys generate.*RELAY_MASTER_KEY=<new>,<old>/);

    const generated = await cli(['keys', 'generate'], {});
    assert.equal(generated.code, 0);
    assert.match(generated.stdout, /^[A-Za-z0-9+/]{43}=\n$/);
    const newKey = generated.stdout.trim();
    const both = { ...env, RELAY_MASTER_KEY: `${newKey},${oldKey}` };
    const report = await cliJson(['keys', 'rotate-master'], both);
    const newId = keyIdFor(Buffer.from(newKey, 'base64'));
    assert.equal(report.mode, 'env');
    assert.equal(report.primary_key_id, newId);
    assert.equal(report.key_file, null);

    const onlyNew = { ...env, RELAY_MASTER_KEY: newKey };
    assert.deepEqual(await reveal(onlyNew), { secret: SECRET, keyId: newId });
    const got = await cli(['connections', 'get', 'conn_keys'], onlyNew);
    assert.equal(got.code, 0, got.stderr);
    const stale = await cli(['connections', 'list'], env);
    assert.equal(stale.code, 1);
    oneLineError(stale);
  });

  it('never prints a key or the upstream secret outside keys generate', () => {
    const all = transcript.join('\n');
    assert.equal(all.includes(SECRET), false);
  });
});
