import assert from 'node:assert/strict';
import { chmodSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli, cliJson, freshEnv, initialised } from './cli-harness.ts';

interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

async function doctor(env: Record<string, string>): Promise<{ code: number; checks: Check[]; text: string }> {
  const result = await cli(['doctor', '--json'], env);
  const parsed = JSON.parse(result.stdout);
  assert.equal(parsed.ok, result.code === 0);
  return { code: result.code, checks: parsed.checks, text: result.stdout };
}

const statusOf = (checks: Check[], name: string) => checks.find((c) => c.name === name)?.status;

describe('relay doctor', () => {
  it('passes on a good install and never prints a secret', async () => {
    const { env, adminToken } = await initialised({ RELAY_ALLOW_PRIVATE_UPSTREAMS: 'false' });
    const { code, checks, text } = await doctor(env);
    assert.equal(code, 0, text);
    assert.deepEqual(
      checks.map((c) => c.name),
      [
        'config',
        'data dir',
        'master key',
        'database',
        'migrations',
        'master key opens database',
        'proxy port',
        'api port',
        'private upstreams',
      ],
    );
    assert.ok(
      checks.every((c) => c.status === 'ok'),
      text,
    );
    const human = await cli(['doctor'], env);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /All checks passed/);
    assert.equal(text.includes(adminToken), false);
  });

  it('fails a key file readable by group or others (0644)', async () => {
    const { env } = await initialised();
    chmodSync(join(env.RELAY_DATA_DIR as string, 'master.key'), 0o644);
    const { code, checks } = await doctor(env);
    assert.equal(code, 1);
    assert.equal(statusOf(checks, 'master key'), 'fail');
    assert.match(checks.find((c) => c.name === 'master key')?.detail ?? '', /chmod 600/);
    const human = await cli(['doctor'], env);
    assert.equal(human.code, 1);
    assert.match(human.stdout, /FAIL +master key/);
  });

  it('warns on an open data dir, private upstreams and a port in use; reports a missing install without creating it', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    after(() => busy.close());
    const port = (busy.address() as { port: number }).port;
    const { env } = await initialised({ RELAY_ALLOW_PRIVATE_UPSTREAMS: 'true' });
    chmodSync(env.RELAY_DATA_DIR as string, 0o755);
    const { code, checks } = await doctor({ ...env, RELAY_API_PORT: String(port) });
    assert.equal(code, 0);
    assert.equal(statusOf(checks, 'data dir'), 'warn');
    assert.equal(statusOf(checks, 'private upstreams'), 'warn');
    assert.equal(statusOf(checks, 'api port'), 'warn');

    const empty = freshEnv();
    const missing = await doctor(empty);
    assert.equal(missing.code, 1);
    assert.equal(statusOf(missing.checks, 'data dir'), 'fail');
    assert.equal(existsSync(empty.RELAY_DATA_DIR as string), false);
    const badConfig = await doctor({ ...empty, RELAY_PROXY_PORT: 'eighty' });
    assert.equal(badConfig.code, 1);
    assert.equal(statusOf(badConfig.checks, 'config'), 'fail');
  });
});

describe('relay migrate', () => {
  it('--status lists nothing pending after init; migrate applies nothing more', async () => {
    const { env } = await initialised();
    assert.deepEqual(await cliJson(['migrate', '--status'], env), { pending: [] });
    const human = await cli(['migrate', '--status'], env);
    assert.match(human.stdout, /No pending migrations/);
    assert.deepEqual(await cliJson(['migrate'], env), { applied: [] });
  });

  it('says "run relay init first" and creates nothing when there is no install', async () => {
    const env = freshEnv();
    for (const argv of [
      ['migrate', '--status'],
      ['migrate'],
      ['connections', 'list'],
      ['keys', 'rotate-master'],
    ]) {
      const result = await cli(argv, env);
      assert.equal(result.code, 1, argv.join(' '));
      assert.match(result.stderr, /^relay: .*run "relay init" first\n$/);
    }
    assert.equal(existsSync(env.RELAY_DATA_DIR as string), false);
  });
});
