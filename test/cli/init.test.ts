import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generateMasterKey } from '../../src/adapters/local-key/local-key-provider.ts';
import { cli, cliJson, freshEnv, spawnRelay } from './cli-harness.ts';

const mode = (path: string) => statSync(path).mode & 0o777;

describe('relay init', () => {
  it('--json prints exactly workspace_id, admin_token and master_key_file; key file 0600, data dir 0700', async () => {
    const env = freshEnv();
    const out = await cliJson(['init'], env);
    assert.deepEqual(Object.keys(out).sort(), ['admin_token', 'master_key_file', 'workspace_id']);
    assert.match(out.workspace_id, /^ws_/);
    assert.match(out.admin_token, /^rk_mgmt_[0-9A-Za-z]+$/);
    assert.equal(out.master_key_file, join(env.RELAY_DATA_DIR as string, 'master.key'));
    assert.equal(mode(out.master_key_file), 0o600);
    assert.equal(mode(env.RELAY_DATA_DIR as string), 0o700);
  });

  it('a second init says so, exits 0 and prints no token', async () => {
    const env = freshEnv();
    const first = await cli(['init'], env);
    assert.equal(first.code, 0);
    assert.match(first.stdout, /Admin token: +rk_mgmt_/);
    assert.match(first.stdout, /Store the admin token now/);
    assert.match(first.stdout, /Back up the master key file/);
    const again = await cli(['init'], env);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /already initialised/);
    assert.doesNotMatch(again.stdout, /rk_mgmt_/);
    const json = await cliJson(['init'], env);
    assert.equal(json.admin_token, null);
    assert.match(json.workspace_id, /^ws_/);
  });

  it('--data-dir overrides RELAY_DATA_DIR', async () => {
    const env = freshEnv();
    const other = `${env.RELAY_DATA_DIR}-other`;
    const out = await cliJson(['init', '--data-dir', other], env);
    assert.equal(out.master_key_file, join(other, 'master.key'));
    assert.equal(existsSync(env.RELAY_DATA_DIR as string), false);
  });

  it('with RELAY_MASTER_KEY writes no key file and reports master_key_file null', async () => {
    const env = freshEnv({ RELAY_MASTER_KEY: generateMasterKey().toString('base64') });
    const out = await cliJson(['init'], env);
    assert.equal(out.master_key_file, null);
    assert.equal(existsSync(join(env.RELAY_DATA_DIR as string, 'master.key')), false);
    const human = await cli(['connections', 'list'], env);
    assert.equal(human.code, 0, human.stderr);
  });

  it('runs for real through bin/relay.js', async () => {
    const env = freshEnv();
    const child = spawnRelay(['init', '--json'], env);
    assert.equal(await child.code, 0, child.stderr());
    assert.equal(child.stderr(), '');
    const out = JSON.parse(child.stdout());
    assert.match(out.admin_token, /^rk_mgmt_/);
    assert.ok(readFileSync(out.master_key_file, 'utf8').includes(' '));
  });
});

describe('relay start', () => {
  it('bootstraps an empty data dir, prints the token banner once, and exits 0 on SIGTERM', async () => {
    const env = freshEnv({ RELAY_LOG_LEVEL: 'info' });
    const child = spawnRelay(['start'], env);
    await child.waitFor(/={10,}\n(?:.*\n)*?={10,}\n/);
    const ports = JSON.parse(readFileSync(join(env.RELAY_DATA_DIR as string, 'ports.json'), 'utf8'));
    assert.ok(ports.proxy > 0 && ports.api > 0);
    const health = await fetch(`http://127.0.0.1:${ports.api}/healthz`).catch(() => undefined);
    assert.ok(health === undefined || health.status < 500);
    child.kill('SIGTERM');
    assert.equal(await child.code, 0, child.stderr());
    const tokens = child.stdout().match(/rk_mgmt_[0-9A-Za-z]+/g) ?? [];
    assert.equal(tokens.length, 1, 'the admin token is printed exactly once');
    assert.match(child.stdout(), /"msg":"relay started"/);
  });

  it('prints no token when the install already exists', async () => {
    const env = freshEnv({ RELAY_LOG_LEVEL: 'info' });
    await cliJson(['init'], env);
    const child = spawnRelay(['start'], env);
    await child.waitFor(/relay started/);
    child.kill('SIGINT');
    assert.equal(await child.code, 0, child.stderr());
    assert.doesNotMatch(child.stdout(), /rk_mgmt_/);
  });

  for (const [flags, gc] of [
    [['--single-threaded-gc'], 'single-threaded'],
    [[], 'parallel'],
  ] as const) {
    it(`says how its garbage collector runs: ${gc} (started with ${JSON.stringify(flags)})`, async () => {
      const env = freshEnv({ RELAY_LOG_LEVEL: 'info' });
      await cliJson(['init'], env);
      const child = spawnRelay(['start'], env, flags);
      await child.waitFor(/relay started/);
      child.kill('SIGTERM');
      assert.equal(await child.code, 0, child.stderr());
      const started = child
        .stdout()
        .split('\n')
        .find((line) => line.includes('"msg":"relay started"'));
      assert.equal(JSON.parse(started as string).gc, gc);
    });
  }
});
